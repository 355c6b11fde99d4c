//! Runs, steps and observations: written once per probe run, read by e-mails,
//! rollups and reports, in the compact layout of schema V7 (`schema.rs`). Nothing secret reaches here: URLs and messages were
//! redacted by the runner, and request bodies, cookies and extracted values
//! are not stored at all.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::observed::Tick;
use super::{codec, dict, from_ms, stretches, to_ms, Result};
use crate::probe::result::{CheckResult, Phase, StepResult};
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
/// under (`store::versions`). Keeps the probe's observed stretches and
/// version hours up to date in the same transaction.
pub fn insert_run(
    conn: &Connection,
    probe: &Probe,
    location: &str,
    r: &RunResult,
    maintenance: Option<&str>,
    version: Option<i64>,
) -> Result<i64> {
    let probe_id = dict::probe_id(conn, &r.probe)?;
    let started = to_ms(r.started_at);
    let interval_ms = interval_s(probe, r).map(|s| (s * 1000.0).round() as i64);
    let at = r.scheduled_at.map(to_ms).unwrap_or(started);
    let tick = Tick {
        at,
        started_at: started,
        interval_ms,
        observed: r.outcome != Outcome::Unobserved,
        maintenance: maintenance.is_some(),
    };
    if let Some(v) = version {
        stretches::record_version(conn, probe_id, v, started)?;
    }
    let mut records = Vec::with_capacity(r.steps.len());
    for s in &r.steps {
        records.push(step_record(conn, s)?);
    }
    let row = NewRun {
        probe_id,
        started_at_ms: started,
        sched_ms: r.scheduled_at.map(|t| started - to_ms(t)),
        duration_ms: r.duration.as_millis() as i64,
        wait_ms: r.politeness_wait.as_millis() as i64,
        outcome: r.outcome.as_str(),
        reason: r.reason.map(|x| x.as_str()),
        failed_step: r.failed_step.as_deref(),
        captcha_step: r.captcha_step.as_deref(),
        last_http_status: r.last_http_status(),
        maintenance,
        version_id: version,
        interval_ms,
        labels_id: dict::labels_id(conn, &probe.labels.procedure, &probe.labels.site, &probe.target.name, location)?,
        message: r.message.as_deref(),
        steps: codec::encode(&records),
    };
    let run_id = insert_row(conn, None, &row)?;
    stretches::record(conn, probe_id, run_id, tick)?;
    for (i, s) in r.steps.iter().enumerate() {
        let excerpt = s.capture.as_ref().map(|c| c.text_excerpt(EXCERPT_CHARS));
        put_details(
            conn,
            run_id,
            i,
            s.reason.map(|x| x.as_str()),
            s.message.as_deref(),
            excerpt.as_deref(),
            chain_json(&s.chain)?.as_deref(),
        )?;
        for (name, value) in &s.observations {
            if value.is_finite() {
                put_value(conn, run_id, i, name, *value)?;
            }
        }
    }
    Ok(run_id)
}

/// A `run_log` row about to be written (also by the V7 conversion and the
/// benchmark).
pub struct NewRun<'a> {
    pub probe_id: i64,
    pub started_at_ms: i64,
    pub sched_ms: Option<i64>,
    pub duration_ms: i64,
    pub wait_ms: i64,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub failed_step: Option<&'a str>,
    pub captcha_step: Option<&'a str>,
    pub last_http_status: Option<u16>,
    pub maintenance: Option<&'a str>,
    pub version_id: Option<i64>,
    pub interval_ms: Option<i64>,
    pub labels_id: i64,
    pub message: Option<&'a str>,
    pub steps: Vec<u8>,
}

/// Write a run row (with the given id, or a new one); returns its id.
pub fn insert_row(conn: &Connection, id: Option<i64>, r: &NewRun) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO run_log (id, probe_id, started_at_ms, sched_ms, duration_ms, wait_ms, outcome_id, reason_id, failed_step_id,
            captcha_step_id, last_http_status, maintenance_id, version_id, interval_ms, labels_id, message, steps)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    stmt.execute(params![
        id,
        r.probe_id,
        r.started_at_ms,
        r.sched_ms,
        r.duration_ms,
        r.wait_ms,
        dict::text_id(conn, r.outcome)?,
        dict::opt_text_id(conn, r.reason)?,
        dict::opt_text_id(conn, r.failed_step)?,
        dict::opt_text_id(conn, r.captcha_step)?,
        r.last_http_status,
        dict::opt_text_id(conn, r.maintenance)?,
        r.version_id,
        r.interval_ms,
        r.labels_id,
        r.message,
        r.steps,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// A step's details row, written only when it has something to say.
pub fn put_details(
    conn: &Connection,
    run_id: i64,
    idx: usize,
    reason: Option<&str>,
    message: Option<&str>,
    excerpt: Option<&str>,
    chain: Option<&str>,
) -> Result<()> {
    if reason.is_none() && message.is_none() && excerpt.is_none() && chain.is_none() {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO step_details (run_id, idx, reason, message, excerpt, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![run_id, idx as i64, reason, message, excerpt, chain])?;
    Ok(())
}

pub fn put_value(conn: &Connection, run_id: i64, idx: usize, name: &str, value: f64) -> Result<()> {
    let name_id = dict::text_id(conn, name)?;
    conn.prepare_cached("INSERT OR REPLACE INTO run_values (run_id, step_idx, name_id, value) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![run_id, idx as i64, name_id, value])?;
    Ok(())
}

fn step_record(conn: &Connection, s: &StepResult) -> Result<codec::StepRecord> {
    let checks = serde_json::to_string(&s.checks)?;
    let kind = dict::step_kind(conn, &s.name, &s.method, s.url.as_deref().unwrap_or(""), &checks)?;
    let us = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    Ok(codec::StepRecord {
        kind,
        status: status_code(s.status),
        http_status: s.http_status,
        duration_us: us(s.duration),
        phases: s.phases().map(|p| Phase::ALL.map(|ph| us(p.get(ph)))),
    })
}

/// The chain as stored: NULL for a single request (the common case costs
/// nothing), else a JSON list of `[method, url, status]`.
pub fn chain_json(chain: &[Hop]) -> Result<Option<String>> {
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

const STATUSES: [StepStatus; 5] = [
    StepStatus::Passed,
    StepStatus::Failed,
    StepStatus::NoCapacity,
    StepStatus::Captcha,
    StepStatus::Skipped,
];

/// A step status's code in the blob (its place in this fixed list: append only).
pub fn status_code(s: StepStatus) -> u8 {
    STATUSES.iter().position(|x| *x == s).unwrap_or(1) as u8
}

pub fn status_of_code(c: u8) -> StepStatus {
    STATUSES.get(usize::from(c)).copied().unwrap_or(StepStatus::Failed)
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

/// From `probes` to `run_log` by the (probe, start) index: the one way a
/// time range over every probe is read.
const RUN_SELECT: &str = "SELECT r.id, p.name, l.procedure, l.site, l.target, l.location, r.started_at_ms - r.sched_ms, r.started_at_ms,
    r.duration_ms / 1000.0, o.text, re.text, fs.text, r.message, cs.text, r.last_http_status, m.text
    FROM probes p CROSS JOIN run_log r ON r.probe_id = p.id
    JOIN labels l ON l.id = r.labels_id JOIN texts o ON o.id = r.outcome_id
    LEFT JOIN texts re ON re.id = r.reason_id LEFT JOIN texts fs ON fs.id = r.failed_step_id
    LEFT JOIN texts cs ON cs.id = r.captcha_step_id LEFT JOIN texts m ON m.id = r.maintenance_id";

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
        "{RUN_SELECT} WHERE r.started_at_ms >= ?1 AND r.started_at_ms < ?2 AND (?3 IS NULL OR p.name = ?3)
         ORDER BY r.started_at_ms, r.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to), probe], run_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn run(conn: &Connection, id: i64) -> Result<Option<StoredRun>> {
    let sql = format!("{RUN_SELECT} WHERE r.id = ?1");
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
    /// The step's phases in microseconds (`Phase::ALL` order), summed over
    /// its requests; None when they were not timed.
    pub phases_us: Option<[u64; 5]>,
}

pub fn steps(conn: &Connection, run_id: i64) -> Result<Vec<StoredStep>> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached("SELECT steps FROM run_log WHERE id = ?1")?
        .query_row([run_id], |r| r.get(0))
        .optional()?;
    let mut kind = conn.prepare_cached("SELECT name, method, url, checks FROM step_kinds WHERE id = ?1")?;
    let mut details = conn.prepare_cached("SELECT reason, message, excerpt, chain FROM step_details WHERE run_id = ?1 AND idx = ?2")?;
    let mut out = Vec::new();
    for (i, rec) in codec::decode(&blob.unwrap_or_default()).into_iter().enumerate() {
        let (name, method, url, checks) = kind
            .query_row([rec.kind], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?
            .unwrap_or_default();
        type Details = (Option<String>, Option<String>, Option<String>, Option<String>);
        let (reason, message, excerpt, chain): Details = details
            .query_row(params![run_id, i as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?
            .unwrap_or_default();
        let checks: Vec<CheckResult> = serde_json::from_str(&checks).unwrap_or_default();
        out.push(StoredStep {
            idx: i as u32,
            name,
            status: step_status_str(status_of_code(rec.status)).to_string(),
            reason: reason.as_deref().and_then(Reason::parse),
            message,
            method,
            url: (!url.is_empty()).then_some(url),
            http_status: rec.http_status,
            duration_s: rec.duration_us as f64 / 1e6,
            phases_us: rec.phases,
            checks: checks.into_iter().map(|c| (c.description, c.passed)).collect(),
            excerpt,
            chain: chain_from_json(chain),
        });
    }
    Ok(out)
}

/// Observations of a run: (step index, name, value).
pub fn observations(conn: &Connection, run_id: i64) -> Result<Vec<(u32, String, f64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.step_idx, t.text, v.value FROM run_values v JOIN texts t ON t.id = v.name_id WHERE v.run_id = ?1
         ORDER BY v.step_idx, v.name_id",
    )?;
    let rows = stmt.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
