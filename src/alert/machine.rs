//! The outage state machine: a pure function
//! `step(state, run, policy, now) -> (state, actions)`.
//!
//! No I/O, no clock, no configuration lookups: everything it needs comes in
//! as arguments, so each transition is unit-tested on its own and the state
//! (persisted by the store as JSON after every run) is all there is to know
//! after a restart.
//!
//! Semantics (see docs/alerts.md):
//! - a run is *failing* when its outcome is in the policy's set; an outage
//!   opens after `failure_threshold` consecutive failing runs outside
//!   maintenance, dated from the first of them, and closes after
//!   `success_threshold` consecutive passing runs, ending at the first of them;
//! - runs inside a maintenance window never start or advance an outage; a
//!   failure that began in a window and persists after it opens an outage
//!   dated from the window's end, remembering the earlier start;
//! - an outage already open stays open through a window; passing runs in the
//!   window close it (with its recovery e-mail: whoever got the opening e-mail
//!   needs the closing one); reminders pause during the window;
//! - an `unobserved` run (vigie's own failure, or bot protection) neither
//!   starts, advances nor closes an outage; the first of a streak of them
//!   tells the operator (once per streak: an observed run ends the streak);
//! - a run after scheduled runs were missed (vigie was stopped) breaks a
//!   streak that has not opened an outage yet; on an open outage the silence
//!   is recorded as a stretch vigie did not observe.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::settings::Policy;
use crate::probe::{Outcome, Reason};

/// What the state machine needs to know about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFacts {
    pub run_id: i64,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    pub failed_step: Option<String>,
    pub message: Option<String>,
    /// The same detail in French, when the runner wrote one.
    #[serde(default)]
    pub message_fr: Option<String>,
    pub last_http_status: Option<u16>,
    /// The maintenance window covering the run, if any.
    pub maintenance: Option<String>,
    /// Position of the failing step (1-based) and number of steps.
    #[serde(default)]
    pub step_position: Option<(usize, usize)>,
    /// What the page said at the failing step (redacted, short).
    #[serde(default)]
    pub excerpt: Option<String>,
    /// Scheduled runs were missed since the previous run (vigie was stopped):
    /// nobody observed the probe in between.
    #[serde(default)]
    pub after_gap: bool,
    /// The evidence record holding this run's screenshot (browser probes).
    #[serde(default)]
    pub screenshot_seq: Option<u64>,
}

/// Everything the machine remembers about one probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeState {
    /// Consecutive failing runs outside maintenance, not yet an outage.
    pub failures: u32,
    pub failing_since: Option<DateTime<Utc>>,
    /// Set while failing runs are seen inside a maintenance window.
    pub failing_in_maintenance_since: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    /// Boxed: most probes have none, and an open outage is 320 bytes
    /// (memory at 1,000 probes, issue 14).
    pub outage: Option<Box<Outage>>,
    /// Since when the runs are `unobserved` (a streak the operator was told of).
    #[serde(default)]
    pub unobserved_since: Option<DateTime<Utc>>,
}

/// An open outage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    /// The incident row, once the store has written it.
    pub incident_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    /// The run that reached the threshold.
    pub cause: RunFacts,
    pub began_in_maintenance_at: Option<DateTime<Utc>>,
    pub last_failure_at: DateTime<Utc>,
    pub failing_runs: u32,
    /// Consecutive passing runs so far, and when the first of them started.
    pub successes: u32,
    pub recovering_since: Option<DateTime<Utc>>,
    pub last_notified_at: DateTime<Utc>,
    pub reminders: u32,
    /// Whether the opening was announced: only then are reminders and the
    /// recovery announced too.
    pub notified: bool,
    /// The last stretch vigie did not observe during the outage.
    pub unobserved: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// An outage that just closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    pub outage: Outage,
    /// First passing run of the closing streak: the end of the outage.
    pub ended_at: DateTime<Utc>,
    /// The run that reached the success threshold.
    pub closed_at: DateTime<Utc>,
    pub closing_run_id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Opened,
    Reminder,
    Recovered,
    /// vigie could not observe the probe (bot protection, its own failure):
    /// for the operator, once per streak; says nothing about the portal.
    Unobserved,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 4] = [
        NoticeKind::Opened,
        NoticeKind::Reminder,
        NoticeKind::Recovered,
        NoticeKind::Unobserved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Opened => "opened",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Recovered => "recovered",
            NoticeKind::Unobserved => "unobserved",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Record the new state's outage as an incident.
    OpenIncident,
    /// Record the end of an incident.
    CloseIncident(Box<Closed>),
    /// Tell people (suppressed when the policy mutes the probe).
    Notify(NoticeKind),
}

/// One transition.
pub fn step(state: &ProbeState, run: &RunFacts, policy: &Policy, now: DateTime<Utc>) -> (ProbeState, Vec<Action>) {
    if !run.outcome.is_observed() {
        // Nobody saw the portal: nothing to say about it, in either direction;
        // the operator hears of the first run of such a streak.
        let mut s = state.clone();
        if s.unobserved_since.is_some() {
            return (s, Vec::new());
        }
        s.unobserved_since = Some(run.started_at);
        let actions = if policy.notify {
            vec![Action::Notify(NoticeKind::Unobserved)]
        } else {
            Vec::new()
        };
        return (s, actions);
    }
    let mut s = state.clone();
    s.unobserved_since = None;
    let mut actions = Vec::new();
    let failing = policy.failing.contains(run.outcome);
    let in_maintenance = run.maintenance.is_some();
    let gap = state.last_run_at.filter(|_| run.after_gap);
    s.last_run_at = Some(run.started_at);

    let Some(mut outage) = s.outage.take() else {
        if gap.is_some() {
            // Nobody watched in between: the streak cannot be assumed to continue.
            s.failures = 0;
            s.failing_since = None;
            s.failing_in_maintenance_since = None;
        }
        match (failing, in_maintenance) {
            (true, true) => {
                s.failures = 0;
                s.failing_since = None;
                s.failing_in_maintenance_since.get_or_insert(run.started_at);
            }
            (true, false) => {
                s.failures += 1;
                let since = *s.failing_since.get_or_insert(run.started_at);
                if s.failures >= policy.failure_threshold {
                    s.outage = Some(Box::new(Outage {
                        incident_id: None,
                        started_at: since,
                        detected_at: run.started_at,
                        cause: run.clone(),
                        began_in_maintenance_at: s.failing_in_maintenance_since,
                        last_failure_at: run.started_at,
                        failing_runs: s.failures,
                        successes: 0,
                        recovering_since: None,
                        last_notified_at: now,
                        reminders: 0,
                        notified: policy.notify,
                        unobserved: None,
                    }));
                    s.failures = 0;
                    s.failing_since = None;
                    s.failing_in_maintenance_since = None;
                    actions.push(Action::OpenIncident);
                    if policy.notify {
                        actions.push(Action::Notify(NoticeKind::Opened));
                    }
                }
            }
            (false, _) => {
                s.failures = 0;
                s.failing_since = None;
                s.failing_in_maintenance_since = None;
            }
        }
        return (s, actions);
    };

    if let Some(last) = gap {
        outage.unobserved = Some((last, run.started_at));
    }
    if failing {
        outage.successes = 0;
        outage.recovering_since = None;
        outage.last_failure_at = run.started_at;
        outage.failing_runs += 1;
        let due = policy
            .reminder_every
            .is_some_and(|every| (now - outage.last_notified_at).to_std().is_ok_and(|d| d >= every));
        if due && !in_maintenance && policy.notify && outage.notified {
            outage.last_notified_at = now;
            outage.reminders += 1;
            actions.push(Action::Notify(NoticeKind::Reminder));
        }
        s.outage = Some(outage);
        return (s, actions);
    }
    outage.successes += 1;
    let ended_at = *outage.recovering_since.get_or_insert(run.started_at);
    if outage.successes < policy.success_threshold {
        s.outage = Some(outage);
        return (s, actions);
    }
    let notify = policy.notify && outage.notified;
    actions.push(Action::CloseIncident(Box::new(Closed {
        outage: *outage,
        ended_at,
        closed_at: run.started_at,
        closing_run_id: run.run_id,
    })));
    if notify {
        actions.push(Action::Notify(NoticeKind::Recovered));
    }
    (s, actions)
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
