//! HTTP clients for probe runs.
//!
//! Each run is a fresh visitor: its own client and cookie jar. Building a
//! reqwest client with the platform verifier costs ~5 ms of CPU (it parses
//! every system root certificate), so the rustls configuration is built once
//! here and handed to every per-run client (NOTES.md). With a preconfigured
//! config reqwest sets no ALPN, so we set it; resumption is off so every run
//! measures a full handshake, as a new visitor would.

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::Jar;

#[derive(Clone)]
pub struct HttpEnv {
    tls: rustls::ClientConfig,
    user_agent: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("cannot set up TLS (system root certificates): {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl HttpEnv {
    pub fn new(user_agent: String) -> Result<HttpEnv, HttpSetupError> {
        use rustls_platform_verifier::BuilderVerifierExt;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_platform_verifier()?
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tls.resumption = rustls::client::Resumption::disabled();
        let env = HttpEnv { tls, user_agent };
        // Build one client now: a configuration error surfaces at start-up,
        // and the first TLS use (random generator seeding) is paid here.
        env.client(Arc::new(Jar::default()))?;
        Ok(env)
    }

    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// A client for one run: its own cookie jar, no automatic redirects (the
    /// runner follows them itself to time and budget each hop), no proxy.
    pub fn client(&self, jar: Arc<Jar>) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .tls_backend_preconfigured(self.tls.clone())
            .tls_info(true)
            .user_agent(self.user_agent.clone())
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
    }
}
