//! Every outcome class, with the shipped simulator probes (config/demo.yaml)
//! against the simulator over real sockets, faults switched at run time.

mod support;

use std::time::Duration;

use support::*;
use vigie::probe::{Outcome, Reason, StepStatus};

#[tokio::test]
async fn shipped_probes_are_up_on_a_healthy_simulator() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    for name in ["sim-anef-accueil", "sim-anef-creation-compte", "sim-anef-depot-document"] {
        let r = run(&cfg, name).await;
        assert_eq!(r.outcome, Outcome::Up, "{name}: {}", describe(&r));
        assert!(r.steps.iter().all(|s| s.status == StepStatus::Passed), "{name}: {}", describe(&r));
    }
    let counters = sim.state().counters;
    assert_eq!(
        counters.accounts_created, 1,
        "the account creation reached the confirmation page once"
    );
    assert_eq!(counters.uploads_accepted, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn no_slot_is_no_capacity_and_slots_are_counted() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    patch(&sim, r#"{"prefecture_slots": 0}"#);
    let r = run(&cfg, "sim-prefecture-rdv").await;
    assert_eq!(r.outcome, Outcome::NoCapacity, "{}", describe(&r));
    assert_eq!(r.reason, Some(Reason::NoCapacity));
    assert_eq!(r.failed_step.as_deref(), Some("creneaux"));
    assert_eq!(r.observations().collect::<Vec<_>>(), vec![("appointment_slots", 0.0)]);
    let capture = r
        .deciding_step()
        .and_then(|s| s.capture.as_ref())
        .expect("a no-slot page is captured");
    assert!(String::from_utf8_lossy(&capture.body).contains("Il n'existe plus de plage horaire libre"));

    patch(&sim, r#"{"prefecture_slots": 3}"#);
    let r = run(&cfg, "sim-prefecture-rdv").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    let obs: Vec<(&str, f64)> = r.observations().collect();
    assert_eq!(obs[0], ("appointment_slots", 3.0));
    assert_eq!(obs[1].0, "first_free_date");
    let first = obs[1].1 as i64;
    let now = chrono::Utc::now().timestamp();
    assert!(
        first > now && first < now + 20 * 86400,
        "first free date {first} should be within days"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn technical_error_page_with_status_200_is_broken() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    patch(&sim, r#"{"routes": {"register": {"mode": "error_page"}}}"#);
    let r = run(&cfg, "sim-anef-creation-compte").await;
    assert_eq!(r.outcome, Outcome::Broken, "{}", describe(&r));
    assert_eq!(r.reason, Some(Reason::ErrorPage));
    // The app's shell loads; its account-creation API answers the error page with 200.
    assert_eq!(r.steps[0].status, StepStatus::Passed);
    assert_eq!(r.failed_step.as_deref(), Some("envoi"));
    assert_eq!(r.steps[1].http_status, Some(200), "the portal said 200 while showing an error");
    sim.shutdown().await;
}

#[tokio::test]
async fn rejected_upload_is_broken_with_upload_rejected() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    patch(&sim, r#"{"upload": "reject"}"#);
    let r = run(&cfg, "sim-anef-depot-document").await;
    assert_eq!(r.outcome, Outcome::Broken, "{}", describe(&r));
    assert_eq!(r.reason, Some(Reason::UploadRejected));
    assert_eq!(r.failed_step.as_deref(), Some("depot"));
    assert_eq!(sim.state().counters.uploads_rejected, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn unreachable_portal_is_down_with_connect() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    patch(&sim, r#"{"sites": {"portal": {"down": true}}}"#);
    let r = run(&cfg, "sim-anef-accueil").await;
    assert_eq!(r.outcome, Outcome::Down, "{}", describe(&r));
    assert_eq!(r.reason, Some(Reason::Connect));
    assert_eq!(r.failed_step.as_deref(), Some("accueil"));
    // Back on the same port: the next run is up again.
    patch(&sim, r#"{"sites": {"portal": {"down": false}}}"#);
    let r = run(&cfg, "sim-anef-accueil").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    sim.shutdown().await;
}

#[tokio::test]
async fn maintenance_page_503_is_down_with_http_5xx() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    patch(&sim, r#"{"routes": {"conditions": {"mode": "maintenance"}}}"#);
    let r = run(&cfg, "sim-prefecture-rdv").await;
    assert_eq!(r.outcome, Outcome::Down, "{}", describe(&r));
    assert_eq!(r.reason, Some(Reason::Http5xx));
    assert_eq!(r.steps[0].http_status, Some(503));
    let capture = r.steps[0].capture.as_ref().expect("failing page captured");
    assert!(capture.text_excerpt(300).contains("maintenance"), "{}", capture.text_excerpt(300));
    sim.shutdown().await;
}

#[tokio::test]
async fn captcha_stops_the_run_without_failing_it() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    let r = run(&cfg, "sim-rdv-prefecture").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    assert_eq!(r.captcha_step.as_deref(), Some("cgu"));
    assert_eq!(r.steps[0].status, StepStatus::Captcha);
    // Nothing was posted to the form that carries the CAPTCHA: vigie never tries to solve it.
    assert!(!sim.requests().iter().any(|q| q.method == "POST" && q.path.contains("/cgu/")));

    // With the CAPTCHA off (a simulator-only switch), the probe reads the slot page.
    patch(&sim, r#"{"captcha": false, "rdv_slots": 0}"#);
    let r = run(&cfg, "sim-rdv-prefecture").await;
    assert_eq!(r.outcome, Outcome::NoCapacity, "{}", describe(&r));
    patch(&sim, r#"{"rdv_slots": 2}"#);
    let r = run(&cfg, "sim-rdv-prefecture").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    assert_eq!(r.observations().next(), Some(("appointment_slots", 2.0)));
    assert!(r.observations().any(|(n, v)| n == "first_free_date" && v > 1.7e9));
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_pages_are_degraded_but_complete() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe(
        "slow",
        r#"
name: slow
title: Slow home page
target: anef-sim
schedule: "* * * * *"
degraded_after: 300ms
steps:
  - name: accueil
    request: { url: "{{ base_url }}/particuliers/" }
    expect: { status: 200 }
"#,
    );
    let cfg = ws.load();
    let r = run(&cfg, "slow").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    patch(&sim, r#"{"routes": {"home": {"delay_ms": 450}}}"#);
    let r = run(&cfg, "slow").await;
    assert_eq!(r.outcome, Outcome::Degraded, "{}", describe(&r));
    assert_eq!(r.reason, Some(Reason::Slow));
    assert!(r.duration >= Duration::from_millis(450));
    sim.shutdown().await;
}

#[tokio::test]
async fn secrets_never_appear_in_results() {
    let sim = start_sim().await;
    let cfg = shipped_demo_config(&sim);
    // A failing login keeps the page (evidence): the password must not be in it.
    let r = run(&cfg, "sim-anef-depot-document").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    let json = serde_json::to_string(&r).expect("serialize");
    assert!(!json.contains(vigie::sim::TEST_PASSWORD), "the password leaked into the result");
    for s in &r.steps {
        for x in &s.extracted {
            if x.secret {
                assert_eq!(x.shown, "«redacted»");
            }
        }
    }
    sim.shutdown().await;
}
