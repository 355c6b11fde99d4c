//! The scheduler: one task per probe that sleeps until the next crontab time
//! (in the probe's time zone) and starts a run, unless the previous run of
//! that probe is still going, in which case the skip is counted.
//!
//! A global semaphore caps runs in flight; per-host budgets (runner) cap the
//! requests. Lateness is measured when a run actually starts, so queueing for
//! the cap shows up in `vigie_scheduler_lateness_seconds`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

use crate::events::{RunSkipped, RunStarted};
use crate::metrics::Metrics;
use crate::probe::{Probe, RunResult};
use crate::runner::Runner;

/// What every probe loop shares.
#[derive(Clone)]
pub struct Shared {
    pub runner: Arc<Runner>,
    pub metrics: Arc<Metrics>,
    pub concurrency: Arc<Semaphore>,
    pub results: mpsc::Sender<(Arc<Probe>, RunResult)>,
}

/// Start the loop of one probe. `running` is shared with any earlier loop of
/// the same probe (across reloads), so a run still in flight from before a
/// reload is not overlapped either.
pub fn spawn_probe_loop(probe: Arc<Probe>, shared: Shared, running: Arc<AtomicBool>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: Option<DateTime<Utc>> = None;
        loop {
            let now = Utc::now();
            let after = match last {
                Some(l) if l > now => l,
                _ => now,
            };
            let Some(next) = probe.schedule.next_times(after, 1).into_iter().next() else {
                tracing::error!(probe = %probe.name, "the schedule has no future time; this probe will not run again");
                return;
            };
            let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            last = Some(next);
            if *stop.borrow() {
                return;
            }
            if running.swap(true, Ordering::AcqRel) {
                RunSkipped { probe: &probe }.emit(&shared.metrics);
                continue;
            }
            let (probe, shared, running) = (probe.clone(), shared.clone(), running.clone());
            tokio::spawn(async move {
                let in_flight = InFlight::start(&shared, running);
                let permit = shared.concurrency.clone().acquire_owned().await;
                let lateness = (Utc::now() - next).to_std().unwrap_or(Duration::ZERO);
                RunStarted {
                    probe: &probe.name,
                    lateness,
                }
                .emit(&shared.metrics);
                // A panic inside the run is vigie's failure: recorded as unobserved.
                let result = crate::runner::caught::caught(&probe, Some(next), shared.runner.run(&probe, Some(next))).await;
                drop(permit);
                drop(in_flight);
                // The pipeline only stops at shutdown; a result sent then is dropped on purpose.
                let _ = shared.results.send((probe, result)).await;
            });
        }
    })
}

/// A run in flight: the gauge and the probe's running flag, reset when
/// dropped, whatever ends the run (even a panic that unwinds the task).
struct InFlight {
    gauge: prometheus::IntGauge,
    running: Arc<AtomicBool>,
}

impl InFlight {
    fn start(shared: &Shared, running: Arc<AtomicBool>) -> InFlight {
        let gauge = shared.metrics.runs_in_flight.clone();
        gauge.inc();
        InFlight { gauge, running }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
        self.running.store(false, Ordering::Release);
    }
}

/// Describe a schedule for people, with its next start times.
pub fn describe(probe: &Probe, n: usize) -> (String, Vec<DateTime<chrono_tz::Tz>>) {
    let words = probe.schedule.cron.describe();
    let next = probe
        .schedule
        .next_times(Utc::now(), n)
        .into_iter()
        .map(|t| t.with_timezone(&probe.schedule.timezone))
        .collect();
    (words, next)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use chrono_tz::Europe::Paris;

    use crate::config::compile::parse_cron;
    use crate::probe::Schedule;

    fn schedule(s: &str) -> Schedule {
        Schedule {
            source: s.into(),
            cron: std::sync::Arc::new(parse_cron(s).expect("valid cron")),
            timezone: Paris,
        }
    }

    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Paris
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }

    fn local(ts: &[DateTime<Utc>]) -> Vec<String> {
        ts.iter()
            .map(|t| t.with_timezone(&Paris).format("%a %d %H:%M:%S").to_string())
            .collect()
    }

    #[test]
    fn one_to_five_means_monday_to_friday() {
        // Friday 27 November 2026, 10:00 in Paris: the next weekday mornings skip the weekend.
        let next = schedule("0 9 * * 1-5").next_times(paris(2026, 11, 27, 10, 0), 3);
        assert_eq!(local(&next), vec!["Mon 30 09:00:00", "Tue 01 09:00:00", "Wed 02 09:00:00"]);
    }

    #[test]
    fn zero_and_seven_are_sunday() {
        for s in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN"] {
            let next = schedule(s).next_times(paris(2026, 11, 27, 10, 0), 1);
            assert_eq!(local(&next), vec!["Sun 29 09:00:00"], "{s}");
        }
    }

    #[test]
    fn optional_seconds_field() {
        let next = schedule("*/15 * * * * *").next_times(paris(2026, 11, 27, 10, 0), 3);
        assert_eq!(local(&next), vec!["Fri 27 10:00:15", "Fri 27 10:00:30", "Fri 27 10:00:45"]);
        let next = schedule("5-59/20 * * * * *").next_times(paris(2026, 11, 27, 10, 0), 3);
        assert_eq!(local(&next), vec!["Fri 27 10:00:05", "Fri 27 10:00:25", "Fri 27 10:00:45"]);
    }

    #[test]
    fn times_are_paris_local_across_daylight_saving() {
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        let winter = schedule("0 9 * * *").next_times(paris(2026, 11, 27, 10, 0), 1);
        assert_eq!(winter[0].format("%H:%M").to_string(), "08:00");
        let summer = schedule("0 9 * * *").next_times(paris(2027, 6, 1, 10, 0), 1);
        assert_eq!(summer[0].format("%H:%M").to_string(), "07:00");
    }
}
