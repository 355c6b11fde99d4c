//! Observed time, coverage, availability, MTTR and MTBF of a few minutes of
//! history with a stop of the daemon, every figure worked out by hand
//! below; and the methodology describing the two probe versions that ran.
//!
//! Thursday 10 September 2026, Europe/Paris. Probe `demo` runs every
//! minute; alerts open at the first failure and close at the first success.
//!
//! - 10:00 up, 10:01 up, 10:02 down, 10:03 up, 10:04 up, 10:05 down,
//!   10:06 up: seven runs, seven minutes observed (10:00 → 10:07).
//! - vigie stopped from 10:07 to 10:20; meanwhile the target moved from
//!   port 8181 to port 8282 (a second version of the probe).
//! - 10:20 up, 10:21 up, 10:22 broken, 10:23 up, then 10:24 unobserved
//!   (vigie's own failure): 10:20 → 10:24, four minutes observed; the
//!   10:24 run observes nothing.
//!
//! Observed 11 min = 660 s of a 24 h day (86 400 s): coverage 660 / 86 400.
//! Not observed: 00:00 → 10:00 (36 000 s), 10:07 → 10:20 (780 s),
//! 10:24 → 24:00 (48 960 s) = 85 740 s in three stretches.
//! Availability: 12 runs, 1 unobserved, so 11 checks, 3 failed: 8 / 11.
//! Incidents: 10:02 → 10:03, 10:05 → 10:06, 10:22 → 10:23: three of 60 s,
//! total 180 s, MTTR 60 s, MTBF (660 − 180) / 3 = 160 s.
//! Before this version of vigie the report counted whole hours: 1/24 h of
//! coverage and an MTBF of (3 600 − 180) / 3 = 1 140 s (19 min).

mod support;

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use serde_json::Value;
use support::history::{self, paris, Spec};
use support::Workspace;
use vigie::probe::{Outcome, Probe, Reason, RunResult};
use vigie::report::{self, period::Period, Filter, Format};
use vigie::store::Store;

fn config(port: u16) -> String {
    format!(
        r#"location: paris-test
contact: veille@asso.example
timezone: Europe/Paris
probes: ["probes/*.yaml"]
targets:
  site: {{ base_url: "http://127.0.0.1:{port}" }}
store: {{ path: var/vigie.db, retention: {{ runs: 3650d, rollups: 3650d }} }}
alerts: {{ group_window: 0s, failure_threshold: 1, success_threshold: 1 }}
"#
    )
}

const DEMO: &str = r#"name: demo
title: "ANEF : connexion"
target: site
labels: { procedure: anef-connexion }
schedule: "* * * * *"
steps:
  - name: accueil
    request: { url: "{{ base_url }}/particuliers/" }
    extract:
      login_href: { css: "a#login", attr: href }
  - name: connexion
    request: { url: "{{ base_url }}{{ login_href }}" }
"#;

fn spec(minute: u32) -> Spec {
    match minute {
        2 | 5 => Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.2]),
        22 => Spec::failing(Outcome::Broken, Reason::ErrorPage, 1, Some(200), &[0.2, 0.3]),
        24 => Spec::failing(Outcome::Unobserved, Reason::MonitorError, 0, None, &[0.0]),
        _ => Spec::up(&[0.2, 0.3]),
    }
}

fn runs(probe: &Arc<Probe>, minutes: std::ops::RangeInclusive<u32>) -> Vec<(Arc<Probe>, RunResult)> {
    minutes
        .map(|m| (probe.clone(), history::run(probe, paris(10, 10, m), &spec(m))))
        .collect()
}

/// Two sessions of the daemon, each with its configuration; the
/// configuration left on disk (the report's) is the second.
async fn history(ws: &Workspace) -> vigie::config::Config {
    ws.write_file("vigie.yaml", config(8181).as_bytes());
    ws.write_probe("demo", DEMO);
    let first = ws.load();
    let p = first.probe("demo").expect("demo").clone();
    history::write(&first, runs(&p, 0..=6)).await;
    ws.write_file("vigie.yaml", config(8282).as_bytes());
    let second = ws.load();
    let p = second.probe("demo").expect("demo").clone();
    history::write(&second, runs(&p, 20..=24)).await;
    second
}

fn request(config: &vigie::config::Config) -> report::Request<'_> {
    let day = NaiveDate::from_ymd_opt(2026, 9, 10).expect("day");
    let now = paris(10, 12, 0) + Duration::days(30);
    report::Request {
        period: Period::new(Some(day), Some(day), chrono_tz::Europe::Paris, now).expect("period"),
        filter: Filter::default(),
        language: vigie::alert::settings::Language::Fr,
        settings: config.reports.clone(),
        config: Some(config),
        now,
    }
}

fn build(config: &vigie::config::Config) -> report::model::Report {
    let store = Store::open_existing(&config.store.path).expect("store");
    report::build(store.conn(), &request(config), |_| {}).expect("report")
}

fn json(r: &report::model::Report, config: &vigie::config::Config) -> Value {
    serde_json::from_slice(&report::render(r, Format::Json, Some(config)).expect("json")).expect("parse")
}

fn close(v: &Value, expected: f64, what: &str) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{what}: not a number: {v}"));
    assert!((got - expected).abs() < 1e-9, "{what}: {got}, expected {expected}");
}

fn assert_exact_figures(p: &Value, what: &str) {
    close(&p["observed_s"], 660.0, &format!("{what}: observed"));
    close(&p["period_s"], 86_400.0, &format!("{what}: period"));
    close(&p["coverage"], 660.0 / 86_400.0, &format!("{what}: coverage"));
    close(&p["not_observed_s"], 85_740.0, &format!("{what}: not observed"));
    let a = &p["availability"]["all"];
    assert_eq!((a["runs"].as_u64(), a["failed"].as_u64()), (Some(11), Some(3)), "{what}: {a}");
    close(&a["availability"], 8.0 / 11.0, &format!("{what}: availability"));
    assert_eq!(p["availability"]["unobserved"], 1, "{what}");
    let i = &p["incidents"];
    assert_eq!(i["count"], 3, "{what}: {i}");
    close(&i["total_s"], 180.0, &format!("{what}: outage"));
    close(&i["longest_s"], 60.0, &format!("{what}: longest"));
    close(&i["mttr_s"], 60.0, &format!("{what}: MTTR"));
    close(&i["mtbf_s"], 160.0, &format!("{what}: MTBF"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minutes_observed_with_a_stop_give_exact_figures() {
    let ws = Workspace::new();
    let config = history(&ws).await;
    let r = build(&config);
    let j = json(&r, &config);
    let p = &j["probes"][0];
    assert_exact_figures(p, "raw runs");
    // The report reads the writer-kept stretches; computed from every raw
    // run instead, it is the same to the byte.
    let store = Store::open_existing(&config.store.path).expect("store");
    let raw = report::build_from_raw_runs(store.conn(), &request(&config), |_| {}).expect("raw report");
    assert_eq!(json(&raw, &config), j, "same report from stretches and from raw runs");
    drop(store);
    let gaps: Vec<(String, String, f64)> = p["not_observed"]
        .as_array()
        .expect("gaps")
        .iter()
        .map(|g| {
            (
                g["from"].as_str().unwrap_or_default().to_string(),
                g["to"].as_str().unwrap_or_default().to_string(),
                g["duration_s"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    // UTC: Paris is UTC+2 in September.
    assert_eq!(
        gaps,
        vec![
            ("2026-09-09T22:00:00Z".into(), "2026-09-10T08:00:00Z".into(), 36_000.0),
            ("2026-09-10T08:07:00Z".into(), "2026-09-10T08:20:00Z".into(), 780.0),
            ("2026-09-10T08:24:00Z".into(), "2026-09-10T22:00:00Z".into(), 48_960.0),
        ]
    );
    assert_eq!(p["not_observed_count"], 3);

    let html = String::from_utf8(report::render(&r, Format::Html, Some(&config)).expect("html")).expect("utf-8");
    for needle in [
        "11 min / 1 j 00 h (0,76 %)",
        "13 min (du 10/09/2026 10:07:00 au 10/09/2026 10:20:00)",
        "2 min 40 s",
    ] {
        assert!(html.contains(needle), "the HTML report lacks {needle:?}");
    }
    let csv = String::from_utf8(report::render(&r, Format::Csv, Some(&config)).expect("csv")).expect("utf-8");
    assert!(csv.contains("availability,demo,anef-connexion,,,,observed_s,660"), "{csv}");

    // Raw runs gone after their retention: the hourly rollups keep the
    // observed time, so the figures stay (the stretches are no longer listed).
    let store = Store::open_existing(&config.store.path).expect("store");
    let deleted = store.conn().execute("DELETE FROM run_log", []).expect("delete");
    assert_eq!(deleted, 12);
    let j = json(&build(&config), &config);
    assert_exact_figures(&j["probes"][0], "rollups only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_methodology_describes_each_version_that_ran_with_its_dates() {
    let ws = Workspace::new();
    let config = history(&ws).await;
    let r = build(&config);
    let methods = &r.methodology.probes;
    assert_eq!(methods.len(), 2, "two versions ran: {methods:#?}");
    let (v1, v2) = (&methods[0], &methods[1]);
    assert_eq!(
        v1.base_url, "http://127.0.0.1:8181",
        "the first version is what ran, not today's configuration"
    );
    assert_eq!(v2.base_url, "http://127.0.0.1:8282");
    let (a, b) = (v1.version.as_ref().expect("v1"), v2.version.as_ref().expect("v2"));
    assert_ne!(a.hash, b.hash);
    assert_eq!((a.first_run, a.last_run, a.runs), (paris(10, 10, 0), paris(10, 10, 6), 7));
    assert_eq!((b.first_run, b.last_run, b.runs), (paris(10, 10, 20), paris(10, 10, 24), 5));
    assert!(!r.methodology.described_from_configuration);

    let html = String::from_utf8(report::render(&r, Format::Html, Some(&config)).expect("html")).expect("utf-8");
    let method = &html[html.find("id=\"methodologie\"").expect("methodology")..];
    for needle in [
        "en service du 10/09/2026 10:00 au 10/09/2026 10:06 (7 vérifications)",
        "en service du 10/09/2026 10:20 au 10/09/2026 10:24 (5 vérifications)",
        "1. GET http://127.0.0.1:8181/particuliers/",
        "2. GET http://127.0.0.1:8282‹login_href : valeur relevée sur la page de l&#39;étape « accueil »›",
    ] {
        assert!(
            method.contains(needle),
            "the methodology lacks {needle:?}:\n{}",
            &method[..method.len().min(4000)]
        );
    }
    assert!(!method.contains("{{"), "a template shown verbatim in the methodology");
}
