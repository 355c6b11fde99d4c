//! The time-stamp register: each RFC 3161 token vigie obtained over the
//! evidence chain's head, as a canonical record chained like the captures
//! (record n holds the SHA-256 of record n-1; the token's own SHA-256 is in
//! the record, the token stored beside it). And the checks `vigie verify`,
//! `vigie evidence verify` and the bundles share: the links, the token's
//! signature and certificate (OpenSSL), the imprint against the stamped
//! record's hash, and the order of dates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::record::{sha256_hex, utc_text, GENESIS};
use super::tsp::{self, TokenInfo};
use super::tsp_verify::{self, Trust};
use super::EvidenceError;

pub const FORMAT: &str = "vigie-timestamp/1";

/// The canonical record. Field order is part of the format: never reorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub format: String,
    pub seq: u64,
    /// SHA-256 of the previous stamp record ([`GENESIS`] for #1).
    pub prev: String,
    /// The evidence record stamped: its position and hash (the imprint).
    pub chain_seq: u64,
    pub chain_hash: String,
    /// The time-stamping authority's URL.
    pub tsa: String,
    /// The TSA's time (`genTime`), UTC.
    pub gen_time: String,
    /// The token's serial number at the TSA, hex.
    pub serial: String,
    /// SHA-256 of the TSA's reply (DER), stored beside the record.
    pub reply_sha256: String,
}

impl Stamp {
    /// The record for a reply already read, to be sealed at `seq` after `prev`.
    pub fn new(chain: (u64, &str), tsa: &str, info: &TokenInfo, reply: &[u8]) -> Stamp {
        Stamp {
            format: FORMAT.into(),
            seq: 0,
            prev: String::new(),
            chain_seq: chain.0,
            chain_hash: chain.1.to_string(),
            tsa: tsa.to_string(),
            gen_time: utc_text(info.gen_time),
            serial: info.serial.clone(),
            reply_sha256: sha256_hex(reply),
        }
    }

    /// Place the record after `prev` (None: the first); its text and hash.
    pub fn seal(&mut self, prev: Option<(u64, &str)>) -> Result<(String, String), EvidenceError> {
        self.seq = prev.map_or(1, |(s, _)| s + 1);
        self.prev = prev.map_or(GENESIS, |(_, h)| h).to_string();
        let text = serde_json::to_string(self).map_err(EvidenceError::Json)?;
        let hash = sha256_hex(text.as_bytes());
        Ok((text, hash))
    }

    pub fn parse(text: &str) -> Result<Stamp, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn gen_time_utc(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.gen_time).ok().map(|t| t.with_timezone(&Utc))
    }
}

/// The file of a token's reply in a bundle: `timestamps/000003.tsr`.
pub fn reply_file(seq: u64) -> String {
    format!("timestamps/{seq:06}.tsr")
}

/// What the checker knows of the evidence chain: the hash and date of the
/// record at a position, when it has it.
pub trait ChainView {
    fn record(&self, seq: u64) -> Option<(String, Option<DateTime<Utc>>)>;
}

/// Checks a sequence of stamps in order, collecting problems.
pub struct StampWalker<'a> {
    trust: &'a Trust,
    /// The first stamp may follow stamps left out (a bundle holds a stretch).
    mid_chain: bool,
    prev: Option<(u64, String, DateTime<Utc>)>,
    pub problems: Vec<String>,
    pub checked: u64,
}

impl<'a> StampWalker<'a> {
    pub fn new(trust: &'a Trust) -> StampWalker<'a> {
        StampWalker {
            trust,
            mid_chain: false,
            prev: None,
            problems: Vec::new(),
            checked: 0,
        }
    }

    /// A walker that accepts any position and link for the first stamp.
    pub fn mid_chain(trust: &'a Trust) -> StampWalker<'a> {
        StampWalker {
            mid_chain: true,
            ..StampWalker::new(trust)
        }
    }

    /// One stamp: its text, stored hash (if any), reply bytes.
    pub fn stamp(&mut self, text: &str, stored_hash: Option<&str>, reply: &[u8], chain: &dyn ChainView) {
        let hash = sha256_hex(text.as_bytes());
        let Ok(s) = Stamp::parse(text) else {
            self.problems.push("a time-stamp record is not valid JSON".into());
            return;
        };
        let mut found: Vec<String> = Vec::new();
        let mut bad = |m: String| found.push(m);
        if stored_hash.is_some_and(|h| h != hash) {
            bad("its record does not match its stored hash".into());
        }
        let (want_seq, want_prev) = match &self.prev {
            Some((q, h, _)) => (q + 1, h.clone()),
            None if self.mid_chain => (s.seq, s.prev.clone()),
            None => (1, GENESIS.to_string()),
        };
        if s.seq != want_seq || s.prev != want_prev {
            bad(format!("breaks the chain of time stamps (expected #{want_seq} after {want_prev})"));
        }
        if sha256_hex(reply) != s.reply_sha256 {
            bad("its token (.tsr) is not the one recorded (SHA-256 differs)".into());
        }
        let gen = s.gen_time_utc();
        for m in token_problems(&s, reply, gen, self.trust)
            .into_iter()
            .chain(chain_problems(&s, gen, chain))
        {
            bad(m);
        }
        if let (Some(g), Some((_, _, before))) = (gen, &self.prev) {
            if g < *before {
                bad(format!(
                    "its time {} is before the previous stamp's {}",
                    s.gen_time,
                    utc_text(*before)
                ));
            }
        }
        self.problems
            .extend(found.into_iter().map(|m| format!("time stamp #{}: {m}", s.seq)));
        self.checked += 1;
        self.prev = Some((s.seq, hash, gen.unwrap_or(DateTime::<Utc>::MIN_UTC)));
    }
}

/// The token itself: readable, over the stamped hash, at the recorded time,
/// signed by a TSA the trust anchors accept.
fn token_problems(s: &Stamp, reply: &[u8], gen: Option<DateTime<Utc>>, trust: &Trust) -> Vec<String> {
    let digest = hex::decode(&s.chain_hash).unwrap_or_default();
    let info = match tsp::token_of(reply).and_then(tsp::read_token) {
        Ok(i) => i,
        Err(e) => return vec![e.to_string()],
    };
    let mut out = Vec::new();
    if info.imprint != digest {
        out.push(format!("its token stamps another digest than record #{}'s hash", s.chain_seq));
    }
    if Some(info.gen_time) != gen {
        out.push(format!(
            "its recorded time {} is not the token's {}",
            s.gen_time,
            utc_text(info.gen_time)
        ));
    }
    if let Err(e) = tsp_verify::verify_reply(reply, &s.chain_hash, trust) {
        out.push(e.to_string());
    }
    out
}

/// The stamped record exists with that hash, and was received before the stamp.
fn chain_problems(s: &Stamp, gen: Option<DateTime<Utc>>, chain: &dyn ChainView) -> Vec<String> {
    let Some((hash, at)) = chain.record(s.chain_seq) else {
        return vec![];
    };
    let mut out = Vec::new();
    if hash != s.chain_hash {
        out.push(format!("stamps a hash record #{} does not have", s.chain_seq));
    }
    if let (Some(at), Some(g)) = (at, gen) {
        if at > g + chrono::Duration::seconds(1) {
            out.push(format!(
                "record #{} is dated {} but was stamped earlier, at {}",
                s.chain_seq,
                utc_text(at),
                s.gen_time
            ));
        }
    }
    out
}

/// The evidence chain as the store holds it.
pub struct StoreChain<'a>(pub &'a rusqlite::Connection);

impl ChainView for StoreChain<'_> {
    fn record(&self, seq: u64) -> Option<(String, Option<DateTime<Utc>>)> {
        let rows = crate::store::evidence::headers_between(self.0, seq as i64, seq as i64).ok()?;
        rows.into_iter().next().map(|r| (r.hash, Some(r.received_at)))
    }
}

/// The outcome of checking the time-stamp register.
#[derive(Debug, Clone, Default)]
pub struct StampVerdict {
    pub checked: u64,
    /// The last token: (seq, TSA time, stamped record).
    pub last: Option<(u64, String, u64)>,
    pub problems: Vec<String>,
}

/// Check every token of the store's register against the store's chain.
pub fn verify_store(conn: &rusqlite::Connection, trust: &Trust) -> Result<StampVerdict, EvidenceError> {
    let mut w = StampWalker::new(trust);
    let mut last = None;
    for row in crate::store::timestamps::all(conn)? {
        w.stamp(&row.record, Some(&row.hash), &row.reply, &StoreChain(conn));
        last = Stamp::parse(&row.record).ok().map(|s| (s.seq, s.gen_time, s.chain_seq));
    }
    Ok(StampVerdict {
        checked: w.checked,
        last,
        problems: w.problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_chains_records() {
        let info = TokenInfo {
            gen_time: DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            imprint: vec![1; 32],
            nonce: None,
            serial: "01".into(),
        };
        let mut a = Stamp::new((3, &"01".repeat(32)), "http://tsa.example", &info, b"reply");
        let (text, hash) = a.seal(None).expect("seal");
        assert_eq!((a.seq, a.prev.as_str()), (1, GENESIS));
        assert!(text.starts_with("{\"format\":\"vigie-timestamp/1\",\"seq\":1,"), "{text}");
        let mut b = a.clone();
        b.seal(Some((1, &hash))).expect("seal");
        assert_eq!((b.seq, b.prev.as_str()), (2, hash.as_str()));
        assert_eq!(Stamp::parse(&text).expect("parse"), a);
    }
}
