//! The stretches each probe was watched (`observed` table), kept by the
//! writer as runs arrive, and the probe versions used per hour
//! (`rollup_versions`): what reports read instead of every raw run of the
//! period. The stretches are the union of the runs' observed spans as
//! `store::observed` defines them, so both give the same figures.
//!
//! A run normally arrives after its probe's previous one: it cuts the last
//! stretch at its scheduled time (a run's span ends at the next run) and,
//! unless it observed nothing, extends it (or opens a new stretch after a
//! gap) to its own potential end. A run that arrives out of order makes the
//! probe's stretches from that point be recomputed from raw runs.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::observed::{from_ticks, Tick};
use super::{dict, to_ms, Result};

const HOUR_MS: i64 = 3_600_000;

const TICK_SELECT: &str = "SELECT COALESCE(r.started_at_ms - r.sched_ms, r.started_at_ms), r.started_at_ms, r.interval_ms,
    o.text != 'unobserved', r.maintenance_id IS NOT NULL, r.id
    FROM run_log r JOIN texts o ON o.id = r.outcome_id";

fn tick(r: &rusqlite::Row) -> rusqlite::Result<Tick> {
    Ok(Tick {
        at: r.get(0)?,
        started_at: r.get(1)?,
        interval_ms: r.get(2)?,
        observed: r.get(3)?,
        maintenance: r.get(4)?,
    })
}

/// Account for run `run_id` (already written) of probe `probe_id`.
pub fn record(conn: &Connection, probe_id: i64, run_id: i64, t: Tick) -> Result<()> {
    let later: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM run_log WHERE probe_id = ?1 AND (started_at_ms > ?2 OR (started_at_ms = ?2 AND id > ?3)))",
        )?
        .query_row(params![probe_id, t.started_at, run_id], |r| r.get(0))?;
    if later {
        return rebuild(conn, probe_id, t.at);
    }
    let prev: Option<Tick> = conn
        .prepare_cached(&format!(
            "{TICK_SELECT} WHERE r.probe_id = ?1 AND (r.started_at_ms < ?2 OR (r.started_at_ms = ?2 AND r.id < ?3))
             ORDER BY r.started_at_ms DESC, r.id DESC LIMIT 1"
        ))?
        .query_row(params![probe_id, t.started_at, run_id], tick)
        .optional()?;
    if prev.is_some_and(|p| t.interval_ms.is_none() || p.interval_ms.is_none()) {
        // Runs without an interval count the shortest gap between runs.
        return rebuild(conn, probe_id, t.at);
    }
    let mut last = last_stretch(conn, probe_id)?;
    if let (Some(p), Some((from, to))) = (prev, last) {
        let cut = to.min(t.at.max(p.at));
        if cut < to {
            set_end(conn, probe_id, from, cut)?;
            last = Some((from, cut));
        }
    }
    let end = t.at + t.interval_ms.unwrap_or(0).max(0);
    if !t.observed || end <= t.at {
        return Ok(());
    }
    match last {
        Some((from, to)) if to >= t.at => set_end(conn, probe_id, from, to.max(end)),
        _ => {
            conn.prepare_cached("INSERT OR REPLACE INTO observed (probe_id, from_ms, to_ms) VALUES (?1, ?2, ?3)")?
                .execute(params![probe_id, t.at, end])?;
            Ok(())
        }
    }
}

fn last_stretch(conn: &Connection, probe_id: i64) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached("SELECT from_ms, to_ms FROM observed WHERE probe_id = ?1 ORDER BY from_ms DESC LIMIT 1")?
        .query_row([probe_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

fn set_end(conn: &Connection, probe_id: i64, from: i64, to: i64) -> Result<()> {
    if to <= from {
        conn.prepare_cached("DELETE FROM observed WHERE probe_id = ?1 AND from_ms = ?2")?
            .execute(params![probe_id, from])?;
    } else {
        conn.prepare_cached("UPDATE observed SET to_ms = ?3 WHERE probe_id = ?1 AND from_ms = ?2")?
            .execute(params![probe_id, from, to])?;
    }
    Ok(())
}

/// Recompute the probe's stretches from `from` on, from its raw runs (the
/// V7 conversion does it for each probe's whole history).
pub fn rebuild(conn: &Connection, probe_id: i64, from: i64) -> Result<()> {
    let first_touched: Option<i64> = conn
        .prepare_cached("SELECT MIN(from_ms) FROM observed WHERE probe_id = ?1 AND to_ms >= ?2")?
        .query_row(params![probe_id, from], |r| r.get(0))?;
    let start = first_touched.map_or(from, |f| f.min(from));
    conn.prepare_cached("DELETE FROM observed WHERE probe_id = ?1 AND from_ms >= ?2")?
        .execute(params![probe_id, start])?;
    let ticks: Vec<Tick> = {
        let mut stmt = conn.prepare_cached(&format!(
            "{TICK_SELECT} WHERE r.probe_id = ?1 AND r.started_at_ms >= ?2 ORDER BY r.started_at_ms, r.id"
        ))?;
        let rows = stmt.query_map(params![probe_id, start], tick)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for s in from_ticks(&ticks, None, i64::MAX) {
        match merged.last_mut() {
            Some(last) if s.from <= last.1 => last.1 = last.1.max(s.to),
            _ => merged.push((s.from, s.to)),
        }
    }
    let mut put = conn.prepare_cached("INSERT OR REPLACE INTO observed (probe_id, from_ms, to_ms) VALUES (?1, ?2, ?3)")?;
    for (a, b) in merged {
        put.execute(params![probe_id, a, b])?;
    }
    Ok(())
}

/// Count a run of `version` that started at `started` (UTC ms).
pub fn record_version(conn: &Connection, probe_id: i64, version: i64, started: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO rollup_versions (probe_id, hour_ms, version_id, runs, first_ms, last_ms) VALUES (?1, ?2, ?3, 1, ?4, ?4)
         ON CONFLICT (probe_id, hour_ms, version_id) DO UPDATE SET runs = runs + 1,
            first_ms = MIN(first_ms, excluded.first_ms), last_ms = MAX(last_ms, excluded.last_ms)",
    )?
    .execute(params![probe_id, started.div_euclid(HOUR_MS) * HOUR_MS, version, started])?;
    Ok(())
}

/// The probe's watched stretches inside `[from, min(to, now))`, merged.
pub fn spans(conn: &Connection, probe: &str, from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<(i64, i64)>> {
    let Some(id) = dict::find_probe(conn, probe)? else {
        return Ok(Vec::new());
    };
    let (from, end) = (to_ms(from), to_ms(to).min(to_ms(now)));
    // The stretch before `from` may reach into the window.
    let start: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(from_ms), ?2) FROM observed WHERE probe_id = ?1 AND from_ms < ?2")?
        .query_row(params![id, from], |r| r.get(0))?;
    let mut stmt =
        conn.prepare_cached("SELECT from_ms, to_ms FROM observed WHERE probe_id = ?1 AND from_ms >= ?2 AND from_ms < ?3 ORDER BY from_ms")?;
    let rows = stmt.query_map(params![id, start, end], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out: Vec<(i64, i64)> = Vec::new();
    for row in rows {
        let (a, b) = row?;
        let (a, b) = (a.max(from), b.min(end));
        if b <= a {
            continue;
        }
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    Ok(out)
}

/// The versions the probe's runs used in the hours of `[from, to)`:
/// `(version id, first run, last run, runs)`, in order of first use.
pub fn versions(conn: &Connection, probe: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<(i64, i64, i64, u64)>> {
    let Some(id) = dict::find_probe(conn, probe)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT version_id, MIN(first_ms), MAX(last_ms), SUM(runs) FROM rollup_versions
         WHERE probe_id = ?1 AND hour_ms >= ?2 AND hour_ms < ?3 GROUP BY version_id ORDER BY 2",
    )?;
    let rows = stmt.query_map(params![id, to_ms(from), to_ms(to)], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?.max(0) as u64))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
