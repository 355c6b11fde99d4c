//! Running a probe: steps in order, one fresh visitor (client and cookie jar)
//! per run, every request through the per-host politeness budget.
//!
//! The runner returns a [`RunResult`] and touches nothing else: no store, no
//! metrics, no alerting. The daemon hands the result to those, in that order.

mod bot_protection;
mod browser;
pub mod browser_env;
pub mod caught;
pub mod classify;
pub mod evaluate;
mod exchange;
pub mod http;
pub mod politeness;
pub mod redact;
mod redact_forms;
pub mod redirect;
pub mod timing;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::cookie::{CookieStore, Jar};

use crate::probe::result::{ExtractedValue, PageCapture};
use crate::probe::text::truncate_chars;
use crate::probe::{Action, Outcome, Probe, ProbeKind, Reason, RunResult, Step, StepResult, StepStatus};
use crate::template::Value;
use evaluate::{CheckKind, Response};
use exchange::{Exchange, ExchangeError};
pub use http::HttpEnv;
pub use politeness::Budgets;
pub use redact::Redactor;

/// Shared by every run of the daemon.
pub struct Runner {
    pub http: HttpEnv,
    pub budgets: Arc<Budgets>,
    /// How much of a page is kept as a capture (evidence, e-mails).
    pub capture_limit: usize,
    /// Chromium, for browser probes.
    pub browser: Arc<browser_env::BrowserEnv>,
}

/// A step's end, as decided by the rules in `decide`.
pub(crate) enum StepEnd {
    Passed,
    Failed(Reason, String),
    NoCapacity,
    Captcha,
}

/// What a run knows about its visitor whatever the driver: template
/// variables (extractions included) and the secrets to redact.
pub(crate) struct Visitor {
    pub(crate) vars: HashMap<String, Value>,
    pub(crate) redactor: Redactor,
}

/// Per-run state of the HTTP driver: the visitor and its client.
struct Visit {
    who: Visitor,
    jar: Arc<Jar>,
    client: reqwest::Client,
    /// The phase timings of the client's connections.
    timer: timing::Recorder,
    /// Active time used so far (requests only, not politeness waits).
    active: Duration,
    politeness_wait: Duration,
}

impl Runner {
    pub fn new(http: HttpEnv, budgets: Arc<Budgets>) -> Runner {
        Runner {
            http,
            budgets,
            capture_limit: 512 * 1024,
            browser: Arc::new(browser_env::BrowserEnv::default()),
        }
    }

    /// The same runner with these browser settings.
    pub fn with_browser(mut self, env: browser_env::BrowserEnv) -> Runner {
        self.browser = Arc::new(env);
        self
    }

    /// Run `probe` once. Never panics on anything the network sends. Every
    /// string of the result has passed [`Redactor::result`].
    pub async fn run(&self, probe: &Probe, scheduled_at: Option<DateTime<Utc>>) -> RunResult {
        if let ProbeKind::Browser(settings) = &probe.kind {
            let mut result = self.run_browser(probe, settings, scheduled_at).await;
            env_redactor(probe).result(&mut result);
            return result;
        }
        let (mut result, redactor) = self.run_http(probe, scheduled_at).await;
        redactor.result(&mut result);
        result
    }

    async fn run_http(&self, probe: &Probe, scheduled_at: Option<DateTime<Utc>>) -> (RunResult, Redactor) {
        let started_at = Utc::now();
        let mut result = RunResult {
            probe: probe.name.clone(),
            scheduled_at,
            started_at,
            duration: Duration::ZERO,
            politeness_wait: Duration::ZERO,
            outcome: Outcome::Up,
            reason: None,
            failed_step: None,
            message: None,
            captcha_step: None,
            steps: Vec::with_capacity(probe.steps.len()),
        };
        let mut visit = match self.start_visit(probe, started_at) {
            Ok(v) => v,
            Err(msg) => {
                result.outcome = Outcome::Broken;
                result.reason = Some(Reason::Request);
                result.message = Some(msg);
                result.failed_step = probe.steps.first().map(|s| s.name.clone());
                result.steps = probe.steps.iter().map(|s| StepResult::skipped(&s.name)).collect();
                return (result, env_redactor(probe));
            }
        };
        let mut ended = false;
        for step in &probe.steps {
            if ended {
                result.steps.push(StepResult::skipped(&step.name));
                continue;
            }
            let (step_result, end) = self.run_step(probe, step, &mut visit).await;
            match end {
                StepEnd::Passed => {}
                StepEnd::Failed(reason, msg) => {
                    result.outcome = reason.outcome();
                    result.reason = Some(reason);
                    result.failed_step = Some(step.name.clone());
                    result.message = Some(msg);
                    ended = true;
                }
                StepEnd::NoCapacity => {
                    result.outcome = Outcome::NoCapacity;
                    result.reason = Some(Reason::NoCapacity);
                    result.failed_step = Some(step.name.clone());
                    ended = true;
                }
                StepEnd::Captcha => {
                    result.captcha_step = Some(step.name.clone());
                    ended = true;
                }
            }
            result.steps.push(step_result);
        }
        result.duration = visit.active;
        result.politeness_wait = visit.politeness_wait;
        if result.outcome == Outcome::Up {
            if let Some(limit) = probe.degraded_after {
                if visit.active > limit {
                    result.outcome = Outcome::Degraded;
                    result.reason = Some(Reason::Slow);
                    result.message = Some(format!(
                        "run took {} (threshold {})",
                        crate::config::units::format_duration(visit.active),
                        crate::config::units::format_duration(limit)
                    ));
                }
            }
        }
        (result, visit.who.redactor)
    }

    fn start_visit(&self, probe: &Probe, now: DateTime<Utc>) -> Result<Visit, String> {
        let who = visitor(probe, now)?;
        let jar = Arc::new(Jar::default());
        let timer = timing::Recorder::default();
        let client = self
            .http
            .client(&probe.target, jar.clone(), timer.clone())
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Visit {
            who,
            jar,
            client,
            timer,
            active: Duration::ZERO,
            politeness_wait: Duration::ZERO,
        })
    }

    async fn run_step(&self, probe: &Probe, step: &Step, visit: &mut Visit) -> (StepResult, StepEnd) {
        let mut sr = StepResult::skipped(&step.name);
        sr.status = StepStatus::Failed;
        let Action::Request(request) = &step.action else {
            let msg = "a browser step reached the HTTP driver".to_string();
            return (sr, StepEnd::Failed(Reason::MonitorError, msg));
        };
        sr.method = request.method.to_string();
        let run_left = probe.timeout.saturating_sub(visit.active);
        let budget = request.timeout.min(run_left);
        let ex = exchange::perform(self, request, visit, budget).await;
        let mut ex = match ex {
            Ok(ex) => ex,
            Err(ExchangeError {
                reason,
                message,
                url,
                duration,
                hops,
                timings,
            }) => {
                sr.duration = duration;
                sr.timings = timings;
                sr.chain = chain(&hops, &visit.who.redactor);
                sr.url = url.map(|u| visit.who.redactor.text(&u));
                sr.reason = Some(reason);
                let msg = visit.who.redactor.text(&message);
                sr.message = Some(msg.clone());
                return (sr, StepEnd::Failed(reason, msg));
            }
        };
        sr.duration = ex.active;
        sr.time_to_headers = ex.time_to_headers;
        sr.url = Some(visit.who.redactor.text(ex.url.as_str()));
        sr.request_url = Some(visit.who.redactor.text(ex.request_url.as_str()));
        sr.http_status = Some(ex.status);
        sr.http_version = Some(ex.version.clone());
        sr.response_bytes = ex.body.len() as u64;
        sr.redirects = ex.redirects;
        sr.chain = chain(&ex.hops, &visit.who.redactor);
        sr.tls_not_after = ex.tls_not_after;
        sr.remote_addr = ex.remote_addr.map(|a| a.to_string());
        sr.timings = std::mem::take(&mut ex.timings);

        let cookies = cookies_for(&visit.jar, &ex.url);
        for (_, v) in &cookies {
            visit.who.redactor.add(v);
        }
        let body = String::from_utf8_lossy(&ex.body);
        let url_string = ex.url.to_string();
        let end = {
            let resp = Response::new(ex.status, &ex.headers, &body, &url_string, &cookies, ex.active);
            decide(probe, step, &resp, &mut sr, &mut visit.who)
        };
        match &end {
            StepEnd::Passed => sr.status = StepStatus::Passed,
            StepEnd::Failed(reason, msg) => {
                sr.status = StepStatus::Failed;
                sr.reason = Some(*reason);
                sr.message = Some(visit.who.redactor.text(msg));
            }
            StepEnd::NoCapacity => {
                sr.status = StepStatus::NoCapacity;
                sr.reason = Some(Reason::NoCapacity);
            }
            StepEnd::Captcha => sr.status = StepStatus::Captcha,
        }
        sr.message_fr = sr.message_fr.as_deref().map(|m| visit.who.redactor.text(m));
        if !matches!(end, StepEnd::Passed) {
            sr.capture = Some(self.capture(&ex, &visit.who.redactor));
        }
        let end = match end {
            StepEnd::Failed(r, m) => StepEnd::Failed(r, visit.who.redactor.text(&m)),
            other => other,
        };
        (sr, end)
    }

    fn capture(&self, ex: &Exchange, redactor: &Redactor) -> PageCapture {
        // Redact the whole body before cutting it: a cut must not leave the
        // start of a secret behind.
        let mut body = redactor.bytes(&ex.body);
        let truncated = body.len() > self.capture_limit;
        body.truncate(self.capture_limit);
        PageCapture {
            url: redactor.text(ex.url.as_str()),
            status: ex.status,
            headers: ex.headers.iter().map(|(k, v)| (k.clone(), redactor.header(k, v))).collect(),
            body,
            truncated,
            received_at: ex.received_at,
        }
    }
}

/// A redactor that knows the configuration's secrets (this probe's and every other's).
/// The requests a step sent, their URLs through the run's redactor.
fn chain(hops: &[exchange::RawHop], redactor: &Redactor) -> Vec<crate::probe::Hop> {
    hops.iter()
        .map(|h| crate::probe::Hop {
            method: h.method.to_string(),
            url: redactor.text(h.url.as_str()),
            status: h.status,
        })
        .collect()
}

fn env_redactor(probe: &Probe) -> Redactor {
    let mut r = Redactor::new();
    for (_, v) in &probe.env {
        r.add(v);
    }
    for v in probe.config_secrets.iter() {
        r.add(v);
    }
    r
}

/// A new visitor: the probe's variables rendered, its secrets known to the redactor.
pub(crate) fn visitor(probe: &Probe, now: DateTime<Utc>) -> Result<Visitor, String> {
    let mut vars = HashMap::new();
    let mut redactor = Redactor::new();
    vars.insert("base_url".to_string(), Value::public(probe.target.base_url.clone()));
    vars.insert("probe_name".to_string(), Value::public(probe.name.clone()));
    for (k, v) in &probe.target.vars {
        vars.insert(k.clone(), Value::public(v.clone()));
    }
    for (k, v) in &probe.env {
        redactor.add(v);
        vars.insert(format!("env.{k}"), Value::secret(v.clone()));
    }
    for v in probe.config_secrets.iter() {
        redactor.add(v);
    }
    for (k, t) in &probe.vars {
        let r = t.render(&vars, now).map_err(|e| e.to_string())?;
        if r.secret {
            redactor.add(&r.text);
        }
        vars.insert(
            k.clone(),
            Value {
                text: r.text,
                secret: r.secret,
            },
        );
    }
    Ok(Visitor { vars, redactor })
}

fn cookies_for(jar: &Jar, url: &url::Url) -> Vec<(String, String)> {
    let Some(header) = jar.cookies(url) else {
        return vec![];
    };
    let Ok(s) = header.to_str() else {
        return vec![];
    };
    s.split(';')
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect()
}

/// The order of the rules matters and is documented in docs/probes.md:
/// bot protection (built-in pages, then `blocked_when`), CAPTCHA, observations, HTTP 5xx, broken_when, no_capacity_when, expect,
/// then extraction.
/// A 5xx the step does not expect, or a `broken_when` condition (the probe's, then the step's).
fn server_or_broken(probe: &Probe, step: &Step, r: &Response) -> Option<(StepEnd, String)> {
    let status_expected = step.expect.status.as_ref().is_some_and(|s| s.contains(&r.status));
    if r.status >= 500 && !status_expected {
        let fr = format!("le portail a répondu par une erreur HTTP {} à l'adresse {}", r.status, r.url);
        return Some((StepEnd::Failed(Reason::Http5xx, format!("HTTP {} from {}", r.status, r.url)), fr));
    }
    probe
        .broken_when
        .iter()
        .chain(step.broken_when.iter())
        .find(|bw| evaluate::matches(&bw.when, r))
        .map(|bw| {
            let en = format!("{}: {}", bw.reason.label_en(), evaluate::describe_match(&bw.when, r));
            let fr = format!("{} : {}", bw.reason.label_fr(), evaluate::describe_match_fr(&bw.when, r));
            (StepEnd::Failed(bw.reason, en), fr)
        })
}

/// What a page says about itself when a browser step failed on it (an
/// awaited element never came): bot protection, a CAPTCHA, a 5xx or a
/// `broken_when` condition explain the failure better than the wait. `None`
/// leaves the wait's own failure.
pub(crate) fn explain_failed_page(probe: &Probe, step: &Step, r: &Response) -> Option<StepEnd> {
    if let Some(why) = bot_protection::blocked(probe, r) {
        return Some(StepEnd::Failed(Reason::Blocked, why));
    }
    if step.captcha_when.as_ref().is_some_and(|c| evaluate::matches(c, r)) {
        return Some(StepEnd::Captcha);
    }
    server_or_broken(probe, step, r).map(|(end, _)| end)
}

pub(crate) fn decide(probe: &Probe, step: &Step, r: &Response, sr: &mut StepResult, visit: &mut Visitor) -> StepEnd {
    if let Some(why) = bot_protection::blocked(probe, r) {
        return StepEnd::Failed(Reason::Blocked, why);
    }
    if let Some(c) = &step.captcha_when {
        if evaluate::matches(c, r) {
            return StepEnd::Captcha;
        }
    }
    for o in &step.observe {
        if let Some(v) = evaluate::observe(o, r) {
            sr.observations.push((o.name.clone(), v));
        }
    }
    if let Some((end, fr)) = server_or_broken(probe, step, r) {
        sr.message_fr = Some(fr);
        return end;
    }
    if let Some(nc) = &step.no_capacity_when {
        if evaluate::matches(nc, r) {
            sr.message = Some(evaluate::describe_match(nc, r));
            sr.message_fr = Some(evaluate::describe_match_fr(nc, r));
            return StepEnd::NoCapacity;
        }
    }
    let checks = evaluate::evaluate(&step.expect, r, true);
    let first_failed = checks
        .iter()
        .find(|c| !c.result.passed)
        .map(|c| (c.kind, c.result.description.clone(), c.result.description_fr.clone()));
    sr.checks = checks.into_iter().map(|c| c.result).collect();
    if let Some((kind, desc, desc_fr)) = first_failed {
        sr.message_fr = Some(format!("vérification non satisfaite : {desc_fr}"));
        let reason = match kind {
            CheckKind::Status => Reason::Status,
            CheckKind::Duration => Reason::Duration,
            CheckKind::Content => Reason::Assertion,
        };
        return StepEnd::Failed(reason, format!("check failed: {desc}"));
    }
    for x in &step.extract {
        match evaluate::extract(x, r) {
            Ok(v) => {
                if x.secret {
                    visit.redactor.add(&v);
                }
                sr.extracted.push(ExtractedValue {
                    name: x.name.clone(),
                    shown: if x.secret {
                        redact::REDACTED.to_string()
                    } else {
                        truncate_chars(&visit.redactor.text(&v), 120)
                    },
                    secret: x.secret,
                });
                visit.vars.insert(x.name.clone(), Value { text: v, secret: x.secret });
            }
            Err(why) => {
                sr.message_fr = Some(format!("la valeur « {} » n'a pas pu être lue dans la page ({why})", x.name));
                return StepEnd::Failed(Reason::Extraction, format!("cannot extract `{}`: {why}", x.name));
            }
        }
    }
    StepEnd::Passed
}
