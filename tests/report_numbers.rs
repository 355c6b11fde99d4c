//! The report's numbers against a synthetic history whose answers are
//! worked out by hand below, not taken from the report's own output.
//!
//! September 2026 in Europe/Paris (CEST all month: no summer-time change),
//! 30 days, two probes run every 15 minutes: 96 runs a day, 2 880 each.
//! Office hours: Monday to Friday 09:00-17:00; September 2026 has 22
//! weekdays, so 22 x 8 h x 4 = 704 office-hour runs per probe.
//!
//! Probe `accueil` (procedure anef-connexion), one step, durations by
//! minute of the hour: :00 0.2 s, :15 and :30 0.4 s, :45 1.6 s.
//! - Thu 3 Sept 09:00-11:00: down (HTTP 503), runs 09:00 … 10:45 = 8 runs.
//!   Incident 09:00 → 11:00 = 2 h, all in office hours.
//! - Sun 13 Sept 02:00-03:00: announced maintenance, down: 4 runs, no incident.
//! - Sat 19 Sept 20:00-23:30: « erreur technique » (broken): 14 runs.
//!   Incident 20:00 → 23:30 = 3 h 30, outside office hours.
//!   all:                 (2 880 - 26) / 2 880 = 0.990 972…
//!   outside maintenance: (2 876 - 22) / 2 876 = 0.992 350…
//!   office hours:        (704 - 8) / 704      = 0.988 636…
//!   incidents 2, total 5 h 30 = 19 800 s, office hours lost 7 200 s,
//!   longest 12 600 s, MTTR (7 200 + 12 600) / 2 = 9 900 s,
//!   MTBF (720 h observed = 2 592 000 s - 19 800) / 2 = 1 286 100 s.
//!
//! Probe `rdv` (procedure titre-sejour), steps `conditions` then `creneaux`,
//! which counts `appointment_slots`; no slot is the rule (no_capacity, 0):
//! - slots offered at a single check, 10:30 on Wed 2, Wed 9 and Wed 23
//!   Sept, with a first free date 10, 20 and 30 days later;
//! - Fri 18 Sept 14:00-15:00: down, 4 runs, no observation. Incident 1 h,
//!   in office hours.
//!   checks with an observation 2 876, with a slot 3: 3 / 2 876 = 0.001 043…
//!   longest stretch without slot: from the first check that found none
//!   after Wed 9 10:30, 10:45, to the last one before Wed 23 10:30, 10:15:
//!   14 days - 30 min = 1 207 800 s; quarter-hours from 10:45 to 10:15
//!   inclusive: 1 343, minus the 4 down runs = 1 339 checks.
//!   first free date: 10, 20, 30 days → min 10, mean 20, max 30.
//!   all (2 880 - 4) / 2 880; office (704 - 4) / 704; MTTR 3 600 s;
//!   MTBF (2 592 000 - 3 600) / 1 = 2 588 400 s.

mod support;

use chrono::{Duration, Timelike};
use serde_json::Value;
use support::history::{self, paris, Spec};
use support::Workspace;
use vigie::probe::{Outcome, Reason};
use vigie::report::{self, period::Period, Filter, Format};
use vigie::store::Store;

const CONFIG: &str = r#"location: paris-test
contact: veille@asso.example
timezone: Europe/Paris
probes: ["probes/*.yaml"]
targets:
  site: { base_url: "http://127.0.0.1:9" }
store: { path: var/vigie.db, retention: { runs: 3650d, rollups: 3650d } }
alerts: { group_window: 0s }
maintenance:
  - name: maintenance-annoncee
    from: "2026-09-13 02:00"
    to: "2026-09-13 03:00"
    probes: [accueil]
reports:
  office_hours: { days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }
"#;

const ACCUEIL: &str = r#"name: accueil
title: "ANEF : page d'accueil"
target: site
labels: { procedure: anef-connexion }
schedule: "*/15 * * * *"
steps:
  - name: page
    request: { url: "{{ base_url }}/" }
    expect: { status: 200 }
"#;

const RDV: &str = r##"name: rdv
title: "Préfecture : créneau titre de séjour"
target: site
labels: { procedure: titre-sejour }
schedule: "*/15 * * * *"
steps:
  - name: conditions
    request: { url: "{{ base_url }}/conditions" }
  - name: creneaux
    request: { url: "{{ base_url }}/creneaux" }
    observe:
      appointment_slots: { css_count: "a.slot-free" }
      first_free_date: { css: "#cal", attr: data-first, as: timestamp }
    no_capacity_when: { body_contains: "Il n'existe plus de plage horaire libre" }
"##;

fn accueil_spec(at: chrono::DateTime<chrono::Utc>) -> Spec {
    let d = match at.minute() {
        0 => 0.2,
        15 | 30 => 0.4,
        _ => 1.6,
    };
    let within = |a, b| at >= a && at < b;
    if within(paris(3, 9, 0), paris(3, 11, 0)) || within(paris(13, 2, 0), paris(13, 3, 0)) {
        Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[d])
    } else if within(paris(19, 20, 0), paris(19, 23, 30)) {
        Spec::failing(Outcome::Broken, Reason::ErrorPage, 0, Some(200), &[d])
    } else {
        Spec::up(&[d])
    }
}

fn rdv_spec(at: chrono::DateTime<chrono::Utc>) -> Spec {
    let offers = [(2, 10.0), (9, 20.0), (23, 30.0)];
    if at >= paris(18, 14, 0) && at < paris(18, 15, 0) {
        return Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.3]);
    }
    for (day, days_ahead) in offers {
        if at == paris(day, 10, 30) {
            let first_free = (at + Duration::days(days_ahead as i64)).timestamp() as f64;
            return Spec::up(&[0.3, 0.5])
                .observe("appointment_slots", 2.0)
                .observe("first_free_date", first_free);
        }
    }
    Spec::failing(Outcome::NoCapacity, Reason::NoCapacity, 1, Some(200), &[0.3, 0.5]).observe("appointment_slots", 0.0)
}

async fn history(ws: &Workspace) -> vigie::config::Config {
    ws.write_file("vigie.yaml", CONFIG.as_bytes());
    ws.write_probe("accueil", ACCUEIL);
    ws.write_probe("rdv", RDV);
    let config = ws.load();
    let accueil = config.probe("accueil").expect("accueil").clone();
    let rdv = config.probe("rdv").expect("rdv").clone();
    let mut runs = Vec::new();
    let mut at = paris(1, 0, 0);
    while at < paris(30, 23, 59) {
        runs.push((accueil.clone(), history::run(&accueil, at, &accueil_spec(at))));
        runs.push((rdv.clone(), history::run(&rdv, at, &rdv_spec(at))));
        at += Duration::minutes(15);
    }
    assert_eq!(runs.len(), 2 * 2880);
    history::write(&config, runs).await;
    config
}

fn september(config: &vigie::config::Config) -> report::Request<'_> {
    let now = paris(30, 12, 0) + Duration::days(60);
    let from = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("day");
    let to = chrono::NaiveDate::from_ymd_opt(2026, 9, 30).expect("day");
    report::Request {
        period: Period::new(Some(from), Some(to), chrono_tz::Europe::Paris, now).expect("period"),
        filter: Filter::default(),
        language: vigie::alert::settings::Language::Fr,
        settings: config.reports.clone(),
        config: Some(config),
        now,
    }
}

fn json(config: &vigie::config::Config) -> Value {
    let store = Store::open_existing(&config.store.path).expect("store");
    let r = report::build(store.conn(), &september(config), |_| {}).expect("report");
    let bytes = report::render(&r, Format::Json, Some(config)).expect("render");
    serde_json::from_slice(&bytes).expect("json")
}

fn probe<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["probes"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["probe"] == name))
        .unwrap_or_else(|| panic!("no probe {name} in {j}"))
}

fn close(v: &Value, expected: f64, what: &str) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{what}: not a number: {v}"));
    assert!((got - expected).abs() < 1e-6, "{what}: {got}, expected {expected}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn september_numbers_match_the_hand_computed_answers() {
    let ws = Workspace::new();
    let config = history(&ws).await;
    let j = json(&config);

    let a = probe(&j, "accueil");
    let av = &a["availability"];
    assert_eq!((av["all"]["runs"].as_u64(), av["all"]["failed"].as_u64()), (Some(2880), Some(26)));
    close(&av["all"]["availability"], 2854.0 / 2880.0, "accueil all");
    assert_eq!(av["excluding_maintenance"]["runs"], 2876);
    close(
        &av["excluding_maintenance"]["availability"],
        2854.0 / 2876.0,
        "accueil outside maintenance",
    );
    assert_eq!(av["office_hours"]["runs"], 704);
    close(&av["office_hours"]["availability"], 696.0 / 704.0, "accueil office hours");
    assert_eq!(
        (av["down"].as_u64(), av["broken"].as_u64(), av["maintenance_runs"].as_u64()),
        (Some(12), Some(14), Some(4))
    );
    let i = &a["incidents"];
    assert_eq!(i["count"], 2);
    close(&i["total_s"], 19_800.0, "accueil outage");
    close(&i["office_hours_lost_s"], 7_200.0, "accueil office hours lost");
    close(&i["longest_s"], 12_600.0, "accueil longest");
    close(&i["mttr_s"], 9_900.0, "accueil MTTR");
    close(&i["mtbf_s"], 1_286_100.0, "accueil MTBF");
    close(&a["observed_s"], 2_592_000.0, "accueil observed: every quarter-hour of September");
    close(&a["coverage"], 1.0, "accueil coverage");
    assert!(a["slots"].is_null(), "accueil is not an appointment probe");

    // Latency of whole runs that went to their end: 2 854 runs. The failing
    // ones removed 7 runs at :00, 7 at :15, 6 at :30 and 6 at :45, so 713
    // take 0.2 s, 1 427 take 0.4 s and 714 take 1.6 s: the median (rank
    // 1 427) is 0.4 s and p95 (rank 2 712) 1.6 s, within the histogram's ±9 %.
    let run_latency = &a["latency"][0];
    assert_eq!(run_latency["step"], "");
    assert_eq!(run_latency["count"], 2854);
    for (p, exact) in [("p50_s", 0.4), ("p95_s", 1.6)] {
        let got = run_latency[p].as_f64().expect("percentile");
        assert!((got - exact).abs() / exact < 0.1, "{p}: {got} vs {exact}");
    }
    close(&run_latency["max_s"], 1.6, "max");
    // The step received a response in every run (2 880), failures included.
    assert_eq!(a["latency"][1]["step"], "page");
    assert_eq!(a["latency"][1]["count"], 2880);

    let r = probe(&j, "rdv");
    close(&r["availability"]["all"]["availability"], 2876.0 / 2880.0, "rdv all");
    close(&r["availability"]["office_hours"]["availability"], 700.0 / 704.0, "rdv office");
    assert_eq!(r["availability"]["no_capacity"], 2873);
    let s = &r["slots"];
    assert_eq!((s["checks"].as_u64(), s["with_slot"].as_u64()), (Some(2876), Some(3)));
    close(&s["share_with_slot"], 3.0 / 2876.0, "share of checks with a slot");
    let l = &s["longest_without"];
    assert_eq!(l["from"], paris(9, 10, 45).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    assert_eq!(l["to"], paris(23, 10, 15).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    close(&l["duration_s"], 1_207_800.0, "longest stretch");
    assert_eq!(l["checks"], 1339);
    assert_eq!((l["ongoing"].as_bool(), l["approximate"].as_bool()), (Some(false), Some(false)));
    let f = &s["first_free"];
    assert_eq!(f["observations"], 3);
    close(&f["min_days"], 10.0, "first free min");
    close(&f["mean_days"], 20.0, "first free mean");
    close(&f["max_days"], 30.0, "first free max");
    close(&r["incidents"]["mttr_s"], 3_600.0, "rdv MTTR");
    close(&r["incidents"]["mtbf_s"], 2_588_400.0, "rdv MTBF");
    close(&r["incidents"]["office_hours_lost_s"], 3_600.0, "rdv office lost");

    // Procedures add their probes up.
    let procs = j["procedures"].as_array().expect("procedures");
    let titre = procs.iter().find(|p| p["procedure"] == "titre-sejour").expect("titre-sejour");
    assert_eq!(titre["all"]["failed"], 4);
    // The incidents list: three, in order, with their bounds.
    let list: Vec<(&str, f64)> = j["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| (i["probe"].as_str().unwrap_or(""), i["duration_s"].as_f64().unwrap_or(0.0)))
        .collect();
    assert_eq!(list, vec![("accueil", 7200.0), ("rdv", 3600.0), ("accueil", 12_600.0)]);
    // Thursday 09:00: 4 Thursdays x 4 runs x 2 probes, 4 of them failing (3 Sept).
    let cell = &j["failure_pattern"][3][9];
    assert_eq!((cell["runs"].as_u64(), cell["failed"].as_u64()), (Some(32), Some(4)));
    // Daily: 3 Sept, accueil: 96 runs, 8 failed.
    let day3 = &a["daily"][2];
    assert_eq!(
        (day3["date"].as_str(), day3["ratio"]["failed"].as_u64()),
        (Some("2026-09-03"), Some(8))
    );
    // Evidence: a capture every day (no-slot pages at least hourly).
    assert_eq!(j["evidence"]["days_covered"], 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_and_raw_runs_give_the_same_report() {
    let ws = Workspace::new();
    let config = history(&ws).await;
    let rolled = json(&config);
    let store = Store::open_existing(&config.store.path).expect("store");
    history::forget_rollups(&store);
    let raw = json(&config);
    for key in ["probes", "procedures", "incidents", "failure_pattern", "evidence"] {
        assert_eq!(rolled[key], raw[key], "{key} differs between rollups and raw runs");
    }
    // And the CSV carries the JSON's numbers.
    let r = report::build(store.conn(), &september(&config), |_| {}).expect("report");
    let csv = String::from_utf8(report::render(&r, Format::Csv, Some(&config)).expect("csv")).expect("utf-8");
    assert!(
        csv.contains("availability,accueil,anef-connexion,,,,availability,0.9909722222222223"),
        "{}",
        &csv[..2000]
    );
    assert!(csv.contains("slots,rdv,titre-sejour,,,longest_without,duration_s,1207800"), "csv");
    let html = String::from_utf8(report::render(&r, Format::Html, Some(&config)).expect("html")).expect("utf-8");
    for needle in [
        "Disponibilité",
        "Incidents",
        "Créneaux",
        "Méthodologie",
        "99,10 %",
        "03/09/2026 09:00",
        "2 h 00 min",
        "13 j 23 h 30 min",
    ] {
        assert!(html.contains(needle), "the HTML report lacks {needle:?}");
    }
    assert!(!html.contains("<script"), "no script in the report");
    assert!(!html.contains("http://") || !html.contains("src=\"http"), "nothing fetched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_hours_follow_the_configuration() {
    // Same history, office hours 10:00-12:00 on Thursdays only: 4 Thursdays
    // x 2 h x 4 = 32 runs of accueil, of which the 4 of 3 Sept 10:00-10:45
    // failed (the outage ran 09:00-11:00).
    let ws = Workspace::new();
    let config = history(&ws).await;
    let mut req = september(&config);
    req.settings.office_hours.days = [false, false, false, true, false, false, false];
    req.settings.office_hours.from_hour = 10;
    req.settings.office_hours.to_hour = 12;
    req.filter.probes = vec!["accueil".into()];
    let store = Store::open_existing(&config.store.path).expect("store");
    let r = report::build(store.conn(), &req, |_| {}).expect("report");
    assert_eq!(r.probes.len(), 1, "the filter keeps accueil only");
    let o = r.probes[0].availability.office_hours;
    assert_eq!((o.runs, o.failed), (32, 4));
    assert!((r.probes[0].incidents.office_hours_lost_s - 3600.0).abs() < 1e-6);
}
