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
    /// Time the runs since vigie started observed, in seconds (each run
    /// observes until its schedule's next time, or until now for the last
    /// one; a gap longer than that is not observed: docs/reports.md).
    pub observed_s: f64,
    /// The first run since vigie started.
    pub observed_since: Option<DateTime<Utc>>,
    /// The last run's stretch, still open: its start, its interval, and
    /// whether it observed the portal.
    #[serde(skip)]
    open: Option<(DateTime<Utc>, chrono::Duration, bool)>,
}

impl ProbeStatus {
    /// `observed_s` up to `now`, the last run's stretch included.
    fn at(mut self, now: DateTime<Utc>) -> ProbeStatus {
        if let Some((t, d, true)) = self.open {
            self.observed_s += stretch_s(t, d, now);
        }
        self
    }
}

/// Seconds of `[t, t + d)` before `until`.
fn stretch_s(t: DateTime<Utc>, d: chrono::Duration, until: DateTime<Utc>) -> f64 {
    ((t + d).min(until) - t).num_milliseconds().max(0) as f64 / 1000.0
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
                    observed_s: old.as_ref().map(|o| o.observed_s).unwrap_or(0.0),
                    observed_since: old.as_ref().and_then(|o| o.observed_since),
                    open: old.as_ref().and_then(|o| o.open),
                },
            );
        }
        *map = next;
    }

    pub fn record(&self, probe: &Probe, r: &RunResult) {
        let mut map = self.probes.write().unwrap_or_else(|e| e.into_inner());
        let Some(s) = map.get_mut(&r.probe) else { return };
        let at = r.scheduled_at.unwrap_or(r.started_at);
        if let Some((t, d, true)) = s.open {
            s.observed_s += stretch_s(t, d, at);
        }
        let interval = r.scheduled_at.and_then(|t| probe.schedule.interval_after(t)).unwrap_or_default();
        s.open = Some((at, interval, r.outcome != Outcome::Unobserved));
        s.observed_since.get_or_insert(at);
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
        self.snapshot_at(Utc::now())
    }

    /// Each probe's status, observed time counted up to `now`.
    pub fn snapshot_at(&self, now: DateTime<Utc>) -> Vec<ProbeStatus> {
        let map = self.probes.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().map(|s| s.at(now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::testutil::{probe, run, t0};

    #[test]
    fn observed_time_counts_each_run_until_the_next_one_is_due_and_not_the_gaps() {
        let p = probe("rdv", "RDV", "titre-sejour");
        let board = StatusBoard::default();
        board.configure([p.as_ref()]);
        let m = |min: i64| t0() + chrono::Duration::minutes(min);
        // Every minute at 0, 1, 2; stopped; again at 10 (up) and 11 (vigie's own failure).
        for (min, outcome) in [(0, Outcome::Up), (1, Outcome::Down), (2, Outcome::Up), (10, Outcome::Up)] {
            board.record(&p, &run(&p, m(min), outcome));
        }
        board.record(&p, &run(&p, m(11), Outcome::Unobserved));
        let s = &board.snapshot_at(m(11) + chrono::Duration::seconds(30))[0];
        // 0 → 3 and 10 → 11: four minutes; the 11:00 run observed nothing.
        assert_eq!(s.observed_s, 240.0);
        assert_eq!(s.observed_since, Some(m(0)));
        // Half-way through the last observed run's minute, it counts up to now.
        board.record(&p, &run(&p, m(12), Outcome::Up));
        let s = &board.snapshot_at(m(12) + chrono::Duration::seconds(30))[0];
        assert_eq!(s.observed_s, 270.0);
    }
}
