//! A run that panics is vigie's failure, not the portal's: the panic is
//! caught and the run recorded as `unobserved` / `monitor_error`, so the
//! probe is neither blamed nor left marked as running.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;

use crate::probe::{Outcome, Probe, Reason, RunResult, StepResult};

/// Await `run`; a panic inside it becomes an `unobserved` result.
pub async fn caught(probe: &Probe, scheduled_at: Option<DateTime<Utc>>, run: impl Future<Output = RunResult>) -> RunResult {
    let started_at = Utc::now();
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(probe = %probe.name, panic = %crate::probe::text::truncate_chars(&what, 200), "a run panicked: recorded as unobserved (monitor_error)");
            monitor_error(
                probe,
                scheduled_at,
                started_at,
                format!(
                    "vigie failed inside the run (panic: {})",
                    crate::probe::text::truncate_chars(&what, 200)
                ),
            )
        }
    }
}

/// A run vigie could not perform.
pub fn monitor_error(probe: &Probe, scheduled_at: Option<DateTime<Utc>>, started_at: DateTime<Utc>, message: String) -> RunResult {
    RunResult {
        probe: probe.name.clone(),
        scheduled_at,
        started_at,
        duration: Duration::ZERO,
        politeness_wait: Duration::ZERO,
        outcome: Outcome::Unobserved,
        reason: Some(Reason::MonitorError),
        failed_step: None,
        message: Some(message),
        captcha_step: None,
        steps: probe.steps.iter().map(|s| StepResult::skipped(&s.name)).collect(),
    }
}
