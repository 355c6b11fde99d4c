//! Checking an RFC 3161 reply with OpenSSL (`openssl ts -verify`): the
//! token's signature, the TSA certificate (extended key usage
//! `timeStamping`) up to `ca_file` or the system's roots, and the message
//! imprint against the digest given. The same command README.txt of a
//! bundle gives its reader, so vigie and the reader run one check.
//! ARCHITECTURE.md says why OpenSSL rather than a Rust crate.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the system's trusted roots are (Debian's ca-certificates).
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs";

/// Why a token did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenCheckError {
    #[error(
        "the openssl command is needed to check time stamps and was not found ({0}): install the openssl package (apt install openssl)"
    )]
    NoOpenssl(String),
    #[error("openssl ts -verify failed: {0}")]
    Failed(String),
}

/// The trust anchors: a CA file, or the system's roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    CaFile(PathBuf),
    System,
}

impl Trust {
    pub fn of(ca_file: Option<&Path>) -> Trust {
        ca_file.map_or(Trust::System, |p| Trust::CaFile(p.to_path_buf()))
    }

    fn args(&self) -> Vec<std::ffi::OsString> {
        match self {
            Trust::CaFile(p) => vec!["-CAfile".into(), p.clone().into_os_string()],
            Trust::System => vec!["-CApath".into(), SYSTEM_ROOTS.into()],
        }
    }
}

/// `openssl ts -verify -digest HEX -in <reply> -CAfile ca.pem`, the reply
/// given on standard input. `Ok` only when OpenSSL says "Verification: OK".
pub fn verify_reply(reply: &[u8], digest_hex: &str, trust: &Trust) -> Result<(), TokenCheckError> {
    let mut child = Command::new("openssl")
        .args(["ts", "-verify", "-digest", digest_hex, "-in", "/dev/stdin"])
        .args(trust.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| TokenCheckError::NoOpenssl(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A closed pipe means openssl stopped early; its output says why.
        let _ = stdin.write_all(reply);
    }
    let out = child.wait_with_output().map_err(|e| TokenCheckError::Failed(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.contains("Verification: OK") {
        return Ok(());
    }
    Err(TokenCheckError::Failed(reason(&String::from_utf8_lossy(&out.stderr))))
}

/// The useful part of OpenSSL's error lines ("message imprint mismatch",
/// "unable to get local issuer certificate"…).
fn reason(stderr: &str) -> String {
    let lines: Vec<String> = stderr
        .lines()
        .filter(|l| !l.starts_with("Using configuration"))
        .map(|l| {
            let verify = l.split_once("Verify error:").map(|(_, r)| r);
            let routine = l.split(':').nth(5).filter(|_| l.contains(":error:"));
            verify.or(routine).unwrap_or(l).trim().to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        "no reason given".to_string()
    } else {
        lines.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_reasons_are_kept_short() {
        let e = "Using configuration from /usr/lib/ssl/openssl.cnf\n40B7:error:17800067:time stamp routines:ts_check_imprints:message imprint mismatch:../crypto/ts/ts_rsp_verify.c:508:\n";
        assert_eq!(reason(e), "message imprint mismatch");
        let e = "4:error:17800064:time stamp routines:ts_verify_cert:certificate verify error:../x.c:188:Verify error:unable to get local issuer certificate\n";
        assert_eq!(reason(e), "unable to get local issuer certificate");
    }

    #[test]
    fn garbage_is_refused_by_openssl() {
        let r = verify_reply(b"not a reply", &"00".repeat(32), &Trust::System);
        assert!(matches!(r, Err(TokenCheckError::Failed(_))), "{r:?}");
    }
}
