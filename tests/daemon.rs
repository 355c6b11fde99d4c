//! The daemon over real sockets: /metrics checked by the real `promtool`,
//! bounded labels, skip-on-overlap, the per-host politeness budget measured
//! by the simulator's request log, reload with a bad configuration.

mod support;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use vigie::config::{DiskFiles, LoadOptions};
use vigie::daemon::{self, ConfigSource, Daemon, DaemonHandle};
use vigie::probe::{Outcome, Reason};

async fn start_daemon(ws: &Workspace) -> DaemonHandle {
    let source = ConfigSource {
        path: ws.config_path(),
        files: Arc::new(DiskFiles),
        options: LoadOptions {
            env: Some(Default::default()),
            ..Default::default()
        },
    };
    Daemon::start(source, Some("127.0.0.1:0".parse().expect("addr")), daemon::no_sinks())
        .await
        .expect("daemon starts")
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// The value of the first sample of `metric` whose labels contain all `want`.
fn sample(text: &str, metric: &str, want: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with('{'))
        .find_map(|l| {
            let (labels, value) = l.rsplit_once(' ')?;
            want.iter()
                .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse().ok())?
        })
}

fn promtool() -> &'static str {
    if Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        panic!("promtool is required for this test: install Debian's `prometheus` package (`.ci/run` does)");
    }
    "promtool"
}

const EVERY_SECOND: &str = "\"* * * * * *\"";

fn simple_probe(name: &str, target: &str, path: &str) -> String {
    format!("name: {name}\ntitle: {name}\ntarget: {target}\nlabels: {{ procedure: proc-{name}, site: site-a }}\nschedule: {EVERY_SECOND}\ntimeout: 10s\nsteps:\n  - name: page\n    request: {{ url: \"{{{{ base_url }}}}{path}\" }}\n")
}

#[tokio::test]
async fn metrics_pass_promtool_and_labels_stay_bounded() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe("ok", &simple_probe("ok", "anef-sim", "/particuliers/"));
    ws.write_probe("missing", &simple_probe("missing", "anef-sim", "/nulle-part"));
    ws.write_probe(
        "slots",
        "name: slots\ntitle: slots\ntarget: prefecture-sim\nschedule: \"* * * * * *\"\nsteps:\n  - name: conditions\n    request: { url: \"{{ base_url }}/booking/create/4242/0\" }\n    extract: { token: { css: \"input[name=_token]\", attr: value } }\n  - name: accept\n    request: { method: POST, url: \"{{ base_url }}/booking/create/4242/0\", form: { condition: \"on\", _token: \"{{ token }}\" } }\n  - name: slots\n    request: { url: \"{{ base_url }}/booking/create/4242/2\" }\n    observe: { appointment_slots: { css_count: a.slot-free } }\n    no_capacity_when: { body_contains: \"Il n'existe plus de plage horaire libre\" }\n",
    );
    let d = start_daemon(&ws).await;
    let base = format!("http://{}", d.listen);
    // Wait until each probe has run at least twice.
    let mut text = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = get(&format!("{base}/metrics")).await.1;
        let runs = |p: &str| {
            text.lines()
                .filter(|l| l.starts_with("vigie_probe_runs_total{") && l.contains(&format!("probe=\"{p}\"")))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum::<f64>()
        };
        if ["ok", "missing", "slots"].iter().all(|p| runs(p) >= 2.0) {
            break;
        }
    }
    // The real promtool lints the exposition.
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool output");
    let lint = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && lint.trim().is_empty(),
        "promtool check metrics complained:\n{lint}"
    );

    assert_eq!(
        sample(
            &text,
            "vigie_probe_success",
            &[("probe", "ok"), ("procedure", "proc-ok"), ("site", "site-a"), ("location", "test")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "vigie_probe_outcome", &[("probe", "missing"), ("outcome", "broken")]),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "vigie_probe_failures_total",
            &[("probe", "missing"), ("step", "page"), ("reason", "status")]
        )
        .unwrap_or(0.0)
            >= 2.0
    );
    assert_eq!(
        sample(&text, "vigie_step_http_status", &[("probe", "missing"), ("step", "page")]),
        Some(404.0)
    );
    assert_eq!(
        sample(&text, "vigie_observation", &[("probe", "slots"), ("name", "appointment_slots")]),
        Some(0.0)
    );
    assert!(sample(&text, "vigie_probe_runs_total", &[("probe", "slots"), ("outcome", "no_capacity")]).unwrap_or(0.0) >= 2.0);
    assert_eq!(sample(&text, "vigie_config_last_reload_successful", &[]), Some(1.0));
    assert!(text.contains("vigie_build_info{version=\""));
    assert!(text.contains("process_resident_memory_bytes"));

    // Every label value comes from a closed set: configuration names or enums.
    let outcomes: HashSet<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    let reasons: HashSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    let steps: HashSet<&str> = ["page", "conditions", "accept", "slots"].into();
    for line in text.lines().filter(|l| l.starts_with("vigie_")) {
        let Some(labels) = line.split_once('{').and_then(|(_, rest)| rest.rsplit_once('}')).map(|(l, _)| l) else {
            continue;
        };
        for kv in labels.split("\",").map(|kv| kv.trim_end_matches('"')) {
            let Some((k, v)) = kv.split_once("=\"") else { continue };
            assert!(
                !v.contains("://") && !v.contains(' ') || k == "version",
                "unbounded-looking label {k}={v} in {line}"
            );
            match k {
                "outcome" => assert!(outcomes.contains(v), "{line}"),
                "reason" => assert!(reasons.contains(v), "{line}"),
                "step" => assert!(steps.contains(v), "{line}"),
                "probe" => assert!(["ok", "missing", "slots"].contains(&v), "{line}"),
                _ => {}
            }
        }
    }
    assert_eq!(get(&format!("{base}/healthz")).await, (200, "ok\n".to_string()));
    let (status, page) = get(&format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("État des démarches surveillées") && page.contains("aucun créneau"),
        "{page}"
    );
    let (_, api) = get(&format!("{base}/api/status")).await;
    let api: serde_json::Value = serde_json::from_str(&api).expect("JSON");
    assert_eq!(api.as_array().map(|a| a.len()), Some(3));
    d.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_run_still_going_is_not_started_twice() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe("slow", &simple_probe("slow", "anef-sim", "/particuliers/"));
    patch(&sim, r#"{"routes": {"home": {"delay_ms": 2300}}}"#);
    let d = start_daemon(&ws).await;
    tokio::time::sleep(Duration::from_millis(5600)).await;
    let text = get(&format!("http://{}/metrics", d.listen)).await.1;
    d.shutdown(Duration::from_secs(5)).await;
    let skipped = sample(&text, "vigie_scheduler_skipped_runs_total", &[("probe", "slow")]).unwrap_or(0.0);
    assert!(
        skipped >= 2.0,
        "runs due while the previous one was going are skipped and counted: {skipped}"
    );
    // Ground truth from the simulator: requests never overlapped.
    let arrivals: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.path == "/particuliers/")
        .map(|q| q.at)
        .collect();
    assert!(arrivals.len() >= 2, "{arrivals:?}");
    for w in arrivals.windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!(
            gap >= 2250,
            "a run started while the previous one was still waiting for its response ({gap} ms apart)"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn no_combination_of_probes_exceeds_the_host_budget() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    // Two targets on the same host: the stricter budget (400 ms, 1 at a time) holds for both.
    ws.write_config_with(
        &sim,
        "400ms",
        1,
        &format!(
            "  anef-alias: {{ base_url: \"{}\", min_interval: 50ms, max_concurrent: 4 }}\n",
            sim.portal_url()
        ),
    );
    for (i, target) in ["anef-sim", "anef-sim", "anef-alias", "anef-alias"].iter().enumerate() {
        ws.write_probe(&format!("p{i}"), &simple_probe(&format!("p{i}"), target, "/particuliers/"));
    }
    // The simulator refuses (502) a request arriving within 350 ms of the previous one,
    // like real prefecture sites: a single refusal would show a broken budget.
    patch(&sim, r#"{"sites": {"portal": {"min_interval_ms": 350}}}"#);
    let d = start_daemon(&ws).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let text = get(&format!("http://{}/metrics", d.listen)).await.1;
    d.shutdown(Duration::from_secs(5)).await;
    let reqs: Vec<_> = sim.requests().into_iter().filter(|q| q.route.is_some()).collect();
    assert!(reqs.len() >= 6, "probes kept running within the budget: {}", reqs.len());
    assert!(
        reqs.iter().all(|q| !q.limited),
        "the simulator had to refuse a request sent too soon"
    );
    for w in reqs.windows(2) {
        let gap = (w[1].at - w[0].at).num_milliseconds();
        assert!(gap >= 380, "two requests to one host {gap} ms apart (budget 400 ms)");
    }
    let waited: f64 = (0..4)
        .filter_map(|i| sample(&text, "vigie_probe_politeness_wait_seconds_total", &[("probe", &format!("p{i}"))]))
        .sum();
    assert!(waited > 0.5, "the demand exceeded the budget, so runs waited: {waited}");
    sim.shutdown().await;
}

#[tokio::test]
async fn reload_with_a_bad_configuration_keeps_the_running_one() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe("first", &simple_probe("first", "anef-sim", "/particuliers/"));
    let d = start_daemon(&ws).await;
    let metrics = format!("http://{}/metrics", d.listen);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // A typo in the probe file: the reload is refused and the old probe keeps running.
    ws.write_probe(
        "first",
        &simple_probe("first", "anef-sim", "/particuliers/").replace("schedule:", "schedul:"),
    );
    let err = d.daemon.reload().expect_err("invalid configuration is refused");
    assert!(err.0.to_string().contains("unknown key `schedul`"), "{}", err.0);
    let before = sample(
        &get(&metrics).await.1,
        "vigie_probe_runs_total",
        &[("probe", "first"), ("outcome", "up")],
    )
    .unwrap_or(0.0);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let text = get(&metrics).await.1;
    assert_eq!(sample(&text, "vigie_config_last_reload_successful", &[]), Some(0.0));
    let after = sample(&text, "vigie_probe_runs_total", &[("probe", "first"), ("outcome", "up")]).unwrap_or(0.0);
    assert!(after > before, "the running configuration kept probing ({before} → {after})");

    // A valid change: `first` is replaced by `second`, and `first`'s series go away.
    std::fs::remove_file(ws.path().join("probes/first.yaml")).expect("rm");
    ws.write_probe("second", &simple_probe("second", "anef-sim", "/particuliers/"));
    d.daemon.reload().expect("valid configuration reloads");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let text = get(&metrics).await.1;
    assert_eq!(sample(&text, "vigie_config_last_reload_successful", &[]), Some(1.0));
    assert!(sample(&text, "vigie_probe_runs_total", &[("probe", "second"), ("outcome", "up")]).unwrap_or(0.0) >= 1.0);
    assert!(!text.contains("probe=\"first\""), "series of a removed probe are dropped");
    d.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
}
