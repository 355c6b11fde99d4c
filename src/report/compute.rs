//! Availability, daily series, failure pattern, latency and failure tables,
//! all from hourly rows. Every figure is a sum of whole rollup rows: no
//! interpolation, no smoothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

use super::model::{Availability, Cell, Day, FailureRow, LatencyRow, PhaseRow, PhaseStat, ProbeReport, ProcedureReport, Ratio, Refusals};
use super::period::Period;
use super::settings::OfficeHours;
use crate::probe::result::Phase;
use crate::probe::{Outcome, Reason};
use crate::store::latency::{Histogram, LatencyRollup, PhaseRollup};
use crate::store::rollup::{FailureRollup, ObservationRollup, RunRollup};

fn failed(r: &RunRollup) -> u64 {
    u64::from(r.broken) + u64::from(r.down)
}

/// Runs that observed the portal: `unobserved` runs (vigie's own failure,
/// bot protection) count neither for nor against availability.
fn observed(r: &RunRollup) -> u64 {
    u64::from(r.runs.saturating_sub(r.unobserved))
}

pub fn availability(rows: &[&RunRollup], office: &OfficeHours, tz: Tz) -> Availability {
    let mut a = Availability::default();
    for r in rows {
        a.up += u64::from(r.up);
        a.degraded += u64::from(r.degraded);
        a.no_capacity += u64::from(r.no_capacity);
        a.broken += u64::from(r.broken);
        a.down += u64::from(r.down);
        a.captcha += u64::from(r.captcha);
        a.unobserved += u64::from(r.unobserved);
        a.all.add(observed(r), failed(r));
        if r.maintenance {
            a.maintenance_runs += u64::from(r.runs);
        } else {
            a.excluding_maintenance.add(observed(r), failed(r));
        }
        if office.contains(&r.hour, tz) {
            a.office_hours.add(observed(r), failed(r));
        }
    }
    a
}

pub fn daily(rows: &[&RunRollup], slots: &[&ObservationRollup], p: &Period) -> Vec<Day> {
    let mut days: BTreeMap<chrono::NaiveDate, Day> = p
        .days()
        .into_iter()
        .map(|d| {
            (
                d,
                Day {
                    date: d,
                    ratio: Ratio::default(),
                    slot_checks: 0,
                    slot_with: 0,
                },
            )
        })
        .collect();
    for r in rows {
        if let Some(d) = days.get_mut(&r.hour.with_timezone(&p.tz).date_naive()) {
            d.ratio.add(observed(r), failed(r));
        }
    }
    for o in slots {
        if let Some(d) = days.get_mut(&o.hour.with_timezone(&p.tz).date_naive()) {
            d.slot_checks += u64::from(o.count);
            d.slot_with += u64::from(o.positive);
        }
    }
    days.into_values().collect()
}

/// Failed runs by local weekday and hour, outside maintenance.
pub fn pattern(rows: &[&RunRollup], tz: Tz) -> Vec<Vec<Cell>> {
    let mut grid = vec![vec![Cell::default(); 24]; 7];
    for r in rows.iter().filter(|r| !r.maintenance) {
        let l = r.hour.with_timezone(&tz);
        let c = &mut grid[l.weekday().num_days_from_monday() as usize][l.hour() as usize];
        c.runs += u64::from(r.runs);
        c.failed += failed(r);
    }
    grid
}

/// Percentiles per step ('' = the whole run first, then steps in the
/// probe's order, then any other step seen in the history).
pub fn latency(rows: &[&LatencyRollup], order: &[String]) -> Vec<LatencyRow> {
    let mut merged: BTreeMap<String, Histogram> = BTreeMap::new();
    for r in rows {
        merged.entry(r.step.clone()).or_default().merge(&r.histogram);
    }
    let mut keys: Vec<String> = vec![String::new()];
    keys.extend(order.iter().cloned());
    for k in merged.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys.into_iter()
        .filter_map(|k| {
            let h = merged.get(&k)?;
            Some(LatencyRow {
                step: k,
                count: h.count,
                mean_s: h.mean(),
                p50_s: h.percentile(50.0),
                p95_s: h.percentile(95.0),
                p99_s: h.percentile(99.0),
                max_s: (h.count > 0).then_some(h.max_s),
            })
        })
        .collect()
}

/// Median and p95 of each phase per step, steps in the probe's order.
pub fn phases(rows: &[&PhaseRollup], order: &[String]) -> Vec<PhaseRow> {
    let mut merged: BTreeMap<(&str, &str), Histogram> = BTreeMap::new();
    for r in rows {
        merged.entry((r.step.as_str(), r.phase.as_str())).or_default().merge(&r.histogram);
    }
    let mut steps: Vec<String> = order.to_vec();
    for (step, _) in merged.keys() {
        if !steps.iter().any(|s| s == step) {
            steps.push(step.to_string());
        }
    }
    steps
        .into_iter()
        .filter_map(|step| {
            let stats: Vec<(Phase, &Histogram)> = Phase::ALL
                .iter()
                .filter_map(|p| Some((*p, merged.get(&(step.as_str(), p.as_str()))?)))
                .collect();
            let count = stats.iter().map(|(_, h)| h.count).max()?;
            Some(PhaseRow {
                step: step.clone(),
                count,
                phases: stats
                    .into_iter()
                    .map(|(p, h)| PhaseStat {
                        phase: p.as_str().to_string(),
                        p50_s: h.percentile(50.0),
                        p95_s: h.percentile(95.0),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// Failing runs by step and reason (down and broken only), most first.
pub fn failures(rows: &[&FailureRollup]) -> Vec<FailureRow> {
    let mut m: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in rows {
        let is_failure = Reason::parse(&r.reason).is_some_and(|x| matches!(x.outcome(), Outcome::Down | Outcome::Broken));
        if is_failure {
            *m.entry((r.step.clone(), r.reason.clone())).or_default() += u64::from(r.runs);
        }
    }
    let mut out: Vec<FailureRow> = m
        .into_iter()
        .map(|((step, reason), runs)| FailureRow { step, reason, runs })
        .collect();
    out.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.step.cmp(&b.step)));
    out
}

/// Runs refused by bot protection, and the days they fall on.
pub fn refusals(rows: &[&FailureRollup], tz: Tz) -> Refusals {
    let blocked = Reason::Blocked.as_str();
    let mut days = BTreeSet::new();
    let mut runs = 0;
    for r in rows.iter().filter(|r| r.reason == blocked && r.runs > 0) {
        runs += u64::from(r.runs);
        days.insert(r.hour.with_timezone(&tz).date_naive());
    }
    Refusals {
        runs,
        days: days.len() as u64,
    }
}

/// Probes grouped by their `procedure` label: their runs added up.
pub fn procedures(probes: &[ProbeReport]) -> Vec<ProcedureReport> {
    let mut m: BTreeMap<String, ProcedureReport> = BTreeMap::new();
    for p in probes {
        let e = m.entry(p.procedure.clone()).or_insert_with(|| ProcedureReport {
            procedure: p.procedure.clone(),
            probes: vec![],
            all: Ratio::default(),
            excluding_maintenance: Ratio::default(),
            office_hours: Ratio::default(),
            incidents: 0,
            outage_s: 0.0,
        });
        e.probes.push(p.probe.clone());
        e.all.merge(&p.availability.all);
        e.excluding_maintenance.merge(&p.availability.excluding_maintenance);
        e.office_hours.merge(&p.availability.office_hours);
        e.incidents += p.incidents.count;
        e.outage_s += p.incidents.total_s;
    }
    m.into_values().collect()
}
