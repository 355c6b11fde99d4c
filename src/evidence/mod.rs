//! Evidence: what a visitor would have seen when a procedure failed or
//! offered no slot, kept as a tamper-evident register.
//!
//! - `record.rs`: the canonical record and its hash; `throttle.rs`: which
//!   runs leave a capture (storage stays bounded, days stay covered).
//! - The history writer (`alert::writer`) appends records in the same
//!   transaction as their run, through [`Appender`].
//! - `verify.rs`: `vigie verify` walks the chain in the store; `bundle.rs`
//!   and `bundle_html.rs`: `vigie evidence export` / `verify` on a zip.
//!
//! One chain for the whole register, like a bound ledger with numbered
//! pages: record n holds the SHA-256 of record n-1, so changing, deleting,
//! inserting or reordering a record breaks a link. A truncated tail leaves
//! a valid but shorter chain; the writer logs the head (an *anchor*) every
//! `anchor_every`, and reports print it, so that a later copy can be checked
//! against a head published earlier (`vigie verify --anchor SEQ:HASH`).

pub mod bundle;
mod bundle_html;
pub mod bundle_stamps;
pub mod bundle_verify;
pub mod context;
pub mod metrics;
pub mod record;
pub mod settings;
pub mod stamper;
pub mod throttle;
pub mod timestamps;
pub mod tsp;
pub mod tsp_verify;
pub mod verify;
pub mod warc;
pub mod warc_export;

use std::fmt;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::store::evidence::{self as rows, EvidenceRow};
use crate::store::StoreError;
pub use settings::EvidenceSettings;

/// Why a page was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The run was `down` or `broken`.
    Failure,
    /// The run was `no_capacity`: the page said there was no slot.
    NoCapacity,
    /// The run was `unobserved` because a bot-protection page refused the
    /// monitor: a finding about access, not about the service.
    Blocked,
    /// A screenshot the probe asked for (`screenshot: true`), whatever the
    /// step's result.
    Requested,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Failure, Kind::NoCapacity, Kind::Blocked, Kind::Requested];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Failure => "failure",
            Kind::NoCapacity => "no_capacity",
            Kind::Blocked => "blocked",
            Kind::Requested => "requested",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Kind::Failure => "échec",
            Kind::NoCapacity => "aucun créneau",
            Kind::Blocked => "refus anti-robot",
            Kind::Requested => "capture demandée",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Kind::Failure => "failure",
            Kind::NoCapacity => "no slot",
            Kind::Blocked => "bot protection",
            Kind::Requested => "requested capture",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("JSON: {0}")]
    Json(serde_json::Error),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("a stored page grows beyond {0} bytes when decompressed")]
    TooLarge(usize),
    #[error("zip: {0}")]
    Zip(String),
    #[error("no evidence was recorded in this period for these probes")]
    Nothing,
    #[error("the evidence register is damaged ({0}); nothing was exported: run `vigie verify` to see every problem")]
    Damaged(verify::Problem),
}

impl From<rusqlite::Error> for EvidenceError {
    fn from(e: rusqlite::Error) -> Self {
        EvidenceError::Store(StoreError::Sqlite(e))
    }
}

/// A record just appended, for logs and metrics.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: u64,
    pub probe: String,
    pub kind: Kind,
    pub stored_bytes: usize,
    pub has_screenshot: bool,
}

/// Appends drafts to the chain inside the writer's transaction.
pub struct Appender {
    seq: u64,
    hash: String,
}

impl Appender {
    /// Read the head of the chain (inside the transaction that will append).
    pub fn open(conn: &Connection) -> Result<Appender, StoreError> {
        Ok(match rows::head(conn)? {
            Some((seq, hash)) => Appender {
                seq: seq.max(0) as u64,
                hash,
            },
            None => Appender {
                seq: 0,
                hash: record::GENESIS.to_string(),
            },
        })
    }

    pub fn append(&mut self, conn: &Connection, mut draft: record::Draft, run_id: Option<i64>) -> Result<Appended, StoreError> {
        let seq = self.seq + 1;
        let fail = |e: EvidenceError| StoreError::Evidence(e.to_string());
        let (text, hash) = record::seal(&mut draft.record, seq, &self.hash).map_err(fail)?;
        let body = record::gzip(&draft.body).map_err(fail)?;
        let row = EvidenceRow {
            seq: seq as i64,
            probe: draft.record.probe.clone(),
            kind: draft.record.kind.as_str().to_string(),
            received_at: draft.observed_at,
            run_id,
            record: text,
            body,
            screenshot: draft.screenshot.take(),
            hash: hash.clone(),
        };
        rows::insert(conn, &row)?;
        self.seq = seq;
        self.hash = hash;
        Ok(Appended {
            seq,
            probe: row.probe,
            kind: draft.record.kind,
            stored_bytes: row.record.len() + row.body.len() + row.screenshot.as_ref().map_or(0, Vec::len),
            has_screenshot: row.screenshot.is_some(),
        })
    }
}

/// The throttle's starting memory, from the last record of each probe and kind.
pub fn throttle_from_store(conn: &Connection) -> Result<throttle::Throttle, StoreError> {
    let last = rows::last_per_probe_and_kind(conn)?;
    Ok(throttle::Throttle::from_last_kept(last.into_iter().filter_map(
        |(probe, kind, at, text)| {
            let kind = Kind::parse(&kind)?;
            let r = record::Record::parse(&text).ok()?;
            let status = r.http_status.map(|s| s.to_string()).unwrap_or_default();
            let sig = format!("{}|{}|{status}", r.step, r.reason.map(|x| x.as_str()).unwrap_or(""));
            Some((probe, kind, at, sig))
        },
    )))
}
