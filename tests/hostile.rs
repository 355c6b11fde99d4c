//! Hostile or broken responses hit a limit and are classified; the runner
//! never crashes or hangs: huge bodies, trickling and hanging servers, resets,
//! invalid UTF-8, endless redirects, a TLS handshake with a plain-HTTP
//! server, an unknown host, server errors.

mod support;

use std::time::{Duration, Instant};

use support::*;
use vigie::probe::{Outcome, Reason};

fn home_probe(extra_request: &str, expect: &str) -> String {
    format!(
        "name: hostile\ntitle: Hostile\ntarget: anef-sim\nschedule: \"* * * * *\"\ntimeout: 10s\nsteps:\n  - name: home\n    request: {{ url: \"{{{{ base_url }}}}/particuliers/\"{extra_request} }}\n    expect: {{ {expect} }}\n"
    )
}

async fn run_with_mode(mode: &str, extra_request: &str, expect: &str) -> (vigie::probe::RunResult, Duration) {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe("hostile", &home_probe(extra_request, expect));
    let cfg = ws.load();
    patch(&sim, &format!(r#"{{"routes": {{"home": {{"mode": "{mode}"}}}}}}"#));
    let t0 = Instant::now();
    let r = run(&cfg, "hostile").await;
    let took = t0.elapsed();
    sim.shutdown().await;
    (r, took)
}

#[tokio::test]
async fn huge_body_hits_the_cap() {
    let (r, _) = run_with_mode("huge", ", max_body: 256KiB", "status: 200").await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Broken, Some(Reason::BodyTooLarge)),
        "{}",
        describe(&r)
    );
}

#[tokio::test]
async fn trickling_server_times_out() {
    let (r, took) = run_with_mode("trickle", ", timeout: 1500ms", "status: 200").await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Timeout)), "{}", describe(&r));
    assert!(took < Duration::from_secs(8), "the step timeout bounds the run ({took:?})");
}

#[tokio::test]
async fn hanging_server_times_out() {
    let (r, took) = run_with_mode("hang", ", timeout: 1s", "status: 200").await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Timeout)), "{}", describe(&r));
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[tokio::test]
async fn reset_connection_is_classified() {
    let (r, _) = run_with_mode("reset", "", "status: 200").await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Down, Some(Reason::ConnectionReset)),
        "{}",
        describe(&r)
    );
}

#[tokio::test]
async fn invalid_utf8_is_read_lossily_and_checked() {
    let (r, _) = run_with_mode("bad_utf8", "", "status: 200").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    let (r, _) = run_with_mode("bad_utf8", "", "body_contains: \"introuvable-nulle-part\"").await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Broken, Some(Reason::Assertion)),
        "{}",
        describe(&r)
    );
}

#[tokio::test]
async fn endless_redirects_stop_at_the_hop_limit() {
    let (r, _) = run_with_mode("redirect_loop", ", max_redirects: 5", "status: 200").await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Broken, Some(Reason::TooManyRedirects)),
        "{}",
        describe(&r)
    );
}

#[tokio::test]
async fn server_errors_are_down() {
    for mode in ["server_error", "bad_gateway", "maintenance"] {
        let (r, _) = run_with_mode(mode, "", "status: 200").await;
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Down, Some(Reason::Http5xx)),
            "{mode}: {}",
            describe(&r)
        );
    }
}

#[tokio::test]
async fn a_5xx_the_probe_expects_is_not_a_failure() {
    let (r, _) = run_with_mode("maintenance", "", "status: 503, body_contains: maintenance").await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
}

#[tokio::test]
async fn tls_against_a_plain_http_server_is_tls() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    let https = sim.portal_url().replace("http://", "https://");
    ws.write_config(&sim, &format!("  tls-target: {{ base_url: \"{https}\", min_interval: 1ms }}\n"));
    ws.write_probe("tls", "name: tls\ntitle: TLS\ntarget: tls-target\nschedule: \"* * * * *\"\nsteps:\n  - name: home\n    request: { url: \"{{ base_url }}/particuliers/\", timeout: 5s }\n");
    let cfg = ws.load();
    let r = run(&cfg, "tls").await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Tls)), "{}", describe(&r));
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_host_is_dns() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    // RFC 6761: names under .invalid never resolve.
    ws.write_config(
        &sim,
        "  nowhere: { base_url: \"http://portail.vigie-test.invalid\", min_interval: 1ms }\n",
    );
    ws.write_probe("dns", "name: dns\ntitle: DNS\ntarget: nowhere\nschedule: \"* * * * *\"\nsteps:\n  - name: home\n    request: { url: \"{{ base_url }}/\", timeout: 10s }\n");
    let cfg = ws.load();
    let r = run(&cfg, "dns").await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Dns)), "{}", describe(&r));
    sim.shutdown().await;
}

#[tokio::test]
async fn run_timeout_bounds_all_steps_together() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe(
        "slow-steps",
        "name: slow-steps\ntitle: Slow steps\ntarget: anef-sim\nschedule: \"* * * * *\"\ntimeout: 1s\nsteps:\n  - name: one\n    request: { url: \"{{ base_url }}/particuliers/\" }\n  - name: two\n    request: { url: \"{{ base_url }}/particuliers/\" }\n  - name: three\n    request: { url: \"{{ base_url }}/particuliers/\" }\n",
    );
    let cfg = ws.load();
    patch(&sim, r#"{"routes": {"home": {"delay_ms": 400}}}"#);
    let r = run(&cfg, "slow-steps").await;
    assert_eq!(
        (r.outcome, r.reason, r.failed_step.as_deref()),
        (Outcome::Down, Some(Reason::Timeout), Some("three")),
        "{}",
        describe(&r)
    );
    assert!(r.duration < Duration::from_millis(1500), "{:?}", r.duration);
    sim.shutdown().await;
}
