//! `vigie evidence export`, `vigie evidence verify` and `vigie verify`: the
//! tamper-evident register of captured pages, for a lawyer or a court.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;
use clap::Subcommand;

use super::report::{LangArg, PeriodArgs};
use crate::evidence::bundle::{self, ExportRequest, Selection};
use crate::evidence::tsp_verify::Trust;
use crate::evidence::verify::{self, Anchor, Problem};
use crate::evidence::{bundle_verify, timestamps, EvidenceError};
use crate::store::Store;

/// Exit status when a verification finds a problem.
pub const EXIT_BROKEN: u8 = 1;

/// What `vigie evidence export` writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Zip,
    Warc,
}

#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Export the captures of a period as a zip bundle for a lawyer or a court.
    ///
    /// The bundle holds index.html (every capture with its URL, date and
    /// time in Paris and UTC, and SHA-256; the pages shown as received,
    /// scripts and network disabled), the pages themselves, the chain of
    /// records, a manifest, and verify.py to check it without vigie.
    Export {
        /// The daemon configuration file (its `store.path` names the database).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The history database itself, e.g. var/demo.db after `vigie demo`.
        #[arg(long)]
        db: Option<PathBuf>,
        #[command(flatten)]
        period: PeriodArgs,
        /// Only this probe (repeat for several) [default: all]
        #[arg(long = "probe", value_name = "NAME")]
        probes: Vec<String>,
        /// Language of index.html [default: the configuration's reports.language, fr]
        #[arg(long, value_enum)]
        lang: Option<LangArg>,
        /// zip (the bundle for a lawyer or a court) or warc (WARC/1.1, gzip
        /// per record, for web archivists' tools such as warcio or pywb)
        #[arg(long, value_enum, default_value_t = ExportFormat::Zip)]
        format: ExportFormat,
        /// The file to write [default: preuves-vigie-FROM_TO.zip or .warc.gz]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check a bundle: every page against its SHA-256, every link of the
    /// chain, the manifest and the HTML pages. Exits 1 at the first problem,
    /// naming the first broken record.
    Verify {
        /// The zip written by `vigie evidence export`.
        bundle: PathBuf,
        /// Also check the chain against an anchor published earlier (SEQ:HASH).
        #[arg(long, value_name = "SEQ:HASH")]
        anchor: Option<String>,
        /// PEM file of the CA the RFC 3161 time stamps must chain to
        /// [default: the copy in the bundle (timestamps/tsa-ca.pem), else the system's roots]
        #[arg(long, value_name = "FILE")]
        tsa_ca: Option<PathBuf>,
    },
}

fn anchor(a: Option<&str>) -> anyhow::Result<Option<Anchor>> {
    a.map(|a| a.parse::<Anchor>().map_err(anyhow::Error::msg)).transpose()
}

/// This machine's context now, for the configured targets' names.
fn capture_context(config: Option<&crate::config::Config>) -> crate::evidence::context::CaptureContext {
    let mut hosts: Vec<(String, u16)> = config
        .map(|c| {
            c.targets
                .iter()
                .filter_map(|t| url::Url::parse(&t.base_url).ok())
                .filter_map(|u| Some((u.host_str()?.to_string(), u.port_or_known_default()?)))
                .collect()
        })
        .unwrap_or_default();
    // Names resolve the same whatever the port: one line per name.
    hosts.sort();
    hosts.dedup_by(|a, b| a.0 == b.0);
    let location = config
        .map(|c| c.location.clone())
        .unwrap_or_else(|| "unknown (no configuration given)".into());
    crate::evidence::context::gather(&location, &hosts)
}

/// `vigie evidence export --format warc`.
fn export_warc(store: &Store, req: &ExportRequest, out: &std::path::Path, started: Instant) -> anyhow::Result<ExitCode> {
    let fields = req.context.as_ref().map(|c| c.fields()).unwrap_or_default();
    match crate::evidence::warc_export::export(store.conn(), req, out, Utc::now(), &fields) {
        Ok(e) => {
            println!(
                "{} capture(s) → {} (WARC/1.1, {:.1} MiB, {:.1} s); check it with: warcio check {}",
                e.captures,
                out.display(),
                e.bytes as f64 / 1024.0 / 1024.0,
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(EvidenceError::Nothing) => {
            eprintln!("nothing to export: no capture was recorded in this period for these probes (captures are kept for failing and no-slot runs)");
            Ok(ExitCode::from(EXIT_BROKEN))
        }
        Err(e) => Err(e.into()),
    }
}

/// The PEM of `evidence.timestamp.ca_file`, to copy into a bundle.
fn tsa_ca_pem(config: Option<&crate::config::Config>) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(path) = config.and_then(|c| c.evidence.timestamp.as_ref()).and_then(|t| t.ca_file.as_ref()) else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read evidence.timestamp.ca_file {}: {e}", path.display()))?;
    Ok(Some(pem))
}

/// What the time stamps prove, when there are any.
fn print_stamps(v: &timestamps::StampVerdict) {
    if let Some((seq, at, chain_seq)) = &v.last {
        println!(
            "time stamps (RFC 3161): {} checked; the last, #{seq}, dates record #{chain_seq} and all before it at {at} (TSA's clock)",
            v.checked
        );
    }
}

/// Problems on standard error, control characters escaped: a hostile bundle's names and
/// values must not drive the terminal.
fn print_problems(problems: &[Problem], extra: &[String]) {
    let safe = |s: String| crate::probe::text::escape_controls(&s);
    if let Some(first) = problems.first() {
        eprintln!("BROKEN — first broken record: {}", safe(first.to_string()));
    }
    for p in problems.iter().skip(1).take(50) {
        eprintln!("  {}", safe(p.to_string()));
    }
    if problems.len() > 51 {
        eprintln!("  … and {} more", problems.len() - 51);
    }
    for e in extra.iter().take(50) {
        eprintln!("  {}", safe(e.clone()));
    }
}

pub fn evidence(cmd: EvidenceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        EvidenceCommand::Export {
            config,
            db,
            period,
            probes,
            lang,
            format,
            output,
        } => export(config, db, period, probes, lang, format, output),
        EvidenceCommand::Verify { bundle, anchor: a, tsa_ca } => {
            let v = bundle_verify::verify_bundle_with(&bundle, anchor(a.as_deref())?, tsa_ca.as_deref())?;
            if v.ok() {
                let m = v.manifest.as_ref();
                println!(
                    "OK — {}: {} capture(s) over {} day(s), chain #{} to #{} intact, every page matches its SHA-256",
                    bundle.display(),
                    v.checked_records,
                    m.map(|m| m.summary.days_covered).unwrap_or(0),
                    m.map(|m| m.chain_first).unwrap_or(0),
                    m.map(|m| m.chain_last).unwrap_or(0)
                );
                if let Some(m) = m {
                    println!(
                        "last hash {} (exported {}; register head then {})",
                        m.chain_last_hash, m.exported_at, m.register_head
                    );
                }
                print_stamps(&v.stamps);
                Ok(ExitCode::SUCCESS)
            } else {
                let mut files = v.files.clone();
                files.extend(v.stamps.problems.iter().cloned());
                if v.records.is_empty() {
                    eprintln!("BROKEN — {}", files.first().map(String::as_str).unwrap_or("?"));
                    print_problems(&[], files.get(1..).unwrap_or(&[]));
                } else {
                    print_problems(&v.records, &files);
                }
                Ok(ExitCode::from(EXIT_BROKEN))
            }
        }
    }
}

fn export(
    config: Option<PathBuf>,
    db: Option<PathBuf>,
    period: PeriodArgs,
    probes: Vec<String>,
    lang: Option<LangArg>,
    format: ExportFormat,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let src = match super::history::resolve(config.as_deref(), db.as_deref())? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let store = Store::open_existing(&src.db)?;
    let tz = src.config.as_ref().map(|c| c.timezone).unwrap_or(chrono_tz::Europe::Paris);
    let language = lang
        .map(LangArg::language)
        .or(src.config.as_ref().map(|c| c.reports.language))
        .unwrap_or_default();
    let p = period.period(tz, crate::report::data::earliest_day(store.conn(), tz)?)?;
    let out = output.unwrap_or_else(|| {
        let ext = if format == ExportFormat::Warc { "warc.gz" } else { "zip" };
        PathBuf::from(format!(
            "{}.{ext}",
            crate::evidence::bundle::default_stem(language, p.from_day, p.to_day)
        ))
    });
    let started = Instant::now();
    eprintln!("vigie evidence export: {} to {} from {}…", p.from_day, p.to_day, src.db.display());
    let req = ExportRequest {
        from: p.start,
        to: p.end,
        selection: Selection {
            from: p.from_day,
            to: p.to_day,
            timezone: tz.to_string(),
            probes,
            language: language.as_str().into(),
        },
        tsa_ca: tsa_ca_pem(src.config.as_ref())?,
        context: Some(capture_context(src.config.as_ref())),
    };
    if format == ExportFormat::Warc {
        return export_warc(&store, &req, &out, started);
    }
    match bundle::export(store.conn(), &req, &out, Utc::now()) {
        Ok(e) => {
            println!(
                "{} capture(s) over {} day(s) (records #{} to #{}) → {} ({:.1} MiB, {:.1} s)",
                e.summary.captures,
                e.summary.days_covered,
                e.chain_first,
                e.chain_last,
                e.path.display(),
                e.bytes as f64 / 1024.0 / 1024.0,
                started.elapsed().as_secs_f64()
            );
            println!(
                "Open index.html after extracting it; check it with: vigie evidence verify {}",
                e.path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(EvidenceError::Nothing) => {
            eprintln!("nothing to export: no capture was recorded from {} to {} for these probes (captures are kept for failing and no-slot runs)", p.from_day, p.to_day);
            Ok(ExitCode::from(EXIT_BROKEN))
        }
        Err(e) => Err(e.into()),
    }
}

/// `vigie verify`: the whole register in the store.
pub fn verify_store(config: Option<PathBuf>, db: Option<PathBuf>, a: Option<String>, tsa_ca: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let src = match super::history::resolve(config.as_deref(), db.as_deref())? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let store = Store::open_existing(&src.db)?;
    let tz = src.config.as_ref().map(|c| c.timezone).unwrap_or(chrono_tz::Europe::Paris);
    let started = Instant::now();
    let v = verify::verify_store(store.conn(), anchor(a.as_deref())?, |n| {
        if n.is_multiple_of(50_000) {
            eprintln!("  {n} records checked…");
        }
    })?;
    let when = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string())
            .unwrap_or_else(|| "—".into())
    };
    let configured = src
        .config
        .as_ref()
        .and_then(|c| c.evidence.timestamp.as_ref())
        .and_then(|t| t.ca_file.clone());
    let trust = Trust::of(tsa_ca.or(configured).as_deref());
    let stamps = timestamps::verify_store(store.conn(), &trust)?;
    if !stamps.problems.is_empty() {
        eprintln!("BROKEN — time stamps (RFC 3161):");
        print_problems(&[], &stamps.problems);
        if v.ok() {
            return Ok(ExitCode::from(EXIT_BROKEN));
        }
    }
    if v.ok() {
        match &v.head {
            Some((seq, hash)) => {
                println!(
                    "OK — evidence register of {} intact: {} record(s) from {} to {} ({:.1} s)",
                    src.db.display(),
                    v.records,
                    when(v.first_at),
                    when(v.last_at),
                    started.elapsed().as_secs_f64()
                );
                println!("anchor (keep it, publish it): {seq}:{hash}");
                print_stamps(&stamps);
            }
            None => println!("OK — the evidence register of {} is empty", src.db.display()),
        }
        Ok(ExitCode::SUCCESS)
    } else {
        print_problems(&v.problems, &[]);
        Ok(ExitCode::from(EXIT_BROKEN))
    }
}
