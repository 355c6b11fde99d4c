//! The latest state of each probe, for the status page and `/api/status`.
//! Fed by the daemon's result pipeline; read by the HTTP server.

use std::collections::BTreeMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::probe::{Outcome, Probe, Reason, RunResult};

#[derive(Debug, Clone, Serialize)]
pub struct ProbeStatus {
    pub probe: String,
    pub title: String,
    pub procedure: String,
    pub site: String,
    pub schedule: String,
    pub last_outcome: Option<Outcome>,
    pub last_reason: Option<Reason>,
    pub last_step: Option<String>,
    pub last_run: Option<DateTime<Utc>>,
    /// When the current outcome began (first run with it in the current series).
    pub since: Option<DateTime<Utc>>,
    pub captcha_step: Option<String>,
    pub runs: u64,
}

#[derive(Default)]
pub struct StatusBoard {
    probes: RwLock<BTreeMap<String, ProbeStatus>>,
}

impl StatusBoard {
    pub fn configure<'a>(&self, probes: impl IntoIterator<Item = &'a Probe>) {
        let mut map = self.probes.write().unwrap_or_else(|e| e.into_inner());
        let mut next = BTreeMap::new();
        for p in probes {
            let old = map.remove(&p.name);
            next.insert(
                p.name.clone(),
                ProbeStatus {
                    probe: p.name.clone(),
                    title: p.title.clone(),
                    procedure: p.labels.procedure.clone(),
                    site: p.labels.site.clone(),
                    schedule: p.schedule.source.clone(),
                    last_outcome: old.as_ref().and_then(|o| o.last_outcome),
                    last_reason: old.as_ref().and_then(|o| o.last_reason),
                    last_step: old.as_ref().and_then(|o| o.last_step.clone()),
                    last_run: old.as_ref().and_then(|o| o.last_run),
                    since: old.as_ref().and_then(|o| o.since),
                    captcha_step: old.as_ref().and_then(|o| o.captcha_step.clone()),
                    runs: old.as_ref().map(|o| o.runs).unwrap_or(0),
                },
            );
        }
        *map = next;
    }

    pub fn record(&self, r: &RunResult) {
        let mut map = self.probes.write().unwrap_or_else(|e| e.into_inner());
        let Some(s) = map.get_mut(&r.probe) else { return };
        if s.last_outcome != Some(r.outcome) {
            s.since = Some(r.started_at);
        }
        s.last_outcome = Some(r.outcome);
        s.last_reason = r.reason;
        s.last_step = r.failed_step.clone();
        s.last_run = Some(r.started_at);
        s.captcha_step = r.captcha_step.clone();
        s.runs += 1;
    }

    pub fn snapshot(&self) -> Vec<ProbeStatus> {
        self.probes.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}
