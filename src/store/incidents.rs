//! Incidents (outages, kept forever) and the outage state machine's state
//! per probe. Written by the history writer in the same transaction as the
//! run that changed them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use serde::Serialize;

use super::{from_ms, to_ms, Result};
use crate::alert::machine::{Closed, Outage, ProbeState};
use crate::probe::{Outcome, Probe, Reason};

/// Every probe's saved state. A state that no longer parses (it cannot,
/// short of manual edits) is reported and restarted from scratch.
pub fn load_states(conn: &Connection) -> Result<HashMap<String, ProbeState>> {
    let mut stmt = conn.prepare("SELECT probe, state FROM alert_state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (probe, json) = row?;
        match serde_json::from_str::<ProbeState>(&json) {
            Ok(s) => {
                out.insert(probe, s);
            }
            Err(e) => tracing::error!(probe, error = %e, "unreadable alert state in the store: starting this probe from a clean state"),
        }
    }
    Ok(out)
}

pub fn save_state(conn: &Connection, probe: &str, state: &ProbeState, now: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO alert_state (probe, state, updated_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (probe) DO UPDATE SET state = excluded.state, updated_at_ms = excluded.updated_at_ms",
    )?
    .execute(params![probe, serde_json::to_string(state)?, to_ms(now)])?;
    Ok(())
}

pub fn insert_incident(conn: &Connection, probe: &Probe, o: &Outage) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO incidents (probe, procedure, site, title, started_at_ms, detected_at_ms, last_failure_at_ms, outcome,
            reason, failed_step, message, last_http_status, failing_runs, began_in_maintenance_at_ms, opening_run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        probe.name,
        probe.labels.procedure,
        probe.labels.site,
        probe.title,
        to_ms(o.started_at),
        to_ms(o.detected_at),
        to_ms(o.last_failure_at),
        o.cause.outcome.as_str(),
        o.cause.reason.map(|r| r.as_str()),
        o.cause.failed_step,
        o.cause.message,
        o.cause.last_http_status,
        o.failing_runs,
        o.began_in_maintenance_at.map(to_ms),
        o.cause.run_id,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Keep an open incident's running facts current.
pub fn update_incident(conn: &Connection, id: i64, o: &Outage) -> Result<()> {
    conn.prepare_cached(
        "UPDATE incidents SET last_failure_at_ms = ?2, failing_runs = ?3, unobserved_from_ms = ?4, unobserved_to_ms = ?5 WHERE id = ?1",
    )?
    .execute(params![
        id,
        to_ms(o.last_failure_at),
        o.failing_runs,
        o.unobserved.map(|(f, _)| to_ms(f)),
        o.unobserved.map(|(_, t)| to_ms(t)),
    ])?;
    Ok(())
}

pub fn close_incident(conn: &Connection, id: i64, c: &Closed) -> Result<()> {
    update_incident(conn, id, &c.outage)?;
    conn.prepare_cached("UPDATE incidents SET ended_at_ms = ?2, closed_at_ms = ?3, closing_run_id = ?4 WHERE id = ?1")?
        .execute(params![id, to_ms(c.ended_at), to_ms(c.closed_at), c.closing_run_id])?;
    Ok(())
}

/// An outage as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub probe: String,
    pub procedure: String,
    pub site: String,
    pub title: String,
    pub started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    /// None while the outage lasts.
    pub ended_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub last_failure_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    pub failed_step: Option<String>,
    pub message: Option<String>,
    pub last_http_status: Option<u16>,
    pub failing_runs: u32,
    pub began_in_maintenance_at: Option<DateTime<Utc>>,
    pub unobserved: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

const COLUMNS: &str = "id, probe, procedure, site, title, started_at_ms, detected_at_ms, ended_at_ms, closed_at_ms, last_failure_at_ms,
    outcome, reason, failed_step, message, last_http_status, failing_runs, began_in_maintenance_at_ms, unobserved_from_ms, unobserved_to_ms";

fn from_row(r: &Row) -> rusqlite::Result<Incident> {
    let outcome: String = r.get(10)?;
    let reason: Option<String> = r.get(11)?;
    let unobserved = match (r.get::<_, Option<i64>>(17)?, r.get::<_, Option<i64>>(18)?) {
        (Some(f), Some(t)) => Some((from_ms(f), from_ms(t))),
        _ => None,
    };
    Ok(Incident {
        id: r.get(0)?,
        probe: r.get(1)?,
        procedure: r.get(2)?,
        site: r.get(3)?,
        title: r.get(4)?,
        started_at: from_ms(r.get(5)?),
        detected_at: from_ms(r.get(6)?),
        ended_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
        closed_at: r.get::<_, Option<i64>>(8)?.map(from_ms),
        last_failure_at: from_ms(r.get(9)?),
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Broken),
        reason: reason.as_deref().and_then(Reason::parse),
        failed_step: r.get(12)?,
        message: r.get(13)?,
        last_http_status: r.get(14)?,
        failing_runs: r.get(15)?,
        began_in_maintenance_at: r.get::<_, Option<i64>>(16)?.map(from_ms),
        unobserved,
    })
}

/// Incidents overlapping `[from, to)` (open ones included), oldest first.
pub fn incidents_between(conn: &Connection, probe: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE started_at_ms < ?2 AND (ended_at_ms IS NULL OR ended_at_ms >= ?1) AND (?3 IS NULL OR probe = ?3)
         ORDER BY started_at_ms, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to), probe], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Outages still in progress.
pub fn open_incidents(conn: &Connection) -> Result<Vec<Incident>> {
    let sql = format!("SELECT {COLUMNS} FROM incidents WHERE closed_at_ms IS NULL ORDER BY started_at_ms, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
