//! A real SMTP server for tests: Postfix's `smtp-sink`, started on a free
//! loopback port, storing each accepted message as a file. Installed by
//! `.ci/install-smtp.sh`; a test that needs it fails (never skips) when it
//! is missing.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

pub struct SmtpSink {
    bin: PathBuf,
    lib: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub file: PathBuf,
    pub rcpt: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub raw: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn kind(&self) -> &str {
        self.header("X-Vigie-Kind").unwrap_or("")
    }

    /// The subject, RFC 2047 words decoded.
    pub fn subject(&self) -> String {
        decode_words(self.header("Subject").unwrap_or(""))
    }

    /// The text/plain part, quoted-printable decoded.
    pub fn text(&self) -> String {
        let Some(start) = self.raw.find("Content-Type: text/plain") else {
            return String::new();
        };
        let part = &self.raw[start..];
        let body_start = part
            .find("\n\n")
            .map(|i| i + 2)
            .or_else(|| part.find("\r\n\r\n").map(|i| i + 4))
            .unwrap_or(0);
        let body = &part[body_start..];
        let end = body.find("\n--vigie-").unwrap_or(body.len());
        decode_qp(&body[..end])
    }
}

fn find_binary() -> Option<(PathBuf, PathBuf)> {
    let candidates: Vec<PathBuf> = std::env::var_os("VIGIE_SMTP_SINK")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("VIGIE_CI_DIR").map(|d| PathBuf::from(d).join("postfix/usr/sbin/smtp-sink")))
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vigie-ci/postfix/usr/sbin/smtp-sink")))
        .chain([
            PathBuf::from("/opt/vigie-ci/postfix/usr/sbin/smtp-sink"),
            PathBuf::from("/usr/sbin/smtp-sink"),
        ])
        .collect();
    let bin = candidates.into_iter().find(|p| p.is_file())?;
    let root = bin.parent()?.parent()?.parent()?.to_path_buf();
    Some((bin, root.join("usr/lib/postfix")))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let Some((bin, lib)) = find_binary() else {
            panic!(
                "smtp-sink (Postfix's test SMTP server) is not installed: run .ci/install-smtp.sh, \
                 or set VIGIE_SMTP_SINK to an smtp-sink binary. These tests need a real SMTP server."
            );
        };
        let dir = tempfile::tempdir().expect("tempdir");
        // As root smtp-sink drops to `nobody`, which must be able to write here.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let mut s = SmtpSink {
            bin,
            lib,
            dir,
            port: free_port(),
            child: None,
        };
        s.resume();
        s
    }

    /// (Re)start the server on the same port.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "smtp-sink already running");
        let mut cmd = Command::new(&self.bin);
        cmd.env("LD_LIBRARY_PATH", &self.lib);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let template = format!("{}/%Y%m%d%H%M%S.", self.dir.path().display());
        cmd.args(["-d", &template, &format!("127.0.0.1:{}", self.port), "64"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not start listening on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the server: connections are refused until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        // Dump names are the second of arrival plus a random suffix: order by
        // modification time (nanoseconds) to get the order of arrival.
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.dir.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.into_iter().filter_map(|(_, f)| parse(&f)).collect()
    }

    /// Wait until `pred` holds for the received messages.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.messages();
            if pred(&m) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received: {:?}",
                m.iter().map(|r| (r.kind().to_string(), r.subject())).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// smtp-sink's dump: `X-Rcpt-Args: <a@b>` lines, then the message as received.
/// A message is complete once its final boundary is in the file.
pub fn parse(file: &Path) -> Option<Received> {
    let raw = std::fs::read_to_string(file).ok()?;
    let raw = raw.replace("\r\n", "\n");
    if !raw.contains("--\n") || !raw.trim_end().ends_with("--") {
        return None;
    }
    let head = raw.split("\n\n").next().unwrap_or("");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = headers.last_mut() {
                last.1.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let rcpt = headers
        .iter()
        .filter(|(k, _)| k == "X-Rcpt-Args")
        .map(|(_, v)| v.trim_matches(['<', '>']).to_string())
        .collect();
    Some(Received {
        file: file.to_path_buf(),
        rcpt,
        headers,
        raw,
    })
}

/// Decode RFC 2047 encoded words (UTF-8, B or Q); whitespace between two
/// encoded words is dropped, as the RFC says.
pub fn decode_words(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, after) = rest.split_at(start);
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let Some(end) = after[2..].find("?=").map(|i| i + 4) else {
            out.push_str(after);
            return out;
        };
        let word = &after[2..end - 2];
        let parts: Vec<&str> = word.splitn(3, '?').collect();
        let decoded = match parts.as_slice() {
            [_, enc, text] if enc.eq_ignore_ascii_case("b") => base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .and_then(|b| String::from_utf8(b).ok()),
            [_, enc, text] if enc.eq_ignore_ascii_case("q") => Some(decode_qp(&text.replace('_', " "))),
            _ => None,
        };
        match decoded {
            Some(d) => {
                out.push_str(&d);
                last_was_word = true;
            }
            None => {
                out.push_str(&after[..end]);
                last_was_word = false;
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Decode quoted-printable text.
pub fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
