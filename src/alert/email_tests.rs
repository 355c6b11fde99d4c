//! Golden files of every kind of e-mail, rendered from notices built the way
//! the writer builds them (state machine included), with fixed times.
//! `tests/golden/<name>.txt` holds the subject and the plain text,
//! `<name>.html` the HTML alternative. Rewrite with VIGIE_BLESS=1 and read
//! the diff: the point is that a person checked each e-mail once.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::alert::email::{assemble, render, Envelope, RenderSettings};
use crate::alert::machine::{self, Action, NoticeKind, ProbeState};
use crate::alert::notice::{self, Notice, NoticeInput};
use crate::alert::settings::{Language, OutcomeSet, Policy};
use crate::alert::testutil::{probe, run, t0};
use crate::probe::{Outcome, Probe, RunResult};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn check(name: &str, ext: &str, got: &str) {
    let path = golden_dir().join(format!("{name}.{ext}"));
    if std::env::var_os("VIGIE_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).expect("golden dir");
        std::fs::write(&path, got).expect("bless");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {} (run with VIGIE_BLESS=1)", path.display()));
    assert!(
        want == got,
        "{} differs from the rendered e-mail:\n--- golden\n{want}\n--- rendered\n{got}",
        path.display()
    );
}

fn settings(language: Language, links: bool) -> RenderSettings {
    RenderSettings {
        language,
        timezone: chrono_tz::Europe::Paris,
        status_page_url: links.then(|| "https://veille.asso.example/etat".to_string()),
        evidence_url: None,
        grafana_url: links.then(|| "https://grafana.asso.example/d/vigie".to_string()),
    }
}

fn at(min: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(min)
}

/// Feed `(minute, outcome, maintenance)` runs through the state machine and
/// collect the notices it would write.
fn notices(p: &Probe, policy: &Policy, runs: &[(i64, Outcome, bool)]) -> Vec<Notice> {
    let mut state = ProbeState::default();
    let mut out = Vec::new();
    for (i, (min, outcome, maint)) in runs.iter().enumerate() {
        let r: RunResult = run(p, at(*min), *outcome);
        let window = maint.then_some("maintenance-dimanche");
        // vigie was stopped when two consecutive runs are more than an hour apart.
        let after_gap = i > 0 && min - runs[i - 1].0 > 60;
        let facts = notice::facts(i as i64 + 1, &r, window, after_gap);
        let (mut next, actions) = machine::step(&state, &facts, policy, at(*min));
        let mut closing = None;
        for a in actions {
            match a {
                Action::OpenIncident => {
                    if let Some(o) = next.outage.as_mut() {
                        o.incident_id = Some(42);
                    }
                }
                Action::CloseIncident(c) => closing = Some(c),
                Action::Notify(NoticeKind::Unobserved) => {
                    out.push(Notice::unobserved(p, "paris-bureau", policy, &facts, &r, at(*min)));
                }
                Action::Notify(kind) => {
                    let outage = closing.as_ref().map(|c| &c.outage).or(next.outage.as_deref()).expect("outage");
                    out.push(Notice::build(NoticeInput {
                        kind,
                        probe: p,
                        location: "paris-bureau",
                        policy,
                        outage,
                        closed: closing.as_deref(),
                        run: &r,
                        now: at(*min),
                    }));
                }
            }
        }
        state = next;
    }
    out
}

fn rdv() -> std::sync::Arc<Probe> {
    probe(
        "prefecture-rdv-titre-sejour",
        "Préfecture de démo : créneau titre de séjour",
        "titre-sejour-renouvellement",
    )
}

fn anef() -> std::sync::Arc<Probe> {
    probe("anef-accueil", "ANEF : page d'accueil", "anef-compte")
}

fn golden(name: &str, s: &RenderSettings, kind: NoticeKind, ns: &[&Notice]) {
    let r = render(s, kind, ns).expect("render");
    check(name, "txt", &format!("Subject: {}\n\n{}", r.subject, r.text));
    check(name, "html", &r.html);
}

fn outage_then_recovery(p: &Probe, outcome: Outcome) -> Vec<Notice> {
    notices(
        p,
        &Policy::default(),
        &[
            (0, outcome, false),
            (2, outcome, false),
            (14, Outcome::Up, false),
            (16, Outcome::Up, false),
        ],
    )
}

#[test]
fn opened_and_recovered_in_french() {
    let ns = outage_then_recovery(&rdv(), Outcome::Down);
    assert_eq!(
        ns.iter().map(|n| n.kind).collect::<Vec<_>>(),
        vec![NoticeKind::Opened, NoticeKind::Recovered]
    );
    golden("opened-fr", &settings(Language::Fr, true), NoticeKind::Opened, &[&ns[0]]);
    golden("recovered-fr", &settings(Language::Fr, true), NoticeKind::Recovered, &[&ns[1]]);
}

#[test]
fn broken_and_no_capacity_without_links() {
    let ns = outage_then_recovery(&rdv(), Outcome::Broken);
    golden("opened-broken-fr", &settings(Language::Fr, false), NoticeKind::Opened, &[&ns[0]]);
    let policy = Policy {
        failing: OutcomeSet::default().with(Outcome::NoCapacity),
        ..Policy::default()
    };
    let ns = notices(
        &rdv(),
        &policy,
        &[(0, Outcome::NoCapacity, false), (15, Outcome::NoCapacity, false)],
    );
    golden(
        "opened-no-capacity-fr",
        &settings(Language::Fr, false),
        NoticeKind::Opened,
        &[&ns[0]],
    );
}

#[test]
fn english_by_configuration() {
    let ns = outage_then_recovery(&rdv(), Outcome::Down);
    golden("opened-en", &settings(Language::En, true), NoticeKind::Opened, &[&ns[0]]);
    golden("recovered-en", &settings(Language::En, true), NoticeKind::Recovered, &[&ns[1]]);
}

#[test]
fn reminder() {
    let policy = Policy {
        reminder_every: Some(std::time::Duration::from_secs(4 * 3600)),
        ..Policy::default()
    };
    let runs: Vec<(i64, Outcome, bool)> = (0..=250).step_by(5).map(|m| (m, Outcome::Down, false)).collect();
    let ns = notices(&rdv(), &policy, &runs);
    assert_eq!(
        ns.iter().map(|n| n.kind).collect::<Vec<_>>(),
        vec![NoticeKind::Opened, NoticeKind::Reminder]
    );
    golden("reminder-fr", &settings(Language::Fr, false), NoticeKind::Reminder, &[&ns[1]]);
}

#[test]
fn grouped_opening_and_recovery() {
    let a = outage_then_recovery(&rdv(), Outcome::Down);
    let b = outage_then_recovery(&anef(), Outcome::Broken);
    let c = outage_then_recovery(
        &probe(
            "prefecture-rdv-naturalisation",
            "Préfecture de démo : créneau naturalisation",
            "naturalisation",
        ),
        Outcome::Down,
    );
    golden(
        "opened-grouped-fr",
        &settings(Language::Fr, true),
        NoticeKind::Opened,
        &[&a[0], &b[0], &c[0]],
    );
    golden(
        "recovered-grouped-fr",
        &settings(Language::Fr, true),
        NoticeKind::Recovered,
        &[&a[1], &b[1]],
    );
    golden(
        "opened-grouped-en",
        &settings(Language::En, false),
        NoticeKind::Opened,
        &[&a[0], &b[0]],
    );
}

#[test]
fn failure_that_began_in_maintenance_and_recovery_after_a_stop() {
    let ns = notices(
        &rdv(),
        &Policy::default(),
        &[
            (0, Outcome::Down, true),
            (5, Outcome::Down, true),
            (10, Outcome::Down, false),
            (12, Outcome::Down, false),
        ],
    );
    golden(
        "opened-after-maintenance-fr",
        &settings(Language::Fr, false),
        NoticeKind::Opened,
        &[&ns[0]],
    );
    // vigie was stopped from minute 2 to minute 180; the portal was back by then.
    let ns = notices(
        &rdv(),
        &Policy::default(),
        &[
            (0, Outcome::Down, false),
            (2, Outcome::Down, false),
            (180, Outcome::Up, false),
            (181, Outcome::Up, false),
        ],
    );
    golden(
        "recovered-after-stop-fr",
        &settings(Language::Fr, false),
        NoticeKind::Recovered,
        &[&ns[1]],
    );
}

#[test]
fn the_assembled_message_is_stable_and_multipart() {
    let ns = outage_then_recovery(&rdv(), Outcome::Down);
    let r = render(&settings(Language::Fr, true), NoticeKind::Opened, &[&ns[0]]).expect("render");
    let from = "vigie <vigie@asso.example>".parse().expect("from");
    let to = vec!["Veille <veille@asso.example>".parse().expect("to")];
    let e = Envelope {
        from: &from,
        to: &to,
        message_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0@asso.example",
        date: at(2),
        kind: NoticeKind::Opened,
    };
    let a = assemble(&r, &e).expect("assemble");
    let b = assemble(&r, &e).expect("assemble");
    assert_eq!(a, b, "the same outbox row always gives the same bytes");
    let text = String::from_utf8(a).expect("utf-8");
    check("opened-fr.message", "txt", &text);
    for needle in [
        "Message-ID: <0f1e2d3c4b5a69788796a5b4c3d2e1f0@asso.example>",
        "Auto-Submitted: auto-generated",
        "multipart/alternative",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
}

/// A run refused by bot protection (an Imperva block page).
fn blocked(p: &Probe, min: i64) -> RunResult {
    let mut r = run(p, at(min), Outcome::Unobserved);
    r.reason = Some(crate::probe::Reason::Blocked);
    r.message = Some(
        "bot protection page (Imperva: the page contains « Incapsula incident ID ») at https://rdv.prefecture-demo.example/booking/slots"
            .into(),
    );
    let slots = &mut r.steps[1];
    slots.reason = Some(crate::probe::Reason::Blocked);
    slots.http_status = Some(403);
    slots.capture = Some(crate::probe::result::PageCapture {
        url: "https://rdv.prefecture-demo.example/booking/slots".into(),
        status: 403,
        headers: vec![],
        body: b"<html><body>Request unsuccessful. Incapsula incident ID: 1234-5678</body></html>".to_vec(),
        truncated: false,
        received_at: at(min),
    });
    r
}

#[test]
fn unobserved_streaks_tell_the_operator_once() {
    let p = rdv();
    let policy = Policy::default();
    let mut state = ProbeState::default();
    let mut out = Vec::new();
    for (i, min) in [0, 15, 30].into_iter().enumerate() {
        let r = blocked(&p, min);
        let facts = notice::facts(i as i64 + 1, &r, None, false);
        let (next, actions) = machine::step(&state, &facts, &policy, at(min));
        for a in actions {
            assert_eq!(a, Action::Notify(NoticeKind::Unobserved));
            out.push(Notice::unobserved(&p, "paris-bureau", &policy, &facts, &r, at(min)));
        }
        state = next;
    }
    assert_eq!(out.len(), 1, "once per streak");
    golden(
        "unobserved-blocked-fr",
        &settings(Language::Fr, false),
        NoticeKind::Unobserved,
        &[&out[0]],
    );

    let ns = notices(
        &anef(),
        &policy,
        &[(0, Outcome::Unobserved, false), (5, Outcome::Unobserved, false)],
    );
    assert_eq!(ns.len(), 1);
    golden(
        "unobserved-monitor-en",
        &settings(Language::En, false),
        NoticeKind::Unobserved,
        &[&ns[0]],
    );
}
