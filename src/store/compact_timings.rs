//! The V8 conversion: the hourly latency histograms (`rollup_latency`, text
//! keys and buckets) and phase histograms (`rollup_phases`, text keys) of a
//! V7 database moved into `rollup_timings`, one row per hour and probe
//! (`schema.rs`, V8, whose SQL also rebuilds `rollup_runs`), then the two
//! old tables dropped. Nothing reports read is lost: counts, buckets,
//! minima and maxima are carried exactly (they are whole microseconds or
//! milliseconds), sums rounded to the microsecond (what `Histogram::add_us`
//! makes them now).

use std::collections::BTreeMap;

use rusqlite::Transaction;

use super::codec::{self, Timings};
use super::latency::{self, Histogram};
use super::{dict, StoreError};

/// Both old tables in (probe, hour) order: `kind` 0 for a latency row, 1
/// for a phases row.
const OLD_ROWS: &str = "SELECT probe, hour_ms, step, 0, count, sum_s, min_s, max_s, buckets, NULL FROM rollup_latency
    UNION ALL SELECT probe, hour_ms, step, 1, NULL, NULL, NULL, NULL, NULL, phases FROM rollup_phases
    ORDER BY 1, 2";

pub fn convert_v7(tx: &Transaction) -> Result<(), StoreError> {
    {
        let mut stmt = tx.prepare(OLD_ROWS)?;
        let mut rows = stmt.query([])?;
        let mut current: Option<(String, i64)> = None;
        let mut steps: BTreeMap<String, Timings> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let key: (String, i64) = (r.get(0)?, r.get(1)?);
            if current.as_ref() != Some(&key) {
                if let Some(done) = current.take() {
                    flush(tx, &done, &steps)?;
                }
                steps.clear();
                current = Some(key);
            }
            let t = steps.entry(r.get(2)?).or_default();
            if r.get::<_, i64>(3)? == 0 {
                t.latency = Some(Histogram {
                    count: r.get::<_, i64>(4)?.max(0) as u64,
                    sum_s: rounded(r.get(5)?),
                    min_s: r.get(6)?,
                    max_s: r.get(7)?,
                    buckets: Histogram::decode_buckets(r.get_ref(8)?.as_str().unwrap_or_default()),
                });
            } else {
                let blob = r.get_ref(9)?.as_blob().unwrap_or_default();
                for (slot, h) in t.phases.iter_mut().zip(codec::decode_histograms(blob)) {
                    *slot = h;
                }
            }
        }
        if let Some(done) = current {
            flush(tx, &done, &steps)?;
        }
    }
    tx.execute_batch("DROP TABLE rollup_latency; DROP TABLE rollup_phases;")?;
    Ok(())
}

/// A sum of durations rounded to the microsecond, as `add_us` keeps it.
fn rounded(sum_s: f64) -> f64 {
    codec::us(sum_s) as f64 / 1e6
}

fn flush(tx: &Transaction, (probe, hour_ms): &(String, i64), steps: &BTreeMap<String, Timings>) -> Result<(), StoreError> {
    latency::put_timings(tx, *hour_ms, dict::probe_id(tx, probe)?, steps.iter().map(|(k, t)| (k.as_str(), t)))
}
