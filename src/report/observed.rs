//! Observed time of a probe in a report's period, to the millisecond:
//! the stretches its runs observed (`store::observed`), cut to the period
//! and to now; what is left of the period is "not observed" (before the
//! first run, after the last, while vigie was stopped).
//!
//! Raw runs give exact stretches. Hours whose raw runs were deleted after
//! their retention (90 days by default) count the time their rollup row
//! recorded (`rollup_runs.observed_ms`: each run's whole stretch, filed under
//! the hour it started in), or the whole hour for rows rolled up before
//! that was kept.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

use super::model::Gap;
use super::period::Period;
use crate::store::observed::{self, Scanned, Span};
use crate::store::rollup::RunRollup;
use crate::store::stretches;
use crate::store::{from_ms, to_ms, Result};

/// Longest not-observed stretches listed per probe.
pub const GAPS_LISTED: usize = 10;

/// What a probe's runs observed in the period.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub seconds: f64,
    /// The period's length up to now.
    pub period_s: f64,
    /// Observed stretches from raw runs, merged, inside the period.
    pub spans: Vec<(i64, i64)>,
    /// From here on the figures come from raw runs.
    pub exact_from: i64,
    /// The parts of `[exact_from, end)` no run observed, in order.
    pub gaps: Vec<(i64, i64)>,
}

impl Observed {
    /// Milliseconds of `[from, to)` that were observed (the part before
    /// `exact_from`, known only by hours, counts as observed).
    pub fn overlap_ms(&self, from: i64, to: i64) -> i64 {
        let before = (to.min(self.exact_from) - from).max(0);
        let after: i64 = self.spans.iter().map(|(a, b)| ((*b).min(to) - (*a).max(from)).max(0)).sum();
        before + after
    }

    /// The longest gaps, in time order, and how many there are in all.
    pub fn listed_gaps(&self) -> (Vec<Gap>, u64) {
        let mut longest = self.gaps.clone();
        longest.sort_by_key(|(a, b)| std::cmp::Reverse(b - a));
        longest.truncate(GAPS_LISTED);
        longest.sort();
        let out = longest
            .into_iter()
            .map(|(a, b)| Gap {
                from: from_ms(a),
                to: from_ms(b),
                duration_s: (b - a) as f64 / 1000.0,
            })
            .collect();
        (out, self.gaps.len() as u64)
    }
}

/// Where exact figures start: the period's start, unless raw runs of the
/// period were deleted after their retention (rollup rows exist before the
/// hour of the oldest raw run kept): then that hour.
pub fn exact_from(p: &Period, rows: &[&RunRollup], oldest_raw: Option<DateTime<Utc>>, end: DateTime<Utc>) -> DateTime<Utc> {
    let candidate = match oldest_raw {
        None => end,
        Some(t) => from_ms(to_ms(t).div_euclid(3_600_000) * 3_600_000).clamp(p.start, end),
    };
    if rows.iter().any(|r| r.hour < candidate) {
        candidate
    } else {
        p.start
    }
}

/// Per probe, its watched stretches in `[exact, end)` and the versions its
/// runs used there, from the tables the writer keeps (`store::stretches`).
pub fn from_stretches<'a>(
    conn: &Connection,
    probes: impl Iterator<Item = &'a str>,
    exact: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, Scanned>> {
    let mut out = BTreeMap::new();
    for name in probes {
        let s = Scanned {
            spans: stretches::spans(conn, name, exact, end, now)?,
            versions: stretches::versions(conn, name, exact, end)?,
        };
        out.insert(name.to_string(), s);
    }
    Ok(out)
}

/// `scanned`: the probe's stretches from raw runs in `[exact, end)`
/// (`store::observed::scan`), None when no run of the probe started there.
pub fn compute(
    conn: &Connection,
    probe: &str,
    p: &Period,
    rows: &[&RunRollup],
    exact: DateTime<Utc>,
    scanned: Option<&Vec<(i64, i64)>>,
    now: DateTime<Utc>,
) -> Result<Observed> {
    let end = p.end.min(now).max(p.start);
    let mut seconds = rolled_up_seconds(rows, p.start, exact);
    let spans = match scanned {
        Some(s) => s.clone(),
        // No run started in the window: the one before may still reach into it.
        None => merged(&observed::spans(conn, probe, exact, end, now)?, to_ms(exact), to_ms(end)),
    };
    seconds += spans.iter().map(|(a, b)| (b - a) as f64 / 1000.0).sum::<f64>();
    let gaps = complement(&spans, to_ms(exact), to_ms(end));
    Ok(Observed {
        seconds,
        period_s: (end - p.start).num_milliseconds() as f64 / 1000.0,
        spans,
        exact_from: to_ms(exact),
        gaps,
    })
}

/// Observed seconds of the rolled-up hours in `[from, to)`.
fn rolled_up_seconds(rows: &[&RunRollup], from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let mut by_hour: BTreeMap<DateTime<Utc>, Option<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.hour < to) {
        let e = by_hour.entry(r.hour).or_insert(None);
        if let Some(s) = r.observed_s {
            *e = Some(e.unwrap_or(0.0) + s);
        }
    }
    by_hour
        .into_iter()
        .map(|(h, s)| {
            s.unwrap_or_else(|| {
                let (a, b) = (h.max(from), (h + Duration::hours(1)).min(to));
                (b - a).num_milliseconds().max(0) as f64 / 1000.0
            })
        })
        .sum()
}

/// Spans cut to `[from, to)` and merged where they touch.
fn merged(spans: &[Span], from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for s in spans {
        let (a, b) = (s.from.max(from), s.to.min(to));
        if b <= a {
            continue;
        }
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn complement(spans: &[(i64, i64)], from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = from;
    for (a, b) in spans {
        if *a > at {
            out.push((at, *a));
        }
        at = at.max(*b);
    }
    if at < to {
        out.push((at, to));
    }
    out
}
