//! The export bundle: a zip a lawyer can hand over. It holds
//!
//! - `chain.jsonl`: the records of the period, one canonical record per line
//!   (each line's SHA-256 is the record's hash), with the records of other
//!   probes in between reduced to stubs (position, previous hash, hash) so
//!   the links can still be followed;
//! - `pages/`: each page exactly as kept (redacted, capped);
//! - `index.html` and `days/*.html`: each capture with its URL, date and
//!   time (Paris and UTC) and SHA-256, the page shown as received with
//!   scripts and network disabled;
//! - `timestamps.jsonl`, `timestamps/*.tsr`: RFC 3161 tokens over the
//!   chain (`bundle_stamps.rs`), when `evidence.timestamp` is configured;
//! - `contexte.txt`: the capture context (`context.rs`);
//! - `README.txt` and `verify.py`: how to check it, with or without vigie;
//! - `manifest.json`: the selection, a summary (captures, days covered), the
//!   records, the SHA-256 of every other file, and its own SHA-256.
//!
//! `verify` (bundle_verify.rs) recomputes all of it, including the HTML.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::record::{self, Record};
use super::settings::MAX_BODY;
use super::verify::{Problem, Walker};
use super::{bundle_html, bundle_stamps, EvidenceError};
use crate::store::evidence as rows;

pub const FORMAT: &str = "vigie-evidence-bundle/1";

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// First and last day, inclusive, in `timezone`.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub timezone: String,
    /// Empty: every probe.
    pub probes: Vec<String>,
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub captures: u64,
    pub days_covered: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    /// (probe, captures), by probe name.
    pub by_probe: Vec<(String, u64)>,
    pub failures: u64,
    pub no_capacity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub seq: u64,
    pub hash: String,
    pub probe: String,
    pub kind: String,
    pub observed_at: String,
    pub observed_at_paris: String,
    pub url: String,
    pub http_status: Option<u16>,
    pub file: String,
    pub body_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub vigie_version: String,
    pub exported_at: String,
    pub selection: Selection,
    pub summary: Summary,
    /// First and last position of `chain.jsonl`, and the hash of its last line.
    pub chain_first: u64,
    pub chain_last: u64,
    pub chain_last_hash: String,
    /// The register's head when the bundle was made (SEQ:HASH), to compare
    /// with anchors published later.
    pub register_head: String,
    pub records: Vec<ManifestRecord>,
    pub files: Vec<FileEntry>,
    /// SHA-256 of this file written with this field empty.
    pub manifest_sha256: String,
}

impl Manifest {
    /// The pretty JSON written to the zip, and the self-hash it carries.
    pub fn seal(mut self) -> Result<(Manifest, Vec<u8>), EvidenceError> {
        self.manifest_sha256 = String::new();
        let unsealed = serde_json::to_vec_pretty(&self).map_err(EvidenceError::Json)?;
        self.manifest_sha256 = record::sha256_hex(&unsealed);
        let bytes = serde_json::to_vec_pretty(&self).map_err(EvidenceError::Json)?;
        Ok((self, bytes))
    }

    /// Whether the self-hash holds.
    pub fn self_hash_ok(&self) -> bool {
        let mut m = self.clone();
        m.manifest_sha256 = String::new();
        serde_json::to_vec_pretty(&m).is_ok_and(|b| record::sha256_hex(&b) == self.manifest_sha256)
    }
}

pub fn manifest_record(r: &Record, hash: &str) -> ManifestRecord {
    ManifestRecord {
        seq: r.seq,
        hash: hash.to_string(),
        probe: r.probe.clone(),
        kind: r.kind.as_str().to_string(),
        observed_at: r.observed_at.clone(),
        observed_at_paris: r.observed_at_paris.clone(),
        url: r.url.clone(),
        http_status: r.http_status,
        file: r.file.clone(),
        body_sha256: r.body_sha256.clone(),
    }
}

/// The bundle's default file name without `.zip` (`vigie evidence
/// export`); reports link to captures in a folder of that name beside them.
pub fn default_stem(language: crate::alert::settings::Language, from: NaiveDate, to: NaiveDate) -> String {
    let stem = match language {
        crate::alert::settings::Language::Fr => "preuves-vigie",
        crate::alert::settings::Language::En => "vigie-evidence",
    };
    format!("{stem}-{from}_{to}")
}

/// Where a capture is shown inside an unzipped bundle:
/// `days/2026-09-10.html#r000042` (its day in Europe/Paris, its anchor).
pub fn capture_path(seq: i64, observed_at: DateTime<Utc>) -> String {
    let day = observed_at.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    format!("days/{}.html#r{seq:06}", day.format("%Y-%m-%d"))
}

/// Day of a record in Europe/Paris (evidence is dated for French courts).
pub fn paris_day(r: &Record) -> Option<NaiveDate> {
    r.observed_at_utc().map(|t| t.with_timezone(&chrono_tz::Europe::Paris).date_naive())
}

pub fn summarize(records: &[Record]) -> Summary {
    let mut days = BTreeSet::new();
    let mut by_probe: std::collections::BTreeMap<String, u64> = Default::default();
    let mut failures = 0;
    for r in records {
        if let Some(d) = paris_day(r) {
            days.insert(d);
        }
        *by_probe.entry(r.probe.clone()).or_default() += 1;
        failures += u64::from(r.kind == super::Kind::Failure);
    }
    Summary {
        captures: records.len() as u64,
        days_covered: days.len() as u64,
        first: records.first().map(|r| r.observed_at_paris.clone()),
        last: records.last().map(|r| r.observed_at_paris.clone()),
        by_probe: by_probe.into_iter().collect(),
        failures,
        no_capacity: records.len() as u64 - failures,
    }
}

/// A stub line of `chain.jsonl`: a record of the register left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stub {
    pub stub: bool,
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    pub probe: String,
    pub observed_at: String,
}

pub struct ExportRequest {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub selection: Selection,
    /// The PEM of `evidence.timestamp.ca_file`, copied into the bundle.
    pub tsa_ca: Option<Vec<u8>>,
    /// The capture context, written as `contexte.txt`.
    pub context: Option<super::context::CaptureContext>,
}

#[derive(Debug, Clone)]
pub struct Exported {
    pub path: PathBuf,
    pub summary: Summary,
    pub chain_first: u64,
    pub chain_last: u64,
    pub bytes: u64,
}

/// Write the bundle of the records received in `[from, to)`. Refuses to
/// export from a damaged register (the chain over the exported stretch is
/// checked first): evidence that does not verify must not leave the house.
pub fn export(conn: &Connection, req: &ExportRequest, out: &Path, now: DateTime<Utc>) -> Result<Exported, EvidenceError> {
    let probes = (!req.selection.probes.is_empty()).then_some(req.selection.probes.as_slice());
    let seqs = rows::seqs_between(conn, req.from, req.to, probes)?;
    let (Some((first, _)), Some((last, _))) = (seqs.first(), seqs.last()) else {
        return Err(EvidenceError::Nothing);
    };
    let selected: BTreeSet<i64> = seqs.iter().map(|(s, _)| *s).collect();
    // The chain runs on to the record the first later time stamp covers.
    let (stamps, end) = bundle_stamps::select(conn, *first, *last)?;
    let rows_in_range = rows::headers_between(conn, *first, end)?;
    let register_head = rows::head(conn)?.map(|(s, h)| format!("{s}:{h}")).unwrap_or_default();

    let mut walker = Walker::mid_chain(None);
    let mut chain = String::new();
    let mut records = Vec::new();
    for row in &rows_in_range {
        let seq = row.seq.max(0) as u64;
        let parsed = walker.record(seq, &row.record, Some(&row.hash));
        if selected.contains(&row.seq) {
            chain.push_str(&row.record);
            if let Some(r) = parsed {
                records.push((r, row.hash.clone()));
            }
        } else {
            let r = parsed.as_ref();
            let stub = Stub {
                stub: true,
                seq,
                prev: r.map(|r| r.prev.clone()).unwrap_or_default(),
                hash: row.hash.clone(),
                probe: row.probe.clone(),
                observed_at: r.map(|r| r.observed_at.clone()).unwrap_or_default(),
            };
            chain.push_str(&serde_json::to_string(&stub).map_err(EvidenceError::Json)?);
        }
        chain.push('\n');
    }
    walker.finish();
    if let Some(p) = walker.problems.first() {
        return Err(EvidenceError::Damaged(p.clone()));
    }

    // Owner-only, created exclusively next to `out`, never through a link.
    let pending = crate::private_fs::Pending::create(out).map_err(|e| EvidenceError::Io(std::io::Error::other(e.to_string())))?;
    let file = pending.file_clone().map_err(EvidenceError::Io)?;
    let mut zip = Zip::new(file, now);
    zip.add("README.txt", bundle_html::README.as_bytes())?;
    zip.add("verify.py", bundle_html::VERIFY_PY.as_bytes())?;
    zip.add("chain.jsonl", chain.as_bytes())?;
    if let Some(c) = &req.context {
        zip.add(CONTEXT_FILE, context_text(c).as_bytes())?;
    }
    for (path, bytes) in bundle_stamps::files(&stamps, req.tsa_ca.as_deref()) {
        zip.add(&path, &bytes)?;
    }
    let mut pages = std::collections::BTreeMap::new();
    for (r, _) in &records {
        if r.file.is_empty() {
            continue;
        }
        let row = rows::get(conn, r.seq as i64)?.ok_or(EvidenceError::Nothing)?;
        let body = record::gunzip(&row.body, MAX_BODY * 2)?;
        if record::sha256_hex(&body) != r.body_sha256 {
            return Err(EvidenceError::Damaged(Problem {
                seq: r.seq,
                message: "its page was altered".into(),
            }));
        }
        zip.add(&r.file, &body)?;
        pages.insert(r.seq, body);
    }
    for (r, _) in &records {
        add_screenshot(conn, &mut zip, r)?;
    }
    let only: Vec<Record> = records.iter().map(|(r, _)| r.clone()).collect();
    let mut manifest = Manifest {
        format: FORMAT.into(),
        vigie_version: env!("CARGO_PKG_VERSION").into(),
        exported_at: record::utc_text(now),
        selection: req.selection.clone(),
        summary: summarize(&only),
        chain_first: *first as u64,
        chain_last: end as u64,
        chain_last_hash: walker.last.as_ref().map(|(_, h)| h.clone()).unwrap_or_default(),
        register_head,
        records: records.iter().map(|(r, h)| manifest_record(r, h)).collect(),
        files: Vec::new(),
        manifest_sha256: String::new(),
    };
    for (path, bytes) in bundle_html::render(&manifest, &only, &pages) {
        zip.add(&path, &bytes)?;
    }
    manifest.files = zip.entries.clone();
    let (manifest, bytes) = manifest.seal()?;
    zip.add("manifest.json", &bytes)?;
    let size = zip.finish()?;
    pending
        .commit()
        .map_err(|e| EvidenceError::Io(std::io::Error::other(e.to_string())))?;
    Ok(Exported {
        path: out.to_path_buf(),
        summary: manifest.summary,
        chain_first: manifest.chain_first,
        chain_last: manifest.chain_last,
        bytes: size,
    })
}

/// The capture context file of a bundle.
pub const CONTEXT_FILE: &str = "contexte.txt";

/// `contexte.txt`: the context in French, then the same fields in English.
fn context_text(c: &super::context::CaptureContext) -> String {
    let mut s = String::from("CONTEXTE DE CAPTURE — vigie\n===========================\n\n");
    for l in c.lines_fr() {
        s.push_str(&format!("- {l}\n"));
    }
    s.push_str("\nCAPTURE CONTEXT\n===============\n\n");
    for (k, v) in c.fields() {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s
}

/// The screenshot of `r`, checked against its record, into the zip.
fn add_screenshot(conn: &Connection, zip: &mut Zip, r: &Record) -> Result<(), EvidenceError> {
    let Some(want) = &r.screenshot else {
        return Ok(());
    };
    let row = rows::get(conn, r.seq as i64)?.ok_or(EvidenceError::Nothing)?;
    let png = row.screenshot.unwrap_or_default();
    if record::sha256_hex(&png) != want.sha256 {
        return Err(EvidenceError::Damaged(Problem {
            seq: r.seq,
            message: "its screenshot was altered".into(),
        }));
    }
    zip.add(&want.file, &png)
}

/// A zip being written, remembering each entry's SHA-256.
struct Zip {
    w: zip::ZipWriter<std::fs::File>,
    options: zip::write::SimpleFileOptions,
    entries: Vec<FileEntry>,
}

impl Zip {
    fn new(file: std::fs::File, now: DateTime<Utc>) -> Zip {
        let local = now.with_timezone(&chrono_tz::Europe::Paris);
        let mut options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        if let Ok(t) = zip::DateTime::from_date_and_time(
            u16::try_from(local.year()).unwrap_or(1980),
            local.month() as u8,
            local.day() as u8,
            local.hour() as u8,
            local.minute() as u8,
            local.second() as u8,
        ) {
            options = options.last_modified_time(t);
        }
        Zip {
            w: zip::ZipWriter::new(file),
            options,
            entries: Vec::new(),
        }
    }

    fn add(&mut self, path: &str, bytes: &[u8]) -> Result<(), EvidenceError> {
        self.w
            .start_file(path, self.options)
            .map_err(|e| EvidenceError::Zip(e.to_string()))?;
        self.w.write_all(bytes).map_err(EvidenceError::Io)?;
        if path != "manifest.json" {
            self.entries.push(FileEntry {
                path: path.to_string(),
                bytes: bytes.len() as u64,
                sha256: record::sha256_hex(bytes),
            });
        }
        Ok(())
    }

    fn finish(self) -> Result<u64, EvidenceError> {
        let f = self.w.finish().map_err(|e| EvidenceError::Zip(e.to_string()))?;
        Ok(f.metadata().map(|m| m.len()).unwrap_or(0))
    }
}
