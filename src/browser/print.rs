//! Printing a standalone HTML document to PDF with headless Chromium
//! (`Page.printToPDF`): A4, a running header and a « page N / M » footer
//! drawn by the browser on every page.
//!
//! Like the rest of `browser`, this knows nothing about what is printed:
//! the caller gives the HTML and the header's three texts. The document is
//! written as a file in the browser's own fresh profile and opened from
//! there, so a large report does not travel through a `data:` URL.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use super::cdp::Cdp;
use super::process::Chromium;
use super::BrowserError;

/// What the running header shows, left to right, and the footer's words.
#[derive(Debug, Clone, Default)]
pub struct PrintHeader {
    /// The document's title (left).
    pub title: String,
    /// The period covered (centre).
    pub period: String,
    /// Who produced it: the instance, location (right).
    pub instance: String,
    /// The word before the page number: "page" (French and English alike).
    pub page_word: String,
}

/// A4 in inches, as `Page.printToPDF` wants it.
const A4: (f64, f64) = (8.27, 11.69);
/// Margins in inches: the top and bottom ones hold the header and footer.
const MARGINS: (f64, f64, f64) = (0.75, 0.7, 0.55);

/// Escape text for the header and footer templates (HTML).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The header template: three cells, small type (Chromium's default is 0).
pub fn header_template(h: &PrintHeader) -> String {
    format!(
        "<div style=\"font-family:system-ui,'DejaVu Sans',sans-serif;font-size:7.5pt;color:#444;width:100%;margin:0 14mm;\
         display:flex;justify-content:space-between;gap:6mm;border-bottom:0.5pt solid #999;padding-bottom:1mm\">\
         <span style=\"font-weight:bold;color:#000091\">{}</span><span>{}</span><span>{}</span></div>",
        esc(&h.title),
        esc(&h.period),
        esc(&h.instance)
    )
}

/// The footer template: « page N / M », filled in by Chromium on each page.
pub fn footer_template(h: &PrintHeader) -> String {
    format!(
        "<div style=\"font-family:system-ui,'DejaVu Sans',sans-serif;font-size:7.5pt;color:#444;width:100%;margin:0 14mm;text-align:right\">\
         {} <span class=\"pageNumber\"></span> / <span class=\"totalPages\"></span></div>",
        esc(&h.page_word)
    )
}

/// Print `html` to a PDF with the Chromium at `executable`, a fresh profile
/// under `profile_root`, within `timeout`. The browser is killed and its
/// profile removed whatever happens.
pub async fn print_pdf(
    executable: &Path,
    profile_root: &Path,
    html: &str,
    header: &PrintHeader,
    timeout: Duration,
) -> Result<Vec<u8>, BrowserError> {
    let deadline = Instant::now() + timeout;
    let mut chromium = Chromium::launch(executable, profile_root, (1240, 1754), 512)?;
    let document = chromium.profile().join("document.html");
    std::fs::write(&document, html).map_err(|e| BrowserError::Launch(format!("{}: {e}", document.display())))?;
    let (to, from) = chromium
        .take_pipes()
        .ok_or_else(|| BrowserError::Launch("DevTools pipes already taken".into()))?;
    let (cdp, _events) = Cdp::connect(to, from)?;
    let result = print_document(&cdp, &format!("file://{}", document.display()), header, deadline).await;
    chromium.cleanup();
    result
}

/// Open `url` in a new tab, wait for it to load, print it.
async fn print_document(cdp: &Cdp, url: &str, header: &PrintHeader, deadline: Instant) -> Result<Vec<u8>, BrowserError> {
    let left = || deadline.saturating_duration_since(Instant::now());
    let t = cdp
        .call("Target.createTarget", json!({ "url": "about:blank" }), None, left())
        .await?;
    let target = t["targetId"].as_str().unwrap_or_default().to_string();
    let a = cdp
        .call(
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
            None,
            left(),
        )
        .await?;
    let session = a["sessionId"].as_str().unwrap_or_default().to_string();
    let s = Some(session.as_str());
    cdp.call("Page.enable", json!({}), s, left()).await?;
    cdp.call("Page.navigate", json!({ "url": url }), s, left()).await?;
    wait_loaded(cdp, s, deadline).await?;
    let reply = cdp.call("Page.printToPDF", print_params(header), s, left()).await?;
    decode(&reply)
}

/// Poll `document.readyState` (and the fonts) until the page is complete.
async fn wait_loaded(cdp: &Cdp, s: Option<&str>, deadline: Instant) -> Result<(), BrowserError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BrowserError::Timeout("loading the document to print".into()));
        }
        let r = cdp
            .call(
                "Runtime.evaluate",
                json!({ "expression": "document.readyState === 'complete' && document.fonts.status === 'loaded'", "returnByValue": true }),
                s,
                left,
            )
            .await?;
        if r["result"]["value"] == true {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn print_params(header: &PrintHeader) -> Value {
    json!({
        "paperWidth": A4.0,
        "paperHeight": A4.1,
        "marginTop": MARGINS.0,
        "marginBottom": MARGINS.1,
        "marginLeft": MARGINS.2,
        "marginRight": MARGINS.2,
        "printBackground": true,
        "displayHeaderFooter": true,
        "headerTemplate": header_template(header),
        "footerTemplate": footer_template(header),
        "preferCSSPageSize": false,
        "generateDocumentOutline": true,
        "generateTaggedPDF": true,
    })
}

fn decode(reply: &Value) -> Result<Vec<u8>, BrowserError> {
    let data = reply["data"]
        .as_str()
        .ok_or_else(|| BrowserError::Protocol("printToPDF returned no data".into()))?;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| BrowserError::Protocol(format!("printToPDF: {e}")))?;
    if !pdf.starts_with(b"%PDF-") {
        return Err(BrowserError::Protocol("printToPDF returned something that is not a PDF".into()));
    }
    Ok(pdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_and_number_pages() {
        let h = PrintHeader {
            title: "Rapport <vigie>".into(),
            period: "du 1er au 30 novembre 2026".into(),
            instance: "paris-1 & co".into(),
            page_word: "page".into(),
        };
        let head = header_template(&h);
        assert!(
            head.contains("Rapport &lt;vigie&gt;") && head.contains("paris-1 &amp; co"),
            "{head}"
        );
        assert!(head.contains("font-size:7.5pt"), "Chromium's default template size is 0: {head}");
        let foot = footer_template(&h);
        assert!(
            foot.contains("page <span class=\"pageNumber\"></span> / <span class=\"totalPages\"></span>"),
            "{foot}"
        );
    }
}
