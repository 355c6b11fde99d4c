//! Compiled probes: the validated, ready-to-run form of a probe file.
//!
//! Everything here has already been checked by `config::compile`: cron
//! expressions parsed, regexes and CSS selectors and JSON paths compiled, every
//! template variable known to exist when its step runs. The runner never has
//! to report a configuration mistake.

pub mod browser;
pub mod result;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde_json_path::JsonPath;
use thin_vec::ThinVec;

use crate::template::Template;
pub use result::{Hop, Outcome, Reason, RunResult, StepResult, StepStatus};

/// Where probes go, and how politely.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub base_url: String,
    /// `host:port` of `base_url`: the key of its politeness budget.
    pub host_key: String,
    pub politeness: Politeness,
    pub vars: Vec<(String, String)>,
    /// Extra trusted certificate authorities (DER), from `ca_file`.
    pub ca_certs: Vec<Vec<u8>>,
}

/// A per-host request budget that no combination of probes may exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Politeness {
    /// Minimum time between the starts of two requests to the host.
    pub min_interval: Duration,
    /// Maximum requests in flight to the host at once.
    pub max_concurrent: usize,
}

impl Default for Politeness {
    fn default() -> Self {
        // Responsible probing: at most one request every few seconds per host.
        Politeness {
            min_interval: Duration::from_secs(5),
            max_concurrent: 1,
        }
    }
}

/// Metric labels of a probe: a closed set, so cardinality stays bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels {
    pub procedure: String,
    pub site: String,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub source: String,
    /// Shared by the probes of the same schedule line.
    pub cron: Arc<croner::Cron>,
    pub timezone: chrono_tz::Tz,
}

impl Schedule {
    /// The next `n` start times after `after`.
    pub fn next_times(&self, after: chrono::DateTime<chrono::Utc>, n: usize) -> Vec<chrono::DateTime<chrono::Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.cron.iter_after(local).take(n).map(|t| t.with_timezone(&chrono::Utc)).collect()
    }

    /// From `at` (a scheduled time) to the schedule's next time: the
    /// stretch a run scheduled at `at` observes.
    pub fn interval_after(&self, at: chrono::DateTime<chrono::Utc>) -> Option<chrono::Duration> {
        let next = self.next_times(at, 2).into_iter().find(|t| *t > at)?;
        Some(next - at)
    }
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub enabled: bool,
    pub target: Arc<Target>,
    pub labels: Labels,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub degraded_after: Option<Duration>,
    /// Probe variables, rendered in order at the start of each run.
    pub vars: Vec<(String, Template)>,
    /// Environment values the probe's templates read (`env.NAME`), always secret.
    pub env: Vec<(String, String)>,
    /// Every secret of the configuration (all probes' `env.*` values): a
    /// hostile portal may echo another probe's password, so each run's
    /// redactor knows them all.
    pub config_secrets: Arc<Vec<String>>,
    /// Conditions checked on every step's response.
    pub broken_when: Vec<BrokenWhen>,
    /// Conditions that mark a response as a bot-protection page (besides the built-in
    /// recognition of the known vendors' pages): the run is then not observed, reason `blocked`.
    pub blocked_when: Vec<Match>,
    pub kind: ProbeKind,
    pub steps: Vec<Step>,
}

/// Which driver runs the probe: plain HTTP requests, or a real browser.
#[derive(Debug, Clone)]
pub enum ProbeKind {
    Http,
    Browser(browser::BrowserProbe),
}

impl Probe {
    pub fn is_browser(&self) -> bool {
        matches!(self.kind, ProbeKind::Browser(_))
    }
}

/// What a step does: one HTTP exchange, or one action on the browser's page.
#[derive(Debug, Clone)]
pub enum Action {
    Request(RequestPlan),
    Browser(browser::BrowserStep),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub expect: Match,
    pub extract: ThinVec<Extraction>,
    pub observe: ThinVec<Observation>,
    /// Boxed: rarely set, and a `Match` is 328 bytes (a step 1.3 KB
    /// without the boxes; memory at 1,000 probes, issue 14).
    pub no_capacity_when: Option<Box<Match>>,
    pub captcha_when: Option<Box<Match>>,
    pub broken_when: ThinVec<BrokenWhen>,
}

#[derive(Debug, Clone)]
pub struct RequestPlan {
    pub method: reqwest::Method,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub query: Vec<(String, Template)>,
    pub body: Body,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub max_body: u64,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum Body {
    None,
    Form(Vec<(String, Template)>),
    Json(JsonTemplate),
    Multipart(Vec<MultipartPart>),
    Raw { text: Template, content_type: Option<String> },
}

/// A JSON document whose strings are templates.
#[derive(Debug, Clone)]
pub enum JsonTemplate {
    Literal(serde_json::Value),
    String(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

#[derive(Debug, Clone)]
pub struct MultipartPart {
    pub name: String,
    pub content: PartContent,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone)]
pub enum PartContent {
    Text(Template),
    /// A fixture file, read once when the configuration loads.
    File {
        path: PathBuf,
        bytes: Arc<Vec<u8>>,
    },
    /// Generated bytes of a given size, starting with the magic bytes of `kind`.
    Generated {
        size: u64,
        kind: GeneratedKind,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratedKind {
    Pdf,
    Png,
    Jpeg,
    Text,
    Random,
}

impl GeneratedKind {
    pub fn parse(s: &str) -> Option<GeneratedKind> {
        Some(match s {
            "pdf" => GeneratedKind::Pdf,
            "png" => GeneratedKind::Png,
            "jpeg" | "jpg" => GeneratedKind::Jpeg,
            "text" => GeneratedKind::Text,
            "random" => GeneratedKind::Random,
            _ => return None,
        })
    }

    pub fn default_content_type(self) -> &'static str {
        match self {
            GeneratedKind::Pdf => "application/pdf",
            GeneratedKind::Png => "image/png",
            GeneratedKind::Jpeg => "image/jpeg",
            GeneratedKind::Text => "text/plain",
            GeneratedKind::Random => "application/octet-stream",
        }
    }

    pub fn default_filename(self) -> &'static str {
        match self {
            GeneratedKind::Pdf => "vigie-test.pdf",
            GeneratedKind::Png => "vigie-test.png",
            GeneratedKind::Jpeg => "vigie-test.jpg",
            GeneratedKind::Text => "vigie-test.txt",
            GeneratedKind::Random => "vigie-test.bin",
        }
    }

    /// Bytes of exactly `size` that a type sniffer recognises as `self`.
    pub fn generate(self, size: u64) -> Vec<u8> {
        let magic: &[u8] = match self {
            GeneratedKind::Pdf => b"%PDF-1.4\n% vigie synthetic test document\n",
            GeneratedKind::Png => b"\x89PNG\r\n\x1a\n",
            GeneratedKind::Jpeg => b"\xFF\xD8\xFF\xE0",
            GeneratedKind::Text => b"vigie synthetic test file\n",
            GeneratedKind::Random => b"",
        };
        let size = size as usize;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&magic[..magic.len().min(size)]);
        if self == GeneratedKind::Random {
            use rand::RngCore;
            out.resize(size, 0);
            rand::rng().fill_bytes(&mut out);
        } else {
            let filler = b"vigie test padding 0123456789\n";
            while out.len() < size {
                let n = (size - out.len()).min(filler.len());
                out.extend_from_slice(&filler[..n]);
            }
        }
        out
    }
}

/// A CSS selector with the text it was written as (for traces).
#[derive(Debug, Clone)]
pub struct Css {
    pub source: String,
    pub selector: scraper::Selector,
}

#[derive(Debug, Clone)]
pub struct Json {
    pub source: String,
    pub path: JsonPath,
}

/// Conditions on a response, all of which must hold. The lists are thin
/// (one pointer, no allocation when empty): a step's `expect` sets one or
/// two of them, and a `Match` of `Vec`s took 328 bytes (memory at 1,000
/// probes, issue 14). Used for `expect` (each
/// failing condition is a failed check) and for the `*_when` conditions (the
/// condition matches when all its parts hold).
#[derive(Debug, Clone, Default)]
pub struct Match {
    pub status: Option<ThinVec<u16>>,
    pub body_contains: ThinVec<String>,
    pub body_not_contains: ThinVec<String>,
    pub body_matches: ThinVec<Regex>,
    pub css_present: ThinVec<Css>,
    pub css_absent: ThinVec<Css>,
    pub json: ThinVec<(Json, serde_json::Value)>,
    pub json_exists: ThinVec<Json>,
    pub headers: ThinVec<(String, String)>,
    pub max_duration: Option<Duration>,
    /// Visible text (what a person reads: `innerText` in a browser, the
    /// page's text without markup for HTTP) contains / does not contain.
    pub text_contains: ThinVec<String>,
    pub text_not_contains: ThinVec<String>,
    /// The page's address (after redirects) contains.
    pub url_contains: ThinVec<String>,
    /// The page's `<title>` contains.
    pub title_contains: ThinVec<String>,
}

impl Match {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.body_contains.is_empty()
            && self.body_not_contains.is_empty()
            && self.body_matches.is_empty()
            && self.css_present.is_empty()
            && self.css_absent.is_empty()
            && self.json.is_empty()
            && self.json_exists.is_empty()
            && self.headers.is_empty()
            && self.max_duration.is_none()
            && self.text_contains.is_empty()
            && self.text_not_contains.is_empty()
            && self.url_contains.is_empty()
            && self.title_contains.is_empty()
    }

    /// Whether the match needs the body parsed as HTML.
    pub fn needs_html(&self) -> bool {
        !self.css_present.is_empty() || !self.css_absent.is_empty()
    }
}

/// A condition that makes the run `broken` with a given reason (e.g. the
/// « erreur technique » page served with status 200).
#[derive(Debug, Clone)]
pub struct BrokenWhen {
    pub when: Match,
    pub reason: Reason,
}

#[derive(Debug, Clone)]
pub struct Extraction {
    pub name: String,
    pub source: ExtractSource,
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub enum ExtractSource {
    Css { css: Css, attr: Option<String> },
    Regex { regex: Regex, group: usize },
    Header(String),
    Cookie(String),
    Json(Json),
    Status,
    Url,
}

#[derive(Debug, Clone)]
pub struct Observation {
    pub name: String,
    pub source: ObserveSource,
    pub kind: ObserveKind,
}

#[derive(Debug, Clone)]
pub enum ObserveSource {
    CssCount(Css),
    Css { css: Css, attr: Option<String> },
    Regex { regex: Regex, group: usize },
    RegexCount(Regex),
    Json(Json),
}

/// How an observed text becomes a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObserveKind {
    Number,
    /// A date or date-time, recorded as Unix seconds (Europe/Paris when no zone).
    Timestamp,
}
