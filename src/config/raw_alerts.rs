//! The `store:`, `alerts:`, `smtp:` and `maintenance:` sections of the daemon
//! configuration and the `alerts:` section of probe files, as written.
//! Compiled by `config::alerts`.

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::raw::{OrderedMap, S};
use super::units::HumanDuration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// SQLite file, relative to the configuration file's folder.
    #[serde(default)]
    pub path: Option<S<String>>,
    #[serde(default)]
    pub retention: Option<S<RawRetention>>,
    /// How often rollups are computed and expired rows deleted.
    #[serde(default)]
    pub compact_every: Option<S<HumanDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Raw runs, steps and observations.
    #[serde(default)]
    pub runs: Option<S<HumanDuration>>,
    /// Hourly rollups.
    #[serde(default)]
    pub rollups: Option<S<HumanDuration>>,
}

/// Settings shared by the global `alerts:` section and the probe files'.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    #[serde(default)]
    pub language: Option<S<String>>,
    #[serde(default)]
    pub to: Option<S<Vec<S<String>>>>,
    /// Who runs the instance (vigie could not observe a probe); default: `to`.
    #[serde(default)]
    pub operator: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub by_procedure: OrderedMap<S<Vec<S<String>>>>,
    #[serde(default)]
    pub by_site: OrderedMap<S<Vec<S<String>>>>,
    #[serde(default)]
    pub failure_threshold: Option<S<u32>>,
    #[serde(default)]
    pub success_threshold: Option<S<u32>>,
    #[serde(default)]
    pub failing_outcomes: Option<S<Vec<S<String>>>>,
    /// A duration, or `off`.
    #[serde(default)]
    pub reminder_every: Option<S<String>>,
    #[serde(default)]
    pub group_window: Option<S<HumanDuration>>,
    #[serde(default)]
    pub status_page_url: Option<S<String>>,
    #[serde(default)]
    pub grafana_url: Option<S<String>>,
    /// Where the team (not the public) reaches this daemon's `/preuves/`
    /// routes: e-mails link screenshots there.
    #[serde(default)]
    pub evidence_url: Option<S<String>>,
    /// Folder for `.eml` files when no `smtp:` section is given.
    #[serde(default)]
    pub spool_dir: Option<S<String>>,
    #[serde(default)]
    pub retry: Option<S<RawRetry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    #[serde(default)]
    pub min: Option<S<HumanDuration>>,
    #[serde(default)]
    pub max: Option<S<HumanDuration>>,
}

/// A probe file's `alerts:` section: the policy and extra recipients.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbeAlerts {
    /// `false` records incidents but sends no e-mail for this probe.
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub to: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub failure_threshold: Option<S<u32>>,
    #[serde(default)]
    pub success_threshold: Option<S<u32>>,
    #[serde(default)]
    pub failing_outcomes: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub reminder_every: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: S<String>,
    #[serde(default)]
    pub port: Option<S<u32>>,
    #[serde(default)]
    pub security: Option<S<String>>,
    #[serde(default)]
    pub username: Option<S<String>>,
    #[serde(default)]
    pub password_env: Option<S<String>>,
    #[serde(default)]
    pub password_file: Option<S<String>>,
    /// Accepted only to be refused with a helpful message: the password is
    /// never written in the configuration file.
    #[serde(default)]
    pub password: Option<S<IgnoredAny>>,
    pub from: S<String>,
    #[serde(default)]
    pub timeout: Option<S<HumanDuration>>,
    #[serde(default)]
    pub hello_name: Option<S<String>>,
    /// PEM bundle of extra certificate authorities trusted for the server,
    /// relative to the configuration file's folder.
    #[serde(default)]
    pub ca_file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub name: S<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// One-off window: local date-times in the configuration's time zone.
    #[serde(default)]
    pub from: Option<S<String>>,
    #[serde(default)]
    pub to: Option<S<String>>,
    /// Recurring window: crontab start times plus a duration.
    #[serde(default)]
    pub cron: Option<S<String>>,
    #[serde(default)]
    pub duration: Option<S<HumanDuration>>,
    #[serde(default)]
    pub targets: Vec<S<String>>,
    #[serde(default)]
    pub probes: Vec<S<String>>,
}
