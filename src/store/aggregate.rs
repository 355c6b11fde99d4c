//! Hourly aggregates of raw runs: what a rollup row holds, computed in
//! memory. Compaction writes them (`rollup.rs`); reports compute them on the
//! fly for the recent hours that are not rolled up yet, so a report never
//! depends on when compaction last ran and both paths give the same numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::latency::{Histogram, LatencyRollup, PhaseRollup};
use super::rollup::{FailureRollup, ObservationRollup, RunRollup};
use super::{from_ms, to_ms, Result};
use crate::probe::result::Phase;
use crate::probe::Outcome;

/// Every run of the window, probe by probe through the (probe, start)
/// index; `?3` a probe name or NULL for all.
const RUNS_IN_WINDOW: &str = "FROM probes p CROSS JOIN run_log r ON r.probe_id = p.id
    WHERE r.started_at_ms >= ?1 AND r.started_at_ms < ?2 AND (?3 IS NULL OR p.name = ?3)";

const HOUR_MS: i64 = 3_600_000;

/// Every kind of hourly rollup for a stretch of hours.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Hourly {
    pub runs: Vec<RunRollup>,
    pub failures: Vec<FailureRollup>,
    pub observations: Vec<ObservationRollup>,
    pub latency: Vec<LatencyRollup>,
    /// Per step and phase, for timed HTTP steps.
    pub phases: Vec<PhaseRollup>,
}

#[derive(Default)]
struct RunAcc {
    observed_ms: i64,
    procedure: String,
    site: String,
    by_outcome: [u32; 6],
    captcha: u32,
    durations: Vec<f64>,
}

#[derive(Default)]
struct ObsAcc {
    count: u32,
    positive: u32,
    sum: f64,
    min: f64,
    max: f64,
}

fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Aggregate the raw runs that started in `[from, to)` (all probes, or one)
/// into hourly rollups. Latency: the whole run (step '') for runs that went
/// to their end (up, degraded, no_capacity), and each step that received a
/// response (a timeout or a refused connection is a failure, not a latency).
pub fn aggregate(conn: &Connection, probe: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Hourly> {
    let (from, to) = (to_ms(from), to_ms(to));
    let mut runs: BTreeMap<(String, i64, bool), RunAcc> = BTreeMap::new();
    let mut failures: BTreeMap<(String, i64, String, String), u32> = BTreeMap::new();
    let mut latency: BTreeMap<(String, i64, String), Histogram> = BTreeMap::new();
    {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT p.name, r.started_at_ms, r.maintenance_id IS NOT NULL,
                    (SELECT procedure FROM labels WHERE id = r.labels_id), (SELECT site FROM labels WHERE id = r.labels_id),
                    (SELECT text FROM texts WHERE id = r.outcome_id), r.captcha_step_id IS NOT NULL, r.duration_ms / 1000.0,
                    (SELECT text FROM texts WHERE id = r.failed_step_id), (SELECT text FROM texts WHERE id = r.reason_id),
                    r.duration_ms
             {RUNS_IN_WINDOW}"
        ))?;
        let mut rows = stmt.query(params![from, to, probe])?;
        while let Some(r) = rows.next()? {
            let probe: String = r.get(0)?;
            let hour = hour_of(r.get(1)?);
            let outcome: String = r.get(5)?;
            let outcome = Outcome::parse(&outcome).unwrap_or(Outcome::Broken);
            let duration: f64 = r.get(7)?;
            let acc = runs.entry((probe.clone(), hour, r.get(2)?)).or_default();
            acc.procedure = r.get(3)?;
            acc.site = r.get(4)?;
            let i = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(3);
            acc.by_outcome[i] += 1;
            acc.captcha += u32::from(r.get::<_, bool>(6)?);
            acc.durations.push(duration);
            if let (Some(step), Some(reason)) = (r.get::<_, Option<String>>(8)?, r.get::<_, Option<String>>(9)?) {
                *failures.entry((probe.clone(), hour, step, reason)).or_default() += 1;
            }
            if matches!(outcome, Outcome::Up | Outcome::Degraded | Outcome::NoCapacity) {
                let us = u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0).saturating_mul(1000);
                latency.entry((probe, hour, String::new())).or_default().add_us(us);
            }
        }
    }
    let phases = step_latencies(conn, (from, to), probe, &mut latency)?;
    // Observed time: each run's span, filed under the hour it started in.
    let probes = match probe {
        Some(p) => vec![p.to_string()],
        None => super::observed::probes_between(conn, from_ms(from), from_ms(to))?,
    };
    for name in probes {
        for s in super::observed::spans(conn, &name, from_ms(from), from_ms(to), DateTime::<Utc>::MAX_UTC)? {
            if s.started_at >= from {
                if let Some(acc) = runs.get_mut(&(name.clone(), hour_of(s.started_at), s.maintenance)) {
                    acc.observed_ms += s.to - s.from;
                }
            }
        }
    }
    let mut observations: BTreeMap<(String, i64, String), ObsAcc> = BTreeMap::new();
    {
        let mut stmt = conn.prepare_cached(&format!("SELECT p.name, r.started_at_ms, t.text, v.value {RUNS_IN_WINDOW_VALUES}"))?;
        let mut rows = stmt.query(params![from, to, probe])?;
        while let Some(r) = rows.next()? {
            let value: f64 = r.get(3)?;
            let acc = observations.entry((r.get(0)?, hour_of(r.get(1)?), r.get(2)?)).or_default();
            if acc.count == 0 || value < acc.min {
                acc.min = value;
            }
            if acc.count == 0 || value > acc.max {
                acc.max = value;
            }
            acc.count += 1;
            acc.positive += u32::from(value > 0.0);
            acc.sum += value;
        }
    }

    let mut out = Hourly::default();
    for ((probe, hour, maintenance), mut a) in runs {
        a.durations.sort_by(f64::total_cmp);
        let d = &a.durations;
        out.runs.push(RunRollup {
            probe,
            hour: from_ms(hour),
            maintenance,
            procedure: a.procedure,
            site: a.site,
            runs: d.len() as u32,
            up: a.by_outcome[0],
            degraded: a.by_outcome[1],
            no_capacity: a.by_outcome[2],
            broken: a.by_outcome[3],
            down: a.by_outcome[4],
            unobserved: a.by_outcome[5],
            captcha: a.captcha,
            // Whole milliseconds, summed exactly (as `rollup_runs` keeps it).
            duration_sum_s: d.iter().map(|x| (x * 1000.0).round() as i64).sum::<i64>() as f64 / 1000.0,
            duration_min_s: d.first().copied().unwrap_or(0.0),
            duration_max_s: d.last().copied().unwrap_or(0.0),
            duration_p50_s: percentile(d, 50.0),
            duration_p95_s: percentile(d, 95.0),
            observed_s: Some(a.observed_ms as f64 / 1000.0),
        });
    }
    out.failures = failures
        .into_iter()
        .map(|((probe, hour, step, reason), runs)| FailureRollup {
            probe,
            hour: from_ms(hour),
            step,
            reason,
            runs,
        })
        .collect();
    out.observations = observations
        .into_iter()
        .map(|((probe, hour, name), a)| ObservationRollup {
            probe,
            hour: from_ms(hour),
            name,
            count: a.count,
            positive: a.positive,
            sum: a.sum,
            min: a.min,
            max: a.max,
        })
        .collect();
    out.latency = latency
        .into_iter()
        .map(|((probe, hour, step), histogram)| LatencyRollup {
            probe,
            hour: from_ms(hour),
            step,
            histogram,
        })
        .collect();
    out.phases = phases
        .into_iter()
        .map(|((probe, hour, step, phase), histogram)| PhaseRollup {
            probe,
            hour: from_ms(hour),
            step,
            phase: phase.to_string(),
            histogram,
        })
        .collect();
    Ok(out)
}

const RUNS_IN_WINDOW_VALUES: &str = "FROM probes p CROSS JOIN run_log r ON r.probe_id = p.id
    JOIN run_values v ON v.run_id = r.id JOIN texts t ON t.id = v.name_id
    WHERE r.started_at_ms >= ?1 AND r.started_at_ms < ?2 AND (?3 IS NULL OR p.name = ?3)";

type PhaseKey = (String, i64, String, &'static str);

/// Each step that received a response adds its duration to its histogram,
/// and its phases (when timed) to theirs.
fn step_latencies(
    conn: &Connection,
    (from, to): (i64, i64),
    probe: Option<&str>,
    latency: &mut BTreeMap<(String, i64, String), Histogram>,
) -> Result<BTreeMap<PhaseKey, Histogram>> {
    let mut names: BTreeMap<i64, String> = BTreeMap::new();
    {
        let mut stmt = conn.prepare_cached("SELECT id, name FROM step_kinds")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for row in rows {
            let (id, name) = row?;
            names.insert(id, name);
        }
    }
    let mut phases: BTreeMap<PhaseKey, Histogram> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(&format!("SELECT p.name, r.started_at_ms, r.steps {RUNS_IN_WINDOW}"))?;
    let mut rows = stmt.query(params![from, to, probe])?;
    while let Some(r) = rows.next()? {
        let probe: String = r.get(0)?;
        let hour = hour_of(r.get(1)?);
        let blob = r.get_ref(2)?.as_blob().unwrap_or_default();
        for s in super::codec::decode(blob).into_iter().filter(|s| s.http_status.is_some()) {
            let name = names.get(&s.kind).cloned().unwrap_or_default();
            latency
                .entry((probe.clone(), hour, name.clone()))
                .or_default()
                .add_us(s.duration_us);
            for (phase, us) in Phase::ALL.iter().zip(s.phases.iter().flatten()) {
                phases
                    .entry((probe.clone(), hour, name.clone(), phase.as_str()))
                    .or_default()
                    .add_us(*us);
            }
        }
    }
    Ok(phases)
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
