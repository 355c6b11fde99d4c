//! Templates in probe files: `{{ name }}`, `{{ env.NAME }}` and helper calls
//! such as `{{ uuid() }}` or `{{ random_int(1000, 9999) }}`.
//!
//! Deliberately tiny: no loops, no conditions. A template is parsed once when
//! the configuration loads, so every variable it names can be checked against
//! what the target, the probe and earlier steps define ("never at 3 a.m.").
//! Rendering marks its output secret when any variable it used was secret, so
//! the runner can redact it from traces and evidence.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Var { name: String, offset: usize },
    Call(Helper),
}

/// Built-in functions. Each call gives a fresh value, so a value used twice in
/// a run (an e-mail typed twice) belongs in the probe's `vars`, which render
/// once at the start of each run.
#[derive(Debug, Clone, PartialEq)]
pub enum Helper {
    /// A random UUID v4.
    Uuid,
    /// `vigie-test-<random>@<domain>`: an address that identifies itself as a test.
    RandomEmail(String),
    /// Current time as Unix seconds.
    NowUnix,
    /// Current time, RFC 3339 in UTC.
    NowRfc3339,
    /// Today's date (YYYY-MM-DD) in Europe/Paris.
    Today,
    /// A random integer in an inclusive range.
    RandomInt(i64, i64),
}

pub const HELPERS: &[&str] = &[
    "uuid()",
    "random_email()",
    "random_email(\"domain\")",
    "now_unix()",
    "now_rfc3339()",
    "today()",
    "random_int(min, max)",
];

/// A problem found while parsing a template; `offset` is in characters from
/// the start of the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

/// A value available to templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub secret: bool,
}

impl Value {
    pub fn public(text: impl Into<String>) -> Value {
        Value {
            text: text.into(),
            secret: false,
        }
    }
    pub fn secret(text: impl Into<String>) -> Value {
        Value {
            text: text.into(),
            secret: true,
        }
    }
}

/// The result of rendering: the text and whether it carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub secret: bool,
}

/// Rendering failed because a variable had no value at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template variable `{0}` has no value in this run")]
pub struct MissingVariable(pub String);

impl Template {
    /// A template that is only literal text.
    pub fn literal(text: impl Into<String>) -> Template {
        Template {
            parts: vec![Part::Lit(text.into())],
        }
    }

    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let chars: Vec<char> = src.chars().collect();
        let mut lit = String::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '{' && chars.get(i + 1) == Some(&'{') {
                let open = i;
                let close = (i + 2..chars.len().saturating_sub(1)).find(|&j| chars[j] == '}' && chars[j + 1] == '}');
                let Some(close) = close else {
                    return Err(TemplateError {
                        offset: open,
                        message: "`{{` is never closed by `}}`".into(),
                    });
                };
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                let inner: String = chars[open + 2..close].iter().collect();
                let lead = inner.len() - inner.trim_start().len();
                parts.push(parse_expr(inner.trim(), open + 2 + lead)?);
                i = close + 2;
            } else {
                lit.push(chars[i]);
                i += 1;
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        // Kept for the life of the configuration: no room to spare (5,000
        // templates at 1,000 probes, issue 14).
        parts.shrink_to_fit();
        for part in &mut parts {
            if let Part::Lit(text) = part {
                text.shrink_to_fit();
            }
        }
        Ok(Template { parts })
    }

    /// Variables this template reads, with their offsets in the template text.
    pub fn variables(&self) -> impl Iterator<Item = (&str, usize)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, offset } => Some((name.as_str(), *offset)),
            _ => None,
        })
    }

    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    pub fn render(&self, vars: &HashMap<String, Value>, now: DateTime<Utc>) -> Result<Rendered, MissingVariable> {
        let mut text = String::new();
        let mut secret = false;
        for part in &self.parts {
            match part {
                Part::Lit(s) => text.push_str(s),
                Part::Var { name, .. } => {
                    let v = vars.get(name).ok_or_else(|| MissingVariable(name.clone()))?;
                    secret |= v.secret;
                    text.push_str(&v.text);
                }
                Part::Call(h) => text.push_str(&h.call(now)),
            }
        }
        Ok(Rendered { text, secret })
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Lit(s) => f.write_str(s)?,
                Part::Var { name, .. } => write!(f, "{{{{ {name} }}}}")?,
                Part::Call(h) => write!(f, "{{{{ {h:?} }}}}")?,
            }
        }
        Ok(())
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_expr(expr: &str, offset: usize) -> Result<Part, TemplateError> {
    let err = |message: String| TemplateError { offset, message };
    if expr.is_empty() {
        return Err(err("empty `{{ }}`: expected a variable name or a helper such as uuid()".into()));
    }
    if let Some(open) = expr.find('(') {
        let name = expr[..open].trim();
        let Some(args_src) = expr[open + 1..].strip_suffix(')') else {
            return Err(err(format!("helper call `{expr}` is missing its closing `)`")));
        };
        let args = parse_args(args_src).map_err(err)?;
        let helper = match (name, args.as_slice()) {
            ("uuid", []) => Helper::Uuid,
            ("random_email", []) => Helper::RandomEmail("example.org".into()),
            ("random_email", [Arg::Str(d)]) => Helper::RandomEmail(d.clone()),
            ("now_unix", []) => Helper::NowUnix,
            ("now_rfc3339", []) => Helper::NowRfc3339,
            ("today", []) => Helper::Today,
            ("random_int", [Arg::Int(a), Arg::Int(b)]) if a <= b => Helper::RandomInt(*a, *b),
            _ => {
                return Err(err(format!(
                    "unknown helper or wrong arguments `{expr}`: expected one of {}",
                    HELPERS.join(", ")
                )))
            }
        };
        return Ok(Part::Call(helper));
    }
    if expr.contains('|') {
        return Err(err(format!("filters are not supported in `{expr}`: expected a variable name")));
    }
    let valid = expr.split('.').all(is_ident) && expr.split('.').count() <= 2;
    if !valid {
        return Err(err(format!(
            "`{expr}` is not a variable name: expected letters, digits, `_` or `-`, or `env.NAME`"
        )));
    }
    Ok(Part::Var {
        name: expr.to_string(),
        offset,
    })
}

#[derive(Debug, PartialEq)]
enum Arg {
    Int(i64),
    Str(String),
}

fn parse_args(src: &str) -> Result<Vec<Arg>, String> {
    let src = src.trim();
    if src.is_empty() {
        return Ok(vec![]);
    }
    src.split(',')
        .map(|a| {
            let a = a.trim();
            if let Ok(n) = a.parse::<i64>() {
                Ok(Arg::Int(n))
            } else if a.len() >= 2 && ((a.starts_with('"') && a.ends_with('"')) || (a.starts_with('\'') && a.ends_with('\''))) {
                Ok(Arg::Str(a[1..a.len() - 1].to_string()))
            } else {
                Err(format!("helper argument `{a}` must be an integer or a quoted string"))
            }
        })
        .collect()
}

impl Helper {
    fn call(&self, now: DateTime<Utc>) -> String {
        match self {
            Helper::Uuid => uuid::Uuid::new_v4().to_string(),
            Helper::RandomEmail(domain) => {
                let tag: u64 = rand::rng().random_range(0..1_000_000_000_000);
                format!("vigie-test-{tag:012}@{domain}")
            }
            Helper::NowUnix => now.timestamp().to_string(),
            Helper::NowRfc3339 => now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Helper::Today => now.with_timezone(&chrono_tz::Europe::Paris).format("%Y-%m-%d").to_string(),
            Helper::RandomInt(a, b) => rand::rng().random_range(*a..=*b).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, Value> {
        let mut m = HashMap::new();
        m.insert("base_url".into(), Value::public("http://x"));
        m.insert("env.PASS".into(), Value::secret("hunter2"));
        m
    }

    #[test]
    fn renders_variables_and_marks_secrets() {
        let t = Template::parse("{{ base_url }}/login?p={{env.PASS}}").expect("parse");
        let r = t.render(&vars(), Utc::now()).expect("render");
        assert_eq!(r.text, "http://x/login?p=hunter2");
        assert!(r.secret);
        let names: Vec<_> = t.variables().collect();
        assert_eq!(names, vec![("base_url", 3), ("env.PASS", 25)]);
        let plain = Template::parse("{{ base_url }}/a")
            .expect("parse")
            .render(&vars(), Utc::now())
            .expect("render");
        assert!(!plain.secret);
    }

    #[test]
    fn helpers() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T23:30:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let t = Template::parse("{{ today() }} {{ now_unix() }} {{ random_int(5, 5) }}").expect("parse");
        // 23:30 UTC on 1 March is already 2 March in Paris.
        assert_eq!(t.render(&HashMap::new(), now).expect("render").text, "2026-03-02 1772407800 5");
        let e = Template::parse("{{ random_email('test.invalid') }}")
            .expect("parse")
            .render(&HashMap::new(), now)
            .expect("render");
        assert!(e.text.starts_with("vigie-test-") && e.text.ends_with("@test.invalid"), "{}", e.text);
        assert_eq!(
            uuid::Uuid::parse_str(
                &Template::parse("{{uuid()}}")
                    .expect("p")
                    .render(&HashMap::new(), now)
                    .expect("r")
                    .text
            )
            .map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn errors_point_inside_the_template() {
        let e = Template::parse("abc {{ base_url").expect_err("unclosed");
        assert_eq!(e.offset, 4);
        let e = Template::parse("x {{ uuid(3) }}").expect_err("args");
        assert_eq!(e.offset, 5);
        assert!(e.message.starts_with("unknown helper or wrong arguments `uuid(3)`"));
        let e = Template::parse("{{ a b }}").expect_err("space");
        assert!(e.message.contains("is not a variable name"));
        assert_eq!(
            Template::parse("{{ x }}").expect("p").render(&HashMap::new(), Utc::now()),
            Err(MissingVariable("x".into()))
        );
    }
}
