//! One evidence record: what a visitor would have seen at one moment, in a
//! canonical JSON form that is hashed and chained.
//!
//! The hash of a record is the SHA-256 of its canonical text, exactly as
//! stored (and as written, one per line, in a bundle's `chain.jsonl`). The
//! text holds the previous record's hash (`prev`) and the SHA-256 of the page
//! (`body_sha256`), so changing a page, a record, or the order of records
//! breaks a link that anyone can recompute with `sha256sum` or three lines of
//! Python. Fields are in a fixed order (serde writes struct fields in
//! declaration order); nothing is re-serialised to verify.

use std::io::{Read, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EvidenceError, Kind};
use crate::probe::{Outcome, Probe, Reason, RunResult};
use crate::runner::redact::Redactor;

/// Format tag of the canonical record.
pub const FORMAT: &str = "vigie-evidence/1";
/// Format tag of a record that carries a screenshot (the `screenshot`
/// field, added at the end; a version-1 record is unchanged).
pub const FORMAT_V2: &str = "vigie-evidence/2";

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical record. Field order is part of the format: never reorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub format: String,
    /// Position in the chain: 1, 2, 3... without gaps.
    pub seq: u64,
    /// SHA-256 of the previous record's canonical text ([`GENESIS`] for #1).
    pub prev: String,
    pub probe: String,
    pub title: String,
    pub procedure: String,
    pub site: String,
    /// Vantage point of the vigie instance.
    pub location: String,
    pub kind: Kind,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    pub step: String,
    pub step_index: u32,
    pub message: Option<String>,
    pub method: String,
    /// The URL of the page (after redirects), redacted.
    pub url: String,
    /// Every request the step sent when it followed a redirect (method,
    /// redacted URL, status), in order; absent for a single request and
    /// from records written before it was kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<crate::probe::Hop>,
    /// The IP address and port the page came from, as the connection
    /// reported it; absent for browser steps and older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// None when no response came (refused connection, timeout, DNS).
    pub http_status: Option<u16>,
    /// When the page was received (UTC, milliseconds); the run's start when
    /// no response came.
    pub observed_at: String,
    /// The same instant in Europe/Paris, with its offset.
    pub observed_at_paris: String,
    pub run_started_at: String,
    /// The maintenance window the run fell in, if any.
    pub maintenance: Option<String>,
    /// Response headers as received, credentials redacted.
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The page's file in an export bundle (empty when there is no body).
    pub file: String,
    pub body_bytes: u64,
    /// SHA-256 of the body exactly as kept (redacted, capped).
    pub body_sha256: String,
    /// True when the page was cut at the capture cap.
    pub truncated: bool,
    pub vigie_version: String,
    /// The screenshot a browser probe took (format 2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<ScreenshotRef>,
    /// `message` in French, when the runner wrote one (added after format
    /// 2's first records: absent from older ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_fr: Option<String>,
}

/// What the record says of its screenshot: the PNG is kept beside the
/// record, and its hash here chains it like the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreenshotRef {
    /// `screenshots/000042.png` in a bundle.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub taken_at: String,
    pub taken_at_paris: String,
}

impl Record {
    /// The canonical text: compact JSON, fields in declaration order.
    pub fn canonical(&self) -> Result<String, EvidenceError> {
        serde_json::to_string(self).map_err(EvidenceError::Json)
    }

    pub fn parse(text: &str) -> Result<Record, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn observed_at_utc(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.observed_at).ok().map(|t| t.with_timezone(&Utc))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// RFC 3339 with milliseconds, `Z` for UTC.
pub fn utc_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn paris_text(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Paris)
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// File extension of a page in a bundle, from its content type.
/// Pages that a browser would render (HTML, XML, SVG) get a `.txt` ending: opened from an
/// extracted bundle they show as text and can neither run the captured page's scripts nor
/// fetch its resources (the bundle's own pages show them in sandboxed frames).
pub fn extension(content_type: Option<&str>) -> &'static str {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("html") {
        "html.txt"
    } else if ct.contains("json") {
        "json"
    } else if ct.starts_with("text/") {
        "txt"
    } else if ct.contains("xml") || ct.contains("svg") {
        "xml.txt"
    } else if ct.contains("pdf") {
        "pdf"
    } else if ct.is_empty() {
        "html.txt"
    } else {
        "bin"
    }
}

/// A record ready to be chained: everything but `seq`, `prev` and `file`.
pub struct Draft {
    pub record: Record,
    pub body: Vec<u8>,
    /// The PNG, when the step has a screenshot.
    pub screenshot: Option<Vec<u8>>,
    pub observed_at: DateTime<Utc>,
}

/// What the visitor saw at the step that decided the run. The capture was
/// redacted by the runner; the probe's secret values are redacted once more
/// here (headers and body, plain and URL-encoded), so that a capture from a
/// future code path that forgot cannot leak them.
pub fn draft(probe: &Probe, location: &str, run: &RunResult, kind: Kind, maintenance: Option<&str>, max_body: usize) -> Option<Draft> {
    let step_name = run.failed_step.as_deref()?;
    draft_step(probe, location, run, step_name, kind, maintenance, max_body)
}

/// A record of one named step of the run (the deciding one, or one whose
/// screenshot the probe asked for).
pub fn draft_step(
    probe: &Probe,
    location: &str,
    run: &RunResult,
    step_name: &str,
    kind: Kind,
    maintenance: Option<&str>,
    max_body: usize,
) -> Option<Draft> {
    let (idx, step) = run.steps.iter().enumerate().find(|(_, s)| s.name == step_name)?;
    let mut redactor = Redactor::new();
    for (_, value) in &probe.env {
        redactor.add(value);
    }
    let capture = step.capture.as_ref();
    let observed_at = capture.map(|c| c.received_at).unwrap_or(run.started_at);
    let (mut body, mut truncated) = match capture {
        Some(c) => (redactor.bytes(&c.body), c.truncated),
        None => (Vec::new(), false),
    };
    if body.len() > max_body {
        body.truncate(max_body);
        truncated = true;
    }
    let headers: Vec<(String, String)> = capture
        .map(|c| c.headers.iter().map(|(k, v)| (k.clone(), redactor.header(k, v))).collect())
        .unwrap_or_default();
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    let url = capture
        .map(|c| c.url.clone())
        .or_else(|| step.url.clone())
        .or_else(|| step.request_url.clone())
        .unwrap_or_default();
    let record = Record {
        format: FORMAT.to_string(),
        seq: 0,
        prev: String::new(),
        probe: probe.name.clone(),
        title: probe.title.clone(),
        procedure: probe.labels.procedure.clone(),
        site: probe.labels.site.clone(),
        location: location.to_string(),
        kind,
        outcome: run.outcome,
        reason: run.reason,
        step: step.name.clone(),
        step_index: idx as u32,
        message: run.message.as_deref().map(|m| redactor.text(m)),
        method: step.method.clone(),
        url: redactor.text(&url),
        chain: step
            .chain
            .iter()
            .map(|h| crate::probe::Hop {
                url: redactor.text(&h.url),
                ..h.clone()
            })
            .collect(),
        remote_addr: step.remote_addr.clone(),
        http_status: capture.map(|c| c.status).or(step.http_status),
        observed_at: utc_text(observed_at),
        observed_at_paris: paris_text(observed_at),
        run_started_at: utc_text(run.started_at),
        maintenance: maintenance.map(str::to_string),
        headers,
        content_type,
        file: String::new(),
        body_bytes: body.len() as u64,
        body_sha256: sha256_hex(&body),
        truncated,
        vigie_version: env!("CARGO_PKG_VERSION").to_string(),
        screenshot: None,
        message_fr: run.message_fr().map(|m| redactor.text(&m)),
    };
    let mut record = record;
    let screenshot = step.screenshot.as_ref().map(|shot| {
        record.format = FORMAT_V2.to_string();
        record.screenshot = Some(ScreenshotRef {
            file: String::new(),
            bytes: shot.png.len() as u64,
            sha256: sha256_hex(&shot.png),
            width: shot.width,
            height: shot.height,
            taken_at: utc_text(shot.taken_at),
            taken_at_paris: paris_text(shot.taken_at),
        });
        shot.png.clone()
    });
    Some(Draft {
        record,
        body,
        screenshot,
        observed_at,
    })
}

/// Give a draft its place in the chain; returns the canonical text and its hash.
pub fn seal(record: &mut Record, seq: u64, prev: &str) -> Result<(String, String), EvidenceError> {
    record.seq = seq;
    record.prev = prev.to_string();
    record.file = if record.body_bytes > 0 {
        page_file(seq, record.content_type.as_deref())
    } else {
        String::new()
    };
    if let Some(s) = record.screenshot.as_mut() {
        s.file = screenshot_file(seq);
    }
    let text = record.canonical()?;
    let hash = sha256_hex(text.as_bytes());
    Ok((text, hash))
}

/// `pages/000042.html.txt`.
pub fn page_file(seq: u64, content_type: Option<&str>) -> String {
    format!("pages/{seq:06}.{}", extension(content_type))
}

/// `screenshots/000042.png`.
pub fn screenshot_file(seq: u64) -> String {
    format!("screenshots/{seq:06}.png")
}

pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>, EvidenceError> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).map_err(EvidenceError::Io)?;
    enc.finish().map_err(EvidenceError::Io)
}

/// Decompress a stored body, refusing to grow beyond `limit` bytes (a
/// hand-crafted row must not exhaust memory).
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, EvidenceError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(EvidenceError::Io)?;
    if out.len() > limit {
        return Err(EvidenceError::TooLarge(limit));
    }
    Ok(out)
}
