//! The evidence register's rows: appended by the history writer in the same
//! transaction as their run, read by `vigie verify` and exports. The chain
//! itself (canonical records, hashes) is `crate::evidence`; this module only
//! moves rows.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{from_ms, to_ms, Result};

/// A row of the `evidence` table.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRow {
    pub seq: i64,
    pub probe: String,
    pub kind: String,
    pub received_at: DateTime<Utc>,
    pub run_id: Option<i64>,
    /// The canonical record (what is hashed).
    pub record: String,
    /// The page, gzip-compressed.
    pub body: Vec<u8>,
    /// The screenshot (PNG), for browser probes.
    pub screenshot: Option<Vec<u8>>,
    pub hash: String,
}

pub fn insert(conn: &Connection, row: &EvidenceRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO evidence (seq, probe, kind, received_at_ms, run_id, record, body, hash, screenshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        row.seq,
        row.probe,
        row.kind,
        to_ms(row.received_at),
        row.run_id,
        row.record,
        row.body,
        row.hash,
        row.screenshot
    ])?;
    Ok(())
}

/// The last record: its position and hash.
pub fn head(conn: &Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row("SELECT seq, hash FROM evidence ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// (probe, kind, time, canonical record).
pub type LastKept = (String, String, DateTime<Utc>, String);

/// The most recent record of each probe and kind.
pub fn last_per_probe_and_kind(conn: &Connection) -> Result<Vec<LastKept>> {
    let mut stmt = conn.prepare(
        "SELECT e.probe, e.kind, e.received_at_ms, e.record FROM evidence e
         JOIN (SELECT MAX(seq) AS seq FROM evidence GROUP BY probe, kind) last ON last.seq = e.seq",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, from_ms(r.get(2)?), r.get(3)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

const COLUMNS: &str = "seq, probe, kind, received_at_ms, run_id, record, body, hash, screenshot";

fn from_row(r: &Row) -> rusqlite::Result<EvidenceRow> {
    Ok(EvidenceRow {
        seq: r.get(0)?,
        probe: r.get(1)?,
        kind: r.get(2)?,
        received_at: from_ms(r.get(3)?),
        run_id: r.get(4)?,
        record: r.get(5)?,
        body: r.get(6)?,
        hash: r.get(7)?,
        screenshot: r.get(8)?,
    })
}

/// Every row from `from_seq` on, in chain order, one at a time (a register
/// of years does not fit in memory with its pages).
pub fn for_each(conn: &Connection, from_seq: i64, mut f: impl FnMut(EvidenceRow) -> ControlFlow<()>) -> Result<()> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM evidence WHERE seq >= ?1 ORDER BY seq"))?;
    let mut rows = stmt.query([from_seq])?;
    while let Some(r) = rows.next()? {
        if f(from_row(r)?).is_break() {
            break;
        }
    }
    Ok(())
}

/// Rows in `[from_seq, to_seq]` without their bodies (body left empty).
pub fn headers_between(conn: &Connection, from_seq: i64, to_seq: i64) -> Result<Vec<EvidenceRow>> {
    let mut stmt = conn.prepare(
        "SELECT seq, probe, kind, received_at_ms, run_id, record, X'', hash, NULL FROM evidence
         WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![from_seq, to_seq], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Positions of the records received in `[from, to)`, optionally of some probes.
pub fn seqs_between(conn: &Connection, from: DateTime<Utc>, to: DateTime<Utc>, probes: Option<&[String]>) -> Result<Vec<(i64, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, probe FROM evidence WHERE received_at_ms >= ?1 AND received_at_ms < ?2 ORDER BY seq")?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to)], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, probe) = row?;
        if probes.is_none_or(|ps| ps.contains(&probe)) {
            out.push((seq, probe));
        }
    }
    Ok(out)
}

pub fn get(conn: &Connection, seq: i64) -> Result<Option<EvidenceRow>> {
    Ok(conn
        .query_row(&format!("SELECT {COLUMNS} FROM evidence WHERE seq = ?1"), [seq], from_row)
        .optional()?)
}

/// Count and distinct Paris days of the records received in `[from, to)`,
/// of the given probes (all when None).
pub fn count_between(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    probes: Option<&[String]>,
) -> Result<(u64, Vec<chrono::NaiveDate>)> {
    let mut stmt = conn.prepare_cached("SELECT probe, received_at_ms FROM evidence WHERE received_at_ms >= ?1 AND received_at_ms < ?2")?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut n = 0;
    let mut days = std::collections::BTreeSet::new();
    for row in rows {
        let (probe, ms) = row?;
        if probes.is_none_or(|ps| ps.contains(&probe)) {
            n += 1;
            days.insert(from_ms(ms).with_timezone(&chrono_tz::Europe::Paris).date_naive());
        }
    }
    Ok((n, days.into_iter().collect()))
}

/// The records of `probe` received in `[from, to)`, oldest first, at most
/// `limit`: (seq, received at).
pub fn of_probe_between(
    conn: &Connection,
    probe: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<(i64, DateTime<Utc>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, received_at_ms FROM evidence WHERE probe = ?1 AND received_at_ms >= ?2 AND received_at_ms < ?3
         ORDER BY received_at_ms, seq LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![probe, to_ms(from), to_ms(to), limit], |r| {
        Ok((r.get::<_, i64>(0)?, from_ms(r.get(1)?)))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
