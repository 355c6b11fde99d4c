//! Latency histograms: hourly, per probe and step, so that percentiles over
//! any period (a month, a year) come from rollups instead of millions of raw
//! steps. Buckets are logarithmic, 2^(1/4) ≈ 19 % wide: a percentile read
//! from them is within about ±9 % of the exact value (the bucket's geometric
//! middle, clamped to the observed minimum and maximum).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;

use super::codec::{self, Timings};
use super::{dict, from_ms, to_ms, Result};
use crate::probe::result::Phase;

/// Upper bound of bucket 0, in seconds.
const BASE_S: f64 = 0.001;
/// Buckets per doubling.
const PER_DOUBLING: f64 = 4.0;
/// 2^(120/4) ms is about 12 days: nothing a probe measures goes beyond.
const MAX_BUCKET: u32 = 120;

/// The bucket holding a duration: the smallest `i` with `d <= 1 ms x 2^(i/4)`.
pub fn bucket_of(seconds: f64) -> u32 {
    if seconds.is_nan() || seconds <= BASE_S {
        return 0;
    }
    let i = (PER_DOUBLING * (seconds / BASE_S).log2()).ceil();
    (i as u32).min(MAX_BUCKET)
}

/// Upper bound of bucket `i`, in seconds.
pub fn bucket_upper(i: u32) -> f64 {
    BASE_S * 2f64.powf(f64::from(i) / PER_DOUBLING)
}

/// A latency histogram with its exact count, sum, minimum and maximum.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Histogram {
    pub count: u64,
    pub sum_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub buckets: BTreeMap<u32, u64>,
}

impl Histogram {
    pub fn add(&mut self, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        if self.count == 0 || seconds < self.min_s {
            self.min_s = seconds;
        }
        if self.count == 0 || seconds > self.max_s {
            self.max_s = seconds;
        }
        self.count += 1;
        self.sum_s += seconds;
        *self.buckets.entry(bucket_of(seconds)).or_default() += 1;
    }

    /// Add a duration in whole microseconds, keeping `sum_s` exactly the
    /// microseconds' total divided by 10^6 (what `rollup_timings` stores,
    /// so the rolled-up sums read back to the last bit).
    pub fn add_us(&mut self, us: u64) {
        let total = super::codec::us(self.sum_s).saturating_add(us);
        self.add(us as f64 / 1e6);
        self.sum_s = total as f64 / 1e6;
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 || other.min_s < self.min_s {
            self.min_s = other.min_s;
        }
        if self.count == 0 || other.max_s > self.max_s {
            self.max_s = other.max_s;
        }
        self.count += other.count;
        self.sum_s += other.sum_s;
        for (b, n) in &other.buckets {
            *self.buckets.entry(*b).or_default() += n;
        }
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_s / self.count as f64)
    }

    /// Nearest-rank percentile (`p` in 0..=100), from the buckets.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        // The extremes are known exactly.
        if rank >= self.count {
            return Some(self.max_s);
        }
        if rank == 1 {
            return Some(self.min_s);
        }
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                let upper = bucket_upper(*b);
                let lower = if *b == 0 { 0.0 } else { bucket_upper(b - 1) };
                let middle = if *b == 0 { upper } else { (lower * upper).sqrt() };
                return Some(middle.clamp(self.min_s, self.max_s));
            }
        }
        Some(self.max_s)
    }

    /// `index:count,index:count` (the `buckets` column).
    pub fn encode_buckets(&self) -> String {
        let mut out = String::new();
        for (b, n) in &self.buckets {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "{b}:{n}");
        }
        out
    }

    /// Parse the `buckets` column; malformed pairs are skipped (they can only
    /// come from a hand-edited database).
    pub fn decode_buckets(s: &str) -> BTreeMap<u32, u64> {
        s.split(',')
            .filter_map(|pair| {
                let (b, n) = pair.split_once(':')?;
                Some((b.trim().parse().ok()?, n.trim().parse().ok()?))
            })
            .collect()
    }
}

/// One hour of one probe's latency at one step ('' is the whole run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyRollup {
    pub probe: String,
    pub hour: DateTime<Utc>,
    pub step: String,
    pub histogram: Histogram,
}

/// Write one hour's latency and phase rollups (all probes): one
/// `rollup_timings` row per probe.
pub(super) fn put_hour(conn: &Connection, hour_ms: i64, latency: &[LatencyRollup], phases: &[PhaseRollup]) -> Result<()> {
    let mut by_probe: BTreeMap<&str, BTreeMap<&str, Timings>> = BTreeMap::new();
    for l in latency {
        by_probe.entry(&l.probe).or_default().entry(&l.step).or_default().latency = Some(l.histogram.clone());
    }
    for p in phases {
        let Some(i) = phase_index(&p.phase) else {
            continue;
        };
        by_probe.entry(&p.probe).or_default().entry(&p.step).or_default().phases[i] = Some(p.histogram.clone());
    }
    for (probe, steps) in by_probe {
        put_timings(conn, hour_ms, dict::probe_id(conn, probe)?, steps.iter().map(|(k, t)| (*k, t)))?;
    }
    Ok(())
}

/// Write one probe's hour, its steps by name ('' the whole run).
pub(super) fn put_timings<'a>(
    conn: &Connection,
    hour_ms: i64,
    probe_id: i64,
    steps: impl IntoIterator<Item = (&'a str, &'a Timings)>,
) -> Result<()> {
    let series = steps
        .into_iter()
        .map(|(step, t)| Ok((if step.is_empty() { 0 } else { dict::text_id(conn, step)? }, t)))
        .collect::<Result<Vec<(i64, &Timings)>>>()?;
    conn.prepare_cached("INSERT OR REPLACE INTO rollup_timings (hour_ms, probe_id, data) VALUES (?1, ?2, ?3)")?
        .execute(params![hour_ms, probe_id, codec::encode_timings(&series)])?;
    Ok(())
}

/// Probe and step names by id, to read `rollup_timings`.
struct Names {
    probes: HashMap<i64, String>,
    texts: HashMap<i64, String>,
}

impl Names {
    fn load(conn: &Connection) -> Result<Names> {
        let map = |sql: &str| -> Result<HashMap<i64, String>> {
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        Ok(Names {
            probes: map("SELECT id, name FROM probes")?,
            texts: map("SELECT id, text FROM texts")?,
        })
    }

    fn probe(&self, id: i64) -> String {
        self.probes.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
    }

    fn step(&self, id: i64) -> String {
        match id {
            0 => String::new(),
            _ => self.texts.get(&id).cloned().unwrap_or_else(|| format!("#{id}")),
        }
    }
}

/// A merged histogram and the first hour it was seen in.
type Merging = (i64, Histogram);

/// Latency and phase rollups of hours starting in `[from, to)`, merged per
/// probe and step (and phase), one row each, its `hour` the first hour
/// seen: what a report needs, without holding every hour's histograms at
/// once. Each key's hours are merged in time order, and the rows come in
/// (probe, first hour, step, phase) order, as the raw path gives them, so
/// sums are the same to the last bit.
pub fn timings_merged(conn: &Connection, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(Vec<LatencyRollup>, Vec<PhaseRollup>)> {
    let names = Names::load(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT hour_ms, probe_id, data FROM rollup_timings WHERE hour_ms >= ?1 AND hour_ms < ?2 ORDER BY hour_ms, probe_id",
    )?;
    let mut rows = stmt.query(params![to_ms(from), to_ms(to)])?;
    let mut latency: HashMap<(i64, i64), Merging> = HashMap::new();
    let mut phases: HashMap<(i64, i64, usize), Merging> = HashMap::new();
    while let Some(r) = rows.next()? {
        let (hour, probe): (i64, i64) = (r.get(0)?, r.get(1)?);
        for (step, t) in codec::decode_timings(r.get_ref(2)?.as_blob().unwrap_or_default()) {
            if let Some(h) = &t.latency {
                latency.entry((probe, step)).or_insert((hour, Histogram::default())).1.merge(h);
            }
            for (i, h) in t.phases.iter().enumerate() {
                if let Some(h) = h {
                    phases.entry((probe, step, i)).or_insert((hour, Histogram::default())).1.merge(h);
                }
            }
        }
    }
    let mut latency: Vec<_> = latency
        .into_iter()
        .map(|((probe, step), (hour, histogram))| LatencyRollup {
            probe: names.probe(probe),
            hour: from_ms(hour),
            step: names.step(step),
            histogram,
        })
        .collect();
    latency.sort_by(|a, b| (&a.probe, a.hour, &a.step).cmp(&(&b.probe, b.hour, &b.step)));
    let mut phases: Vec<_> = phases
        .into_iter()
        .map(|((probe, step, i), (hour, histogram))| {
            (
                i,
                PhaseRollup {
                    probe: names.probe(probe),
                    hour: from_ms(hour),
                    step: names.step(step),
                    phase: Phase::ALL[i].as_str().to_string(),
                    histogram,
                },
            )
        })
        .collect();
    phases.sort_by(|(i, a), (j, b)| (&a.probe, a.hour, &a.step, i).cmp(&(&b.probe, b.hour, &b.step, j)));
    Ok((latency, phases.into_iter().map(|(_, p)| p).collect()))
}

/// One hour of one probe's step phase (`Phase::as_str`), from the phases
/// stored with each timed HTTP step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRollup {
    pub probe: String,
    pub hour: DateTime<Utc>,
    pub step: String,
    pub phase: String,
    pub histogram: Histogram,
}

/// Phase rollups of hours starting in `[from, to)`, one per hour, step and
/// phase, in (probe, hour, step, phase) order.
pub fn phase_rollups(conn: &Connection, probe: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<PhaseRollup>> {
    let names = Names::load(conn)?;
    let probe_id = match probe {
        Some(p) => match dict::find_probe(conn, p)? {
            Some(id) => Some(id),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let mut stmt = conn.prepare_cached(
        "SELECT hour_ms, probe_id, data FROM rollup_timings
         WHERE hour_ms >= ?1 AND hour_ms < ?2 AND (?3 IS NULL OR probe_id = ?3)",
    )?;
    let mut rows = stmt.query(params![to_ms(from), to_ms(to), probe_id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (hour, probe): (i64, i64) = (r.get(0)?, r.get(1)?);
        for (step, t) in codec::decode_timings(r.get_ref(2)?.as_blob().unwrap_or_default()) {
            for (phase, h) in Phase::ALL.iter().zip(t.phases) {
                if let Some(histogram) = h {
                    out.push(PhaseRollup {
                        probe: names.probe(probe),
                        hour: from_ms(hour),
                        step: names.step(step),
                        phase: phase.as_str().to_string(),
                        histogram,
                    });
                }
            }
        }
    }
    let rank = |p: &PhaseRollup| phase_index(&p.phase);
    out.sort_by(|a, b| (&a.probe, a.hour, &a.step, rank(a)).cmp(&(&b.probe, b.hour, &b.step, rank(b))));
    Ok(out)
}

/// A phase's place in [`Phase::ALL`] (and in a step's `Timings::phases`).
fn phase_index(name: &str) -> Option<usize> {
    Phase::ALL.iter().position(|x| x.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_a_fifth_wide_and_percentiles_close() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(0.001), 0);
        assert_eq!(bucket_of(0.002), 4);
        assert_eq!(bucket_of(1.0), 40);
        assert!(bucket_upper(40) >= 1.0 && bucket_upper(39) < 1.0);
        let mut h = Histogram::default();
        for i in 1..=100 {
            h.add(f64::from(i) / 100.0);
        }
        for (p, exact) in [(50.0, 0.5), (95.0, 0.95), (99.0, 0.99)] {
            let got = h.percentile(p).expect("percentile");
            assert!((got - exact).abs() / exact < 0.1, "p{p}: {got} vs {exact}");
        }
        assert_eq!(h.percentile(100.0), Some(1.0), "the maximum is exact");
        let decoded = Histogram::decode_buckets(&h.encode_buckets());
        assert_eq!(decoded, h.buckets);
        let mut m = Histogram::default();
        m.merge(&h);
        m.merge(&h);
        assert_eq!((m.count, m.min_s, m.max_s), (200, 0.01, 1.0));
    }
}
