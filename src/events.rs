//! Typed internal events, after vector's: each event is one struct whose
//! `emit` writes its log line and updates its metrics together, so the two
//! can never disagree or be forgotten one without the other.

use std::time::Duration;

use tracing::{error, info, warn};

use crate::diag::Diagnostics;
use crate::metrics::Metrics;
use crate::probe::{Outcome, Probe, RunResult};

pub struct RunFinished<'a> {
    pub probe: &'a Probe,
    pub result: &'a RunResult,
}

impl RunFinished<'_> {
    pub fn emit(&self, m: &Metrics) {
        m.record_run(self.probe, self.result);
        let r = self.result;
        let ms = r.duration.as_millis() as u64;
        match r.outcome {
            Outcome::Up => {
                info!(probe = %r.probe, outcome = "up", duration_ms = ms, captcha_step = r.captcha_step.as_deref(), "run finished")
            }
            _ => warn!(
                probe = %r.probe,
                outcome = r.outcome.as_str(),
                reason = r.reason.map(|x| x.as_str()),
                step = r.failed_step.as_deref(),
                duration_ms = ms,
                // Not `message`: JSON logs would carry two `message` keys.
                detail = r.message.as_deref().map(crate::probe::text::escape_controls),
                "run finished"
            ),
        }
    }
}

pub struct RunStarted<'a> {
    pub probe: &'a str,
    pub lateness: Duration,
}

impl RunStarted<'_> {
    pub fn emit(&self, m: &Metrics) {
        m.sched_lateness.observe(self.lateness.as_secs_f64());
        tracing::debug!(probe = self.probe, lateness_ms = self.lateness.as_millis() as u64, "run started");
    }
}

pub struct RunSkipped<'a> {
    pub probe: &'a Probe,
}

impl RunSkipped<'_> {
    pub fn emit(&self, m: &Metrics) {
        let p = self.probe;
        m.record_skip(p);
        warn!(probe = %p.name, "run skipped: the previous run is still going (raise the probe's interval or lower its timeout)");
    }
}

pub struct ConfigLoaded<'a> {
    pub file: &'a std::path::Path,
    pub probes: usize,
    pub reload: bool,
}

impl ConfigLoaded<'_> {
    pub fn emit(&self, m: &Metrics) {
        m.reload_ok.set(1);
        m.reload_time.set(chrono::Utc::now().timestamp() as f64);
        m.probes_configured.set(self.probes as i64);
        info!(file = %self.file.display(), probes = self.probes, reload = self.reload, "configuration loaded");
    }
}

pub struct ConfigReloadFailed<'a> {
    pub errors: &'a Diagnostics,
}

impl ConfigReloadFailed<'_> {
    pub fn emit(&self, m: &Metrics) {
        m.reload_ok.set(0);
        for d in self.errors.iter() {
            error!(error = %d, "invalid configuration");
        }
        error!(
            errors = self.errors.len(),
            "configuration reload failed: keeping the running configuration"
        );
    }
}
