//! Slot availability of appointment probes: the share of checks that
//! offered at least one slot, the longest stretch without any, and the delay
//! to the first free date.
//!
//! A stretch without slot runs from the first check that found none to the
//! last check that found none before a slot was offered again: every check
//! in it found nothing. Hourly rollups locate the long stretches (runs of
//! hours whose checks all found nothing); raw runs then give their exact
//! bounds, with a handful of indexed queries. Stretches shorter than two
//! hours can hide inside hours that also had slots, so when no stretch of
//! two hours or more exists, the period's raw observations are scanned.

use chrono::Duration;
use rusqlite::{params, Connection, OptionalExtension};

use super::model::{FirstFree, SlotStats, Stretch};
use super::period::Period;
use crate::store::rollup::ObservationRollup;
use crate::store::{from_ms, to_ms, Result};

const HOUR: i64 = 3_600_000;

struct Raw<'a> {
    conn: &'a Connection,
    probe: &'a str,
    name: &'a str,
}

impl Raw<'_> {
    /// MIN or MAX start time of the runs whose observation is positive (or
    /// not), started in `[from, to)`.
    fn edge(&self, max: bool, positive: bool, from: i64, to: i64) -> Result<Option<i64>> {
        let sql = format!(
            "SELECT {}(r.started_at_ms) FROM run_log r JOIN run_values o ON o.run_id = r.id
             WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) AND o.name_id = (SELECT id FROM texts WHERE text = ?2) AND r.started_at_ms >= ?3 AND r.started_at_ms < ?4 AND o.value {} 0",
            if max { "MAX" } else { "MIN" },
            if positive { ">" } else { "<=" }
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![self.probe, self.name, from, to], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten())
    }

    fn count(&self, from: i64, to_inclusive: i64) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM run_log r JOIN run_values o ON o.run_id = r.id
                 WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) AND o.name_id = (SELECT id FROM texts WHERE text = ?2) AND r.started_at_ms >= ?3 AND r.started_at_ms <= ?4",
            )?
            .query_row(params![self.probe, self.name, from, to_inclusive], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }
}

/// A run of hours whose checks all found nothing, with the hours around it
/// that had slots (None at the period's edges).
struct Island {
    before: Option<i64>,
    first: i64,
    last: i64,
    after: Option<i64>,
    checks: u64,
}

fn islands(rows: &[&ObservationRollup]) -> Vec<Island> {
    let mut out = Vec::new();
    let mut current: Option<Island> = None;
    let mut last_positive: Option<i64> = None;
    for r in rows {
        let h = to_ms(r.hour);
        if r.positive > 0 {
            if let Some(mut i) = current.take() {
                i.after = Some(h);
                out.push(i);
            }
            last_positive = Some(h);
        } else if r.count > 0 {
            let i = current.get_or_insert(Island {
                before: last_positive,
                first: h,
                last: h,
                after: None,
                checks: 0,
            });
            i.last = h;
            i.checks += u64::from(r.count);
        }
    }
    out.extend(current);
    out
}

fn stretch(from: i64, to: i64, checks: u64, ongoing: bool, approximate: bool) -> Stretch {
    Stretch {
        from: from_ms(from),
        to: from_ms(to),
        duration_s: (to - from).max(0) as f64 / 1000.0,
        checks,
        ongoing,
        approximate,
    }
}

/// Exact bounds of an island's stretch from raw runs; hour bounds when the
/// raw runs are gone (past their retention).
fn refine(raw: &Raw, i: &Island, p: &Period) -> Result<Stretch> {
    let (start, end) = (to_ms(p.start), to_ms(p.end));
    let after_last_positive = match i.before {
        Some(h) => raw.edge(true, true, h, h + HOUR)?,
        None => Some(start - 1),
    };
    let first_zero = match after_last_positive {
        Some(t) => raw.edge(false, false, t + 1, i.first + HOUR)?,
        None => None,
    };
    let next_positive = match i.after {
        Some(h) => raw.edge(false, true, h, h + HOUR)?,
        None => Some(end),
    };
    let last_zero = match next_positive {
        Some(t) => raw.edge(true, false, i.last, t)?,
        None => None,
    };
    Ok(match (first_zero, last_zero) {
        (Some(a), Some(b)) => stretch(a, b, raw.count(a, b)?, i.after.is_none(), false),
        _ => stretch(i.first, i.last + HOUR, i.checks, i.after.is_none(), true),
    })
}

/// The longest stretch by scanning every observation of the period.
fn scan(raw: &Raw, p: &Period) -> Result<Option<Stretch>> {
    let mut stmt = raw.conn.prepare_cached(
        "SELECT r.started_at_ms, o.value FROM run_log r JOIN run_values o ON o.run_id = r.id
         WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) AND o.name_id = (SELECT id FROM texts WHERE text = ?2) AND r.started_at_ms >= ?3 AND r.started_at_ms < ?4 ORDER BY r.started_at_ms",
    )?;
    let mut rows = stmt.query(params![raw.probe, raw.name, to_ms(p.start), to_ms(p.end)])?;
    let mut best: Option<Stretch> = None;
    let mut cur: Option<(i64, i64, u64)> = None;
    let close = |c: (i64, i64, u64), ongoing: bool, best: &mut Option<Stretch>| {
        let s = stretch(c.0, c.1, c.2, ongoing, false);
        if best.as_ref().is_none_or(|b| s.duration_s > b.duration_s) {
            *best = Some(s);
        }
    };
    while let Some(r) = rows.next()? {
        let (t, v): (i64, f64) = (r.get(0)?, r.get(1)?);
        if v > 0.0 {
            if let Some(c) = cur.take() {
                close(c, false, &mut best);
            }
        } else {
            let c = cur.get_or_insert((t, t, 0));
            c.1 = t;
            c.2 += 1;
        }
    }
    if let Some(c) = cur {
        close(c, true, &mut best);
    }
    Ok(best)
}

pub fn longest_without(conn: &Connection, probe: &str, name: &str, rows: &[&ObservationRollup], p: &Period) -> Result<Option<Stretch>> {
    let raw = Raw { conn, probe, name };
    let isl = islands(rows);
    let hours = |i: &Island| (i.last - i.first) / HOUR + 1;
    let best_hours = isl.iter().map(hours).max().unwrap_or(0);
    let mut best: Option<Stretch> = None;
    // An island's stretch is its hours, give or take two partial hours.
    for i in isl.iter().filter(|i| hours(i) + 2 >= best_hours) {
        let s = refine(&raw, i, p)?;
        if best.as_ref().is_none_or(|b| s.duration_s > b.duration_s) {
            best = Some(s);
        }
    }
    if best.as_ref().is_none_or(|b| b.duration_s < 2.0 * 3600.0) {
        if let Some(s) = scan(&raw, p)? {
            return Ok(Some(s));
        }
    }
    Ok(best)
}

/// Delay from each check to the first free date it showed (Unix seconds),
/// from hourly rows: each hour's mean date minus the middle of the hour, so
/// within half an hour of the exact figure.
pub fn first_free(rows: &[&ObservationRollup]) -> Option<FirstFree> {
    let mut n = 0u64;
    let mut sum = 0.0;
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    for r in rows.iter().filter(|r| r.count > 0) {
        let mid = (r.hour + Duration::minutes(30)).timestamp() as f64;
        n += u64::from(r.count);
        sum += r.sum - f64::from(r.count) * mid;
        min = min.min(r.min - mid);
        max = max.max(r.max - mid);
    }
    (n > 0).then(|| FirstFree {
        observations: n,
        min_days: min / 86400.0,
        mean_days: sum / n as f64 / 86400.0,
        max_days: max / 86400.0,
    })
}

pub fn stats(
    conn: &Connection,
    probe: &str,
    name: &str,
    slot_rows: &[&ObservationRollup],
    free_rows: &[&ObservationRollup],
    captcha_stops: u64,
    p: &Period,
) -> Result<SlotStats> {
    let checks: u64 = slot_rows.iter().map(|r| u64::from(r.count)).sum();
    let with_slot: u64 = slot_rows.iter().map(|r| u64::from(r.positive)).sum();
    Ok(SlotStats {
        observation: name.to_string(),
        checks,
        with_slot,
        share_with_slot: (checks > 0).then(|| with_slot as f64 / checks as f64),
        longest_without: longest_without(conn, probe, name, slot_rows, p)?,
        first_free: first_free(free_rows),
        captcha_stops,
    })
}
