//! Nothing secret is written, in any encoding, anywhere. The `vigie` binary
//! runs probes that send a password and a token (in a URL template, a query,
//! a form and credential headers) to a hostile portal (`support::leaky`)
//! that sets cookies for other paths and from another host, and echoes every
//! secret back in every encoding, in pages, headers, JSON checks, « no slot »
//! messages and across the capture cut. The daemon logs at trace level and
//! sends its e-mails to a real SMTP server (smtp-sink). Then the database
//! file, its WAL (and every compressed page inside them), every row of every
//! table, the trace log, `/metrics`, the status page, the e-mails, the three
//! report formats, `vigie once`, and every entry of an exported bundle are
//! searched for each secret in plain, URL-encoded (upper- and lowercase),
//! base64 (standard, URL-safe, inside `user:password`), hexadecimal, JSON-
//! escaped, HTML-entity, quoted-printable and Latin-1 forms, and for the
//! start of each secret (a secret cut by a size limit). What vigie wrote is
//! owner-only (0600, folders 0700).

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use support::leaky::{self, CSRF, OTHER_HOST_COOKIE, PASSWORD, SESSION, TOKEN};
use support::smtp::SmtpSink;
use support::Workspace;

const LOGIN: &str = r##"name: leak-login
title: Connexion (le portail renvoie tout)
target: leaky
labels: { procedure: leak }
schedule: "* * * * * *"
timeout: 5s
steps:
  - name: connexion
    request:
      method: POST
      url: "{{ base_url }}/login/{{ env.VIGIE_LEAK_PASSWORD }}"
      query: { p: "{{ env.VIGIE_LEAK_PASSWORD }}" }
      headers: { X-Auth-Token: "{{ env.VIGIE_LEAK_TOKEN }}", X-Api-Key: "{{ env.VIGIE_LEAK_TOKEN }}" }
      form: { username: tester, password: "{{ env.VIGIE_LEAK_PASSWORD }}" }
    expect: { status: 200, body_contains: "Bienvenue" }
    extract:
      csrf_token: { css: "input[name=csrf_token]", attr: value }
      greeting: { css: "#greet" }
  - name: compte
    request: { url: "{{ base_url }}/account" }
    expect: { json: { "$.user": "quelqu'un d'autre" } }
"##;

const SLOTS: &str = r##"name: leak-slots
title: Créneaux (le portail renvoie tout)
target: leaky
labels: { procedure: leak }
schedule: "* * * * * *"
steps:
  - name: creneaux
    request: { url: "{{ base_url }}/slots" }
    no_capacity_when: { body_matches: "Aucun créneau pour .*" }
"##;

const LATIN1: &str = r##"name: leak-latin1
title: Page Latin-1
target: leaky
labels: { procedure: leak }
schedule: "* * * * * *"
steps:
  - name: page
    request: { url: "{{ base_url }}/latin1" }
    expect: { body_contains: "introuvable" }
"##;

const BIG: &str = r##"name: leak-big
title: Page coupée
target: leaky
labels: { procedure: leak }
schedule: "* * * * * *"
steps:
  - name: page
    request: { url: "{{ base_url }}/big?t={{ env.VIGIE_LEAK_TOKEN }}", max_body: 2MiB }
    expect: { body_contains: "introuvable" }
"##;

/// Every form in which a secret must not appear (built here independently
/// of the redactor, from the encoders' definitions).
fn forms(secret: &str) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let strict = |upper: bool| -> String {
        secret
            .bytes()
            .map(|b| match (b.is_ascii_alphanumeric() || b"-_.~".contains(&b), upper) {
                (true, _) => (b as char).to_string(),
                (false, true) => format!("%{b:02X}"),
                (false, false) => format!("%{b:02x}"),
            })
            .collect()
    };
    let mut path_url = url::Url::parse("http://h/").expect("url");
    path_url.set_path(secret);
    let qp: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            }
        })
        .collect();
    let json_ascii: String = secret
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\u{:04x}", u32::from(c))
            }
        })
        .collect();
    let entities: String = secret
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("&#{};", u32::from(c))
            }
        })
        .collect();
    let latin1: Vec<u8> = secret.chars().filter_map(|c| u8::try_from(u32::from(c)).ok()).collect();
    let basic = b64.encode(format!("tester:{secret}"));
    let head: String = secret.chars().take(8).collect();
    let mut out: Vec<Vec<u8>> = [
        secret.to_string(),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        strict(true),
        strict(false),
        path_url.path().trim_start_matches('/').to_string(),
        b64.encode(secret),
        b64u.encode(secret),
        basic[8..basic.len() - 4].to_string(),
        hex::encode(secret),
        hex::encode_upper(secret),
        json_ascii,
        entities,
        qp,
        head,
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    out.push(latin1);
    out.sort();
    out.dedup();
    out
}

fn secrets() -> [&'static str; 5] {
    [PASSWORD, TOKEN, SESSION, OTHER_HOST_COOKIE, CSRF]
}

/// `bytes` and every gzip stream found inside them, decompressed.
fn expand(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![bytes.to_vec()];
    for i in 0..bytes.len().saturating_sub(3) {
        if bytes[i..].starts_with(&[0x1f, 0x8b, 0x08]) {
            let mut d = flate2::read::GzDecoder::new(&bytes[i..]);
            let mut page = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = d.read(&mut buf) {
                if n == 0 || page.len() > 8 << 20 {
                    break;
                }
                page.extend_from_slice(&buf[..n]);
            }
            if !page.is_empty() {
                out.push(page);
            }
        }
    }
    out
}

fn assert_clean(what: &str, bytes: &[u8]) {
    for part in expand(bytes) {
        for secret in secrets() {
            for f in forms(secret) {
                if let Some(at) = part.windows(f.len()).position(|w| w == f.as_slice()) {
                    let around = String::from_utf8_lossy(&part[at.saturating_sub(80)..(at + f.len() + 80).min(part.len())]).into_owned();
                    panic!(
                        "{what}: the secret {secret:?} appears as {:?}: …{around}…",
                        String::from_utf8_lossy(&f)
                    );
                }
            }
        }
    }
}

fn vigie(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(cwd)
        .env("VIGIE_LEAK_PASSWORD", PASSWORD)
        .env("VIGIE_LEAK_TOKEN", TOKEN)
        .output()
        .expect("run vigie");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn workspace(portal: &str, smtp_port: u16) -> Workspace {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("probes")).expect("mkdir");
    let config = format!(
        "location: test\ncontact: vigie-tests@example.org\nprobes: [\"probes/*.yaml\"]\n\
         targets:\n  leaky: {{ base_url: \"{portal}\", min_interval: 10ms, max_concurrent: 4 }}\n\
         store: {{ path: var/vigie.db }}\n\
         evidence: {{ failures: {{ every: 0s }}, no_capacity: {{ every: 0s }} }}\n{}",
        support::alerts::smtp_sections(smtp_port, "0s")
    );
    std::fs::write(ws.config_path(), config).expect("config");
    for (name, yaml) in [
        ("leak-login", LOGIN),
        ("leak-slots", SLOTS),
        ("leak-latin1", LATIN1),
        ("leak-big", BIG),
    ] {
        ws.write_probe(name, yaml);
    }
    ws
}

fn start_daemon(ws: &Workspace, listen: &str, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--log", "trace", "--listen", listen, "--config"])
        .arg(ws.config_path())
        .env("VIGIE_LEAK_PASSWORD", PASSWORD)
        .env("VIGIE_LEAK_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start daemon")
}

/// Every value of every row of every table, as bytes.
fn every_row(db: &Path) -> Vec<(String, Vec<u8>)> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open db");
    let tables: Vec<String> = {
        let mut s = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").expect("tables");
        s.query_map([], |r| r.get(0)).expect("rows").map(|r| r.expect("row")).collect()
    };
    let mut out = Vec::new();
    for t in tables {
        let mut s = conn.prepare(&format!("SELECT * FROM \"{t}\"")).expect("select");
        let n = s.column_count();
        let mut rows = s.query([]).expect("query");
        while let Some(row) = rows.next().expect("row") {
            for i in 0..n {
                let v: rusqlite::types::Value = row.get(i).expect("value");
                let bytes = match v {
                    rusqlite::types::Value::Text(t) => t.into_bytes(),
                    rusqlite::types::Value::Blob(b) => b,
                    _ => continue,
                };
                out.push((format!("table {t}, column {i}"), bytes));
            }
        }
    }
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn wait_for_runs(db: &Path, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(40);
    let query = "SELECT COUNT(DISTINCT probe) FROM evidence";
    loop {
        let n = rusqlite::Connection::open(db)
            .ok()
            .and_then(|c| c.query_row(query, [], |r| r.get::<_, i64>(0)).ok())
            .unwrap_or(0);
        if n >= 4 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "every probe should have evidence; log tail:\n{}",
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The daemon, killed if the test fails before stopping it.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn stop(mut running: Running) {
    let Some(mut child) = running.0.take() else { return };
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the daemon did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_written_in_any_encoding_anywhere() {
    let portal = leaky::start().await;
    let sink = SmtpSink::start();
    let ws = workspace(&portal.url, sink.port);
    let listen = format!("127.0.0.1:{}", support::smtp::free_port());
    let log = ws.path().join("daemon-trace.log");
    let child = Running(Some(start_daemon(&ws, &listen, &log)));
    let db = ws.path().join("var/vigie.db");
    wait_for_runs(&db, &log).await;
    let mails = sink.wait_for("an outage e-mail", Duration::from_secs(30), |m| !m.is_empty());

    // While the daemon runs: its pages, and the database with its WAL.
    for page in ["/metrics", "/"] {
        let body = reqwest::get(format!("http://{listen}{page}"))
            .await
            .expect("GET")
            .bytes()
            .await
            .expect("body");
        assert_clean(&format!("GET {page}"), &body);
    }
    for f in ["var/vigie.db", "var/vigie.db-wal"] {
        if let Ok(b) = std::fs::read(ws.path().join(f)) {
            assert_clean(&format!("{f} while the daemon runs"), &b);
        }
    }
    stop(child).await;

    for m in &mails {
        assert_clean(&format!("the e-mail {:?} as received", m.subject()), m.raw.as_bytes());
        assert_clean(&format!("the e-mail {:?}, decoded", m.subject()), m.text().as_bytes());
    }
    for (what, bytes) in every_row(&db) {
        assert_clean(&what, &bytes);
    }
    let rows = every_row(&db);
    assert!(
        rows.iter()
            .any(|(_, b)| expand(b).iter().any(|p| String::from_utf8_lossy(p).contains("«redacted»"))),
        "the echoed secrets must be there, redacted"
    );

    for (format, file) in [("html", "rapport.html"), ("csv", "rapport.csv"), ("json", "rapport.json")] {
        let (code, out, err) = vigie(&["report", "--config", "vigie.yaml", "--format", format, "-o", file], ws.path());
        assert_eq!(code, 0, "{out}{err}");
        assert_clean(&format!("`vigie report` output ({format})"), format!("{out}{err}").as_bytes());
    }
    let (code, out, err) = vigie(&["evidence", "export", "--config", "vigie.yaml", "-o", "preuves.zip"], ws.path());
    assert_eq!(code, 0, "{out}{err}");
    let mut z = zip::ZipArchive::new(std::fs::File::open(ws.path().join("preuves.zip")).expect("zip")).expect("zip");
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        let mut b = Vec::new();
        f.read_to_end(&mut b).expect("read");
        assert_clean(
            &format!("{} in the bundle", f.name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())),
            &b,
        );
    }
    for probe in ["leak-login", "leak-slots", "leak-latin1", "leak-big"] {
        for extra in [&[][..], &["--json"][..]] {
            let mut args = vec!["once", probe, "--config", "vigie.yaml"];
            args.extend_from_slice(extra);
            let (_, out, err) = vigie(&args, ws.path());
            assert!(!out.is_empty(), "`vigie once {probe}` prints the run: {err}");
            assert_clean(&format!("`vigie once {probe} {extra:?}`"), format!("{out}{err}").as_bytes());
        }
    }

    // What vigie wrote is its owner's only, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = |rel: &str| std::fs::metadata(ws.path().join(rel)).map(|m| m.permissions().mode() & 0o777);
    for f in ["var/vigie.db", "rapport.html", "rapport.csv", "rapport.json", "preuves.zip"] {
        assert_eq!(mode(f).ok(), Some(0o600), "{f} must be owner-only");
    }
    assert_eq!(mode("var").ok(), Some(0o700), "the state folder must be owner-only");

    // Finally, every file the daemon and the commands left in the folder
    // (database, WAL, spool, reports, bundle, trace log), byte for byte.
    let trace = std::fs::read_to_string(&log).expect("log");
    assert!(trace.contains("TRACE"), "the log is at trace level");
    for f in files_under(ws.path()) {
        let bytes = std::fs::read(&f).expect("read");
        assert_clean(&f.display().to_string(), &bytes);
    }
}
