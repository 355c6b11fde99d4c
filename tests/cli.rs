//! The `vigie` binary as a user runs it: `check` with a typo, `once` exit
//! codes, the daemon reloading on SIGHUP and stopping on SIGTERM.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn vigie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
}

#[tokio::test]
async fn check_names_file_line_and_column_of_a_misspelt_key() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe("typo", "name: typo\ntitle: Typo\ntarget: anef-sim\nschedual: \"*/5 * * * *\"\nsteps:\n  - name: home\n    request: { url: \"{{ base_url }}/\" }\n");
    ws.write_probe("typo2", "name: typo2\ntitle: Typo 2\ntarget: anef-sim\nschedule: \"*/5 * * * *\"\nsteps:\n  - name: home\n    request: { url: \"{{ base_url }}/\", methd: GET }\n");
    let out = vigie()
        .args(["check", "--config"])
        .arg(ws.config_path())
        .output()
        .expect("run vigie check");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("probes/typo.yaml:4:1: unknown key `schedual`"), "{err}");
    assert!(err.contains("did you mean `schedule`?"), "{err}");
    assert!(
        err.contains("probes/typo2.yaml:7:40: unknown key `methd`"),
        "both files are reported at once: {err}"
    );
    assert!(err.contains("2 errors found"), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn check_prints_schedules_in_words_and_next_runs() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe("weekdays", "name: weekdays\ntitle: Weekdays\ntarget: anef-sim\nschedule: \"0 9 * * 1-5\"\nsteps:\n  - name: home\n    request: { url: \"{{ base_url }}/\" }\n");
    let out = vigie()
        .args(["check", "--config"])
        .arg(ws.config_path())
        .output()
        .expect("run vigie check");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("OK — 1 probe(s)"), "{text}");
    assert!(
        text.contains("\"0 9 * * 1-5\" — At 09:00, on Monday, Tuesday, Wednesday, Thursday, and Friday."),
        "{text}"
    );
    assert!(text.contains("next runs: "), "{text}");
    sim.shutdown().await;
}

#[tokio::test]
async fn once_exits_zero_only_when_up() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe("home", "name: home\ntitle: Home\ntarget: anef-sim\nschedule: \"*/5 * * * *\"\nbroken_when:\n  - { body_contains: \"erreur technique\", reason: error_page }\nsteps:\n  - name: home\n    request: { url: \"{{ base_url }}/particuliers/\" }\n    expect: { css_present: app-root }\n");
    let cfg = ws.config_path();
    let sim2 = sim.clone();
    let up = tokio::task::spawn_blocking(move || vigie().args(["once", "home", "--config"]).arg(&cfg).output().expect("run"))
        .await
        .expect("join");
    assert_eq!(up.status.code(), Some(0), "{}", String::from_utf8_lossy(&up.stdout));
    let out = String::from_utf8_lossy(&up.stdout);
    assert!(
        out.contains("✓ home") && out.contains("✓ element app-root present") && out.contains("résultat : disponible (up) en "),
        "{out}"
    );
    patch(&sim2, r#"{"routes": {"home": {"mode": "error_page"}}}"#);
    let cfg = ws.config_path();
    let broken = tokio::task::spawn_blocking(move || vigie().args(["once", "home", "--config"]).arg(&cfg).output().expect("run"))
        .await
        .expect("join");
    assert_eq!(broken.status.code(), Some(1));
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(
        out.contains("page « erreur technique » (error_page)")
            && out.contains("résultat : en échec (broken) — étape home, raison error_page — en "),
        "the trace is in French by default: {out}"
    );
    let cfg = ws.config_path();
    let unknown = tokio::task::spawn_blocking(move || vigie().args(["once", "nope", "--config"]).arg(&cfg).output().expect("run"))
        .await
        .expect("join");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no probe named `nope`"));
    sim.shutdown().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn sighup_with_an_invalid_config_keeps_running_and_sigterm_stops() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    let probe = "name: home\ntitle: Home\ntarget: anef-sim\nschedule: \"* * * * * *\"\nsteps:\n  - name: home\n    request: { url: \"{{ base_url }}/particuliers/\" }\n";
    ws.write_probe("home", probe);
    let port = free_port();
    let mut child = vigie()
        .args(["run", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(ws.config_path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start daemon");
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let fetch = |m: String| async move { reqwest::get(&m).await.ok()?.text().await.ok() };
    let deadline = Instant::now() + Duration::from_secs(15);
    while fetch(metrics.clone())
        .await
        .is_none_or(|t| !t.contains("vigie_probe_runs_total{outcome=\"up\",probe=\"home\""))
    {
        assert!(Instant::now() < deadline, "the daemon did not start probing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ws.write_probe("home", &probe.replace("target: anef-sim", "target: nowhere"));
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill -HUP").success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = fetch(metrics.clone()).await.unwrap_or_default();
        if text.contains("vigie_config_last_reload_successful{location=\"test\"} 0") {
            break;
        }
        assert!(Instant::now() < deadline, "the reload failure is not visible in the metrics");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(child.try_wait().expect("status").is_none(), "the daemon must keep running");
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM").success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("status") {
            break s;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut log).expect("read log");
    assert!(log.contains("unknown target `nowhere`"), "the log names the error: {log}");
    assert!(log.contains("keeping the running configuration"), "{log}");
    sim.shutdown().await;
}

#[test]
fn embedded_demo_files_match_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(root.join("probes/sim"))
        .expect("probes/sim")
        .filter_map(|e| e.ok())
        .map(|e| format!("probes/sim/{}", e.file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    on_disk.push("config/demo.yaml".into());
    on_disk.sort();
    let mut embedded: Vec<String> = vigie::cli::embedded::FILES.0.iter().map(|(p, _)| p.to_string()).collect();
    embedded.sort();
    assert_eq!(embedded, on_disk, "src/cli/embedded.rs must list every demo file");
    for (p, bytes) in vigie::cli::embedded::FILES.0 {
        assert_eq!(std::fs::read(root.join(p)).expect("read"), *bytes, "{p} is stale in the binary");
    }
}
