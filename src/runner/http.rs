//! HTTP clients for probe runs.
//!
//! Each run is a fresh visitor: its own client and cookie jar. Building a
//! reqwest client with the platform verifier costs ~5 ms of CPU (it parses
//! every system root certificate), so the rustls configuration is built once
//! here and handed to every per-run client (measured: building one with the
//! platform verifier costs ~5 ms of CPU). With a preconfigured
//! config reqwest sets no ALPN, so we set it; resumption is off so every run
//! measures a full handshake, as a new visitor would.
//!
//! Each client carries its run's timing hooks (see [`super::timing`]): a
//! timed DNS resolver, a connector layer and, in its own copy of the rustls
//! configuration, a session store that marks the start of each handshake.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::cookie::Jar;
use rustls::client::{Resumption, Tls12Resumption};

use super::timing::{ConnectTiming, HelloClock, Recorder, TimedResolver};

use crate::probe::Target;

#[derive(Clone)]
pub struct HttpEnv {
    tls: rustls::ClientConfig,
    user_agent: String,
    /// Configurations for targets with extra CAs, built once per CA set
    /// (building a verifier reads the system roots: milliseconds).
    with_extra_roots: Arc<Mutex<HashMap<Vec<Vec<u8>>, rustls::ClientConfig>>>,
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
        // Seed aws-lc's random generator now (CPU jitter entropy: ~50 ms in a
        // debug build, once per process); otherwise the first handshake pays
        // it and its `tls` phase measures vigie, not the portal. Building a
        // client below draws no randomness. A failure here shows again, with
        // its reason, at the first handshake.
        let _ = provider.secure_random.fill(&mut [0u8; 32]);
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_platform_verifier()?
            .with_no_client_auth();
        let env = HttpEnv {
            tls: Self::tune(tls),
            user_agent,
            with_extra_roots: Arc::default(),
        };
        // Build one client now: a configuration error surfaces at start-up.
        env.build(env.tls.clone(), Arc::new(Jar::default()), Recorder::default())?;
        Ok(env)
    }

    fn tune(mut tls: rustls::ClientConfig) -> rustls::ClientConfig {
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tls.resumption = rustls::client::Resumption::disabled();
        tls
    }

    fn config_for(&self, target: &Target) -> Result<rustls::ClientConfig, HttpSetupError> {
        if target.ca_certs.is_empty() {
            return Ok(self.tls.clone());
        }
        let mut cache = self.with_extra_roots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&target.ca_certs) {
            return Ok(c.clone());
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = target.ca_certs.iter().map(|c| rustls::pki_types::CertificateDer::from(c.clone()));
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let tls = Self::tune(tls);
        cache.insert(target.ca_certs.clone(), tls.clone());
        Ok(tls)
    }

    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// A client for one run: its own cookie jar, no automatic redirects (the
    /// runner follows them itself to time and budget each hop), no proxy;
    /// its connections are timed into `timer`.
    pub fn client(&self, target: &Target, jar: Arc<Jar>, timer: Recorder) -> Result<reqwest::Client, HttpSetupError> {
        let tls = self.config_for(target)?;
        Ok(self.build(tls, jar, timer)?)
    }

    fn build(&self, mut tls: rustls::ClientConfig, jar: Arc<Jar>, timer: Recorder) -> Result<reqwest::Client, reqwest::Error> {
        // Still no resumption: the store never keeps a session.
        tls.resumption = Resumption::store(Arc::new(HelloClock(timer.clone()))).tls12_resumption(Tls12Resumption::Disabled);
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(TimedResolver(timer.clone()))
            .connector_layer(ConnectTiming(timer))
            .tls_info(true)
            .user_agent(self.user_agent.clone())
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
    }
}
