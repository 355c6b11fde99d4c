//! `vigie evidence export --format warc`: the captures as WARC/1.1 (ISO
//! 28500), the web archivists' format, readable by their tools (warcio,
//! pywb, the Internet Archive's). One gzip member per record:
//!
//! - `warcinfo`: vigie's version, the instance and its capture context;
//! - per capture, a `response` record of the exchange *as kept*: the
//!   status line and the response headers vigie kept, then the page —
//!   redacted (passwords, cookies, tokens masked) and capped, which the
//!   record says (`WARC-Truncated`, `Vigie-Redacted`);
//! - a `metadata` record referring to it: the evidence record (canonical
//!   JSON, its position and hash in the chain);
//! - a `resource` record for a browser probe's screenshot.
//!
//! Every record carries SHA-256 block and payload digests (base32, as
//! WARC 1.1 suggests).

use std::io::Write as _;

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::record::Record;
use super::EvidenceError;

/// One capture to write: its record, hash, page and screenshot.
pub struct Capture<'a> {
    pub record: &'a Record,
    pub hash: &'a str,
    pub body: &'a [u8],
    pub screenshot: Option<&'a [u8]>,
}

/// `sha256:BASE32` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", base32(&Sha256::digest(bytes)))
}

/// RFC 4648 base32, upper case, padded.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = buf.iter().fold(0u64, |a, b| (a << 8) | *b as u64);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(ALPHABET[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A record ID derived from what it holds, so an export is reproducible.
fn record_id(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    format!("<urn:uuid:{}>", uuid::Builder::from_random_bytes(b).into_uuid())
}

/// A WARC header value on one line.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// One record, gzip-compressed on its own.
fn record(headers: &[(&str, String)], block: &[u8]) -> Result<Vec<u8>, EvidenceError> {
    let mut head = String::from("WARC/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {}\r\n", one_line(v)));
    }
    head.push_str(&format!("WARC-Block-Digest: {}\r\n", digest(block)));
    head.push_str(&format!("Content-Length: {}\r\n\r\n", block.len()));
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(head.as_bytes()).map_err(EvidenceError::Io)?;
    gz.write_all(block).map_err(EvidenceError::Io)?;
    gz.write_all(b"\r\n\r\n").map_err(EvidenceError::Io)?;
    gz.finish().map_err(EvidenceError::Io)
}

/// WARC-Date: the W3C form, UTC, to the millisecond.
fn warc_date(r: &Record) -> String {
    r.observed_at_utc()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| r.observed_at.clone())
}

/// The `warcinfo` record: `fields` are (name, value) of the instance's context.
pub fn warcinfo(filename: &str, date: &str, fields: &[(String, String)]) -> Result<Vec<u8>, EvidenceError> {
    let mut block = format!(
        "software: vigie/{}\r\nformat: WARC File Format 1.1\r\nconformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in fields {
        block.push_str(&format!("{}: {}\r\n", one_line(k), one_line(v)));
    }
    record(
        &[
            ("WARC-Type", "warcinfo".into()),
            ("WARC-Record-ID", record_id(&format!("warcinfo {filename} {date}"))),
            ("WARC-Date", date.to_string()),
            ("WARC-Filename", filename.to_string()),
            ("Content-Type", "application/warc-fields".into()),
        ],
        block.as_bytes(),
    )
}

/// The HTTP response as kept: status line, the headers kept (without
/// those describing a transfer the body no longer has), the body.
fn http_block(r: &Record, body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.http_status.unwrap_or(0), reason_phrase(r.http_status));
    let dropped = ["content-length", "transfer-encoding", "content-encoding"];
    for (k, v) in &r.headers {
        if !dropped.contains(&k.to_ascii_lowercase().as_str()) {
            out.push_str(&format!("{}: {}\r\n", one_line(k), one_line(v)));
        }
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn reason_phrase(status: Option<u16>) -> &'static str {
    status
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

const REDACTED: &str =
    "yes: passwords, cookies, tokens and configured secrets masked before storage; the body is the page as kept, not as sent";

/// The records of one capture: response (when a response came), metadata, screenshot.
pub fn capture(c: &Capture) -> Result<Vec<u8>, EvidenceError> {
    let r = c.record;
    let date = warc_date(r);
    let response_id = record_id(&format!("response {}", c.hash));
    let mut out = Vec::new();
    if r.http_status.is_some() {
        let mut headers = vec![
            ("WARC-Type", "response".to_string()),
            ("WARC-Record-ID", response_id.clone()),
            ("WARC-Date", date.clone()),
            ("WARC-Target-URI", r.url.clone()),
            ("Content-Type", "application/http;msgtype=response".into()),
            ("WARC-Payload-Digest", digest(c.body)),
            ("Vigie-Redacted", REDACTED.into()),
        ];
        if let Some(ip) = r.remote_addr.as_deref().and_then(ip_of) {
            headers.push(("WARC-IP-Address", ip));
        }
        if r.truncated {
            headers.push(("WARC-Truncated", "length".into()));
        }
        out.extend(record(&headers, &http_block(r, c.body))?);
    }
    out.extend(metadata(c, &date, &response_id)?);
    if let (Some(png), Some(shot)) = (c.screenshot, &r.screenshot) {
        out.extend(record(
            &[
                ("WARC-Type", "resource".into()),
                ("WARC-Record-ID", record_id(&format!("screenshot {}", c.hash))),
                ("WARC-Date", date.clone()),
                ("WARC-Target-URI", format!("{}#vigie-screenshot-{}", r.url, r.seq)),
                ("WARC-Concurrent-To", response_id),
                ("Content-Type", "image/png".into()),
                ("WARC-Payload-Digest", digest(png)),
                (
                    "Vigie-Screenshot",
                    format!("{}x{} px, taken {}", shot.width, shot.height, shot.taken_at),
                ),
            ],
            png,
        )?);
    }
    Ok(out)
}

/// The `metadata` record: the evidence record and its place in the chain.
fn metadata(c: &Capture, date: &str, response_id: &str) -> Result<Vec<u8>, EvidenceError> {
    let r = c.record;
    let canonical = r.canonical()?;
    let fields = [
        ("vigie-seq", r.seq.to_string()),
        ("vigie-record-sha256", c.hash.to_string()),
        ("probe", r.probe.clone()),
        ("title", r.title.clone()),
        ("kind", r.kind.as_str().into()),
        ("outcome", r.outcome.as_str().into()),
        ("reason", r.reason.map(|x| x.as_str()).unwrap_or("").into()),
        ("step", r.step.clone()),
        ("observed-at-paris", r.observed_at_paris.clone()),
        ("location", r.location.clone()),
        ("redacted", REDACTED.into()),
        ("truncated", r.truncated.to_string()),
        ("no-response", r.http_status.is_none().to_string()),
        ("vigie-record", canonical),
    ];
    let block: String = fields.iter().map(|(k, v)| format!("{k}: {}\r\n", one_line(v))).collect();
    let mut headers = vec![
        ("WARC-Type", "metadata".to_string()),
        ("WARC-Record-ID", record_id(&format!("metadata {}", c.hash))),
        ("WARC-Date", date.to_string()),
        ("WARC-Target-URI", r.url.clone()),
        ("Content-Type", "application/warc-fields".into()),
    ];
    if r.http_status.is_some() {
        headers.push(("WARC-Refers-To", response_id.to_string()));
    }
    record(&headers, block.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"format":"vigie-evidence/2","seq":7,"prev":"00","probe":"rdv","title":"RDV","procedure":"p","site":"s","location":"paris","kind":"failure","outcome":"broken","reason":"error_page","step":"slots","step_index":1,"message":null,"method":"GET","url":"https://rdv.example/slots","http_status":200,"observed_at":"2026-09-07T08:00:00.000Z","observed_at_paris":"2026-09-07T10:00:00.000+02:00","run_started_at":"2026-09-07T08:00:00.000Z","maintenance":null,"headers":[["content-type","text/html"],["transfer-encoding","chunked"]],"content_type":"text/html","file":"pages/000007.html","body_bytes":5,"body_sha256":"x","truncated":true,"vigie_version":"0.1.0","screenshot":{"file":"screenshots/000007.png","bytes":4,"sha256":"y","width":1280,"height":900,"taken_at":"2026-09-07T08:00:00.000Z","taken_at_paris":"2026-09-07T10:00:00.000+02:00"}}"#;

    /// A capture with a screenshot: response, metadata and resource
    /// records that warcio accepts, their digests checked.
    #[test]
    fn a_capture_with_a_screenshot_passes_warcio_check() {
        let r = Record::parse(RECORD).expect("record");
        let mut bytes = warcinfo("t.warc.gz", "2026-09-07T08:00:00Z", &[("vantage-point".into(), "paris".into())]).expect("warcinfo");
        let c = Capture {
            record: &r,
            hash: "abc",
            body: b"<h1>Erreur</h1>",
            screenshot: Some(b"\x89PNG"),
        };
        bytes.extend(capture(&c).expect("capture"));
        let path = std::env::temp_dir().join(format!("vigie-warc-{}.warc.gz", std::process::id()));
        std::fs::write(&path, &bytes).expect("write");
        let out = std::process::Command::new("warcio").arg("check").arg("-v").arg(&path).output();
        let _ = std::fs::remove_file(&path);
        let out = out.expect("warcio (pip install warcio; .ci/install-court.sh)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        for t in ["warcinfo", "response", "metadata", "resource"] {
            assert!(text.contains(&format!("WARC-Type: {t}")) || text.contains(t), "{t}: {text}");
        }
        assert_eq!(text.matches("digest pass").count(), 4, "{text}");
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut raw).expect("gunzip");
        let plain = String::from_utf8_lossy(&raw);
        assert!(
            plain.contains("WARC-Truncated: length") && plain.contains("Vigie-Redacted: yes"),
            "{plain}"
        );
        assert!(!plain.contains("transfer-encoding: chunked"), "{plain}");
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY======");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI======");
        assert_eq!(digest(b"").len(), "sha256:".len() + 56);
    }
}

/// The IP address of `ip:port` (`[v6]:port` too), as WARC-IP-Address wants it.
fn ip_of(addr: &str) -> Option<String> {
    addr.parse::<std::net::SocketAddr>().ok().map(|a| a.ip().to_string())
}

#[cfg(test)]
mod ip_tests {
    #[test]
    fn the_ip_is_taken_from_the_socket_address() {
        assert_eq!(super::ip_of("192.0.2.7:443").as_deref(), Some("192.0.2.7"));
        assert_eq!(super::ip_of("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
        assert_eq!(super::ip_of("not an address"), None);
    }
}
