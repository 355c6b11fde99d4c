//! Validated evidence settings (`evidence:` in the daemon configuration and
//! in probe files), built by `config::evidence`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::Kind;

/// How often a probe's pages of one kind are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindPolicy {
    pub enabled: bool,
    /// Repeated identical captures of one probe are kept at most this often.
    /// The first capture of a streak, or one that differs (another step,
    /// reason or HTTP status), is kept sooner, but never more than once a
    /// minute (or `every`, if shorter).
    pub every: Duration,
}

/// The daemon's `evidence:` section, with each probe file's overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceSettings {
    pub enabled: bool,
    pub failures: KindPolicy,
    pub no_capacity: KindPolicy,
    /// Bytes of each page kept (the runner captures at most 512 KiB).
    pub max_body: usize,
    /// How often the chain's head is written to the log (an anchor).
    pub anchor_every: Duration,
    /// RFC 3161 time stamps of the chain's head (`evidence.timestamp`).
    pub timestamp: Option<TimestampSettings>,
    pub probes: HashMap<String, ProbeEvidence>,
}

/// `evidence.timestamp`: which time-stamping authority, how often, and
/// which certificate authority its certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampSettings {
    /// The TSA's HTTP(S) address (RFC 3161 over HTTP, POST).
    pub url: String,
    pub every: Duration,
    /// PEM file of the CA the TSA certificate chains to; `None`: the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
}

/// Default `evidence.timestamp.every`.
pub const TIMESTAMP_EVERY: Duration = Duration::from_secs(3600);

/// A probe file's `evidence:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeEvidence {
    pub enabled: Option<bool>,
    pub failures: Option<KindPolicy>,
    pub no_capacity: Option<KindPolicy>,
}

/// Largest body kept: the runner's capture cap.
pub const MAX_BODY: usize = 512 * 1024;

impl Default for EvidenceSettings {
    fn default() -> Self {
        EvidenceSettings {
            enabled: true,
            failures: KindPolicy {
                enabled: true,
                every: Duration::from_secs(15 * 60),
            },
            no_capacity: KindPolicy {
                enabled: true,
                every: Duration::from_secs(3600),
            },
            max_body: MAX_BODY,
            anchor_every: Duration::from_secs(3600),
            timestamp: None,
            probes: HashMap::new(),
        }
    }
}

impl EvidenceSettings {
    /// The policy for one probe and kind; `None` when nothing is kept.
    pub fn policy(&self, probe: &str, kind: Kind) -> Option<KindPolicy> {
        let over = self.probes.get(probe);
        if !over.and_then(|o| o.enabled).unwrap_or(self.enabled) {
            return None;
        }
        let p = match kind {
            // A bot-protection page is kept like a failure page.
            Kind::Failure | Kind::Blocked | Kind::Requested => over.and_then(|o| o.failures).unwrap_or(self.failures),
            Kind::NoCapacity => over.and_then(|o| o.no_capacity).unwrap_or(self.no_capacity),
        };
        p.enabled.then_some(p)
    }
}
