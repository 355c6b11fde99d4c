//! HTTPS against a real TLS server with certificates made for the test: the
//! certificate's expiry is read and exported, an untrusted or expired
//! certificate is `down/tls`, and a target's `ca_file` adds trusted roots.

mod support;

use std::sync::Arc;

use rcgen::{date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigie::probe::{Outcome, Reason};

struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name.push(rcgen::DnType::CommonName, "vigie test CA");
        Pki {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA"),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost, valid until `y-m-d`.
    fn leaf(&self, y: i32, m: u8, d: u8) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(y, m, d);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.ca).expect("sign");
        (
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// A minimal HTTPS server: TLS handshake, read the request head, answer a page.
async fn tls_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<html><body>portail sécurisé</body></html>";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

async fn run_against(port: u16, ca_pem: Option<&str>) -> vigie::probe::RunResult {
    let sim = start_sim().await;
    let ws = Workspace::new();
    let ca_line = match ca_pem {
        Some(pem) => {
            ws.write_file("ca.pem", pem.as_bytes());
            ", ca_file: ca.pem"
        }
        None => "",
    };
    ws.write_config(
        &sim,
        &format!("  secure: {{ base_url: \"https://127.0.0.1:{port}\", min_interval: 1ms{ca_line} }}\n"),
    );
    ws.write_probe("secure", "name: secure\ntitle: Secure\ntarget: secure\nschedule: \"* * * * *\"\nsteps:\n  - name: page\n    request: { url: \"{{ base_url }}/\", timeout: 5s }\n    expect: { body_contains: \"portail sécurisé\" }\n");
    let cfg = ws.load();
    let r = run(&cfg, "secure").await;
    sim.shutdown().await;
    r
}

#[tokio::test]
async fn certificate_expiry_is_read_and_exported() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf(2031, 5, 17);
    let port = tls_server(cert, key).await;
    let r = run_against(port, Some(&pki.ca.pem())).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    let expiry = r.steps[0].tls_not_after.expect("expiry read from the peer certificate");
    assert_eq!(expiry.to_rfc3339(), "2031-05-17T00:00:00+00:00");
    assert_eq!(r.steps[0].http_version.as_deref(), Some("HTTP/1.1"));

    // The metric carries it, for the "certificate expiring" alert.
    let metrics = vigie::metrics::Metrics::new("test").expect("metrics");
    let ws = Workspace::new();
    let sim = start_sim().await;
    ws.write_config(&sim, &format!("  secure: {{ base_url: \"https://127.0.0.1:{port}\" }}\n"));
    ws.write_probe("secure", "name: secure\ntitle: Secure\ntarget: secure\nschedule: \"* * * * *\"\nsteps:\n  - name: page\n    request: { url: \"{{ base_url }}/\" }\n");
    let cfg = ws.load();
    metrics.record_run(cfg.probe("secure").expect("probe"), &r);
    let text = metrics.encode();
    let line = text
        .lines()
        .find(|l| l.starts_with("vigie_tls_cert_expiry_timestamp_seconds{"))
        .expect("expiry series");
    assert!(line.ends_with(&format!(" {}", expiry.timestamp())), "{line}");
    sim.shutdown().await;
}

#[tokio::test]
async fn untrusted_certificate_is_down_tls() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf(2031, 5, 17);
    let port = tls_server(cert, key).await;
    let r = run_against(port, None).await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Tls)), "{}", describe(&r));
}

#[tokio::test]
async fn expired_certificate_is_down_tls() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf(2021, 1, 1);
    let port = tls_server(cert, key).await;
    let r = run_against(port, Some(&pki.ca.pem())).await;
    assert_eq!((r.outcome, r.reason), (Outcome::Down, Some(Reason::Tls)), "{}", describe(&r));
    assert!(
        r.message.as_deref().unwrap_or("").to_lowercase().contains("expired"),
        "{:?}",
        r.message
    );
}
