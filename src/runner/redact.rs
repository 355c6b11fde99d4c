//! Redaction of secrets from everything vigie writes: traces, logs, stored
//! results, e-mails and evidence.
//!
//! Three rules: values known to be secret in this run (environment secrets,
//! secret extractions, cookies) are replaced wherever they appear, in every
//! encoding of [`redact_forms`](super::redact_forms); a string that ends with
//! the start of a secret (cut by a size limit) loses that start; and headers
//! that carry credentials (cookies, Authorization, any `*-token` or `*-key`)
//! never keep their values. [`Redactor::result`] applies them to every
//! string of a run's result, once, before it leaves the runner.

use crate::probe::result::{BrowserFacts, PageCapture, StepResult};
use crate::probe::RunResult;

use super::redact_forms;

pub const REDACTED: &str = "«redacted»";

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every text form of every secret, longest first.
    secrets: Vec<String>,
    /// Forms that are not UTF-8 (Latin-1), for raw bodies.
    byte_secrets: Vec<Vec<u8>>,
    /// The plain secrets, for a secret cut at the end of a bounded string.
    plain: Vec<String>,
}

/// Shorter secrets would redact ordinary words: the configuration refuses
/// them (see `config::compile`), so none reaches a run.
pub const MIN_SECRET_LEN: usize = 8;

/// A string ending with this many characters of a secret is treated as a
/// secret cut by a size limit.
const MIN_CUT_PREFIX: usize = 4;

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Learn a secret. Values shorter than [`MIN_SECRET_LEN`] (a cookie such
    /// as `lang=fr`) are ignored rather than redacted everywhere.
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_LEN || self.plain.iter().any(|p| p == secret) {
            return;
        }
        self.plain.push(secret.to_string());
        for f in redact_forms::text_forms(secret) {
            if !self.secrets.contains(&f) {
                self.secrets.push(f);
            }
        }
        for f in redact_forms::byte_forms(secret) {
            if !self.byte_secrets.contains(&f) {
                self.byte_secrets.push(f);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.byte_secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
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
        self.cut_tail(out)
    }

    /// A string cut by a size limit may end with the start of a secret
    /// (`…passw…`): that start is redacted too.
    fn cut_tail(&self, mut out: String) -> String {
        let ellipsis = out.ends_with('…');
        let body_len = if ellipsis { out.len() - '…'.len_utf8() } else { out.len() };
        let cut = self.plain.iter().find_map(|p| {
            let body = &out[..body_len];
            p.char_indices()
                .map(|(i, _)| i)
                .skip(MIN_CUT_PREFIX)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .find(|&i| body.ends_with(&p[..i]))
        });
        if let Some(n) = cut {
            let tail = out.split_off(body_len - n);
            out.push_str(REDACTED);
            if tail.ends_with('…') {
                out.push('…');
            }
        }
        out
    }

    pub fn bytes(&self, b: &[u8]) -> Vec<u8> {
        let mut out = b.to_vec();
        for secret in &self.secrets {
            out = replace_bytes(&out, secret.as_bytes(), REDACTED.as_bytes());
        }
        for secret in &self.byte_secrets {
            out = replace_bytes(&out, secret, REDACTED.as_bytes());
        }
        out
    }

    /// A header as it may be written down: credential headers keep no value.
    pub fn header(&self, name: &str, value: &str) -> String {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
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
                    format!("{}={REDACTED}{}", self.text(k), self.text(&attrs))
                }
                None => REDACTED.to_string(),
            },
            _ if is_credential_header(&lower) => REDACTED.to_string(),
            _ => self.text(value),
        }
    }

    /// Every string of a run's result, through this redactor: the one
    /// redaction point all results pass before leaving the runner.
    pub fn result(&self, r: &mut RunResult) {
        self.opt(&mut r.message);
        self.opt(&mut r.failed_step);
        for s in &mut r.steps {
            self.step(s);
        }
    }

    fn step(&self, s: &mut StepResult) {
        self.opt(&mut s.message);
        self.opt(&mut s.message_fr);
        self.opt(&mut s.request_url);
        self.opt(&mut s.url);
        for h in &mut s.chain {
            h.url = self.text(&h.url);
        }
        for c in &mut s.checks {
            c.description = self.text(&c.description);
            c.description_fr = self.text(&c.description_fr);
        }
        for x in &mut s.extracted {
            x.shown = if x.secret { REDACTED.to_string() } else { self.text(&x.shown) };
        }
        for (name, _) in &mut s.observations {
            *name = self.text(name);
        }
        if let Some(c) = &mut s.capture {
            self.capture(c);
        }
        if let Some(b) = &mut s.browser {
            self.browser(b);
        }
    }

    fn capture(&self, c: &mut PageCapture) {
        c.url = self.text(&c.url);
        c.headers = c.headers.iter().map(|(k, v)| (k.clone(), self.header(k, v))).collect();
        c.body = self.bytes(&c.body);
    }

    fn browser(&self, b: &mut BrowserFacts) {
        b.title = self.text(&b.title);
        for e in &mut b.console_errors {
            *e = self.text(e);
        }
        for f in &mut b.failed_requests {
            f.url = self.text(&f.url);
            self.opt(&mut f.error);
        }
    }

    fn opt(&self, s: &mut Option<String>) {
        if let Some(v) = s {
            *v = self.text(v);
        }
    }
}

/// Headers whose value is a credential whatever it looks like: cookies,
/// authorization, and any `*-token`, `*-key`, `*-secret`, `*session*`.
pub fn is_credential_header(lower: &str) -> bool {
    lower.contains("cookie")
        || lower.contains("auth")
        || lower.contains("token")
        || lower.contains("secret")
        || lower.contains("password")
        || lower.contains("session")
        || lower.ends_with("-key")
        || lower.contains("api-key")
        || lower.contains("apikey")
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
        r.add("abcdefg"); // too short: ignored
        assert_eq!(
            r.text("pw=p@ss word! or p%40ss+word%21 or p%40ss%20word%21 abcdefg"),
            format!("pw={REDACTED} or {REDACTED} or {REDACTED} abcdefg")
        );
        assert_eq!(
            r.bytes(b"\xffp@ss word!\xfe"),
            [b"\xff".as_slice(), REDACTED.as_bytes(), b"\xfe"].concat()
        );
        assert_eq!(r.text("got \"p@ss wo…"), format!("got \"{REDACTED}…"));
        assert_eq!(r.text("ends p@s"), "ends p@s", "three characters are not a cut secret");
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
        for h in ["X-Auth-Token", "X-Api-Key", "X-Session-Id", "Refresh-Token"] {
            assert_eq!(r.header(h, "whatever"), REDACTED, "{h}");
        }
    }
}
