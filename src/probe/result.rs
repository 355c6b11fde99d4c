//! What a probe run produces: one [`RunResult`] with its outcome, its reason
//! and a [`StepResult`] per step. Metrics, the store, alerting and evidence all
//! read these values; nothing downstream writes back into them.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The single outcome of a run. Among the five observed outcomes, later is
/// worse; `Unobserved` stands apart (vigie could not observe: it says nothing
/// about the portal) and is placed last only so that `ALL` keeps its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step passed in time.
    Up,
    /// Every step passed, but the run was slower than the probe's threshold.
    Degraded,
    /// The system answered and worked, but offered nothing (no appointment slot).
    NoCapacity,
    /// The portal answered but the procedure failed (assertion, error page, rejected upload).
    Broken,
    /// The portal could not be reached (DNS, connect, TLS, timeout, HTTP 5xx).
    Down,
    /// vigie could not observe the portal: its own failure (no file
    /// descriptors, no memory, a browser missing or crashed, a panic) or a
    /// bot-protection page that refused the monitor. Never an outage, never
    /// counted for or against availability: time not observed.
    Unobserved,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Up,
        Outcome::Degraded,
        Outcome::NoCapacity,
        Outcome::Broken,
        Outcome::Down,
        Outcome::Unobserved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "degraded",
            Outcome::NoCapacity => "no_capacity",
            Outcome::Broken => "broken",
            Outcome::Down => "down",
            Outcome::Unobserved => "unobserved",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// `up` and `degraded`: the procedure could be completed.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Up | Outcome::Degraded)
    }

    /// Whether the run observed the portal at all (every outcome but
    /// `unobserved`): only observed runs count in availability and outages.
    pub fn is_observed(self) -> bool {
        self != Outcome::Unobserved
    }

    /// French label for people (reports, e-mails, status page).
    pub fn label_fr(self) -> &'static str {
        match self {
            Outcome::Up => "disponible",
            Outcome::Degraded => "lent",
            Outcome::NoCapacity => "aucun créneau",
            Outcome::Broken => "en échec",
            Outcome::Down => "inaccessible",
            Outcome::Unobserved => "non observé",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "slow",
            Outcome::NoCapacity => "no slot",
            Outcome::Broken => "broken",
            Outcome::Down => "down",
            Outcome::Unobserved => "not observed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a run was not `up`: a closed, bounded set (it is a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // -> down
    Dns,
    Connect,
    Tls,
    Timeout,
    ConnectionReset,
    /// The server answered, but not in HTTP: a garbage status line,
    /// oversized headers, a truncated body, a corrupt compressed stream.
    Protocol,
    Http5xx,
    // -> broken
    Status,
    Assertion,
    ErrorPage,
    UploadRejected,
    Rejected,
    Extraction,
    Duration,
    BodyTooLarge,
    TooManyRedirects,
    /// A redirect vigie refused to follow: a 307/308 that would resend the
    /// request body to another origin, or a hop to a loopback, private,
    /// link-local or metadata address the probe's target is not.
    UnsafeRedirect,
    Request,
    // -> degraded / no_capacity
    Slow,
    NoCapacity,
    // -> unobserved
    /// vigie's own failure: not the portal's.
    MonitorError,
    /// A bot-protection page refused the monitor: the service was not seen.
    Blocked,
}

impl Reason {
    pub const ALL: [Reason; 22] = [
        Reason::Dns,
        Reason::Connect,
        Reason::Tls,
        Reason::Timeout,
        Reason::ConnectionReset,
        Reason::Protocol,
        Reason::Http5xx,
        Reason::Status,
        Reason::Assertion,
        Reason::ErrorPage,
        Reason::UploadRejected,
        Reason::Rejected,
        Reason::Extraction,
        Reason::Duration,
        Reason::BodyTooLarge,
        Reason::TooManyRedirects,
        Reason::UnsafeRedirect,
        Reason::Request,
        Reason::Slow,
        Reason::NoCapacity,
        Reason::MonitorError,
        Reason::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Dns => "dns",
            Reason::Connect => "connect",
            Reason::Tls => "tls",
            Reason::Timeout => "timeout",
            Reason::ConnectionReset => "connection_reset",
            Reason::Protocol => "protocol",
            Reason::Http5xx => "http_5xx",
            Reason::Status => "status",
            Reason::Assertion => "assertion",
            Reason::ErrorPage => "error_page",
            Reason::UploadRejected => "upload_rejected",
            Reason::Rejected => "rejected",
            Reason::Extraction => "extraction",
            Reason::Duration => "duration",
            Reason::BodyTooLarge => "body_too_large",
            Reason::TooManyRedirects => "too_many_redirects",
            Reason::UnsafeRedirect => "unsafe_redirect",
            Reason::Request => "request",
            Reason::Slow => "slow",
            Reason::NoCapacity => "no_capacity",
            Reason::MonitorError => "monitor_error",
            Reason::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The outcome a failure for this reason gives the run.
    pub fn outcome(self) -> Outcome {
        match self {
            Reason::Dns
            | Reason::Connect
            | Reason::Tls
            | Reason::Timeout
            | Reason::ConnectionReset
            | Reason::Protocol
            | Reason::Http5xx => Outcome::Down,
            Reason::Slow => Outcome::Degraded,
            Reason::NoCapacity => Outcome::NoCapacity,
            Reason::MonitorError | Reason::Blocked => Outcome::Unobserved,
            _ => Outcome::Broken,
        }
    }

    /// French explanation for people who are not engineers.
    pub fn label_fr(self) -> &'static str {
        match self {
            Reason::Dns => "nom de domaine introuvable (DNS)",
            Reason::Connect => "connexion refusée ou impossible",
            Reason::Tls => "erreur de connexion sécurisée (TLS)",
            Reason::Timeout => "délai d'attente dépassé",
            Reason::ConnectionReset => "connexion interrompue par le serveur",
            Reason::Protocol => "réponse du serveur illisible (protocole HTTP non respecté)",
            Reason::Http5xx => "erreur du serveur (HTTP 5xx)",
            Reason::Status => "réponse inattendue (code HTTP)",
            Reason::Assertion => "la page ne contient pas ce qui est attendu",
            Reason::ErrorPage => "page « erreur technique »",
            Reason::UploadRejected => "dépôt de document refusé",
            Reason::Rejected => "demande refusée par le portail",
            Reason::Extraction => "élément attendu introuvable dans la page",
            Reason::Duration => "étape trop lente",
            Reason::BodyTooLarge => "réponse trop volumineuse",
            Reason::TooManyRedirects => "trop de redirections",
            Reason::UnsafeRedirect => "redirection refusée par vigie (autre origine ou adresse interdite)",
            Reason::Request => "requête impossible à construire",
            Reason::Slow => "réponse lente",
            Reason::NoCapacity => "aucun créneau proposé",
            Reason::MonitorError => "défaillance de vigie (pas du portail)",
            Reason::Blocked => "vigie refusée par une protection anti-robot",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Reason::Dns => "domain name not found (DNS)",
            Reason::Connect => "connection refused or impossible",
            Reason::Tls => "secure connection error (TLS)",
            Reason::Timeout => "timed out",
            Reason::ConnectionReset => "connection closed by the server",
            Reason::Protocol => "unreadable server response (HTTP protocol violated)",
            Reason::Http5xx => "server error (HTTP 5xx)",
            Reason::Status => "unexpected HTTP status",
            Reason::Assertion => "the page does not contain what is expected",
            Reason::ErrorPage => "\"technical error\" page",
            Reason::UploadRejected => "document upload rejected",
            Reason::Rejected => "request refused by the portal",
            Reason::Extraction => "expected element missing from the page",
            Reason::Duration => "step too slow",
            Reason::BodyTooLarge => "response too large",
            Reason::TooManyRedirects => "too many redirects",
            Reason::UnsafeRedirect => "redirect refused by vigie (another origin or a forbidden address)",
            Reason::Request => "request could not be built",
            Reason::Slow => "slow response",
            Reason::NoCapacity => "no slot offered",
            Reason::MonitorError => "vigie's own failure (not the portal's)",
            Reason::Blocked => "vigie refused by bot protection",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    /// The page said there is nothing to offer; the run stops here.
    NoCapacity,
    /// A CAPTCHA was reached; the run stops here without failing.
    Captcha,
    /// Not run because an earlier step ended the run.
    Skipped,
}

/// One check made on a response, for the step-by-step trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// In English, for traces and technicians.
    pub description: String,
    /// The same in French, for the documents readers outside the team see.
    #[serde(default)]
    pub description_fr: String,
    pub passed: bool,
}

/// A value extracted by a step, as shown to people (secrets already redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedValue {
    pub name: String,
    pub shown: String,
    pub secret: bool,
}

/// The page as the visitor would have seen it, kept for failing or no-slot
/// steps only (evidence, e-mails). Already redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageCapture {
    pub url: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// True when the body was cut at the capture cap.
    pub truncated: bool,
    pub received_at: DateTime<Utc>,
}

impl PageCapture {
    /// A short single-line excerpt of the visible text, for e-mails and traces.
    pub fn text_excerpt(&self, max_chars: usize) -> String {
        crate::probe::text::visible_text_excerpt(&String::from_utf8_lossy(&self.body), max_chars)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    pub status: StepStatus,
    pub reason: Option<Reason>,
    /// Human detail on a failure (bounded, redacted), in English.
    pub message: Option<String>,
    /// The same detail in French when the driver wrote one (HTTP steps).
    #[serde(default)]
    pub message_fr: Option<String>,
    /// Active time of the step: requests and body transfer, without politeness waits.
    #[serde(with = "duration_secs")]
    pub duration: Duration,
    /// Time from sending the (last) request to its response headers.
    #[serde(with = "duration_secs")]
    pub time_to_headers: Duration,
    pub method: String,
    /// URL as requested (before redirects), redacted.
    pub request_url: Option<String>,
    /// Final URL after redirects, redacted.
    pub url: Option<String>,
    pub http_status: Option<u16>,
    pub http_version: Option<String>,
    pub response_bytes: u64,
    pub redirects: u32,
    /// Every request the step actually sent, redirects included (redacted
    /// URLs), when there was more than the one request `method url` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<Hop>,
    /// The IP address and port the final response came from (HTTP steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// Where the time of each request went (one entry per request sent,
    /// redirects included, in order; empty for browser steps and for a
    /// request that could not be built). A request that failed keeps the
    /// phases it went through (a refused connection: its `connect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timings: Vec<RequestTiming>,
    pub checks: Vec<CheckResult>,
    pub extracted: Vec<ExtractedValue>,
    pub observations: Vec<(String, f64)>,
    pub tls_not_after: Option<DateTime<Utc>>,
    pub capture: Option<PageCapture>,
    /// What the browser saw during a browser step.
    #[serde(default)]
    pub browser: Option<BrowserFacts>,
    /// The screenshot of a browser step (failing, no-slot, or asked for),
    /// with vigie's banner above the page. Kept in memory only until the
    /// evidence register stores it.
    #[serde(skip)]
    pub screenshot: Option<Screenshot>,
}

/// The phases of one request, named as blackbox_exporter names them
/// (`probe_http_duration_seconds{phase}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// DNS resolution (zero for an IP literal).
    Resolve,
    /// TCP connection.
    Connect,
    /// TLS handshake (zero for plain HTTP).
    Tls,
    /// From the request sent to the first byte of the response (server time).
    Processing,
    /// From the response headers to the end of the body.
    Transfer,
}

impl Phase {
    pub const ALL: [Phase; 5] = [Phase::Resolve, Phase::Connect, Phase::Tls, Phase::Processing, Phase::Transfer];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Processing => "processing",
            Phase::Transfer => "transfer",
        }
    }
}

/// Durations of the five phases of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    #[serde(with = "duration_secs")]
    pub resolve: Duration,
    #[serde(with = "duration_secs")]
    pub connect: Duration,
    #[serde(with = "duration_secs")]
    pub tls: Duration,
    #[serde(with = "duration_secs")]
    pub processing: Duration,
    #[serde(with = "duration_secs")]
    pub transfer: Duration,
}

impl Phases {
    pub fn get(&self, p: Phase) -> Duration {
        match p {
            Phase::Resolve => self.resolve,
            Phase::Connect => self.connect,
            Phase::Tls => self.tls,
            Phase::Processing => self.processing,
            Phase::Transfer => self.transfer,
        }
    }

    pub fn set(&mut self, p: Phase, d: Duration) {
        match p {
            Phase::Resolve => self.resolve = d,
            Phase::Connect => self.connect = d,
            Phase::Tls => self.tls = d,
            Phase::Processing => self.processing = d,
            Phase::Transfer => self.transfer = d,
        }
    }

    /// Phase by phase sum (a step's phases over its redirect hops).
    pub fn add(&self, other: &Phases) -> Phases {
        let mut out = *self;
        for p in Phase::ALL {
            out.set(p, self.get(p) + other.get(p));
        }
        out
    }
}

/// One request's timing and connection facts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestTiming {
    pub phases: Phases,
    /// The IP address and port connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// `HTTP/1.1`, `HTTP/2`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    /// `TLSv1.3`, `TLSv1.2` (None for plain HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
}

impl StepResult {
    /// The step's phases summed over its requests (None when no request
    /// was timed: browser steps, requests that could not be sent).
    pub fn phases(&self) -> Option<Phases> {
        let first = self.timings.first()?;
        Some(self.timings[1..].iter().fold(first.phases, |acc, t| acc.add(&t.phases)))
    }
}

/// One request a step sent: its method, its URL (redacted) and the status
/// it got (None when no answer came).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl Hop {
    /// `POST https://…/1 → 302 → GET https://…/2`: the chain as sent, each
    /// URL passed through `url` (e.g. shortened); the last hop's status is
    /// left to the caller, who words the answer.
    pub fn describe(chain: &[Hop], url: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for (i, h) in chain.iter().enumerate() {
            if i > 0 {
                let status = chain[i - 1].status.map(|s| s.to_string()).unwrap_or_else(|| "?".into());
                out.push_str(&format!(" → {status} → "));
            }
            out.push_str(&h.method);
            out.push(' ');
            out.push_str(&url(&h.url));
        }
        out
    }
}

impl StepResult {
    /// The requests the step sent: its chain, or the single request its
    /// method and URL describe.
    pub fn hops(&self) -> Vec<Hop> {
        if !self.chain.is_empty() {
            return self.chain.clone();
        }
        match self.url.as_ref().or(self.request_url.as_ref()) {
            Some(u) if !self.method.is_empty() => vec![Hop {
                method: self.method.clone(),
                url: u.clone(),
                status: self.http_status,
            }],
            _ => vec![],
        }
    }
}

/// A request of the page that failed: a network error or a status ≥ 400.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRequest {
    /// Without query string or fragment (and redacted).
    pub url: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// What one browser step recorded besides its checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrowserFacts {
    /// `goto`, `click`, `fill`…
    pub action: String,
    /// Console errors and uncaught exceptions (the first ones, redacted).
    pub console_errors: Vec<String>,
    pub console_error_count: u32,
    pub failed_requests: Vec<FailedRequest>,
    pub failed_request_count: u32,
    /// Requests the page made during the step (documents and subresources).
    pub requests: u32,
    /// Requests refused by the probe's host rules.
    pub blocked_requests: u32,
    /// For a navigation: seconds from its start to DOMContentLoaded and load.
    pub dom_content_loaded_s: Option<f64>,
    pub load_s: Option<f64>,
    /// Seconds until the awaited element or text appeared.
    pub wait_s: Option<f64>,
    /// Page title when the step ended.
    pub title: String,
}

/// A PNG screenshot with its banner.
#[derive(Debug, Clone, PartialEq)]
pub struct Screenshot {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub taken_at: DateTime<Utc>,
}

impl StepResult {
    pub fn skipped(name: &str) -> StepResult {
        StepResult {
            name: name.to_string(),
            status: StepStatus::Skipped,
            reason: None,
            message: None,
            message_fr: None,
            duration: Duration::ZERO,
            time_to_headers: Duration::ZERO,
            method: String::new(),
            request_url: None,
            url: None,
            http_status: None,
            http_version: None,
            response_bytes: 0,
            redirects: 0,
            chain: vec![],
            remote_addr: None,
            timings: Vec::new(),
            checks: vec![],
            extracted: vec![],
            observations: vec![],
            tls_not_after: None,
            capture: None,
            browser: None,
            screenshot: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub probe: String,
    /// When the scheduler meant to start it (None for `vigie once`).
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    /// Active duration of the run (sum of steps, without politeness waits).
    #[serde(with = "duration_secs")]
    pub duration: Duration,
    /// Wall time spent waiting for the per-host politeness budget.
    #[serde(with = "duration_secs")]
    pub politeness_wait: Duration,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    pub failed_step: Option<String>,
    pub message: Option<String>,
    /// Set when the run stopped at a CAPTCHA (never solved).
    pub captcha_step: Option<String>,
    pub steps: Vec<StepResult>,
}

impl RunResult {
    /// All observations of the run, in step order.
    pub fn observations(&self) -> impl Iterator<Item = (&str, f64)> {
        self.steps.iter().flat_map(|s| s.observations.iter().map(|(n, v)| (n.as_str(), *v)))
    }

    /// The step that decided a non-up outcome, if any.
    pub fn deciding_step(&self) -> Option<&StepResult> {
        let name = self.failed_step.as_deref()?;
        self.steps.iter().find(|s| s.name == name)
    }

    /// The run's detail in French, when the step that decided it wrote one
    /// and the run's message is that step's (not, e.g., "run too slow").
    pub fn message_fr(&self) -> Option<String> {
        let step = self.deciding_step()?;
        (step.message == self.message).then(|| step.message_fr.clone()).flatten()
    }

    /// Last HTTP status seen in the run.
    pub fn last_http_status(&self) -> Option<u16> {
        self.steps.iter().rev().find_map(|s| s.http_status)
    }
}

/// Serialize durations as fractional seconds (JSON, store).
pub mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}
