//! `vigie report --format pdf`: the HTML report printed by headless
//! Chromium (the browser probes' Chromium), A4, with a running header
//! (title, period, instance) and « page N / M » on every page. The page
//! breaks come from the report's print CSS (`html.rs`).

use std::path::Path;
use std::time::Duration;

use super::fmt;
use super::model::Report;
use super::words;
use crate::alert::settings::Language;
use crate::browser::print::{self, PrintHeader};
use crate::browser::BrowserError;

/// How long printing may take, Chromium's start included.
pub const PRINT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why no PDF was made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "Chromium est introuvable{where_}: le PDF est imprimé par Chromium sans interface. \
         Installez le paquet chromium (apt install chromium) ou indiquez son chemin dans browser.executable. \
         / Chromium not found{where_}: install the chromium package (apt install chromium) or set browser.executable."
    )]
    NoChromium { where_: String },
    #[error("Chromium n'a pas pu imprimer le rapport / Chromium could not print the report: {0}")]
    Browser(#[from] BrowserError),
}

/// The running header's texts for a report.
pub fn header(r: &Report) -> PrintHeader {
    let l = if r.language == "en" { Language::En } else { Language::Fr };
    let w = words::of(l);
    let mut instance = r.methodology.locations.join(", ");
    if let Some(a) = &r.author {
        instance = if instance.is_empty() {
            a.clone()
        } else {
            format!("{a} — {instance}")
        };
    }
    PrintHeader {
        title: format!("{} — vigie", w.title),
        period: format!(
            "{} {} {} {}",
            w.period,
            fmt::date(r.period.from, l),
            w.to,
            fmt::date(r.period.to, l)
        ),
        instance,
        page_word: "page".into(),
    }
}

/// Print `html` (the rendered report `r`) with the Chromium at
/// `configured`, or the first one found in the usual places.
pub async fn render(r: &Report, html: &str, configured: Option<&Path>, profile_root: &Path) -> Result<Vec<u8>, PdfError> {
    let Some(exe) = crate::browser::find_chromium(configured) else {
        let where_ = match configured {
            Some(p) => format!(" ({})", p.display()),
            None => format!(" ({})", crate::browser::CANDIDATES.join(", ")),
        };
        return Err(PdfError::NoChromium { where_ });
    };
    Ok(print::print_pdf(&exe, profile_root, html, &header(r), PRINT_TIMEOUT).await?)
}
