//! The simulator's single-page ANEF, RDV-Préfecture's bot protection and the
//! shipped probes, in the real Chromium (Debian's `chromium`;
//! `.ci/install-chromium.sh`) over real sockets.
//!
//! Each fault of the app gives its own outcome and reason for the browser
//! probe, while the HTTP probe of the same shell says `up`: the test that
//! documents why browser probes exist. Bot protection gives `unobserved` /
//! `blocked` for both kinds of probe and opens no outage. The live probes
//! pass `vigie check` and succeed against a simulator set up like the live
//! sites. One simulator per test; waits are the shipped probes' own.
//!
//! Set `VIGIE_SPA_SHOTS=<folder>` to keep the screenshots for a look.

mod support;

use std::collections::HashMap;
use std::path::Path;

use support::{describe, patch, shipped_demo_config, start_sim};
use vigie::alert::machine::{self, ProbeState};
use vigie::alert::settings::Policy;
use vigie::config::{self, Config, DiskFiles, LoadOptions};
use vigie::probe::{Outcome, Reason, RunResult};
use vigie::sim::{self, SimHandle};

fn require_chromium() {
    assert!(
        vigie::browser::find_chromium(None).is_some(),
        "these tests need Debian's Chromium: apt-get install chromium (see .ci/install-chromium.sh)"
    );
}

async fn run(cfg: &Config, probe: &str) -> RunResult {
    let r = support::run(cfg, probe).await;
    keep_shots(&r);
    r
}

/// Writes the run's screenshots to `$VIGIE_SPA_SHOTS`, when set.
fn keep_shots(r: &RunResult) {
    let Ok(dir) = std::env::var("VIGIE_SPA_SHOTS") else {
        return;
    };
    for s in &r.steps {
        if let Some(shot) = &s.screenshot {
            let name = format!("{}-{}-{}.png", r.probe, s.name, r.started_at.format("%H%M%S%3f"));
            std::fs::write(Path::new(&dir).join(name), &shot.png).expect("write screenshot");
        }
    }
}

fn expect(r: &RunResult, outcome: Outcome, reason: Option<Reason>) {
    assert_eq!((r.outcome, r.reason), (outcome, reason), "{}", describe(r));
}

/// The deciding step's screenshot and rendered page.
fn shot_and_page(r: &RunResult) -> (usize, String) {
    let step = r.deciding_step().unwrap_or_else(|| panic!("no deciding step: {}", describe(r)));
    let png = step.screenshot.as_ref().map_or(0, |s| s.png.len());
    let page = step
        .capture
        .as_ref()
        .map(|c| String::from_utf8_lossy(&c.body).to_string())
        .unwrap_or_default();
    (png, page)
}

async fn demo(sim: &SimHandle) -> Config {
    require_chromium();
    sim.reset();
    shipped_demo_config(sim)
}

#[tokio::test]
async fn each_app_fault_gives_its_finding_in_the_browser_while_the_http_probe_of_the_shell_says_up() {
    let sim = start_sim().await;
    let cfg = demo(&sim).await;
    let creation = "sim-anef-creation-compte-navigateur";

    let r = run(&cfg, creation).await;
    expect(&r, Outcome::Up, None);
    assert_eq!(sim.state().counters.accounts_created, 1, "the app's form reached the API");

    // The API answers 500: the shell is 200, the app shows the banner.
    patch(&sim, r#"{"routes":{"api":{"mode":"server_error"}}}"#);
    let r = run(&cfg, creation).await;
    expect(&r, Outcome::Broken, Some(Reason::ErrorPage));
    let (png, page) = shot_and_page(&r);
    assert!(png > 1000, "a screenshot of the banner: {}", describe(&r));
    assert!(page.contains("Une erreur technique est survenue"), "{page}");
    let http = run(&cfg, "sim-anef-accueil").await;
    expect(&http, Outcome::Up, None);

    // The app's first call never answers: the spinner stays.
    patch(&sim, r#"{"routes":{"api":{"mode":"normal"}},"app":"spinner"}"#);
    let r = run(&cfg, creation).await;
    expect(&r, Outcome::Broken, Some(Reason::Assertion));
    let (_, page) = shot_and_page(&r);
    assert!(page.contains("Chargement en cours"), "the spinner: {page}");
    expect(&run(&cfg, "sim-anef-accueil").await, Outcome::Up, None);

    // A script error: a blank page, the exception in the console.
    patch(&sim, r#"{"app":"script_error"}"#);
    let r = run(&cfg, creation).await;
    expect(&r, Outcome::Broken, Some(Reason::Assertion));
    let facts = r.steps[0].browser.as_ref().expect("browser facts");
    assert!(
        facts.console_errors.iter().any(|e| e.contains("anefBootstrap")),
        "{:?}",
        facts.console_errors
    );
    let (_, page) = shot_and_page(&r);
    assert!(page.contains("<app-root></app-root>"), "nothing rendered: {page}");
    expect(&run(&cfg, "sim-anef-accueil").await, Outcome::Up, None);

    // « Le site est en maintenance » with 503: both kinds see it.
    patch(&sim, r#"{"app":"normal","routes":{"home":{"mode":"maintenance"}}}"#);
    let r = run(&cfg, creation).await;
    expect(&r, Outcome::Down, Some(Reason::Http5xx));
    assert!(shot_and_page(&r).1.contains("Le site est en maintenance"));
    expect(&run(&cfg, "sim-anef-accueil").await, Outcome::Down, Some(Reason::Http5xx));

    // The upload is refused after the progress bar went to 100 %.
    patch(&sim, r#"{"routes":{"home":{"mode":"normal"}}}"#);
    let r = run(&cfg, "sim-anef-depot-navigateur").await;
    expect(&r, Outcome::Up, None);
    patch(&sim, r#"{"upload":"reject"}"#);
    let r = run(&cfg, "sim-anef-depot-navigateur").await;
    expect(&r, Outcome::Broken, Some(Reason::UploadRejected));
    assert_eq!(r.failed_step.as_deref(), Some("depot"));
    let (png, page) = shot_and_page(&r);
    assert!(png > 1000);
    assert!(page.contains("Le dépôt de la pièce a échoué"), "{page}");
    assert!(page.contains(r#"id="progression""#) && page.contains(r#"value="100""#), "{page}");
    assert_eq!(sim.state().counters.uploads_rejected, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn login_page_and_slot_pages_in_the_browser() {
    let sim = start_sim().await;
    let cfg = demo(&sim).await;
    expect(&run(&cfg, "sim-anef-navigateur").await, Outcome::Up, None);

    // RDV-Préfecture stops at the CAPTCHA, with the screenshot of that page.
    let r = run(&cfg, "sim-rdv-prefecture-navigateur").await;
    expect(&r, Outcome::Up, None);
    assert_eq!(r.captcha_step.as_deref(), Some("cgu"), "{}", describe(&r));
    assert!(r.steps[0].screenshot.is_some(), "the page where a person takes over");
    assert!(
        !sim.requests().iter().any(|q| q.method == "POST" && q.path.contains("/cgu/")),
        "nothing is submitted to the form that carries the CAPTCHA"
    );
    patch(&sim, r#"{"captcha":false,"rdv_slots":0}"#);
    expect(
        &run(&cfg, "sim-rdv-prefecture-navigateur").await,
        Outcome::NoCapacity,
        Some(Reason::NoCapacity),
    );
    patch(&sim, r#"{"rdv_slots":3}"#);
    let r = run(&cfg, "sim-rdv-prefecture-navigateur").await;
    expect(&r, Outcome::Up, None);
    assert_eq!(r.observations().find(|(n, _)| *n == "appointment_slots").map(|(_, v)| v), Some(3.0));

    // The booking module: steps 0, 1, then 3 with links /5/<timestamp>.
    let r = run(&cfg, "sim-prefecture-rdv-navigateur").await;
    expect(&r, Outcome::NoCapacity, Some(Reason::NoCapacity));
    patch(&sim, r#"{"prefecture_slots":2}"#);
    let r = run(&cfg, "sim-prefecture-rdv-navigateur").await;
    expect(&r, Outcome::Up, None);
    assert_eq!(r.observations().find(|(n, _)| *n == "appointment_slots").map(|(_, v)| v), Some(2.0));
    assert!(r.steps.last().and_then(|s| s.url.as_deref()).is_some_and(|u| u.ends_with("/3")));
    sim.shutdown().await;
}

/// Feeds runs to the outage state machine with the default policy.
fn outage_opened(runs: &[&RunResult]) -> bool {
    let mut state = ProbeState::default();
    for (i, r) in runs.iter().enumerate() {
        let facts = vigie::alert::notice::facts(i as i64 + 1, r, None, false);
        state = machine::step(&state, &facts, &Policy::default(), r.started_at).0;
    }
    state.outage.is_some()
}

#[tokio::test]
async fn bot_protection_is_blocked_for_both_kinds_and_never_an_outage() {
    let sim = start_sim().await;
    let cfg = demo(&sim).await;
    for mode in ["imperva", "turnstile"] {
        patch(&sim, &format!(r#"{{"bot_protection":"{mode}"}}"#));
        let http = run(&cfg, "sim-rdv-prefecture").await;
        expect(&http, Outcome::Unobserved, Some(Reason::Blocked));
        let page = http.steps[0].capture.as_ref().map(|c| String::from_utf8_lossy(&c.body).to_string());
        assert!(
            page.is_some_and(|p| p.contains("Incapsula") || p.contains("_cf_chl_opt")),
            "the page is kept: {mode}"
        );
        let again = run(&cfg, "sim-rdv-prefecture").await;
        expect(&again, Outcome::Unobserved, Some(Reason::Blocked));
        assert!(!outage_opened(&[&http, &again, &http]), "{mode}: a refusal is no outage");

        let browser = run(&cfg, "sim-rdv-prefecture-navigateur").await;
        expect(&browser, Outcome::Unobserved, Some(Reason::Blocked));
        let facts = browser.steps[0].browser.as_ref().expect("browser facts");
        assert!(
            facts.wait_s.is_some(),
            "{mode}: the wait ends on the block page, not at its timeout"
        );
        let (png, _) = shot_and_page(&browser);
        assert!(png > 1000, "{mode}: the screenshot of the block page is kept");
        assert!(!outage_opened(&[&browser, &browser, &browser]));
    }
    // The same machine does open an outage on failures: the check above can fail.
    patch(&sim, r#"{"bot_protection":"off","routes":{"cgu":{"mode":"server_error"}}}"#);
    let down = run(&cfg, "sim-rdv-prefecture").await;
    expect(&down, Outcome::Down, Some(Reason::Http5xx));
    assert!(outage_opened(&[&down, &down]));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_probe_blocked_when_condition_marks_its_own_block_page() {
    let sim = start_sim().await;
    let ws = support::Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe(
        "maison",
        "name: maison\ntitle: Protection maison\ntarget: rdv-sim\nschedule: \"* * * * *\"\n\
         blocked_when:\n  - text_contains: \"Conditions générales\"\n\
         steps:\n  - name: cgu\n    request: { url: \"{{ base_url }}/rdvpref/reservation/demarche/1/cgu/\" }\n",
    );
    let cfg = ws.load();
    let r = support::run(&cfg, "maison").await;
    expect(&r, Outcome::Unobserved, Some(Reason::Blocked));
    assert!(r.message.as_deref().is_some_and(|m| m.contains("blocked_when")), "{}", describe(&r));
    sim.shutdown().await;
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The live probes with their targets pointed at the simulator, which uses
/// the live sites' paths and fields.
fn live_config_on(sim: &SimHandle, dir: &Path) -> Config {
    let probes = repo().join("probes/live");
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).expect("mkdir");
    let portal = sim.portal_url();
    let yaml = format!(
        "location: labo-test\ncontact: vigie-tests@example.org\nprobes: [\"{}/*.yaml\"]\nbrowser:\n  profile_dir: {}\n\
         targets:\n  anef:\n    base_url: \"{portal}\"\n    min_interval: 10ms\n    vars: {{ sso_url: \"{portal}\" }}\n\
         \x20 anef-sso:\n    base_url: \"{portal}\"\n    min_interval: 10ms\n\
         \x20 prefecture-exemple:\n    base_url: \"{}\"\n    min_interval: 10ms\n    vars: {{ form_id: \"4242\", planning_id: \"14470\" }}\n\
         \x20 rdv-prefecture:\n    base_url: \"{}\"\n    min_interval: 10ms\n    vars: {{ demarche_id: \"1234\" }}\n",
        probes.display(),
        profiles.display(),
        sim.prefecture_url(),
        sim.rdv_url()
    );
    let path = dir.join("vigie.yaml");
    std::fs::write(&path, yaml).expect("write config");
    let env: HashMap<String, String> = [
        ("ANEF_TEST_USERNAME", sim::TEST_USERNAME),
        ("ANEF_TEST_PASSWORD", sim::TEST_PASSWORD),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let opts = LoadOptions {
        env: Some(env),
        ..LoadOptions::default()
    };
    config::load(&path, &DiskFiles, &opts).unwrap_or_else(|e| panic!("live probes on the simulator: {}", e.0))
}

#[tokio::test]
async fn live_probes_pass_check_and_succeed_against_a_simulator_set_up_like_the_live_sites() {
    require_chromium();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["check", "--config"])
        .arg(repo().join("config/vigie.yaml"))
        .output()
        .expect("run vigie check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vigie check: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sim = start_sim().await;
    patch(&sim, r#"{"prefecture_slots":2}"#);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = live_config_on(&sim, dir.path());
    let names: Vec<String> = cfg.probes.iter().map(|p| p.name.clone()).collect();
    assert_eq!(names.len(), 10, "{names:?}");
    for name in &names {
        assert!(stdout.contains(name.as_str()), "vigie check names {name}: {stdout}");
        let r = run(&cfg, name).await;
        expect(&r, Outcome::Up, None);
        if name.starts_with("rdv-prefecture") {
            assert!(r.captcha_step.is_some(), "{name} stops at the CAPTCHA: {}", describe(&r));
        }
    }
    assert_eq!(sim.state().counters.accounts_created, 0, "live probes never create an account");
    sim.shutdown().await;
}
