//! The public observatory against a history whose answers are worked out
//! by hand (the same September 2026 as tests/report_numbers.rs, with two
//! hours where the portal's bot protection refused the monitor):
//!
//! Now is 1 October 2026 00:00 Paris, so the 90 days are 4 July – 1 October
//! and the 30-day window is exactly September.
//!
//! `accueil` (site anef), every 15 min, 96 runs a day:
//! - Thu 3 Sept 09:00-11:00 down (8 runs: 8/96 ≥ 5 % → outage day),
//!   incident 2 h;
//! - Sun 13 Sept 02:00-03:00 down inside an announced maintenance (4
//!   runs), nothing outside it failed → maintenance day;
//! - Sat 19 Sept 20:00-23:30 broken (14 runs → outage day), incident 3 h 30;
//! - Sat 26 Sept 10:00-12:00 `unobserved/blocked` (8 runs): neither for nor
//!   against availability, no incident, an available day with 8 not observed.
//!   September: 2 880 runs, 2 872 observed, 26 failed:
//!   30 d = 90 d = 2 846 / 2 872 = 99,09 %; 7 d (24-30 Sept) 664 observed, none failed;
//!   24 h (30 Sept) 96 / 96. Current: working since 19 Sept 23:30.
//!
//! `rdv` (site prefecture-test, « Préfecture de test »), no slot is the rule:
//! - one slot check offered slots, at 10:30 on 2, 9 and 23 Sept, with first
//!   free dates 10, 20 and 30 days later → those days available;
//! - Fri 18 Sept 14:00-15:00 down (4 runs: 4/96 < 5 % → degraded day),
//!   incident 1 h; the 26 other September days: no slot offered.
//!   Slots: 3 of 2 876 checks; last seen 23 Sept 10:30; first free date
//!   23 Oct. 30 d = (2 880 - 4) / 2 880 = 99,86 %. Current: working, no
//!   slot, since 23 Sept 10:45.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use support::history::{self, paris, Spec};
use support::Workspace;
use vigie::config::Config;
use vigie::observatory::{self, model::DayState, Input};
use vigie::probe::{Outcome, Reason};
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
  - name: migration-du-portail
    note: "Migration annoncée par le ministère"
    from: "2026-10-04 20:00"
    to: "2026-10-05 06:00"
    probes: [accueil]
publish:
  public_url: https://veille.asso.example/observatoire/
  sites: { prefecture-test: "Préfecture de test" }
"#;

const ACCUEIL: &str = r#"name: accueil
title: "ANEF : page d'accueil"
target: site
labels: { procedure: anef-connexion, site: anef }
schedule: "*/15 * * * *"
steps:
  - name: page
    request: { url: "{{ base_url }}/" }
    expect: { status: 200 }
"#;

const RDV: &str = r##"name: rdv
title: "Préfecture : créneau titre de séjour"
target: site
labels: { procedure: titre-sejour, site: prefecture-test }
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

fn accueil_spec(at: DateTime<Utc>) -> Spec {
    let within = |a, b| at >= a && at < b;
    if within(paris(3, 9, 0), paris(3, 11, 0)) || within(paris(13, 2, 0), paris(13, 3, 0)) {
        Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.2])
    } else if within(paris(19, 20, 0), paris(19, 23, 30)) {
        Spec::failing(Outcome::Broken, Reason::ErrorPage, 0, Some(200), &[0.2])
    } else if within(paris(26, 10, 0), paris(26, 12, 0)) {
        Spec::failing(Outcome::Unobserved, Reason::Blocked, 0, Some(403), &[0.2])
    } else {
        Spec::up(&[0.2])
    }
}

fn rdv_spec(at: DateTime<Utc>) -> Spec {
    if at >= paris(18, 14, 0) && at < paris(18, 15, 0) {
        return Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.3]);
    }
    for (day, ahead) in [(2, 10), (9, 20), (23, 30)] {
        if at == paris(day, 10, 30) {
            let first_free = (at + Duration::days(ahead)).timestamp() as f64;
            return Spec::up(&[0.3, 0.5])
                .observe("appointment_slots", 2.0)
                .observe("first_free_date", first_free);
        }
    }
    Spec::failing(Outcome::NoCapacity, Reason::NoCapacity, 1, Some(200), &[0.3, 0.5]).observe("appointment_slots", 0.0)
}

struct Fixture {
    _ws: Workspace,
    config: Config,
    site: PathBuf,
}

fn now() -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .expect("now")
        .with_timezone(&Utc)
}

/// The history, written once for every test of this file, and published.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ws = Workspace::new();
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
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(history::write(&config, runs));
        let site = ws.path().join("site");
        let o = build(&config);
        observatory::publish(&site, &observatory::site(&o).expect("render"), 1).expect("publish");
        Fixture { _ws: ws, config, site }
    })
}

fn build(config: &Config) -> observatory::model::Observatory {
    let store = Store::open_existing(&config.store.path).expect("store");
    observatory::build(
        store.conn(),
        &Input {
            config: Some(config),
            settings: &config.publish,
            now: now(),
        },
    )
    .expect("observatory")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn day(d: u32, m: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).expect("day")
}

#[test]
fn figures_match_the_hand_computed_history() {
    let f = fixture();
    let o = build(&f.config);
    assert_eq!((o.from, o.to), (day(4, 7), day(1, 10)));
    let a = o.procedure("accueil").expect("accueil");
    assert_eq!(a.site_title, "ANEF", "taken from the title before « : »");
    assert_eq!(a.days.len(), 90);
    let state = |p: &observatory::model::Procedure, d: NaiveDate| p.days.iter().find(|x| x.date == d).expect("day").state;
    assert_eq!(state(a, day(3, 9)), DayState::Outage);
    assert_eq!(state(a, day(13, 9)), DayState::Maintenance);
    assert_eq!(state(a, day(19, 9)), DayState::Outage);
    assert_eq!(
        state(a, day(26, 9)),
        DayState::Available,
        "refusals of the monitor are not the portal's outage"
    );
    assert_eq!(state(a, day(4, 7)), DayState::NotObserved);
    let counts = |p: &observatory::model::Procedure, s: DayState| p.days.iter().filter(|d| d.state == s).count();
    assert_eq!(
        [DayState::Available, DayState::Outage, DayState::Maintenance, DayState::NotObserved].map(|s| counts(a, s)),
        [27, 2, 1, 60]
    );
    let sept26 = a.days.iter().find(|d| d.date == day(26, 9)).expect("26");
    assert_eq!(
        (sept26.availability.runs, sept26.unobserved, sept26.availability.failed),
        (88, 8, 0)
    );
    let w: Vec<(u64, u64)> = a.windows.iter().map(|w| (w.availability.runs, w.availability.failed)).collect();
    assert_eq!(w, vec![(96, 0), (664, 0), (2872, 26), (2872, 26)], "24 h, 7 d, 30 d, 90 d");
    assert_eq!(a.unobserved.total, 8);
    assert_eq!(a.unobserved.blocked, 8);
    assert_eq!(a.current, observatory::model::Current::Available);
    assert_eq!(a.since, Some(paris(19, 23, 30)));
    assert_eq!(a.last_check, Some(paris(30, 23, 45)));
    let inc: Vec<(DateTime<Utc>, Option<DateTime<Utc>>, f64)> =
        a.incidents.iter().map(|i| (i.started_at, i.ended_at, i.duration_s)).collect();
    assert_eq!(
        inc,
        vec![
            (paris(19, 20, 0), Some(paris(19, 23, 30)), 12_600.0),
            (paris(3, 9, 0), Some(paris(3, 11, 0)), 7_200.0)
        ],
        "most recent first, the blocked hours opened none"
    );

    let r = o.procedure("rdv").expect("rdv");
    assert_eq!(r.site_title, "Préfecture de test", "from publish.sites");
    assert_eq!(state(r, day(2, 9)), DayState::Available);
    assert_eq!(state(r, day(18, 9)), DayState::Degraded, "4 of 96 checks failed: under 5 %");
    assert_eq!(state(r, day(1, 9)), DayState::NoSlot);
    assert_eq!(counts(r, DayState::NoSlot), 26);
    let s = r.slots.as_ref().expect("appointment probe");
    assert_eq!((s.checks, s.with_slot), (2876, 3));
    assert_eq!(s.last_seen, Some(paris(23, 10, 30)));
    assert_eq!(s.first_free_date, Some(paris(23, 10, 30) + Duration::days(30)));
    assert_eq!(s.first_free_seen_at, Some(paris(23, 10, 30)));
    assert_eq!(r.current, observatory::model::Current::NoSlot);
    assert_eq!(r.since, Some(paris(23, 10, 45)));
    assert_eq!((r.windows[2].availability.runs, r.windows[2].availability.failed), (2880, 4));
    assert_eq!(r.incidents.len(), 1);
    assert_eq!(r.incidents[0].duration_s, 3600.0);

    assert_eq!(o.maintenance.len(), 1, "the window to come; the past one is history");
    assert_eq!(o.maintenance[0].procedures, vec!["ANEF : page d'accueil".to_string()]);
}

#[test]
fn availability_is_the_reports_own() {
    let f = fixture();
    let o = build(&f.config);
    let store = Store::open_existing(&f.config.store.path).expect("store");
    let period = vigie::report::period::Period::new(Some(day(1, 9)), Some(day(30, 9)), chrono_tz::Europe::Paris, now()).expect("period");
    let req = vigie::report::Request {
        period,
        filter: vigie::report::Filter::default(),
        language: vigie::alert::settings::Language::Fr,
        settings: f.config.reports.clone(),
        config: Some(&f.config),
        now: now(),
    };
    let report = vigie::report::build(store.conn(), &req, |_| {}).expect("report");
    for p in &report.probes {
        let ours = o.procedure(&p.probe).expect("procedure");
        assert_eq!(
            ours.windows[2].availability, p.availability.all,
            "{}: 30 d = the report's September",
            p.probe
        );
        let slots = p.slots.as_ref().map(|s| (s.checks, s.with_slot));
        assert_eq!(ours.slots.as_ref().map(|s| (s.checks, s.with_slot)), slots);
    }
}

#[test]
fn pages_show_figures_in_words_without_identifiers_or_script() {
    let f = fixture();
    let index = read(&f.site.join("index.html"));
    assert!(index.starts_with("<!DOCTYPE html>\n<html lang=\"fr\">"));
    for expected in [
        "<h2 id=\"site-1\">ANEF</h2>",
        ">Page d&#39;accueil</a></h3>",
        ">Préfecture : créneau titre de séjour</a></h3>",
        "Préfecture de test",
        "Fonctionne depuis le 19/09/2026 23:30",
        "Fonctionne, aucun créneau proposé depuis le 23/09/2026 10:45",
        "99,09 %",
        "99,86 %",
        "Dernier créneau vu le 23/09/2026 10:30",
        "Première date libre proposée : 23/10/2026",
        "0,10 %",
        "L&#39;outil de mesure a été refusé par la protection anti-robots du portail 8 fois",
        "19/09/2026 20:00",
        "3 h 30 min",
        "page « erreur technique »",
        "04/10/2026 20:00 → 05/10/2026 06:00",
        "Migration annoncée par le ministère",
        "03/09/2026 : panne",
        "aucun créneau proposé",
        "Légende",
        "href=\"index.en.html\"",
        "href=\"procedure/rdv.html\"",
    ] {
        assert!(index.contains(expected), "index.html lacks `{expected}`");
    }
    let en = read(&f.site.join("index.en.html"));
    assert!(en.contains("<html lang=\"en\">") && en.contains("Working since 2026-09-19 23:30") && en.contains("99.09%"));
    let detail = read(&f.site.join("procedure/rdv.html"));
    for expected in [
        "Chiffres quotidiens (90 jours)",
        "<svg class=\"chart\"",
        "18/09/2026",
        "1/96",
        "href=\"../index.html\"",
    ] {
        assert!(detail.contains(expected), "procedure/rdv.html lacks `{expected}`");
    }
    for (name, page) in [("index.html", &index), ("index.en.html", &en), ("procedure/rdv.html", &detail)] {
        for forbidden in [
            "<script",
            " src=",
            "stylesheet",
            "@import",
            "127.0.0.1",
            "anef-connexion",
            "titre-sejour",
            "prefecture-test",
            "synthetic",
            "Une erreur technique est survenue",
            "http_5xx",
            "no_capacity",
            "SESSION",
        ] {
            assert!(!page.contains(forbidden), "{name} shows `{forbidden}`");
        }
    }
}

#[test]
fn api_feed_and_badges() {
    let f = fixture();
    let list = json(&f.site.join("api/v1/procedures.json"));
    assert_eq!(list["format"], "vigie-observatory/1");
    let slugs: Vec<&str> = list["procedures"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["slug"].as_str())
        .collect();
    assert_eq!(slugs, vec!["accueil", "rdv"]);
    // Written entry by entry, the index keeps the shape it had as one JSON
    // tree: every object's keys sorted, pretty-printed the same way.
    let bytes = std::fs::read(f.site.join("api/v1/procedures.json")).expect("index");
    // (Decimals are masked: parsing them back may change their last digit.)
    let text = String::from_utf8(bytes).expect("utf-8");
    let decimals = regex::Regex::new(r"-?[0-9]+\.[0-9]+(e-?[0-9]+)?").expect("regex");
    let again = serde_json::to_string_pretty(&list).expect("json");
    assert_eq!(decimals.replace_all(&text, "D"), decimals.replace_all(&again, "D"));
    let rdv_entry = &list["procedures"][1];
    assert_eq!(rdv_entry["detail"], "procedures/rdv.json");
    assert!(rdv_entry["windows"].as_array().is_some_and(|w| !w.is_empty()), "{rdv_entry}");
    assert!(rdv_entry.get("days").is_none(), "the daily figures stay in each procedure's file");
    let rdv = json(&f.site.join("api/v1/procedures/rdv.json"));
    assert_eq!(rdv["days"].as_array().map(Vec::len), Some(90));
    let d18 = rdv["days"]
        .as_array()
        .expect("days")
        .iter()
        .find(|d| d["date"] == "2026-09-18")
        .expect("18 Sept");
    assert_eq!(
        (d18["state"].as_str(), d18["down"].as_u64(), d18["slot_checks"].as_u64()),
        (Some("degraded"), Some(4), Some(92))
    );
    assert_eq!(rdv["slots"]["with_slot"], 3);
    let incidents = json(&f.site.join("api/v1/incidents.json"));
    let ids: Vec<f64> = incidents["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter_map(|i| i["duration_s"].as_f64())
        .collect();
    assert_eq!(ids, vec![12_600.0, 3_600.0, 7_200.0], "most recent first");
    assert!(
        !read(&f.site.join("api/v1/incidents.json")).contains("synthetic"),
        "no message, no page content"
    );

    let feed = f.site.join("incidents.atom");
    let out = Command::new("python3")
        .env("PYTHONPATH", support::ci_tools::python_path())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/atom_check.py"))
        .arg(&feed)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "the feed is not valid Atom:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = read(&feed);
    assert_eq!(text.matches("<entry>").count(), 3);
    assert!(text.contains("Panne terminée : ANEF : page d&#39;accueil") || text.contains("Panne terminée : ANEF : page d'accueil"));
    assert!(text.contains("3 h 30 min") && text.contains("https://veille.asso.example/observatoire/procedure/accueil.html"));

    let badge = read(&f.site.join("badges/accueil-30d.svg"));
    assert!(badge.contains("disponibilité 30 j: 99,09 %"), "{badge}");
    assert!(read(&f.site.join("badges/rdv-state.svg")).contains("Fonctionne, aucun créneau proposé"));
    for b in ["badges/accueil-30d.svg", "badges/rdv-state.svg", "incidents.en.atom"] {
        well_formed_xml(&f.site.join(b));
    }
}

#[test]
fn emails_link_to_the_public_url_or_nowhere() {
    let f = fixture();
    assert_eq!(
        f.config.alerting.status_page_url.as_deref(),
        Some("https://veille.asso.example/observatoire/")
    );
    let ws = Workspace::new();
    ws.write_file(
        "vigie.yaml",
        CONFIG
            .replace("  public_url: https://veille.asso.example/observatoire/\n", "")
            .as_bytes(),
    );
    ws.write_probe("accueil", ACCUEIL);
    ws.write_probe("rdv", RDV);
    let c = ws.load();
    assert_eq!(c.alerting.status_page_url, None, "no public_url: no link, never a loopback address");
}

/// Parsed by Python's XML parser (a conforming, non-validating one).
fn well_formed_xml(path: &Path) {
    let out = Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])"])
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{} is not well-formed XML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn npm_file(rel: &str) -> PathBuf {
    support::ci_tools::npm_file(rel, ".ci/install-observatory.sh")
}

fn pages(site: &Path) -> Vec<PathBuf> {
    [
        "index.html",
        "index.en.html",
        "procedure/accueil.html",
        "procedure/rdv.html",
        "procedure/rdv.en.html",
    ]
    .iter()
    .map(|p| site.join(p))
    .collect()
}

/// What a page did in Chromium: axe-core's result, the requests it made
/// that were not its own file, and the document's width.
struct Checked {
    page: PathBuf,
    axe: Value,
    outside: Vec<String>,
    scroll_width: u64,
}

/// Open each page from disk in one headless Chromium (vigie's own
/// DevTools client), as it is published: no script added to the file.
/// axe-core is evaluated in the loaded page, then run on it.
async fn check_in_chromium(pages: &[PathBuf], width: u32) -> Vec<Checked> {
    use vigie::browser::{cdp::Cdp, page, process::Chromium};
    let axe = read(&npm_file("axe-core/axe.min.js"));
    let profiles = tempfile::tempdir().expect("profiles");
    let mut chromium =
        Chromium::launch(Path::new("/usr/bin/chromium"), profiles.path(), (width, 900), 512).expect("chromium (.ci/install-chromium.sh)");
    let (to, from) = chromium.take_pipes().expect("pipes");
    let (cdp, events) = Cdp::connect(to, from).expect("cdp");
    let outside = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let gate: page::Gate = {
        let outside = outside.clone();
        std::sync::Arc::new(move |req: page::GateRequest| {
            let own = req.url.starts_with("file://");
            if !own {
                outside.lock().unwrap_or_else(|e| e.into_inner()).push(req.url);
            }
            Box::pin(async move {
                if own {
                    page::GateDecision::Continue
                } else {
                    page::GateDecision::Block
                }
            })
        })
    };
    let tab = page::Page::open(cdp, events, gate, (width, 900)).await.expect("page");
    let mut out = Vec::new();
    for p in pages {
        let deadline = || tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        outside.lock().unwrap_or_else(|e| e.into_inner()).clear();
        tab.navigate(&format!("file://{}", p.display()), deadline()).await.expect("load");
        tab.eval(&format!("{axe}\n;true"), deadline()).await.expect("axe-core loads");
        let result = tab
            .eval(
                r#"axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }).then(r => ({
                    violations: r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(" ") + " :: " + n.failureSummary) })),
                    passes: r.passes.length }))"#,
                deadline(),
            )
            .await
            .expect("axe.run");
        let scroll_width = tab.eval("document.documentElement.scrollWidth", deadline()).await.expect("width");
        out.push(Checked {
            page: p.clone(),
            axe: result,
            outside: outside.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            scroll_width: scroll_width.as_u64().unwrap_or(u64::MAX),
        });
    }
    tab.close().await;
    chromium.kill();
    chromium.cleanup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_core_in_headless_chromium_finds_no_wcag_violation_at_phone_and_desktop_widths() {
    let f = fixture();
    for width in [390, 1280] {
        for c in check_in_chromium(&pages(&f.site), width).await {
            let page = c.page.display();
            assert_eq!(
                c.axe["violations"],
                serde_json::json!([]),
                "{page} at {width} px: axe-core violations"
            );
            assert!(c.axe["passes"].as_u64().unwrap_or(0) > 10, "axe ran its rules on {page}: {}", c.axe);
            assert_eq!(c.outside, Vec::<String>::new(), "{page} asked for something outside its own file");
            assert!(
                c.scroll_width <= u64::from(width),
                "{page} is {} px wide in a {width} px window: it does not reflow",
                c.scroll_width
            );
        }
    }
}

#[test]
fn pages_are_valid_html_per_the_nu_checker() {
    let f = fixture();
    let vnu = npm_file("vnu-jar/build/dist/vnu.jar");
    let out = Command::new("java")
        .arg("-jar")
        .arg(vnu)
        .args(["--errors-only", "--format", "text"])
        .args(pages(&f.site))
        .output()
        .expect("java");
    assert!(
        out.status.success(),
        "the Nu HTML checker found errors:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn publishing_switches_the_whole_site_at_once() {
    let f = fixture();
    let o = build(&f.config);
    let dir = tempfile::tempdir().expect("tmp");
    let site = dir.path().join("site");
    std::fs::create_dir(&site).expect("an empty folder is accepted");
    observatory::publish(&site, &observatory::site(&o).expect("render"), 0).expect("first");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (site, stop) = (site.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut reads, mut vanished) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // A reader resolves the link once and reads two files of
                // that generation, as a page and its data would be.
                let root = match std::fs::canonicalize(&site) {
                    Ok(root) => root,
                    // The generation the link named was removed during the
                    // lookup (two publications meanwhile); the link is there.
                    Err(_) => {
                        let link = std::fs::symlink_metadata(&site).expect("the site's link always exists");
                        assert!(link.file_type().is_symlink(), "the site is always a link");
                        vanished += 1;
                        continue;
                    }
                };
                let (page, api) = match (
                    std::fs::read_to_string(root.join("index.html")),
                    std::fs::read_to_string(root.join("api/v1/procedures.json")),
                ) {
                    (Ok(page), Ok(api)) => (page, api),
                    // Two newer generations came meanwhile and this one was
                    // removed: whole (renamed away first), never in part.
                    _ if !root.exists() => {
                        vanished += 1;
                        continue;
                    }
                    (page, api) => panic!("a file missing from a generation still there: {page:?} {api:?}"),
                };
                assert!(page.ends_with("</html>\n"), "half a page read");
                let api: Value = serde_json::from_str(&api).expect("whole JSON");
                let stamp = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).ok();
                let page_stamp = page
                    .split("<time datetime=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .and_then(stamp);
                assert!(page_stamp.is_some(), "the page says when it was made");
                assert_eq!(
                    page_stamp,
                    api["generated_at"].as_str().and_then(stamp),
                    "a page and the data of another publication"
                );
                let generation = root.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
                assert!(generation.starts_with("g-"), "{generation}");
                reads += 1;
            }
            (reads, vanished)
        })
    };
    for i in 1..=30i64 {
        let mut o = o.clone();
        o.generated_at += Duration::seconds(i);
        observatory::publish(&site, &observatory::site(&o).expect("render"), i).expect("publish");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, vanished) = reader.join().expect("every read saw a whole site");
    assert!(reads > 0, "{reads} reads, {vanished} of a generation removed meanwhile");
    let gens = std::fs::read_dir(observatory::publish::generations_dir(&site))
        .expect("gens")
        .count();
    assert!(gens <= 2, "old generations are removed, {gens} kept");
    let last: Value = json(&site.join("api/v1/procedures.json"));
    assert_eq!(last["generated_at"], serde_json::json!(o.generated_at + Duration::seconds(30)));

    let other = dir.path().join("not-ours");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("keep.txt"), "x").expect("write");
    let err = observatory::publish(&other, &[], 0).expect_err("a folder with files is not replaced");
    assert!(err.to_string().contains("vigie did not create"), "{err}");
    assert!(other.join("keep.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_publishes_the_site_it_is_configured_for() {
    let sim = support::start_sim().await;
    let ws = Workspace::new();
    ws.write_config(
        &sim,
        "store: { path: var/vigie.db }\nalerts: { group_window: 0s }\npublish: { output: var/site, every: 1m }\n",
    );
    let handle = start_daemon_probing_every_second(&ws).await;
    let index = ws.path().join("var/site/index.html");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !index.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let page = read(&index);
    assert!(page.contains(">Page d&#39;accueil</a>"), "the configured probe is listed");
    assert!(std::fs::symlink_metadata(ws.path().join("var/site"))
        .expect("site")
        .file_type()
        .is_symlink());

    // The same site, served by the daemon under /observatoire/.
    let client = reqwest::Client::new();
    let get = |path: &str, accept: Option<&str>| {
        let mut req = client.get(format!("http://{}{path}", handle.listen));
        if let Some(a) = accept {
            req = req.header("Accept-Language", a);
        }
        async move {
            let resp = req.send().await.expect("response");
            let status = resp.status().as_u16();
            let header = |h: &str| resp.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
            let (lang, vary) = (header("content-language"), header("vary"));
            (status, lang, vary, resp.text().await.expect("body"))
        }
    };
    let (status, lang, vary, body) = get("/observatoire/", None).await;
    assert_eq!(
        (status, lang.as_deref(), vary.as_deref()),
        (200, Some("fr"), Some("Accept-Language"))
    );
    assert!(body.starts_with("<!DOCTYPE html>\n<html lang=\"fr\">") && body.contains(">Page d&#39;accueil</a>"));
    let (_, lang, _, body) = get("/observatoire/", Some("en-GB,en;q=0.9,fr;q=0.8")).await;
    assert_eq!(lang.as_deref(), Some("en"));
    assert!(body.contains("<html lang=\"en\">") && body.contains("Online procedures observatory"));
    let (_, _, _, body) = get("/observatoire/?lang=en", Some("fr")).await;
    assert!(body.contains("<html lang=\"en\">"), "?lang=en wins over the header");
    let (_, _, vary, body) = get("/observatoire/index.html", Some("en")).await;
    assert!(
        body.contains("<html lang=\"fr\">") && vary.is_none(),
        "a page named in full is served as named"
    );
    let (_, _, _, body) = get("/observatoire/procedure/accueil?lang=en", None).await;
    assert!(body.contains("<html lang=\"en\">") && body.contains("ANEF : page d&#39;accueil"));
    let (status, _, _, body) = get("/observatoire/api/v1/procedures.json", None).await;
    let api: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((status, api["procedures"][0]["slug"].as_str()), (200, Some("accueil")));
    assert_eq!(get("/observatoire/../vigie.yaml", None).await.0, 404);

    // Rendered a file at a time into both: every file written to the
    // folder is served, byte for byte, under /observatoire/.
    let root = std::fs::canonicalize(ws.path().join("var/site")).expect("generation");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").map(|e| e.expect("entry").path()) {
            if e.is_dir() {
                dirs.push(e);
            } else {
                files.push(e);
            }
        }
    }
    // Index and detail in two languages, feed ×2, two badges, three JSON.
    assert_eq!(files.len(), 11, "{files:?}");
    for f in &files {
        let rel = f.strip_prefix(&root).expect("inside").to_string_lossy().into_owned();
        let resp = client
            .get(format!("http://{}/observatoire/{rel}", handle.listen))
            .send()
            .await
            .expect("response");
        assert_eq!(resp.status().as_u16(), 200, "{rel}");
        let served = resp.bytes().await.expect("body");
        assert!(served.as_ref() == std::fs::read(f).expect("read").as_slice(), "{rel} differs");
    }
    handle.shutdown(std::time::Duration::from_secs(5)).await;
}

/// A daemon on an ephemeral port with one probe of the simulator's home
/// page, run every second.
async fn start_daemon_probing_every_second(ws: &Workspace) -> vigie::daemon::DaemonHandle {
    ws.write_probe(
        "accueil",
        "name: accueil\ntitle: \"ANEF : page d'accueil\"\ntarget: anef-sim\nlabels: { procedure: anef-connexion, site: anef }\nschedule: \"* * * * * *\"\nsteps:\n  - name: page\n    request: { url: \"{{ base_url }}/particuliers/\" }\n    expect: { status: 200 }\n",
    );
    let source = vigie::daemon::ConfigSource {
        path: ws.config_path(),
        files: std::sync::Arc::new(vigie::config::DiskFiles),
        options: vigie::config::LoadOptions {
            env: Some(Default::default()),
            ..Default::default()
        },
    };
    vigie::daemon::Daemon::start(source, Some("127.0.0.1:0".parse().expect("addr")), vigie::alert::sinks())
        .await
        .expect("daemon starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_publish_output_the_daemon_serves_the_site_from_a_private_folder_beside_the_store() {
    use std::os::unix::fs::PermissionsExt;
    let sim = support::start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "store: { path: var/vigie.db }\nalerts: { group_window: 0s }\n");
    let handle = start_daemon_probing_every_second(&ws).await;
    let cache = ws.path().join("var/observatoire-cache");
    assert_eq!(cache, vigie::daemon::observatory_cache(&handle.daemon.config()));
    let client = reqwest::Client::new();
    let url = format!("http://{}/observatoire/", handle.listen);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut status = 0;
    while status != 200 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        status = client.get(&url).send().await.expect("response").status().as_u16();
    }
    assert_eq!(status, 200, "published without `publish.output`");
    let mode = std::fs::metadata(&cache).expect("the cache folder").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the cache is owner-only");
    // Served from the generation the cache's link names, byte for byte.
    let root = std::fs::canonicalize(cache.join("site")).expect("generation");
    assert!(root.starts_with(std::fs::canonicalize(&cache).expect("cache")));
    for rel in [
        "index.html",
        "index.en.html",
        "procedure/accueil.html",
        "api/v1/procedures.json",
        "badges/accueil-30d.svg",
    ] {
        let resp = client.get(format!("{url}{rel}")).send().await.expect("response");
        assert_eq!(resp.status().as_u16(), 200, "{rel}");
        let served = resp.bytes().await.expect("body");
        assert!(
            served.as_ref() == std::fs::read(root.join(rel)).expect("read").as_slice(),
            "{rel} differs"
        );
    }
    let page = String::from_utf8(std::fs::read(root.join("index.html")).expect("index")).expect("utf-8");
    assert!(page.contains(">Page d&#39;accueil</a>"), "the configured probe is listed");
    // A file put into the generation by someone else is not served.
    std::fs::write(root.join("planted.html"), "not published").expect("plant");
    assert_eq!(
        client
            .get(format!("{url}planted.html"))
            .send()
            .await
            .expect("response")
            .status()
            .as_u16(),
        404
    );
    handle.shutdown(std::time::Duration::from_secs(5)).await;
}

#[test]
fn a_served_generation_stays_until_the_next_publication_then_is_removed() {
    use observatory::serve::{publish, Latest};
    let f = fixture();
    let o = build(&f.config);
    let dir = tempfile::tempdir().expect("tmp");
    let site = dir.path().join("site");
    let latest = Latest::default();
    let index = |s: &observatory::serve::Site| s.get("index.html");
    let files = publish(&o, &site, 1, &latest).expect("first");
    let first = latest.get().expect("served");
    assert_eq!(index(&first), Some(std::fs::read(site.join("index.html")).expect("index")));
    assert!(files > 5);

    // A request that took the first generation keeps reading it after the
    // second is published: it is kept until the next swap.
    publish(&o, &site, 2, &latest).expect("second");
    let second = latest.get().expect("served");
    assert_ne!(first.root(), second.root());
    assert!(index(&first).is_some(), "the previous generation is still readable");
    let canon = |p: &Path| std::fs::canonicalize(p).expect("canonical");
    assert_eq!(canon(&site), second.root());

    publish(&o, &site, 3, &latest).expect("third");
    let third = latest.get().expect("served");
    assert!(!first.root().exists(), "the generation two publications old is removed");
    assert_eq!(index(&first), None);
    assert!(index(&second).is_some() && index(&third).is_some());
    let gens: Vec<PathBuf> = std::fs::read_dir(observatory::publish::generations_dir(&site))
        .expect("gens")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(gens.len(), 2, "{gens:?}");

    // A publication that fails leaves the served site as it was.
    let mut not_ours = dir.path().join("not-ours");
    std::fs::create_dir(&not_ours).expect("mkdir");
    std::fs::write(not_ours.join("keep.txt"), "x").expect("write");
    publish(&o, &not_ours, 4, &latest).expect_err("not our folder");
    assert_eq!(latest.get().expect("served").root(), third.root());
    not_ours.push("keep.txt");
    assert!(not_ours.exists());
}

#[test]
fn a_generation_left_unfinished_is_removed_and_the_site_stays() {
    let f = fixture();
    let o = build(&f.config);
    let dir = tempfile::tempdir().expect("tmp");
    let site = dir.path().join("site");
    let first = observatory::publish(&site, &observatory::site(&o).expect("render"), 1).expect("first");
    let files = observatory::site(&o).expect("render");
    let mut g = observatory::Generation::begin(&site, 2).expect("begin");
    g.write(&files[0]).expect("one file");
    let unfinished: Vec<PathBuf> = std::fs::read_dir(observatory::publish::generations_dir(&site))
        .expect("gens")
        .map(|e| e.expect("entry").path())
        .filter(|p| *p != first.generation)
        .collect();
    assert_eq!(unfinished.len(), 1, "the new generation is being written beside the first");
    assert!(unfinished[0].join(&files[0].path).exists());
    drop(g);
    assert!(!unfinished[0].exists(), "an unfinished generation is removed");
    let canon = |p: &Path| std::fs::canonicalize(p).expect("canonical");
    assert_eq!(canon(&site), canon(&first.generation), "the site stays");
    assert_eq!(
        std::fs::read(site.join("index.html")).expect("index"),
        files.iter().find(|f| f.path == "index.html").expect("index").bytes
    );

    // File by file, the same site as all at once.
    let mut g = observatory::Generation::begin(&site, 3).expect("begin");
    observatory::render_each(&o, |f| g.write(&f)).expect("render");
    let second = g.finish().expect("finish");
    assert_eq!((second.files, second.bytes), (first.files, first.bytes));
    assert_eq!(canon(&site), canon(&second.generation));
}
