//! The encodings under which a secret can appear in what a server sends back
//! or in what vigie itself builds: URL encodings (form, strict, the URL
//! parser's own, upper- and lowercase `%xx`), base64 (standard and URL-safe,
//! at every alignment inside a longer encoded value), hexadecimal, JSON
//! escapes, HTML entities, and Latin-1 bytes.
//!
//! Each function returns text forms; [`byte_forms`] adds forms that are not
//! valid UTF-8 (a Latin-1 page or header).

use base64::Engine;

/// Every text form of `secret`, the plain one first, without duplicates.
pub fn text_forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    let mut push = |f: String| {
        if !f.is_empty() && !out.contains(&f) {
            out.push(f);
        }
    };
    let url_forms = [
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
        percent_all(secret.as_bytes()),
        url_parser_path(secret),
        url_parser_query(secret),
    ];
    for f in url_forms {
        push(lower_percent(&f));
        push(f);
    }
    if let Some(latin1) = latin1(secret) {
        let f = percent_all(&latin1);
        push(lower_percent(&f));
        push(f);
    }
    for f in base64_cores(secret.as_bytes()) {
        push(f);
    }
    push(hex::encode(secret.as_bytes()));
    push(hex::encode_upper(secret.as_bytes()));
    for f in json_forms(secret) {
        push(f);
    }
    for f in html_forms(secret) {
        push(f);
    }
    out
}

/// Forms that exist only as bytes (Latin-1 encoded text).
pub fn byte_forms(secret: &str) -> Vec<Vec<u8>> {
    latin1(secret).filter(|b| b.as_slice() != secret.as_bytes()).into_iter().collect()
}

/// `%xx` with lowercase hexadecimal digits.
fn lower_percent(s: &str) -> String {
    if !s.is_ascii() {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push('%');
            out.push((b[i + 1] as char).to_ascii_lowercase());
            out.push((b[i + 2] as char).to_ascii_lowercase());
            i += 3;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Strict percent-encoding: everything but unreserved characters.
fn percent_all(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The secret as the URL parser writes it in a path (a secret typed
/// directly into a URL template: `é` → `%C3%A9`, space → `%20`).
fn url_parser_path(secret: &str) -> String {
    let Ok(mut u) = url::Url::parse("http://h/") else {
        return String::new();
    };
    u.set_path(&format!("/{secret}"));
    u.path().trim_start_matches('/').to_string()
}

/// The secret as the URL parser writes it in a query string.
fn url_parser_query(secret: &str) -> String {
    let Ok(mut u) = url::Url::parse("http://h/") else {
        return String::new();
    };
    u.set_query(Some(secret));
    u.query().unwrap_or_default().to_string()
}

fn latin1(secret: &str) -> Option<Vec<u8>> {
    secret.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// The part of a base64 encoding that depends on the secret alone, for the
/// three positions a secret can start at inside a longer encoded value
/// (`user:password` in Basic authentication), in both alphabets.
fn base64_cores(bytes: &[u8]) -> Vec<String> {
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut out = Vec::new();
    for e in engines {
        out.push(e.encode(bytes));
        for skip in 0..3usize.min(bytes.len()) {
            let rest = &bytes[skip..];
            let whole = rest.len() / 3 * 3;
            if whole >= 3 {
                out.push(e.encode(&rest[..whole]));
            }
        }
    }
    out
}

/// JSON string escapes: serde's own, every non-ASCII character as `\uXXXX`
/// (upper- and lowercase), and `/` written `\/`.
fn json_forms(secret: &str) -> Vec<String> {
    let serde = serde_json::to_string(secret).unwrap_or_default();
    let serde = serde
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or_default()
        .to_string();
    let mut out = vec![serde.replace('/', "\\/"), serde];
    for upper in [false, true] {
        let mut s = String::new();
        for c in secret.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '/' => s.push_str("\\/"),
                c if c.is_ascii() && !c.is_ascii_control() => s.push(c),
                c => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        if upper {
                            s.push_str(&format!("\\u{unit:04X}"));
                        } else {
                            s.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
            }
        }
        out.push(s);
    }
    out
}

/// HTML escapes: the usual minimal ones, named entities of French letters,
/// and every non-alphanumeric character as a decimal or hexadecimal entity.
fn html_forms(secret: &str) -> Vec<String> {
    let minimal = crate::probe::text::escape_html(secret);
    let named: String = secret
        .chars()
        .map(|c| match named_entity(c) {
            Some(n) => format!("&{n};"),
            None => crate::probe::text::escape_html(&c.to_string()),
        })
        .collect();
    let numeric = |hex: bool, all: bool| -> String {
        secret
            .chars()
            .map(|c| {
                let encode = if all {
                    !c.is_ascii_alphanumeric()
                } else {
                    !c.is_ascii() || "&<>\"'".contains(c)
                };
                match (encode, hex) {
                    (false, _) => c.to_string(),
                    (true, false) => format!("&#{};", u32::from(c)),
                    (true, true) => format!("&#x{:x};", u32::from(c)),
                }
            })
            .collect()
    };
    let mut out = vec![minimal, named];
    for hex in [false, true] {
        for all in [false, true] {
            let f = numeric(hex, all);
            if hex {
                out.push(f.to_ascii_uppercase().replace("&#X", "&#x"));
            }
            out.push(f);
        }
    }
    out
}

fn named_entity(c: char) -> Option<&'static str> {
    Some(match c {
        'é' => "eacute",
        'è' => "egrave",
        'ê' => "ecirc",
        'ë' => "euml",
        'à' => "agrave",
        'â' => "acirc",
        'ç' => "ccedil",
        'î' => "icirc",
        'ï' => "iuml",
        'ô' => "ocirc",
        'ù' => "ugrave",
        'û' => "ucirc",
        'ü' => "uuml",
        'É' => "Eacute",
        '&' => "amp",
        '<' => "lt",
        '>' => "gt",
        '"' => "quot",
        '\'' => "apos",
        ' ' => "nbsp",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_cover_the_encodings_servers_use() {
        let s = "Pé ss/w\"d+1";
        let f = text_forms(s);
        for want in [
            "P%C3%A9+ss%2Fw%22d%2B1",
            "P%c3%a9%20ss%2fw%22d%2b1",
            "P\\u00e9 ss\\/w\\\"d+1",
            "P\\u00E9 ss\\/w\\\"d+1",
            "P&eacute;&nbsp;ss/w&quot;d+1",
            "P&#233; ss/w&#34;d+1",
            &hex::encode(s),
        ] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{s}"));
        assert!(
            f.iter().any(|x| basic.contains(x.as_str()) && x.len() >= 8),
            "no base64 core inside {basic}"
        );
        assert_eq!(byte_forms(s), vec![b"P\xe9 ss/w\"d+1".to_vec()]);
    }
}
