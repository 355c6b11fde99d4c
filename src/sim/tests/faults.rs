//! Fault tests: every route mode, delays, sites going down and up, the min-interval limiter,
//! and shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{client, location, sim};
use crate::sim::faults::{ERREUR_TECHNIQUE, MAINTENANCE};
use crate::sim::{FaultMode, RouteKey, SimHandle, Site, StatePatch};

fn set_mode(sim: &SimHandle, route: &str, mode: &str) {
    sim.apply(&StatePatch::from_json(&format!(r#"{{"routes":{{"{route}":{{"mode":"{mode}"}}}}}}"#)).unwrap())
        .unwrap();
}

fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

async fn get_home(sim: &SimHandle) -> reqwest::Response {
    client().get(format!("{}/particuliers/", sim.portal_url())).send().await.unwrap()
}

#[tokio::test]
async fn status_modes() {
    let sim = sim().await;

    set_mode(&sim, "home", "maintenance");
    let resp = get_home(&sim).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "600");
    assert!(resp.text().await.unwrap().contains(MAINTENANCE));

    set_mode(&sim, "register", "error_page");
    let resp = client()
        .get(format!(
            "{}/auth/realms/anef-usagers/login-actions/registration?client_id=anef-usagers",
            sim.portal_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains(ERREUR_TECHNIQUE));

    set_mode(&sim, "conditions", "server_error");
    let resp = client()
        .get(format!("{}/booking/create/4242/0", sim.prefecture_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);

    set_mode(&sim, "cgu", "bad_gateway");
    let resp = client()
        .get(format!("{}/rdvpref/reservation/demarche/1/cgu/", sim.rdv_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(resp.text().await.unwrap().contains("502 Bad Gateway"));

    // Faults apply per route: the login page is untouched.
    let resp = client()
        .get(format!(
            "{}/auth/realms/anef-usagers/protocol/openid-connect/auth?client_id=anef-usagers&redirect_uri=x",
            sim.portal_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    set_mode(&sim, "home", "normal");
    assert_eq!(get_home(&sim).await.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn delay_applies_with_the_mode() {
    let sim = sim().await;
    sim.apply(&StatePatch::from_json(r#"{"routes":{"home":{"delay_ms":300},"status":{"delay_ms":500,"mode":"maintenance"}}}"#).unwrap())
        .unwrap();
    let t = Instant::now();
    assert_eq!(get_home(&sim).await.status(), StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    let resp = client()
        .get(format!("{}/api/sejour/usager/statut/demande_sejour", sim.portal_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(t.elapsed() >= Duration::from_millis(500));
    let t = Instant::now();
    client().get(format!("{}/api/usager/moi", sim.portal_url())).send().await.unwrap();
    // Other routes are not delayed (a wide margin for a loaded machine).
    assert!(t.elapsed() < Duration::from_millis(250));
    sim.shutdown().await;
}

#[tokio::test]
async fn hang_never_answers() {
    let sim = sim().await;
    set_mode(&sim, "home", "hang");
    let c = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let t = Instant::now();
    let err = c.get(format!("{}/particuliers/", sim.portal_url())).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(t.elapsed() >= Duration::from_millis(300));
    // A hung request does not hold up shutdown.
    let hung = tokio::spawn({
        let url = format!("{}/particuliers/", sim.portal_url());
        async move { reqwest::get(url).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = Instant::now();
    sim.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(hung.await.unwrap().is_err());
}

#[tokio::test]
async fn reset_closes_without_response() {
    let sim = sim().await;
    set_mode(&sim, "home", "reset");
    let mut s = TcpStream::connect(addr(&sim.portal_url())).await.unwrap();
    s.write_all(b"GET /particuliers/ HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("closed promptly");
    assert!(buf.is_empty(), "no HTTP response bytes");
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset, "a TCP reset");
    let err = client()
        .get(format!("{}/particuliers/", sim.portal_url()))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn trickle_sends_a_few_bytes_a_second() {
    let sim = sim().await;
    set_mode(&sim, "home", "trickle");
    let mut resp = get_home(&sim).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let t = Instant::now();
    let mut received = 0;
    while t.elapsed() < Duration::from_millis(2200) {
        match tokio::time::timeout(Duration::from_millis(300), resp.chunk()).await {
            Ok(Ok(Some(chunk))) => received += chunk.len(),
            Ok(other) => panic!("body ended: {other:?}"),
            Err(_) => {}
        }
    }
    // One chunk at once, then one a second: 3 chunks of 8 bytes in 2.2 s.
    assert!((16..=32).contains(&received), "{received}");
    sim.shutdown().await;
}

#[tokio::test]
async fn huge_streams_without_end() {
    let sim = sim().await;
    set_mode(&sim, "home", "huge");
    let mut resp = get_home(&sim).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.content_length().is_none());
    let mut received = 0;
    while received < 8 * 1024 * 1024 {
        received += resp.chunk().await.unwrap().expect("still streaming").len();
    }
    drop(resp);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_utf8_body() {
    let sim = sim().await;
    set_mode(&sim, "home", "bad_utf8");
    let resp = get_home(&sim).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let bytes = resp.bytes().await.unwrap();
    assert!(std::str::from_utf8(&bytes).is_err());
    assert!(bytes.starts_with(b"<!DOCTYPE html>"));
    sim.shutdown().await;
}

#[tokio::test]
async fn redirect_loop_increments() {
    let sim = sim().await;
    set_mode(&sim, "login", "redirect_loop");
    let base = sim.portal_url();
    let path = "/auth/realms/anef-usagers/protocol/openid-connect/auth";
    let c = client();
    let resp = c.get(format!("{base}{path}?client_id=anef-usagers")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let next = location(&resp);
    assert_eq!(next, format!("{path}?client_id=anef-usagers&loop=1"));
    let resp = c.get(format!("{base}{next}")).send().await.unwrap();
    assert_eq!(location(&resp), format!("{path}?client_id=anef-usagers&loop=2"));
    // A client that follows redirects gives up.
    let err = reqwest::get(format!("{base}{path}")).await.unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn down_refuses_connections_then_comes_back_on_the_same_port() {
    let sim = sim().await;
    let url = sim.portal_url();
    // A keep-alive client with a pooled connection.
    let pooled = reqwest::Client::new();
    assert_eq!(
        pooled.get(format!("{url}/particuliers/")).send().await.unwrap().status(),
        StatusCode::OK
    );

    sim.apply(&StatePatch::from_json(r#"{"sites":{"portal":{"down":true}}}"#).unwrap())
        .unwrap();
    let err = TcpStream::connect(addr(&url)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let err = pooled.get(format!("{url}/particuliers/")).send().await.unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let err = client().get(format!("{url}/particuliers/")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // The other sites still answer, and their admin API reports the outage.
    let state: serde_json::Value = client()
        .get(format!("{}/__sim/state", sim.prefecture_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["sites"]["portal"]["down"], true);

    // Back up through another site's admin API.
    let resp = client()
        .patch(format!("{}/__sim/state", sim.rdv_url()))
        .body(r#"{"sites":{"portal":{"down":false}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.portal_url(), url);
    assert_eq!(
        client().get(format!("{url}/particuliers/")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        pooled.get(format!("{url}/particuliers/")).send().await.unwrap().status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_site_can_take_itself_down_through_its_own_admin_api() {
    let sim = sim().await;
    let resp = client()
        .patch(format!("{}/__sim/state", sim.prefecture_url()))
        .body(r#"{"sites":{"prefecture":{"down":true}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "answered before closing");
    assert!(TcpStream::connect(addr(&sim.prefecture_url())).await.is_err());
    sim.reset();
    assert!(!sim.state().site(Site::Prefecture).down);
    assert!(TcpStream::connect(addr(&sim.prefecture_url())).await.is_ok());
    sim.shutdown().await;
}

#[tokio::test]
async fn min_interval_limiter_answers_502() {
    let sim = sim().await;
    sim.apply(&StatePatch::from_json(r#"{"sites":{"prefecture":{"min_interval_ms":500}}}"#).unwrap())
        .unwrap();
    let c = client();
    let url = format!("{}/booking/create/4242/0", sim.prefecture_url());
    assert_eq!(c.get(&url).send().await.unwrap().status(), StatusCode::OK);
    // The admin API is never limited.
    let admin = c.get(format!("{}/__sim/state", sim.prefecture_url())).send().await.unwrap();
    assert_eq!(admin.status(), StatusCode::OK);
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(resp.text().await.unwrap().contains("Bad Gateway"));
    // The limiter is per site: the portal is not affected.
    assert_eq!(get_home(&sim).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(c.get(&url).send().await.unwrap().status(), StatusCode::OK);

    let log: Vec<_> = sim.requests().into_iter().filter(|r| r.site == Site::Prefecture).collect();
    assert_eq!(log.iter().map(|r| r.limited).collect::<Vec<_>>(), [false, true, false]);
    assert!(log[2].instant.duration_since(log[1].instant) >= Duration::from_millis(500));
    sim.shutdown().await;
}

#[tokio::test]
async fn request_log_records_ground_truth() {
    let sim = sim().await;
    set_mode(&sim, "home", "error_page");
    let mut s = TcpStream::connect(addr(&sim.portal_url())).await.unwrap();
    let port = s.local_addr().unwrap().port();
    s.write_all(b"GET /particuliers/?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    client().post(format!("{}/nowhere", sim.rdv_url())).send().await.unwrap();
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].seq, 1);
    assert_eq!(log[0].site, Site::Portal);
    assert_eq!(log[0].route, Some(RouteKey::Home));
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/particuliers/");
    assert_eq!(log[0].peer_port, Some(port));
    assert_eq!(log[0].mode, FaultMode::ErrorPage);
    assert!(!log[0].limited);
    assert_eq!(log[1].route, None);
    assert_eq!(log[1].method, "POST");
    assert_eq!(sim.requests_since(1).len(), 1);
    assert!(log[0].at <= log[1].at);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_listener() {
    let sim = sim().await;
    let addrs = [sim.portal_url(), sim.prefecture_url(), sim.rdv_url()].map(|u| addr(&u));
    sim.clone().shutdown().await;
    for a in addrs {
        assert!(TcpStream::connect(a).await.is_err(), "{a}");
    }
    // Still usable as a value, but nothing listens any more.
    assert!(sim.apply(&StatePatch::default()).is_ok());
}
