//! Transition-by-transition tests of the outage state machine.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::alert::settings::OutcomeSet;

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).single().expect("time") + chrono::Duration::minutes(min)
}

fn run(min: i64, outcome: Outcome) -> RunFacts {
    RunFacts {
        run_id: min,
        started_at: t(min),
        outcome,
        reason: match outcome {
            Outcome::Down => Some(Reason::Connect),
            Outcome::Broken => Some(Reason::ErrorPage),
            Outcome::NoCapacity => Some(Reason::NoCapacity),
            _ => None,
        },
        failed_step: (!outcome.is_success()).then(|| "home".to_string()),
        message: None,
        message_fr: None,
        last_http_status: None,
        maintenance: None,
        step_position: None,
        excerpt: None,
        after_gap: false,
        screenshot_seq: None,
    }
}

/// A run after vigie was stopped (scheduled runs were missed).
fn after_gap(mut r: RunFacts) -> RunFacts {
    r.after_gap = true;
    r
}

fn maint(mut r: RunFacts) -> RunFacts {
    r.maintenance = Some("nuit".into());
    r
}

fn policy() -> Policy {
    Policy::default()
}

/// Feed runs in order, returning the final state and every action with the
/// minute of the run that caused it.
fn feed(p: &Policy, runs: &[RunFacts]) -> (ProbeState, Vec<(i64, Action)>) {
    let mut s = ProbeState::default();
    let mut all = Vec::new();
    for r in runs {
        let (next, actions) = step(&s, r, p, r.started_at);
        all.extend(actions.into_iter().map(|a| (r.run_id, a)));
        s = next;
    }
    (s, all)
}

fn kinds(actions: &[(i64, Action)]) -> Vec<(i64, &'static str)> {
    actions
        .iter()
        .map(|(m, a)| {
            (
                *m,
                match a {
                    Action::OpenIncident => "open",
                    Action::CloseIncident(_) => "close",
                    Action::Notify(k) => k.as_str(),
                },
            )
        })
        .collect()
}

#[test]
fn one_failure_is_not_an_outage() {
    let (s, a) = feed(&policy(), &[run(0, Outcome::Down)]);
    assert!(a.is_empty());
    assert_eq!((s.failures, s.failing_since), (1, Some(t(0))));
    assert!(s.outage.is_none());
}

#[test]
fn a_pass_resets_the_failure_streak() {
    let (s, a) = feed(&policy(), &[run(0, Outcome::Down), run(1, Outcome::Up), run(2, Outcome::Down)]);
    assert!(a.is_empty());
    assert_eq!((s.failures, s.failing_since), (1, Some(t(2))));
}

#[test]
fn threshold_failures_open_an_outage_dated_from_the_first() {
    let (s, a) = feed(&policy(), &[run(0, Outcome::Broken), run(1, Outcome::Down)]);
    assert_eq!(kinds(&a), vec![(1, "open"), (1, "opened")]);
    let o = s.outage.expect("open");
    assert_eq!((o.started_at, o.detected_at, o.failing_runs), (t(0), t(1), 2));
    assert_eq!(o.cause.outcome, Outcome::Down, "the cause is the run that reached the threshold");
    assert_eq!(s.failures, 0);
}

#[test]
fn custom_threshold_of_three() {
    let p = Policy {
        failure_threshold: 3,
        ..policy()
    };
    let (_, a) = feed(&p, &[run(0, Outcome::Down), run(1, Outcome::Down)]);
    assert!(a.is_empty());
    let (_, a) = feed(&p, &[run(0, Outcome::Down), run(1, Outcome::Down), run(2, Outcome::Down)]);
    assert_eq!(kinds(&a), vec![(2, "open"), (2, "opened")]);
}

#[test]
fn no_capacity_and_degraded_pass_unless_opted_in() {
    let runs = [run(0, Outcome::NoCapacity), run(1, Outcome::NoCapacity), run(2, Outcome::Degraded)];
    let (s, a) = feed(&policy(), &runs);
    assert!(a.is_empty() && s.failures == 0);
    let p = Policy {
        failing: OutcomeSet::default().with(Outcome::NoCapacity),
        ..policy()
    };
    let (s, a) = feed(&p, &runs);
    assert_eq!(kinds(&a), vec![(1, "open"), (1, "opened")]);
    assert_eq!(s.outage.map(|o| o.successes), Some(1), "degraded still passes");
}

#[test]
fn one_pass_during_an_outage_does_not_close_it() {
    let (s, a) = feed(
        &policy(),
        &[
            run(0, Outcome::Down),
            run(1, Outcome::Down),
            run(2, Outcome::Up),
            run(3, Outcome::Down),
        ],
    );
    assert_eq!(kinds(&a), vec![(1, "open"), (1, "opened")]);
    let o = s.outage.expect("still open");
    assert_eq!(
        (o.successes, o.recovering_since, o.last_failure_at, o.failing_runs),
        (0, None, t(3), 3)
    );
}

#[test]
fn threshold_passes_close_it_ending_at_the_first_pass() {
    let (s, a) = feed(
        &policy(),
        &[
            run(0, Outcome::Down),
            run(1, Outcome::Down),
            run(5, Outcome::Up),
            run(6, Outcome::Up),
        ],
    );
    assert_eq!(kinds(&a), vec![(1, "open"), (1, "opened"), (6, "close"), (6, "recovered")]);
    let Action::CloseIncident(c) = &a[2].1 else {
        panic!("close expected")
    };
    assert_eq!(
        (c.outage.started_at, c.ended_at, c.closed_at, c.closing_run_id),
        (t(0), t(5), t(6), 6)
    );
    assert_eq!(c.outage.last_failure_at, t(1));
    assert_eq!(
        s,
        ProbeState {
            last_run_at: Some(t(6)),
            ..ProbeState::default()
        }
    );
}

#[test]
fn reminders_are_off_by_default() {
    let runs: Vec<RunFacts> = (0..600).step_by(5).map(|m| run(m, Outcome::Down)).collect();
    let (_, a) = feed(&policy(), &runs);
    assert_eq!(kinds(&a), vec![(5, "open"), (5, "opened")]);
}

#[test]
fn reminders_every_period_while_it_lasts() {
    let p = Policy {
        reminder_every: Some(Duration::from_secs(3600)),
        ..policy()
    };
    let runs: Vec<RunFacts> = (0..=130).step_by(5).map(|m| run(m, Outcome::Down)).collect();
    let (s, a) = feed(&p, &runs);
    assert_eq!(kinds(&a), vec![(5, "open"), (5, "opened"), (65, "reminder"), (125, "reminder")]);
    assert_eq!(s.outage.map(|o| o.reminders), Some(2));
}

#[test]
fn muted_probe_records_incidents_without_notices() {
    let p = Policy { notify: false, ..policy() };
    let (_, a) = feed(
        &p,
        &[
            run(0, Outcome::Down),
            run(1, Outcome::Down),
            run(2, Outcome::Up),
            run(3, Outcome::Up),
        ],
    );
    assert_eq!(kinds(&a), vec![(1, "open"), (3, "close")]);
}

#[test]
fn failures_inside_maintenance_open_nothing() {
    let runs: Vec<RunFacts> = (0..10).map(|m| maint(run(m, Outcome::Down))).collect();
    let (s, a) = feed(&policy(), &runs);
    assert!(a.is_empty());
    assert_eq!((s.failures, s.failing_in_maintenance_since), (0, Some(t(0))));
}

#[test]
fn failure_outlasting_the_window_opens_after_it_and_remembers_the_start() {
    let runs = [
        maint(run(0, Outcome::Down)),
        maint(run(1, Outcome::Down)),
        run(2, Outcome::Down),
        run(3, Outcome::Down),
    ];
    let (s, a) = feed(&policy(), &runs);
    assert_eq!(kinds(&a), vec![(3, "open"), (3, "opened")]);
    let o = s.outage.expect("open");
    assert_eq!((o.started_at, o.began_in_maintenance_at), (t(2), Some(t(0))));
}

#[test]
fn recovery_inside_the_window_forgets_the_maintenance_failure() {
    let runs = [
        maint(run(0, Outcome::Down)),
        maint(run(1, Outcome::Up)),
        run(2, Outcome::Down),
        run(3, Outcome::Down),
    ];
    let (s, _) = feed(&policy(), &runs);
    assert_eq!(s.outage.expect("open").began_in_maintenance_at, None);
}

#[test]
fn an_open_outage_spans_a_window_and_closes_inside_it_with_its_recovery() {
    let p = Policy {
        reminder_every: Some(Duration::from_secs(60)),
        ..policy()
    };
    let runs = [
        run(0, Outcome::Down),
        run(1, Outcome::Down),
        maint(run(5, Outcome::Down)),
        maint(run(6, Outcome::Up)),
        maint(run(7, Outcome::Up)),
    ];
    let (s, a) = feed(&p, &runs);
    assert_eq!(
        kinds(&a),
        vec![(1, "open"), (1, "opened"), (7, "close"), (7, "recovered")],
        "no reminder inside the window"
    );
    assert!(s.outage.is_none());
}

#[test]
fn a_silence_breaks_a_streak_before_the_threshold() {
    // vigie was stopped between minute 0 and 30.
    let (s, a) = feed(&policy(), &[run(0, Outcome::Down), after_gap(run(30, Outcome::Down))]);
    assert!(a.is_empty());
    assert_eq!((s.failures, s.failing_since), (1, Some(t(30))));
}

#[test]
fn restart_mid_outage_continues_and_records_the_unobserved_stretch() {
    let (s, _) = feed(&policy(), &[run(0, Outcome::Down), run(1, Outcome::Down)]);
    // The state survives a restart as JSON.
    let json = serde_json::to_string(&s).expect("json");
    let restored: ProbeState = serde_json::from_str(&json).expect("parse");
    assert_eq!(restored, s);
    // The portal recovered while vigie was stopped: first runs after restart pass.
    let (s2, a) = step(&restored, &after_gap(run(60, Outcome::Up)), &policy(), t(60));
    assert!(a.is_empty());
    let (_, a) = step(&s2, &run(61, Outcome::Up), &policy(), t(61));
    assert_eq!(a.len(), 2);
    let Action::CloseIncident(c) = &a[0] else {
        panic!("close expected")
    };
    assert_eq!(c.outage.unobserved, Some((t(1), t(60))));
    assert_eq!((c.outage.last_failure_at, c.ended_at), (t(1), t(60)));
    assert_eq!(a[1], Action::Notify(NoticeKind::Recovered));
}

#[test]
fn long_scheduled_silences_are_not_gaps() {
    // A business-hours schedule: nothing ran overnight, and nothing was missed.
    let (s, _) = feed(&policy(), &[run(0, Outcome::Down), run(1, Outcome::Down), run(900, Outcome::Down)]);
    assert_eq!(s.outage.expect("still open").unobserved, None);
}

#[test]
fn the_same_run_twice_opens_once() {
    // Replaying the opening run on the resulting state (a retried batch) must
    // not announce a second outage.
    let p = policy();
    let (s, _) = feed(&p, &[run(0, Outcome::Down)]);
    let (s, a) = step(&s, &run(1, Outcome::Down), &p, t(1));
    assert_eq!(a.len(), 2);
    let (_, a) = step(&s, &run(1, Outcome::Down), &p, t(1));
    assert!(a.is_empty());
}

#[test]
fn unobserved_runs_neither_open_advance_nor_close_an_outage() {
    // Only unobserved runs (vigie's own failure, bot protection): no outage;
    // the operator hears of the streak once, at its first run.
    let runs: Vec<RunFacts> = (0..10).map(|m| run(m, Outcome::Unobserved)).collect();
    let (s, a) = feed(&policy(), &runs);
    assert_eq!(kinds(&a), vec![(0, "unobserved")]);
    assert_eq!(
        s,
        ProbeState {
            unobserved_since: Some(t(0)),
            ..ProbeState::default()
        }
    );

    // An open outage stays open through unobserved runs, with no reminder or recovery.
    let mut runs = vec![run(0, Outcome::Down), run(1, Outcome::Down)];
    runs.extend((2..10).map(|m| run(m, Outcome::Unobserved)));
    let (s, a) = feed(&policy(), &runs);
    assert_eq!(kinds(&a), vec![(1, "open"), (1, "opened"), (2, "unobserved")]);
    let outage = s.outage.expect("still open");
    assert_eq!(outage.failing_runs, 2);
    assert_eq!(outage.successes, 0);
}

#[test]
fn the_operator_hears_once_per_unobserved_streak() {
    let mut runs: Vec<RunFacts> = (0..3).map(|m| run(m, Outcome::Unobserved)).collect();
    runs.push(run(3, Outcome::Up));
    runs.extend((4..6).map(|m| run(m, Outcome::Unobserved)));
    let (s, a) = feed(&policy(), &runs);
    // One notice for each streak; the observed run in between ends the first.
    assert_eq!(kinds(&a), vec![(0, "unobserved"), (4, "unobserved")]);
    assert_eq!(s.unobserved_since, Some(t(4)));

    // A muted probe tells nobody, but the streak is still tracked.
    let muted = Policy { notify: false, ..policy() };
    let (s, a) = feed(&muted, &runs);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(s.unobserved_since, Some(t(4)));
}

#[test]
fn unobserved_cannot_be_a_failing_outcome() {
    assert!(!OutcomeSet::default().contains(Outcome::Unobserved));
}
