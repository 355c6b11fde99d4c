//! Per-request phase timings against a real local server, over plain HTTP
//! and HTTPS (certificates made for the test), with redirects on the same
//! host (the connection is reused) and to another host name (`localhost`:
//! a DNS lookup and a new connection).

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::*;
use vigie::probe::result::RequestTiming;
use vigie::probe::{Outcome, Reason, RunResult, StepResult};

/// A CA and a server certificate for 127.0.0.1 and localhost.
struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca).expect("sign");
    Pki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// The connections the server accepted, with their TLS handshake (full or
/// resumed; None over plain HTTP).
type Handshakes = Arc<Mutex<Vec<Option<rustls::HandshakeKind>>>>;

/// A keep-alive HTTP/1.1 server on 127.0.0.1: `/page` answers a page,
/// `/same` redirects to `/page`, `/away` redirects to `localhost`.
async fn server(tls: Option<(&Pki, &'static rustls::SupportedProtocolVersion)>) -> (u16, Handshakes) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let acceptor = tls.map(|(p, v)| acceptor(p, v));
    let seen = Handshakes::default();
    let kinds = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, kinds) = (acceptor.clone(), kinds.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| async move {
                    Ok::<_, Infallible>(answer(req.uri().path(), scheme, port))
                });
                let http = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    None => {
                        kinds.lock().expect("lock").push(None);
                        drop(http.serve_connection(TokioIo::new(tcp), svc).await)
                    }
                    Some(a) => {
                        let Ok(stream) = a.accept(tcp).await else { return };
                        kinds.lock().expect("lock").push(stream.get_ref().1.handshake_kind());
                        drop(http.serve_connection(TokioIo::new(stream), svc).await);
                    }
                }
            });
        }
    });
    (port, seen)
}

fn acceptor(p: &Pki, version: &'static rustls::SupportedProtocolVersion) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![p.cert.clone()], PrivateKeyDer::Pkcs8(p.key.clone_key()))
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn answer(path: &str, scheme: &str, port: u16) -> hyper::Response<Full<Bytes>> {
    let location = match path {
        "/same" => "/page".to_string(),
        "/away" => format!("{scheme}://localhost:{port}/page"),
        _ => return hyper::Response::new(Full::new(Bytes::from("<p>portail ouvert</p>".repeat(200)))),
    };
    hyper::Response::builder()
        .status(302)
        .header("location", location)
        .body(Full::new(Bytes::new()))
        .expect("response")
}

/// Run a probe with two steps on the server: `/same` then `/away`.
async fn run_probe(scheme: &str, port: u16, ca_pem: Option<&str>) -> RunResult {
    let sim = start_sim().await;
    let ws = Workspace::new();
    let ca = ca_pem.map_or(String::new(), |pem| {
        ws.write_file("ca.pem", pem.as_bytes());
        ", ca_file: ca.pem".to_string()
    });
    ws.write_config(
        &sim,
        &format!(
            "  local: {{ base_url: \"{scheme}://127.0.0.1:{port}\", min_interval: 1ms{ca} }}\n  \
             named: {{ base_url: \"{scheme}://localhost:{port}\", min_interval: 1ms{ca} }}\n"
        ),
    );
    ws.write_probe(
        "phases",
        "name: phases\ntitle: Phases\ntarget: local\nschedule: \"* * * * *\"\nsteps:\n  \
         - name: same\n    request: { url: \"{{ base_url }}/same\", timeout: 5s }\n  \
         - name: away\n    request: { url: \"{{ base_url }}/away\", timeout: 5s }\n",
    );
    let r = run(&ws.load(), "phases").await;
    sim.shutdown().await;
    r
}

fn step<'a>(r: &'a RunResult, name: &str) -> &'a StepResult {
    r.steps.iter().find(|s| s.name == name).expect("step")
}

/// Checks every timing of a step: as many as requests sent, phases within
/// the step's duration, versions as the scheme says.
fn check_step(s: &StepResult, requests: usize, tls: bool) {
    assert_eq!(s.timings.len(), requests, "{:?}", s.timings);
    let total = s.phases().expect("phases");
    let sum: Duration = vigie::probe::result::Phase::ALL.iter().map(|p| total.get(*p)).sum();
    assert!(sum <= s.duration, "phases {sum:?} > step {:?}", s.duration);
    for t in &s.timings {
        assert_eq!(t.http_version.as_deref(), Some("HTTP/1.1"));
        assert!(t.remote_addr.as_deref().is_some_and(|a| a.starts_with("127.0.0.1:")), "{t:?}");
        assert!(t.phases.processing > Duration::ZERO, "{t:?}");
        if !tls {
            assert_eq!((t.phases.tls, t.tls_version.as_deref()), (Duration::ZERO, None), "{t:?}");
        }
    }
}

fn fresh(t: &RequestTiming, tls: bool, named: bool) {
    assert!(t.phases.connect > Duration::ZERO, "a new connection: {t:?}");
    assert_eq!(t.phases.tls > Duration::ZERO, tls, "{t:?}");
    // Only a host name is looked up.
    assert_eq!(t.phases.resolve > Duration::ZERO, named, "{t:?}");
}

fn is_reused(t: &RequestTiming) -> bool {
    let p = &t.phases;
    (p.resolve, p.connect, p.tls) == (Duration::ZERO, Duration::ZERO, Duration::ZERO)
}

/// The run's connections as the server saw them: `/same` starts on a new
/// connection to 127.0.0.1, `/away` ends on a new one to localhost. The two
/// requests in between go to 127.0.0.1 again and normally reuse its
/// connection (zero resolve, connect and TLS); the client's pool may open a
/// spare connection while the first is being returned, and a request sent
/// over it is fresh. Never more fresh requests than connections accepted.
fn check_connections(r: &RunResult, seen: &[Option<rustls::HandshakeKind>], tls: bool) {
    let (same, away) = (step(r, "same"), step(r, "away"));
    fresh(&same.timings[0], tls, false);
    fresh(&away.timings[1], tls, true);
    let middle = [&same.timings[1], &away.timings[0]];
    for t in middle {
        if !is_reused(t) {
            fresh(t, tls, false);
        }
    }
    assert!(middle.iter().any(|t| is_reused(t)), "no request reused a connection: {middle:?}");
    let fresh_count = same.timings.iter().chain(&away.timings).filter(|t| !is_reused(t)).count();
    assert!(
        fresh_count <= seen.len(),
        "{fresh_count} fresh requests, {} connections",
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_hops_are_timed_and_a_reused_connection_shows_no_connect() {
    let (port, seen) = server(None).await;
    let r = run_probe("http", port, None).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    check_step(step(&r, "same"), 2, false);
    let away = step(&r, "away");
    check_step(away, 2, false);
    check_connections(&r, &seen.lock().expect("lock"), false);
    assert!(
        away.timings[1].phases.transfer > Duration::ZERO,
        "a 4 KB body: {:?}",
        away.timings[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_hops_time_the_handshake_and_name_the_tls_version() {
    let p = pki();
    for (version, name) in [(&rustls::version::TLS13, "TLSv1.3"), (&rustls::version::TLS12, "TLSv1.2")] {
        let (port, handshakes) = server(Some((&p, version))).await;
        let r = run_probe("https", port, Some(&p.ca_pem)).await;
        assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
        let (same, away) = (step(&r, "same"), step(&r, "away"));
        check_step(same, 2, true);
        check_step(away, 2, true);
        check_connections(&r, &handshakes.lock().expect("lock"), true);
        for t in same.timings.iter().chain(&away.timings) {
            assert_eq!(t.tls_version.as_deref(), Some(name), "{t:?}");
        }
        // Every connection (at least 127.0.0.1, then localhost) had a full
        // handshake: the run never resumes a TLS session.
        let seen = handshakes.lock().expect("lock").clone();
        assert!(seen.len() >= 2, "{name}: {seen:?}");
        assert!(seen.iter().all(|k| *k == Some(rustls::HandshakeKind::Full)), "{name}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_keeps_the_phases_it_went_through() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let r = run_probe("http", port, None).await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Connect)), "{}", describe(&r));
    let s = step(&r, "same");
    assert_eq!(s.timings.len(), 1, "{:?}", s.timings);
    let t = &s.timings[0];
    assert!(t.phases.connect > Duration::ZERO, "{t:?}");
    assert_eq!(
        (t.phases.processing, t.phases.transfer, t.phases.tls),
        (Duration::ZERO, Duration::ZERO, Duration::ZERO)
    );
    assert_eq!((t.remote_addr.as_deref(), t.tls_version.as_deref()), (None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_resolve_keeps_its_lookup_time() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    // RFC 6761: names under .invalid never resolve.
    ws.write_config(
        &sim,
        "  nowhere: { base_url: \"http://portail.vigie-phases.invalid\", min_interval: 1ms }\n",
    );
    ws.write_probe(
        "nowhere",
        "name: nowhere\ntitle: Nowhere\ntarget: nowhere\nschedule: \"* * * * *\"\nsteps:\n  - name: page\n    request: { url: \"{{ base_url }}/\", timeout: 5s }\n",
    );
    let r = run(&ws.load(), "nowhere").await;
    sim.shutdown().await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Dns)), "{}", describe(&r));
    let s = step(&r, "page");
    assert_eq!(s.timings.len(), 1, "{:?}", s.timings);
    let p = s.timings[0].phases;
    assert!(p.resolve > Duration::ZERO, "{p:?}");
    assert_eq!((p.tls, p.processing, p.transfer), (Duration::ZERO, Duration::ZERO, Duration::ZERO));
}
