//! Browser probes in the real daemon (`vigie run`): screenshots reach the
//! evidence register, the exported bundle shows them and `vigie verify`
//! catches an altered one; SIGTERM and SIGKILL of the daemon in the middle
//! of a browser run leave no Chromium behind; a restart sweeps profiles a
//! killed daemon left.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::spa;
use vigie::browser::process::processes_mentioning;
use vigie::store::Store;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Setup {
    dir: tempfile::TempDir,
    port: u16,
}

impl Setup {
    fn new(spa: &spa::Spa, probe: &str) -> Setup {
        assert!(
            vigie::browser::find_chromium(None).is_some(),
            "needs Debian's Chromium: apt-get install chromium"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("probes")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("profiles")).expect("mkdir");
        std::fs::write(dir.path().join("probes/p.yaml"), probe).expect("probe");
        let port = free_port();
        let cfg = format!(
            "location: labo-test\ncontact: vigie-tests@example.org\nprobes: [probes/*.yaml]\nstore: {{ path: var/vigie.db }}\nevidence: {{ failures: {{ every: 0s }} }}\nbrowser: {{ profile_dir: profiles }}\nalerts:\n  to: [veille@example.org]\n  group_window: 0s\n  failure_threshold: 1\n  spool_dir: var/spool\n  evidence_url: \"http://127.0.0.1:{port}\"\ntargets:\n  spa:\n    base_url: \"http://{}\"\n    min_interval: 10ms\n",
            spa.addr
        );
        std::fs::write(dir.path().join("vigie.yaml"), cfg).expect("config");
        Setup { dir, port }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn profiles(&self) -> PathBuf {
        self.path().join("profiles")
    }

    fn start(&self) -> Running {
        let child = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["run", "--listen", &format!("127.0.0.1:{}", self.port), "--config"])
            .arg(self.path().join("vigie.yaml"))
            .current_dir(self.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vigie run");
        Running(child)
    }

    fn chromium_pids(&self) -> Vec<i32> {
        processes_mentioning(&self.profiles().to_string_lossy())
    }

    /// Wait until a browser of the daemon is running.
    fn wait_for_chromium(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.chromium_pids().is_empty() {
            assert!(Instant::now() < deadline, "no Chromium started");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_none_left_within(&self, d: Duration) {
        let deadline = Instant::now() + d;
        loop {
            let left = self.chromium_pids();
            if left.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "Chromium processes left: {left:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn vigie(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run vigie");
        (
            out.status.code().unwrap_or(-1),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }
}

/// The daemon under test, killed when the test ends, even by a failed
/// assertion (a panicking test must not leave a daemon behind).
struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// A journey that stays in the browser for a while (a page that never loads).
const SLOW: &str = "name: lente\ntitle: Page lente\nkind: browser\ntarget: spa\nschedule: \"* * * * * *\"\ntimeout: 20s\nsteps:\n  - name: page\n    goto: \"{{ base_url }}/slow\"\n    timeout: 15s\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigkill_of_the_daemon_leave_no_chromium() {
    let app = spa::start().await;
    let s = Setup::new(&app, SLOW);
    let mut child = s.start();
    s.wait_for_chromium();
    signal(&child, libc::SIGTERM);
    let _ = child.wait();
    s.assert_none_left_within(Duration::from_secs(5));

    let mut child = s.start();
    s.wait_for_chromium();
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    // The kernel's parent-death signal kills the browser; its helpers follow
    // when their IPC channel closes.
    s.assert_none_left_within(Duration::from_secs(10));

    // A profile left by the killed daemon is swept by the next start.
    let stale = s.profiles().join("vigie-chromium-1-deadbeef0000");
    std::fs::create_dir_all(&stale).expect("stale profile");
    let mut child = s.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stale.exists() {
        assert!(Instant::now() < deadline, "stale profile not swept");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    s.assert_none_left_within(Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_go_into_the_register_and_the_bundle_and_alteration_is_caught() {
    let app = spa::start().await;
    app.set_fault("api500");
    let probe = "name: erreur-js\ntitle: Démarche qui échoue après JavaScript\nkind: browser\ntarget: spa\nschedule: \"*/2 * * * * *\"\ntimeout: 20s\nbroken_when:\n  - { text_contains: \"erreur technique\", reason: error_page }\nsteps:\n  - name: accueil\n    goto: \"{{ base_url }}/app\"\n    wait_for: { selector: \"#slots, .alert-danger\", timeout: 5s }\n";
    let s = Setup::new(&app, probe);
    let mut child = s.start();
    let db = s.path().join("var/vigie.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = Store::open_existing(&db)
            .ok()
            .and_then(|st| {
                st.conn()
                    .query_row("SELECT COUNT(*) FROM evidence WHERE screenshot IS NOT NULL", [], |r| r.get(0))
                    .ok()
            })
            .unwrap_or(0);
        if n >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no screenshot in the register");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The outage e-mail links the screenshot, which the daemon serves to the team.
    let spool = s.path().join("var/spool");
    let deadline = Instant::now() + Duration::from_secs(90);
    let eml = loop {
        let found = std::fs::read_dir(&spool)
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "eml")));
        if let Some(p) = found {
            // Undo quoted-printable soft line breaks.
            break std::fs::read_to_string(p).expect("eml").replace("=\r\n", "").replace("=\n", "");
        }
        assert!(Instant::now() < deadline, "no outage e-mail");
        std::thread::sleep(Duration::from_millis(200));
    };
    let link = regex::Regex::new(r"http://127\.0\.0\.1:\d+/preuves/capture/\d+\.png").expect("re");
    let url = link
        .find(&eml)
        .unwrap_or_else(|| panic!("no screenshot link in the e-mail:\n{eml}"))
        .as_str()
        .to_string();
    assert!(eml.contains("Capture d'=C3=A9cran dat=C3=A9e"), "{eml}");
    let resp = reqwest::get(&url).await.expect("GET screenshot");
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.expect("body").starts_with(b"\x89PNG"));
    signal(&child, libc::SIGTERM);
    let _ = child.wait();

    let (code, out) = s.vigie(&["verify", "--db", "var/vigie.db"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = s.vigie(&["evidence", "export", "--db", "var/vigie.db", "--output", "preuves.zip"]);
    assert_eq!(code, 0, "{out}");
    let f = std::fs::File::open(s.path().join("preuves.zip")).expect("bundle");
    let mut zip = zip::ZipArchive::new(f).expect("zip");
    let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.to_string())).collect();
    let shots: Vec<String> = names.iter().filter(|n| n.starts_with("screenshots/")).cloned().collect();
    assert!(!shots.is_empty(), "the bundle holds the screenshots");
    let mut png = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(&shots[0]).expect("png"), &mut png).expect("read");
    assert!(png.starts_with(b"\x89PNG"));
    let day: String = names.iter().find(|n| n.starts_with("days/")).expect("day page").clone();
    let mut html = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(&day).expect("day"), &mut html).expect("read");
    assert!(
        html.contains(&format!("src=\"../{}\"", shots[0])),
        "the day page shows the screenshot"
    );
    let (code, out) = s.vigie(&["evidence", "verify", "preuves.zip"]);
    assert_eq!(code, 0, "{out}");
    if std::env::var_os("VIGIE_KEEP_SCREENSHOT").is_some() {
        std::fs::write("/tmp/vigie-test-screenshot.png", &png).expect("keep");
    }

    // One byte of a stored screenshot changed: `vigie verify` names the record.
    {
        let conn = rusqlite::Connection::open(&db).expect("db");
        conn.execute_batch("DROP TRIGGER evidence_no_update").expect("drop trigger");
        conn.execute(
            "UPDATE evidence SET screenshot = CAST(substr(screenshot, 1, 100) || 'x' || substr(screenshot, 102) AS BLOB) WHERE seq = (SELECT MIN(seq) FROM evidence WHERE screenshot IS NOT NULL)",
            [],
        )
        .expect("alter");
    }
    let (code, out) = s.vigie(&["verify", "--db", "var/vigie.db"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("screenshot was altered"), "{out}");
}
