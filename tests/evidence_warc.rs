//! `vigie evidence export --format warc`: the captures as WARC/1.1, checked
//! by the web archivists' own tool (`warcio check`, PyPI, installed by
//! `.ci/install-court.sh`); one changed byte makes it fail. The capture
//! context is in the `warcinfo` record and in the zip bundle.

mod support;

use std::io::{Read, Write};
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
"#;

const PROBE: &str = r#"name: accueil
title: "ANEF : page d'accueil"
target: site
schedule: "*/5 * * * *"
steps:
  - name: page
    request: { url: "{{ base_url }}/" }
"#;

/// A morning down for half an hour, then broken for ten minutes.
async fn history(ws: &Workspace) {
    ws.write_file("vigie.yaml", CONFIG.as_bytes());
    ws.write_probe("accueil", PROBE);
    let config = ws.load();
    let p = config.probe("accueil").expect("probe").clone();
    let mut runs = Vec::new();
    let mut at = paris(7, 9, 0);
    while at < paris(7, 12, 0) {
        let spec = if at >= paris(7, 10, 0) && at < paris(7, 10, 30) {
            Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.2])
        } else if at >= paris(7, 11, 0) && at < paris(7, 11, 10) {
            Spec::failing(Outcome::Broken, Reason::ErrorPage, 0, Some(200), &[0.2])
        } else {
            Spec::up(&[0.2])
        };
        runs.push((p.clone(), history::run(&p, at, &spec)));
        at += Duration::minutes(5);
    }
    history::write(&config, runs).await;
}

fn run(cmd: &str, args: &[&str], cwd: &Path) -> (i32, String) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (pip install warcio; see .ci/install-court.sh)"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The WARC records' types and headers, read back by warcio.
const LIST: &str = "import sys\nfrom warcio.archiveiterator import ArchiveIterator\nfor r in ArchiveIterator(open(sys.argv[1], 'rb')):\n    h = r.rec_headers\n    print(h.protocol, h.get_header('WARC-Type'), h.get_header('WARC-Target-URI'), bool(h.get_header('WARC-Payload-Digest')), h.get_header('Vigie-Redacted') is not None)\n    if h.get_header('WARC-Type') == 'warcinfo':\n        print(r.content_stream().read().decode())\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warc_export_passes_warcio_check_and_a_changed_byte_fails_it() {
    let ws = Workspace::new();
    history(&ws).await;
    let args = [
        "evidence",
        "export",
        "--config",
        "vigie.yaml",
        "--from",
        "2026-09-07",
        "--to",
        "2026-09-07",
        "--format",
        "warc",
        "-o",
        "p.warc.gz",
    ];
    let (code, out) = run(env!("CARGO_BIN_EXE_vigie"), &args, ws.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("capture(s) → p.warc.gz (WARC/1.1"), "{out}");

    let (code, out) = run("warcio", &["check", "-v", "p.warc.gz"], ws.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("digest pass"), "{out}");
    let (code, list) = run("python3", &["-c", LIST, "p.warc.gz"], ws.path());
    assert_eq!(code, 0, "{list}");
    let records: Vec<&str> = list.lines().filter(|l| l.starts_with("WARC/1.1 ")).collect();
    assert!(records[0].starts_with("WARC/1.1 warcinfo"), "{list}");
    let responses = records
        .iter()
        .filter(|r| r.starts_with("WARC/1.1 response http://127.0.0.1:9/") && r.ends_with(" True True"))
        .count();
    let metadata = records.iter().filter(|r| r.starts_with("WARC/1.1 metadata")).count();
    assert!(responses >= 2, "{list}");
    assert_eq!(responses, metadata, "{list}");
    for field in [
        "software: vigie/",
        "vantage-point: paris-test",
        "operating-system: ",
        "clock: ",
        "proxy: ",
        "visits: every run is a fresh visitor",
        "resolves-now 127.0.0.1: 127.0.0.1",
        "connected-address: the address each HTTP capture connected to is in its record",
    ] {
        assert!(list.contains(field), "warcinfo lacks {field}: {list}");
    }

    // One byte of a page changed inside its (decompressed) record: the digest check fails.
    let mut gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(ws.path().join("p.warc.gz")).expect("open"));
    let mut plain = Vec::new();
    gz.read_to_end(&mut plain).expect("gunzip");
    let at = plain
        .windows(14)
        .position(|w| w == b"Erreur techniq")
        .expect("an error page in the WARC");
    plain[at] = b'e';
    std::fs::write(ws.path().join("changed.warc"), &plain).expect("write");
    let (code, out) = run("warcio", &["check", "changed.warc"], ws.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("digest failed"), "{out}");
    // And one byte of the compressed file itself.
    let mut bytes = std::fs::read(ws.path().join("p.warc.gz")).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::File::create(ws.path().join("flipped.warc.gz"))
        .expect("create")
        .write_all(&bytes)
        .expect("write");
    let (code, out) = run("warcio", &["check", "flipped.warc.gz"], ws.path());
    assert_ne!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zip_bundle_carries_the_capture_context_in_french() {
    let ws = Workspace::new();
    history(&ws).await;
    let args = [
        "evidence",
        "export",
        "--config",
        "vigie.yaml",
        "--from",
        "2026-09-07",
        "--to",
        "2026-09-07",
        "-o",
        "b.zip",
    ];
    let (code, out) = run(env!("CARGO_BIN_EXE_vigie"), &args, ws.path());
    assert_eq!(code, 0, "{out}");
    let mut z = zip::ZipArchive::new(std::fs::File::open(ws.path().join("b.zip")).expect("open")).expect("zip");
    let mut text = String::new();
    z.by_name("contexte.txt")
        .expect("contexte.txt")
        .read_to_string(&mut text)
        .expect("read");
    for want in [
        "Logiciel : vigie ",
        "point d'observation : paris-test",
        "Horloge (au moment de l'export) : ",
        "Chaque vérification est un nouveau visiteur",
        "127.0.0.1 se résout maintenant en 127.0.0.1.",
        "figurent dans l'enregistrement de chaque capture HTTP",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let (code, out) = run(env!("CARGO_BIN_EXE_vigie"), &["evidence", "verify", "b.zip"], ws.path());
    assert_eq!(code, 0, "{out}");
}
