//! The binary as an operator uses it: `vigie run` against the simulator
//! with probes that send secrets (the demo's upload probe with the
//! simulator's password, and a probe whose secret the portal echoes back in
//! the page), then `vigie report` in every format, `vigie evidence export`,
//! `vigie evidence verify` and `vigie verify`. The configured secret values
//! must appear nowhere: not in the database file (nor in its compressed
//! pages), the bundle, the reports or the daemon's debug log.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{patch, start_sim, Workspace};
use vigie::store::Store;

const SECRET: &str = "s3cr3t-Valeur-Test-42";
const SIM_PASSWORD: &str = "vigie-demo-password";

const ECHO: &str = r#"name: echo-secret
title: "Création de compte (le portail renvoie la saisie)"
target: anef-sim
labels: { procedure: anef-creation-compte }
schedule: "* * * * * *"
timeout: 5s
steps:
  - name: formulaire
    request:
      url: "{{ base_url }}/auth/realms/anef-usagers/login-actions/registration"
      query: { client_id: anef-usagers }
    expect: { status: 200, css_present: "form#kc-register-form" }
    extract:
      action: { css: "form#kc-register-form", attr: action }
      csrf_token: { css: "input[name=csrf_token]", attr: value }
  - name: envoi
    request:
      method: POST
      url: "{{ action }}"
      query: { indice: "{{ env.VIGIE_TEST_SECRET }}" }
      form:
        csrf_token: "{{ csrf_token }}"
        firstName: "{{ env.VIGIE_TEST_SECRET }}"
        lastName: "Vigie {{ env.VIGIE_TEST_SECRET }}"
        email: pas-une-adresse
    broken_when:
      - css_present: ".kc-feedback-text"
        reason: rejected
    expect: { status: 200 }
"#;

fn vigie(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(cwd)
        .env("VIGIE_TEST_SECRET", SECRET)
        .env("VIGIE_SIM_PASSWORD", SIM_PASSWORD)
        .output()
        .expect("run vigie");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Every form a secret could be written in.
fn forms(secret: &str) -> Vec<String> {
    vec![
        secret.to_string(),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        secret.replace('-', "%2D"),
    ]
}

fn assert_clean(what: &str, bytes: &[u8]) {
    for secret in [SECRET, SIM_PASSWORD] {
        for f in forms(secret) {
            assert!(
                !bytes.windows(f.len()).any(|w| w == f.as_bytes()),
                "the secret {f:?} appears in {what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_nowhere_and_the_commands_work_end_to_end() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(
        &sim,
        "store: { path: var/vigie.db }\nalerts: { group_window: 0s }\nevidence: { failures: { every: 0s }, no_capacity: { every: 0s } }\n",
    );
    ws.write_probe("echo-secret", ECHO);
    let depot =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/sim/sim-anef-depot-document.yaml")).expect("probe");
    ws.write_probe("sim-anef-depot-document", &depot.replace("6-59/10 * * * * *", "* * * * * *"));
    patch(&sim, r#"{"upload":"reject"}"#);

    let log_path = ws.path().join("daemon.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args([
            "run",
            "--log",
            "vigie=debug,info",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--config",
        ])
        .arg(ws.config_path())
        .env("VIGIE_TEST_SECRET", SECRET)
        .env("VIGIE_SIM_PASSWORD", SIM_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start daemon");
    let db = ws.path().join("var/vigie.db");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let n = Store::open_existing(&db)
            .ok()
            .and_then(|s| {
                s.conn()
                    .query_row(
                        "SELECT (SELECT COUNT(*) FROM evidence WHERE probe = 'echo-secret') * (SELECT COUNT(*) FROM evidence WHERE probe = 'sim-anef-depot-document')",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .ok()
            })
            .unwrap_or(0);
        if n >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no evidence recorded; log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the daemon did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.shutdown().await;

    // The store: the file's bytes, and every page decompressed. The echoed
    // form value was there to leak: it must read «redacted».
    let store = Store::open_existing(&db).expect("store");
    let mut redacted_echo = false;
    let rows: Vec<(String, Vec<u8>)> = {
        let mut stmt = store.conn().prepare("SELECT probe, body FROM evidence").expect("select");
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("rows");
        rows.map(|r| r.expect("row")).collect()
    };
    for (probe, body) in rows {
        let page = vigie::evidence::record::gunzip(&body, 1 << 20).expect("gunzip");
        assert_clean(&format!("a page of {probe} in the store"), &page);
        redacted_echo |= probe == "echo-secret" && String::from_utf8_lossy(&page).contains("value=\"«redacted»\"");
    }
    assert!(
        redacted_echo,
        "the portal echoed the secret back: the capture must show it redacted"
    );
    drop(store);
    let (code, out, err) = vigie(&["verify", "--config", "vigie.yaml"], ws.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK — evidence register of var/vigie.db intact"), "{out}");

    for (format, file) in [("html", "rapport.html"), ("csv", "rapport.csv"), ("json", "rapport.json")] {
        let (code, out, err) = vigie(&["report", "--config", "vigie.yaml", "--format", format, "-o", file], ws.path());
        assert_eq!(code, 0, "{out}{err}");
        let bytes = std::fs::read(ws.path().join(file)).expect("report");
        assert_clean(&format!("the {format} report"), &bytes);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("echo-secret"), "the {format} report covers the probes");
    }
    let html = std::fs::read_to_string(ws.path().join("rapport.html")).expect("html");
    assert!(
        html.contains("{{ env.VIGIE_TEST_SECRET }}") || html.contains("firstName"),
        "the methodology names fields, not values"
    );

    let (code, out, err) = vigie(&["evidence", "export", "--config", "vigie.yaml", "-o", "preuves.zip"], ws.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("capture(s) over 1 day(s)"), "{out}");
    let mut z = zip::ZipArchive::new(std::fs::File::open(ws.path().join("preuves.zip")).expect("zip")).expect("zip");
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        let mut b = Vec::new();
        f.read_to_end(&mut b).expect("read");
        assert_clean(&format!("{} in the bundle", f.name().expect("name")), &b);
    }
    let (code, out, err) = vigie(&["evidence", "verify", "preuves.zip"], ws.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK — preuves.zip"), "{out}");

    // The database file itself, with its write-ahead log, after everything.
    for f in ["var/vigie.db", "var/vigie.db-wal"] {
        if let Ok(b) = std::fs::read(ws.path().join(f)) {
            assert_clean(f, &b);
        }
    }
    let log = std::fs::read(&log_path).expect("log");
    assert!(
        String::from_utf8_lossy(&log).contains("evidence chain anchor"),
        "the anchor is logged"
    );
    assert_clean("the daemon's log", &log);

    // A new user after `vigie demo`: no option, in the folder holding var/demo.db.
    let demo = Workspace::new();
    std::fs::create_dir_all(demo.path().join("var")).expect("var");
    std::fs::copy(&db, demo.path().join("var/demo.db")).expect("copy");
    let (code, out, err) = vigie(&["report"], demo.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("using the demo's history (var/demo.db)"), "{err}");
    let name = std::fs::read_dir(demo.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("rapport-vigie-") && n.ends_with(".html"))
        .expect("a French report named rapport-vigie-FROM_TO.html");
    let html = std::fs::read_to_string(demo.path().join(name)).expect("report");
    assert!(html.contains("Rapport de disponibilité") && html.contains("<html lang=\"fr\">"));
    let (code, _, err) = vigie(&["evidence", "export"], demo.path());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = vigie(&["report", "--db", "nowhere.db"], demo.path());
    assert_ne!(code, 0);
    assert!(err.contains("no history database at nowhere.db"), "{out}{err}");
}
