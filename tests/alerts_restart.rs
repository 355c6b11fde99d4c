//! The real binary, killed with SIGKILL in the middle of an outage and
//! started again: no e-mail is lost, none is repeated, and a portal that
//! recovered while vigie was stopped gets its recovery e-mail.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::alerts::{smtp_sections, store, wait_until_async, write_config, Portal};
use support::smtp::{Received, SmtpSink};

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0", "--log", "vigie=debug"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start vigie")
}

fn kill9(mut child: Child) {
    // std's kill() is SIGKILL on Unix: no shutdown hook runs.
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

fn query(dir: &Path, sql: &str) -> Option<i64> {
    let path = dir.join("var/vigie.db");
    if !path.exists() {
        return None;
    }
    let s = store(dir);
    s.conn().query_row(sql, [], |r| r.get(0)).ok()
}

fn kinds(m: &[Received]) -> Vec<String> {
    m.iter().map(|r| r.kind().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_outage_loses_nothing_and_repeats_nothing() {
    let sink = SmtpSink::start();
    let portal = Portal::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        &portal,
        &[("accueil", "Portail : page d'accueil", "compte")],
        &smtp_sections(sink.port, "3s"),
    );
    let log = dir.path().join("vigie.log");
    let d = dir.path();
    let dump_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // 1. The outage opens; killed while its e-mail waits out the grouping window.
    let first = spawn(&cfg, &log);
    wait_until_async("first runs recorded", Duration::from_secs(20), || {
        query(d, "SELECT COUNT(*) FROM runs").filter(|n| *n >= 1)
    })
    .await;
    portal.set_down("accueil", true);
    wait_until_async("the pending outage notification", Duration::from_secs(15), || {
        query(d, "SELECT COUNT(*) FROM notifications WHERE kind = 'opened'").filter(|n| *n == 1)
    })
    .await;
    kill9(first);
    assert!(sink.messages().is_empty(), "killed before the grouping window ended");

    // 2. After restart the pending notification still becomes one e-mail.
    let second = spawn(&cfg, &log);
    let m = wait_until_async("the outage e-mail after restart", Duration::from_secs(20), || {
        let m = sink.messages();
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(kinds(&m), vec!["opened"], "{}", dump_log());
    // Killed once it is marked sent (the unavoidable window is before that mark).
    wait_until_async("the outage e-mail marked sent", Duration::from_secs(10), || {
        query(d, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").filter(|n| *n == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill9(second);

    // 3. The portal recovers while vigie is stopped.
    portal.set_down("accueil", false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let third = spawn(&cfg, &log);
    let m = wait_until_async("the recovery e-mail", Duration::from_secs(25), || {
        let m = sink.messages();
        (m.len() >= 2).then_some(m)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    kill9(third);
    let all = sink.messages();
    assert_eq!(kinds(&all), vec!["opened", "recovered"], "{}", dump_log());
    assert_eq!(m[0].header("Message-ID"), all[0].header("Message-ID"));
    let incidents = query(d, "SELECT COUNT(*) FROM incidents WHERE closed_at_ms IS NOT NULL");
    assert_eq!(incidents, Some(1));
    let open = query(d, "SELECT COUNT(*) FROM incidents WHERE closed_at_ms IS NULL");
    assert_eq!(open, Some(0));
    assert!(all[1]
        .subject()
        .starts_with("[vigie] RÉTABLI — Portail : page d'accueil (panne de "));
}
