//! Compiling the parts of a probe that describe responses and requests:
//! steps, conditions (`expect`, `*_when`), extractions, observations and
//! templates, with every error pushed to the file's diagnostics.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;
use serde_saphyr::Spanned;

use super::raw::{OneOrMany, OrderedMap, RawExtract, RawMatch, RawObserve, RawPart, RawRequest, RawStep};
use super::Files;
use crate::diag::{Diagnostics, Pos};
use crate::probe::{
    Action, Body, BrokenWhen, Css, ExtractSource, Extraction, GeneratedKind, Json, JsonTemplate, Match, MultipartPart, Observation,
    ObserveKind, ObserveSource, PartContent, Reason, RequestPlan, Step,
};
use crate::template::Template;

/// Largest fixture or generated upload a probe may send.
const MAX_UPLOAD: u64 = 100 * 1024 * 1024;

/// Step defaults from the probe's `defaults:` section.
#[derive(Debug, Clone)]
pub struct StepDefaults {
    pub timeout: std::time::Duration,
    pub max_body: u64,
    pub follow_redirects: bool,
    pub headers: Vec<(String, Template)>,
}

/// Everything compiling one probe file needs: where to report, and what
/// template variables exist at this point of the probe.
pub struct FileCtx<'a> {
    pub file: PathBuf,
    pub src: &'a str,
    /// Where each line of `src` starts (see [`line_starts`]): finding a line is then
    /// constant-time, so checking a file stays linear in its size.
    pub line_starts: Vec<usize>,
    pub diags: &'a mut Diagnostics,
    pub files: &'a dyn Files,
    /// Variables known so far (target, config, probe vars, earlier extractions).
    pub scope: HashSet<String>,
    /// `env.NAME` references seen, with the position of the first one.
    pub env_refs: Vec<(String, Pos)>,
}

/// Byte offset of the start of each line of `src`.
pub fn line_starts(src: &str) -> Vec<usize> {
    std::iter::once(0).chain(src.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

pub fn pos<T>(s: &Spanned<T>) -> Pos {
    Pos::from_location(&s.referenced)
}

impl FileCtx<'_> {
    pub fn err(&mut self, at: Pos, msg: impl Into<String>) {
        self.diags.push(&self.file, at, msg);
    }

    /// Where character `offset` of the scalar starting at `at` is, when the
    /// scalar sits on one line (quoted or plain); the scalar start otherwise.
    fn pos_in_scalar(&self, at: Pos, offset: usize) -> Pos {
        let Some(&start_byte) = self.line_starts.get(at.line.saturating_sub(1) as usize) else {
            return at;
        };
        let line = self.src[start_byte..].lines().next().unwrap_or("");
        let start = at.column.saturating_sub(1) as usize;
        let first = line.chars().nth(start);
        match first {
            Some('"') | Some('\'') => at.shifted(offset + 1),
            Some('|') | Some('>') => at,
            Some(_) => at.shifted(offset),
            None => at,
        }
    }

    /// Parse a template and check that each variable it reads exists.
    pub fn template(&mut self, s: &Spanned<String>) -> Template {
        self.template_at(&s.value, pos(s))
    }

    pub fn template_at(&mut self, text: &str, at: Pos) -> Template {
        match Template::parse(text) {
            Ok(t) => {
                for (name, offset) in t.variables() {
                    let p = self.pos_in_scalar(at, offset);
                    if let Some(env) = name.strip_prefix("env.") {
                        self.env_refs.push((env.to_string(), p));
                    } else if !self.scope.contains(name) {
                        let mut known: Vec<&String> = self.scope.iter().collect();
                        known.sort();
                        let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                        self.err(
                            p,
                            format!(
                                "unknown template variable `{name}`: no earlier step extracts it and no target, config or probe variable defines it (known here: {})",
                                known.join(", ")
                            ),
                        );
                    }
                }
                t
            }
            Err(e) => {
                let p = self.pos_in_scalar(at, e.offset);
                self.err(p, format!("invalid template: {}", e.message));
                Template::literal(text)
            }
        }
    }

    pub fn regex(&mut self, s: &str, at: Pos) -> Option<Regex> {
        match Regex::new(s) {
            Ok(r) => Some(r),
            Err(e) => {
                let detail = e.to_string();
                let last = detail
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ");
                self.err(at, format!("invalid regex `{s}`: {last}"));
                None
            }
        }
    }

    pub fn css(&mut self, s: &str, at: Pos) -> Option<Css> {
        match scraper::Selector::parse(s) {
            Ok(sel) => Some(Css {
                source: s.to_string(),
                selector: sel,
            }),
            Err(e) => {
                self.err(at, format!("invalid CSS selector `{s}`: {}", describe_css_error(&e)));
                None
            }
        }
    }

    pub fn json_path(&mut self, s: &str, at: Pos) -> Option<Json> {
        match serde_json_path::JsonPath::parse(s) {
            Ok(p) => Some(Json {
                source: s.to_string(),
                path: p,
            }),
            Err(e) => {
                self.err(
                    at,
                    format!("invalid JSON path `{s}`: {e} (JSON paths start with `$`, such as $.statut or $.demandes[0].statut; a name with `-` is written $.headers['content-type'])"),
                );
                None
            }
        }
    }
}

/// scraper's messages for most selector errors are "Unexpected error occurred.
/// Please report this to the developer" followed by a variant name; turn the
/// variant name into words instead.
fn describe_css_error(e: &scraper::error::SelectorErrorKind) -> String {
    use scraper::error::SelectorErrorKind as K;
    let words = |name: &str| {
        let name = name.split('(').next().unwrap_or(name);
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    };
    match e {
        K::UnexpectedSelectorParseError(kind) => words(&format!("{kind:?}")),
        K::UnexpectedToken => "unexpected character or token".into(),
        K::EndOfLine => "the selector ends too early".into(),
        other => words(&format!("{other:?}")),
    }
}

fn many(v: &Option<Spanned<OneOrMany<String>>>) -> Vec<(String, Pos)> {
    match v {
        Some(s) => s.value.0.iter().map(|x| (x.clone(), pos(s))).collect(),
        None => vec![],
    }
}

/// Compile a condition set. `reason` is accepted only where `allow_reason`.
pub fn compile_match(ctx: &mut FileCtx, m: &Spanned<RawMatch>, allow_reason: bool) -> (Match, Option<Reason>) {
    let raw = &m.value;
    let mut out = Match {
        status: raw.status.as_ref().map(|s| s.value.0.as_slice().into()),
        ..Match::default()
    };
    out.body_contains = many(&raw.body_contains).into_iter().map(|(s, _)| s).collect();
    out.body_not_contains = many(&raw.body_not_contains).into_iter().map(|(s, _)| s).collect();
    out.body_matches = many(&raw.body_matches).into_iter().filter_map(|(s, p)| ctx.regex(&s, p)).collect();
    out.css_present = many(&raw.css_present).into_iter().filter_map(|(s, p)| ctx.css(&s, p)).collect();
    out.css_absent = many(&raw.css_absent).into_iter().filter_map(|(s, p)| ctx.css(&s, p)).collect();
    out.json_exists = many(&raw.json_exists)
        .into_iter()
        .filter_map(|(s, p)| ctx.json_path(&s, p))
        .collect();
    for (k, v) in &raw.json.0 {
        if let Some(path) = ctx.json_path(&k.value, pos(k)) {
            out.json.push((path, v.value.clone()));
        }
    }
    for (k, v) in &raw.headers.0 {
        match reqwest::header::HeaderName::from_bytes(k.value.as_bytes()) {
            Ok(name) => out.headers.push((name.as_str().to_string(), v.value.clone())),
            Err(_) => ctx.err(pos(k), format!("invalid header name `{}`", k.value)),
        }
    }
    out.max_duration = raw.max_duration.as_ref().map(|d| d.value.0);
    out.text_contains = many(&raw.text_contains).into_iter().map(|(s, _)| s).collect();
    out.text_not_contains = many(&raw.text_not_contains).into_iter().map(|(s, _)| s).collect();
    out.url_contains = many(&raw.url_contains).into_iter().map(|(s, _)| s).collect();
    out.title_contains = many(&raw.title_contains).into_iter().map(|(s, _)| s).collect();
    let mut reason = None;
    match (&raw.reason, allow_reason) {
        (Some(r), true) => match Reason::parse(&r.value).filter(|r| BROKEN_REASONS.contains(r)) {
            Some(x) => reason = Some(x),
            None => ctx.err(
                pos(r),
                format!(
                    "invalid reason `{}`: expected one of {}",
                    r.value,
                    BROKEN_REASONS.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
        },
        (Some(r), false) => ctx.err(pos(r), "`reason` is only allowed in `broken_when` entries"),
        (None, true) => ctx.err(
            pos(m),
            format!(
                "this `broken_when` entry needs a `reason` (one of {})",
                BROKEN_REASONS.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ),
        (None, false) => {}
    }
    let raw_empty = raw.status.is_none()
        && raw.body_contains.is_none()
        && raw.body_not_contains.is_none()
        && raw.body_matches.is_none()
        && raw.css_present.is_none()
        && raw.css_absent.is_none()
        && raw.json.0.is_empty()
        && raw.json_exists.is_none()
        && raw.headers.0.is_empty()
        && raw.max_duration.is_none()
        && raw.text_contains.is_none()
        && raw.text_not_contains.is_none()
        && raw.url_contains.is_none()
        && raw.title_contains.is_none();
    if raw_empty {
        ctx.err(pos(m), "empty condition: expected at least one of status, body_contains, body_not_contains, body_matches, css_present, css_absent, json, json_exists, headers, max_duration, text_contains, text_not_contains, url_contains, title_contains");
    }
    (out, reason)
}

/// Reasons a `broken_when` entry may give.
pub const BROKEN_REASONS: [Reason; 4] = [Reason::ErrorPage, Reason::UploadRejected, Reason::Rejected, Reason::Assertion];

pub fn compile_broken_when(ctx: &mut FileCtx, list: &[Spanned<RawMatch>]) -> Vec<BrokenWhen> {
    list.iter()
        .filter_map(|m| {
            let (when, reason) = compile_match(ctx, m, true);
            reason.map(|reason| BrokenWhen { when, reason })
        })
        .collect()
}

fn pairs(ctx: &mut FileCtx, map: &OrderedMap<Spanned<String>>) -> Vec<(String, Template)> {
    map.0.iter().map(|(k, v)| (k.value.clone(), ctx.template(v))).collect()
}

fn compile_request(ctx: &mut FileCtx, r: &RawRequest, defaults: &StepDefaults, step_pos: Pos) -> RequestPlan {
    let method = match &r.method {
        Some(m) => match reqwest::Method::from_bytes(m.value.to_ascii_uppercase().as_bytes()) {
            Ok(x) => x,
            Err(_) => {
                ctx.err(pos(m), format!("invalid HTTP method `{}`", m.value));
                reqwest::Method::GET
            }
        },
        None => reqwest::Method::GET,
    };
    let url = ctx.template(&r.url);
    if !(r.url.value.contains("{{") || r.url.value.starts_with("http://") || r.url.value.starts_with("https://")) {
        ctx.err(
            pos(&r.url),
            format!(
                "invalid URL `{}`: expected http:// or https://, usually \"{{{{ base_url }}}}/path\"",
                r.url.value
            ),
        );
    }
    let mut headers = defaults.headers.clone();
    for (k, v) in &r.headers.0 {
        if reqwest::header::HeaderName::from_bytes(k.value.as_bytes()).is_err() {
            ctx.err(pos(k), format!("invalid header name `{}`", k.value));
        }
        let t = ctx.template(v);
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&k.value));
        headers.push((k.value.clone(), t));
    }
    let query = pairs(ctx, &r.query);
    let kinds = [r.form.is_some(), r.json.is_some(), r.multipart.is_some(), r.body.is_some()];
    if kinds.iter().filter(|x| **x).count() > 1 {
        ctx.err(
            step_pos,
            "a request has at most one body: choose one of form, json, multipart, body",
        );
    }
    let body = if let Some(form) = &r.form {
        Body::Form(pairs(ctx, form))
    } else if let Some(json) = &r.json {
        let at = pos(json);
        Body::Json(json_template(ctx, &json.value, at))
    } else if let Some(parts) = &r.multipart {
        Body::Multipart(parts.iter().filter_map(|p| compile_part(ctx, p)).collect())
    } else if let Some(b) = &r.body {
        Body::Raw {
            text: ctx.template(b),
            content_type: r.content_type.as_ref().map(|c| c.value.clone()),
        }
    } else {
        Body::None
    };
    if r.content_type.is_some() && r.body.is_none() {
        if let Some(c) = &r.content_type {
            ctx.err(pos(c), "`content_type` goes with `body`; form, json and multipart set their own");
        }
    }
    let timeout = r.timeout.as_ref().map(|t| t.value.0).unwrap_or(defaults.timeout);
    if let Some(t) = r.timeout.as_ref().filter(|t| t.value.0.is_zero()) {
        ctx.err(
            pos(t),
            "a timeout of 0 would fail every run at once: expected a duration such as 10s",
        );
    }
    RequestPlan {
        method,
        url,
        headers,
        query,
        body,
        follow_redirects: r.follow_redirects.unwrap_or(defaults.follow_redirects),
        max_redirects: r.max_redirects.as_ref().map(|m| m.value).unwrap_or(10),
        max_body: r.max_body.as_ref().map(|m| m.value.0).unwrap_or(defaults.max_body),
        timeout,
    }
}

fn json_template(ctx: &mut FileCtx, v: &serde_json::Value, at: Pos) -> JsonTemplate {
    match v {
        serde_json::Value::String(s) if s.contains("{{") => JsonTemplate::String(ctx.template_at(s, at)),
        serde_json::Value::Array(a) => JsonTemplate::Array(a.iter().map(|x| json_template(ctx, x, at)).collect()),
        serde_json::Value::Object(o) => JsonTemplate::Object(o.iter().map(|(k, x)| (k.clone(), json_template(ctx, x, at))).collect()),
        other => JsonTemplate::Literal(other.clone()),
    }
}

pub(super) fn compile_part(ctx: &mut FileCtx, p: &Spanned<RawPart>) -> Option<MultipartPart> {
    let raw = &p.value;
    let given = [raw.value.is_some(), raw.file.is_some(), raw.generate.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        ctx.err(
            pos(p),
            format!("multipart part `{}` needs exactly one of value, file, generate", raw.name.value),
        );
        return None;
    }
    let content = if let Some(v) = &raw.value {
        PartContent::Text(ctx.template(v))
    } else if let Some(f) = &raw.file {
        let path = super::relative_to(&ctx.file, &f.value);
        match ctx.files.read(&path) {
            Ok(bytes) if bytes.len() as u64 <= MAX_UPLOAD => PartContent::File {
                path,
                bytes: Arc::new(bytes),
            },
            Ok(_) => {
                ctx.err(pos(f), format!("fixture `{}` is larger than 100 MiB", f.value));
                return None;
            }
            Err(e) => {
                ctx.err(
                    pos(f),
                    format!(
                        "cannot read fixture `{}` (paths are relative to this probe file's folder): {e}",
                        f.value
                    ),
                );
                return None;
            }
        }
    } else {
        let g = raw.generate.as_ref()?;
        let kind = match &g.value.kind {
            Some(k) => match GeneratedKind::parse(&k.value) {
                Some(x) => x,
                None => {
                    ctx.err(
                        pos(k),
                        format!("invalid kind `{}`: expected one of pdf, png, jpeg, text, random", k.value),
                    );
                    return None;
                }
            },
            None => GeneratedKind::Pdf,
        };
        let size = g.value.size.value.0;
        if size > MAX_UPLOAD {
            ctx.err(pos(&g.value.size), "generated uploads are limited to 100 MiB");
            return None;
        }
        PartContent::Generated { size, kind }
    };
    let (default_name, default_type) = match &content {
        PartContent::Generated { kind, .. } => (
            Some(kind.default_filename().to_string()),
            Some(kind.default_content_type().to_string()),
        ),
        PartContent::File { path, .. } => (
            path.file_name().map(|n| n.to_string_lossy().into_owned()),
            Some(guess_content_type(path).to_string()),
        ),
        PartContent::Text(_) => (None, None),
    };
    Some(MultipartPart {
        name: raw.name.value.clone(),
        content,
        filename: raw.filename.as_ref().map(|f| f.value.clone()).or(default_name),
        content_type: raw.content_type.as_ref().map(|c| c.value.clone()).or(default_type),
    })
}

fn guess_content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

fn regex_group(ctx: &mut FileCtx, re: &Regex, group: &Option<Spanned<u32>>, at: Pos) -> usize {
    let groups = re.captures_len() - 1;
    match group {
        Some(g) if g.value as usize > groups => {
            ctx.err(
                pos(g),
                format!("group {} does not exist: the regex has {groups} capture group(s)", g.value),
            );
            0
        }
        Some(g) => g.value as usize,
        None if groups >= 1 => 1,
        None => {
            let _ = at;
            0
        }
    }
}

/// Names that look like secrets are redacted even when not marked `secret`.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["token", "csrf", "pass", "secret", "session", "auth", "key", "cookie", "sid"]
        .iter()
        .any(|w| n.contains(w))
}

fn compile_extract(ctx: &mut FileCtx, name: &Spanned<String>, e: &Spanned<RawExtract>) -> Option<Extraction> {
    let r = &e.value;
    let at = pos(e);
    let sources = [
        r.css.is_some(),
        r.regex.is_some(),
        r.header.is_some(),
        r.cookie.is_some(),
        r.json.is_some(),
        r.status == Some(true),
        r.url == Some(true),
    ];
    if sources.iter().filter(|x| **x).count() != 1 {
        ctx.err(
            at,
            format!(
                "extraction `{}` needs exactly one source: css, regex, header, cookie, json, status: true or url: true",
                name.value
            ),
        );
        return None;
    }
    if let (Some(a), None) = (&r.attr, &r.css) {
        ctx.err(pos(a), "`attr` goes with `css`");
    }
    if let (Some(g), None) = (&r.group, &r.regex) {
        ctx.err(pos(g), "`group` goes with `regex`");
    }
    let source = if let Some(c) = &r.css {
        ExtractSource::Css {
            css: ctx.css(&c.value, pos(c))?,
            attr: r.attr.as_ref().map(|a| a.value.clone()),
        }
    } else if let Some(re) = &r.regex {
        let regex = ctx.regex(&re.value, pos(re))?;
        let group = regex_group(ctx, &regex, &r.group, pos(re));
        ExtractSource::Regex { regex, group }
    } else if let Some(h) = &r.header {
        ExtractSource::Header(h.value.to_ascii_lowercase())
    } else if let Some(c) = &r.cookie {
        ExtractSource::Cookie(c.value.clone())
    } else if let Some(j) = &r.json {
        ExtractSource::Json(ctx.json_path(&j.value, pos(j))?)
    } else if r.status == Some(true) {
        ExtractSource::Status
    } else {
        ExtractSource::Url
    };
    let secret = r.secret.unwrap_or(false) || matches!(source, ExtractSource::Cookie(_)) || looks_secret(&name.value);
    Some(Extraction {
        name: name.value.clone(),
        source,
        secret,
    })
}

fn compile_observe(ctx: &mut FileCtx, name: &Spanned<String>, o: &Spanned<RawObserve>) -> Option<Observation> {
    let r = &o.value;
    let at = pos(o);
    let given = [
        r.css_count.is_some(),
        r.css.is_some(),
        r.regex.is_some(),
        r.regex_count.is_some(),
        r.json.is_some(),
    ];
    if given.iter().filter(|x| **x).count() != 1 {
        ctx.err(
            at,
            format!(
                "observation `{}` needs exactly one source: css_count, css, regex, regex_count or json",
                name.value
            ),
        );
        return None;
    }
    if !valid_name(&name.value) {
        ctx.err(
            pos(name),
            format!(
                "invalid observation name `{}`: use lowercase letters, digits and `_` (it becomes a metric label)",
                name.value
            ),
        );
    }
    let kind = match &r.as_kind {
        None => ObserveKind::Number,
        Some(k) => match k.value.as_str() {
            "number" => ObserveKind::Number,
            "timestamp" | "date" | "datetime" => ObserveKind::Timestamp,
            other => {
                ctx.err(pos(k), format!("invalid `as: {other}`: expected number or timestamp"));
                ObserveKind::Number
            }
        },
    };
    let source = if let Some(c) = &r.css_count {
        ObserveSource::CssCount(ctx.css(&c.value, pos(c))?)
    } else if let Some(c) = &r.css {
        ObserveSource::Css {
            css: ctx.css(&c.value, pos(c))?,
            attr: r.attr.as_ref().map(|a| a.value.clone()),
        }
    } else if let Some(re) = &r.regex {
        let regex = ctx.regex(&re.value, pos(re))?;
        let group = regex_group(ctx, &regex, &r.group, pos(re));
        ObserveSource::Regex { regex, group }
    } else if let Some(re) = &r.regex_count {
        ObserveSource::RegexCount(ctx.regex(&re.value, pos(re))?)
    } else {
        let j = r.json.as_ref()?;
        ObserveSource::Json(ctx.json_path(&j.value, pos(j))?)
    };
    Some(Observation {
        name: name.value.clone(),
        source,
        kind,
    })
}

/// Names that become metric label values or template variables.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && s.len() <= 64
}

/// Compile one step; adds its extractions to the scope for the next steps.
/// `browser`: the probe is a browser probe (its steps act on a page).
pub fn compile_step(ctx: &mut FileCtx, raw: &RawStep, at: Pos, defaults: &StepDefaults, seen: &mut HashSet<String>, browser: bool) -> Step {
    let name = raw.name.value.clone();
    if !valid_name(&name) {
        ctx.err(
            pos(&raw.name),
            format!("invalid step name `{name}`: use lowercase letters, digits, `-` and `_` (it becomes a metric label)"),
        );
    }
    if !seen.insert(name.clone()) {
        ctx.err(
            pos(&raw.name),
            format!("duplicate step name `{name}`: step names must be unique within a probe"),
        );
    }
    let action = if browser {
        Action::Browser(super::browser_step::compile(ctx, raw, at, defaults.timeout))
    } else {
        super::browser_step::refuse_browser_keys(ctx, raw);
        match &raw.request {
            Some(r) => Action::Request(compile_request(ctx, &r.value, defaults, at)),
            None => {
                ctx.err(
                    at,
                    format!(
                        "step `{}` has no `request:` (an HTTP step sends one request; for goto, click, fill… set `kind: browser` on the probe)",
                        raw.name.value
                    ),
                );
                Action::Request(placeholder_request(defaults))
            }
        }
    };
    let expect = raw.expect.as_ref().map(|m| compile_match(ctx, m, false).0).unwrap_or_default();
    let no_capacity_when = raw.no_capacity_when.as_ref().map(|m| Box::new(compile_match(ctx, m, false).0));
    let captcha_when = raw.captcha_when.as_ref().map(|m| Box::new(compile_match(ctx, m, false).0));
    let broken_when = compile_broken_when(ctx, &raw.broken_when);
    let observe: Vec<Observation> = raw.observe.0.iter().filter_map(|(n, o)| compile_observe(ctx, n, o)).collect();
    let mut extract = Vec::new();
    for (n, e) in &raw.extract.0 {
        if !n.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            ctx.err(pos(n), format!("invalid variable name `{}`: use letters, digits and `_`", n.value));
        }
        if let Some(x) = compile_extract(ctx, n, e) {
            extract.push(x);
        }
    }
    // Extracted values exist for the *following* steps only.
    for x in &extract {
        ctx.scope.insert(x.name.clone());
    }
    Step {
        name,
        action,
        expect,
        extract: extract.into(),
        observe: observe.into(),
        no_capacity_when,
        captcha_when,
        broken_when: broken_when.into(),
    }
}

/// Stands in for a missing `request:` (already reported) so compiling can
/// go on and report every other error of the step.
fn placeholder_request(defaults: &StepDefaults) -> RequestPlan {
    RequestPlan {
        method: reqwest::Method::GET,
        url: Template::literal(""),
        headers: vec![],
        query: vec![],
        body: Body::None,
        follow_redirects: false,
        max_redirects: 0,
        max_body: defaults.max_body,
        timeout: defaults.timeout,
    }
}
