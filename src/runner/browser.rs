//! The browser step driver: runs a `kind: browser` probe in a fresh
//! headless Chromium, one action per step, and decides each step with the
//! same rules as HTTP steps, evaluated on the rendered page.
//!
//! What is the portal's and what is vigie's is kept apart: a navigation
//! error, a page that never loads, an element that never appears are the
//! portal's (down or broken); Chromium missing, crashing, out of memory, or
//! not answering the protocol are vigie's (`unobserved/monitor_error`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::browser_env::JourneyPermit;
use super::evaluate::Response;
use super::{decide, visitor, Runner, StepEnd, Visitor};
use crate::browser::banner::{self, BannerFacts};
use crate::browser::cdp::Cdp;
use crate::browser::page::{Gate, GateDecision, GateRequest, Page, PageLog};
use crate::browser::process::Chromium;
use crate::browser::BrowserError;
use crate::probe::browser::{BrowserAction, BrowserProbe, BrowserStep, WaitTarget};
use crate::probe::result::{BrowserFacts, FailedRequest, PageCapture, Screenshot};
use crate::probe::{Outcome, PartContent, Probe, Reason, RunResult, Step, StepResult, StepStatus};

/// Largest rendered DOM read back per step.
const MAX_HTML: usize = 2 * 1024 * 1024;
/// Tallest screenshot kept, in pixels.
const MAX_SHOT_HEIGHT: u32 = 12_000;
/// Time allowed to start Chromium and open its page.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// How a step failed, before it becomes a step end.
enum Failure {
    /// The portal's: counted as the run's outcome.
    Portal(Reason, String),
    /// vigie's own.
    Monitor(String),
}

fn portal(reason: Reason, msg: impl Into<String>) -> Failure {
    Failure::Portal(reason, msg.into())
}

/// Chromium's network errors, as vigie's bounded reasons.
fn net_reason(err: &str) -> Reason {
    match err {
        e if e.contains("NAME_NOT_RESOLVED") || e.contains("NAME_RESOLUTION") => Reason::Dns,
        e if e.contains("CERT") || e.contains("SSL") => Reason::Tls,
        e if e.contains("TIMED_OUT") => Reason::Timeout,
        e if e.contains("RESET") || e.contains("CLOSED") || e.contains("EMPTY_RESPONSE") || e.contains("ABORTED") => {
            Reason::ConnectionReset
        }
        e if e.contains("TOO_MANY_REDIRECTS") => Reason::TooManyRedirects,
        e if e.contains("BLOCKED_BY_CLIENT") => Reason::Request,
        _ => Reason::Connect,
    }
}

/// A browser error: a page that stops answering while Chromium lives is
/// the page's doing (a busy script); everything else is vigie's.
fn monitor(e: &BrowserError) -> Failure {
    match e {
        BrowserError::Timeout(what) => portal(
            Reason::Timeout,
            format!("the page stopped responding ({what} got no answer in time)"),
        ),
        other => Failure::Monitor(other.to_string()),
    }
}

/// Per-run state of the browser driver.
struct Journey<'a> {
    runner: &'a Runner,
    probe: &'a Probe,
    settings: &'a BrowserProbe,
    who: Visitor,
    page: Page,
    cdp: Cdp,
    chromium: Arc<Mutex<Chromium>>,
    out_of_memory: Arc<AtomicBool>,
    waited: Arc<Mutex<Duration>>,
    active: Duration,
    /// Counters of the page log at the end of the previous step.
    seen: PageLog,
    last_status: u16,
    last_headers: Vec<(String, String)>,
}

impl Runner {
    /// Run a browser probe once. Never panics on anything a page does.
    pub async fn run_browser(&self, probe: &Probe, settings: &BrowserProbe, scheduled_at: Option<DateTime<Utc>>) -> RunResult {
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
        let t0 = Instant::now();
        let permit = self.browser.admit(&probe.target.host_key).await;
        result.politeness_wait = t0.elapsed();
        let who = match visitor(probe, started_at) {
            Ok(w) => w,
            Err(msg) => return end_early(result, probe, Reason::Request, msg),
        };
        let journey = match self.start_journey(probe, settings, who).await {
            Ok(j) => j,
            Err(msg) => return end_early(result, probe, Reason::MonitorError, msg),
        };
        let limit = probe.timeout + START_DEADLINE;
        match tokio::time::timeout(limit, journey.run(&mut result, permit)).await {
            Ok(()) => {}
            Err(_) => {
                result.outcome = Outcome::Unobserved;
                result.reason = Some(Reason::MonitorError);
                result.message = Some(format!(
                    "the browser run did not end within its bound ({}): vigie stopped it",
                    crate::config::units::format_duration(limit)
                ));
            }
        }
        result
    }

    async fn start_journey<'a>(&'a self, probe: &'a Probe, settings: &'a BrowserProbe, who: Visitor) -> Result<Journey<'a>, String> {
        let Some(exe) = self.browser.executable() else {
            return Err(format!(
                "Chromium not found ({}): install it with `{}`; vigie records this run as not observed, never as the portal's failure",
                self.browser
                    .settings
                    .executable
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| crate::browser::CANDIDATES.join(", ")),
                crate::browser::INSTALL_HINT
            ));
        };
        let mut chromium =
            Chromium::launch(&exe, &self.browser.settings.profile_root, settings.viewport, 512).map_err(|e| e.to_string())?;
        let Some((to, from)) = chromium.take_pipes() else {
            return Err("the browser's pipes were not set up".into());
        };
        let (cdp, events) = Cdp::connect(to, from).map_err(|e| e.to_string())?;
        let waited = Arc::new(Mutex::new(Duration::ZERO));
        let gate = self.gate(probe, settings, waited.clone());
        let page = tokio::time::timeout(START_DEADLINE, Page::open(cdp.clone(), events, gate, settings.viewport))
            .await
            .map_err(|_| "Chromium did not open a page in time".to_string())?
            .map_err(|e| format!("Chromium did not open a page: {e}"))?;
        let chromium = Arc::new(Mutex::new(chromium));
        let out_of_memory = Arc::new(AtomicBool::new(false));
        tokio::spawn(watch_memory(
            Arc::downgrade(&chromium),
            self.browser.settings.max_memory,
            out_of_memory.clone(),
        ));
        Ok(Journey {
            runner: self,
            probe,
            settings,
            who,
            page,
            cdp,
            chromium,
            out_of_memory,
            waited,
            active: Duration::ZERO,
            seen: PageLog::default(),
            last_status: 0,
            last_headers: vec![],
        })
    }

    /// Each request of the page: blocked hosts refused; navigations and
    /// form submissions spaced by their host's budget; subresources load
    /// as they would for a person.
    fn gate(&self, probe: &Probe, settings: &BrowserProbe, waited: Arc<Mutex<Duration>>) -> Gate {
        let budgets = self.budgets.clone();
        let target_host = url::Url::parse(&probe.target.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let block = settings.block_hosts.clone();
        let third_party = settings.block_third_party;
        Arc::new(move |req: GateRequest| {
            let budgets = budgets.clone();
            let waited = waited.clone();
            let parsed = url::Url::parse(&req.url).ok();
            let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or_default().to_ascii_lowercase();
            let blocked = block.iter().any(|b| host == *b || host.ends_with(&format!(".{b}")))
                || (third_party && !host.is_empty() && host != target_host);
            Box::pin(async move {
                if blocked {
                    return GateDecision::Block;
                }
                if req.resource_type == "Document" {
                    if let Some(u) = parsed.filter(|u| u.scheme().starts_with("http")) {
                        let slot = budgets.budget(&super::politeness::host_key(&u)).acquire().await;
                        *waited.lock().unwrap_or_else(|e| e.into_inner()) += slot.waited;
                    }
                }
                GateDecision::Continue
            })
        })
    }
}

fn end_early(mut result: RunResult, probe: &Probe, reason: Reason, msg: String) -> RunResult {
    result.outcome = reason.outcome();
    result.reason = Some(reason);
    result.message = Some(msg);
    result.failed_step = probe.steps.first().map(|s| s.name.clone());
    result.steps = probe.steps.iter().map(|s| StepResult::skipped(&s.name)).collect();
    result
}

/// Kill the browser when its process group uses more than `max` bytes (PSS).
async fn watch_memory(chromium: std::sync::Weak<Mutex<Chromium>>, max: u64, flag: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        // The run is over when its Chromium is gone.
        let Some(chromium) = chromium.upgrade() else {
            return;
        };
        let pss = chromium.lock().unwrap_or_else(|e| e.into_inner()).pss();
        if pss > max {
            flag.store(true, Ordering::SeqCst);
            chromium.lock().unwrap_or_else(|e| e.into_inner()).kill();
            return;
        }
    }
}

impl Journey<'_> {
    async fn run(mut self, result: &mut RunResult, permit: Option<JourneyPermit>) {
        let mut ended = false;
        for step in &self.probe.steps {
            if ended {
                result.steps.push(StepResult::skipped(&step.name));
                continue;
            }
            let (sr, end) = self.run_step(step).await;
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
            result.steps.push(sr);
        }
        result.duration = self.active;
        result.politeness_wait += *self.waited.lock().unwrap_or_else(|e| e.into_inner());
        if result.outcome == Outcome::Up {
            if let Some(limit) = self.probe.degraded_after.filter(|l| self.active > *l) {
                result.outcome = Outcome::Degraded;
                result.reason = Some(Reason::Slow);
                result.message = Some(format!(
                    "run took {} (threshold {})",
                    crate::config::units::format_duration(self.active),
                    crate::config::units::format_duration(limit)
                ));
            }
        }
        self.page.close().await;
        drop(self.page);
        self.chromium.lock().unwrap_or_else(|e| e.into_inner()).cleanup();
        drop(permit);
    }

    fn deadline(&self, b: &BrowserStep) -> (Instant, Duration) {
        let left = self.probe.timeout.saturating_sub(self.active);
        let budget = b.timeout.min(left);
        (Instant::now() + budget, budget)
    }

    async fn run_step(&mut self, step: &Step) -> (StepResult, StepEnd) {
        let mut sr = StepResult::skipped(&step.name);
        sr.status = StepStatus::Failed;
        let crate::probe::Action::Browser(b) = &step.action else {
            return (
                sr,
                StepEnd::Failed(Reason::MonitorError, "an HTTP step reached the browser driver".into()),
            );
        };
        let mut facts = BrowserFacts {
            action: b.action.keyword().to_string(),
            ..BrowserFacts::default()
        };
        sr.method = "BROWSER".into();
        let (deadline, _) = self.deadline(b);
        let started = Instant::now();
        let waited_before = *self.waited.lock().unwrap_or_else(|e| e.into_inner());
        let acted = self.act(b, &mut facts, &mut sr, deadline).await;
        let acted = match acted {
            Ok(()) => self.wait(b, &mut facts, deadline).await,
            Err(f) => Err(f),
        };
        let waited_now = *self.waited.lock().unwrap_or_else(|e| e.into_inner());
        sr.duration = started.elapsed().saturating_sub(waited_now.saturating_sub(waited_before));
        self.active += sr.duration;
        let end = match acted {
            Ok(()) => self.evaluate(step, b, &mut sr, &mut facts, deadline).await,
            Err(f) => {
                let portal_failure = matches!(f, Failure::Portal(..));
                let mut end = self.failure(f);
                if portal_failure {
                    self.describe_failed_page(&mut sr, &mut facts).await;
                    // A wait that failed on a bot-protection page, a CAPTCHA, a 5xx or an
                    // "erreur technique" banner failed because of what the page says.
                    if let Some(better) = sr.capture.as_ref().and_then(|c| explain_capture(self.probe, step, c)) {
                        end = better;
                    }
                }
                end
            }
        };
        self.record_log(&mut facts);
        if let StepEnd::Failed(reason, msg) = &end {
            sr.reason = Some(*reason);
            sr.message = Some(self.who.redactor.text(msg));
        }
        sr.status = match &end {
            StepEnd::Passed => StepStatus::Passed,
            StepEnd::Failed(..) => StepStatus::Failed,
            StepEnd::NoCapacity => {
                sr.reason = Some(Reason::NoCapacity);
                StepStatus::NoCapacity
            }
            StepEnd::Captcha => StepStatus::Captcha,
        };
        let wants_shot = b.screenshot || self.settings.screenshot_every_step || !matches!(end, StepEnd::Passed);
        let unobserved = matches!(&end, StepEnd::Failed(r, _) if r.outcome() == Outcome::Unobserved && *r != Reason::Blocked);
        if wants_shot && !unobserved {
            sr.screenshot = match self.screenshot(step, &sr).await {
                Ok(shot) => Some(shot),
                Err(why) => {
                    // vigie's own failure: said to the operator, never the portal's.
                    tracing::warn!(probe = %self.probe.name, step = %step.name, "screenshot not taken: {why}");
                    None
                }
            };
        }
        facts.console_errors = facts.console_errors.iter().map(|c| self.who.redactor.text(c)).collect();
        sr.browser = Some(facts);
        let end = match end {
            StepEnd::Failed(r, m) => StepEnd::Failed(r, self.who.redactor.text(&m)),
            other => other,
        };
        (sr, end)
    }

    /// A failure of the browser is the portal's only when the page caused it.
    fn failure(&self, f: Failure) -> StepEnd {
        if self.out_of_memory.load(Ordering::SeqCst) {
            return StepEnd::Failed(
                Reason::MonitorError,
                format!(
                    "the browser went over its memory bound ({} MiB) and was stopped: vigie could not observe this page",
                    self.runner.browser.settings.max_memory / (1024 * 1024)
                ),
            );
        }
        match f {
            Failure::Portal(r, m) => StepEnd::Failed(r, m),
            Failure::Monitor(m) => StepEnd::Failed(Reason::MonitorError, m),
        }
    }

    fn render(&mut self, t: &crate::template::Template) -> Result<String, Failure> {
        let r = t
            .render(&self.who.vars, Utc::now())
            .map_err(|e| portal(Reason::Request, e.to_string()))?;
        if r.secret {
            self.who.redactor.add(&r.text);
        }
        Ok(r.text)
    }

    async fn act(&mut self, b: &BrowserStep, facts: &mut BrowserFacts, sr: &mut StepResult, deadline: Instant) -> Result<(), Failure> {
        let missing = |css: &crate::probe::Css| portal(Reason::Extraction, format!("no element {} on the page", css.source));
        let started = Instant::now();
        match &b.action {
            BrowserAction::Goto(t) => {
                let url = self.render(t)?;
                sr.request_url = Some(self.who.redactor.text(&url));
                let timing = self.page.navigate(&url, deadline).await.map_err(|e| match e {
                    BrowserError::Navigation(n) => portal(net_reason(&n), format!("{n} while loading {}", self.who.redactor.text(&url))),
                    BrowserError::Timeout(_) => portal(Reason::Timeout, "the page did not finish loading in time"),
                    other => monitor(&other),
                })?;
                facts.dom_content_loaded_s = timing.dom_content_loaded.map(|d| d.as_secs_f64());
                facts.load_s = timing.load.map(|d| d.as_secs_f64());
                return Ok(());
            }
            BrowserAction::Click(css) => {
                if !self.page.click(&css.source, deadline).await.map_err(|e| monitor(&e))? {
                    return Err(missing(css));
                }
            }
            BrowserAction::Fill { css, value } => {
                let v = self.render(value)?;
                if !self.page.fill(&css.source, &v, deadline).await.map_err(|e| monitor(&e))? {
                    return Err(missing(css));
                }
            }
            BrowserAction::Select { css, value } => {
                let v = self.render(value)?;
                match self.page.select(&css.source, &v, deadline).await.map_err(|e| monitor(&e))? {
                    None => return Err(missing(css)),
                    Some(false) => {
                        return Err(portal(
                            Reason::Extraction,
                            format!("no option « {} » in {}", self.who.redactor.text(&v), css.source),
                        ))
                    }
                    Some(true) => {}
                }
            }
            BrowserAction::Check { css, checked } => match self.page.is_checked(&css.source, deadline).await.map_err(|e| monitor(&e))? {
                None => return Err(missing(css)),
                Some(now) if now == *checked => {}
                Some(_) => {
                    self.page.click(&css.source, deadline).await.map_err(|e| monitor(&e))?;
                }
            },
            BrowserAction::Upload { css, content, filename } => {
                let path = self.write_upload(content, filename)?;
                if !self.page.set_files(&css.source, &[path], deadline).await.map_err(|e| monitor(&e))? {
                    return Err(missing(css));
                }
            }
            BrowserAction::Nothing => return Ok(()),
        }
        // A click or a submission may start a navigation: wait for it to load.
        match self.page.settle(started, deadline).await {
            Ok(Some(t)) => {
                facts.dom_content_loaded_s = t.dom_content_loaded.map(|d| d.as_secs_f64());
                facts.load_s = t.load.map(|d| d.as_secs_f64());
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(BrowserError::Timeout(_)) => Err(portal(Reason::Timeout, "the page did not finish loading in time")),
            Err(e) => Err(monitor(&e)),
        }
    }

    /// The upload's bytes as a file in this run's private directory.
    fn write_upload(&self, content: &PartContent, filename: &str) -> Result<String, Failure> {
        let bytes = match content {
            PartContent::File { bytes, .. } => bytes.as_ref().clone(),
            PartContent::Generated { size, kind } => kind.generate(*size),
            PartContent::Text(_) => vec![],
        };
        let dir = self.chromium.lock().unwrap_or_else(|e| e.into_inner()).profile().join("uploads");
        let name: String = filename
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        let path = dir.join(if name.is_empty() { "upload.bin".to_string() } else { name });
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&path, bytes))
            .map_err(|e| Failure::Monitor(format!("cannot write the upload file: {e}")))?;
        Ok(path.to_string_lossy().into_owned())
    }

    async fn wait(&self, b: &BrowserStep, facts: &mut BrowserFacts, step_deadline: Instant) -> Result<(), Failure> {
        let Some(w) = &b.wait_for else {
            return Ok(());
        };
        let deadline = step_deadline.min(Instant::now() + w.timeout);
        let (js, what) = match &w.target {
            WaitTarget::Selector(c) => (
                format!("!!document.querySelector({})", crate::browser::page::js_string(&c.source)),
                format!("element {}", c.source),
            ),
            WaitTarget::SelectorGone(c) => (
                format!("!document.querySelector({})", crate::browser::page::js_string(&c.source)),
                format!("disappearance of {}", c.source),
            ),
            WaitTarget::Text(t) => (
                format!(
                    "!!document.body && document.body.innerText.replace(/\\s+/g, ' ').includes({})",
                    crate::browser::page::js_string(&t.split_whitespace().collect::<Vec<_>>().join(" "))
                ),
                format!("text « {t} »"),
            ),
        };
        // A page served with a 5xx is the answer: nothing the step waits for will come, and
        // `evaluate` names it (`down/http_5xx`, unless the step expects that status).
        if self.page.log().document.as_ref().is_some_and(|(status, _)| *status >= 500) {
            return Ok(());
        }
        // A bot-protection page ends the wait at once: `evaluate` then names it.
        let js = match &w.target {
            WaitTarget::SelectorGone(_) => js,
            _ => format!("({js}) || {}", super::bot_protection::js_detector()),
        };
        match self.page.wait_until(&js, deadline).await {
            Ok(d) => {
                facts.wait_s = Some(d.as_secs_f64());
                Ok(())
            }
            Err(BrowserError::Timeout(kind)) if kind == "wait" => Err(portal(
                Reason::Assertion,
                format!(
                    "waited {} for the {what}: it did not appear",
                    crate::config::units::format_duration(w.timeout)
                ),
            )),
            Err(e) => Err(monitor(&e)),
        }
    }

    async fn evaluate(
        &mut self,
        step: &Step,
        _b: &BrowserStep,
        sr: &mut StepResult,
        facts: &mut BrowserFacts,
        deadline: Instant,
    ) -> StepEnd {
        let snap = match self
            .page
            .snapshot(MAX_HTML, deadline.max(Instant::now() + Duration::from_secs(5)))
            .await
        {
            Ok(s) => s,
            Err(e) => return self.failure(monitor(&e)),
        };
        let log = self.page.log();
        if let Some((status, headers)) = &log.document {
            self.last_status = *status;
            self.last_headers = headers.clone();
        }
        let status = if self.last_status == 0 { 200 } else { self.last_status };
        sr.url = self.shown_url(&snap.url, sr);
        sr.http_status = Some(status);
        sr.response_bytes = snap.html.len() as u64;
        facts.title = self.who.redactor.text(&snap.title);
        let headers = self.last_headers.clone();
        let end = {
            let r =
                Response::new(status, &headers, &snap.html, &snap.url, &[], sr.duration).rendered(snap.text.clone(), snap.title.clone());
            decide(self.probe, step, &r, sr, &mut self.who)
        };
        if !matches!(end, StepEnd::Passed) {
            sr.capture = Some(self.capture(&snap.url, status, &headers, &snap.html));
        }
        end
    }

    /// The address a step shows: the page's, except Chromium's own error
    /// page (`chrome-error://…`), which stands for the address it could not
    /// load: that one is named, as a person would.
    fn shown_url(&self, page_url: &str, sr: &StepResult) -> Option<String> {
        if page_url.starts_with("chrome-error:") {
            sr.request_url.clone().or_else(|| sr.url.clone())
        } else {
            Some(self.who.redactor.text(page_url))
        }
    }

    /// After the portal failed a step: where the page was and what it
    /// showed, if the page still answers (best effort, briefly).
    async fn describe_failed_page(&mut self, sr: &mut StepResult, facts: &mut BrowserFacts) {
        let Ok(snap) = self.page.snapshot(MAX_HTML, Instant::now() + Duration::from_secs(3)).await else {
            return;
        };
        let status = self.page.log().document.map(|(s, _)| s).unwrap_or(self.last_status);
        sr.url = self.shown_url(&snap.url, sr);
        sr.http_status = (status > 0).then_some(status);
        facts.title = self.who.redactor.text(&snap.title);
        let headers = self.last_headers.clone();
        sr.capture = Some(self.capture(&snap.url, status, &headers, &snap.html));
    }

    fn capture(&self, url: &str, status: u16, headers: &[(String, String)], html: &str) -> PageCapture {
        let limit = self.runner.capture_limit;
        let body = &html.as_bytes()[..html.len().min(limit)];
        PageCapture {
            url: self.who.redactor.text(url),
            status,
            headers: headers.iter().map(|(k, v)| (k.clone(), self.who.redactor.header(k, v))).collect(),
            body: self.who.redactor.bytes(body),
            truncated: html.len() > limit,
            received_at: Utc::now(),
        }
    }

    /// Counters of the page since the previous step.
    fn record_log(&mut self, facts: &mut BrowserFacts) {
        let now = self.page.log();
        let new_console = now.console_errors.len().saturating_sub(self.seen.console_errors.len());
        facts.console_errors = now.console_errors[now.console_errors.len() - new_console..].to_vec();
        facts.console_error_count = now.console_error_count - self.seen.console_error_count;
        let new_failed = now.failed.len().saturating_sub(self.seen.failed.len());
        facts.failed_requests = now.failed[now.failed.len() - new_failed..]
            .iter()
            .map(|f| FailedRequest {
                url: self.who.redactor.text(&f.url),
                status: f.status,
                error: f.error.clone(),
            })
            .collect();
        facts.failed_request_count = now.failed_count - self.seen.failed_count;
        facts.requests = now.requests - self.seen.requests;
        facts.blocked_requests = now.blocked - self.seen.blocked;
        self.seen = now;
    }

    /// The page's screenshot with vigie's banner above it.
    async fn screenshot(&self, step: &Step, sr: &StepResult) -> Result<Screenshot, String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let page_png = self
            .page
            .screenshot(MAX_SHOT_HEIGHT, deadline)
            .await
            .map_err(|e| format!("page: {e}"))?;
        let taken_at = Utc::now();
        let width = banner::dimensions(&page_png).map(|(w, _)| w).unwrap_or(self.settings.viewport.0);
        let paris = taken_at.with_timezone(&chrono_tz::Europe::Paris);
        let facts = BannerFacts {
            url: sr.url.as_deref().unwrap_or(""),
            paris: paris.format("%d/%m/%Y à %H:%M:%S").to_string(),
            utc: taken_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            title: &self.probe.title,
            location: &self.runner.browser.location,
            step: &step.name,
        };
        let html = banner::html(&facts, width);
        let top = crate::browser::page::render_html(&self.cdp, &html, width, deadline)
            .await
            .map_err(|e| format!("banner: {e}"))?;
        let png = banner::stack(&top, &page_png).map_err(|e| format!("stacking: {e}"))?;
        // Pixels cannot be redacted: password fields show dots, and the
        // docs tell probe writers never to type a secret into a visible field.
        let (width, height) = banner::dimensions(&png).ok_or("stacked image unreadable")?;
        Ok(Screenshot {
            png,
            width,
            height,
            taken_at,
        })
    }
}

/// [`super::explain_failed_page`] on a page captured after a failed action or wait.
fn explain_capture(probe: &Probe, step: &Step, c: &PageCapture) -> Option<StepEnd> {
    let body = String::from_utf8_lossy(&c.body);
    let r = Response::new(c.status, &c.headers, &body, &c.url, &[], Duration::ZERO);
    super::explain_failed_page(probe, step, &r)
}
