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

/// The versions named by `used` (`(id, first run, last run, runs)`, UTC
/// ms, from `store::observed::scan`), with their descriptions, in order.
pub fn described(conn: &Connection, used: &[(i64, i64, i64, u64)]) -> Result<Vec<VersionUse>> {
    let mut stmt = conn.prepare_cached("SELECT hash, first_seen_ms, description FROM probe_versions WHERE id = ?1")?;
    let mut out = Vec::new();
    for (id, first, last, runs) in used {
        let row = stmt
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
            .optional()?;
        if let Some((hash, seen, description)) = row {
            out.push(VersionUse {
                id: *id,
                hash,
                first_seen: from_ms(seen),
                description,
                first_run: from_ms(*first),
                last_run: from_ms(*last),
                runs: *runs,
            });
        }
    }
    Ok(out)
}

/// The description of one version, by id.
pub fn description(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT description FROM probe_versions WHERE id = ?1", [id], |r| r.get(0))
        .optional()?)
}
