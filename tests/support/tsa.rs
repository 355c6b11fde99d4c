//! A local time-stamping authority (RFC 3161) for tests, built with OpenSSL
//! alone: a test root CA, a TSA certificate (`extendedKeyUsage =
//! critical,timeStamping`), and a tiny HTTP server whose handler shells out
//! to `openssl ts -reply`. It can be told to fail (HTTP 503) to test retries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

const CA_CNF: &str = "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=vigie test root\n\
[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n\
[v3_tsa]\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n\
subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";

const TSA_CNF: &str = "[tsa]\ndefault_tsa=tsa_config1\n[tsa_config1]\nserial=./serial\nsigner_cert=./tsa.crt\n\
signer_key=./tsa.key\ncerts=./tsa.crt\nsigner_digest=sha256\ndefault_policy=1.2.3.4.1\ndigests=sha256\n\
accuracy=secs:1\nordering=yes\ntsa_name=no\ness_cert_id_chain=no\ness_cert_id_alg=sha256\n";

pub struct Tsa {
    pub url: String,
    /// The root CA (PEM) the TSA certificate chains to.
    pub ca: PathBuf,
    pub dir: tempfile::TempDir,
    pub failing: Arc<AtomicBool>,
    pub requests: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Shared {
    dir: PathBuf,
    failing: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (apt install openssl; see .ci/install-court.sh)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Make the CA and TSA certificates and keys in `dir`.
fn make_pki(dir: &Path) {
    std::fs::write(dir.join("ca.cnf"), CA_CNF).expect("ca.cnf");
    std::fs::write(dir.join("tsa.cnf"), TSA_CNF).expect("tsa.cnf");
    std::fs::write(dir.join("serial"), "01\n").expect("serial");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "3650",
        "-config",
        "ca.cnf",
        "-extensions",
        "v3_ca",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-new"];
    csr.extend(ec);
    csr.extend(["-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=vigie test TSA"]);
    openssl(dir, &csr);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.crt",
            "-days",
            "3650",
            "-extfile",
            "ca.cnf",
            "-extensions",
            "v3_tsa",
        ],
    );
}

async fn reply(State(s): State<Shared>, body: Bytes) -> impl IntoResponse {
    let n = s.requests.fetch_add(1, Ordering::SeqCst);
    if s.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/plain")], Vec::new());
    }
    let (req, resp) = (format!("req-{n}.tsq"), format!("resp-{n}.tsr"));
    let dir = s.dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::fs::write(dir.join(&req), &body).expect("write query");
        let out = Command::new("openssl")
            .args(["ts", "-reply", "-config", "tsa.cnf", "-queryfile", &req, "-out", &resp])
            .current_dir(&dir)
            .output()
            .expect("openssl ts -reply");
        out.status.success().then(|| std::fs::read(dir.join(&resp)).expect("reply"))
    })
    .await
    .expect("join");
    match out {
        Some(bytes) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/timestamp-reply")], bytes),
        None => (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/plain")], Vec::new()),
    }
}

impl Tsa {
    pub async fn start() -> Tsa {
        let dir = tempfile::tempdir().expect("tempdir");
        make_pki(dir.path());
        let shared = Shared {
            dir: dir.path().to_path_buf(),
            failing: Arc::new(AtomicBool::new(false)),
            requests: Arc::new(AtomicUsize::new(0)),
        };
        let app = axum::Router::new()
            .route("/tsr", axum::routing::post(reply))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Tsa {
            url: format!("http://{addr}/tsr"),
            ca: dir.path().join("ca.crt"),
            dir,
            failing: shared.failing,
            requests: shared.requests,
        }
    }
}
