//! SMTP delivery proven against a real server: STARTTLS and implicit TLS with
//! AUTH (aiosmtpd, `support::smtp_tls`, certificates from a test CA trusted
//! through `smtp.ca_file`), a wrong password, an untrusted certificate, and
//! reminders during a longer outage (smtp-sink). Each test runs a real vigie
//! daemon against the portal simulator with a short scripted outage.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use support::alerts::{metric, smtp_sections, store, wait_until_async};
use support::smtp::{free_port, Received, SmtpSink};
use support::smtp_tls::{Mode, TlsSmtpServer};
use support::{patch, start_sim, Workspace};
use vigie::alert::settings::Language;
use vigie::alert::wording;
use vigie::config::{DiskFiles, LoadOptions};
use vigie::daemon::{ConfigSource, Daemon, DaemonHandle};
use vigie::sim::SimHandle;
use vigie::store::incidents::incidents_between;
use vigie::store::outbox;

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

const USER: &str = "vigie@asso.example";
/// What the server accepts, and what vigie is given in the passing tests.
const PASSWORD: &str = "Bon-mot-de-passe-9c41e";
const PASSWORD_ENV: &str = "VIGIE_SMTP_PASSWORD";

/// The `alerts:` and `smtp:` sections for the TLS server; `auth` is the
/// password source line(s) and `extra` more `smtp:` keys (`ca_file`).
fn tls_sections(host: &str, port: u16, security: &str, auth: &str, extra: &str) -> String {
    format!(
        r#"store: {{ path: var/vigie.db }}
alerts:
  to: ["Veille <veille@asso.example>"]
  failure_threshold: 2
  success_threshold: 2
  group_window: 0s
  retry: {{ min: 200ms, max: 1s }}
smtp:
  host: {host}
  port: {port}
  security: {security}
  username: {USER}
  {auth}
  from: "vigie <vigie@asso.example>"
  timeout: 5s
{extra}"#
    )
}

fn workspace(sim: &SimHandle, sections: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write_probe("anef-accueil", HOME);
    ws.write_config(sim, sections);
    ws
}

/// The daemon in-process, with `env` as its whole environment (no process
/// variable to set: tests run in parallel threads).
async fn start(ws: &Workspace, env: &[(&str, &str)]) -> DaemonHandle {
    let source = ConfigSource {
        path: ws.config_path(),
        files: std::sync::Arc::new(DiskFiles),
        options: LoadOptions {
            env: Some(env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..LoadOptions::default()
        },
    };
    Daemon::start(source, None, vigie::alert::sinks()).await.expect("daemon starts")
}

fn kinds(m: &[Received]) -> Vec<String> {
    m.iter().map(|r| r.kind().to_string()).collect()
}

fn subjects(m: &[Received]) -> Vec<String> {
    m.iter().map(|r| r.subject()).collect()
}

/// Portal down, wait for the outage e-mail; portal back, wait for the
/// recovery; then a little longer, so that a duplicate would show.
async fn outage_and_recovery(sim: &SimHandle, messages: impl Fn() -> Vec<Received>) -> Vec<Received> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    patch(sim, r#"{"sites":{"portal":{"down":true}}}"#);
    wait_until_async("the outage e-mail", Duration::from_secs(15), || {
        Some(messages()).filter(|m| !m.is_empty())
    })
    .await;
    patch(sim, r#"{"sites":{"portal":{"down":false}}}"#);
    wait_until_async("the recovery e-mail", Duration::from_secs(15), || {
        Some(messages()).filter(|m| m.len() >= 2)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    messages()
}

/// What the server recorded for each message: the login and TLS it came with.
fn assert_delivered_over_tls(server: &TlsSmtpServer, m: &[Received]) {
    assert_eq!(kinds(m), vec!["opened", "recovered"], "{:?}", subjects(m));
    for r in m {
        assert_eq!(r.header("X-Auth-Login"), Some(USER), "{}", r.raw);
        let version = r.header("X-TLS-Version").unwrap_or("");
        assert!(version == "TLSv1.3" || version == "TLSv1.2", "not over TLS: {}", r.raw);
        assert_ne!(r.header("X-TLS-Cipher"), Some("none"));
        assert_eq!(r.rcpt, vec!["veille@asso.example"]);
        assert_eq!(r.header("X-Mail-From"), Some("vigie@asso.example"));
    }
    assert_ne!(m[0].header("Message-ID"), m[1].header("Message-ID"));
    assert_eq!(m[0].subject(), "[vigie] PANNE — ANEF : page d'accueil (inaccessible)");
    assert!(m[1].subject().starts_with("[vigie] RÉTABLI — ANEF : page d'accueil (panne de "));
    // One connection, one successful AUTH per e-mail; never a refusal.
    let events = server.auth_events();
    assert_eq!(events.len(), 2, "{events:?}\n{}", server.log());
    for e in &events {
        assert!(e.starts_with(&format!("auth ok {USER} ")), "{e}");
        assert!(!e.ends_with(" plain"), "AUTH before TLS: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_auth_and_the_password_from_the_environment() {
    let server = TlsSmtpServer::start(Mode::StartTls, USER, PASSWORD);
    let sim = start_sim().await;
    let ws = workspace(
        &sim,
        // `localhost`: the certificate's DNS name is what is checked.
        &tls_sections(
            "localhost",
            server.port,
            "starttls",
            &format!("password_env: {PASSWORD_ENV}"),
            "  ca_file: certs/asso-ca.pem\n",
        ),
    );
    ws.write_file("certs/asso-ca.pem", server.ca_pem().as_bytes());
    let daemon = start(&ws, &[(PASSWORD_ENV, PASSWORD)]).await;
    let m = outage_and_recovery(&sim, || server.messages()).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
    assert_delivered_over_tls(&server, &m);
    assert!(
        server.auth_events().iter().all(|e| e.contains(" PLAIN ")),
        "{:?}",
        server.auth_events()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_with_auth_and_the_password_from_a_file() {
    let server = TlsSmtpServer::start(Mode::Tls, USER, PASSWORD);
    let sim = start_sim().await;
    let ws = workspace(
        &sim,
        // An IP address: the certificate's IP entry is what is checked.
        &tls_sections(
            "127.0.0.1",
            server.port,
            "tls",
            "password_file: secrets/smtp-password",
            "  ca_file: asso-ca.pem\n",
        ),
    );
    ws.write_file("asso-ca.pem", server.ca_pem().as_bytes());
    // As `echo PASSWORD > file` writes it: the final newline is not part of it.
    ws.write_file("secrets/smtp-password", format!("{PASSWORD}\n").as_bytes());
    // A secret file must be owner-only (as ssh requires of keys): first
    // refused as written with the umask's defaults, then accepted.
    let secret_file = ws.path().join("secrets/smtp-password");
    std::fs::set_permissions(&secret_file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let open = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["check", "--config"])
        .arg(ws.config_path())
        .output()
        .expect("run vigie check");
    let out = String::from_utf8_lossy(&open.stdout).into_owned() + &String::from_utf8_lossy(&open.stderr);
    assert!(
        out.contains("can be read by others (mode 0644): make it owner-only with `chmod 600"),
        "{out}"
    );
    std::fs::set_permissions(&secret_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let check = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["check", "--config"])
        .arg(ws.config_path())
        .output()
        .expect("run vigie check");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{out}{}", String::from_utf8_lossy(&check.stderr));
    assert!(
        out.contains(&format!(
            "server certificate checked against the system's authorities and 1 more from {}",
            ws.path().join("asso-ca.pem").display()
        )),
        "{out}"
    );
    let daemon = start(&ws, &[]).await;
    let m = outage_and_recovery(&sim, || server.messages()).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
    assert_delivered_over_tls(&server, &m);
}

fn spawn_vigie(config: &Path, listen: u16, log: &Path, password: &str) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{listen}"), "--log", "debug"])
        .env(PASSWORD_ENV, password)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start vigie")
}

/// GET a path from the daemon's HTTP server; empty if it does not answer yet.
fn http_get(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn vigie_outbox(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["outbox", "--db", "var/vigie.db"])
        .current_dir(dir)
        .output()
        .expect("run vigie outbox");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir` (the database, its WAL, the spool), as bytes.
fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p.display().to_string(), b));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_delivers_nothing_keeps_the_email_queued_and_is_never_shown() {
    const WRONG: &str = "Mauvais-mot-de-passe-57d0b";
    let server = TlsSmtpServer::start(Mode::StartTls, USER, PASSWORD);
    let sim = start_sim().await;
    let ws = workspace(
        &sim,
        &tls_sections(
            "127.0.0.1",
            server.port,
            "starttls",
            &format!("password_env: {PASSWORD_ENV}"),
            "  ca_file: ca.pem\n",
        ),
    );
    ws.write_file("ca.pem", server.ca_pem().as_bytes());
    // The real binary, so that its logs can be searched too.
    let (dir, listen, log) = (ws.path().to_path_buf(), free_port(), ws.path().join("vigie.log"));
    let mut child = spawn_vigie(&ws.config_path(), listen, &log, WRONG);
    let failed = "vigie_alerts_failed_total{kind=\"opened\",location=\"test\"}";
    wait_until_async("the metrics server", Duration::from_secs(20), || {
        Some(()).filter(|_| http_get(listen, "/healthz").starts_with("HTTP/1.1 200"))
    })
    .await;
    patch(&sim, r#"{"sites":{"portal":{"down":true}}}"#);
    wait_until_async("two refused delivery attempts", Duration::from_secs(20), || {
        metric(&http_get(listen, "/metrics"), failed).filter(|n| *n >= 2.0)
    })
    .await;
    let metrics = http_get(listen, "/metrics");
    let outbox_text = vigie_outbox(&dir);
    let _ = child.kill();
    let _ = child.wait();
    sim.shutdown().await;
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();

    assert!(server.messages().is_empty(), "nothing delivered");
    assert!(
        log_text.contains("535"),
        "the refusal is logged (so the search below means something):\n{log_text}"
    );
    let events = server.auth_events();
    assert!(!events.is_empty(), "{}", server.log());
    assert!(
        events
            .iter()
            .all(|e| e.starts_with(&format!("auth refused {USER} ")) && !e.ends_with(" plain")),
        "refused, and only ever tried over TLS: {events:?}"
    );
    // 535 is not one of the permanent refusals of a message (501, 550-554):
    // the password may be fixed and the configuration reloaded, so the
    // e-mail stays queued and is retried.
    let rows = outbox::list(store(&dir).conn(), true, 10).expect("outbox");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.status, outbox::OutboxStatus::Queued);
    assert!(row.attempts >= 2, "{row:?}");
    let error = row.last_error.as_deref().unwrap_or("");
    assert!(error.contains("535"), "{error}");
    assert!(outbox_text.contains("1 queued, 0 failed"), "{outbox_text}");
    assert!(outbox_text.contains("535"), "{outbox_text}");
    assert!(metric(&metrics, "vigie_outbox_queued{location=\"test\"}") == Some(1.0), "{metrics}");

    // Neither the password vigie used nor its encodings on the wire appear
    // anywhere vigie writes.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secrets = [
        WRONG.to_string(),
        b64(WRONG),
        b64(&format!("\0{USER}\0{WRONG}")),
        PASSWORD.to_string(),
    ];
    let mut places = vec![
        ("the log".to_string(), log_text.into_bytes()),
        ("/metrics".to_string(), metrics.into_bytes()),
        ("vigie outbox".to_string(), outbox_text.into_bytes()),
    ];
    places.extend(all_bytes(&dir.join("var")));
    assert!(places.iter().any(|(p, _)| p.ends_with("vigie.db")), "the store was searched");
    for (place, bytes) in &places {
        for s in &secrets {
            assert!(!contains(bytes, s), "{s:?} found in {place}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_certificate_fails_before_auth_and_the_email_stays_queued() {
    let server = TlsSmtpServer::start(Mode::StartTls, USER, PASSWORD);
    let sim = start_sim().await;
    // No `ca_file`: the test CA is not among the system's authorities.
    let ws = workspace(
        &sim,
        &tls_sections("localhost", server.port, "starttls", &format!("password_env: {PASSWORD_ENV}"), ""),
    );
    let daemon = start(&ws, &[(PASSWORD_ENV, PASSWORD)]).await;
    let metrics = daemon.daemon.metrics().clone();
    patch(&sim, r#"{"sites":{"portal":{"down":true}}}"#);
    wait_until_async("failed delivery attempts", Duration::from_secs(20), || {
        metric(&metrics.encode(), "vigie_alerts_failed_total{kind=\"opened\",location=\"test\"}").filter(|n| *n >= 2.0)
    })
    .await;
    let outbox_text = vigie_outbox(ws.path());
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;

    assert!(server.messages().is_empty());
    assert_eq!(server.auth_events(), Vec::<String>::new(), "the password was never sent");
    let rows = outbox::list(store(ws.path()).conn(), true, 10).expect("outbox");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, outbox::OutboxStatus::Queued);
    let error = rows[0].last_error.as_deref().unwrap_or("");
    assert!(error.contains("not trusted") && error.contains("ca_file"), "a clear error: {error}");
    assert!(outbox_text.contains("1 queued, 0 failed"), "{outbox_text}");
    assert!(outbox_text.contains(&format!("last error: {error}")), "{outbox_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_repeat_during_a_long_outage_then_one_recovery() {
    let sink = SmtpSink::start();
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_probe("anef-accueil", HOME);
    ws.write_config(
        &sim,
        &format!(
            "store: {{ path: var/vigie.db }}\n{}",
            smtp_sections(sink.port, "0s").replace("alerts:\n", "alerts:\n  reminder_every: 3s\n")
        ),
    );
    let daemon = start(&ws, &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t1 = chrono::Utc::now();
    patch(&sim, r#"{"sites":{"portal":{"down":true}}}"#);
    wait_until_async("two reminders", Duration::from_secs(25), || {
        Some(sink.messages()).filter(|m| m.iter().filter(|r| r.kind() == "reminder").count() >= 2)
    })
    .await;
    patch(&sim, r#"{"sites":{"portal":{"down":false}}}"#);
    wait_until_async("the recovery", Duration::from_secs(15), || {
        Some(sink.messages()).filter(|m| m.iter().any(|r| r.kind() == "recovered"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;

    let m = sink.messages();
    let k = kinds(&m);
    assert_eq!(k.first().map(String::as_str), Some("opened"), "{k:?}");
    assert_eq!(k.last().map(String::as_str), Some("recovered"), "{k:?}");
    assert!(
        k.len() >= 4 && k[1..k.len() - 1].iter().all(|x| x == "reminder"),
        "one opening, reminders, one recovery: {k:?}"
    );
    let mut ids: Vec<&str> = m.iter().filter_map(|r| r.header("Message-ID")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), m.len(), "no e-mail twice");

    let s = store(ws.path());
    let incidents = incidents_between(s.conn(), None, t1 - chrono::Duration::seconds(60), chrono::Utc::now()).expect("incidents");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let since = wording::local_date_time(Language::Fr, chrono_tz::Europe::Paris, incidents[0].started_at);
    for r in &m[1..m.len() - 1] {
        assert!(
            r.subject().starts_with("[vigie] PANNE EN COURS — ANEF : page d'accueil (depuis "),
            "{}",
            r.subject()
        );
        let text = r.text();
        assert!(text.contains("La panne continue depuis "), "{text}");
        assert!(text.contains(&format!("Depuis : {since} (heure de Paris)")), "{since}: {text}");
    }
    // Each reminder says for how long, and later ones say longer.
    let lasted: Vec<String> = m[1..m.len() - 1]
        .iter()
        .map(|r| r.subject().rsplit("(depuis ").next().unwrap_or("").to_string())
        .collect();
    assert!(lasted.windows(2).all(|w| w[0] != w[1]), "{lasted:?}");
}
