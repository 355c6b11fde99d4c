//! Observed time: the stretches of time vigie actually watched a probe,
//! from the runs it scheduled and performed (docs/reports.md, « Temps
//! observé »).
//!
//! A run scheduled at `t` with a schedule whose next time is `t + d` (the
//! run's `interval_s`) observes `[t, t + d)`, cut short by the next run of
//! the same probe if that comes sooner (a reload that changed the schedule)
//! and by `now`. Time before a probe's first run, after its last run's
//! interval, and in any gap between one run's interval and the next run
//! (vigie stopped, a run skipped) is not observed. A run that observed
//! nothing (`unobserved`: vigie's own failure, bot protection) observes no
//! time either. Runs recorded before intervals were kept (NULL
//! `interval_s`) count the shortest gap between two runs of the window as
//! their interval.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{to_ms, Result};
use crate::probe::Outcome;

/// One run's observed stretch, in UTC milliseconds `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: i64,
    pub to: i64,
    pub maintenance: bool,
    /// When the run started (rollups file its span under that hour).
    pub started_at: i64,
}

/// One run as the computation needs it.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    /// Scheduled time (its start when it was not scheduled).
    pub at: i64,
    pub started_at: i64,
    pub interval_ms: Option<i64>,
    /// False for an `unobserved` run.
    pub observed: bool,
    pub maintenance: bool,
}

const TICK_COLUMNS: &str = "COALESCE(r.started_at_ms - r.sched_ms, r.started_at_ms), r.interval_ms / 1000.0,
    (SELECT text FROM texts WHERE id = r.outcome_id), r.maintenance_id IS NOT NULL, r.started_at_ms";

/// Runs of the probe named `?1`.
const OF_PROBE: &str = "FROM run_log r WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1)";

fn tick(r: &rusqlite::Row) -> rusqlite::Result<Tick> {
    let interval: Option<f64> = r.get(1)?;
    let outcome: String = r.get(2)?;
    Ok(Tick {
        at: r.get(0)?,
        interval_ms: interval.map(|s| (s * 1000.0).round() as i64),
        observed: Outcome::parse(&outcome) != Some(Outcome::Unobserved),
        maintenance: r.get(3)?,
        started_at: r.get(4)?,
    })
}

fn neighbour(conn: &Connection, probe: &str, at: i64, before: bool) -> Result<Option<Tick>> {
    let sql = if before {
        format!("SELECT {TICK_COLUMNS} {OF_PROBE} AND r.started_at_ms < ?2 ORDER BY r.started_at_ms DESC, r.id DESC LIMIT 1")
    } else {
        format!("SELECT {TICK_COLUMNS} {OF_PROBE} AND r.started_at_ms >= ?2 ORDER BY r.started_at_ms, r.id LIMIT 1")
    };
    Ok(conn.prepare_cached(&sql)?.query_row(params![probe, at], tick).optional()?)
}

/// The observed stretch of each run of `probe` that started in
/// `[from, to)`, plus the one before `from` (its stretch may reach into
/// the window), in order. Stretches are not cut to the window: callers
/// clip them.
pub fn spans(conn: &Connection, probe: &str, from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<Span>> {
    let (from, to) = (to_ms(from), to_ms(to));
    let mut ticks: Vec<Tick> = neighbour(conn, probe, from, true)?.into_iter().collect();
    {
        let sql =
            format!("SELECT {TICK_COLUMNS} {OF_PROBE} AND r.started_at_ms >= ?2 AND r.started_at_ms < ?3 ORDER BY r.started_at_ms, r.id");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![probe, from, to], tick)?;
        for t in rows {
            ticks.push(t?);
        }
    }
    let next = neighbour(conn, probe, to, false)?;
    Ok(from_ticks(&ticks, next, to_ms(now)))
}

pub(super) fn from_ticks(ticks: &[Tick], after: Option<Tick>, now: i64) -> Vec<Span> {
    // For runs without a recorded interval: the shortest gap between two
    // runs in the window, the schedule's usual spacing.
    let shortest_gap = ticks.windows(2).map(|w| w[1].at - w[0].at).filter(|g| *g > 0).min();
    let mut out = Vec::with_capacity(ticks.len());
    for (i, t) in ticks.iter().enumerate() {
        let next = ticks.get(i + 1).copied().or(after).map(|n| n.at);
        let interval = t.interval_ms.or(shortest_gap).unwrap_or(0).max(0);
        let mut end = t.at + interval;
        if let Some(n) = next {
            end = end.min(n.max(t.at));
        }
        end = end.min(now.max(t.at));
        if t.observed && end > t.at {
            out.push(Span {
                from: t.at,
                to: end,
                maintenance: t.maintenance,
                started_at: t.started_at,
            });
        }
    }
    out
}

/// What one pass over the runs of a period gives per probe: its observed
/// stretches (merged, cut to the window) and the versions its runs ran
/// under (`(version id, first run, last run, runs)` in UTC ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scanned {
    pub spans: Vec<(i64, i64)>,
    pub versions: Vec<(i64, i64, i64, u64)>,
}

/// Per probe, while scanning: the run waiting for the next one to know
/// where its stretch ends.
#[derive(Default)]
struct Pending {
    last: Option<Tick>,
    shortest_gap: Option<i64>,
    out: Scanned,
}

impl Pending {
    fn push(&mut self, t: Tick, window: (i64, i64), now: i64) {
        if let Some(prev) = self.last.take() {
            let gap = t.at - prev.at;
            if gap > 0 {
                self.shortest_gap = Some(self.shortest_gap.map_or(gap, |g| g.min(gap)));
            }
            self.close(prev, Some(t.at), window, now);
        }
        self.last = Some(t);
    }

    fn close(&mut self, t: Tick, next: Option<i64>, window: (i64, i64), now: i64) {
        let interval = t.interval_ms.or(self.shortest_gap).unwrap_or(0).max(0);
        let mut end = t.at + interval;
        if let Some(n) = next {
            end = end.min(n.max(t.at));
        }
        end = end.min(now.max(t.at));
        let (a, b) = (t.at.max(window.0), end.min(window.1));
        if !t.observed || b <= a {
            return;
        }
        match self.out.spans.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => self.out.spans.push((a, b)),
        }
    }
}

/// The raw path: reports read `store::stretches` instead; this stays as
/// the reference the fast path is checked against (tests, `bench-report`).
/// One pass, in time order, over every run that started in `[from, to)`,
/// plus each probe's run before `from`: observed stretches cut to
/// `[from, min(to, now))` and versions used, per probe.
pub fn scan(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<std::collections::BTreeMap<String, Scanned>> {
    let (from, to, now) = (to_ms(from), to_ms(to), to_ms(now));
    let window = (from, to.min(now));
    let mut probes: std::collections::BTreeMap<String, Pending> = Default::default();
    let sql = format!(
        "SELECT p.name, r.version_id, {TICK_COLUMNS} FROM probes p CROSS JOIN run_log r ON r.probe_id = p.id
         WHERE r.started_at_ms >= ?1 AND r.started_at_ms < ?2 ORDER BY r.started_at_ms, r.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        let version: Option<i64> = r.get(1)?;
        let t = Tick {
            at: r.get(2)?,
            interval_ms: r.get::<_, Option<f64>>(3)?.map(|s| (s * 1000.0).round() as i64),
            observed: Outcome::parse(&r.get::<_, String>(4)?) != Some(Outcome::Unobserved),
            maintenance: r.get(5)?,
            started_at: r.get(6)?,
        };
        if !probes.contains_key(&name) {
            let mut p = Pending::default();
            if let Some(before) = neighbour(conn, &name, from, true)? {
                p.push(before, window, now);
            }
            probes.insert(name.clone(), p);
        }
        let Some(p) = probes.get_mut(&name) else { continue };
        if let Some(v) = version {
            match p.out.versions.iter_mut().find(|x| x.0 == v) {
                Some(x) => {
                    x.2 = t.started_at;
                    x.3 += 1;
                }
                None => p.out.versions.push((v, t.started_at, t.started_at, 1)),
            }
        }
        p.push(t, window, now);
    }
    let mut out = std::collections::BTreeMap::new();
    for (name, mut p) in probes {
        if let Some(last) = p.last.take() {
            let next = neighbour(conn, &name, to, false)?.map(|n| n.at);
            p.close(last, next, window, now);
        }
        out.insert(name, p.out);
    }
    Ok(out)
}

/// The probes with a run that started in `[from, to)`.
pub fn probes_between(conn: &Connection, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.name FROM probes p WHERE EXISTS (SELECT 1 FROM run_log r WHERE r.probe_id = p.id AND r.started_at_ms >= ?1 AND r.started_at_ms < ?2)",
    )?;
    let rows = stmt.query_map(params![to_ms(from), to_ms(to)], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

/// When the oldest raw run still kept started (older ones were rolled up
/// and deleted), if any.
pub fn oldest_raw(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let ms: Option<i64> = conn.query_row(
        "SELECT MIN((SELECT MIN(started_at_ms) FROM run_log WHERE probe_id = p.id)) FROM probes p",
        [],
        |r| r.get(0),
    )?;
    Ok(ms.map(super::from_ms))
}

/// Milliseconds of `spans` inside `[from, to)`.
pub fn clipped_ms(spans: &[Span], from: i64, to: i64) -> i64 {
    spans.iter().map(|s| (s.to.min(to) - s.from.max(from)).max(0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64, interval_min: Option<i64>) -> Tick {
        Tick {
            at: min * 60_000,
            interval_ms: interval_min.map(|m| m * 60_000),
            observed: true,
            maintenance: false,
            started_at: min * 60_000,
        }
    }

    #[test]
    fn a_gap_longer_than_the_interval_is_not_observed() {
        // Every 3 minutes at 0, 3, 6; stopped; again at 20, 23.
        let ticks = [t(0, Some(3)), t(3, Some(3)), t(6, Some(3)), t(20, Some(3)), t(23, Some(3))];
        let spans = from_ticks(&ticks, None, 100 * 60_000);
        let ms: Vec<(i64, i64)> = spans.iter().map(|s| (s.from / 60_000, s.to / 60_000)).collect();
        assert_eq!(ms, vec![(0, 3), (3, 6), (6, 9), (20, 23), (23, 26)]);
        assert_eq!(clipped_ms(&spans, 0, 100 * 60_000), 15 * 60_000);
        assert_eq!(clipped_ms(&spans, 5 * 60_000, 21 * 60_000), 5 * 60_000);
    }

    #[test]
    fn the_last_run_stops_at_now_and_an_earlier_next_run_cuts_the_interval() {
        let ticks = [t(0, Some(10)), t(4, Some(3))];
        let spans = from_ticks(&ticks, None, 6 * 60_000);
        let ms: Vec<(i64, i64)> = spans.iter().map(|s| (s.from / 60_000, s.to / 60_000)).collect();
        assert_eq!(ms, vec![(0, 4), (4, 6)]);
    }

    #[test]
    fn without_a_recorded_interval_the_shortest_gap_counts() {
        let ticks = [t(0, None), t(2, None), t(4, None), t(30, None)];
        let spans = from_ticks(&ticks, None, 100 * 60_000);
        let ms: Vec<(i64, i64)> = spans.iter().map(|s| (s.from / 60_000, s.to / 60_000)).collect();
        assert_eq!(ms, vec![(0, 2), (2, 4), (4, 6), (30, 32)]);
    }
}
