//! Alerting end to end, against the portal simulator on scripted timelines
//! (the ANEF portal's listener really refuses connections, the prefecture
//! answers 503), with e-mails to a real SMTP server (smtp-sink, installed by
//! .ci/install-smtp.sh) or to the spool folder. The daemon runs in-process,
//! and as the real binary killed with SIGKILL.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use support::alerts::{metric, smtp_sections, store, wait_until_async};
use support::smtp::{Received, SmtpSink};
use support::{patch, start_sim, Workspace};
use vigie::alert::settings::Language;
use vigie::alert::wording;
use vigie::config::{DiskFiles, LoadOptions};
use vigie::daemon::{ConfigSource, Daemon, DaemonHandle};
use vigie::store::incidents::incidents_between;

const HOME: &str = r#"name: anef-accueil
title: "ANEF : page d'accueil"
target: anef-sim
labels: { procedure: anef-connexion }
schedule: "* * * * * *"
timeout: 2s
steps:
  - name: accueil
    request: { url: "{{ base_url }}/particuliers/" }
    expect: { status: 200 }
"#;

const REGISTER: &str = r#"name: anef-creation-compte
title: "ANEF : création de compte"
target: anef-sim
labels: { procedure: anef-creation-compte }
schedule: "* * * * * *"
timeout: 2s
steps:
  - name: formulaire
    request:
      url: "{{ base_url }}/auth/realms/anef-usagers/login-actions/registration"
      query: { client_id: anef-usagers }
    expect: { status: 200, css_present: "form#kc-register-form" }
"#;

const PREFECTURE: &str = r#"name: prefecture-conditions
title: "Préfecture : prise de rendez-vous"
target: prefecture-sim
labels: { procedure: titre-sejour }
schedule: "* * * * * *"
timeout: 2s
steps:
  - name: conditions
    request: { url: "{{ base_url }}/booking/create/{{ form_id }}/0" }
    expect: { status: 200, body_contains: "Veuillez cocher la case" }
"#;

fn workspace(sim: &vigie::sim::SimHandle, smtp_port: u16, group_window: &str, probes: &[(&str, &str)]) -> Workspace {
    let ws = Workspace::new();
    for (name, yaml) in probes {
        ws.write_probe(name, yaml);
    }
    ws.write_config(
        sim,
        &format!("store: {{ path: var/vigie.db }}\n{}", smtp_sections(smtp_port, group_window)),
    );
    ws
}

async fn start(ws: &Workspace) -> DaemonHandle {
    let source = ConfigSource {
        path: ws.config_path(),
        files: std::sync::Arc::new(DiskFiles),
        options: LoadOptions::default(),
    };
    Daemon::start(source, None, vigie::alert::sinks()).await.expect("daemon starts")
}

async fn wait_mail(sink: &SmtpSink, what: &str, timeout: Duration, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
    wait_until_async(what, timeout, || {
        let m = sink.messages();
        pred(&m).then_some(m)
    })
    .await
}

fn kinds(m: &[Received]) -> Vec<String> {
    m.iter().map(|r| r.kind().to_string()).collect()
}

fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

fn within(t: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    from <= t && t <= to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_down_at_t1_and_back_at_t2_gives_one_outage_and_one_recovery_email() {
    let sink = SmtpSink::start();
    let sim = start_sim().await;
    let ws = workspace(&sim, sink.port, "0s", &[("anef-accueil", HOME)]);
    let daemon = start(&ws).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let t1 = Utc::now();
    patch(&sim, r#"{"sites":{"portal":{"down":true}}}"#);
    let m = wait_mail(&sink, "the outage e-mail", Duration::from_secs(15), |m| !m.is_empty()).await;
    assert_eq!(m[0].subject(), "[vigie] PANNE — ANEF : page d'accueil (inaccessible)");
    let text = m[0].text();
    assert!(text.contains("Raison : connexion refusée ou impossible"), "{text}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let t2 = Utc::now();
    patch(&sim, r#"{"sites":{"portal":{"down":false}}}"#);
    wait_mail(&sink, "the recovery e-mail", Duration::from_secs(15), |m| m.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;

    let m = sink.messages();
    assert_eq!(kinds(&m), vec!["opened", "recovered"]);
    let s = store(ws.path());
    let incidents = incidents_between(s.conn(), None, t1 - secs(60), Utc::now()).expect("incidents");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let i = &incidents[0];
    let ended = i.ended_at.expect("closed");
    assert!(
        within(i.started_at, t1 - secs(1), t1 + secs(2)),
        "started {} vs down at {t1}",
        i.started_at
    );
    assert!(within(ended, t2 - secs(1), t2 + secs(2)), "ended {ended} vs up at {t2}");
    assert_eq!(i.reason.map(|r| r.as_str()), Some("connect"));
    let lasted = wording::duration(Language::Fr, (ended - i.started_at).to_std().expect("positive"));
    assert_eq!(
        m[1].subject(),
        format!("[vigie] RÉTABLI — ANEF : page d'accueil (panne de {lasted})")
    );
    assert!(m[1].text().contains(&format!("La panne a duré {lasted}.")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_and_prefecture_failing_together_make_one_email_each_way() {
    let sink = SmtpSink::start();
    let sim = start_sim().await;
    let ws = workspace(
        &sim,
        sink.port,
        "2s",
        &[
            ("anef-accueil", HOME),
            ("anef-creation-compte", REGISTER),
            ("prefecture-conditions", PREFECTURE),
        ],
    );
    let daemon = start(&ws).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    patch(
        &sim,
        r#"{"sites":{"portal":{"down":true}},"routes":{"conditions":{"mode":"maintenance"}}}"#,
    );
    let m = wait_mail(&sink, "the grouped outage e-mail", Duration::from_secs(15), |m| !m.is_empty()).await;
    assert_eq!(m[0].subject(), "[vigie] PANNE — 3 démarches touchées");
    let text = m[0].text();
    assert!(text.contains("• ANEF : page d'accueil — inaccessible depuis"), "{text}");
    assert!(text.contains("• ANEF : création de compte — inaccessible depuis"), "{text}");
    assert!(text.contains("• Préfecture : prise de rendez-vous — inaccessible depuis"), "{text}");
    assert!(
        text.contains("Dernier code HTTP : 503"),
        "the prefecture's maintenance page: {text}"
    );

    sim.reset();
    wait_mail(&sink, "the grouped recovery", Duration::from_secs(15), |m| m.len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
    let m = sink.messages();
    assert_eq!(kinds(&m), vec!["opened", "recovered"], "one e-mail each way, not a flood");
    assert_eq!(m[1].subject(), "[vigie] RÉTABLI — 3 démarches rétablies");
}

const RDV_CGU: &str = r#"name: rdv-conditions
title: "RDV-Préfecture : conditions"
target: rdv-sim
labels: { procedure: rdv-prefecture }
schedule: "* * * * * *"
timeout: 2s
steps:
  - name: cgu
    request: { url: "{{ base_url }}/rdvpref/reservation/demarche/{{ demarche_id }}/cgu/" }
    captcha_when: { css_present: "rdv-captchetat" }
    expect: { status: 200 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_protection_tells_the_operator_once_per_streak_and_opens_no_outage() {
    let sink = SmtpSink::start();
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_probe("rdv-conditions", RDV_CGU);
    let alerts = smtp_sections(sink.port, "0s").replace(
        "  to: [\"Veille <veille@asso.example>\"]\n",
        "  to: [\"Veille <veille@asso.example>\"]\n  operator: [\"Exploitation <exploitation@asso.example>\"]\n",
    );
    ws.write_config(&sim, &format!("store: {{ path: var/vigie.db }}\n{alerts}"));
    patch(&sim, r#"{"bot_protection":"imperva"}"#);
    let t0 = Utc::now();
    let daemon = start(&ws).await;

    let m = wait_mail(&sink, "the operator's e-mail", Duration::from_secs(15), |m| !m.is_empty()).await;
    assert_eq!(
        m[0].subject(),
        "[vigie] NON OBSERVÉ — RDV-Préfecture : conditions (refusé par la protection anti-robots)"
    );
    let to = m[0].header("To").unwrap_or_default().to_string();
    assert!(to.contains("exploitation@asso.example") && !to.contains("veille@"), "{to}");
    let text = m[0].text();
    assert!(text.contains("La protection anti-robots du site a refusé vigie"), "{text}");
    assert!(text.contains("n'ouvrent aucune panne"), "{text}");
    // Further refusals of the same streak say nothing more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 1, "once per streak");

    // The service is seen again (stopped at its CAPTCHA), then refused again: a new streak.
    patch(&sim, r#"{"bot_protection":"off"}"#);
    tokio::time::sleep(Duration::from_secs(2)).await;
    patch(&sim, r#"{"bot_protection":"turnstile"}"#);
    wait_mail(&sink, "the second streak's e-mail", Duration::from_secs(15), |m| m.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Metrics count the refusals apart: not observed, reason blocked.
    let text = daemon.daemon.metrics().encode();
    let refused: f64 = text
        .lines()
        .filter(|l| {
            l.starts_with("vigie_probe_failures_total{") && l.contains("reason=\"blocked\"") && l.contains("probe=\"rdv-conditions\"")
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    assert!(refused >= 2.0, "blocked runs in /metrics: {refused}");
    let unobserved: f64 = text
        .lines()
        .filter(|l| l.starts_with("vigie_probe_runs_total{") && l.contains("outcome=\"unobserved\""))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    assert_eq!(unobserved, refused, "every refusal is an unobserved run");
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;

    assert_eq!(kinds(&sink.messages()), vec!["unobserved", "unobserved"]);
    let s = store(ws.path());
    let incidents = incidents_between(s.conn(), None, t0 - secs(60), Utc::now()).expect("incidents");
    assert!(incidents.is_empty(), "a refusal is no outage: {incidents:?}");
    let blocked: i64 = s
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE outcome = 'unobserved' AND reason = 'blocked'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert!(blocked >= 4, "every refusal is recorded: {blocked}");

    // The report states the refusals as a finding of their own, with the count the store holds.
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["report", "--config", "vigie.yaml", "--format", "html", "-o", "rapport.html"])
        .current_dir(ws.path())
        .output()
        .expect("vigie report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(ws.path().join("rapport.html")).expect("report");
    let finding = format!("la protection anti-robot du site a refusé vigie {blocked} fois sur 1 jour(s)");
    assert!(html.contains(&finding), "{finding} in:\n{html}");
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["report", "--config", "vigie.yaml", "--format", "json", "-o", "rapport.json"])
        .current_dir(ws.path())
        .output()
        .expect("vigie report json");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = std::fs::read(ws.path().join("rapport.json")).expect("json report");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("report json");
    assert_eq!(json["probes"][0]["refusals"]["runs"], blocked, "{json}");
}

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
    if !dir.join("var/vigie.db").exists() {
        return None;
    }
    store(dir).conn().query_row(sql, [], |r| r.get(0)).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_outage_loses_nothing_and_repeats_nothing() {
    let sink = SmtpSink::start();
    let sim = start_sim().await;
    let ws = workspace(&sim, sink.port, "3s", &[("anef-accueil", HOME)]);
    let (cfg, d) = (ws.config_path(), ws.path().to_path_buf());
    let log = d.join("vigie.log");
    let dump_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // 1. The outage opens; killed while its e-mail waits out the grouping window.
    let first = spawn(&cfg, &log);
    wait_until_async("first runs recorded", Duration::from_secs(20), || {
        query(&d, "SELECT COUNT(*) FROM runs").filter(|n| *n >= 1)
    })
    .await;
    patch(&sim, r#"{"sites":{"portal":{"down":true}}}"#);
    wait_until_async("the pending outage notification", Duration::from_secs(15), || {
        query(&d, "SELECT COUNT(*) FROM notifications WHERE kind = 'opened'").filter(|n| *n == 1)
    })
    .await;
    kill9(first);
    assert!(sink.messages().is_empty(), "killed before the grouping window ended");

    // 2. After a restart the pending notification still becomes one e-mail.
    let second = spawn(&cfg, &log);
    let m = wait_mail(&sink, "the outage e-mail after restart", Duration::from_secs(20), |m| !m.is_empty()).await;
    assert_eq!(kinds(&m), vec!["opened"], "{}", dump_log());
    // Killed once it is marked sent (the unavoidable window is before that mark).
    wait_until_async("the outage e-mail marked sent", Duration::from_secs(10), || {
        query(&d, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").filter(|n| *n == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill9(second);

    // 3. The portal recovers while vigie is stopped.
    patch(&sim, r#"{"sites":{"portal":{"down":false}}}"#);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let third = spawn(&cfg, &log);
    wait_mail(&sink, "the recovery e-mail", Duration::from_secs(25), |m| m.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    kill9(third);
    sim.shutdown().await;

    let all = sink.messages();
    assert_eq!(kinds(&all), vec!["opened", "recovered"], "{}", dump_log());
    assert_eq!(query(&d, "SELECT COUNT(*) FROM incidents WHERE closed_at_ms IS NOT NULL"), Some(1));
    assert_eq!(query(&d, "SELECT COUNT(*) FROM incidents WHERE closed_at_ms IS NULL"), Some(0));
    assert!(all[1].subject().starts_with("[vigie] RÉTABLI — ANEF : page d'accueil (panne de "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_wait_while_smtp_is_down_and_arrive_once_when_it_is_back() {
    let mut sink = SmtpSink::start();
    let sim = start_sim().await;
    let ws = workspace(&sim, sink.port, "0s", &[("anef-accueil", HOME)]);
    let daemon = start(&ws).await;
    sink.stop();
    patch(&sim, r#"{"sites":{"portal":{"down":true}}}"#);
    // The outage opens and its e-mail fails against the closed port, again and again.
    let metrics = daemon.daemon.metrics().clone();
    wait_until_async("failed delivery attempts", Duration::from_secs(15), || {
        metric(&metrics.encode(), "vigie_alerts_failed_total{kind=\"opened\",location=\"test\"}").filter(|n| *n >= 2.0)
    })
    .await;
    patch(&sim, r#"{"sites":{"portal":{"down":false}}}"#);
    wait_until_async("the recovery queued too", Duration::from_secs(15), || {
        query(ws.path(), "SELECT COUNT(*) FROM outbox WHERE status = 'queued'").filter(|n| *n == 2)
    })
    .await;
    assert!(sink.messages().is_empty());
    let oldest = metric(&metrics.encode(), "vigie_outbox_oldest_queued_age_seconds{location=\"test\"}");
    assert!(oldest.is_some_and(|age| age > 0.0), "{oldest:?}");

    sink.resume();
    wait_mail(&sink, "both e-mails", Duration::from_secs(15), |m| m.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let text = metrics.encode();
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
    assert_eq!(kinds(&sink.messages()), vec!["opened", "recovered"]);
    assert_eq!(
        metric(&text, "vigie_alerts_sent_total{kind=\"opened\",location=\"test\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(metric(&text, "vigie_outbox_queued{location=\"test\"}"), Some(0.0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_window_sends_nothing_and_records_the_time() {
    let sink = SmtpSink::start();
    let sim = start_sim().await;
    let paris = |t: DateTime<Utc>| t.with_timezone(&chrono_tz::Europe::Paris).format("%Y-%m-%d %H:%M:%S").to_string();
    let window_end = Utc::now() + secs(7);
    let ws = Workspace::new();
    ws.write_probe("anef-accueil", HOME);
    ws.write_probe("prefecture-conditions", PREFECTURE);
    ws.write_config(
        &sim,
        &format!(
            "store: {{ path: var/vigie.db }}\n{}maintenance:\n  - name: migration-annoncee\n    from: \"{}\"\n    to: \"{}\"\n",
            smtp_sections(sink.port, "0s"),
            paris(Utc::now() - secs(3600)),
            paris(window_end)
        ),
    );
    let daemon = start(&ws).await;
    // Both fail in the window; the portal's home page comes back inside it,
    // the prefecture's maintenance page outlasts it.
    patch(
        &sim,
        r#"{"routes":{"home":{"mode":"maintenance"},"conditions":{"mode":"maintenance"}}}"#,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    patch(&sim, r#"{"routes":{"home":{"mode":"normal"}}}"#);
    let m = wait_mail(&sink, "the outage after the window", Duration::from_secs(20), |m| !m.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
    assert_eq!(
        sink.messages().len(),
        1,
        "{:?}",
        sink.messages().iter().map(|r| r.subject()).collect::<Vec<_>>()
    );
    assert_eq!(m[0].subject(), "[vigie] PANNE — Préfecture : prise de rendez-vous (inaccessible)");
    assert!(
        m[0].text().contains("La défaillance a commencé pendant une maintenance annoncée"),
        "{}",
        m[0].text()
    );

    let s = store(ws.path());
    let incidents = incidents_between(s.conn(), None, window_end - secs(3600), Utc::now()).expect("incidents");
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].probe, "prefecture-conditions");
    assert!(incidents[0].began_in_maintenance_at.is_some());
    assert!(incidents[0].started_at >= window_end - secs(1), "counted from the window's end");
    let count = |sql: &str| -> i64 { s.conn().query_row(sql, [], |r| r.get(0)).expect("count") };
    let in_window =
        count("SELECT COUNT(*) FROM runs WHERE probe = 'anef-accueil' AND outcome = 'down' AND maintenance = 'migration-annoncee'");
    let outside = count("SELECT COUNT(*) FROM runs WHERE probe = 'anef-accueil' AND outcome = 'down' AND maintenance IS NULL");
    assert!(
        in_window >= 2,
        "failing runs in the window are recorded as maintenance ({in_window})"
    );
    assert_eq!(outside, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_emails_are_spooled_as_eml_files() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_probe("anef-accueil", HOME);
    ws.write_config(&sim, "alerts:\n  to: [\"veille@asso.example\"]\n  group_window: 0s\n");
    let daemon = start(&ws).await;
    let spool = ws.path().join("var/spool");
    let emls = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<std::path::PathBuf> = std::fs::read_dir(&spool)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    patch(&sim, r#"{"sites":{"portal":{"down":true}}}"#);
    wait_until_async("the outage .eml", Duration::from_secs(15), || (emls().len() == 1).then_some(())).await;
    patch(&sim, r#"{"sites":{"portal":{"down":false}}}"#);
    wait_until_async("the recovery .eml", Duration::from_secs(15), || (emls().len() == 2).then_some(())).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
    let files = emls();
    let names: Vec<String> = files.iter().filter_map(|f| f.file_name()?.to_str().map(String::from)).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].ends_with("-opened.eml") && names[1].ends_with("-recovered.eml"),
        "{names:?}"
    );
    let opened = support::smtp::parse(&files[0]).expect("a complete message");
    assert_eq!(opened.subject(), "[vigie] PANNE — ANEF : page d'accueil (inaccessible)");
    assert_eq!(opened.header("To"), Some("veille@asso.example"));
}
