//! Writing the WARC file of a selection (`vigie evidence export --format
//! warc`): the same captures as the zip bundle, checked the same way first
//! (the chain over the exported stretch, each page and screenshot against
//! its record), then one `warc.rs` record group per capture.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::bundle::ExportRequest;
use super::record::{self, Record};
use super::settings::MAX_BODY;
use super::verify::{Problem, Walker};
use super::warc::{self, Capture};
use super::EvidenceError;
use crate::store::evidence as rows;

/// What was written.
#[derive(Debug, Clone)]
pub struct WarcExported {
    pub captures: u64,
    pub bytes: u64,
}

fn io(e: impl std::fmt::Display) -> EvidenceError {
    EvidenceError::Io(std::io::Error::other(e.to_string()))
}

/// Write the captures received in `[from, to)` to `out` (WARC/1.1, gzip
/// per record). `context` goes into the `warcinfo` record. Refuses a
/// damaged register, like the zip export.
pub fn export(
    conn: &Connection,
    req: &ExportRequest,
    out: &Path,
    now: DateTime<Utc>,
    context: &[(String, String)],
) -> Result<WarcExported, EvidenceError> {
    let probes = (!req.selection.probes.is_empty()).then_some(req.selection.probes.as_slice());
    let seqs = rows::seqs_between(conn, req.from, req.to, probes)?;
    let (Some((first, _)), Some((last, _))) = (seqs.first(), seqs.last()) else {
        return Err(EvidenceError::Nothing);
    };
    let mut walker = Walker::mid_chain(None);
    for row in rows::headers_between(conn, *first, *last)? {
        walker.record(row.seq.max(0) as u64, &row.record, Some(&row.hash));
    }
    walker.finish();
    if let Some(p) = walker.problems.first() {
        return Err(EvidenceError::Damaged(p.clone()));
    }
    let pending = crate::private_fs::Pending::create(out).map_err(io)?;
    let mut file = std::io::BufWriter::new(pending.file_clone().map_err(EvidenceError::Io)?);
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let date = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    file.write_all(&warc::warcinfo(&name, &date, context)?).map_err(EvidenceError::Io)?;
    for (seq, _) in &seqs {
        file.write_all(&capture_records(conn, *seq)?).map_err(EvidenceError::Io)?;
    }
    let f = file.into_inner().map_err(io)?;
    f.sync_all().map_err(EvidenceError::Io)?;
    let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
    pending.commit().map_err(io)?;
    Ok(WarcExported {
        captures: seqs.len() as u64,
        bytes,
    })
}

/// The WARC records of the capture at `seq`, its page and screenshot checked.
fn capture_records(conn: &Connection, seq: i64) -> Result<Vec<u8>, EvidenceError> {
    let row = rows::get(conn, seq)?.ok_or(EvidenceError::Nothing)?;
    let r = Record::parse(&row.record).map_err(EvidenceError::Json)?;
    let damaged = |message: &str| {
        EvidenceError::Damaged(Problem {
            seq: r.seq,
            message: message.into(),
        })
    };
    let body = record::gunzip(&row.body, MAX_BODY * 2)?;
    if record::sha256_hex(&body) != r.body_sha256 {
        return Err(damaged("its page was altered"));
    }
    let shot = row
        .screenshot
        .as_deref()
        .filter(|png| r.screenshot.as_ref().is_some_and(|s| record::sha256_hex(png) == s.sha256));
    if r.screenshot.is_some() && shot.is_none() {
        return Err(damaged("its screenshot was altered"));
    }
    warc::capture(&Capture {
        record: &r,
        hash: &row.hash,
        body: &body,
        screenshot: shot,
    })
}
