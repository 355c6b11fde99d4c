//! Latency histograms: hourly, per probe and step, so that percentiles over
//! any period (a month, a year) come from rollups instead of millions of raw
//! steps. Buckets are logarithmic, 2^(1/4) ≈ 19 % wide: a percentile read
//! from them is within about ±9 % of the exact value (the bucket's geometric
//! middle, clamped to the observed minimum and maximum).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;

use super::{from_ms, to_ms, Result};

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

pub(super) fn put(conn: &Connection, r: &LatencyRollup) -> Result<()> {
    let h = &r.histogram;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO rollup_latency (probe, hour_ms, step, count, sum_s, min_s, max_s, buckets)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        r.probe,
        to_ms(r.hour),
        r.step,
        i64::try_from(h.count).unwrap_or(i64::MAX),
        h.sum_s,
        h.min_s,
        h.max_s,
        h.encode_buckets()
    ])?;
    Ok(())
}

/// Latency rollups of hours starting in `[from, to)`, merged per probe and
/// step (one row each, its `hour` the first hour seen): what a report
/// needs, without holding every hour's histogram at once. Rows are merged
/// in (probe, hour, step) order, the order the raw path merges them in, so
/// sums are the same to the last bit.
pub fn latency_merged(conn: &Connection, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<LatencyRollup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT probe, hour_ms, step, count, sum_s, min_s, max_s, buckets FROM rollup_latency
         WHERE hour_ms >= ?1 AND hour_ms < ?2 ORDER BY probe, hour_ms, step",
    )?;
    let mut rows = stmt.query(params![to_ms(from), to_ms(to)])?;
    let mut merged: Vec<LatencyRollup> = Vec::new();
    let mut index: std::collections::HashMap<(String, String), usize> = std::collections::HashMap::new();
    while let Some(r) = rows.next()? {
        let h = Histogram {
            count: r.get::<_, i64>(3)?.max(0) as u64,
            sum_s: r.get(4)?,
            min_s: r.get(5)?,
            max_s: r.get(6)?,
            buckets: Histogram::decode_buckets(r.get_ref(7)?.as_str().unwrap_or_default()),
        };
        let key: (String, String) = (r.get(0)?, r.get(2)?);
        let i = match index.get(&key) {
            Some(i) => *i,
            None => {
                merged.push(LatencyRollup {
                    probe: key.0.clone(),
                    hour: from_ms(r.get(1)?),
                    step: key.1.clone(),
                    histogram: Histogram::default(),
                });
                index.insert(key, merged.len() - 1);
                merged.len() - 1
            }
        };
        merged[i].histogram.merge(&h);
    }
    Ok(merged)
}

/// As [`phase_rollups`], merged per probe, step and phase over the whole
/// range, in the same order (see [`latency_merged`]).
pub fn phases_merged(conn: &Connection, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<PhaseRollup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT probe, hour_ms, step, phases FROM rollup_phases
         WHERE hour_ms >= ?1 AND hour_ms < ?2 ORDER BY probe, hour_ms, step",
    )?;
    let mut rows = stmt.query(params![to_ms(from), to_ms(to)])?;
    let mut merged: Vec<PhaseRollup> = Vec::new();
    let mut index: std::collections::HashMap<(String, String, &'static str), usize> = std::collections::HashMap::new();
    while let Some(r) = rows.next()? {
        let (probe, hour, step): (String, i64, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let blob = r.get_ref(3)?.as_blob().unwrap_or_default();
        for (phase, h) in crate::probe::result::Phase::ALL.iter().zip(super::codec::decode_histograms(blob)) {
            let Some(h) = h else { continue };
            let key = (probe.clone(), step.clone(), phase.as_str());
            let i = match index.get(&key) {
                Some(i) => *i,
                None => {
                    merged.push(PhaseRollup {
                        probe: probe.clone(),
                        hour: from_ms(hour),
                        step: step.clone(),
                        phase: phase.as_str().to_string(),
                        histogram: Histogram::default(),
                    });
                    index.insert(key, merged.len() - 1);
                    merged.len() - 1
                }
            };
            merged[i].histogram.merge(&h);
        }
    }
    Ok(merged)
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

/// Write the phases of one probe, hour and step (`rows`: its phases).
pub(super) fn put_phases(conn: &Connection, rows: &[&PhaseRollup]) -> Result<()> {
    let Some(first) = rows.first() else { return Ok(()) };
    let hs: Vec<Option<&Histogram>> = crate::probe::result::Phase::ALL
        .iter()
        .map(|p| rows.iter().find(|r| r.phase == p.as_str()).map(|r| &r.histogram))
        .collect();
    conn.prepare_cached("INSERT OR REPLACE INTO rollup_phases (probe, hour_ms, step, phases) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            first.probe,
            to_ms(first.hour),
            first.step,
            super::codec::encode_histograms(&hs)
        ])?;
    Ok(())
}

/// Phase rollups of hours starting in `[from, to)`, one per phase.
pub fn phase_rollups(conn: &Connection, probe: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<PhaseRollup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT probe, hour_ms, step, phases FROM rollup_phases
         WHERE hour_ms >= ?1 AND hour_ms < ?2 AND (?3 IS NULL OR probe = ?3) ORDER BY probe, hour_ms, step",
    )?;
    let mut rows = stmt.query(params![to_ms(from), to_ms(to), probe])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (probe, hour, step): (String, i64, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let blob = r.get_ref(3)?.as_blob().unwrap_or_default();
        for (phase, h) in crate::probe::result::Phase::ALL.iter().zip(super::codec::decode_histograms(blob)) {
            if let Some(histogram) = h {
                out.push(PhaseRollup {
                    probe: probe.clone(),
                    hour: from_ms(hour),
                    step: step.clone(),
                    phase: phase.as_str().to_string(),
                    histogram,
                });
            }
        }
    }
    Ok(out)
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
