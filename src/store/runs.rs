//! Runs, steps and observations: written once per probe run, read by e-mails,
//! rollups and reports. Nothing secret reaches here: URLs and messages were
//! redacted by the runner, and request bodies, cookies and extracted values
//! are not stored at all.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{from_ms, to_ms, Result};
use crate::probe::result::CheckResult;
use crate::probe::{Hop, Outcome, Probe, Reason, RunResult, StepStatus};

/// Characters of page text kept for failing and no-slot steps.
pub const EXCERPT_CHARS: usize = 400;

/// The stretch a scheduled run observes: from its scheduled time to the
/// schedule's next time (None for a run outside the schedule, `vigie once`).
pub fn interval_s(probe: &Probe, r: &RunResult) -> Option<f64> {
    let d = probe.schedule.interval_after(r.scheduled_at?)?;
    Some(d.num_milliseconds() as f64 / 1000.0)
}

/// Record one run with its steps and observations; returns its id.
/// `version` is the `probe_versions` row of the compiled probe it ran
/// under (`store::versions`).
pub fn insert_run(
    conn: &Connection,
    probe: &Probe,
    location: &str,
    r: &RunResult,
    maintenance: Option<&str>,
    version: Option<i64>,
) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO runs (probe, procedure, site, target, location, scheduled_at_ms, started_at_ms, duration_s,
            politeness_wait_s, outcome, reason, failed_step, message, captcha_step, last_http_status, maintenance,
            version_id, interval_s)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    stmt.execute(params![
        r.probe,
        probe.labels.procedure,
        probe.labels.site,
        probe.target.name,
        location,
        r.scheduled_at.map(to_ms),
        to_ms(r.started_at),
        r.duration.as_secs_f64(),
        r.politeness_wait.as_secs_f64(),
        r.outcome.as_str(),
        r.reason.map(|x| x.as_str()),
        r.failed_step,
        r.message,
        r.captcha_step,
        r.last_http_status(),
        maintenance,
        version,
        interval_s(probe, r),
    ])?;
    let run_id = conn.last_insert_rowid();
    let mut step_stmt = conn.prepare_cached(
        "INSERT INTO steps (run_id, idx, name, status, reason, message, method, url, http_status, http_version,
            duration_s, time_to_headers_s, response_bytes, redirects, checks, tls_not_after_ms, excerpt, chain)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    let mut obs_stmt = conn.prepare_cached("INSERT INTO observations (run_id, step_idx, name, value) VALUES (?1, ?2, ?3, ?4)")?;
    for (i, s) in r.steps.iter().enumerate() {
        step_stmt.execute(params![
            run_id,
            i as i64,
            s.name,
            step_status_str(s.status),
            s.reason.map(|x| x.as_str()),
            s.message,
            s.method,
            s.url,
            s.http_status,
            s.http_version,
            s.duration.as_secs_f64(),
            s.time_to_headers.as_secs_f64(),
            i64::try_from(s.response_bytes).unwrap_or(i64::MAX),
            s.redirects,
            serde_json::to_string(&s.checks)?,
            s.tls_not_after.map(to_ms),
            s.capture.as_ref().map(|c| c.text_excerpt(EXCERPT_CHARS)),
            chain_json(&s.chain)?,
        ])?;
        for (name, value) in &s.observations {
            if value.is_finite() {
                obs_stmt.execute(params![run_id, i as i64, name, value])?;
            }
        }
    }
    Ok(run_id)
}

/// The chain as stored: NULL for a single request (the common case costs
/// nothing), else a JSON list of `[method, url, status]`.
fn chain_json(chain: &[Hop]) -> Result<Option<String>> {
    if chain.len() < 2 {
        return Ok(None);
    }
    let rows: Vec<(&str, &str, Option<u16>)> = chain.iter().map(|h| (h.method.as_str(), h.url.as_str(), h.status)).collect();
    Ok(Some(serde_json::to_string(&rows)?))
}

fn chain_from_json(text: Option<String>) -> Vec<Hop> {
    let rows: Vec<(String, String, Option<u16>)> = text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    rows.into_iter().map(|(method, url, status)| Hop { method, url, status }).collect()
}

pub fn step_status_str(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Passed => "passed",
        StepStatus::Failed => "failed",
        StepStatus::NoCapacity => "no_capacity",
        StepStatus::Captcha => "captcha",
        StepStatus::Skipped => "skipped",
    }
}

/// A stored run, without its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRun {
    pub id: i64,
    pub probe: String,
    pub procedure: String,
    pub site: String,
    pub target: String,
    pub location: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub duration_s: f64,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    pub failed_step: Option<String>,
    pub message: Option<String>,
    pub captcha_step: Option<String>,
    pub last_http_status: Option<u16>,
    /// The maintenance window the run fell in.
    pub maintenance: Option<String>,
}

const RUN_COLUMNS: &str = "id, probe, procedure, site, target, location, scheduled_at_ms, started_at_ms, duration_s, outcome, reason,
    failed_step, message, captcha_step, last_http_status, maintenance";

fn run_from_row(row: &Row) -> rusqlite::Result<StoredRun> {
    let outcome: String = row.get(9)?;
    let reason: Option<String> = row.get(10)?;
    Ok(StoredRun {
        id: row.get(0)?,
        probe: row.get(1)?,
        procedure: row.get(2)?,
        site: row.get(3)?,
        target: row.get(4)?,
        location: row.get(5)?,
        scheduled_at: row.get::<_, Option<i64>>(6)?.map(from_ms),
        started_at: from_ms(row.get(7)?),
        duration_s: row.get(8)?,
        // Written by this module from the same enums; an unknown name can only
        // come from a newer schema, which `migrate` refuses.
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Broken),
        reason: reason.as_deref().and_then(Reason::parse),
        failed_step: row.get(11)?,
        message: row.get(12)?,
        captcha_step: row.get(13)?,
        last_http_status: row.get(14)?,
        maintenance: row.get(15)?,
    })
}

/// Runs that started in `[from, to)`, oldest first; all probes when `probe` is None.
pub fn runs_between(conn: &Connection, probe: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<StoredRun>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE started_at_ms >= ?1 AND started_at_ms < ?2 AND (?3 IS NULL OR probe = ?3)
         ORDER BY started_at_ms, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to), probe], run_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn run(conn: &Connection, id: i64) -> Result<Option<StoredRun>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], run_from_row).optional()?)
}

/// A stored step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredStep {
    pub idx: u32,
    pub name: String,
    pub status: String,
    pub reason: Option<Reason>,
    pub message: Option<String>,
    pub method: String,
    pub url: Option<String>,
    pub http_status: Option<u16>,
    pub duration_s: f64,
    pub checks: Vec<(String, bool)>,
    pub excerpt: Option<String>,
    /// The requests sent when a redirect was followed (empty otherwise).
    pub chain: Vec<Hop>,
}

pub fn steps(conn: &Connection, run_id: i64) -> Result<Vec<StoredStep>> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, name, status, reason, message, method, url, http_status, duration_s, checks, excerpt, chain
         FROM steps WHERE run_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map([run_id], |row| {
        let reason: Option<String> = row.get(3)?;
        let checks: String = row.get(9)?;
        let checks: Vec<CheckResult> = serde_json::from_str(&checks).unwrap_or_default();
        Ok(StoredStep {
            idx: row.get(0)?,
            name: row.get(1)?,
            status: row.get(2)?,
            reason: reason.as_deref().and_then(Reason::parse),
            message: row.get(4)?,
            method: row.get(5)?,
            url: row.get(6)?,
            http_status: row.get(7)?,
            duration_s: row.get(8)?,
            checks: checks.into_iter().map(|c| (c.description, c.passed)).collect(),
            excerpt: row.get(10)?,
            chain: chain_from_json(row.get(11)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Observations of a run: (step index, name, value).
pub fn observations(conn: &Connection, run_id: i64) -> Result<Vec<(u32, String, f64)>> {
    let mut stmt = conn.prepare_cached("SELECT step_idx, name, value FROM observations WHERE run_id = ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
