//! Shared parts of the end-to-end alerting tests: a real HTTP "portal" whose
//! pages can be switched down (HTTP 503) from the test, configuration files
//! with SMTP sections, store readers. The SMTP server is in `smtp.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

/// A tiny portal on a real socket: `GET /page/{name}` answers 200 with
/// "Bienvenue" while the page is up, 503 with a maintenance text when down.
#[derive(Clone)]
pub struct Portal {
    pub url: String,
    down: Arc<Mutex<HashMap<String, bool>>>,
}

impl Portal {
    pub async fn start() -> Portal {
        let down: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
        let app = Router::new().route("/page/{name}", get(page)).with_state(down.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind portal");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Portal {
            url: format!("http://{addr}"),
            down,
        }
    }

    pub fn set_down(&self, page: &str, down: bool) {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).insert(page.to_string(), down);
    }
}

async fn page(State(down): State<Arc<Mutex<HashMap<String, bool>>>>, UrlPath(name): UrlPath<String>) -> (StatusCode, String) {
    let is_down = down.lock().unwrap_or_else(|e| e.into_inner()).get(&name).copied().unwrap_or(false);
    if is_down {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "<html><body><h1>Service momentanément indisponible.</h1><p>Veuillez réessayer plus tard.</p></body></html>".into(),
        )
    } else {
        (
            StatusCode::OK,
            format!("<html><body><h1>Bienvenue</h1><p>Page {name}</p></body></html>"),
        )
    }
}

/// A probe checking `/page/{name}` every second.
pub fn probe_yaml(name: &str, title: &str, procedure: &str) -> String {
    format!(
        r#"name: {name}
title: "{title}"
target: portal
labels: {{ procedure: {procedure} }}
schedule: "* * * * * *"
timeout: 2s
steps:
  - name: accueil
    request: {{ url: "{{{{ base_url }}}}/page/{name}" }}
    expect: {{ status: 200, body_contains: "Bienvenue" }}
"#
    )
}

/// Write a daemon configuration and its probes into `dir`; `extra` is
/// appended YAML (alerts, smtp, maintenance sections).
pub fn write_config(dir: &Path, portal: &Portal, probes: &[(&str, &str, &str)], extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("probes")).expect("probes dir");
    for (name, title, procedure) in probes {
        std::fs::write(dir.join(format!("probes/{name}.yaml")), probe_yaml(name, title, procedure)).expect("probe");
    }
    let cfg = format!(
        r#"location: test
contact: vigie-tests@example.org
probes: ["probes/*.yaml"]
targets:
  portal:
    base_url: "{}"
    min_interval: 10ms
    max_concurrent: 4
store:
  path: var/vigie.db
{extra}"#,
        portal.url
    );
    let path = dir.join("vigie.yaml");
    std::fs::write(&path, cfg).expect("config");
    path
}

/// The `alerts:` and `smtp:` sections for a smtp-sink on `port`.
pub fn smtp_sections(port: u16, group_window: &str) -> String {
    format!(
        r#"alerts:
  to: ["Veille <veille@asso.example>"]
  failure_threshold: 2
  success_threshold: 2
  group_window: {group_window}
  retry: {{ min: 200ms, max: 1s }}
smtp:
  host: 127.0.0.1
  port: {port}
  security: none
  from: "vigie <vigie@asso.example>"
  timeout: 5s
"#
    )
}

/// Poll `f` until it returns Some, or fail with `what`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub async fn wait_until_async<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh read connection on the test's store (the daemon keeps writing).
pub fn store(dir: &Path) -> vigie::store::Store {
    vigie::store::Store::open_existing(&dir.join("var/vigie.db")).expect("open store")
}

/// The value of one series in a Prometheus text exposition.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}
