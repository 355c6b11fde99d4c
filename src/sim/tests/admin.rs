//! Admin API tests: state, patches and their errors, reset, the request log, loopback only.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{client, sim};
use crate::sim::{admin, server, FaultMode, RouteKey, SimState, Site};

#[tokio::test]
async fn state_patch_and_reset_over_http() {
    let sim = sim().await;
    let c = client();
    let admin = format!("{}/__sim", sim.portal_url());

    let state: Value = c.get(format!("{admin}/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state, json!(SimState::default()));
    assert_eq!(state["routes"]["home"], json!({"mode": "normal", "delay_ms": 0}));
    assert_eq!(state["captcha"], true);

    let resp = c
        .patch(format!("{admin}/state"))
        .body(r#"{"routes":{"home":{"mode":"maintenance"}},"prefecture_slots":2,"sites":{"rdv":{"min_interval_ms":50}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let state: Value = resp.json().await.unwrap();
    assert_eq!(state["routes"]["home"]["mode"], "maintenance");
    assert_eq!(state["prefecture_slots"], 2);
    let st = sim.state();
    assert_eq!(st.route(RouteKey::Home).mode, FaultMode::Maintenance);
    assert_eq!(st.site(Site::Rdv).min_interval_ms, 50);

    for (body, want) in [
        (r#"{"routes":{"hom":{"mode":"maintenance"}}}"#, "invalid state patch: unknown variant `hom`, expected one of `home`, `login`, `register`, `app`, `api`, `status`, `upload`, `conditions`, `counter`, `slots`, `planning`, `cgu`, `captcha`, `creneau` at line 1 column 16"),
        (r#"{"routes":{"home":{"mode":"maintenance","dealy_ms":5}}}"#, "invalid state patch: unknown field `dealy_ms`, expected `mode` or `delay_ms` at line 1 column 50"),
        (r#"{"sites":{"mars":{"down":true}}}"#, "invalid state patch: unknown variant `mars`, expected one of `portal`, `prefecture`, `rdv` at line 1 column 16"),
        (r#"{"rdv_slots":1000}"#, "invalid state patch: rdv_slots: 1000 is above the maximum of 100"),
        ("not json", "invalid state patch: expected ident at line 1 column 2"),
    ] {
        let resp = c.patch(format!("{admin}/state")).body(body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp.json::<Value>().await.unwrap(), json!({"error": want}));
    }
    // A refused patch changes nothing.
    assert_eq!(sim.state(), st);

    let resp = c.post(format!("{admin}/reset")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.state(), SimState::default());

    let resp = c.get(format!("{admin}/nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Admin traffic is not in the request log.
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn request_log_over_http() {
    let sim = sim().await;
    let c = client();
    for _ in 0..3 {
        c.get(format!("{}/particuliers/", sim.portal_url())).send().await.unwrap();
    }
    let url = format!("{}/__sim/requests", sim.rdv_url());
    let all: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["last_seq"], 3);
    assert_eq!(all["requests"].as_array().unwrap().len(), 3);
    assert_eq!(all["requests"][0]["route"], "home");
    assert_eq!(all["requests"][0]["site"], "portal");
    assert_eq!(all["requests"][0]["mode"], "normal");
    assert!(all["requests"][0]["at"].as_str().unwrap().ends_with('Z'));
    let since: Value = c.get(format!("{url}?since=2")).send().await.unwrap().json().await.unwrap();
    assert_eq!(since["requests"].as_array().unwrap().len(), 1);
    assert_eq!(since["requests"][0]["seq"], 3);
    let none: Value = c.get(format!("{url}?since=3")).send().await.unwrap().json().await.unwrap();
    assert_eq!(none, json!({"last_seq": 3, "requests": []}));
    let resp = c.get(format!("{url}?since=-1")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[test]
fn loopback_rule() {
    let ok = |s: &str| admin::allowed(Some(s.parse::<SocketAddr>().unwrap()));
    assert!(ok("127.0.0.1:1"));
    assert!(ok("127.8.9.10:1"));
    assert!(ok("[::1]:1"));
    assert!(ok("[::ffff:127.0.0.1]:1"));
    assert!(!ok("10.0.0.1:1"));
    assert!(!ok("192.168.1.2:1"));
    assert!(!ok("[2001:db8::1]:1"));
    assert!(!admin::allowed(None));
}

/// The real router, called with a forged peer address: non-loopback peers get 403 and change
/// nothing, while the pages themselves stay public.
#[tokio::test]
async fn admin_refuses_non_loopback_peers() {
    let sim = sim().await;
    let app = server::app(&sim.shared, Site::Portal);
    let call = |method: &str, path: &str, peer: Option<&str>, body: &str| {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body.to_string()))
            .unwrap();
        if let Some(p) = peer {
            req.extensions_mut().insert(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
        }
        app.clone().oneshot(req)
    };
    let patch = r#"{"captcha":false}"#;
    for peer in [Some("203.0.113.5:4000"), Some("[2001:db8::1]:80"), None] {
        let resp = call("PATCH", "/__sim/state", peer, patch).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let resp = call("GET", "/__sim/state", peer, "").await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    assert!(sim.state().captcha);
    let resp = call("GET", "/particuliers/", Some("203.0.113.5:4000"), "").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = call("PATCH", "/__sim/state", Some("127.0.0.1:4000"), patch).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!sim.state().captcha);
    sim.shutdown().await;
}

/// A web page (any Origin but loopback's) or a rebound DNS name (a Host that is not loopback)
/// cannot drive the simulator, even from this machine.
#[tokio::test]
async fn admin_refuses_web_pages_and_foreign_host_names() {
    let sim = sim().await;
    let app = server::app(&sim.shared, Site::Portal);
    let call = |headers: &[(&str, &str)]| {
        let mut req = axum::http::Request::builder().method("POST").uri("/__sim/reset");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo("127.0.0.1:4000".parse::<SocketAddr>().unwrap()));
        app.clone().oneshot(req)
    };
    for headers in [
        &[("host", "127.0.0.1:8181"), ("origin", "https://evil.example")][..],
        &[("host", "127.0.0.1:8181"), ("origin", "null")][..],
        &[("host", "evil.example:8181")][..],
    ] {
        let resp = call(headers).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{headers:?}");
    }
    for headers in [
        &[("host", "127.0.0.1:8181")][..],
        &[("host", "localhost:8181"), ("origin", "http://127.0.0.1:8181")][..],
        &[("host", "[::1]:8181")][..],
    ] {
        let resp = call(headers).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{headers:?}");
    }
    sim.shutdown().await;
}
