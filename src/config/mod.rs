//! Configuration: the daemon file and the probe files it points to.
//!
//! Read in two stages, like ripgrep: `raw` mirrors the YAML as written, then
//! `compile` validates it into [`Config`] and the runnable [`Probe`]s. Every
//! problem found by either stage is collected with its file, line and column;
//! loading fails only after all of them are known.

mod alerts;
mod browser_step;
pub mod compile;
mod evidence;
pub mod files;
pub mod publish;
pub mod raw;
pub mod raw_alerts;
pub mod raw_evidence;
pub mod step;
pub mod units;
pub mod yaml;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use compile::{load, parse_cron};
pub use files::{DiskFiles, EmbeddedFiles, Files};

use crate::alert::settings::{AlertSettings, MaintenanceWindow};
use crate::diag::Pos;
use crate::evidence::EvidenceSettings;
use crate::probe::{Politeness, Probe, Target};
use crate::report::settings::ReportSettings;
use crate::store::StoreSettings;

/// The validated daemon configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub location: String,
    pub contact: String,
    pub timezone: chrono_tz::Tz,
    pub listen: SocketAddr,
    pub concurrency: usize,
    pub default_politeness: Politeness,
    pub targets: Vec<Arc<Target>>,
    pub probes: Vec<Arc<Probe>>,
    /// The history store (`store:`).
    pub store: StoreSettings,
    /// Outage policy, recipients and e-mail delivery (`alerts:`, `smtp:`,
    /// and the probe files' `alerts:`).
    pub alerting: AlertSettings,
    /// Maintenance windows (`maintenance:`), global or per target/probe.
    pub maintenance: Vec<MaintenanceWindow>,
    /// What is kept as evidence (`evidence:` and the probe files' `evidence:`).
    pub evidence: EvidenceSettings,
    /// Report defaults (`reports:`): language, office hours, observations.
    pub reports: ReportSettings,
    /// Chromium for browser probes (`browser:`).
    pub browser: crate::runner::browser_env::BrowserSettings,
    /// The public observatory (`publish:`).
    pub publish: crate::observatory::PublishSettings,
    /// Optional per-probe metric families (`metrics:`).
    pub metrics: crate::metrics::MetricsSettings,
    /// Sections read by later stages (the status page), with the position
    /// where each starts.
    pub sections: HashMap<&'static str, Section>,
}

/// A raw configuration section handed to a later stage as JSON.
#[derive(Debug, Clone)]
pub struct Section {
    pub file: PathBuf,
    pub pos: Pos,
    pub value: serde_json::Value,
}

impl Config {
    pub fn probe(&self, name: &str) -> Option<&Arc<Probe>> {
        self.probes.iter().find(|p| p.name == name)
    }

    /// The User-Agent every request carries: names the tool and a contact, as
    /// the responsible-probing rules require.
    pub fn user_agent(&self) -> String {
        user_agent(&self.contact)
    }
}

pub fn user_agent(contact: &str) -> String {
    format!(
        "vigie/{} (synthetic monitoring for watchdog associations; contact: {contact})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Options that change how a configuration is loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Replace a target's `base_url` (the demo points targets at the
    /// simulator's actual ports).
    pub base_url_overrides: HashMap<String, String>,
    /// Environment for `env.NAME` templates; `None` reads the process environment.
    pub env: Option<HashMap<String, String>>,
    /// Commands that read the history but run no probe (`report`,
    /// `evidence`, `verify`) do not need the probes' secrets: a missing
    /// environment variable is then not an error.
    pub secrets_optional: bool,
    /// Load browser probes disabled (the demo on a machine without Chromium).
    pub disable_browser_probes: bool,
}

impl LoadOptions {
    pub fn env_var(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(m) => m.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

/// Default address of the metrics server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9898";

/// `rel` resolved against the folder of `base_file`, with `.` and `..`
/// removed lexically so messages show short paths.
pub fn relative_to(base_file: &Path, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_file.parent().unwrap_or(Path::new(".")).join(p)
    };
    files::normalize(&joined)
}
