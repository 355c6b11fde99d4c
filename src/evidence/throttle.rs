//! Which runs leave evidence: every failing or no-slot run has a capture,
//! but a probe failing every minute for a week must not fill the disk.
//! Judges count captures and, above all, the days they cover: one page an
//! hour over three weeks is worth more than sixty in one afternoon.
//!
//! Per probe and kind (failure, no slot), a capture is kept when:
//! - none was kept before, or the last one is `every` old (default 15 min
//!   for failures, 1 h for no-slot pages); or
//! - it starts a streak (the previous run of the probe was of another kind)
//!   or differs from the last one kept (another step, reason or HTTP status),
//!   and the last one is at least a minute old (or `every`, if shorter), so
//!   a flapping probe still keeps at most one a minute.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::settings::EvidenceSettings;
use super::Kind;
use crate::probe::{Outcome, Reason, RunResult};

const FLOOR: Duration = Duration::from_secs(60);

/// The kind of evidence a run can leave, if any.
pub fn kind_of(run: &RunResult) -> Option<Kind> {
    match run.outcome {
        Outcome::Down | Outcome::Broken => Some(Kind::Failure),
        Outcome::NoCapacity => Some(Kind::NoCapacity),
        // A bot-protection page is a finding worth keeping; vigie's own
        // failure left no page of the portal to keep.
        Outcome::Unobserved if run.reason == Some(Reason::Blocked) => Some(Kind::Blocked),
        Outcome::Unobserved => None,
        Outcome::Up | Outcome::Degraded => None,
    }
}

/// What distinguishes two captures of one kind: the step, the reason and the
/// HTTP status.
pub fn signature(run: &RunResult) -> String {
    let status = run
        .deciding_step()
        .and_then(|s| s.http_status)
        .map(|s| s.to_string())
        .unwrap_or_default();
    format!(
        "{}|{}|{status}",
        run.failed_step.as_deref().unwrap_or(""),
        run.reason.map(|r| r.as_str()).unwrap_or("")
    )
}

#[derive(Debug, Clone, Default)]
struct ProbeMemory {
    /// Kind of the probe's previous run (None: a success, or not known yet).
    last_run: Option<Option<Kind>>,
    kept: HashMap<Kind, (DateTime<Utc>, String)>,
    /// Requested screenshots kept, per step.
    requested: HashMap<String, DateTime<Utc>>,
}

/// The throttle's memory. Cloned before a transaction and replaced after its
/// commit, so a failed write changes nothing.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    probes: HashMap<String, ProbeMemory>,
}

impl Throttle {
    /// Start from what the store holds (the last record kept per probe and
    /// kind), so a restart does not capture again what was just captured.
    pub fn from_last_kept(rows: impl IntoIterator<Item = (String, Kind, DateTime<Utc>, String)>) -> Throttle {
        let mut t = Throttle::default();
        for (probe, kind, at, sig) in rows {
            t.probes.entry(probe).or_default().kept.insert(kind, (at, sig));
        }
        t
    }

    /// Note the run, and say whether its capture is kept (and as what).
    pub fn decide(&mut self, settings: &EvidenceSettings, run: &RunResult) -> Option<Kind> {
        let kind = kind_of(run);
        let mem = self.probes.entry(run.probe.clone()).or_default();
        let previous = mem.last_run.replace(kind);
        let kind = kind?;
        let policy = settings.policy(&run.probe, kind)?;
        let sig = signature(run);
        let at = run.started_at;
        let keep = match mem.kept.get(&kind) {
            None => true,
            Some((last, last_sig)) => {
                let age = (at - *last).to_std().unwrap_or(Duration::ZERO);
                let new_streak = previous.is_some_and(|p| p != Some(kind));
                age >= policy.every || ((new_streak || *last_sig != sig) && age >= FLOOR.min(policy.every))
            }
        };
        if keep {
            mem.kept.insert(kind, (at, sig));
            Some(kind)
        } else {
            None
        }
    }
}

impl Throttle {
    /// Whether a screenshot the probe asked for at `step` is kept: the same
    /// spacing as failure captures (`every`), per probe and step.
    pub fn decide_requested(&mut self, settings: &EvidenceSettings, probe: &str, step: &str, at: DateTime<Utc>) -> bool {
        let Some(policy) = settings.policy(probe, Kind::Requested) else {
            return false;
        };
        let mem = self.probes.entry(probe.to_string()).or_default();
        let key = format!("requested|{step}");
        let keep = match mem.requested.get(&key) {
            None => true,
            Some(last) => (at - *last).to_std().unwrap_or(Duration::ZERO) >= policy.every.max(FLOOR),
        };
        if keep {
            mem.requested.insert(key, at);
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::testutil::{probe, run, t0};

    fn minutes(m: i64) -> chrono::Duration {
        chrono::Duration::minutes(m)
    }

    #[test]
    fn repeated_failures_every_quarter_hour_new_streaks_and_changes_sooner() {
        let p = probe("rdv", "RDV", "titre-sejour");
        let s = EvidenceSettings::default();
        let mut t = Throttle::default();
        let mut kept = Vec::new();
        // 0-19: down every minute; 20-22 up; 23-27 down; 28 broken; 29-40 no slot.
        for m in 0..41 {
            let outcome = match m {
                0..=19 | 23..=27 => Outcome::Down,
                20..=22 => Outcome::Up,
                28 => Outcome::Broken,
                _ => Outcome::NoCapacity,
            };
            if t.decide(&s, &run(&p, t0() + minutes(m), outcome)).is_some() {
                kept.push(m);
            }
        }
        // Down at 0 and 15 (every 15 min); 23 starts a new streak (8 min
        // after the last capture); 28 is another reason and status; 29 is
        // the first no-slot page, and the next one would be an hour later.
        assert_eq!(kept, vec![0, 15, 23, 28, 29]);
    }

    #[test]
    fn a_probe_can_turn_evidence_off_and_zero_keeps_everything() {
        let p = probe("rdv", "RDV", "titre-sejour");
        let mut s = EvidenceSettings::default();
        s.no_capacity.every = Duration::ZERO;
        let mut t = Throttle::default();
        let n = (0..5)
            .filter(|m| {
                t.decide(&s, &run(&p, t0() + chrono::Duration::seconds(m * 10), Outcome::NoCapacity))
                    .is_some()
            })
            .count();
        assert_eq!(n, 5);
        s.probes.insert(
            "rdv".into(),
            super::super::settings::ProbeEvidence {
                enabled: Some(false),
                ..Default::default()
            },
        );
        assert_eq!(t.decide(&s, &run(&p, t0() + minutes(90), Outcome::Down)), None);
    }

    #[test]
    fn a_restart_remembers_the_last_capture() {
        let p = probe("rdv", "RDV", "titre-sejour");
        let s = EvidenceSettings::default();
        let r = run(&p, t0(), Outcome::NoCapacity);
        let mut t = Throttle::from_last_kept([("rdv".to_string(), Kind::NoCapacity, t0() - minutes(10), signature(&r))]);
        assert_eq!(t.decide(&s, &r), None, "kept 10 min ago, same page");
        let later = run(&p, t0() + minutes(50), Outcome::NoCapacity);
        assert_eq!(t.decide(&s, &later), Some(Kind::NoCapacity));
    }
}
