//! Checking the chain: in the store (`vigie verify`) and, through the same
//! [`Walker`], in an export bundle. Every problem names the record where the
//! chain first stops holding, and says what was probably done to it.

use std::fmt;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::record::{self, Record, GENESIS};
use super::settings::MAX_BODY;
use super::EvidenceError;
use crate::store::evidence::{self as rows, EvidenceRow};

/// Something wrong at one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub seq: u64,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record #{}: {}", self.seq, self.message)
    }
}

/// `SEQ:HASH`, as logged by the daemon and printed in reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
}

impl std::str::FromStr for Anchor {
    type Err = String;
    fn from_str(s: &str) -> Result<Anchor, String> {
        let (seq, hash) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not an anchor: expected SEQ:HASH, such as 1234:3fa9… (from the daemon's log or a report)"))?;
        let seq = seq.parse().map_err(|_| format!("`{seq}` is not a record number"))?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("`{hash}` is not a SHA-256 (64 hexadecimal digits)"));
        }
        Ok(Anchor { seq, hash })
    }
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

/// Walks a chain in order, record by record, checking each link.
pub(crate) struct Walker {
    next_seq: Option<u64>,
    /// Hash of the previous record (None: unknown, a bundle starting mid-chain).
    prev: Option<String>,
    pub problems: Vec<Problem>,
    pub count: u64,
    pub last: Option<(u64, String)>,
    anchor: Option<Anchor>,
    anchor_seen: bool,
}

impl Walker {
    /// From the first record of the register.
    pub fn from_genesis(anchor: Option<Anchor>) -> Walker {
        Walker {
            next_seq: Some(1),
            prev: Some(GENESIS.to_string()),
            problems: Vec::new(),
            count: 0,
            last: None,
            anchor,
            anchor_seen: false,
        }
    }

    /// From wherever the first record says it is (an export of a period).
    pub fn mid_chain(anchor: Option<Anchor>) -> Walker {
        Walker {
            next_seq: None,
            prev: None,
            ..Walker::from_genesis(anchor)
        }
    }

    fn problem(&mut self, seq: u64, message: String) {
        self.problems.push(Problem { seq, message });
    }

    fn position(&mut self, seq: u64) {
        match self.next_seq {
            Some(expected) if seq > expected => {
                let what = if seq == expected + 1 {
                    format!(
                        "is missing (the register goes from #{} to #{seq}): it was deleted",
                        expected.saturating_sub(1)
                    )
                } else {
                    format!("to #{} are missing: they were deleted", seq - 1)
                };
                self.problem(expected, what);
            }
            Some(expected) if seq < expected => {
                self.problem(
                    seq,
                    format!("appears again after #{}: records were duplicated or reordered", expected - 1),
                );
            }
            _ => {}
        }
        if seq == 1 && self.prev.is_none() {
            self.prev = Some(GENESIS.to_string());
        }
    }

    fn link(&mut self, seq: u64, prev_field: &str, hash: String) {
        if let Some(prev) = &self.prev {
            if prev_field != prev {
                let msg = format!(
                    "the chain is broken here: it names {}… as the previous record's hash, but record #{} hashes to {}… (#{} was altered, or records before this one were deleted, inserted or reordered)",
                    short(prev_field),
                    seq.saturating_sub(1),
                    short(prev),
                    seq.saturating_sub(1)
                );
                self.problem(seq, msg);
            }
        }
        if let Some(a) = &self.anchor {
            if a.seq == seq {
                self.anchor_seen = true;
                if a.hash != hash {
                    let msg = format!(
                        "differs from the anchor {}:{}… published earlier (its hash is now {}…): the register was rewritten",
                        a.seq,
                        short(&a.hash),
                        short(&hash)
                    );
                    self.problem(seq, msg);
                }
            }
        }
        self.prev = Some(hash.clone());
        self.next_seq = Some(seq + 1);
        self.count += 1;
        self.last = Some((seq, hash));
    }

    /// A full record at position `seq`: its canonical text and, in the store,
    /// the hash kept next to it.
    pub fn record(&mut self, seq: u64, text: &str, stored_hash: Option<&str>) -> Option<Record> {
        self.position(seq);
        let hash = record::sha256_hex(text.as_bytes());
        if let Some(stored) = stored_hash {
            if stored != hash {
                self.problem(
                    seq,
                    format!(
                        "was altered: its content hashes to {}…, not to the {}… recorded when it was written",
                        short(&hash),
                        short(stored)
                    ),
                );
            }
        }
        let parsed = Record::parse(text);
        match &parsed {
            Ok(r) if r.seq != seq => self.problem(
                seq,
                format!("holds the content of record #{}: records were reordered or renumbered", r.seq),
            ),
            Ok(_) => {}
            Err(e) => self.problem(seq, format!("is not a readable evidence record ({e})")),
        }
        let prev_field = parsed.as_ref().map(|r| r.prev.clone()).unwrap_or_default();
        self.link(seq, &prev_field, hash);
        parsed.ok()
    }

    /// A record of the register that a bundle leaves out (another probe or
    /// kind): only its hash and its link are known.
    pub fn stub(&mut self, seq: u64, prev: &str, hash: &str) {
        self.position(seq);
        self.link(seq, prev, hash.to_string());
    }

    /// Call at the end: a published anchor beyond the end means the tail was cut.
    pub fn finish(&mut self) {
        if let Some(a) = self.anchor.clone() {
            if !self.anchor_seen {
                let end = self.last.as_ref().map(|(s, _)| *s).unwrap_or(0);
                if a.seq > end {
                    self.problem(
                        a.seq,
                        format!("is missing: an anchor published earlier shows the register reached #{}, but it now ends at #{end} (its tail was removed)", a.seq),
                    );
                } else {
                    self.problem(
                        a.seq,
                        "is not in this copy of the register, so the anchor cannot be checked here".into(),
                    );
                }
            }
        }
        self.problems.sort_by_key(|p| p.seq);
    }
}

/// The outcome of `vigie verify`.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub records: u64,
    pub head: Option<(u64, String)>,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub problems: Vec<Problem>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check the whole register in the store: links, hashes, pages, and the
/// index columns exports select on. `progress` is called every 1000 records.
pub fn verify_store(conn: &Connection, anchor: Option<Anchor>, mut progress: impl FnMut(u64)) -> Result<Verdict, EvidenceError> {
    let mut w = Walker::from_genesis(anchor);
    let mut first_at = None;
    let mut last_at = None;
    rows::for_each(conn, 1, |row: EvidenceRow| {
        let seq = row.seq.max(0) as u64;
        if let Some(r) = w.record(seq, &row.record, Some(&row.hash)) {
            check_row(&mut w, &row, &r);
        }
        first_at.get_or_insert(row.received_at);
        last_at = Some(row.received_at);
        if w.count.is_multiple_of(1000) {
            progress(w.count);
        }
        // A register rewritten wholesale has a problem at every record:
        // the first thousand say enough.
        if w.problems.len() > 1000 {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    w.finish();
    Ok(Verdict {
        records: w.count,
        head: w.last.clone(),
        first_at,
        last_at,
        problems: w.problems,
    })
}

/// The screenshot column against the record's hash of it.
fn check_screenshot(w: &mut Walker, row: &EvidenceRow, r: &Record) {
    let seq = r.seq;
    match (&r.screenshot, &row.screenshot) {
        (None, None) => {}
        (Some(want), Some(png)) => {
            let got = record::sha256_hex(png);
            if got != want.sha256 || png.len() as u64 != want.bytes {
                w.problems.push(Problem {
                    seq,
                    message: format!(
                        "its screenshot was altered: {} bytes hashing to {}…, where the record says {} bytes hashing to {}…",
                        png.len(),
                        short(&got),
                        want.bytes,
                        short(&want.sha256)
                    ),
                });
            }
        }
        (Some(_), None) => w.problems.push(Problem {
            seq,
            message: "its screenshot was deleted".into(),
        }),
        (None, Some(_)) => w.problems.push(Problem {
            seq,
            message: "a screenshot was added that its record does not name".into(),
        }),
    }
}

/// The page and the columns of a store row against its record.
fn check_row(w: &mut Walker, row: &EvidenceRow, r: &Record) {
    let seq = r.seq;
    match record::gunzip(&row.body, MAX_BODY * 2) {
        Ok(body) => {
            let got = record::sha256_hex(&body);
            if got != r.body_sha256 || body.len() as u64 != r.body_bytes {
                w.problems.push(Problem {
                    seq,
                    message: format!(
                        "its page was altered: {} bytes hashing to {}…, where the record says {} bytes hashing to {}…",
                        body.len(),
                        short(&got),
                        r.body_bytes,
                        short(&r.body_sha256)
                    ),
                });
            }
        }
        Err(e) => w.problems.push(Problem {
            seq,
            message: format!("its page cannot be read ({e}): it was altered"),
        }),
    }
    check_screenshot(w, row, r);
    let at_ok = r
        .observed_at_utc()
        .is_some_and(|t| t.timestamp_millis() == row.received_at.timestamp_millis());
    if row.probe != r.probe || row.kind != r.kind.as_str() || !at_ok {
        w.problems.push(Problem {
            seq,
            message:
                "its index columns (probe, kind, time) no longer match the record: they were edited, which could hide it from an export"
                    .into(),
        });
    }
}
