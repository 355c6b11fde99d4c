//! The admin API under `/__sim/`, served on every site's listener, loopback peers only.
//!
//! Admin requests bypass the fault gate (they are neither faulted nor logged): a test must be
//! able to repair a site that it broke. A site that is down cannot serve its own admin API;
//! use another site's, which controls the same simulator.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::json;

use super::pages::json;
use super::{Shared, StatePatch};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sim/state", get(get_state).patch(patch_state))
        .route("/__sim/reset", post(reset))
        .route("/__sim/requests", get(requests))
        .route("/__sim/{*rest}", any(unknown))
        .layer(from_fn(loopback_only))
}

/// Whether a peer may use the admin API. Without connection info (no peer known) the answer is
/// no: the simulator must never be steerable from outside the machine.
pub(crate) fn allowed(peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| match p.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    })
}

/// Whether `authority` (a `Host` header, or an `Origin`'s host and port) names this machine's
/// loopback: `127.x.x.x`, `localhost` or `[::1]`, with any port.
pub(crate) fn loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why a request may not drive the simulator, if it may not: a peer outside loopback, a
/// `Host` that is not loopback (DNS rebinding), or an `Origin` that is not (a web page in a
/// browser on this machine posting to the admin API).
fn refusal(req: &Request) -> Option<&'static str> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    if !allowed(peer) {
        return Some("the simulator admin API only answers loopback clients");
    }
    let header = |name: header::HeaderName| req.headers().get(name).map(|v| v.to_str().unwrap_or("?"));
    if header(header::HOST).is_some_and(|h| !loopback_authority(h)) {
        return Some("the simulator admin API only answers requests addressed to a loopback name (Host)");
    }
    let origin_ok = |o: &str| {
        o.split_once("://")
            .is_some_and(|(_, a)| loopback_authority(a.trim_end_matches('/')))
    };
    if header(header::ORIGIN).is_some_and(|o| !origin_ok(o)) {
        return Some("the simulator admin API refuses requests from web pages (Origin)");
    }
    None
}

async fn loopback_only(req: Request, next: Next) -> Response {
    if let Some(why) = refusal(&req) {
        return json(StatusCode::FORBIDDEN, json!({ "error": why }));
    }
    next.run(req).await
}

async fn get_state(State(shared): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, json!(shared.state()))
}

async fn patch_state(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let patch = match std::str::from_utf8(&body)
        .map_err(|e| super::SimError::InvalidPatch(e.to_string()))
        .and_then(StatePatch::from_json)
    {
        Ok(p) => p,
        Err(e) => return json(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
    };
    match shared.apply(&patch) {
        Ok(state) => json(StatusCode::OK, json!(state)),
        Err(e @ super::SimError::InvalidPatch(_)) => json(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
        Err(e) => json(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e.to_string()})),
    }
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, json!(shared.reset()))
}

async fn requests(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let since = match q.get("since").map(|s| s.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return json(StatusCode::BAD_REQUEST, json!({"error": "since must be a non-negative integer"})),
    };
    let records = shared.requests_since(since);
    let last = records.last().map_or(since, |r| r.seq);
    json(StatusCode::OK, json!({"last_seq": last, "requests": records}))
}

async fn unknown() -> Response {
    json(
        StatusCode::NOT_FOUND,
        json!({"error": "unknown admin route; see GET /__sim/state, PATCH /__sim/state, POST /__sim/reset, GET /__sim/requests?since=N"}),
    )
}
