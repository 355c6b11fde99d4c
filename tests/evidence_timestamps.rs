//! RFC 3161 time stamps of the evidence chain, end to end, against a local
//! time-stamping authority built with OpenSSL (`support::tsa`): the
//! daemon's history sink stamps the final head at shutdown; `vigie verify`,
//! `vigie evidence export` + `vigie evidence verify`, the bundle's
//! verify.py and plain `openssl ts -verify` (the command README.txt gives)
//! accept the token, and each catches one changed byte of it. A failing
//! TSA is retried with backoff while nothing waits for it.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Minutes;
use support::history::{self, paris, Spec};
use support::tsa::Tsa;
use support::Workspace;
use vigie::evidence::settings::TimestampSettings;
use vigie::evidence::stamper::Stamper;
use vigie::evidence::timestamps::Stamp;
use vigie::probe::{Outcome, Reason};
use vigie::store::{timestamps, Store};

const PROBE: &str = r#"name: accueil
title: "ANEF : page d'accueil"
target: site
schedule: "*/5 * * * *"
steps:
  - name: page
    request: { url: "{{ base_url }}/" }
"#;

fn config(tsa: &Tsa) -> String {
    format!(
        "location: paris-test\ncontact: veille@asso.example\nprobes: [\"probes/*.yaml\"]\n\
         targets:\n  site: {{ base_url: \"http://127.0.0.1:9\" }}\n\
         store: {{ path: var/vigie.db, retention: {{ runs: 3650d, rollups: 3650d }} }}\n\
         alerts: {{ group_window: 0s }}\n\
         evidence:\n  timestamp: {{ url: \"{}\", every: 1h, ca_file: \"{}\" }}\n",
        tsa.url,
        tsa.ca.display()
    )
}

/// A morning of runs, down for half an hour: captures in the register,
/// then the sink's shutdown, which stamps the final head.
async fn history(ws: &Workspace, tsa: &Tsa) -> vigie::config::Config {
    ws.write_file("vigie.yaml", config(tsa).as_bytes());
    ws.write_probe("accueil", PROBE);
    let config = ws.load();
    let p = config.probe("accueil").expect("probe").clone();
    let mut runs = Vec::new();
    let mut at = paris(7, 9, 0);
    while at < paris(7, 12, 0) {
        let spec = if at >= paris(7, 10, 0) && at < paris(7, 10, 30) {
            Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.2])
        } else {
            Spec::up(&[0.2])
        };
        runs.push((p.clone(), history::run(&p, at, &spec)));
        at += Minutes::minutes(5);
    }
    history::write(&config, runs).await;
    config
}

fn run(cmd: &str, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn vigie(args: &[&str], cwd: &Path) -> (i32, String, String) {
    run(env!("CARGO_BIN_EXE_vigie"), args, cwd)
}

fn flip_last_byte(path: &Path) {
    let mut b = std::fs::read(path).expect("read");
    let last = b.len() - 1;
    b[last] ^= 0x01;
    std::fs::write(path, b).expect("write");
}

/// Unzip `zip` into `dir` with the unzip a reader would use (Python's).
fn extract(zip: &Path, dir: &Path) {
    let script = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])";
    let (code, _, err) = run(
        "python3",
        &["-c", script, &zip.display().to_string(), &dir.display().to_string()],
        dir.parent().expect("parent"),
    );
    assert_eq!(code, 0, "{err}");
}

/// Rewrite a zip with its files from `dir` (as someone re-packing an edited bundle).
fn repack(dir: &Path, zip: &Path) {
    let script = "import os, sys, zipfile\nz = zipfile.ZipFile(sys.argv[2], 'w')\nfor top, _, files in os.walk(sys.argv[1]):\n    for f in files:\n        p = os.path.join(top, f)\n        z.write(p, os.path.relpath(p, sys.argv[1]))\nz.close()";
    let (code, _, err) = run(
        "python3",
        &["-c", script, &dir.display().to_string(), &zip.display().to_string()],
        dir.parent().expect("parent"),
    );
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_is_stamped_and_every_verifier_checks_the_token() {
    let tsa = Tsa::start().await;
    let ws = Workspace::new();
    let config = history(&ws, &tsa).await;
    let store = Store::open_existing(&config.store.path).expect("store");
    let stamps = timestamps::all(store.conn()).expect("stamps");
    let head = vigie::store::evidence::head(store.conn())
        .expect("head")
        .expect("captures were kept");
    // One token at shutdown over the final head (and one at start if the
    // writer had already kept a capture by then).
    let last = stamps.last().expect("a token");
    assert!(stamps.len() <= 2, "{} tokens", stamps.len());
    assert_eq!(last.chain_seq, head.0);
    let stamp = Stamp::parse(&last.record).expect("record");
    let n = stamps.len();
    assert_eq!(stamp.chain_hash, head.1);
    drop(store);

    // vigie verify: the register and its token.
    let (code, out, err) = vigie(&["verify", "--config", "vigie.yaml"], ws.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "time stamps (RFC 3161): {n} checked; the last, #{n}, dates record #{}",
            head.0
        )),
        "{out}"
    );

    // The bundle: vigie evidence verify, openssl ts -verify as README.txt says, verify.py.
    let export = [
        "evidence",
        "export",
        "--config",
        "vigie.yaml",
        "--from",
        "2026-09-07",
        "--to",
        "2026-09-07",
        "-o",
        "b.zip",
    ];
    let (code, out, err) = vigie(&export, ws.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = vigie(&["evidence", "verify", "b.zip"], ws.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("time stamps (RFC 3161): {n} checked")), "{out}");

    // Exported from the database alone, the bundle has no CA copy: the
    // verdict says so and what to give; with the CA given, it holds.
    let db = config.store.path.to_string_lossy().into_owned();
    let bare = [
        "evidence",
        "export",
        "--db",
        &db,
        "--from",
        "2026-09-07",
        "--to",
        "2026-09-07",
        "-o",
        "nu.zip",
    ];
    let (code, out, err) = vigie(&bare, ws.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = vigie(&["evidence", "verify", "nu.zip"], ws.path());
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("give its CA with --tsa-ca FILE"), "{out}{err}");
    let ca = tsa.ca.to_string_lossy().into_owned();
    let (code, out, err) = vigie(&["evidence", "verify", "nu.zip", "--tsa-ca", &ca], ws.path());
    assert_eq!(code, 0, "{out}{err}");

    let dir = ws.path().join("b");
    std::fs::create_dir(&dir).expect("mkdir");
    extract(&ws.path().join("b.zip"), &dir);
    let readme = std::fs::read_to_string(dir.join("README.txt")).expect("README");
    let command = "openssl ts -verify -digest CHAIN_HASH -in timestamps/000001.tsr -CAfile timestamps/tsa-ca.pem";
    assert!(readme.contains(command), "{readme}");
    let token = format!("timestamps/{n:06}.tsr");
    let args: Vec<String> = command
        .replace("CHAIN_HASH", &stamp.chain_hash)
        .replace("timestamps/000001.tsr", &token)
        .split(' ')
        .skip(1)
        .map(String::from)
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run("openssl", &args, &dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Verification: OK"), "{out}");
    let (code, out, err) = run("python3", &["verify.py", "."], &dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("time stamp #{n} (RFC 3161) dates record #{}", head.0)),
        "{out}"
    );

    // One byte of the token changed: each verifier says so.
    flip_last_byte(&dir.join(&token));
    let (code, out, _) = run("openssl", &args, &dir);
    assert_ne!(code, 0, "{out}");
    let (code, out, _) = run("python3", &["verify.py", "."], &dir);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("time stamp #{n}: its token {token} was altered")), "{out}");
    repack(&dir, &ws.path().join("tampered.zip"));
    let (code, _, err) = vigie(&["evidence", "verify", "tampered.zip"], ws.path());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("time stamp #{n}: its token (.tsr) is not the one recorded")),
        "{err}"
    );
    assert!(err.contains("openssl ts -verify failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_token_or_another_root_fails_vigie_verify() {
    let tsa = Tsa::start().await;
    let ws = Workspace::new();
    let config = history(&ws, &tsa).await;

    // Another root: the TSA's certificate does not chain to it.
    let other = Tsa::start().await;
    let other_ca = other.ca.display().to_string();
    let (code, _, err) = vigie(&["verify", "--config", "vigie.yaml", "--tsa-ca", &other_ca], ws.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unable to get local issuer certificate"), "{err}");

    // One byte of the stored token changed (the append-only guard removed first).
    let store = Store::open_existing(&config.store.path).expect("store");
    store
        .conn()
        .execute_batch("DROP TRIGGER evidence_timestamps_no_update")
        .expect("unguard");
    let mut reply: Vec<u8> = store
        .conn()
        .query_row("SELECT reply FROM evidence_timestamps WHERE seq = 1", [], |r| r.get(0))
        .expect("reply");
    let last = reply.len() - 1;
    reply[last] ^= 1;
    store
        .conn()
        .execute("UPDATE evidence_timestamps SET reply = ?1 WHERE seq = 1", [reply])
        .expect("update");
    drop(store);
    let (code, _, err) = vigie(&["verify", "--config", "vigie.yaml"], ws.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("time stamp #1: its token (.tsr) is not the one recorded"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tsa_is_retried_with_backoff_and_a_stamped_head_is_not_stamped_again_at_shutdown() {
    let tsa = Tsa::start().await;
    let ws = Workspace::new();
    // A register with captures, stamped once by the sink's shutdown.
    let config = history(&ws, &tsa).await;
    tsa.failing.store(true, Ordering::SeqCst);
    let before = tsa.requests.load(Ordering::SeqCst);

    let already = timestamps::all(Store::open_existing(&config.store.path).expect("store").conn())
        .expect("stamps")
        .len();
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(vigie::evidence::metrics::StampMetrics::new(&registry).expect("metrics"));
    let settings = TimestampSettings {
        url: tsa.url.clone(),
        every: Duration::from_secs(3600),
        ca_file: Some(tsa.ca.clone()),
    };
    let (_settings_tx, settings_rx) = tokio::sync::watch::channel(Some(settings));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stamper = Stamper {
        store_path: config.store.path.clone(),
        settings: settings_rx,
        metrics: metrics.clone(),
        stop: stop_rx,
        client: reqwest::Client::new(),
        first_retry: Duration::from_millis(100),
    };
    let task = tokio::spawn(stamper.run());
    support::alerts::wait_until_async("three failed requests", Duration::from_secs(30), || {
        (metrics.failures.get() >= 3).then_some(())
    })
    .await;
    assert!(tsa.requests.load(Ordering::SeqCst) - before >= 3);
    assert_eq!(metrics.stamps.get(), 0);
    tsa.failing.store(false, Ordering::SeqCst);
    support::alerts::wait_until_async("a token after the TSA recovered", Duration::from_secs(30), || {
        (metrics.stamps.get() == 1).then_some(())
    })
    .await;
    let age = metrics.age.get();
    assert!((0.0..60.0).contains(&age), "the last token's age: {age}");
    stop_tx.send(true).expect("stop");
    task.await.expect("stamper");
    // The head has not moved since: no second token for it at shutdown.
    assert_eq!(metrics.stamps.get(), 1, "no new token at shutdown for a head already stamped");
    let store = Store::open_existing(&config.store.path).expect("store");
    assert_eq!(timestamps::all(store.conn()).expect("stamps").len(), already + 1);
    let trust = vigie::evidence::tsp_verify::Trust::of(Some(&tsa.ca));
    let v = vigie::evidence::timestamps::verify_store(store.conn(), &trust).expect("verify");
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.checked as usize, already + 1);
}
