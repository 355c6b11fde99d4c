//! Grafana dashboards (`dashboards/`) and Prometheus files
//! (`config/prometheus/`), proven against a real Prometheus scraping vigie.
//!
//! - `dashboard_files_are_well_formed`: every dashboard is Grafana JSON
//!   (schema 39+) whose panels read the `datasource` variable (no hard-coded
//!   data source UID), with the probe/procedure/site/location variables,
//!   French titles and descriptions; the provisioning files are there.
//! - `prometheus_files_pass_promtool`: `promtool check config` (which checks
//!   the rules too) and `promtool test rules` on config/prometheus/tests/.
//! - `every_dashboard_query_returns_data_from_a_real_prometheus`: runs the
//!   `vigie` binary against the simulator (the shipped simulator probes, every
//!   second) and a tiny HTTPS server, plays a ~20 s timeline through every
//!   outcome (slow with slots, up, no slot, broken, down, back up) and a
//!   SIGHUP, with a real Prometheus scraping it every second through a copy of
//!   config/prometheus/prometheus.yml (only the target address and the
//!   intervals changed). Then every recording and alert rule must be healthy
//!   and every recording rule must have series; every dashboard variable must
//!   list values; and every panel query, after substitution of the template
//!   variables, must be valid and return data (a sample that is a number):
//!   once with every variable on "All", and once per combination of concrete
//!   values offered by the variables (as Grafana chains them), where it must
//!   be valid every time and return data at least once. The concrete pass
//!   catches matchers on labels vigie never sets (`x=~".*"` also matches a
//!   missing label; `x=~"sim-prefecture-rdv"` does not).
//!
//! Substitutions (Grafana's built-in variables, for a 1 s scrape interval
//! and a run of under a minute):
//!
//! | Grafana             | test value | why                                            |
//! |---------------------|------------|------------------------------------------------|
//! | `$__rate_interval`  | `10s`      | ≥ 4 scrape intervals, as Grafana computes it    |
//! | `$__interval`       | `2s`       | a step of a short range query                   |
//! | `$__range`          | `5m`       | longer than the whole test: covers all its data |
//! | `$__range_s`        | `300`      | the same in seconds                            |
//! | query variable, All | `.*`       | the dashboards' `allValue`                      |
//! | query variable      | the value, regex-escaped like Grafana does for Prometheus | |
//! | custom variable     | its `current` value (e.g. `$fenetre` → `1h`)  |     |
//!
//! Instant targets (`"instant": true`: stat, bar gauge panels) are run at the
//! end of the timeline; range targets from Prometheus's start to the end, one
//! point a second. A panel may return no data only if it is in
//! [`NO_DATA_ALLOWED`] with its reason; its query must still be valid, and an
//! allowed panel that does return data fails the test (the entry is stale).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde_json::Value;
use support::prometheus::{self, has_data, Prometheus};
use support::tls::{self, TlsServer};
use support::*;

/// Panels allowed to return no data in this test, with the reason. Their
/// queries must still be valid. None today: the HTTPS target gives the TLS
/// panel its data, and the history store and the spool folder give the
/// outage, store, outbox and e-mail panels theirs.
const NO_DATA_ALLOWED: &[(&str, &str, &str)] = &[];

/// Grafana's built-in variables for this test's 1 s scrape interval.
const BUILTINS: &[(&str, &str)] = &[
    ("__rate_interval", "10s"),
    ("__interval", "2s"),
    ("__range", "5m"),
    ("__range_s", "300"),
];

/// The same for a Prometheus scraping every 15 s (config/prometheus/prometheus.yml),
/// where Grafana's `$__rate_interval` is at least 4 × 15 s; `$__range` is set apart.
const BUILTINS_15S: &[(&str, &str)] = &[("__rate_interval", "1m"), ("__interval", "15s")];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------- dashboards

struct Dashboard {
    file: String,
    json: Value,
}

impl Dashboard {
    fn uid(&self) -> &str {
        self.json["uid"].as_str().unwrap_or("")
    }
}

fn dashboards() -> Vec<Dashboard> {
    let mut v: Vec<Dashboard> = std::fs::read_dir(repo().join("dashboards"))
        .expect("dashboards/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| Dashboard {
            file: p.file_name().unwrap_or_default().to_string_lossy().into_owned(),
            json: serde_json::from_str(&std::fs::read_to_string(&p).expect("read dashboard"))
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display())),
        })
        .collect();
    v.sort_by(|a, b| a.file.cmp(&b.file));
    assert!(v.len() >= 3, "expected the overview, probe and operations dashboards");
    v
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

#[derive(Clone)]
enum Var {
    /// `label_values(matcher, label)` or `label_values(label)`.
    Query {
        name: String,
        label: String,
        matcher: Option<String>,
    },
    /// custom / interval / constant: its current value.
    Fixed {
        name: String,
        value: String,
    },
    Datasource,
}

fn variables(d: &Value) -> Vec<Var> {
    let label_values = Regex::new(r"^\s*label_values\(\s*(?:(.+),\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$").expect("regex");
    d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let name = v["name"].as_str().unwrap_or("").to_string();
            match v["type"].as_str() {
                Some("datasource") => Var::Datasource,
                Some("query") => {
                    let q = v["query"]["query"].as_str().or(v["query"].as_str()).unwrap_or("");
                    let c = label_values
                        .captures(q)
                        .unwrap_or_else(|| panic!("variable {name}: only label_values(...) queries are supported here: {q}"));
                    Var::Query {
                        name,
                        label: c[2].to_string(),
                        matcher: c.get(1).map(|m| m.as_str().to_string()),
                    }
                }
                _ => {
                    let cur = &v["current"]["value"];
                    let value = cur.as_str().or(cur[0].as_str()).unwrap_or("").to_string();
                    Var::Fixed { name, value }
                }
            }
        })
        .collect()
}

struct Target {
    panel: String,
    ref_id: String,
    expr: String,
    instant: bool,
}

fn targets(d: &Value) -> Vec<Target> {
    panels(d)
        .into_iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| {
            p["targets"].as_array().into_iter().flatten().map(move |t| Target {
                panel: p["title"].as_str().unwrap_or("").to_string(),
                ref_id: t["refId"].as_str().unwrap_or("").to_string(),
                expr: t["expr"].as_str().unwrap_or("").to_string(),
                instant: t["instant"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// Grafana's escaping of a value for a Prometheus regex matcher (multi-value variables).
fn regex_escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if "\\^$*+?.()|[]{}".contains(c) {
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

/// Replace `$name` and `${name}` by `values` (Grafana's built-ins included); an unknown variable is an error.
fn substitute(expr: &str, values: &HashMap<String, String>) -> Result<String, String> {
    let re = Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)").expect("regex");
    let mut unknown = Vec::new();
    let out = re.replace_all(expr, |c: &regex::Captures| {
        let name = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("");
        match values.get(name).cloned() {
            Some(v) => v,
            None => {
                unknown.push(name.to_string());
                String::new()
            }
        }
    });
    if unknown.is_empty() {
        Ok(out.into_owned())
    } else {
        Err(format!("unknown template variable(s) {unknown:?} in {expr}"))
    }
}

#[test]
fn dashboard_files_are_well_formed() {
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for d in dashboards() {
        let j = &d.json;
        let f = &d.file;
        if !uids.insert(d.uid().to_string()) || d.uid().is_empty() {
            problems.push(format!("{f}: missing or duplicate uid"));
        }
        if j["schemaVersion"].as_u64().unwrap_or(0) < 39 {
            problems.push(format!("{f}: schemaVersion must be 39 or later"));
        }
        for key in ["title", "description"] {
            if j[key].as_str().unwrap_or("").trim().is_empty() {
                problems.push(format!("{f}: no {key}"));
            }
        }
        // The data source is chosen through a variable of type datasource.
        let vars = j["templating"]["list"].as_array().cloned().unwrap_or_default();
        let var = |n: &str| vars.iter().find(|v| v["name"] == n).cloned();
        match var("datasource") {
            Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
            _ => problems.push(format!("{f}: needs a `datasource` variable of type datasource (query prometheus)")),
        }
        for n in ["location", "procedure", "site", "probe"] {
            match var(n) {
                Some(v) if v["type"] == "query" && v["includeAll"] == true && v["multi"] == true && v["allValue"] == ".*" => {
                    if v["definition"] != v["query"]["query"] {
                        problems.push(format!("{f}: variable {n}: `definition` differs from `query.query`"));
                    }
                }
                _ => problems.push(format!("{f}: needs a query variable `{n}` (multi, include All, allValue .*)")),
            }
        }
        // No hard-coded data source anywhere.
        let mut stack = vec![j];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    if let Some(ds) = m.get("datasource") {
                        if ds.is_string() || (ds.is_object() && ds["uid"] != "${datasource}") {
                            problems.push(format!("{f}: hard-coded data source {ds}"));
                        }
                    }
                    stack.extend(m.values());
                }
                Value::Array(a) => stack.extend(a.iter()),
                _ => {}
            }
        }
        let mut ids = BTreeSet::new();
        for p in panels(j) {
            let title = p["title"].as_str().unwrap_or("");
            if !ids.insert(p["id"].as_u64().unwrap_or(0)) {
                problems.push(format!("{f}: panel «{title}»: duplicate or missing id"));
            }
            if !p["gridPos"]["w"].is_u64() || !p["gridPos"]["h"].is_u64() {
                problems.push(format!("{f}: panel «{title}»: no gridPos"));
            }
            if title.trim().is_empty() {
                problems.push(format!("{f}: a panel has no title"));
            }
            if p["type"] == "row" {
                continue;
            }
            if p["description"].as_str().unwrap_or("").trim().len() < 20 {
                problems.push(format!("{f}: panel «{title}»: no description"));
            }
            // French, not English: a cheap guard against a panel left in English.
            let words: BTreeSet<&str> = title.split(|c: char| !c.is_alphanumeric()).collect();
            if ["the", "of", "per", "by", "and", "Latency", "Availability", "Errors", "Outages"]
                .iter()
                .any(|w| words.contains(w))
            {
                problems.push(format!("{f}: panel «{title}»: the title should be in French"));
            }
            let ts = p["targets"].as_array().cloned().unwrap_or_default();
            if ts.is_empty() {
                problems.push(format!("{f}: panel «{title}»: no query"));
            }
            for t in ts {
                let expr = t["expr"].as_str().unwrap_or("");
                if expr.trim().is_empty() {
                    problems.push(format!("{f}: panel «{title}»: empty query"));
                }
                if !expr.contains("$location") {
                    problems.push(format!("{f}: panel «{title}»: the query ignores $location: {expr}"));
                }
                if d.uid() == "vigie-sonde" && !expr.contains("$probe") {
                    problems.push(format!("{f}: panel «{title}»: the probe dashboard's query ignores $probe: {expr}"));
                }
                if t["instant"] == t["range"] {
                    problems.push(format!("{f}: panel «{title}»: a target is either instant or range"));
                }
            }
        }
    }
    // Grafana provisioning: a data source and a dashboard provider reading this folder.
    let prov = repo().join("dashboards/provisioning");
    let ds = std::fs::read_to_string(prov.join("datasources/vigie.yaml")).expect("dashboards/provisioning/datasources/vigie.yaml");
    let ds: Value = serde_saphyr::from_str(&ds).expect("data source provisioning is YAML");
    if ds["datasources"][0]["type"] != "prometheus" {
        problems.push("datasources/vigie.yaml: no Prometheus data source".into());
    }
    let dp = std::fs::read_to_string(prov.join("dashboards/vigie.yaml")).expect("dashboards/provisioning/dashboards/vigie.yaml");
    let dp: Value = serde_saphyr::from_str(&dp).expect("dashboard provisioning is YAML");
    if dp["providers"][0]["type"] != "file" || dp["providers"][0]["options"]["path"] != "${VIGIE_DASHBOARDS_DIR}" {
        problems.push("dashboards/vigie.yaml: a file provider reading ${VIGIE_DASHBOARDS_DIR}".into());
    }
    // Every allowed panel exists (a renamed panel must not keep a stale entry).
    let all: Vec<(String, String)> = dashboards()
        .iter()
        .flat_map(|d| {
            targets(&d.json)
                .into_iter()
                .map(|t| (d.uid().to_string(), t.panel))
                .collect::<Vec<_>>()
        })
        .collect();
    for (uid, title, _) in NO_DATA_ALLOWED {
        if !all.iter().any(|(u, t)| u == uid && t == title) {
            problems.push(format!("NO_DATA_ALLOWED names a panel that does not exist: {uid} «{title}»"));
        }
    }
    assert!(problems.is_empty(), "dashboard problems:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------- promtool

#[test]
fn prometheus_files_pass_promtool() {
    let dir = repo().join("config/prometheus");
    let out = prometheus::promtool(&dir, &["check", "config", "prometheus.yml"]);
    assert!(out.contains("SUCCESS: 2 rule files found"), "{out}");
    let mut tests: Vec<String> = std::fs::read_dir(dir.join("tests"))
        .expect("config/prometheus/tests")
        .filter_map(|e| e.ok())
        .map(|e| format!("tests/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".test.yml"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 3, "{tests:?}");
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    prometheus::promtool(&dir, &args);
    // Every alert has a unit test.
    let alerts = rule_names(&dir.join("rules"), "alert");
    let test_text: String = tests
        .iter()
        .map(|t| std::fs::read_to_string(dir.join(t)).expect("test file"))
        .collect();
    for a in alerts {
        assert!(test_text.contains(&format!("alertname: {a}")), "no promtool test for {a}");
    }
}

/// The `record` or `alert` names of every rule file in `dir`.
fn rule_names(dir: &Path, kind: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for e in std::fs::read_dir(dir).expect("rules dir").filter_map(|e| e.ok()) {
        let text = std::fs::read_to_string(e.path()).expect("rule file");
        let v: Value = serde_saphyr::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
        for g in v["groups"].as_array().into_iter().flatten() {
            for r in g["rules"].as_array().into_iter().flatten() {
                if let Some(n) = r[kind].as_str() {
                    names.insert(n.to_string());
                }
            }
        }
    }
    names
}

// ------------------------------------------------- vigie + a real Prometheus

/// The `vigie` binary as a child process, killed when dropped.
struct Vigie {
    child: Child,
    log: PathBuf,
}

impl Vigie {
    fn start(config: &Path, listen: SocketAddr, log: PathBuf) -> Vigie {
        let file = std::fs::File::create(&log).expect("vigie log");
        let child = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["run", "--config"])
            .arg(config)
            .arg("--listen")
            .arg(listen.to_string())
            .env("VIGIE_SIM_PASSWORD", vigie::sim::TEST_PASSWORD)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start vigie");
        Vigie { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn reload(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "could not send SIGHUP to vigie");
    }
}

impl Drop for Vigie {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn replace_once(text: &str, from: &str, to: &str, file: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "{file}: the test replaces `{from}` with `{to}`, but it is not there exactly once"
    );
    text.replace(from, to)
}

/// The shipped simulator HTTP probes, every second, "degraded" above 500 ms
/// (browser probes, a Chromium per run, are tested in tests/browser*.rs).
fn write_probes(ws: &Workspace) {
    let dir = repo().join("probes/sim");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("probes/sim").filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(e.path()).expect("probe");
        if text.lines().any(|l| l.trim() == "kind: browser") {
            continue;
        }
        let schedule = text.lines().find(|l| l.starts_with("schedule:")).expect("schedule line");
        let text = replace_once(&text, schedule, "schedule: \"* * * * * *\"", &name);
        let text = replace_once(&text, "degraded_after: 2s", "degraded_after: 500ms", &name);
        ws.write_file(&format!("probes/{name}"), text.as_bytes());
        n += 1;
    }
    assert_eq!(n, 5, "the five simulator HTTP probes");
    // An HTTPS target, so that the TLS certificate panel has data.
    ws.write_probe(
        "tls-accueil",
        "name: tls-accueil\ntitle: Serveur HTTPS de test\ntarget: tls-local\n\
         labels: { procedure: anef-connexion, site: tls-local }\nschedule: \"* * * * * *\"\ntimeout: 5s\n\
         steps:\n  - name: accueil\n    request: { url: \"{{ base_url }}/\" }\n    expect: { status: 200 }\n",
    );
}

fn write_config(ws: &Workspace, sim: &vigie::sim::SimHandle, tls: &TlsServer) -> PathBuf {
    let target = |url: String, more: &str| format!("{{ base_url: \"{url}\", min_interval: 20ms, max_concurrent: 4{more} }}");
    // The history store (var/vigie.db next to this file) and, without smtp:,
    // e-mails spooled as files: every outage opens and closes within the
    // timeline and its e-mails go out at once.
    let text = format!(
        "# vigie under test: the location of config/prometheus/prometheus.yml's target.\n\
         location: demo\ncontact: vigie-tests@example.org\nlisten: 127.0.0.1:0\nconcurrency: 8\nprobes: [\"probes/*.yaml\"]\n\
         alerts: {{ to: [\"veille@association.example\"], group_window: 0s }}\n\
         targets:\n  anef-sim: {}\n  prefecture-sim: {}\n  rdv-sim: {}\n  tls-local: {}\n",
        target(sim.portal_url(), ""),
        target(sim.prefecture_url(), ", vars: { form_id: \"4242\" }"),
        target(sim.rdv_url(), ", vars: { demarche_id: \"1234\" }"),
        target(tls.url(), &format!(", ca_file: \"{}\"", tls::ca_path().display())),
    );
    ws.write_file("vigie.yaml", text.as_bytes());
    ws.config_path()
}

/// config/prometheus/ copied to `dir`, with the target and the intervals changed.
fn prometheus_config(dir: &Path, vigie: SocketAddr) -> PathBuf {
    let src = repo().join("config/prometheus");
    let file = "config/prometheus/prometheus.yml";
    let text = std::fs::read_to_string(src.join("prometheus.yml")).expect(file);
    let text = replace_once(&text, "scrape_interval: 15s", "scrape_interval: 1s", file);
    let text = replace_once(&text, "evaluation_interval: 15s", "evaluation_interval: 1s", file);
    let text = replace_once(&text, "\"127.0.0.1:9898\"", &format!("\"{vigie}\""), file);
    std::fs::create_dir_all(dir.join("rules")).expect("mkdir");
    for e in std::fs::read_dir(src.join("rules")).expect("rules").filter_map(|e| e.ok()) {
        std::fs::copy(e.path(), dir.join("rules").join(e.file_name())).expect("copy rules");
    }
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, text).expect("write prometheus.yml");
    path
}

async fn wait_for<F: Future<Output = bool>>(what: &str, timeout: Duration, mut ok: impl FnMut() -> F) {
    let deadline = Instant::now() + timeout;
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every combination of concrete values the query variables offer, chained
/// like Grafana (each variable's query sees the values chosen before it).
async fn combinations(
    prom: &Prometheus,
    vars: &[Var],
    fixed: &HashMap<String, String>,
    start: f64,
    end: f64,
    problems: &mut Vec<String>,
    dashboard: &str,
) -> Vec<HashMap<String, String>> {
    let mut combos = vec![fixed.clone()];
    for v in vars {
        let Var::Query { name, label, matcher } = v else { continue };
        let mut next = Vec::new();
        for c in &combos {
            let m = match matcher.as_deref().map(|m| substitute(m, c)).transpose() {
                Ok(m) => m,
                Err(e) => {
                    problems.push(format!("{dashboard}: variable {name}: {e}"));
                    continue;
                }
            };
            match prom.label_values(label, m.as_deref(), start, end).await {
                Ok(values) if values.is_empty() => {
                    let c: BTreeMap<_, _> = c.iter().collect();
                    problems.push(format!("{dashboard}: variable {name} lists no value for {c:?}"))
                }
                Ok(values) => {
                    for val in values {
                        let mut c = c.clone();
                        c.insert(name.clone(), regex_escape(&val));
                        next.push(c);
                    }
                }
                Err(e) => problems.push(format!("{dashboard}: variable {name}: {e}")),
            }
        }
        combos = next;
    }
    combos
}

async fn run(prom: &Prometheus, t: &Target, expr: &str, start: f64, end: f64) -> Result<bool, String> {
    let data = if t.instant {
        prom.query(expr, end).await?
    } else {
        prom.query_range(expr, start, end, 1.0).await?
    };
    Ok(has_data(&data))
}

/// What a check found: problems, and a one-line summary.
struct Report {
    problems: Vec<String>,
    summary: String,
}

/// The rules (all loaded and healthy, every recording rule with series) and
/// the dashboards (every variable lists values; every panel target valid and
/// with data, with All and with concrete values) against `prom`, over
/// `start..end`, with `builtins` for Grafana's built-in variables. Panels in
/// `allowed` may have no data; with `strict`, an allowed panel that has data
/// is a problem too (a stale entry).
async fn check_rules_and_dashboards(
    prom: &Prometheus,
    (start, end): (f64, f64),
    builtins: &[(&str, &str)],
    allowed: &[(&str, &str, &str)],
    strict: bool,
) -> Report {
    let mut problems: Vec<String> = Vec::new();

    // -- rules: all loaded, healthy, recording rules with series.
    let dir = repo().join("config/prometheus/rules");
    let want: BTreeSet<String> = rule_names(&dir, "record").union(&rule_names(&dir, "alert")).cloned().collect();
    let mut loaded = BTreeSet::new();
    for g in prom.rule_groups().await {
        for r in g["rules"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or("").to_string();
            if r["health"] != "ok" {
                problems.push(format!("rule {name}: health {} {}", r["health"], r["lastError"]));
            }
            loaded.insert(name);
        }
    }
    if loaded != want {
        problems.push(format!("rules loaded by Prometheus {loaded:?} differ from the rule files {want:?}"));
    }
    let mut recorded = 0;
    for name in rule_names(&dir, "record") {
        match prom.query(&name, end).await {
            Ok(d) if has_data(&d) => recorded += 1,
            Ok(_) => problems.push(format!("recording rule {name} produced no series")),
            Err(e) => problems.push(format!("recording rule {name}: {e}")),
        }
    }
    // -- dashboards: variables, then every target, All and concrete.
    let (mut n_targets, mut n_queries, mut n_combos) = (0, 0, 0);
    for d in dashboards() {
        let uid = d.uid().to_string();
        let vars = variables(&d.json);
        let mut fixed: HashMap<String, String> = builtins.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut all = fixed.clone();
        for v in &vars {
            match v {
                Var::Query { name, .. } => {
                    all.insert(name.clone(), ".*".to_string());
                }
                Var::Fixed { name, value } => {
                    fixed.insert(name.clone(), value.clone());
                    all.insert(name.clone(), value.clone());
                }
                Var::Datasource => {}
            }
        }
        let combos = combinations(prom, &vars, &fixed, start, end, &mut problems, &uid).await;
        n_combos += combos.len();
        for t in targets(&d.json) {
            n_targets += 1;
            let what = format!("{uid} «{}» {}", t.panel, t.ref_id);
            let allowed = allowed.iter().find(|(u, p, _)| *u == uid && *p == t.panel);
            let expr = match substitute(&t.expr, &all) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("{what}: {e}"));
                    continue;
                }
            };
            n_queries += 1;
            match (run(prom, &t, &expr, start, end).await, allowed) {
                (Err(e), _) => problems.push(format!("{what}: invalid query: {e}\n    {expr}")),
                (Ok(false), None) => problems.push(format!("{what}: no data with every variable on All\n    {expr}")),
                (Ok(true), Some(_)) if strict => problems.push(format!("{what}: returns data but is in NO_DATA_ALLOWED: remove the entry")),
                (Ok(_), _) => {}
            }
            let mut any = false;
            for c in &combos {
                let expr = match substitute(&t.expr, c) {
                    Ok(e) => e,
                    Err(e) => {
                        problems.push(format!("{what}: {e}"));
                        break;
                    }
                };
                n_queries += 1;
                match run(prom, &t, &expr, start, end).await {
                    Ok(data) => any |= data,
                    Err(e) => {
                        let c: BTreeMap<_, _> = c.iter().collect();
                        problems.push(format!("{what}: invalid query with {c:?}: {e}\n    {expr}"));
                        break;
                    }
                }
            }
            if !any && allowed.is_none() {
                problems.push(format!(
                    "{what}: no data for any concrete choice of the variables (a label vigie does not set?)\n    {}",
                    t.expr
                ));
            }
        }
    }
    let summary = format!(
        "{} rules ({recorded} recording rules with series), {n_targets} panel targets, {n_combos} variable combinations, \
         {n_queries} queries, {} allowed without data",
        want.len(),
        allowed.len(),
    );
    Report { problems, summary }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    let clock = Instant::now();
    prometheus::binary("prometheus");
    let sim = start_sim().await;
    let tls_server = TlsServer::start();
    let ws = Workspace::new();
    write_probes(&ws);
    let config = write_config(&ws, &sim, &tls_server);
    let listen: SocketAddr = format!("127.0.0.1:{}", prometheus::free_port()).parse().expect("addr");
    let vigie = Vigie::start(&config, listen, ws.path().join("vigie.log"));
    let http = reqwest::Client::new();
    wait_for("vigie's /healthz", Duration::from_secs(30), || {
        let get = http.get(format!("http://{listen}/healthz")).send();
        async move { get.await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;

    let prom_dir = ws.path().join("prometheus");
    let prom = Prometheus::start(&prometheus_config(&prom_dir, listen), &prom_dir).await;
    let start = now() - 1.0;
    wait_for("Prometheus to scrape vigie", Duration::from_secs(30), || async {
        prom.query(
            "up{job=\"vigie\", location=\"demo\"} == 1 and on (instance) vigie_build_info",
            now(),
        )
        .await
        .is_ok_and(|d| has_data(&d))
    })
    .await;

    // The timeline: every outcome, slots coming and going, a reload.
    let phases: [(&str, &str); 6] = [
        (
            "slow pages, slots offered",
            r#"{"prefecture_slots": 3, "rdv_slots": 2, "routes": {"home": {"delay_ms": 700}, "conditions": {"delay_ms": 700}}}"#,
        ),
        (
            "normal, slots offered",
            r#"{"routes": {"home": {"delay_ms": 0}, "conditions": {"delay_ms": 0}}}"#,
        ),
        ("no slot", r#"{"prefecture_slots": 0, "rdv_slots": 0}"#),
        (
            "« erreur technique », uploads rejected",
            r#"{"routes": {"register": {"mode": "error_page"}, "conditions": {"mode": "error_page"}}, "upload": "reject"}"#,
        ),
        (
            "portal down, prefecture in maintenance",
            r#"{"routes": {"register": {"mode": "normal"}, "conditions": {"mode": "maintenance"}, "counter": {"mode": "maintenance"}, "slots": {"mode": "maintenance"}}, "upload": "normal", "sites": {"portal": {"down": true}}}"#,
        ),
        (
            "back to normal, one slot",
            r#"{"routes": {"conditions": {"mode": "normal"}, "counter": {"mode": "normal"}, "slots": {"mode": "normal"}}, "sites": {"portal": {"down": false}}, "prefecture_slots": 1}"#,
        ),
    ];
    for (i, (_note, json)) in phases.iter().enumerate() {
        patch(&sim, json);
        if i == 2 {
            vigie.reload();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    // The last runs scraped, the rules evaluated on them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = now();

    let Report { mut problems, summary } = check_rules_and_dashboards(&prom, (start, end), BUILTINS, NO_DATA_ALLOWED, true).await;
    // The TLS certificate the HTTPS target presented, as vigie exported it.
    match prom
        .query("vigie_tls_cert_expiry_timestamp_seconds{probe=\"tls-accueil\"}", end)
        .await
    {
        Ok(d) if d["result"][0]["value"][1].as_str().and_then(|v| v.parse::<i64>().ok()) == Some(tls::CERT_NOT_AFTER) => {}
        other => problems.push(format!("TLS expiry of the test certificate: {other:?}")),
    }

    let summary = format!("{summary}; {:.1} s", clock.elapsed().as_secs_f64());
    eprintln!("{summary}");
    if !problems.is_empty() {
        let tail = |s: String| {
            s.lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{} problem(s):\n{}\n\n{summary}\n\nvigie log (end):\n{}\n\nprometheus log (end):\n{}",
            problems.len(),
            problems.join("\n"),
            tail(vigie.log()),
            tail(prom.log())
        );
    }
    drop(prom);
    drop(vigie);
    sim.shutdown().await;
}

/// The same checks against a Prometheus you run, for instance the one of
/// docs/dashboards.md scraping `vigie demo` with config/prometheus/prometheus.yml
/// (let it run a few minutes so that the demo's scenario has played):
///
/// ```sh
/// VIGIE_PROMETHEUS_URL=http://127.0.0.1:9090 cargo test --test dashboards -- --ignored --nocapture
/// ```
///
/// Over the last `VIGIE_CHECK_MINUTES` (default 15; also `$__range`), with
/// `$__rate_interval` = 1m for a 15 s scrape interval. Besides the panels of
/// [`NO_DATA_ALLOWED`], the TLS certificate panel may be empty: the demo's
/// simulator speaks plain HTTP.
#[tokio::test]
#[ignore = "needs a running Prometheus scraping vigie: set VIGIE_PROMETHEUS_URL (docs/dashboards.md)"]
async fn dashboards_against_a_running_prometheus() {
    let url = std::env::var("VIGIE_PROMETHEUS_URL")
        .unwrap_or_else(|_| panic!("set VIGIE_PROMETHEUS_URL to the Prometheus to check, e.g. http://127.0.0.1:9090"));
    let minutes: f64 = std::env::var("VIGIE_CHECK_MINUTES")
        .ok()
        .map(|m| m.parse().expect("VIGIE_CHECK_MINUTES: a number"))
        .unwrap_or(15.0);
    let prom = Prometheus::connect(&url);
    let end = now();
    let mut allowed = NO_DATA_ALLOWED.to_vec();
    allowed.push((
        "vigie-sonde",
        "Jours avant l'expiration du certificat TLS",
        "the demo's simulator speaks plain HTTP",
    ));
    let secs = (minutes * 60.0).round().to_string();
    let range = format!("{secs}s");
    let mut builtins = BUILTINS_15S.to_vec();
    builtins.extend([("__range", range.as_str()), ("__range_s", secs.as_str())]);
    let r = check_rules_and_dashboards(&prom, (end - minutes * 60.0, end), &builtins, &allowed, false).await;
    eprintln!("{} against {url}", r.summary);
    assert!(r.problems.is_empty(), "{} problem(s):\n{}", r.problems.len(), r.problems.join("\n"));
}
