//! A real SMTP submission server with TLS and AUTH for tests: aiosmtpd
//! (Python, installed by `.ci/install-smtp.sh`) running
//! `smtp_tls_server.py` in STARTTLS, implicit TLS or plain mode, with a
//! server certificate for `localhost`/`127.0.0.1` signed by a CA made for the
//! test. A test that needs it fails (never skips) when python3 or aiosmtpd
//! is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};

use super::smtp::{parse, Received};

/// How the server speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain greeting, STARTTLS offered and required before anything else.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No TLS at all (AUTH still required).
    Plain,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::StartTls => "starttls",
            Mode::Tls => "tls",
            Mode::Plain => "plain",
        }
    }
}

/// A test CA and a server certificate it signed, as PEM files in `dir`.
pub struct TestPki {
    pub ca_pem: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestPki {
    pub fn new(dir: &Path) -> TestPki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(rcgen::DnType::CommonName, "vigie test SMTP CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA");
        let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("leaf params");
        let key = KeyPair::generate().expect("server key");
        let cert = leaf.signed_by(&key, &ca).expect("sign the server certificate");
        let pki = TestPki {
            ca_pem: ca.pem(),
            cert: dir.join("server-cert.pem"),
            key: dir.join("server-key.pem"),
        };
        std::fs::write(&pki.cert, cert.pem()).expect("write the server certificate");
        std::fs::write(&pki.key, key.serialize_pem()).expect("write the server key");
        pki
    }
}

pub struct TlsSmtpServer {
    pub mode: Mode,
    pub port: u16,
    pub user: String,
    pub pki: TestPki,
    dir: tempfile::TempDir,
    child: Child,
    events: Arc<Mutex<Vec<String>>>,
}

/// Folders where `.ci/install-smtp.sh` puts aiosmtpd when it cannot go into
/// the interpreter's own site-packages (`pip install --target`).
fn python_path() -> std::ffi::OsString {
    super::ci_tools::python_path()
}

const INSTALL: &str = "run .ci/install-smtp.sh (it runs `python3 -m pip install --target DIR aiosmtpd`, DIR being \
                       /opt/vigie-ci/python as root, ~/.cache/vigie-ci/python otherwise), \
                       or `python3 -m pip install aiosmtpd`; set VIGIE_PYTHON to use another interpreter. \
                       These tests need a real SMTP server with TLS and AUTH";

impl TlsSmtpServer {
    /// Start a server accepting `user` with `password` on a free port and
    /// wait until it listens.
    pub fn start(mode: Mode, user: &str, password: &str) -> TlsSmtpServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::new(dir.path());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_tls_server.py");
        let python = std::env::var("VIGIE_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let stderr = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .args(["--mode", mode.as_str(), "--port", "0", "--user", user])
            .arg("--dir")
            .arg(dir.path().join("messages"))
            // The password goes through the environment, not the command line.
            .env("VIGIE_TEST_SMTP_PASSWORD", password)
            .env("PYTHONPATH", python_path())
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if mode != Mode::Plain {
            cmd.arg("--cert").arg(&pki.cert).arg("--key").arg(&pki.key);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{python}` for the test SMTP server ({e}): install python3, then {INSTALL}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let ev = events.clone();
        // Read every line for the server's whole life, so its pipe never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("ready ") {
                    let _ = ready_tx.send(port.trim().parse::<u16>().ok());
                } else {
                    ev.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            }
        });
        let log = |dir: &Path| std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let port = match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(port)) => port,
            Ok(None) => panic!("the test SMTP server printed a bad ready line:\n{}", log(dir.path())),
            Err(e) => {
                // Disconnected: stdout closed, the server exited (reap it for
                // its status). Timeout: it hangs; stop it.
                if e == mpsc::RecvTimeoutError::Timeout {
                    let _ = child.kill();
                }
                let status = child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => "no ready line within 20 s".to_string(),
                    mpsc::RecvTimeoutError::Disconnected => format!("it exited: {status}"),
                };
                panic!(
                    "the test SMTP server did not start ({why}):\n{}\nIf aiosmtpd is missing: {INSTALL}.",
                    log(dir.path())
                );
            }
        };
        TlsSmtpServer {
            mode,
            port,
            user: user.to_string(),
            pki,
            dir,
            child,
            events,
        }
    }

    /// The test CA's certificate, PEM: what a configuration's `ca_file` holds.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// One line per AUTH attempt: `auth ok|refused LOGIN MECHANISM TLS-VERSION|plain`.
    pub fn auth_events(&self) -> Vec<String> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What the server wrote on stderr (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Every message accepted so far, in order of arrival (files are
    /// numbered by the server and renamed into place complete).
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("messages"))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|x| x == "eml"));
        files.sort();
        files.iter().filter_map(|f| parse(f)).collect()
    }
}

impl Drop for TlsSmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
