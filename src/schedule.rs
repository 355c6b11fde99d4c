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
                shared.metrics.runs_in_flight.inc();
                let permit = shared.concurrency.clone().acquire_owned().await;
                let lateness = (Utc::now() - next).to_std().unwrap_or(Duration::ZERO);
                RunStarted {
                    probe: &probe.name,
                    lateness,
                }
                .emit(&shared.metrics);
                let result = shared.runner.run(&probe, Some(next)).await;
                drop(permit);
                shared.metrics.runs_in_flight.dec();
                running.store(false, Ordering::Release);
                // The pipeline only stops at shutdown; a result sent then is dropped on purpose.
                let _ = shared.results.send((probe, result)).await;
            });
        }
    })
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
