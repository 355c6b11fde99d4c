//! One step's HTTP exchange: render the request, send it through the host's
//! politeness budget, follow redirects by hand, read the body under a cap.
//!
//! Redirects are followed here rather than by reqwest so that each hop is
//! budgeted and timed, the hop limit is ours, and credentials set by the
//! probe are not carried to another origin.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use tokio::time::Instant;

use super::timing;
use super::{classify, politeness, redirect, Runner, Visit};
use crate::probe::result::RequestTiming;
use crate::probe::{Body, JsonTemplate, MultipartPart, PartContent, Reason, RequestPlan};
use crate::template::MissingVariable;

pub struct Exchange {
    pub request_url: url::Url,
    pub url: url::Url,
    pub status: u16,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub time_to_headers: Duration,
    /// Active time of all hops (without politeness waits).
    pub active: Duration,
    pub redirects: u32,
    /// Every request sent, in order (not redacted yet), when there was
    /// more than one; empty for a single request.
    pub hops: Vec<RawHop>,
    pub tls_not_after: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// The address the final response came from (IP and port), as the
    /// connection reported it.
    pub remote_addr: Option<std::net::SocketAddr>,
    /// One per request sent, redirect hops included, in order.
    pub timings: Vec<RequestTiming>,
}

/// One request as sent, before redaction.
#[derive(Debug, Clone)]
pub struct RawHop {
    pub method: Method,
    pub url: url::Url,
    pub status: Option<u16>,
}

pub struct ExchangeError {
    pub reason: Reason,
    pub message: String,
    pub url: Option<String>,
    pub duration: Duration,
    /// The requests sent before the failure (after a redirect), the failing
    /// one last; empty when the first request failed.
    pub hops: Vec<RawHop>,
    /// One per request sent, the failing one last (with the phases it
    /// completed).
    pub timings: Vec<RequestTiming>,
}

/// A request body rendered once per step, rebuildable for each hop (a
/// multipart form is consumed when sent).
#[derive(Clone)]
enum Rendered {
    None,
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
    Multipart(Vec<RenderedPart>),
    Raw(String, Option<String>),
}

#[derive(Clone)]
struct RenderedPart {
    name: String,
    bytes: Vec<u8>,
    filename: Option<String>,
    content_type: Option<String>,
    is_text: bool,
}

fn fail(reason: Reason, message: impl Into<String>, url: Option<&url::Url>, duration: Duration) -> ExchangeError {
    ExchangeError {
        reason,
        message: message.into(),
        url: url.map(|u| u.to_string()),
        duration,
        hops: Vec::new(),
        timings: Vec::new(),
    }
}

fn render(t: &crate::template::Template, visit: &mut Visit) -> Result<String, MissingVariable> {
    let r = t.render(&visit.who.vars, Utc::now())?;
    if r.secret {
        visit.who.redactor.add(&r.text);
    }
    Ok(r.text)
}

fn render_json(t: &JsonTemplate, visit: &mut Visit) -> Result<serde_json::Value, MissingVariable> {
    Ok(match t {
        JsonTemplate::Literal(v) => v.clone(),
        JsonTemplate::String(t) => serde_json::Value::String(render(t, visit)?),
        JsonTemplate::Array(a) => serde_json::Value::Array(a.iter().map(|x| render_json(x, visit)).collect::<Result<_, _>>()?),
        JsonTemplate::Object(o) => {
            let mut m = serde_json::Map::new();
            for (k, v) in o {
                m.insert(k.clone(), render_json(v, visit)?);
            }
            serde_json::Value::Object(m)
        }
    })
}

fn render_part(p: &MultipartPart, visit: &mut Visit) -> Result<RenderedPart, MissingVariable> {
    let (bytes, is_text) = match &p.content {
        PartContent::Text(t) => (render(t, visit)?.into_bytes(), true),
        PartContent::File { bytes, .. } => (bytes.as_ref().clone(), false),
        PartContent::Generated { size, kind } => (kind.generate(*size), false),
    };
    Ok(RenderedPart {
        name: p.name.clone(),
        bytes,
        filename: p.filename.clone(),
        content_type: p.content_type.clone(),
        is_text,
    })
}

fn render_body(b: &Body, visit: &mut Visit) -> Result<Rendered, MissingVariable> {
    Ok(match b {
        Body::None => Rendered::None,
        Body::Form(pairs) => Rendered::Form(
            pairs
                .iter()
                .map(|(k, t)| Ok((k.clone(), render(t, visit)?)))
                .collect::<Result<_, MissingVariable>>()?,
        ),
        Body::Json(j) => Rendered::Json(render_json(j, visit)?),
        Body::Multipart(parts) => Rendered::Multipart(parts.iter().map(|p| render_part(p, visit)).collect::<Result<_, _>>()?),
        Body::Raw { text, content_type } => Rendered::Raw(render(text, visit)?, content_type.clone()),
    })
}

fn attach(mut req: reqwest::RequestBuilder, body: &Rendered) -> Result<reqwest::RequestBuilder, String> {
    req = match body {
        Rendered::None => req,
        Rendered::Form(pairs) => req.form(pairs),
        Rendered::Json(v) => req.json(v),
        Rendered::Raw(text, ct) => {
            let r = req.body(text.clone());
            match ct {
                Some(c) => r.header(reqwest::header::CONTENT_TYPE, c.as_str()),
                None => r,
            }
        }
        Rendered::Multipart(parts) => {
            let mut form = reqwest::multipart::Form::new();
            for p in parts {
                if p.is_text && p.filename.is_none() && p.content_type.is_none() {
                    form = form.text(p.name.clone(), String::from_utf8_lossy(&p.bytes).into_owned());
                    continue;
                }
                let mut part = reqwest::multipart::Part::bytes(p.bytes.clone());
                if let Some(f) = &p.filename {
                    part = part.file_name(f.clone());
                }
                if let Some(ct) = &p.content_type {
                    part = part.mime_str(ct).map_err(|e| format!("invalid content type `{ct}`: {e}"))?;
                }
                form = form.part(p.name.clone(), part);
            }
            req.multipart(form)
        }
    };
    Ok(req)
}

/// Send the step's request and follow its redirects. The chain of requests
/// sent is kept (in the result or the error) when there was more than one.
pub async fn perform(runner: &Runner, plan: &RequestPlan, visit: &mut Visit, budget: Duration) -> Result<Exchange, ExchangeError> {
    let mut hops = Vec::new();
    let mut timings = Vec::new();
    let result = send(runner, plan, visit, budget, (&mut hops, &mut timings)).await;
    if hops.len() < 2 {
        hops.clear();
    }
    match result {
        Ok(mut ex) => {
            ex.hops = hops;
            ex.timings = timings;
            Ok(ex)
        }
        Err(mut e) => {
            e.hops = hops;
            e.timings = timings;
            Err(e)
        }
    }
}

async fn send(
    runner: &Runner,
    plan: &RequestPlan,
    visit: &mut Visit,
    budget: Duration,
    (hops, timings): (&mut Vec<RawHop>, &mut Vec<RequestTiming>),
) -> Result<Exchange, ExchangeError> {
    let missing = |e: MissingVariable| fail(Reason::Request, e.to_string(), None, Duration::ZERO);
    let url_text = render(&plan.url, visit).map_err(missing)?;
    let mut url =
        url::Url::parse(&url_text).map_err(|e| fail(Reason::Request, format!("invalid URL `{url_text}`: {e}"), None, Duration::ZERO))?;
    if !plan.query.is_empty() {
        let mut rendered = Vec::new();
        for (k, t) in &plan.query {
            rendered.push((k.clone(), render(t, visit).map_err(missing)?));
        }
        url.query_pairs_mut().extend_pairs(rendered);
    }
    let mut headers = HeaderMap::new();
    for (k, t) in &plan.headers {
        let v = render(t, visit).map_err(missing)?;
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| fail(Reason::Request, format!("header {k}: {e}"), None, Duration::ZERO))?;
        let value = HeaderValue::from_str(&v).map_err(|e| fail(Reason::Request, format!("header {k}: {e}"), None, Duration::ZERO))?;
        headers.insert(name, value);
    }
    let mut body = render_body(&plan.body, visit).map_err(missing)?;
    let mut method = plan.method.clone();
    let origin = url.origin();
    let request_url = url.clone();
    let mut active = Duration::ZERO;
    let mut redirects = 0u32;
    // The kinds of network the step's first host is on, looked up only when
    // a redirect leaves that host.
    let mut first_kinds: Option<Vec<redirect::AddrKind>> = None;
    loop {
        let slot = runner.budgets.budget(&politeness::host_key(&url)).acquire().await;
        visit.politeness_wait += slot.waited;
        let left = budget.saturating_sub(active);
        if left.is_zero() {
            return Err(fail(
                Reason::Timeout,
                format!("timed out after {}", crate::config::units::format_duration(active)),
                Some(&url),
                active,
            ));
        }
        let t0 = Instant::now();
        let sent_at = std::time::Instant::now();
        let mut req = visit.client.request(method.clone(), url.clone());
        // Headers the probe set are not sent to another origin after a redirect.
        if url.origin() == origin {
            req = req.headers(headers.clone());
        }
        let req = attach(req, &body).map_err(|m| fail(Reason::Request, m, Some(&url), active))?;
        hops.push(RawHop {
            method: method.clone(),
            url: url.clone(),
            status: None,
        });
        let sent = tokio::time::timeout(left, req.send()).await;
        if sent.as_ref().map_or(true, |r| r.is_err()) {
            let phases = visit.timer.phases(sent_at, None, None, std::time::Instant::now());
            timings.push(timing::request_timing(phases, None));
        }
        let mut resp = match sent {
            Err(_) => {
                active += t0.elapsed();
                visit.active += t0.elapsed();
                return Err(fail(
                    Reason::Timeout,
                    format!("no response within {}", crate::config::units::format_duration(left)),
                    Some(&url),
                    active,
                ));
            }
            Ok(Err(e)) => {
                active += t0.elapsed();
                visit.active += t0.elapsed();
                return Err(fail(classify::classify(&e), classify::describe(&e), Some(&url), active));
            }
            Ok(Ok(r)) => r,
        };
        let time_to_headers = t0.elapsed();
        let headers_at = std::time::Instant::now();
        let status = resp.status();
        if let Some(h) = hops.last_mut() {
            h.status = Some(status.as_u16());
        }
        let version = format!("{:?}", resp.version());
        let remote_addr = resp.remote_addr();
        let resp_headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        learn_cookies(&resp_headers, visit);
        tracing::trace!(
            method = %method,
            url = %visit.who.redactor.text(url.as_str()),
            status = status.as_u16(),
            headers_ms = time_to_headers.as_millis() as u64,
            "hop answered"
        );
        let tls_not_after = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .and_then(cert_not_after);
        // Read the body under the size cap and the remaining time.
        let mut buf: Vec<u8> = Vec::new();
        let read = tokio::time::timeout(left.saturating_sub(time_to_headers), async {
            while let Some(chunk) = resp.chunk().await? {
                if buf.len() as u64 + chunk.len() as u64 > plan.max_body {
                    return Ok::<bool, reqwest::Error>(false);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(true)
        })
        .await;
        let phases = visit
            .timer
            .phases(sent_at, timing::local_addr(&resp), Some(headers_at), std::time::Instant::now());
        timings.push(timing::request_timing(phases, Some(&resp)));
        let elapsed = t0.elapsed();
        active += elapsed;
        visit.active += elapsed;
        drop(slot);
        match read {
            Err(_) => {
                return Err(fail(
                    Reason::Timeout,
                    format!("response body not complete within {}", crate::config::units::format_duration(left)),
                    Some(&url),
                    active,
                ))
            }
            Ok(Err(e)) => return Err(fail(classify::classify(&e), classify::describe(&e), Some(&url), active)),
            Ok(Ok(false)) => {
                return Err(fail(
                    Reason::BodyTooLarge,
                    format!(
                        "response body larger than the {} byte limit (HTTP {})",
                        plan.max_body,
                        status.as_u16()
                    ),
                    Some(&url),
                    active,
                ))
            }
            Ok(Ok(true)) => {}
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|s| s.to_string());
        if plan.follow_redirects && status.is_redirection() {
            if let Some(loc) = location {
                if redirects >= plan.max_redirects {
                    return Err(fail(
                        Reason::TooManyRedirects,
                        format!("more than {} redirects", plan.max_redirects),
                        Some(&url),
                        active,
                    ));
                }
                let next = url.join(&loc).map_err(|e| {
                    fail(
                        Reason::Request,
                        format!("invalid redirect Location `{loc}`: {e}"),
                        Some(&url),
                        active,
                    )
                })?;
                if first_kinds.is_none() && next.host() != request_url.host() {
                    first_kinds = Some(redirect::kinds(&request_url).await);
                }
                let has_body = !matches!(body, Rendered::None);
                let kinds = first_kinds.as_deref().unwrap_or(&[]);
                if let Some(why) = redirect::refuse(status.as_u16(), has_body, &request_url, kinds, &next).await {
                    return Err(fail(Reason::UnsafeRedirect, why, Some(&url), active));
                }
                match status.as_u16() {
                    307 | 308 => {}
                    303 => {
                        method = if method == Method::HEAD { Method::HEAD } else { Method::GET };
                        body = Rendered::None;
                    }
                    _ => {
                        if method == Method::POST {
                            method = Method::GET;
                            body = Rendered::None;
                        }
                    }
                }
                redirects += 1;
                url = next;
                continue;
            }
        }
        return Ok(Exchange {
            request_url,
            url,
            status: status.as_u16(),
            version,
            headers: resp_headers,
            body: buf,
            time_to_headers,
            active,
            redirects,
            hops: Vec::new(),
            tls_not_after,
            received_at: Utc::now(),
            remote_addr,
            timings: Vec::new(),
        });
    }
}

/// Every cookie a hop sets is a secret of the run, whatever its path or
/// domain (the jar may never send it back, but a page may echo it).
fn learn_cookies(headers: &[(String, String)], visit: &mut Visit) {
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("set-cookie") {
            if let Some((_, rest)) = v.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default().trim().trim_matches('"');
                visit.who.redactor.add(value);
            }
        }
    }
}

fn cert_not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
}
