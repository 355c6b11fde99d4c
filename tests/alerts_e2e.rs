//! End to end: the daemon probes a real HTTP portal every second, records
//! the history in SQLite and sends e-mails to a real SMTP server
//! (smtp-sink, installed by .ci/install-smtp.sh), on scripted timelines.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use support::alerts::{smtp_sections, store, wait_until_async, write_config, Portal};
use support::smtp::{Received, SmtpSink};
use vigie::alert::settings::Language;
use vigie::alert::wording;
use vigie::config::{DiskFiles, LoadOptions};
use vigie::daemon::{ConfigSource, Daemon, DaemonHandle};
use vigie::store::incidents::incidents_between;

async fn start(cfg: PathBuf) -> DaemonHandle {
    let source = ConfigSource {
        path: cfg,
        files: Arc::new(DiskFiles),
        options: LoadOptions::default(),
    };
    Daemon::start(source, Some(([127, 0, 0, 1], 0).into()), vigie::alert::sinks())
        .await
        .expect("daemon starts")
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

fn count(m: &[Received], kind: &str) -> usize {
    m.iter().filter(|r| r.kind() == kind).count()
}

fn within(t: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    from <= t && t <= to
}

fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::milliseconds(s * 1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_and_recovery_send_exactly_one_email_each_with_the_true_duration() {
    let sink = SmtpSink::start();
    let portal = Portal::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        &portal,
        &[("accueil", "Portail : page d'accueil", "compte")],
        &smtp_sections(sink.port, "0s"),
    );
    let daemon = start(cfg).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let t1 = Utc::now();
    portal.set_down("accueil", true);
    let m = wait_mail(&sink, "the outage e-mail", Duration::from_secs(15), |m| count(m, "opened") == 1).await;
    let opened = &m[0];
    assert_eq!(opened.subject(), "[vigie] PANNE — Portail : page d'accueil (inaccessible)");
    assert_eq!(opened.rcpt, vec!["veille@asso.example".to_string()]);
    let text = opened.text();
    assert!(text.contains("Le site ne répond pas"), "{text}");
    assert!(text.contains("Dernier code HTTP : 503"), "{text}");
    assert!(text.contains("« Service momentanément indisponible."), "{text}");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let t2 = Utc::now();
    portal.set_down("accueil", false);
    wait_mail(&sink, "the recovery e-mail", Duration::from_secs(15), |m| {
        count(m, "recovered") == 1
    })
    .await;
    // Runs keep passing: nothing else may arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    let m = sink.messages();
    assert_eq!(kinds(&m), vec!["opened", "recovered"]);

    let s = store(dir.path());
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
    let lasted = wording::duration(Language::Fr, (ended - i.started_at).to_std().expect("positive"));
    assert_eq!(
        m[1].subject(),
        format!("[vigie] RÉTABLI — Portail : page d'accueil (panne de {lasted})")
    );
    let metrics = daemon_metrics_after_shutdown(&s);
    assert_eq!(metrics, (2, 0), "outbox rows sent/queued");
}

/// (sent, queued) outbox rows.
fn daemon_metrics_after_shutdown(s: &vigie::store::Store) -> (i64, i64) {
    s.conn()
        .query_row("SELECT SUM(status = 'sent'), SUM(status = 'queued') FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("outbox counts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_wait_while_smtp_is_down_and_arrive_once_when_it_is_back() {
    let mut sink = SmtpSink::start();
    let portal = Portal::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        &portal,
        &[("accueil", "Portail : page d'accueil", "compte")],
        &smtp_sections(sink.port, "0s"),
    );
    let daemon = start(cfg).await;
    sink.stop();
    portal.set_down("accueil", true);
    // The outage opens and its e-mail fails against the closed port.
    let metrics = daemon.daemon.metrics().clone();
    wait_until_async("failed delivery attempts", Duration::from_secs(15), || {
        let failed = support::alerts::metric(&metrics.encode(), "vigie_alerts_failed_total{kind=\"opened\",location=\"test\"}");
        failed.filter(|n| *n >= 2.0)
    })
    .await;
    portal.set_down("accueil", false);
    wait_until_async("the recovery queued too", Duration::from_secs(15), || {
        let s = store(dir.path());
        let n: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM outbox WHERE status = 'queued'", [], |r| r.get(0))
            .ok()?;
        (n == 2).then_some(())
    })
    .await;
    assert!(sink.messages().is_empty());
    sink.resume();
    wait_mail(&sink, "both e-mails", Duration::from_secs(15), |m| m.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let text = metrics.encode();
    daemon.shutdown(Duration::from_secs(5)).await;
    assert_eq!(kinds(&sink.messages()), vec!["opened", "recovered"]);
    assert_eq!(
        support::alerts::metric(&text, "vigie_alerts_sent_total{kind=\"opened\",location=\"test\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        support::alerts::metric(&text, "vigie_outbox_queued{location=\"test\"}"),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_failing_together_make_one_email() {
    let sink = SmtpSink::start();
    let portal = Portal::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        &portal,
        &[
            ("accueil", "Portail : page d'accueil", "compte"),
            ("connexion", "Portail : connexion", "compte"),
            ("rdv", "Préfecture : créneau titre de séjour", "titre-sejour"),
        ],
        &smtp_sections(sink.port, "2s"),
    );
    let daemon = start(cfg).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for p in ["accueil", "connexion", "rdv"] {
        portal.set_down(p, true);
    }
    let m = wait_mail(&sink, "the grouped outage e-mail", Duration::from_secs(15), |m| !m.is_empty()).await;
    assert_eq!(m[0].subject(), "[vigie] PANNE — 3 démarches touchées");
    let text = m[0].text();
    for title in [
        "Portail : page d'accueil",
        "Portail : connexion",
        "Préfecture : créneau titre de séjour",
    ] {
        assert!(text.contains(&format!("• {title} — inaccessible depuis")), "{text}");
    }
    for p in ["accueil", "connexion", "rdv"] {
        portal.set_down(p, false);
    }
    wait_mail(&sink, "the grouped recovery", Duration::from_secs(15), |m| {
        count(m, "recovered") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    let m = sink.messages();
    assert_eq!(kinds(&m), vec!["opened", "recovered"], "one e-mail each way, not a flood");
    assert_eq!(m[1].subject(), "[vigie] RÉTABLI — 3 démarches rétablies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_window_sends_nothing_and_records_the_time() {
    let sink = SmtpSink::start();
    let portal = Portal::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let paris = |t: DateTime<Utc>| t.with_timezone(&chrono_tz::Europe::Paris).format("%Y-%m-%d %H:%M:%S").to_string();
    let window_end = Utc::now() + secs(7);
    let extra = format!(
        "{}maintenance:\n  - name: migration-annoncee\n    from: \"{}\"\n    to: \"{}\"\n",
        smtp_sections(sink.port, "0s"),
        paris(Utc::now() - secs(3600)),
        paris(window_end)
    );
    let cfg = write_config(
        dir.path(),
        &portal,
        &[
            ("courte", "Portail : panne pendant la maintenance", "compte"),
            ("longue", "Portail : panne qui dépasse la maintenance", "compte"),
        ],
        &extra,
    );
    let daemon = start(cfg).await;
    portal.set_down("courte", true);
    portal.set_down("longue", true);
    tokio::time::sleep(Duration::from_secs(3)).await;
    portal.set_down("courte", false);
    // After the window, the failure that outlasted it opens an outage.
    let m = wait_mail(&sink, "the outage after the window", Duration::from_secs(20), |m| !m.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    let m2 = sink.messages();
    assert_eq!(m2.len(), 1, "{:?}", m2.iter().map(|r| r.subject()).collect::<Vec<_>>());
    assert_eq!(
        m[0].subject(),
        "[vigie] PANNE — Portail : panne qui dépasse la maintenance (inaccessible)"
    );
    assert!(
        m[0].text().contains("La défaillance a commencé pendant une maintenance annoncée"),
        "{}",
        m[0].text()
    );

    let s = store(dir.path());
    let incidents = incidents_between(s.conn(), None, window_end - secs(3600), Utc::now()).expect("incidents");
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].probe, "longue");
    assert!(incidents[0].began_in_maintenance_at.is_some());
    assert!(incidents[0].started_at >= window_end - secs(1), "counted from the window's end");
    let in_window: i64 = s
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE probe = 'courte' AND outcome = 'down' AND maintenance = 'migration-annoncee'",
            [],
            |r| r.get(0),
        )
        .expect("runs");
    let outside: i64 = s
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE probe = 'courte' AND outcome = 'down' AND maintenance IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("runs");
    assert!(
        in_window >= 2,
        "failing runs in the window are recorded as maintenance ({in_window})"
    );
    assert_eq!(outside, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_emails_are_spooled_as_eml_files() {
    let portal = Portal::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = "alerts:\n  to: [\"veille@asso.example\"]\n  group_window: 0s\n";
    let cfg = write_config(dir.path(), &portal, &[("accueil", "Portail : page d'accueil", "compte")], extra);
    let daemon = start(cfg).await;
    let spool = dir.path().join("var/spool");
    let emls = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&spool)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    portal.set_down("accueil", true);
    wait_until_async("the outage .eml", Duration::from_secs(15), || (emls().len() == 1).then_some(())).await;
    portal.set_down("accueil", false);
    wait_until_async("the recovery .eml", Duration::from_secs(15), || (emls().len() == 2).then_some(())).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    let files = emls();
    let names: Vec<String> = files.iter().filter_map(|f| f.file_name()?.to_str().map(String::from)).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].ends_with("-opened.eml") && names[1].ends_with("-recovered.eml"),
        "{names:?}"
    );
    let opened = support::smtp::parse(&files[0]).expect("a complete message");
    assert_eq!(opened.subject(), "[vigie] PANNE — Portail : page d'accueil (inaccessible)");
    assert_eq!(opened.header("To"), Some("veille@asso.example"));
}
