//! Compaction: hourly rollups of closed hours, then deletion of raw runs and
//! rollups past their retention. A year of one-minute probes is ~525 000 raw
//! runs but only 8 760 rollup rows per probe, so reports over long periods
//! read rollups and stay fast.
//!
//! An hour is rolled up once it ended `SETTLE` ago (runs finishing late are
//! in by then); the two hours before the watermark are recomputed each time
//! (rows are replaced, so this is idempotent) to catch a run that the writer
//! recorded late. Raw runs are deleted only once their hour is rolled up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{aggregate, dict, from_ms, latency, to_ms, Result};

const HOUR_MS: i64 = 3_600_000;
const SETTLE_MS: i64 = 15 * 60 * 1000;
const RECOMPUTE_MS: i64 = 2 * HOUR_MS;
const DELETE_CHUNK: i64 = 5000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CompactReport {
    pub hours_rolled_up: usize,
    pub runs_deleted: usize,
    pub rollups_deleted: usize,
}

/// Roll up closed hours and apply retention.
pub fn compact(conn: &mut Connection, now: DateTime<Utc>, keep_runs: Duration, keep_rollups: Duration) -> Result<CompactReport> {
    let mut report = CompactReport::default();
    let now_ms = to_ms(now);
    let closed_until = (now_ms - SETTLE_MS).div_euclid(HOUR_MS) * HOUR_MS;
    let watermark: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'rollup_watermark_ms'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok());
    let from = watermark.map(|w| w - RECOMPUTE_MS).unwrap_or(i64::MIN);
    let hours: Vec<i64> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT (r.started_at_ms / 3600000) * 3600000 FROM probes p CROSS JOIN run_log r ON r.probe_id = p.id
             WHERE r.started_at_ms >= ?1 AND r.started_at_ms < ?2 ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![from, closed_until], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<i64>>>()?
    };
    for chunk in hours.chunks(24) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for h in chunk {
            roll_up_hour(&tx, *h)?;
            report.hours_rolled_up += 1;
        }
        tx.commit()?;
    }
    let watermark = watermark.unwrap_or(i64::MIN).max(closed_until);
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('rollup_watermark_ms', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [watermark.to_string()],
    )?;

    let runs_cutoff = (now_ms - keep_runs.as_millis() as i64).min(watermark);
    loop {
        let n = conn.execute(
            "DELETE FROM run_log WHERE id IN
                (SELECT r.id FROM probes p CROSS JOIN run_log r ON r.probe_id = p.id WHERE r.started_at_ms < ?1 LIMIT ?2)",
            params![runs_cutoff, DELETE_CHUNK],
        )?;
        report.runs_deleted += n;
        if n < DELETE_CHUNK as usize {
            break;
        }
    }
    let rollup_cutoff = now_ms - keep_rollups.as_millis().min(i64::MAX as u128) as i64;
    for table in [
        "rollup_runs",
        "rollup_failures",
        "rollup_observations",
        "rollup_timings",
        "rollup_versions",
    ] {
        report.rollups_deleted += conn.execute(&format!("DELETE FROM {table} WHERE hour_ms < ?1"), [rollup_cutoff])?;
    }
    conn.execute("DELETE FROM observed WHERE to_ms < ?1", [rollup_cutoff])?;
    Ok(report)
}

fn roll_up_hour(conn: &Connection, hour: i64) -> Result<()> {
    let h = aggregate::aggregate(conn, None, from_ms(hour), from_ms(hour + HOUR_MS))?;
    let mut put = conn.prepare_cached(
        "INSERT OR REPLACE INTO rollup_runs (hour_ms, probe_id, maintenance, procedure_id, site_id, runs, up, degraded, no_capacity,
            broken, down, unobserved, captcha, duration_sum_ms, duration_min_ms, duration_max_ms, duration_p50_ms, duration_p95_ms,
            observed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?;
    let ms = |s: f64| (s * 1000.0).round() as i64;
    for a in &h.runs {
        put.execute(params![
            hour,
            dict::probe_id(conn, &a.probe)?,
            a.maintenance,
            dict::text_id(conn, &a.procedure)?,
            dict::text_id(conn, &a.site)?,
            a.runs,
            a.up,
            a.degraded,
            a.no_capacity,
            a.broken,
            a.down,
            a.unobserved,
            a.captcha,
            ms(a.duration_sum_s),
            ms(a.duration_min_s),
            ms(a.duration_max_s),
            ms(a.duration_p50_s),
            ms(a.duration_p95_s),
            a.observed_s.map(ms),
        ])?;
    }
    for table in ["rollup_failures", "rollup_observations", "rollup_timings"] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE hour_ms = ?1"))?
            .execute([hour])?;
    }
    let mut put = conn.prepare_cached("INSERT INTO rollup_failures (probe, hour_ms, step, reason, runs) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for f in &h.failures {
        put.execute(params![f.probe, hour, f.step, f.reason, f.runs])?;
    }
    let mut put = conn.prepare_cached(
        "INSERT INTO rollup_observations (probe, hour_ms, name, count, positive, sum, min, max) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for o in &h.observations {
        put.execute(params![o.probe, hour, o.name, o.count, o.positive, o.sum, o.min, o.max])?;
    }
    latency::put_hour(conn, hour, &h.latency, &h.phases)
}

/// The end of the rolled-up hours: every hour before it has its rollups
/// (reports aggregate the hours from here on from raw runs).
pub fn watermark(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let w: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'rollup_watermark_ms'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok());
    Ok(w.map(from_ms))
}

/// One hour of one probe's runs, inside or outside maintenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRollup {
    pub probe: String,
    pub hour: DateTime<Utc>,
    pub maintenance: bool,
    pub procedure: String,
    pub site: String,
    pub runs: u32,
    pub up: u32,
    pub degraded: u32,
    pub no_capacity: u32,
    pub broken: u32,
    pub down: u32,
    /// Runs that could not observe the portal (vigie's own failure, bot
    /// protection): part of `runs`, never of availability.
    pub unobserved: u32,
    pub captcha: u32,
    pub duration_sum_s: f64,
    pub duration_min_s: f64,
    pub duration_max_s: f64,
    pub duration_p50_s: f64,
    pub duration_p95_s: f64,
    /// Seconds observed by the hour's runs (each run's span, whole, under
    /// the hour it started in: `store::observed`); None for hours rolled up
    /// before it was kept.
    pub observed_s: Option<f64>,
}

/// Rollups of hours starting in `[from, to)`, in (probe, hour,
/// maintenance) order.
pub fn run_rollups(conn: &Connection, probe: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<RunRollup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.name, r.hour_ms, r.maintenance, tp.text, ts.text, r.runs, r.up, r.degraded, r.no_capacity, r.broken, r.down,
                r.captcha, r.duration_sum_ms, r.duration_min_ms, r.duration_max_ms, r.duration_p50_ms, r.duration_p95_ms,
                r.unobserved, r.observed_ms
         FROM rollup_runs r JOIN probes p ON p.id = r.probe_id
         JOIN texts tp ON tp.id = r.procedure_id JOIN texts ts ON ts.id = r.site_id
         WHERE r.hour_ms >= ?1 AND r.hour_ms < ?2 AND (?3 IS NULL OR p.name = ?3) ORDER BY p.name, r.hour_ms, r.maintenance",
    )?;
    let s = |ms: i64| ms as f64 / 1000.0;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to), probe], |r| {
        Ok(RunRollup {
            probe: r.get(0)?,
            hour: from_ms(r.get(1)?),
            maintenance: r.get(2)?,
            procedure: r.get(3)?,
            site: r.get(4)?,
            runs: r.get(5)?,
            up: r.get(6)?,
            degraded: r.get(7)?,
            no_capacity: r.get(8)?,
            broken: r.get(9)?,
            down: r.get(10)?,
            captcha: r.get(11)?,
            duration_sum_s: s(r.get(12)?),
            duration_min_s: s(r.get(13)?),
            duration_max_s: s(r.get(14)?),
            duration_p50_s: s(r.get(15)?),
            duration_p95_s: s(r.get(16)?),
            unobserved: r.get(17)?,
            observed_s: r.get::<_, Option<i64>>(18)?.map(s),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One hour of one named observation of a probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservationRollup {
    pub probe: String,
    pub hour: DateTime<Utc>,
    pub name: String,
    pub count: u32,
    pub positive: u32,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl ObservationRollup {
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

pub fn observation_rollups(
    conn: &Connection,
    probe: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ObservationRollup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT probe, hour_ms, name, count, positive, sum, min, max FROM rollup_observations
         WHERE hour_ms >= ?1 AND hour_ms < ?2 AND (?3 IS NULL OR probe = ?3) ORDER BY probe, name, hour_ms",
    )?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to), probe], |r| {
        Ok(ObservationRollup {
            probe: r.get(0)?,
            hour: from_ms(r.get(1)?),
            name: r.get(2)?,
            count: r.get(3)?,
            positive: r.get(4)?,
            sum: r.get(5)?,
            min: r.get(6)?,
            max: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Failing runs of one probe in one hour, at one step, for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureRollup {
    pub probe: String,
    pub hour: DateTime<Utc>,
    pub step: String,
    pub reason: String,
    pub runs: u32,
}

pub fn failure_rollups(conn: &Connection, probe: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<FailureRollup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT probe, hour_ms, step, reason, runs FROM rollup_failures
         WHERE hour_ms >= ?1 AND hour_ms < ?2 AND (?3 IS NULL OR probe = ?3) ORDER BY probe, hour_ms, step, reason",
    )?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to), probe], |r| {
        Ok(FailureRollup {
            probe: r.get(0)?,
            hour: from_ms(r.get(1)?),
            step: r.get(2)?,
            reason: r.get(3)?,
            runs: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

#[cfg(test)]
#[path = "rollup_tests.rs"]
mod tests;
