//! A real Prometheus server for tests (Debian's `prometheus` package, which
//! also ships `promtool`): started on a free loopback port with a given
//! configuration, queried through its HTTP API, killed when dropped; or one
//! already running, reached by its URL.
//!
//! A missing binary is a test failure with the command that installs it,
//! never a silent skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The path of `name` (`prometheus`, `promtool`), or a panic saying how to install it.
pub fn binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    match found {
        Some(p) => p,
        None => panic!(
            "`{name}` is required for this test and was not found: install Debian's `prometheus` package \
             (`apt-get install --no-install-recommends prometheus`; `.ci/run` does)"
        ),
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Run `promtool` with `args` from `dir`; panics with its output unless it succeeds.
pub fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(binary("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {} failed:\n{text}", args.join(" "));
    text
}

pub struct Prometheus {
    /// The server this test started, if any.
    child: Option<Child>,
    pub url: String,
    log: Option<PathBuf>,
    http: reqwest::Client,
}

impl Prometheus {
    /// Start Prometheus with `config`, its storage under `dir`, and wait until it is ready.
    pub async fn start(config: &Path, dir: &Path) -> Prometheus {
        let port = free_port();
        let log = dir.join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("prometheus log file");
        let child = Command::new(binary("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("start prometheus");
        let mut p = Prometheus {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            log: Some(log),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(status))) = p.child.as_mut().map(Child::try_wait) {
                panic!("prometheus exited ({status}) before it was ready:\n{}", p.log());
            }
            if let Ok(r) = p.http.get(format!("{}/-/ready", p.url)).send().await {
                if r.status().is_success() {
                    return p;
                }
            }
            assert!(Instant::now() < deadline, "prometheus not ready after 30 s:\n{}", p.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A Prometheus someone else runs, at `url` (e.g. `http://127.0.0.1:9090`).
    pub fn connect(url: &str) -> Prometheus {
        Prometheus {
            child: None,
            url: url.trim_end_matches('/').to_string(),
            log: None,
            http: reqwest::Client::new(),
        }
    }

    /// What Prometheus logged so far (when this test started it).
    pub fn log(&self) -> String {
        self.log.as_ref().and_then(|l| std::fs::read_to_string(l).ok()).unwrap_or_default()
    }

    async fn api(&self, path: &str, form: &[(&str, String)]) -> Result<Value, String> {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
            .await
            .map_err(|e| format!("request to prometheus failed: {e}"))?;
        let v: Value = r.json().await.map_err(|e| format!("prometheus answered no JSON: {e}"))?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(format!(
                "{}: {}",
                v["errorType"].as_str().unwrap_or("?"),
                v["error"].as_str().unwrap_or("?")
            ))
        }
    }

    /// An instant query at `time` (Unix seconds): the `data` object (`resultType`, `result`).
    pub async fn query(&self, expr: &str, time: f64) -> Result<Value, String> {
        self.api("/api/v1/query", &[("query", expr.to_string()), ("time", time.to_string())])
            .await
    }

    /// A range query: the `data` object (`resultType` "matrix", `result`).
    pub async fn query_range(&self, expr: &str, start: f64, end: f64, step: f64) -> Result<Value, String> {
        self.api(
            "/api/v1/query_range",
            &[
                ("query", expr.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ],
        )
        .await
    }

    /// Values of `label` on the series `matcher` selects (all series without one), like Grafana's `label_values()`.
    pub async fn label_values(&self, label: &str, matcher: Option<&str>, start: f64, end: f64) -> Result<Vec<String>, String> {
        let mut form = vec![("start", start.to_string()), ("end", end.to_string())];
        if let Some(m) = matcher {
            form.push(("match[]", m.to_string()));
        }
        // GET: Prometheus answers label values only to GET.
        let r = self
            .http
            .get(format!("{}/api/v1/label/{label}/values", self.url))
            .query(&form)
            .send()
            .await
            .map_err(|e| format!("request to prometheus failed: {e}"))?;
        let v: Value = r.json().await.map_err(|e| format!("prometheus answered no JSON: {e}"))?;
        if v["status"] != "success" {
            return Err(format!(
                "{}: {}",
                v["errorType"].as_str().unwrap_or("?"),
                v["error"].as_str().unwrap_or("?")
            ));
        }
        let v = &v["data"];
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    /// The loaded rule groups (`/api/v1/rules`).
    pub async fn rule_groups(&self) -> Vec<Value> {
        let r = self
            .http
            .get(format!("{}/api/v1/rules", self.url))
            .send()
            .await
            .expect("GET /api/v1/rules");
        let v: Value = r.json().await.expect("rules JSON");
        v["data"]["groups"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a query result holds at least one sample that is a number (not NaN):
/// a vector with a sample, a matrix with a point, or a scalar.
pub fn has_data(data: &Value) -> bool {
    let is_number = |v: &Value| {
        v.get(1)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|f| !f.is_nan())
    };
    match data["resultType"].as_str() {
        Some("vector") => data["result"].as_array().is_some_and(|r| r.iter().any(|s| is_number(&s["value"]))),
        Some("matrix") => data["result"]
            .as_array()
            .is_some_and(|r| r.iter().any(|s| s["values"].as_array().is_some_and(|v| v.iter().any(is_number)))),
        Some("scalar") => is_number(&data["result"]),
        _ => false,
    }
}
