//! Rows of the time-stamp register (`evidence_timestamps`): RFC 3161 tokens
//! over the evidence chain's head, appended by the stamper, read by
//! `vigie verify` and exports. What the records mean is
//! `crate::evidence::timestamps`; this module only moves rows.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{from_ms, to_ms, Result};

/// A row of `evidence_timestamps`.
#[derive(Debug, Clone, PartialEq)]
pub struct StampRow {
    pub seq: i64,
    pub gen_time: DateTime<Utc>,
    /// The position of the evidence record whose hash was stamped.
    pub chain_seq: i64,
    /// The canonical record (what is hashed).
    pub record: String,
    /// The TSA's reply, DER, as received.
    pub reply: Vec<u8>,
    pub hash: String,
}

pub fn insert(conn: &Connection, row: &StampRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO evidence_timestamps (seq, gen_time_ms, chain_seq, record, reply, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        row.seq,
        to_ms(row.gen_time),
        row.chain_seq,
        row.record,
        row.reply,
        row.hash
    ])?;
    Ok(())
}

fn from_row(r: &Row) -> rusqlite::Result<StampRow> {
    Ok(StampRow {
        seq: r.get(0)?,
        gen_time: from_ms(r.get(1)?),
        chain_seq: r.get(2)?,
        record: r.get(3)?,
        reply: r.get(4)?,
        hash: r.get(5)?,
    })
}

const COLUMNS: &str = "seq, gen_time_ms, chain_seq, record, reply, hash";

/// The last token: its position, hash and time.
pub fn last(conn: &Connection) -> Result<Option<StampRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM evidence_timestamps ORDER BY seq DESC LIMIT 1"),
            [],
            from_row,
        )
        .optional()?)
}

/// Every token, in order (a token is a few kilobytes; one an hour is
/// under 100 MB over ten years).
pub fn all(conn: &Connection) -> Result<Vec<StampRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM evidence_timestamps ORDER BY seq"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
