//! `vigie report`: an availability report for a period, as HTML (French by
//! default), CSV or JSON.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;
use clap::{Args, ValueEnum};

use crate::alert::settings::Language;
use crate::report::period::{self, Period};
use crate::report::{self, Filter, Format};
use crate::store::Store;

/// The period: whole days in the configuration's time zone (Europe/Paris).
#[derive(Args, Debug, Clone)]
pub struct PeriodArgs {
    /// First day, YYYY-MM-DD or DD/MM/YYYY [default: 29 days before --to, not before the first recorded day]
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day, included [default: today, up to now]
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// A calendar month instead of --from/--to, such as 2026-11
    #[arg(long, value_name = "YYYY-MM", conflicts_with_all = ["from", "to"])]
    pub month: Option<String>,
}

impl PeriodArgs {
    /// The period asked for; by default the last 30 days, but not before
    /// `first_data` (the history's first day).
    pub fn period(&self, tz: chrono_tz::Tz, first_data: Option<chrono::NaiveDate>) -> anyhow::Result<Period> {
        let (from, to) = match &self.month {
            Some(m) => {
                let (a, b) = period::parse_month(m)?;
                (Some(a), Some(b))
            }
            None => (
                self.from.as_deref().map(period::parse_day).transpose()?,
                self.to.as_deref().map(period::parse_day).transpose()?,
            ),
        };
        Ok(Period::new_from_history(from, to, tz, Utc::now(), first_data)?)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Html,
    /// The HTML report printed to A4 by headless Chromium.
    Pdf,
    Csv,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    Fr,
    En,
}

impl LangArg {
    pub fn language(self) -> Language {
        match self {
            LangArg::Fr => Language::Fr,
            LangArg::En => Language::En,
        }
    }
}

pub struct Options {
    pub config: Option<PathBuf>,
    pub db: Option<PathBuf>,
    pub period: PeriodArgs,
    pub probes: Vec<String>,
    pub procedures: Vec<String>,
    pub sites: Vec<String>,
    pub format: FormatArg,
    pub lang: Option<LangArg>,
    pub output: Option<PathBuf>,
}

fn default_name(lang: Language, p: &Period, ext: &str) -> PathBuf {
    let stem = if lang == Language::Fr { "rapport-vigie" } else { "vigie-report" };
    PathBuf::from(format!("{stem}-{}_{}.{ext}", p.from_day, p.to_day))
}

pub async fn report(o: Options) -> anyhow::Result<ExitCode> {
    let src = match super::history::resolve(o.config.as_deref(), o.db.as_deref())? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let store = Store::open_existing(&src.db)?;
    let cfg = src.config.as_ref();
    let tz = cfg.map(|c| c.timezone).unwrap_or(chrono_tz::Europe::Paris);
    let settings = cfg.map(|c| c.reports.clone()).unwrap_or_default();
    let language = o.lang.map(LangArg::language).unwrap_or(settings.language);
    let period = o.period.period(tz, report::data::earliest_day(store.conn(), tz)?)?;
    let format = match o.format {
        FormatArg::Html | FormatArg::Pdf => Format::Html,
        FormatArg::Csv => Format::Csv,
        FormatArg::Json => Format::Json,
    };
    let filter = Filter {
        probes: o.probes,
        procedures: o.procedures,
        sites: o.sites,
    };
    let started = Instant::now();
    let chatty = std::io::stderr().is_terminal();
    eprintln!("vigie report: {} to {} from {}…", period.from_day, period.to_day, src.db.display());
    let req = report::Request {
        period: period.clone(),
        filter: filter.clone(),
        language,
        settings,
        config: cfg,
        now: Utc::now(),
    };
    let r = report::build(store.conn(), &req, |msg| {
        if chatty {
            eprint!("\r\x1b[K  {msg}");
        }
    })?;
    if chatty {
        eprint!("\r\x1b[K");
    }
    if r.probes.is_empty() {
        if filter.is_empty() {
            eprintln!("note: no probe has any history in this period (did vigie run then? see `vigie check` for the schedules)");
        } else {
            eprintln!(
                "error: no probe matches --probe/--procedure/--site in this history; check the names with `vigie check --config FILE`"
            );
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        }
    }
    let mut bytes = report::render(&r, format, cfg)?;
    let mut extension = format.extension();
    if o.format == FormatArg::Pdf {
        bytes = print_pdf(&r, &bytes, cfg).await?;
        extension = "pdf";
    }
    let out = o.output.unwrap_or_else(|| default_name(language, &period, extension));
    if out == Path::new("-") {
        std::io::stdout().write_all(&bytes)?;
    } else {
        write_atomically(&out, &bytes)?;
        eprintln!(
            "{} probe(s), {} incident(s), {} capture(s) of evidence — {} in {:.1} s → {}",
            r.probes.len(),
            r.incidents.len(),
            r.evidence.captures,
            extension.to_uppercase(),
            started.elapsed().as_secs_f64(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Print the rendered HTML report to PDF with the configured Chromium.
async fn print_pdf(r: &report::model::Report, html: &[u8], cfg: Option<&crate::config::Config>) -> anyhow::Result<Vec<u8>> {
    let browser = cfg.map(|c| c.browser.clone()).unwrap_or_default();
    let html = String::from_utf8_lossy(html);
    Ok(report::pdf::render(r, &html, browser.executable.as_deref(), &browser.profile_root).await?)
}

/// Write to a temporary name, then rename: a reader never sees half a file.
/// Owner-only, never through a link (see `private_fs`).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::private_fs::write(path, bytes)?;
    Ok(())
}
