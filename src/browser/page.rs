//! One page of a browser run, driven over the DevTools protocol: navigate,
//! wait, act, read the rendered DOM, take screenshots; and what the page did
//! meanwhile (console errors, failed requests, load timings), recorded by a
//! listener task from the protocol's events.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::cdp::{Cdp, Event};
use super::BrowserError;

/// Console errors and failed requests kept per run (the rest are counted).
const KEEP: usize = 50;

/// A request the page is about to make, asked about before it leaves.
#[derive(Debug, Clone)]
pub struct GateRequest {
    pub url: String,
    /// DevTools resource type: `Document` for navigations and form submissions.
    pub resource_type: String,
    pub method: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDecision {
    Continue,
    Block,
}

/// Decides, and may delay (politeness), each request of the page.
pub type Gate = Arc<dyn Fn(GateRequest) -> Pin<Box<dyn Future<Output = GateDecision> + Send>> + Send + Sync>;

/// A request that failed: a network error, or a response of 400 or more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRequest {
    /// Without query string or fragment.
    pub url: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// What the page did, as told by the protocol's events.
#[derive(Debug, Default, Clone)]
pub struct PageLog {
    pub console_errors: Vec<String>,
    pub console_error_count: u32,
    pub failed: Vec<FailedRequest>,
    pub failed_count: u32,
    pub requests: u32,
    pub requests_by_host: BTreeMap<String, u32>,
    pub blocked: u32,
    /// Status and headers of the last main-frame document response.
    pub document: Option<(u16, Vec<(String, String)>)>,
    pub nav_started: Option<Instant>,
    pub dom_content_loaded: Option<Instant>,
    pub loaded: Option<Instant>,
    /// The last navigation stayed in the document (a single-page app's
    /// route, `#/…`): it is complete, and no load event will come.
    pub within_document: bool,
    pub crashed: bool,
    pub closed: bool,
    urls: HashMap<String, String>,
    /// Requests already counted as failed (a 404 script is also reported aborted).
    failed_ids: std::collections::HashSet<String>,
}

/// Timings of one navigation, from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NavTiming {
    pub dom_content_loaded: Option<Duration>,
    pub load: Option<Duration>,
}

/// The rendered page at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub url: String,
    pub title: String,
    /// `document.documentElement.outerHTML`, capped.
    pub html: String,
    /// `document.body.innerText`: what a person reads.
    pub text: String,
}

pub struct Page {
    cdp: Cdp,
    session: String,
    main_frame: String,
    log: Arc<Mutex<PageLog>>,
    changed: Arc<Notify>,
}

fn strip_query(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_string()
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_default()
}

const SHORT: Duration = Duration::from_secs(10);

impl Page {
    /// Open a new page (tab) in the browser and start recording its events.
    pub async fn open(cdp: Cdp, events: mpsc::UnboundedReceiver<Event>, gate: Gate, viewport: (u32, u32)) -> Result<Page, BrowserError> {
        let t = cdp
            .call("Target.createTarget", json!({ "url": "about:blank" }), None, SHORT)
            .await?;
        let target = t["targetId"].as_str().unwrap_or_default().to_string();
        let a = cdp
            .call("Target.attachToTarget", json!({ "targetId": target, "flatten": true }), None, SHORT)
            .await?;
        let session = a["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("no session id".into()))?
            .to_string();
        let log = Arc::new(Mutex::new(PageLog::default()));
        let changed = Arc::new(Notify::new());
        tokio::spawn(listen(
            events,
            cdp.clone(),
            session.clone(),
            target.clone(),
            log.clone(),
            changed.clone(),
            gate,
        ));
        let s = Some(session.as_str());
        for m in ["Page.enable", "Network.enable", "Runtime.enable", "Log.enable", "Inspector.enable"] {
            cdp.call(m, json!({}), s, SHORT).await?;
        }
        cdp.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true }), s, SHORT)
            .await?;
        cdp.call("Network.setCacheDisabled", json!({ "cacheDisabled": true }), s, SHORT)
            .await?;
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": viewport.0, "height": viewport.1, "deviceScaleFactor": 1, "mobile": false }),
            s,
            SHORT,
        )
        .await?;
        cdp.call("Fetch.enable", json!({ "patterns": [{ "urlPattern": "*" }] }), s, SHORT)
            .await?;
        let tree = cdp.call("Page.getFrameTree", json!({}), s, SHORT).await?;
        let main_frame = tree["frameTree"]["frame"]["id"].as_str().unwrap_or_default().to_string();
        Ok(Page {
            cdp,
            session,
            main_frame,
            log,
            changed,
        })
    }

    async fn call(&self, method: &str, params: Value, deadline: Duration) -> Result<Value, BrowserError> {
        let log = self.log();
        if log.crashed {
            return Err(BrowserError::Crashed);
        }
        if log.closed {
            return Err(BrowserError::Closed);
        }
        self.cdp.call(method, params, Some(&self.session), deadline).await
    }

    /// A copy of what the page did so far.
    pub fn log(&self) -> PageLog {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forget the current document's load state; returns what it was, for
    /// [`Page::restore_navigation`].
    fn begin_navigation(&self) -> PageLog {
        let mut l = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let before = l.clone();
        l.nav_started = Some(Instant::now());
        l.dom_content_loaded = None;
        l.loaded = None;
        l.document = None;
        l.within_document = false;
        before
    }

    /// A same-document navigation loads nothing: the document, its status
    /// and its load times stay those of the page already shown.
    fn restore_navigation(&self, before: PageLog) {
        let mut l = self.log.lock().unwrap_or_else(|e| e.into_inner());
        l.nav_started = before.nav_started;
        l.dom_content_loaded = before.dom_content_loaded;
        l.loaded = before.loaded;
        l.document = before.document;
        l.within_document = true;
    }

    /// Go to `url` and wait for its load event. `Err(Navigation)` carries
    /// Chromium's network error (`net::ERR_CONNECTION_REFUSED`…).
    pub async fn navigate(&self, url: &str, deadline: Instant) -> Result<NavTiming, BrowserError> {
        let before = self.begin_navigation();
        let left = deadline.saturating_duration_since(Instant::now());
        let r = self.call("Page.navigate", json!({ "url": url }), left).await?;
        if let Some(e) = r.get("errorText").and_then(Value::as_str) {
            return Err(BrowserError::Navigation(e.to_string()));
        }
        if r.get("loaderId").and_then(Value::as_str).is_none_or(str::is_empty) {
            // Only the fragment changed (a single-page app's route): Chromium
            // reports no loader and no load event will come.
            self.restore_navigation(before);
            return Ok(NavTiming {
                dom_content_loaded: None,
                load: None,
            });
        }
        self.wait_loaded(deadline).await
    }

    /// After an action: if it started a navigation (a link, a form), wait
    /// for that page's load event; otherwise return at once.
    pub async fn settle(&self, started: Instant, deadline: Instant) -> Result<Option<NavTiming>, BrowserError> {
        let grace = Instant::now() + Duration::from_millis(150);
        loop {
            let navigating = self.log().nav_started.is_some_and(|t| t >= started);
            if navigating {
                return self.wait_loaded(deadline).await.map(Some);
            }
            if Instant::now() >= grace.min(deadline) {
                return Ok(None);
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), self.changed.notified()).await;
        }
    }

    async fn wait_loaded(&self, deadline: Instant) -> Result<NavTiming, BrowserError> {
        loop {
            let l = self.log();
            if l.crashed {
                return Err(BrowserError::Crashed);
            }
            let start = l.nav_started.unwrap_or_else(Instant::now);
            if l.within_document {
                return Ok(NavTiming {
                    dom_content_loaded: None,
                    load: None,
                });
            }
            if let Some(loaded) = l.loaded {
                return Ok(NavTiming {
                    dom_content_loaded: l.dom_content_loaded.map(|t| t.saturating_duration_since(start)),
                    load: Some(loaded.saturating_duration_since(start)),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(BrowserError::Timeout("page load".into()));
            }
            let _ = tokio::time::timeout(deadline - now, self.changed.notified()).await;
        }
    }

    /// Evaluate JavaScript in the page and return its (JSON) value.
    pub async fn eval(&self, expression: &str, deadline: Instant) -> Result<Value, BrowserError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
                left,
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or(ex["text"].as_str())
                .unwrap_or("exception");
            return Err(BrowserError::Script(text.lines().next().unwrap_or_default().to_string()));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Poll `expression` (a JavaScript boolean) until it is true.
    pub async fn wait_until(&self, expression: &str, deadline: Instant) -> Result<Duration, BrowserError> {
        let t0 = Instant::now();
        loop {
            // Each look gets at least a second, so a slow machine near the
            // deadline is not taken for a page that stopped answering.
            let look = deadline.max(Instant::now() + Duration::from_secs(1));
            match self.eval(expression, look).await {
                Ok(Value::Bool(true)) => return Ok(t0.elapsed()),
                // Not yet; or a navigation destroyed the context: try again.
                Ok(_) | Err(BrowserError::Script(_)) | Err(BrowserError::Command(..)) => {}
                // The page's script never yielded: not "absent", unresponsive.
                Err(BrowserError::Timeout(_)) => return Err(BrowserError::Timeout("page (busy script)".into())),
                Err(e) => return Err(e),
            }
            if self.log().crashed {
                return Err(BrowserError::Crashed);
            }
            if Instant::now() + Duration::from_millis(100) >= deadline {
                return Err(BrowserError::Timeout("wait".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A real mouse click at the centre of the first element matching `css`.
    /// `Ok(false)` when there is no such element.
    pub async fn click(&self, css: &str, deadline: Instant) -> Result<bool, BrowserError> {
        let js = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center', inline: 'center'}}); const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            sel = js_string(css)
        );
        let Some(xy) = self.eval(&js, deadline).await?.as_array().cloned() else {
            return Ok(false);
        };
        let (x, y) = (xy[0].as_f64().unwrap_or(0.0), xy[1].as_f64().unwrap_or(0.0));
        let left = deadline.saturating_duration_since(Instant::now());
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
                left,
            )
            .await?;
        }
        Ok(true)
    }

    /// Type `text` into the first element matching `css`, as a person would
    /// (focus, clear, insert text: the page sees input events).
    pub async fn fill(&self, css: &str, text: &str, deadline: Instant) -> Result<bool, BrowserError> {
        let js = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return false; e.focus(); if ('value' in e) {{ e.value = ''; e.dispatchEvent(new Event('input', {{bubbles: true}})); }} return true; }})()",
            sel = js_string(css)
        );
        if self.eval(&js, deadline).await? != Value::Bool(true) {
            return Ok(false);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.call("Input.insertText", json!({ "text": text }), left).await?;
        let js = format!(
            "(() => {{ const e = document.querySelector({sel}); if (e) e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
            sel = js_string(css)
        );
        self.eval(&js, deadline).await?;
        Ok(true)
    }

    /// Choose an option of a `<select>` by value or visible text.
    /// `Ok(None)`: no such element; `Ok(Some(false))`: no such option.
    pub async fn select(&self, css: &str, value: &str, deadline: Instant) -> Result<Option<bool>, BrowserError> {
        let js = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; const v = {val}; const o = Array.from(e.options || []).find(o => o.value === v || o.text.trim() === v); if (!o) return false; e.value = o.value; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
            sel = js_string(css),
            val = js_string(value)
        );
        Ok(self.eval(&js, deadline).await?.as_bool())
    }

    /// Whether the first element matching `css` is checked (`None`: absent).
    pub async fn is_checked(&self, css: &str, deadline: Instant) -> Result<Option<bool>, BrowserError> {
        let js = format!(
            "(() => {{ const e = document.querySelector({sel}); return e ? !!e.checked : null; }})()",
            sel = js_string(css)
        );
        Ok(self.eval(&js, deadline).await?.as_bool())
    }

    /// Set the files of an `<input type=file>` (paths on this machine).
    pub async fn set_files(&self, css: &str, files: &[String], deadline: Instant) -> Result<bool, BrowserError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let doc = self.call("DOM.getDocument", json!({ "depth": 0 }), left).await?;
        let root = doc["root"]["nodeId"].as_i64().unwrap_or(0);
        let q = self
            .call("DOM.querySelector", json!({ "nodeId": root, "selector": css }), left)
            .await?;
        let node = q["nodeId"].as_i64().unwrap_or(0);
        if node == 0 {
            return Ok(false);
        }
        self.call("DOM.setFileInputFiles", json!({ "files": files, "nodeId": node }), left)
            .await?;
        Ok(true)
    }

    /// The rendered page: URL, title, DOM (capped at `max_html` bytes) and visible text.
    pub async fn snapshot(&self, max_html: usize, deadline: Instant) -> Result<Snapshot, BrowserError> {
        let js = format!(
            "(() => {{ const h = document.documentElement ? document.documentElement.outerHTML : ''; return {{ url: location.href, title: document.title || '', html: h.length > {max_html} ? h.slice(0, {max_html}) : h, text: document.body ? document.body.innerText.slice(0, {max_html}) : '' }}; }})()"
        );
        let v = self.eval(&js, deadline).await?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Ok(Snapshot {
            url: s("url"),
            title: s("title"),
            html: s("html"),
            text: s("text"),
        })
    }

    /// A PNG of the whole page (beyond the viewport), at most `max_height` pixels tall.
    pub async fn screenshot(&self, max_height: u32, deadline: Instant) -> Result<Vec<u8>, BrowserError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = self.call("Page.getLayoutMetrics", json!({}), left).await?;
        let size = &m["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(1280.0).clamp(1.0, 4096.0);
        let height = size["height"].as_f64().unwrap_or(800.0).clamp(1.0, f64::from(max_height));
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true, "fromSurface": true,
                        "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 } }),
                left,
            )
            .await?;
        let data = shot["data"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("no screenshot data".into()))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Protocol(format!("screenshot: {e}")))
    }

    /// Close this page's target.
    pub async fn close(&self) {
        let _ = self
            .cdp
            .call("Target.closeTarget", json!({ "targetId": self.main_frame }), None, SHORT)
            .await;
    }
}

/// Render standalone HTML (the evidence banner) in a new tab of the same
/// browser, `width` CSS pixels wide, and return its PNG.
pub async fn render_html(cdp: &Cdp, html: &str, width: u32, deadline: Instant) -> Result<Vec<u8>, BrowserError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let data_url = format!(
        "data:text/html;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(html)
    );
    let t = cdp.call("Target.createTarget", json!({ "url": "about:blank" }), None, left).await?;
    let target = t["targetId"].as_str().unwrap_or_default().to_string();
    let a = cdp
        .call("Target.attachToTarget", json!({ "targetId": target, "flatten": true }), None, left)
        .await?;
    let session = a["sessionId"].as_str().unwrap_or_default().to_string();
    let s = Some(session.as_str());
    let result = async {
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 200, "deviceScaleFactor": 1, "mobile": false }),
            s,
            left,
        )
        .await?;
        cdp.call("Page.navigate", json!({ "url": data_url }), s, left).await?;
        for _ in 0..50 {
            let r = cdp
                .call("Runtime.evaluate", json!({ "expression": "document.readyState", "returnByValue": true }), s, left)
                .await?;
            if r["result"]["value"] == "complete" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let r = cdp
            .call(
                "Runtime.evaluate",
                json!({ "expression": "Math.ceil(document.body.firstElementChild ? document.body.firstElementChild.getBoundingClientRect().bottom : 100)", "returnByValue": true }),
                s,
                left,
            )
            .await?;
        let height = r["result"]["value"].as_f64().unwrap_or(100.0).clamp(1.0, 2000.0);
        let shot = cdp
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true,
                        "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 } }),
                s,
                left,
            )
            .await?;
        let data = shot["data"].as_str().unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Protocol(format!("banner: {e}")))
    }
    .await;
    let _ = cdp.call("Target.closeTarget", json!({ "targetId": target }), None, SHORT).await;
    result
}

/// A JavaScript string literal for `s`.
pub fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

async fn listen(
    mut events: mpsc::UnboundedReceiver<Event>,
    cdp: Cdp,
    session: String,
    main_frame: String,
    log: Arc<Mutex<PageLog>>,
    changed: Arc<Notify>,
    gate: Gate,
) {
    while let Some(ev) = events.recv().await {
        if ev.method == "Fetch.requestPaused" && ev.session.as_deref() == Some(session.as_str()) {
            tokio::spawn(answer_paused(cdp.clone(), session.clone(), ev.params, gate.clone(), log.clone()));
            continue;
        }
        let ours = ev.session.as_deref() == Some(session.as_str())
            || (ev.method == "Target.detachedFromTarget" && ev.params["sessionId"].as_str() == Some(session.as_str()));
        if ours {
            record(&mut log.lock().unwrap_or_else(|e| e.into_inner()), &ev, &main_frame);
            changed.notify_waiters();
        }
    }
    log.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    changed.notify_waiters();
}

async fn answer_paused(cdp: Cdp, session: String, p: Value, gate: Gate, log: Arc<Mutex<PageLog>>) {
    let id = p["requestId"].as_str().unwrap_or_default().to_string();
    let req = GateRequest {
        url: p["request"]["url"].as_str().unwrap_or_default().to_string(),
        resource_type: p["resourceType"].as_str().unwrap_or_default().to_string(),
        method: p["request"]["method"].as_str().unwrap_or("GET").to_string(),
    };
    let decision = gate(req).await;
    let s = Some(session.as_str());
    match decision {
        GateDecision::Continue => {
            let _ = cdp.call("Fetch.continueRequest", json!({ "requestId": id }), s, SHORT).await;
        }
        GateDecision::Block => {
            log.lock().unwrap_or_else(|e| e.into_inner()).blocked += 1;
            let _ = cdp
                .call(
                    "Fetch.failRequest",
                    json!({ "requestId": id, "errorReason": "BlockedByClient" }),
                    s,
                    SHORT,
                )
                .await;
        }
    }
}

fn push_bounded<T>(v: &mut Vec<T>, count: &mut u32, item: T) {
    *count += 1;
    if v.len() < KEEP {
        v.push(item);
    }
}

fn console_text(p: &Value) -> String {
    let args = p["args"].as_array().cloned().unwrap_or_default();
    let parts: Vec<String> = args
        .iter()
        .map(|a| match &a["value"] {
            Value::String(s) => s.clone(),
            Value::Null => a["description"].as_str().unwrap_or_default().to_string(),
            other => other.to_string(),
        })
        .collect();
    crate::probe::text::truncate_chars(&parts.join(" "), 300)
}

/// `main_frame`: the page's top frame, whose id is its target's.
fn record(l: &mut PageLog, ev: &Event, main_frame: &str) {
    let p = &ev.params;
    match ev.method.as_str() {
        // A navigation of the top frame starts (a link, a form, a script):
        // its load timings start now.
        "Page.frameStartedLoading"
            if p["frameId"].as_str() == Some(main_frame) && (l.nav_started.is_none() || l.loaded.is_some() || l.within_document) =>
        {
            l.nav_started = Some(Instant::now());
            l.dom_content_loaded = None;
            l.loaded = None;
            l.document = None;
            l.within_document = false;
        }
        "Page.navigatedWithinDocument" if p["frameId"].as_str() == Some(main_frame) => l.within_document = true,
        "Page.domContentEventFired" => l.dom_content_loaded = Some(Instant::now()),
        "Page.loadEventFired" => l.loaded = Some(Instant::now()),
        "Inspector.targetCrashed" => l.crashed = true,
        "Target.detachedFromTarget" => l.closed = true,
        "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
            let t = console_text(p);
            push_bounded(&mut l.console_errors, &mut l.console_error_count, t);
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let t = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("exception");
            let t = crate::probe::text::truncate_chars(t.lines().next().unwrap_or_default(), 300);
            push_bounded(&mut l.console_errors, &mut l.console_error_count, t);
        }
        "Network.requestWillBeSent" => {
            let url = p["request"]["url"].as_str().unwrap_or_default();
            if url.starts_with("data:") {
                return;
            }
            l.requests += 1;
            *l.requests_by_host.entry(host_of(url)).or_default() += 1;
            if let Some(id) = p["requestId"].as_str() {
                l.urls.insert(id.to_string(), strip_query(url));
            }
        }
        "Network.responseReceived" => {
            let r = &p["response"];
            let status = r["status"].as_u64().unwrap_or(0) as u16;
            if p["type"] == "Document" && p["frameId"].as_str().is_some() && l.document.is_none() {
                let headers = r["headers"]
                    .as_object()
                    .map(|h| {
                        h.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                l.document = Some((status, headers));
            }
            if status >= 400 {
                if let Some(id) = p["requestId"].as_str() {
                    l.failed_ids.insert(id.to_string());
                }
                let url = strip_query(r["url"].as_str().unwrap_or_default());
                push_bounded(
                    &mut l.failed,
                    &mut l.failed_count,
                    FailedRequest {
                        url,
                        status: Some(status),
                        error: None,
                    },
                );
            }
        }
        "Network.loadingFailed" => {
            if p["requestId"].as_str().is_some_and(|id| l.failed_ids.contains(id)) {
                return;
            }
            let url = p["requestId"].as_str().and_then(|id| l.urls.get(id).cloned()).unwrap_or_default();
            let error = p["errorText"].as_str().unwrap_or("failed").to_string();
            push_bounded(
                &mut l.failed,
                &mut l.failed_count,
                FailedRequest {
                    url,
                    status: None,
                    error: Some(error),
                },
            );
        }
        _ => {}
    }
}
