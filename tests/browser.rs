//! Browser probes against a real single-page application over real sockets,
//! in the real Chromium (Debian's `chromium`; `.ci/install-chromium.sh`):
//! every action, assertion, extraction and observation; an error that only
//! JavaScript shows (the HTTP probe of the same page says up); pages that
//! never load, hang or eat memory; Chromium missing. After each run, no
//! process of its Chromium is left.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::spa;
use vigie::browser::process::processes_mentioning;
use vigie::config::{self, Config, DiskFiles, LoadOptions};
use vigie::probe::{Outcome, Reason, RunResult, StepStatus};

fn require_chromium() {
    assert!(
        vigie::browser::find_chromium(None).is_some(),
        "these tests need Debian's Chromium: apt-get install chromium (see .ci/install-chromium.sh)"
    );
}

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        require_chromium();
        Lab {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn profiles(&self) -> PathBuf {
        self.dir.path().join("profiles")
    }

    /// A config with one target (the SPA) and the given probe files.
    fn load(&self, spa: &spa::Spa, browser_extra: &str, probes: &[(&str, &str)]) -> Config {
        std::fs::create_dir_all(self.dir.path().join("probes")).expect("mkdir");
        std::fs::create_dir_all(self.profiles()).expect("mkdir");
        for (name, text) in probes {
            std::fs::write(self.dir.path().join("probes").join(format!("{name}.yaml")), text).expect("write probe");
        }
        let cfg = format!(
            "location: labo-test\ncontact: vigie-tests@example.org\nprobes: [probes/*.yaml]\nbrowser:\n  profile_dir: {}\n{browser_extra}targets:\n  spa:\n    base_url: \"http://{}\"\n    min_interval: 10ms\n",
            self.profiles().display(),
            spa.addr
        );
        let path = self.dir.path().join("vigie.yaml");
        std::fs::write(&path, cfg).expect("write config");
        config::load(&path, &DiskFiles, &LoadOptions::default()).unwrap_or_else(|e| panic!("config: {e:?}"))
    }

    async fn run(&self, cfg: &Config, probe: &str) -> RunResult {
        let r = support::run(cfg, probe).await;
        self.assert_no_chromium_left();
        r
    }

    /// No process of any run's Chromium is left (by command line: every
    /// one of them names its profile directory).
    fn assert_no_chromium_left(&self) {
        let needle = self.profiles().to_string_lossy().to_string();
        let mut left = processes_mentioning(&needle);
        for _ in 0..50 {
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            left = processes_mentioning(&needle);
        }
        assert!(left.is_empty(), "Chromium processes left behind: {left:?}");
        let profiles: Vec<_> = std::fs::read_dir(self.profiles())
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        assert!(profiles.is_empty(), "profiles left behind: {profiles:?}");
    }
}

fn probe(name: &str, timeout: &str, steps: &str) -> String {
    format!("name: {name}\ntitle: Démarche test ({name})\nkind: browser\ntarget: spa\nschedule: \"* * * * *\"\ntimeout: {timeout}\nsteps:\n{steps}")
}

const JOURNEY: &str = r##"  - name: accueil
    goto: "{{ base_url }}/app"
    wait_for: { selector: "#slots, .alert-danger", timeout: 5s }
    expect:
      text_contains: Bienvenue
      text_not_contains: erreur technique
      title_contains: Démarche
      url_contains: /app
      css_present: "form#f"
      css_absent: ".alert-danger"
    extract:
      next_href: { css: "#next", attr: href }
      here: { url: true }
    observe:
      appointment_slots: { css_count: "li.slot" }
      first_free_date: { css: "#first", attr: data-ts, as: timestamp }
  - name: email
    fill: { selector: "#email", value: "personne@example.org" }
  - name: motif
    select: { selector: "#motif", value: Renouvellement }
  - name: cgu
    check: "#cgu"
  - name: piece
    upload: { selector: "#doc", generate: { size: 10KiB, kind: pdf } }
  - name: verifier
    click: "#check"
    wait_for: { text: "Vérifié", timeout: 3s }
    expect: { text_contains: "Vérifié personne@example.org | b | true | vigie-test.pdf 10240" }
    extract: { verdict: { css: "#done" } }
    screenshot: true
  - name: envoyer
    click: "#send"
    wait_for: { selector: "#ok", timeout: 5s }
    expect: { text_contains: "Un e-mail de confirmation vous a été envoyé", url_contains: /done }
"##;

fn step<'a>(r: &'a RunResult, name: &str) -> &'a vigie::probe::StepResult {
    r.steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no step {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_assertion_extraction_and_observation_on_a_rendered_page() {
    let lab = Lab::new();
    let app = spa::start().await;
    let cfg = lab.load(&app, "", &[("parcours", &probe("parcours", "40s", JOURNEY))]);
    let r = lab.run(&cfg, "parcours").await;
    assert_eq!(r.outcome, Outcome::Up, "{r:#?}");
    let home = step(&r, "accueil");
    assert_eq!(
        home.observations,
        vec![
            ("appointment_slots".to_string(), 2.0),
            ("first_free_date".to_string(), 1796284800.0)
        ]
    );
    let next = home.extracted.iter().find(|x| x.name == "next_href").expect("next_href");
    assert_eq!(next.shown, "/app?page=2");
    let b = home.browser.as_ref().expect("browser facts");
    assert!(b.load_s.is_some() && b.dom_content_loaded_s.is_some(), "{b:?}");
    assert!(b.wait_s.is_some());
    assert!(b.requests >= 3, "document, script, API: {b:?}");
    assert!(
        b.failed_requests
            .iter()
            .any(|f| f.url.ends_with("/missing.js") && f.status == Some(404)),
        "{b:?}"
    );
    let verdict = step(&r, "verifier");
    assert!(verdict.extracted[0].shown.contains("vigie-test.pdf 10240"));
    let shot = verdict.screenshot.as_ref().expect("asked-for screenshot");
    assert!(
        shot.png.starts_with(b"\x89PNG") && shot.width >= 1280 && shot.height > 800,
        "banner above an 800 px page"
    );
    // The form was really submitted by the browser: POST → 303 → /done.
    assert!(
        app.hits().iter().any(|h| h.starts_with("POST /submit") && h.contains("motif=b")),
        "{:?}",
        app.hits()
    );
    assert_eq!(step(&r, "envoyer").url.as_deref(), Some(app.url("/done").as_str()));
    assert!(
        step(&r, "envoyer").browser.as_ref().and_then(|b| b.load_s).is_some(),
        "the submission's navigation was awaited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_shown_only_by_javascript_is_broken_for_the_browser_and_up_for_http() {
    let lab = Lab::new();
    let app = spa::start().await;
    app.set_fault("api500");
    let http = "name: coquille-http\ntitle: La coquille en HTTP\ntarget: spa\nschedule: \"* * * * *\"\nbroken_when:\n  - { body_contains: \"erreur technique\", reason: error_page }\nsteps:\n  - name: accueil\n    request: { url: \"{{ base_url }}/app\" }\n    expect: { status: 200 }\n";
    let browser = probe(
        "coquille-navigateur",
        "20s",
        "  - name: accueil\n    goto: \"{{ base_url }}/app\"\n    wait_for: { selector: \"#slots, .alert-danger\", timeout: 5s }\n",
    )
    .replace(
        "steps:",
        "broken_when:\n  - { text_contains: \"erreur technique\", reason: error_page }\nsteps:",
    );
    let cfg = lab.load(&app, "", &[("h", http), ("b", &browser)]);
    let h = lab.run(&cfg, "coquille-http").await;
    assert_eq!(
        h.outcome,
        Outcome::Up,
        "the shell is 200 and holds no error: HTTP sees nothing wrong"
    );
    let b = lab.run(&cfg, "coquille-navigateur").await;
    assert_eq!((b.outcome, b.reason), (Outcome::Broken, Some(Reason::ErrorPage)), "{b:#?}");
    let s = step(&b, "accueil");
    let facts = s.browser.as_ref().expect("facts");
    assert!(facts.console_errors.iter().any(|c| c.contains("api failed: HTTP 500")), "{facts:?}");
    assert!(facts
        .failed_requests
        .iter()
        .any(|f| f.url.ends_with("/api/status") && f.status == Some(500)));
    assert!(s.screenshot.is_some(), "a failing run keeps a screenshot");
    let capture = s.capture.as_ref().expect("the rendered page is captured");
    assert!(String::from_utf8_lossy(&capture.body).contains("Une erreur technique est survenue"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_never_load_or_hang_are_the_portals_timeouts_and_leave_no_process() {
    let lab = Lab::new();
    let app = spa::start().await;
    let slow = probe(
        "lente",
        "20s",
        "  - name: page\n    goto: \"{{ base_url }}/slow\"\n    timeout: 3s\n",
    );
    let busy = probe(
        "occupee",
        "20s",
        "  - name: page\n    goto: \"{{ base_url }}/busy\"\n  - name: puis\n    click: \"#spin\"\n    wait_for: { text: \"jamais\", timeout: 2s }\n    timeout: 3s\n",
    );
    let closed = probe(
        "fermee",
        "20s",
        "  - name: accueil\n    goto: \"http://127.0.0.1:9/particuliers/\"\n",
    );
    let cfg = lab.load(&app, "", &[("slow", &slow), ("busy", &busy), ("closed", &closed)]);
    // Chromium shows its own error page: the step names the address it could not load.
    let r = lab.run(&cfg, "fermee").await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Connect)), "{r:#?}");
    assert_eq!(r.steps[0].url.as_deref(), Some("http://127.0.0.1:9/particuliers/"), "{r:#?}");
    let t0 = std::time::Instant::now();
    let r = lab.run(&cfg, "lente").await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Timeout)), "{r:#?}");
    assert!(t0.elapsed() < Duration::from_secs(15), "bounded by the step timeout");
    let r = lab.run(&cfg, "occupee").await;
    assert_eq!(r.outcome, Outcome::Down, "a page whose script never yields: {r:#?}");
    assert_eq!(r.failed_step.as_deref(), Some("puis"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_eating_memory_is_stopped_and_is_vigies_failure_not_the_portals() {
    let lab = Lab::new();
    let app = spa::start().await;
    let hog = probe(
        "gourmande",
        "90s",
        "  - name: page\n    goto: \"{{ base_url }}/hog\"\n  - name: attendre\n    wait_for: { text: \"jamais\", timeout: 80s }\n",
    );
    let cfg = lab.load(&app, "  max_memory: 600MiB\n", &[("hog", &hog)]);
    let r = lab.run(&cfg, "gourmande").await;
    // Stopped by the watchdog, not by the wait running out (that would be the portal's
    // `broken/assertion`): the outcome and the message say which.
    assert_eq!((r.outcome, r.reason), (Outcome::Unobserved, Some(Reason::MonitorError)), "{r:#?}");
    assert!(r.message.as_deref().is_some_and(|m| m.contains("memory bound")), "{r:#?}");
    let failed = r.failed_step.as_deref().map(|n| step(&r, n).status);
    assert_eq!(failed, Some(StepStatus::Failed), "the step that was running is named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_missing_is_unobserved_and_says_how_to_install_it() {
    let lab = Lab::new();
    let app = spa::start().await;
    let p = probe("sans-navigateur", "10s", "  - name: page\n    goto: \"{{ base_url }}/app\"\n");
    let cfg = lab.load(&app, "  executable: /nonexistent/chromium\n", &[("p", &p)]);
    let r = lab.run(&cfg, "sans-navigateur").await;
    assert_eq!((r.outcome, r.reason), (Outcome::Unobserved, Some(Reason::MonitorError)));
    assert!(
        r.message.as_deref().unwrap_or("").contains("apt-get install chromium"),
        "{:?}",
        r.message
    );
    assert!(app.hits().is_empty(), "nothing was sent to the portal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigie_once_prints_the_trace_with_the_screenshots_path() {
    let lab = Lab::new();
    let app = spa::start().await;
    app.set_fault("api500");
    let p = probe(
        "trace",
        "20s",
        "  - name: accueil\n    goto: \"{{ base_url }}/app\"\n    wait_for: { selector: \"#slots\", timeout: 3s }\n",
    );
    let _ = lab.load(&app, "", &[("p", &p)]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["once", "trace", "--config", "vigie.yaml", "--lang", "en"])
        .current_dir(lab.dir.path())
        .output()
        .expect("vigie once");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("✗ accueil  goto → "), "{text}");
    assert!(text.contains("console error: api failed: HTTP 500"), "{text}");
    assert!(
        text.contains("failed request: ") && text.contains("/api/status (HTTP 500)"),
        "{text}"
    );
    let shot = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("screenshot: "))
        .unwrap_or_else(|| panic!("no screenshot path: {text}"));
    let png = std::fs::read(shot).expect("the screenshot file exists");
    assert!(png.starts_with(b"\x89PNG"));
    assert!(text.contains("outcome: broken (step accueil, reason assertion)"), "{text}");
    lab.assert_no_chromium_left();
}
