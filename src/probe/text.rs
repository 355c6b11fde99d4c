//! Turning a response body into a short line of visible text (for e-mails,
//! traces and logs) and bounding strings that come from the network.

/// The visible text of an HTML page (or the start of any text), with scripts,
/// styles and tags removed and white space collapsed, cut at `max_chars`.
pub fn visible_text_excerpt(body: &str, max_chars: usize) -> String {
    let mut out = String::new();
    // Portal pages repeat a long header; what a visitor reads is in <main>.
    let mut rest = match body.find("<main") {
        Some(i) => &body[i..],
        None => body,
    };
    let mut last_space = true;
    let lower_tags = ["script", "style", "noscript"];
    // Collect a margin beyond max_chars: entities shrink when decoded.
    while !rest.is_empty() && out.len() < max_chars * 4 + 16 {
        if let Some(stripped) = rest.strip_prefix('<') {
            // Skip the contents of non-visible elements entirely.
            let tag: String = stripped
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if lower_tags.contains(&tag.as_str()) {
                let close = format!("</{tag}");
                let lower = rest.to_ascii_lowercase();
                rest = match lower.find(&close) {
                    Some(i) => &rest[i + close.len()..],
                    None => "",
                };
            }
            let closing: String = stripped
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            rest = match rest.find('>') {
                Some(i) => &rest[i + 1..],
                None => "",
            };
            // Between a heading and a paragraph (or list items, cells…), a
            // separator keeps sentences apart: « Erreur · Une erreur technique… ».
            let block = BLOCKS.contains(&closing.as_str());
            let ends_sentence = out.trim_end().chars().last().is_none_or(|c| ".!?:;»·…".contains(c));
            if block && !ends_sentence {
                out.truncate(out.trim_end().len());
                out.push_str(" · ");
                last_space = true;
            } else if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
    let out = decode_basic_entities(out.trim().trim_end_matches('·').trim_end());
    truncate_chars(&out, max_chars)
}

fn decode_basic_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&rsquo;", "’")
        .replace("&eacute;", "é")
        .replace("&egrave;", "è")
        .replace("&agrave;", "à")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Elements whose end separates sentences in an excerpt.
const BLOCKS: [&str; 17] = [
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "title", "div", "td", "th", "br", "label", "button", "header", "section",
];

/// Cut a string at `max` characters, adding `…` when something was cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` escaped for HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` safe for a terminal or a log line: control characters (CR, LF,
/// escape sequences, and the C1 controls) written as `\u{…}`, so a page
/// cannot forge log lines or drive the terminal.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A multi-line text for a terminal: controls escaped, line breaks kept.
pub fn escape_for_terminal(s: &str) -> String {
    s.split('\n').map(escape_controls).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_markup_scripts_and_space() {
        let html = "<html><head><title>T</title><script>var x = '<b>';</script><style>p{}</style></head>\n<body><p>Il n&#039;existe   plus\n de plage</p><p>horaire</p></body></html>";
        assert_eq!(visible_text_excerpt(html, 200), "T · Il n'existe plus de plage · horaire");
        assert_eq!(visible_text_excerpt(html, 10), "T · Il n'…");
        let page = "<main><h1>Service momentanément indisponible</h1>\n<p>Veuillez réessayer plus tard.</p><p>Merci.</p></main>";
        assert_eq!(
            visible_text_excerpt(page, 200),
            "Service momentanément indisponible · Veuillez réessayer plus tard. Merci."
        );
    }
}

#[cfg(test)]
mod control_tests {
    #[test]
    fn controls_are_escaped() {
        assert_eq!(super::escape_controls("a\r\nFAKE\x1b[31mb"), "a\\u{d}\\u{a}FAKE\\u{1b}[31mb");
        assert_eq!(super::escape_controls("é ok"), "é ok");
        assert_eq!(super::escape_for_terminal("a\x1b]0;x\x07\nb"), "a\\u{1b}]0;x\\u{7}\nb");
    }
}
