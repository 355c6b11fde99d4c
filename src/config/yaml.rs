//! YAML reading with positions, on top of serde-saphyr.
//!
//! serde stops at the first error in a document. To report every broken step of
//! a probe at once, the loader first reads the document with each step kept as a
//! raw node, then re-reads each step on its own with [`reparse_node`]: the
//! step's lines are cut out of the source by indentation and padded back to
//! their original line and column, so positions in errors stay exact.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diag::{Diagnostic, Pos};

/// Deserialize a whole document, mapping an error to a positioned diagnostic.
pub fn parse<T: DeserializeOwned>(src: &str, file: &Path) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(src).map_err(|e| to_diagnostic(&e, file, Pos::UNKNOWN))
}

/// Deserialize the node that starts at `start` (a block or flow mapping inside
/// `src`), reporting positions relative to the whole file.
pub fn reparse_node<T: DeserializeOwned>(src: &str, file: &Path, start: Pos) -> Result<T, Diagnostic> {
    let text = cut_node(src, start);
    serde_saphyr::from_str::<T>(&text).map_err(|e| to_diagnostic(&e, file, start))
}

fn to_diagnostic(e: &serde_saphyr::Error, file: &Path, fallback: Pos) -> Diagnostic {
    let pos = e
        .location()
        .map(|l| Pos::from_location(&l))
        .filter(|p| p.line > 0)
        .unwrap_or(fallback);
    Diagnostic {
        file: file.to_path_buf(),
        pos,
        message: clean_message(&e.without_snippet().to_string()),
    }
}

/// serde-saphyr appends " at line N, column M" to its plain message; we print
/// positions ourselves in `file:line:column` form, so drop the suffix. Its
/// serde messages also name Rust types in places; make them read as YAML.
fn clean_message(msg: &str) -> String {
    let mut m = msg.trim().to_string();
    if let Some(i) = m.rfind(" at line ") {
        if m[i..].contains(", column ") {
            m.truncate(i);
        }
    }
    let m = plain_words(&m)
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("expected one of", "expected one of:");
    suggest(&m).map(|s| format!("{m}; did you mean `{s}`?")).unwrap_or(m)
}

/// The YAML library's own wording (its option names, Rust types, internal
/// limits) told in the words of a probe file.
fn plain_words(m: &str) -> String {
    if let Some(rest) = m.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest);
        return format!("duplicate key `{key}`: each key may appear only once here");
    }
    if m.starts_with("multiple YAML documents detected") {
        return "more than one YAML document (a `---` line): put each probe in a file of its own".into();
    }
    if m.contains("budget") && m.contains("breach") {
        return "this file is far larger than a probe (too many YAML nodes, often aliases that repeat each other): write it out plainly"
            .into();
    }
    if m.contains("recursion limit") {
        return "this file nests too deeply to be a probe: expected a few levels of keys and lists".into();
    }
    for (ty, what) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number, 0 or more"),
        ("usize", "a whole number, 0 or more"),
        ("i64", "a whole number"),
        ("f64", "a number"),
    ] {
        if m == format!("invalid {ty}") || m.ends_with(&format!("expected {ty}")) {
            return format!("expected {what}");
        }
    }
    m.to_string()
}

/// For "unknown key `x`, expected one of: a, b", the closest valid key when
/// it is close enough to be a typo.
fn suggest(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown key `")?;
    let (bad, rest) = rest.split_once('`')?;
    let list = rest.split_once("expected one of:")?.1;
    list.split(',')
        .map(|k| k.trim().trim_matches('`'))
        .map(|k| (edit_distance(bad, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Cut the lines of the node starting at `start` out of `src`, keeping line
/// numbers (leading newlines) and columns (leading spaces).
fn cut_node(src: &str, start: Pos) -> String {
    let line_idx = start.line.saturating_sub(1) as usize;
    let indent = start.column.saturating_sub(1) as usize;
    let mut out = String::with_capacity(src.len());
    for _ in 0..line_idx {
        out.push('\n');
    }
    for (i, line) in src.lines().skip(line_idx).enumerate() {
        if i == 0 {
            out.extend(std::iter::repeat_n(' ', indent));
            out.extend(line.chars().skip(indent));
            out.push('\n');
            continue;
        }
        let trimmed = line.trim_start();
        let this_indent = line.chars().count() - trimmed.chars().count();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push('\n');
            continue;
        }
        if this_indent < indent {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        #[serde(default)]
        size: u32,
    }

    #[derive(Debug, Deserialize)]
    struct Doc {
        items: Vec<serde_saphyr::Spanned<serde::de::IgnoredAny>>,
    }

    #[test]
    fn each_item_reports_its_own_error_at_its_own_position() {
        let src = "items:\n  - name: a\n    sise: 1\n  # a comment\n  - { name: b, size: x }\n  - name: c\n    size: 3\nrest: 1\n";
        let file = Path::new("p.yaml");
        let doc: Doc = parse(src, file).expect("outer parse");
        let results: Vec<Result<Item, Diagnostic>> = doc
            .items
            .iter()
            .map(|s| reparse_node(src, file, Pos::from_location(&s.referenced)))
            .collect();
        let e0 = results[0].as_ref().expect_err("typo");
        assert_eq!((e0.pos.line, e0.pos.column), (3, 5));
        assert!(e0.message.starts_with("unknown key `sise`"), "{}", e0.message);
        let e1 = results[1].as_ref().expect_err("bad type");
        assert_eq!(e1.pos.line, 5);
        let ok = results[2].as_ref().expect("valid item");
        assert_eq!((ok.name.as_str(), ok.size), ("c", 3));
    }
}
