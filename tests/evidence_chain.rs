//! The evidence register end to end: captures written by the daemon's
//! history sink, throttled; `vigie verify` on the store and `vigie evidence
//! verify` on a bundle accept the untouched copies and name the first broken
//! record after each kind of tampering (altered page, altered record,
//! deleted, reordered, truncated, manifest and HTML edited). The bundle is
//! also checked with its own verify.py, as a third party would.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::Duration;
use support::history::{self, paris, Spec};
use support::Workspace;
use vigie::evidence::bundle::{self, ExportRequest, Selection};
use vigie::evidence::bundle_verify::verify_bundle;
use vigie::evidence::record::{self, Record};
use vigie::evidence::verify::{verify_store, Anchor};
use vigie::probe::{Outcome, Reason};
use vigie::store::Store;

const CONFIG: &str = r#"location: paris-test
contact: veille@asso.example
probes: ["probes/*.yaml"]
targets:
  site: { base_url: "http://127.0.0.1:9" }
store: { path: var/vigie.db, retention: { runs: 3650d, rollups: 3650d } }
alerts: { group_window: 0s }
"#;

const ACCUEIL: &str = r#"name: accueil
title: "ANEF : page d'accueil"
target: site
schedule: "*/5 * * * *"
steps:
  - name: page
    request: { url: "{{ base_url }}/" }
"#;

const RDV: &str = r#"name: rdv
title: "Préfecture : créneau"
target: site
schedule: "*/5 * * * *"
evidence: { no_capacity: { every: 30m } }
steps:
  - name: creneaux
    request: { url: "{{ base_url }}/creneaux" }
    observe: { appointment_slots: { css_count: "a.slot-free" } }
"#;

/// 7 and 8 September 2026, a run every 5 minutes of each probe. accueil is
/// down 10:00-10:30 on the 7th (6 runs: every 15 min of a repeated
/// failure, so 10:00 and 10:15) and broken 14:00-14:10 on the 8th (2 runs:
/// a new streak, then the same failure 5 min later: 14:00 only); rdv never
/// offers a slot: one capture every 30 min, 96 in two days.
async fn history(ws: &Workspace) -> vigie::config::Config {
    ws.write_file("vigie.yaml", CONFIG.as_bytes());
    ws.write_probe("accueil", ACCUEIL);
    ws.write_probe("rdv", RDV);
    let config = ws.load();
    let accueil = config.probe("accueil").expect("accueil").clone();
    let rdv = config.probe("rdv").expect("rdv").clone();
    let mut runs = Vec::new();
    let mut at = paris(7, 0, 0);
    while at < paris(9, 0, 0) {
        let a = if at >= paris(7, 10, 0) && at < paris(7, 10, 30) {
            Spec::failing(Outcome::Down, Reason::Http5xx, 0, Some(503), &[0.2])
        } else if at >= paris(8, 14, 0) && at < paris(8, 14, 10) {
            Spec::failing(Outcome::Broken, Reason::ErrorPage, 0, Some(200), &[0.2])
        } else {
            Spec::up(&[0.2])
        };
        runs.push((accueil.clone(), history::run(&accueil, at, &a)));
        let r = Spec::failing(Outcome::NoCapacity, Reason::NoCapacity, 0, Some(200), &[0.3]).observe("appointment_slots", 0.0);
        runs.push((rdv.clone(), history::run(&rdv, at, &r)));
        at += Duration::minutes(5);
    }
    history::write(&config, runs).await;
    config
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).expect("count")
}

/// A tamperer's first move: the triggers only guard against accidents.
fn unguard(store: &Store) {
    store
        .conn()
        .execute_batch("DROP TRIGGER evidence_no_update; DROP TRIGGER evidence_no_delete;")
        .expect("drop triggers");
}

fn first_problem_store(path: &Path, anchor: Option<Anchor>) -> (u64, String) {
    let store = Store::open_existing(path).expect("store");
    let v = verify_store(store.conn(), anchor, |_| {}).expect("verify");
    let p = v.problems.first().unwrap_or_else(|| panic!("tampering went unnoticed"));
    (p.seq, p.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_register_detects_altered_deleted_reordered_and_truncated_records() {
    let ws = Workspace::new();
    let config = history(&ws).await;
    let db = config.store.path.clone();
    let store = Store::open_existing(&db).expect("store");
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM evidence WHERE probe = 'accueil'"),
        3,
        "10:00, 10:15 and the new streak of the 8th"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM evidence WHERE probe = 'rdv'"), 96);
    let v = verify_store(store.conn(), None, |_| {}).expect("verify");
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.records, 99);
    let (head_seq, head_hash) = v.head.clone().expect("head");
    let anchor = Anchor {
        seq: head_seq,
        hash: head_hash,
    };
    // Records carry what a judge asks for, and no cookie value.
    let rec: String = store
        .conn()
        .query_row(
            "SELECT record FROM evidence WHERE probe = 'accueil' ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("record");
    let r = Record::parse(&rec).expect("parse");
    assert_eq!(
        (r.http_status, r.kind.as_str(), r.url.as_str()),
        (Some(503), "failure", "http://127.0.0.1:9/step/page")
    );
    assert_eq!(r.observed_at_paris, "2026-09-07T10:00:00.200+02:00");
    assert!(rec.contains("SESSION=«redacted»") && !rec.contains("Path=/;"), "{rec}");
    // The guard: plain UPDATE and DELETE are refused.
    assert!(store.conn().execute("DELETE FROM evidence WHERE seq = 3", []).is_err());
    assert!(store.conn().execute("UPDATE evidence SET hash = 'x' WHERE seq = 3", []).is_err());
    drop(store);

    let copy = |name: &str| -> PathBuf {
        let p = ws.path().join(name);
        std::fs::copy(&db, &p).expect("copy db");
        p
    };
    // 1. A page altered (its compressed body replaced).
    let p = copy("body.db");
    let s = Store::open_existing(&p).expect("store");
    unguard(&s);
    let fake = record::gzip(b"<html>tout fonctionne</html>").expect("gzip");
    s.conn()
        .execute("UPDATE evidence SET body = ?1 WHERE seq = 40", [fake])
        .expect("update");
    let (seq, msg) = first_problem_store(&p, None);
    assert_eq!(seq, 40, "{msg}");
    assert!(msg.contains("page was altered"), "{msg}");

    // 2. A record altered (its date), hash left as it was.
    let p = copy("record.db");
    let s = Store::open_existing(&p).expect("store");
    unguard(&s);
    s.conn()
        .execute(
            "UPDATE evidence SET record = replace(record, '2026-09-07', '2026-09-06') WHERE seq = 12",
            [],
        )
        .expect("update");
    let (seq, msg) = first_problem_store(&p, None);
    assert_eq!(seq, 12, "{msg}");
    assert!(msg.contains("was altered"), "{msg}");

    // 3. The same, with the hash recomputed: the next link breaks.
    let p = copy("rehashed.db");
    let s = Store::open_existing(&p).expect("store");
    unguard(&s);
    let text: String = s
        .conn()
        .query_row("SELECT record FROM evidence WHERE seq = 12", [], |r| r.get(0))
        .expect("record");
    let forged = text.replace("\"http_status\":200", "\"http_status\":204");
    s.conn()
        .execute(
            "UPDATE evidence SET record = ?1, hash = ?2 WHERE seq = 12",
            rusqlite::params![forged, record::sha256_hex(forged.as_bytes())],
        )
        .expect("update");
    let (seq, msg) = first_problem_store(&p, None);
    assert_eq!(seq, 13, "{msg}");
    assert!(msg.contains("chain is broken") && msg.contains("#12 was altered"), "{msg}");

    // 4. A record deleted.
    let p = copy("deleted.db");
    let s = Store::open_existing(&p).expect("store");
    unguard(&s);
    s.conn().execute("DELETE FROM evidence WHERE seq = 20", []).expect("delete");
    let (seq, msg) = first_problem_store(&p, None);
    assert_eq!(seq, 20, "{msg}");
    assert!(msg.contains("missing") && msg.contains("deleted"), "{msg}");

    // 5. Two records swapped.
    let p = copy("reordered.db");
    let s = Store::open_existing(&p).expect("store");
    unguard(&s);
    s.conn()
        .execute_batch("UPDATE evidence SET seq = -1 WHERE seq = 30; UPDATE evidence SET seq = 30 WHERE seq = 31; UPDATE evidence SET seq = 31 WHERE seq = -1;")
        .expect("swap");
    let (seq, msg) = first_problem_store(&p, None);
    assert_eq!(seq, 30, "{msg}");
    assert!(msg.contains("reordered"), "{msg}");

    // 6. The last records removed: the chain still holds, the anchor does not.
    let p = copy("truncated.db");
    let s = Store::open_existing(&p).expect("store");
    unguard(&s);
    s.conn().execute("DELETE FROM evidence WHERE seq > 90", []).expect("truncate");
    let v = verify_store(s.conn(), None, |_| {}).expect("verify");
    assert!(v.ok(), "a shorter chain is still a chain");
    let (seq, msg) = first_problem_store(&p, Some(anchor.clone()));
    assert_eq!(seq, head_seq, "{msg}");
    assert!(msg.contains("tail was removed"), "{msg}");
    // The untouched register matches its anchor.
    let store = Store::open_existing(&db).expect("store");
    assert!(verify_store(store.conn(), Some(anchor), |_| {}).expect("verify").ok());
}

fn export(config: &vigie::config::Config, probes: &[&str], out: &Path) -> bundle::Exported {
    let store = Store::open_existing(&config.store.path).expect("store");
    let from = chrono::NaiveDate::from_ymd_opt(2026, 9, 7).expect("day");
    let to = chrono::NaiveDate::from_ymd_opt(2026, 9, 8).expect("day");
    let req = ExportRequest {
        from: paris(7, 0, 0),
        to: paris(9, 0, 0),
        selection: Selection {
            from,
            to,
            timezone: "Europe/Paris".into(),
            probes: probes.iter().map(|p| p.to_string()).collect(),
            language: "fr".into(),
        },
        tsa_ca: None,
        context: None,
    };
    bundle::export(store.conn(), &req, out, paris(9, 12, 0)).expect("export")
}

fn read_zip(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        let mut b = Vec::new();
        f.read_to_end(&mut b).expect("read");
        out.insert(f.name().expect("name").to_string(), b);
    }
    out
}

fn write_zip(path: &Path, files: &BTreeMap<String, Vec<u8>>) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    for (name, bytes) in files {
        if name.ends_with('/') {
            w.add_directory(name.as_str(), zip::write::SimpleFileOptions::default())
                .expect("folder");
            continue;
        }
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(bytes).expect("write");
    }
    w.finish().expect("finish");
}

/// Apply `edit` to a copy of the bundle; return the first broken record.
fn tampered(original: &Path, name: &str, edit: impl FnOnce(&mut BTreeMap<String, Vec<u8>>)) -> (Option<u64>, String) {
    let mut files = read_zip(original);
    edit(&mut files);
    let p = original.with_file_name(name);
    write_zip(&p, &files);
    let v = verify_bundle(&p, None).expect("verify");
    assert!(!v.ok(), "{name}: tampering went unnoticed");
    match v.records.first() {
        Some(p) => (Some(p.seq), p.message.clone()),
        None => (None, v.files.join(" / ")),
    }
}

fn lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    String::from_utf8_lossy(&files["chain.jsonl"]).lines().map(str::to_string).collect()
}

fn python_verify(bundle: &Path) -> Option<(i32, String)> {
    let script = std::env::temp_dir().join(format!("vigie-verify-{}.py", std::process::id()));
    std::fs::write(&script, read_zip(bundle)["verify.py"].clone()).ok()?;
    let out = std::process::Command::new("python3").arg(&script).arg(bundle).output().ok()?;
    Some((out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_verify_and_every_tampering_names_the_first_broken_record() {
    let ws = Workspace::new();
    let config = history(&ws).await;
    let all = ws.path().join("preuves.zip");
    let e = export(&config, &[], &all);
    assert_eq!((e.summary.captures, e.summary.days_covered), (99, 2));
    let v = verify_bundle(&all, None).expect("verify");
    assert!(v.ok(), "{:?} {:?}", v.records, v.files);

    // One probe only: the other probe's records are stubs, the chain holds.
    let one = ws.path().join("accueil.zip");
    let e = export(&config, &["accueil"], &one);
    assert_eq!(e.summary.captures, 3);
    let v = verify_bundle(&one, None).expect("verify");
    assert!(v.ok(), "{:?} {:?}", v.records, v.files);
    let files = read_zip(&one);
    let index = String::from_utf8_lossy(&files["index.html"]);
    for needle in [
        "http://127.0.0.1:9/step/page",
        "07/09/2026 10:00:00",
        "2026-09-07 08:00:00",
        "3</b>captures",
        "2</b>jours couverts",
        "default-src &#39;none&#39;",
    ] {
        assert!(
            index.contains(needle) || index.contains(&needle.replace("&#39;", "'")),
            "index.html lacks {needle:?}"
        );
    }
    let day = String::from_utf8_lossy(&files["days/2026-09-07.html"]);
    assert!(day.contains("<iframe sandbox srcdoc=\"&lt;html&gt;"), "pages are shown sandboxed");
    assert!(!day.contains("allow-scripts"));

    if let Some((code, out)) = python_verify(&all) {
        assert_eq!(code, 0, "verify.py: {out}");
        assert!(out.starts_with("OK: 99 captures"), "{out}");
    }

    // A page edited.
    let page = lines(&read_zip(&all))
        .iter()
        .filter_map(|l| Record::parse(l).ok())
        .find(|r| r.seq == 5)
        .expect("record 5")
        .file;
    let (seq, msg) = tampered(&all, "page.zip", |f| {
        f.insert(page.clone(), b"<html>un autre contenu</html>".to_vec());
    });
    assert_eq!(seq, Some(5), "{msg}");
    assert!(msg.contains("was altered"), "{msg}");
    if let Some((code, out)) = python_verify(&all.with_file_name("page.zip")) {
        assert_eq!(code, 1, "verify.py must fail: {out}");
        assert!(out.contains("record #5: its page"), "{out}");
    }

    // A record deleted from the chain (and its page).
    let (seq, msg) = tampered(&all, "deleted.zip", |f| {
        let l: Vec<String> = lines(f).into_iter().filter(|l| !l.contains("\"seq\":7,")).collect();
        f.insert("chain.jsonl".into(), (l.join("\n") + "\n").into_bytes());
    });
    assert_eq!(seq, Some(7), "{msg}");
    assert!(msg.contains("deleted"), "{msg}");

    // Two records swapped.
    let (seq, msg) = tampered(&all, "reordered.zip", |f| {
        let mut l = lines(f);
        l.swap(9, 10);
        f.insert("chain.jsonl".into(), (l.join("\n") + "\n").into_bytes());
    });
    let first = Record::parse(&lines(&read_zip(&all))[9]).expect("record").seq;
    assert_eq!(seq, Some(first), "{msg}");
    assert!(msg.contains("reordered"), "{msg}");

    // A record's time changed in the chain.
    let (seq, msg) = tampered(&all, "record.zip", |f| {
        let mut l = lines(f);
        l[20] = l[20].replace("2026-09-0", "2026-08-0");
        f.insert("chain.jsonl".into(), (l.join("\n") + "\n").into_bytes());
    });
    let broken = Record::parse(&lines(&read_zip(&all))[20]).expect("record").seq;
    assert!(seq == Some(broken) || seq == Some(broken + 1), "{seq:?} {msg}");

    // The manifest edited: its header, then a record's entry.
    let (seq, msg) = tampered(&all, "manifest.zip", |f| {
        let m = String::from_utf8_lossy(&f["manifest.json"]).replace("\"exported_at\": \"2026-09-09", "\"exported_at\": \"2026-09-08");
        f.insert("manifest.json".into(), m.into_bytes());
    });
    assert_eq!(seq, None);
    assert!(msg.contains("manifest.json was altered"), "{msg}");
    let (seq, msg) = tampered(&all, "manifest-record.zip", |f| {
        let m = String::from_utf8_lossy(&f["manifest.json"]).replacen("\"http_status\": 503", "\"http_status\": 200", 1);
        f.insert("manifest.json".into(), m.into_bytes());
    });
    assert!(seq.is_some() || msg.contains("manifest.json was altered"), "{msg}");

    // The date shown in index.html edited (the record and page untouched).
    let (seq, msg) = tampered(&all, "index.zip", |f| {
        let i = String::from_utf8_lossy(&f["index.html"]).replacen("07/09/2026 10:00:00", "06/09/2026 10:00:00", 1);
        f.insert("index.html".into(), i.into_bytes());
    });
    let shown = lines(&read_zip(&all))
        .iter()
        .filter_map(|l| Record::parse(l).ok())
        .find(|r| r.observed_at_paris.starts_with("2026-09-07T10:00:00"))
        .expect("the 10:00 capture")
        .seq;
    assert_eq!(seq, Some(shown), "{msg}");
    assert!(msg.contains("index.html"), "{msg}");

    // Re-packed by hand with `zip -r` (folder entries added), untouched: still valid.
    let mut files = read_zip(&all);
    files.insert("days/".into(), vec![]);
    files.insert("pages/".into(), vec![]);
    let repacked = all.with_file_name("repacked.zip");
    write_zip(&repacked, &files);
    let v = verify_bundle(&repacked, None).expect("verify");
    assert!(v.ok(), "{:?} {:?}", v.records, v.files);

    // A file slipped in.
    let (seq, msg) = tampered(&all, "added.zip", |f| {
        f.insert("pages/999999.html".into(), b"<html>ajout</html>".to_vec());
    });
    assert_eq!(seq, None);
    assert!(msg.contains("was added"), "{msg}");
}

/// A hostile bundle: a few kilobytes of zip holding a chain of millions of
/// short lines, and an entry whose name carries terminal escape sequences.
/// The verdict lists at most a thousand problems and says it stopped; the
/// command prints the names escaped; more lines than any bundle can hold
/// stop the verification at once.
#[test]
fn a_hostile_bundle_is_verified_within_bounds_and_printed_safely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = BTreeMap::new();
    files.insert("chain.jsonl".to_string(), "{}\n".repeat(1_000_000).into_bytes());
    files.insert("pages/\u{1b}]0;pwned\u{7}\r\nOK.txt".to_string(), b"x".to_vec());
    let bomb = dir.path().join("bomb.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&bomb).expect("create"));
    let deflate = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in &files {
        w.start_file(name.as_str(), deflate).expect("start");
        w.write_all(bytes).expect("write");
    }
    w.finish().expect("finish");
    assert!(std::fs::metadata(&bomb).expect("size").len() < 64 * 1024, "a small zip");

    let v = verify_bundle(&bomb, None).expect("verify");
    assert!(!v.ok());
    assert!(v.records.len() <= 1000, "{} problems kept", v.records.len());
    assert!(v.files.iter().any(|f| f.contains("listing stopped")), "{:?}", v.files);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["evidence", "verify"])
        .arg(&bomb)
        .output()
        .expect("vigie evidence verify");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}') && !err.contains('\r'), "{err:?}");
    assert!(err.lines().count() < 120, "the listing is bounded: {} lines", err.lines().count());

    // More lines than any bundle can hold: stopped before parsing them.
    let mut w = zip::ZipWriter::new(std::fs::File::create(&bomb).expect("create"));
    w.start_file("chain.jsonl", deflate).expect("start");
    for _ in 0..60 {
        w.write_all("\n{}".repeat(100_000).as_bytes()).expect("write");
    }
    w.finish().expect("finish");
    let v = verify_bundle(&bomb, None).expect("verify");
    assert!(v.files.iter().any(|f| f.contains("not a vigie bundle")), "{:?}", v.files);
    assert!(v.records.is_empty());
}

/// Extract a bundle into a folder, as a reader would with any unzip tool.
fn extract(bundle: &Path, dir: &Path) {
    for (name, bytes) in read_zip(bundle) {
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write");
    }
}

/// `python3 verify.py [args]` run inside `dir`: (exit code, stdout + stderr).
fn python_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new("python3")
        .arg("verify.py")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 (CI installs it) runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// README.txt says `python3 verify.py .` inside the extracted folder: it
/// checks the folder as it checks the zip, and catches an edited page there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_py_checks_the_extracted_folder() {
    let ws = Workspace::new();
    let config = history(&ws).await;
    let zip = ws.path().join("accueil.zip");
    export(&config, &["accueil"], &zip);
    let dir = ws.path().join("extrait");
    extract(&zip, &dir);
    let readme = std::fs::read_to_string(dir.join("README.txt")).expect("README.txt");
    assert!(readme.contains("python3 verify.py ."), "{readme}");

    for args in [&["."][..], &[][..]] {
        let (code, out) = python_in(&dir, args);
        assert_eq!(code, 0, "verify.py {args:?}: {out}");
        assert!(out.starts_with("OK: 3 captures"), "{out}");
    }

    let chain = std::fs::read_to_string(dir.join("chain.jsonl")).expect("chain");
    let rec = chain
        .lines()
        .filter_map(|l| Record::parse(l).ok())
        .find(|r| !r.file.is_empty())
        .expect("a page");
    std::fs::write(dir.join(&rec.file), b"<html>autre chose</html>").expect("edit");
    let (code, out) = python_in(&dir, &["."]);
    assert_eq!(code, 1, "an edited page must fail: {out}");
    assert!(out.contains(&format!("record #{}: its page", rec.seq)), "{out}");

    std::fs::write(dir.join("pages/ajout.html"), b"x").expect("add");
    let (_, out) = python_in(&dir, &["."]);
    assert!(out.contains("pages/ajout.html was added"), "{out}");
}
