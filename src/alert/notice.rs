//! Notices: the facts an e-mail tells, frozen when the state machine decides
//! (so an e-mail sent after a restart says exactly what was true then), and
//! the grouping of pending notices into e-mails.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use super::machine::{Closed, NoticeKind, Outage, RunFacts};
use super::settings::Policy;
use crate::probe::{Outcome, Probe, Reason, RunResult, StepStatus};

/// Steps shown in an e-mail's trace.
const TRACE_STEPS: usize = 12;

/// Characters of page text quoted in an e-mail.
const EMAIL_EXCERPT_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub probe: String,
    pub title: String,
    pub procedure: String,
    pub site: String,
    pub target: String,
    pub location: String,
    pub incident_id: i64,
    pub started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub last_failure_at: DateTime<Utc>,
    pub began_in_maintenance_at: Option<DateTime<Utc>>,
    pub unobserved: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub failure_threshold: u32,
    pub failing_runs: u32,
    /// What made it an outage (with its failing step's position and excerpt).
    pub cause: RunFacts,
    /// The run this notice follows (the opening, reminding or closing run).
    pub trace_at: DateTime<Utc>,
    pub trace: Vec<TraceLine>,
    /// When the decision was taken.
    pub created_at: DateTime<Utc>,
}

/// One line of the step-by-step trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceLine {
    pub step: String,
    pub status: StepStatus,
    pub method: String,
    pub url: Option<String>,
    pub http_status: Option<u16>,
    pub duration_s: f64,
    pub reason: Option<Reason>,
    /// The requests the step sent when a redirect was followed (redacted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<crate::probe::Hop>,
}

impl TraceLine {
    pub fn of(run: &RunResult) -> Vec<TraceLine> {
        run.steps
            .iter()
            .take(TRACE_STEPS)
            .map(|s| TraceLine {
                step: s.name.clone(),
                status: s.status,
                method: s.method.clone(),
                url: s.url.clone(),
                http_status: s.http_status,
                duration_s: s.duration.as_secs_f64(),
                reason: s.reason,
                chain: s.chain.clone(),
            })
            .collect()
    }
}

/// The failing step's excerpt and its position in the run.
pub fn failing_step_details(run: &RunResult) -> (Option<String>, Option<(usize, usize)>) {
    let Some(name) = &run.failed_step else {
        return (None, None);
    };
    let Some(i) = run.steps.iter().position(|s| &s.name == name) else {
        return (None, None);
    };
    let excerpt = run.steps[i]
        .capture
        .as_ref()
        .map(|c| c.text_excerpt(EMAIL_EXCERPT_CHARS))
        .filter(|e| !e.trim().is_empty());
    (excerpt, Some((i + 1, run.steps.len())))
}

/// Whether vigie missed at least two scheduled runs of `probe` between its
/// previous run (started at `last`) and `r`: it was not running. One missed
/// run is tolerated (a run skipped because the previous one overran).
pub fn missed_runs(probe: &Probe, last: DateTime<Utc>, r: &RunResult) -> bool {
    let this = r.scheduled_at.unwrap_or(r.started_at) - chrono::Duration::seconds(1);
    probe.schedule.next_times(last, 2).into_iter().filter(|t| *t < this).count() >= 2
}

/// The state machine's view of a stored run.
pub fn facts(run_id: i64, r: &RunResult, maintenance: Option<&str>, after_gap: bool) -> RunFacts {
    let (excerpt, step_position) = failing_step_details(r);
    RunFacts {
        run_id,
        // At the store's precision, so e-mails and incidents give the same durations.
        started_at: crate::store::from_ms(crate::store::to_ms(r.started_at)),
        outcome: r.outcome,
        reason: r.reason,
        failed_step: r.failed_step.clone(),
        message: r.message.clone(),
        message_fr: r.message_fr(),
        last_http_status: r.last_http_status(),
        maintenance: maintenance.map(str::to_string),
        step_position,
        excerpt,
        after_gap,
        screenshot_seq: None,
    }
}

/// What the machine's outage and the run say, for the notice of `kind`.
pub struct NoticeInput<'a> {
    pub kind: NoticeKind,
    pub probe: &'a Probe,
    pub location: &'a str,
    pub policy: &'a Policy,
    pub outage: &'a Outage,
    pub closed: Option<&'a Closed>,
    /// The run that caused the notice.
    pub run: &'a RunResult,
    pub now: DateTime<Utc>,
}

impl Notice {
    pub fn build(i: NoticeInput) -> Notice {
        let o = i.outage;
        Notice {
            kind: i.kind,
            probe: i.probe.name.clone(),
            title: i.probe.title.clone(),
            procedure: i.probe.labels.procedure.clone(),
            site: i.probe.labels.site.clone(),
            target: i.probe.target.name.clone(),
            location: i.location.to_string(),
            incident_id: o.incident_id.unwrap_or_default(),
            started_at: o.started_at,
            detected_at: o.detected_at,
            ended_at: i.closed.map(|c| c.ended_at),
            last_failure_at: o.last_failure_at,
            began_in_maintenance_at: o.began_in_maintenance_at,
            unobserved: o.unobserved,
            failure_threshold: i.policy.failure_threshold,
            failing_runs: o.failing_runs,
            cause: o.cause.clone(),
            trace_at: i.run.started_at,
            trace: TraceLine::of(i.run),
            created_at: i.now,
        }
    }

    /// The notice of the first run of an `unobserved` streak (bot protection,
    /// vigie's own failure): no outage, no incident; for the operator.
    pub fn unobserved(probe: &Probe, location: &str, policy: &Policy, cause: &RunFacts, run: &RunResult, now: DateTime<Utc>) -> Notice {
        Notice {
            kind: NoticeKind::Unobserved,
            probe: probe.name.clone(),
            title: probe.title.clone(),
            procedure: probe.labels.procedure.clone(),
            site: probe.labels.site.clone(),
            target: probe.target.name.clone(),
            location: location.to_string(),
            incident_id: 0,
            started_at: cause.started_at,
            detected_at: cause.started_at,
            ended_at: None,
            last_failure_at: cause.started_at,
            began_in_maintenance_at: None,
            unobserved: None,
            failure_threshold: policy.failure_threshold,
            failing_runs: 1,
            cause: cause.clone(),
            trace_at: run.started_at,
            trace: TraceLine::of(run),
            created_at: now,
        }
    }

    /// The outage's length: to its end, or to the notice for a reminder.
    pub fn duration(&self) -> std::time::Duration {
        let end = self.ended_at.unwrap_or(self.created_at);
        (end - self.started_at).to_std().unwrap_or_default()
    }

    pub fn outcome(&self) -> Outcome {
        self.cause.outcome
    }
}

/// One e-mail to write: its kind, who gets it and what it lists.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEmail {
    pub kind: NoticeKind,
    pub recipients: Vec<Mailbox>,
    /// Pending notification ids and their notices, oldest outage first.
    pub notices: Vec<(i64, Notice)>,
}

/// Whether the pending notices of `kind` have waited out the grouping
/// window: the window opens with the oldest one.
pub fn due(pending: &[(i64, Notice)], kind: NoticeKind, window: std::time::Duration, now: DateTime<Utc>) -> bool {
    pending
        .iter()
        .filter(|(_, n)| n.kind == kind)
        .map(|(_, n)| n.created_at)
        .min()
        .is_some_and(|oldest| (now - oldest).to_std().is_ok_and(|d| d >= window))
}

/// Turn the pending notices of one kind into e-mails: each person gets one
/// e-mail listing everything that concerns them, and people concerned by the
/// same notices share it. Notices nobody would receive go in one e-mail with
/// no recipient (the mailer addresses it to the sender).
pub fn plan(kind: NoticeKind, pending: &[(i64, Notice)], recipients_of: impl Fn(&Notice) -> Vec<Mailbox>) -> Vec<PlannedEmail> {
    let items: Vec<&(i64, Notice)> = pending.iter().filter(|(_, n)| n.kind == kind).collect();
    // Address -> (mailbox as first written, the notices it hears about).
    let mut by_address: BTreeMap<String, (Mailbox, BTreeSet<i64>)> = BTreeMap::new();
    let mut nobody: BTreeSet<i64> = BTreeSet::new();
    for (id, n) in &items {
        let rcpts = recipients_of(n);
        if rcpts.is_empty() {
            nobody.insert(*id);
        }
        for m in rcpts {
            by_address
                .entry(m.email.to_string())
                .or_insert_with(|| (m.clone(), BTreeSet::new()))
                .1
                .insert(*id);
        }
    }
    let mut groups: BTreeMap<BTreeSet<i64>, Vec<Mailbox>> = BTreeMap::new();
    for (_, (m, ids)) in by_address {
        groups.entry(ids).or_default().push(m);
    }
    if !nobody.is_empty() {
        groups.entry(nobody).or_default();
    }
    let mut out: Vec<PlannedEmail> = groups
        .into_iter()
        .map(|(ids, recipients)| {
            let mut notices: Vec<(i64, Notice)> = items.iter().filter(|(id, _)| ids.contains(id)).map(|x| (*x).clone()).collect();
            notices.sort_by(|a, b| (a.1.started_at, &a.1.probe).cmp(&(b.1.started_at, &b.1.probe)));
            PlannedEmail { kind, recipients, notices }
        })
        .collect();
    out.sort_by_key(|e| e.notices.first().map(|(id, _)| *id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn notice(probe: &str, kind: NoticeKind, created_s: i64) -> Notice {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).single().expect("t0");
        let at = t0 + chrono::Duration::seconds(created_s);
        Notice {
            kind,
            probe: probe.into(),
            title: probe.into(),
            procedure: if probe.starts_with("rdv") {
                "titre-sejour".into()
            } else {
                "compte".into()
            },
            site: "s".into(),
            target: "t".into(),
            location: "l".into(),
            incident_id: 1,
            started_at: at,
            detected_at: at,
            ended_at: None,
            last_failure_at: at,
            began_in_maintenance_at: None,
            unobserved: None,
            failure_threshold: 2,
            failing_runs: 2,
            cause: RunFacts {
                run_id: 1,
                started_at: at,
                outcome: Outcome::Down,
                reason: Some(Reason::Connect),
                failed_step: Some("home".into()),
                message: None,
                message_fr: None,
                last_http_status: None,
                maintenance: None,
                step_position: Some((1, 1)),
                excerpt: None,
                after_gap: false,
                screenshot_seq: None,
            },
            trace_at: at,
            trace: vec![],
            created_at: at,
        }
    }

    fn mb(s: &str) -> Mailbox {
        s.parse().expect("mailbox")
    }

    #[test]
    fn missed_scheduled_runs_mean_vigie_was_not_running() {
        // Every minute; the previous run started 3 ms after its schedule.
        let p = crate::alert::testutil::probe("rdv", "RDV", "titre-sejour");
        let t0 = crate::alert::testutil::t0();
        let last = t0 + chrono::Duration::milliseconds(3);
        let at = |min: i64| crate::alert::testutil::run(&p, t0 + chrono::Duration::minutes(min), Outcome::Up);
        assert!(!missed_runs(&p, last, &at(1)), "the next scheduled run");
        assert!(!missed_runs(&p, last, &at(2)), "one skipped run is tolerated");
        assert!(missed_runs(&p, last, &at(3)));
        assert!(missed_runs(&p, last, &at(600)));
    }

    #[test]
    fn the_window_opens_with_the_oldest_notice_of_the_kind() {
        let pending = vec![(1, notice("a", NoticeKind::Opened, 0)), (2, notice("b", NoticeKind::Opened, 90))];
        let t0 = pending[0].1.created_at;
        let w = std::time::Duration::from_secs(120);
        assert!(!due(&pending, NoticeKind::Opened, w, t0 + chrono::Duration::seconds(119)));
        assert!(due(&pending, NoticeKind::Opened, w, t0 + chrono::Duration::seconds(120)));
        assert!(!due(&pending, NoticeKind::Recovered, w, t0 + chrono::Duration::seconds(500)));
    }

    #[test]
    fn one_email_per_distinct_audience() {
        let pending = vec![
            (1, notice("rdv-a", NoticeKind::Opened, 0)),
            (2, notice("compte-b", NoticeKind::Opened, 5)),
            (3, notice("rdv-c", NoticeKind::Opened, 10)),
            (4, notice("rdv-c", NoticeKind::Recovered, 10)),
        ];
        // Everyone hears about everything, the lawyer only about titre-sejour.
        let recipients = |n: &Notice| {
            let mut v = vec![mb("veille@asso.example")];
            if n.procedure == "titre-sejour" {
                v.push(mb("Juriste <juriste@asso.example>"));
            }
            v
        };
        let emails = plan(NoticeKind::Opened, &pending, recipients);
        assert_eq!(emails.len(), 2);
        let all = emails.iter().find(|e| e.notices.len() == 3).expect("everything e-mail");
        assert_eq!(all.recipients, vec![mb("veille@asso.example")]);
        let lawyer = emails.iter().find(|e| e.notices.len() == 2).expect("lawyer e-mail");
        assert_eq!(lawyer.recipients, vec![mb("Juriste <juriste@asso.example>")]);
        let probes: Vec<&str> = lawyer.notices.iter().map(|(_, n)| n.probe.as_str()).collect();
        assert_eq!(probes, vec!["rdv-a", "rdv-c"]);
    }

    #[test]
    fn same_audience_shares_one_email_and_nobody_still_gets_a_file() {
        let pending = vec![
            (1, notice("a", NoticeKind::Recovered, 0)),
            (2, notice("b", NoticeKind::Recovered, 1)),
        ];
        let both = plan(NoticeKind::Recovered, &pending, |_| vec![mb("a@x.example"), mb("b@x.example")]);
        assert_eq!(both.len(), 1);
        assert_eq!(both[0].recipients.len(), 2);
        assert_eq!(both[0].notices.len(), 2);
        let none = plan(NoticeKind::Recovered, &pending, |_| vec![]);
        assert_eq!(none.len(), 1);
        assert!(none[0].recipients.is_empty());
    }
}
