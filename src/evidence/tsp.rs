//! RFC 3161 time-stamp protocol, the bytes only: the request (a
//! `TimeStampReq` in DER, built by hand: it is five fixed fields) and
//! reading what vigie needs from a `TimeStampResp` (the status, the
//! token's `genTime`, message imprint and nonce). Signature and
//! certificate checks are `tsp_verify.rs` (OpenSSL).
//!
//! The DER reader is a minimal TLV walker: definite lengths only (DER
//! forbids the others), every length checked against what is left.

use chrono::{DateTime, NaiveDateTime, Utc};

/// OID 2.16.840.1.101.3.4.2.1 (SHA-256), DER-encoded with its tag.
const SHA256_OID: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

/// Why a TSA's answer was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TspError {
    #[error("the time-stamp reply is not valid DER: {0}")]
    Der(&'static str),
    #[error("the time-stamping authority refused the request (PKIStatus {status}{text})")]
    Refused { status: i64, text: String },
    #[error("the time-stamp token covers another digest than the one asked for")]
    Imprint,
    #[error("the time-stamp token answers another request (nonce differs)")]
    Nonce,
    #[error("the time-stamp token's genTime `{0}` is not a GeneralizedTime vigie can read")]
    Time(String),
}

/// What vigie reads from a granted reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// When the TSA says it signed.
    pub gen_time: DateTime<Utc>,
    /// The digest stamped (SHA-256: 32 bytes).
    pub imprint: Vec<u8>,
    pub nonce: Option<Vec<u8>>,
    /// The TSA's serial number of the token, in hex.
    pub serial: String,
}

/// DER length octets.
fn len_octets(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(len_octets(content.len()));
    out.extend_from_slice(content);
    out
}

/// A positive DER INTEGER from big-endian bytes.
fn integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = if trimmed.is_empty() { vec![0] } else { trimmed };
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

/// `TimeStampReq { version 1, messageImprint (SHA-256, digest), nonce, certReq TRUE }`.
pub fn request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let alg = tlv(0x30, &[SHA256_OID, &[0x05, 0x00]].concat());
    let imprint = tlv(0x30, &[alg, tlv(0x04, digest)].concat());
    let body = [integer(&[1]), imprint, integer(&nonce.to_be_bytes()), vec![0x01, 0x01, 0xff]].concat();
    tlv(0x30, &body)
}

/// One DER element: (tag, content, what follows).
fn next(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), TspError> {
    let (&tag, rest) = bytes.split_first().ok_or(TspError::Der("truncated element"))?;
    let (&first, rest) = rest.split_first().ok_or(TspError::Der("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(TspError::Der("unsupported length"));
        }
        (rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize), &rest[n..])
    };
    if rest.len() < len {
        return Err(TspError::Der("length beyond the end"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The content of the element at `bytes`, which must carry `tag`.
fn expect(bytes: &[u8], tag: u8) -> Result<(&[u8], &[u8]), TspError> {
    let (t, content, rest) = next(bytes)?;
    if t != tag {
        return Err(TspError::Der("unexpected tag"));
    }
    Ok((content, rest))
}

/// Skip elements until one with `tag`; its content and what follows.
fn find(mut bytes: &[u8], tag: u8) -> Result<(&[u8], &[u8]), TspError> {
    loop {
        let (t, content, rest) = next(bytes)?;
        if t == tag {
            return Ok((content, rest));
        }
        bytes = rest;
    }
}

fn small_int(content: &[u8]) -> i64 {
    content.iter().take(8).fold(0i64, |a, b| (a << 8) | *b as i64)
}

/// The status of a reply and its token (`ContentInfo`, DER) when granted.
pub fn token_of(reply: &[u8]) -> Result<&[u8], TspError> {
    let (resp, _) = expect(reply, 0x30)?;
    let (status_info, after) = expect(resp, 0x30)?;
    let (status, rest) = expect(status_info, 0x02)?;
    let status = small_int(status);
    if status > 1 {
        let text = next(rest)
            .map(|(_, c, _)| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_default();
        let text = if text.is_empty() { text } else { format!(": {text}") };
        return Err(TspError::Refused { status, text });
    }
    if after.is_empty() {
        return Err(TspError::Der("a granted reply without a token"));
    }
    let (_, _, rest) = next(after)?;
    Ok(&after[..after.len() - rest.len()])
}

/// `TSTInfo` inside a token: ContentInfo → [0] SignedData → encapContentInfo → [0] OCTET STRING.
fn tst_info(token: &[u8]) -> Result<&[u8], TspError> {
    let (ci, _) = expect(token, 0x30)?;
    let (_, after_oid) = expect(ci, 0x06)?;
    let (explicit, _) = expect(after_oid, 0xa0)?;
    let (signed, _) = expect(explicit, 0x30)?;
    let (_, rest) = expect(signed, 0x02)?;
    let (_, rest) = expect(rest, 0x31)?;
    let (encap, _) = expect(rest, 0x30)?;
    let (_, rest) = expect(encap, 0x06)?;
    let (explicit, _) = expect(rest, 0xa0)?;
    let (octets, _) = expect(explicit, 0x04)?;
    Ok(octets)
}

/// Read a granted reply and check it answers `digest` and `nonce`.
pub fn read_reply(reply: &[u8], digest: &[u8], nonce: Option<u64>) -> Result<TokenInfo, TspError> {
    let info = read_token(token_of(reply)?)?;
    if info.imprint != digest {
        return Err(TspError::Imprint);
    }
    if let Some(n) = nonce {
        let want = integer(&n.to_be_bytes());
        let (want, _) = expect(&want, 0x02)?;
        if info.nonce.as_deref() != Some(want) {
            return Err(TspError::Nonce);
        }
    }
    Ok(info)
}

/// The fields of a token's `TSTInfo`.
pub fn read_token(token: &[u8]) -> Result<TokenInfo, TspError> {
    let (tst, _) = expect(tst_info(token)?, 0x30)?;
    let (_, rest) = expect(tst, 0x02)?; // version
    let (_, rest) = expect(rest, 0x06)?; // policy
    let (imprint, rest) = expect(rest, 0x30)?;
    let (_, alg_rest) = expect(imprint, 0x30)?;
    let (hash, _) = expect(alg_rest, 0x04)?;
    let (serial, rest) = expect(rest, 0x02)?;
    let (time, rest) = expect(rest, 0x18)?;
    let nonce = find(rest, 0x02).ok().map(|(n, _)| n.to_vec());
    Ok(TokenInfo {
        gen_time: generalized_time(time)?,
        imprint: hash.to_vec(),
        nonce,
        serial: hex::encode(serial),
    })
}

/// `YYYYMMDDHHMMSS[.fff]Z`.
fn generalized_time(content: &[u8]) -> Result<DateTime<Utc>, TspError> {
    let text = String::from_utf8_lossy(content).into_owned();
    let bad = || TspError::Time(text.clone());
    let core = text.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, frac) = core.split_once('.').unwrap_or((core, ""));
    let t = NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").map_err(|_| bad())?;
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").get(..9).and_then(|f| f.parse::<u32>().ok()).ok_or_else(bad)?
    };
    let t = t.and_utc() + chrono::Duration::nanoseconds(nanos as i64);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_der_openssl_would_write() {
        let req = request(&[0xab; 32], 0x0102);
        // SEQUENCE, version 1, imprint SEQUENCE(SEQUENCE(OID sha256, NULL), OCTET STRING 32).
        // 3 (version) + 51 (imprint) + 4 (nonce) + 3 (certReq) = 61 bytes.
        assert_eq!(&req[..5], &[0x30, 0x3d, 0x02, 0x01, 0x01]);
        assert_eq!(&req[5..7], &[0x30, 0x31]);
        assert!(req.windows(SHA256_OID.len()).any(|w| w == SHA256_OID));
        assert!(req.ends_with(&[0x02, 0x02, 0x01, 0x02, 0x01, 0x01, 0xff]));
        assert_eq!(req.len(), 0x3d + 2);
    }

    #[test]
    fn openssl_reads_the_request() {
        let dir = std::env::temp_dir().join(format!("vigie-tsq-{}", std::process::id()));
        std::fs::write(&dir, request(&[0xab; 32], 0x0102)).expect("write");
        let out = std::process::Command::new("openssl")
            .args(["ts", "-query", "-in"])
            .arg(&dir)
            .arg("-text")
            .output()
            .expect("openssl");
        let _ = std::fs::remove_file(&dir);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            text.contains("Hash Algorithm: sha256") && text.contains("Nonce: 0x0102") && text.contains("Certificate required: yes"),
            "{text}"
        );
    }

    #[test]
    fn integers_stay_positive_and_lengths_long_form() {
        assert_eq!(integer(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[0, 0, 5]), vec![0x02, 0x01, 0x05]);
        assert_eq!(len_octets(300), vec![0x82, 0x01, 0x2c]);
    }

    #[test]
    fn garbage_and_refusals_are_errors_not_panics() {
        assert!(token_of(&[]).is_err());
        assert!(token_of(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_err());
        assert!(token_of(&[0x30, 0x10, 0x30]).is_err());
        // status 2 (rejection) with a free text.
        let refusal = tlv(0x30, &tlv(0x30, &[integer(&[2]), tlv(0x30, &tlv(0x0c, b"bad alg"))].concat()));
        match token_of(&refusal) {
            Err(TspError::Refused { status: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn generalized_times_with_and_without_fractions() {
        let t = generalized_time(b"20261207061500Z").expect("time");
        assert_eq!(t.to_rfc3339(), "2026-12-07T06:15:00+00:00");
        let t = generalized_time(b"20261207061500.25Z").expect("time");
        assert_eq!(t.timestamp_subsec_millis(), 250);
        assert!(generalized_time(b"2026").is_err());
    }
}
