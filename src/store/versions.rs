//! The versions of each probe that ran: one row per distinct compiled
//! probe (by hash), with its description in words and when it was first
//! seen; each run names its version (`runs.version_id`). Reports describe
//! what ran during their period, not the configuration at report time.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{from_ms, to_ms, Result};

/// The `probe_versions` row for `(probe, hash)`, created on first sight.
pub fn register(conn: &Connection, probe: &str, hash: &str, description: &str, now: DateTime<Utc>) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO probe_versions (probe, hash, first_seen_ms, description) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (probe, hash) DO NOTHING",
    )?
    .execute(params![probe, hash, to_ms(now), description])?;
    Ok(conn
        .prepare_cached("SELECT id FROM probe_versions WHERE probe = ?1 AND hash = ?2")?
        .query_row(params![probe, hash], |r| r.get(0))?)
}

/// One version of a probe as it ran in a period.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionUse {
    pub id: i64,
    pub hash: String,
    pub first_seen: DateTime<Utc>,
    pub description: String,
    /// The first and last run under this version inside the period.
    pub first_run: DateTime<Utc>,
    pub last_run: DateTime<Utc>,
    pub runs: u64,
}

/// The versions of `probe` its raw runs in `[from, to)` ran under, in the
/// order they were first used. Runs recorded before versions were kept
/// (NULL `version_id`) are left out.
pub fn used_between(conn: &Connection, probe: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<VersionUse>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.id, v.hash, v.first_seen_ms, v.description, MIN(r.started_at_ms), MAX(r.started_at_ms), COUNT(*)
         FROM runs r JOIN probe_versions v ON v.id = r.version_id
         WHERE r.probe = ?1 AND r.started_at_ms >= ?2 AND r.started_at_ms < ?3
         GROUP BY v.id ORDER BY MIN(r.started_at_ms)",
    )?;
    let rows = stmt.query_map(params![probe, to_ms(from), to_ms(to)], |r| {
        Ok(VersionUse {
            id: r.get(0)?,
            hash: r.get(1)?,
            first_seen: from_ms(r.get(2)?),
            description: r.get(3)?,
            first_run: from_ms(r.get(4)?),
            last_run: from_ms(r.get(5)?),
            runs: r.get::<_, i64>(6)?.max(0) as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The description of one version, by id.
pub fn description(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT description FROM probe_versions WHERE id = ?1", [id], |r| r.get(0))
        .optional()?)
}
