//! RFC 3161 time stamps in a bundle: which tokens go in (those over a head
//! inside the exported stretch, and the first one after it, which dates
//! every exported record), written as `timestamps.jsonl` (the records),
//! `timestamps/NNNNNN.tsr` (the TSA's replies, DER, for `openssl ts
//! -verify`) and `timestamps/tsa-ca.pem` (the CA configured, for
//! convenience); and their verification from the bundle alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::bundle::Stub;
use super::record::{self, Record};
use super::timestamps::{reply_file, ChainView, Stamp, StampVerdict, StampWalker};
use super::tsp_verify::Trust;
use super::EvidenceError;
use crate::store::timestamps::{self as rows, StampRow};

pub const RECORDS: &str = "timestamps.jsonl";
pub const CA_FILE: &str = "timestamps/tsa-ca.pem";

/// The tokens for a bundle of records `first..=last`, and where its chain
/// must end so the last token can be checked (its stamped record).
pub fn select(conn: &Connection, first: i64, last: i64) -> Result<(Vec<StampRow>, i64), EvidenceError> {
    let mut out = Vec::new();
    let mut end = last;
    for row in rows::all(conn)? {
        if row.chain_seq < first {
            continue;
        }
        let after = row.chain_seq >= last;
        end = end.max(row.chain_seq);
        out.push(row);
        if after {
            break;
        }
    }
    Ok((out, end))
}

/// The files to add: (path, bytes).
pub fn files(stamps: &[StampRow], ca_pem: Option<&[u8]>) -> Vec<(String, Vec<u8>)> {
    if stamps.is_empty() {
        return vec![];
    }
    let mut jsonl = String::new();
    let mut out = Vec::new();
    for s in stamps {
        jsonl.push_str(&s.record);
        jsonl.push('\n');
        out.push((reply_file(s.seq.max(0) as u64), s.reply.clone()));
    }
    out.insert(0, (RECORDS.to_string(), jsonl.into_bytes()));
    if let Some(pem) = ca_pem {
        out.push((CA_FILE.to_string(), pem.to_vec()));
    }
    out
}

/// The chain as a bundle holds it: each line's hash and date.
pub struct BundleChain(HashMap<u64, (String, Option<DateTime<Utc>>)>);

impl BundleChain {
    pub fn of(lines: &[&str]) -> BundleChain {
        let mut m = HashMap::new();
        for line in lines {
            if let Ok(stub) = serde_json::from_str::<Stub>(line) {
                if stub.stub {
                    let at = DateTime::parse_from_rfc3339(&stub.observed_at).ok().map(|t| t.with_timezone(&Utc));
                    m.insert(stub.seq, (stub.hash, at));
                    continue;
                }
            }
            if let Ok(r) = Record::parse(line) {
                m.insert(r.seq, (record::sha256_hex(line.as_bytes()), r.observed_at_utc()));
            }
        }
        BundleChain(m)
    }
}

impl ChainView for BundleChain {
    fn record(&self, seq: u64) -> Option<(String, Option<DateTime<Utc>>)> {
        self.0.get(&seq).cloned()
    }
}

/// Reads a bundle member by name (`None`: absent).
pub type ReadMember<'a> = dyn FnMut(&str) -> Result<Option<Vec<u8>>, EvidenceError> + 'a;

/// Check the bundle's tokens. `read` gives a member's bytes; `trust` is
/// the reader's choice, else the bundle's CA copy, else the system roots.
pub fn verify(read: &mut ReadMember<'_>, chain: &BundleChain, tsa_ca: Option<&Path>) -> Result<StampVerdict, EvidenceError> {
    let Some(text) = read(RECORDS)? else {
        return Ok(StampVerdict::default());
    };
    let bundled = match (tsa_ca, read(CA_FILE)?) {
        (None, Some(pem)) => Some(TempFile::write(&pem)?),
        _ => None,
    };
    let trust = Trust::of(tsa_ca.or(bundled.as_ref().map(|t| t.0.as_path())));
    let mut w = StampWalker::mid_chain(&trust);
    let mut last = None;
    for line in String::from_utf8_lossy(&text).lines().filter(|l| !l.is_empty()) {
        let Ok(s) = Stamp::parse(line) else {
            w.problems
                .push(format!("{RECORDS} holds a line that is not a time-stamp record: it was altered"));
            continue;
        };
        let reply = read(&reply_file(s.seq))?.unwrap_or_default();
        w.stamp(line, None, &reply, chain);
        last = Some((s.seq, s.gen_time.clone(), s.chain_seq));
    }
    if tsa_ca.is_none() && bundled.is_none() && !w.problems.is_empty() {
        w.problems.push(format!(
            "the bundle holds no copy of the TSA's CA ({CA_FILE}: it was exported without the configuration naming \
             evidence.timestamp.ca_file) and the system's roots do not vouch for this TSA: give its CA with --tsa-ca FILE"
        ));
    }
    Ok(StampVerdict {
        checked: w.checked,
        last,
        problems: w.problems,
    })
}

/// A private temporary file, removed when dropped (OpenSSL reads a CA from a path).
struct TempFile(PathBuf);

impl TempFile {
    fn write(bytes: &[u8]) -> Result<TempFile, EvidenceError> {
        let name = format!("vigie-tsa-ca-{}-{}.pem", std::process::id(), rand::random::<u64>());
        let path = std::env::temp_dir().join(name);
        let mut f = std::fs::OpenOptions::new();
        f.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
        std::io::Write::write_all(&mut f.open(&path).map_err(EvidenceError::Io)?, bytes).map_err(EvidenceError::Io)?;
        Ok(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
