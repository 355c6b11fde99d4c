//! `vigie report --format pdf` through Debian's Chromium
//! (`.ci/install-chromium.sh`), read back with poppler-utils
//! (`.ci/install-court.sh`): A4 pages, each with the running header (title,
//! period, instance) and « page N / M »; the pages rendered as images. And
//! the French error naming the package when Chromium is absent.

mod support;

use std::path::Path;
use std::process::Command;

use chrono::Duration;
use support::history::{self, paris, Spec};
use support::Workspace;
use vigie::probe::{Outcome, Reason};

const CONFIG: &str = r#"location: paris-test
contact: veille@asso.example
probes: ["probes/*.yaml"]
targets:
  site: { base_url: "http://127.0.0.1:9" }
store: { path: var/vigie.db, retention: { runs: 3650d, rollups: 3650d } }
alerts: { group_window: 0s }
reports: { author: "Association de veille" }
"#;

fn probe(name: &str, title: &str) -> String {
    format!(
        "name: {name}\ntitle: \"{title}\"\ntarget: site\nschedule: \"*/5 * * * *\"\nsteps:\n  - name: page\n    request: {{ url: \"{{{{ base_url }}}}/{name}\" }}\n"
    )
}

/// Six probes, two days, each down an hour a day at a different time: a
/// report of several pages with incidents in every table.
async fn history(ws: &Workspace, extra_config: &str) -> vigie::config::Config {
    ws.write_file("vigie.yaml", format!("{CONFIG}{extra_config}").as_bytes());
    let names = ["accueil", "connexion", "depot", "rendez-vous", "recepisse", "paiement"];
    for n in names {
        ws.write_probe(n, &probe(n, &format!("ANEF : étape « {n} » de la démarche titre de séjour")));
    }
    let config = ws.load();
    let mut runs = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let p = config.probe(n).expect("probe").clone();
        let mut at = paris(7, 0, 0);
        while at < paris(9, 0, 0) {
            let down_from = paris(7, 8 + i as u32, 0);
            let broken_from = paris(8, 14 + i as u32, 0);
            let spec = if at >= down_from && at < down_from + Duration::hours(1) {
                Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.2])
            } else if at >= broken_from && at < broken_from + Duration::minutes(20) {
                Spec::failing(Outcome::Broken, Reason::ErrorPage, 0, Some(200), &[0.2])
            } else {
                Spec::up(&[0.2 + 0.01 * i as f64])
            };
            runs.push((p.clone(), history::run(&p, at, &spec)));
            at += Duration::minutes(5);
        }
    }
    history::write(&config, runs).await;
    config
}

fn run(cmd: &str, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (see .ci/install-court.sh)"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The texts of the `<h2>` and `<h3>` headings of an HTML report.
fn headings(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tag in ["<h2", "<h3"] {
        for part in html.split(tag).skip(1) {
            let inner = part.split_once('>').map(|(_, r)| r).unwrap_or("");
            let text = inner.split("</h").next().unwrap_or("");
            let plain: String = text.split('<').map(|t| t.split_once('>').map(|(_, r)| r).unwrap_or(t)).collect();
            out.push(plain.trim().to_string());
        }
    }
    out.retain(|h| !h.is_empty());
    out
}

const REPORT: &[&str] = &["report", "--config", "vigie.yaml", "--from", "2026-09-07", "--to", "2026-09-08"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pdf_report_has_a4_pages_numbered_with_a_running_header() {
    assert!(
        vigie::browser::find_chromium(None).is_some(),
        "this test needs Debian's Chromium: apt-get install chromium (see .ci/install-chromium.sh)"
    );
    let ws = Workspace::new();
    history(&ws, "").await;
    let args: Vec<&str> = REPORT.iter().copied().chain(["--format", "pdf", "-o", "rapport.pdf"]).collect();
    let (code, _, err) = run(env!("CARGO_BIN_EXE_vigie"), &args, ws.path());
    assert_eq!(code, 0, "{err}");
    let pdf = std::fs::read(ws.path().join("rapport.pdf")).expect("rapport.pdf");
    assert!(pdf.starts_with(b"%PDF-"));

    let (_, info, _) = run("pdfinfo", &["rapport.pdf"], ws.path());
    assert!(info.contains("595.92 x 841.92 pts (A4)"), "A4: {info}");
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{info}"));
    assert!(pages >= 3, "{pages} pages");

    let (_, text, _) = run("pdftotext", &["-layout", "rapport.pdf", "-"], ws.path());
    let sheets: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert_eq!(sheets.len(), pages);
    for (i, sheet) in sheets.iter().enumerate() {
        let n = i + 1;
        assert!(sheet.contains(&format!("page {n} / {pages}")), "page {n}: {sheet}");
        assert!(sheet.contains("Rapport de disponibilité — vigie"), "page {n}: {sheet}");
        assert!(sheet.contains("Période 07/09/2026 au 08/09/2026"), "page {n}: {sheet}");
        assert!(sheet.contains("Association de veille — paris-test"), "page {n}: {sheet}");
    }
    // The probe names are readable, not squeezed to a few letters a line:
    // the title's first words stay on one line in every table that lists it.
    let whole = text.lines().filter(|l| l.contains("ANEF : étape « connexion »")).count();
    assert!(whole >= 4, "{whole} lines hold a whole probe title start: {text}");
    assert!(text.contains("rendez-vous"), "{text}");
    // The capture context in the methodology.
    assert!(text.contains("Horloge (au moment du rapport)"), "{text}");
    assert!(text.contains("Chaque vérification est un nouveau visiteur"), "{text}");
    // No heading ends a page: each is followed by what it introduces.
    let (code, html, err) = run(
        env!("CARGO_BIN_EXE_vigie"),
        &REPORT.iter().copied().chain(["-o", "-"]).collect::<Vec<_>>(),
        ws.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(headings(&html).iter().any(|h| h == "Méthodologie"), "{:?}", headings(&html));
    for (n, sheet) in sheets.iter().enumerate() {
        let last = sheet
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("page "))
            .unwrap_or("");
        for h in headings(&html) {
            assert_ne!(last, h, "page {} ends with the heading « {h} »", n + 1);
        }
    }

    // The pages as images, to look at (kept when VIGIE_KEEP_PDF_PNG names a folder).
    let (code, _, err) = run("pdftoppm", &["-png", "-r", "60", "rapport.pdf", "page"], ws.path());
    assert_eq!(code, 0, "{err}");
    let pngs = std::fs::read_dir(ws.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".png"))
        .count();
    assert_eq!(pngs, pages);
    if let Some(keep) = std::env::var_os("VIGIE_KEEP_PDF_PNG") {
        let _ = std::fs::create_dir_all(&keep);
        for e in std::fs::read_dir(ws.path()).expect("dir").filter_map(Result::ok) {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".png") || name == "rapport.pdf" {
                let _ = std::fs::copy(e.path(), Path::new(&keep).join(&name));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_chromium_the_pdf_report_names_the_package_in_french() {
    let ws = Workspace::new();
    history(&ws, "browser: { executable: /nonexistent/chromium }\n").await;
    let args: Vec<&str> = REPORT.iter().copied().chain(["--format", "pdf", "-o", "rapport.pdf"]).collect();
    let (code, _, err) = run(env!("CARGO_BIN_EXE_vigie"), &args, ws.path());
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("Chromium est introuvable (/nonexistent/chromium)"), "{err}");
    assert!(err.contains("apt install chromium"), "{err}");
    assert!(!ws.path().join("rapport.pdf").exists());
}
