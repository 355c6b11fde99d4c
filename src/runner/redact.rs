//! Redaction of secrets from everything vigie writes: traces, logs, stored
//! results, e-mails and evidence.
//!
//! Two rules: values known to be secret in this run (environment secrets,
//! secret extractions, cookies) are replaced wherever they appear, also in
//! their URL-encoded form; and headers that carry credentials (Cookie,
//! Set-Cookie, Authorization) never keep their values.

pub const REDACTED: &str = "«redacted»";

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// Shorter values would redact ordinary words; such secrets are refused at
/// configuration time anyway (see config checks) or are not worth hiding.
const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    pub fn add(&mut self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let forms = [
            secret.to_string(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            percent_encode_all(secret),
        ];
        for f in forms {
            if !self.secrets.contains(&f) {
                self.secrets.push(f);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    pub fn bytes(&self, b: &[u8]) -> Vec<u8> {
        let mut out = b.to_vec();
        for secret in &self.secrets {
            out = replace_bytes(&out, secret.as_bytes(), REDACTED.as_bytes());
        }
        out
    }

    /// A header as it may be written down.
    pub fn header(&self, name: &str, value: &str) -> String {
        match name.to_ascii_lowercase().as_str() {
            "cookie" => value
                .split(';')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) => format!("{}={REDACTED}", k.trim()),
                    None => kv.trim().to_string(),
                })
                .collect::<Vec<_>>()
                .join("; "),
            "set-cookie" => match value.split_once('=') {
                // Keep the cookie's name and attributes, drop its value.
                Some((k, rest)) => {
                    let attrs = rest.split_once(';').map(|(_, a)| format!(";{a}")).unwrap_or_default();
                    format!("{k}={REDACTED}{attrs}")
                }
                None => REDACTED.to_string(),
            },
            "authorization" | "proxy-authorization" | "x-csrf-token" | "x-xsrf-token" => REDACTED.to_string(),
            _ => self.text(value),
        }
    }
}

fn percent_encode_all(s: &str) -> String {
    // Strict percent-encoding (space as %20), as some pages echo values.
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn replace_bytes(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || hay.len() < needle.len() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_plain_and_encoded_forms() {
        let mut r = Redactor::new();
        r.add("p@ss word!");
        r.add("abc"); // too short: ignored
        assert_eq!(
            r.text("pw=p@ss word! or p%40ss+word%21 or p%40ss%20word%21 abc"),
            format!("pw={REDACTED} or {REDACTED} or {REDACTED} abc")
        );
        assert_eq!(
            r.bytes(b"\xffp@ss word!\xfe"),
            [b"\xff".as_slice(), REDACTED.as_bytes(), b"\xfe"].concat()
        );
    }

    #[test]
    fn credential_headers_lose_their_values() {
        let r = Redactor::new();
        assert_eq!(
            r.header("Set-Cookie", "ANEF_SESSION=abc123; Path=/; HttpOnly"),
            format!("ANEF_SESSION={REDACTED}; Path=/; HttpOnly")
        );
        assert_eq!(r.header("cookie", "a=1; b=2"), format!("a={REDACTED}; b={REDACTED}"));
        assert_eq!(r.header("Authorization", "Bearer x"), REDACTED);
        assert_eq!(r.header("content-type", "text/html"), "text/html");
    }
}
