//! The hourly data a report is computed from: rollups for the hours that
//! compaction closed, and the same aggregates computed from raw runs for
//! the recent hours it has not reached yet (`store::aggregate`, the code
//! compaction itself uses). 30 days of 50 one-minute probes are 2.2 million
//! runs but 36 000 rollup rows: reports read rollups.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::period::Period;
use crate::store::aggregate::{self, Hourly};
use crate::store::{latency, rollup, Result};

/// The first day (in `tz`) with any recorded run, rolled up or raw: a
/// default period does not begin with weeks of "no data" for a new install.
pub fn earliest_day(conn: &Connection, tz: chrono_tz::Tz) -> Result<Option<chrono::NaiveDate>> {
    let rolled: Option<i64> = conn.query_row("SELECT MIN(hour_ms) FROM rollup_runs", [], |r| r.get(0))?;
    let raw = crate::store::observed::oldest_raw(conn)?.map(crate::store::to_ms);
    let first = match (rolled, raw) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(first.map(|ms| crate::store::from_ms(ms).with_timezone(&tz).date_naive()))
}

pub struct Data {
    pub hourly: Hourly,
    /// Hours from here on were aggregated from raw runs.
    pub live_from: DateTime<Utc>,
}

pub fn load(conn: &Connection, p: &Period) -> Result<Data> {
    load_with(conn, p, true)
}

/// As [`load`], without the latency histograms (the public observatory
/// shows no response times, and 90 days of them are most of the rows).
pub fn load_counts(conn: &Connection, p: &Period) -> Result<Data> {
    load_with(conn, p, false)
}

/// Every hour aggregated from raw runs, as if nothing had been rolled up
/// (`live_from` says what [`load`] would have used): the peer the rollups
/// path is compared with.
pub fn load_from_raw_runs(conn: &Connection, p: &Period) -> Result<Data> {
    let watermark = rollup::watermark(conn)?.unwrap_or(p.start);
    Ok(Data {
        hourly: aggregate::aggregate(conn, None, p.start, p.end)?,
        live_from: watermark.clamp(p.start, p.end),
    })
}

fn load_with(conn: &Connection, p: &Period, with_latency: bool) -> Result<Data> {
    let watermark = rollup::watermark(conn)?.unwrap_or(p.start);
    let split = watermark.clamp(p.start, p.end);
    let (latency, phases) = if with_latency {
        latency::timings_merged(conn, p.start, split)?
    } else {
        Default::default()
    };
    let mut hourly = Hourly {
        runs: rollup::run_rollups(conn, None, p.start, split)?,
        failures: rollup::failure_rollups(conn, None, p.start, split)?,
        observations: rollup::observation_rollups(conn, None, p.start, split)?,
        latency,
        phases,
    };
    if split < p.end {
        let live = aggregate::aggregate(conn, None, split, p.end)?;
        hourly.runs.extend(live.runs);
        hourly.failures.extend(live.failures);
        hourly.observations.extend(live.observations);
        if with_latency {
            hourly.latency.extend(live.latency);
            hourly.phases.extend(live.phases);
        }
    }
    Ok(Data { hourly, live_from: split })
}
