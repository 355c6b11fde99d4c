//! Validated alerting settings: who gets e-mails, when an outage opens and
//! closes, how e-mails leave (SMTP or a spool folder), and maintenance
//! windows. Built by `config::alerts` from the `alerts:`, `smtp:` and
//! `maintenance:` sections and the probe files' `alerts:` sections.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

use crate::probe::{Outcome, Probe};

/// Language of e-mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// The set of outcomes that count as failing for a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeSet(u8);

impl OutcomeSet {
    pub const fn empty() -> OutcomeSet {
        OutcomeSet(0)
    }

    fn bit(o: Outcome) -> u8 {
        1 << (o as u8)
    }

    pub fn with(self, o: Outcome) -> OutcomeSet {
        OutcomeSet(self.0 | Self::bit(o))
    }

    pub fn contains(self, o: Outcome) -> bool {
        self.0 & Self::bit(o) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Outcome> {
        Outcome::ALL.into_iter().filter(move |o| self.contains(*o))
    }
}

impl Default for OutcomeSet {
    /// `down` and `broken` fail by default; `no_capacity` and
    /// `degraded` are findings of their own and must be opted in.
    fn default() -> Self {
        OutcomeSet::empty().with(Outcome::Down).with(Outcome::Broken)
    }
}

impl fmt::Display for OutcomeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(|o| o.as_str()).collect();
        f.write_str(&names.join(", "))
    }
}

/// How the outage state machine treats one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive failing runs (outside maintenance) that open an outage.
    pub failure_threshold: u32,
    /// Consecutive passing runs that close it.
    pub success_threshold: u32,
    pub failing: OutcomeSet,
    /// Remind while an outage lasts; `None` = never (the default).
    pub reminder_every: Option<Duration>,
    /// `false` mutes e-mails for the probe; incidents are still recorded.
    pub notify: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            failure_threshold: 2,
            success_threshold: 2,
            failing: OutcomeSet::default(),
            reminder_every: None,
            notify: true,
        }
    }
}

/// What a probe file's `alerts:` section says; `None` inherits the global value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeAlerts {
    pub failure_threshold: Option<u32>,
    pub success_threshold: Option<u32>,
    pub failing: Option<OutcomeSet>,
    /// `Some(None)` turns reminders off for this probe.
    pub reminder_every: Option<Option<Duration>>,
    pub notify: Option<bool>,
    /// Recipients added to the global, per-procedure and per-site ones.
    pub to: Vec<Mailbox>,
}

/// A secret read from the environment or a file; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the
    /// server does not offer it.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or network.
    None,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::StartTls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Where the password came from, for `vigie check` (`env VIGIE_SMTP_PASSWORD`).
    pub password_source: Option<String>,
    pub timeout: Duration,
    pub hello_name: Option<String>,
    /// `ca_file`: where the extra trusted authorities came from, for `vigie check`.
    pub ca_file: Option<PathBuf>,
    /// Extra certificate authorities (DER) trusted for the server's
    /// certificate besides the system's: an association's own mail server
    /// with a private CA. Read when the configuration loads.
    pub ca_certs: Vec<Vec<u8>>,
}

/// How e-mails leave the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Smtp(SmtpSettings),
    /// No SMTP configured: each e-mail becomes a `.eml` file in this folder.
    Spool(PathBuf),
}

/// Bounded exponential backoff for deliveries that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub min: Duration,
    pub max: Duration,
}

impl Retry {
    /// Wait before attempt `attempts + 1`, having failed `attempts` times.
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.min.saturating_mul(factor).min(self.max)
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            min: Duration::from_secs(30),
            max: Duration::from_secs(30 * 60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub language: Language,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// Who runs this instance: told when vigie cannot observe a probe (bot
    /// protection, its own failures). Empty: the global `to`.
    pub operator: Vec<Mailbox>,
    pub by_procedure: BTreeMap<String, Vec<Mailbox>>,
    pub by_site: BTreeMap<String, Vec<Mailbox>>,
    /// Defaults for every probe.
    pub policy: Policy,
    /// Per-probe overrides, by probe name.
    pub probes: HashMap<String, ProbeAlerts>,
    pub group_window: Duration,
    pub status_page_url: Option<String>,
    pub grafana_url: Option<String>,
    /// Base URL of this daemon's `/preuves/` routes for the team.
    pub evidence_url: Option<String>,
    pub delivery: Delivery,
    pub retry: Retry,
    /// Time zone e-mails show besides UTC (the configuration's `timezone`).
    pub timezone: chrono_tz::Tz,
}

impl AlertSettings {
    /// The policy of a probe: global defaults, overridden by its file.
    pub fn policy_for(&self, probe: &Probe) -> Policy {
        let mut p = self.policy.clone();
        if let Some(o) = self.probes.get(&probe.name) {
            if let Some(v) = o.failure_threshold {
                p.failure_threshold = v;
            }
            if let Some(v) = o.success_threshold {
                p.success_threshold = v;
            }
            if let Some(v) = o.failing {
                p.failing = v;
            }
            if let Some(v) = o.reminder_every {
                p.reminder_every = v;
            }
            if let Some(v) = o.notify {
                p.notify = v;
            }
        }
        p
    }

    /// Who hears that vigie could not observe a probe: `operator`, or else
    /// the global `to` (never the per-procedure or per-site lists, which
    /// follow the portal, not the instance).
    pub fn operators(&self) -> &[Mailbox] {
        if self.operator.is_empty() {
            &self.to
        } else {
            &self.operator
        }
    }

    /// Everyone who hears about a probe: global, its procedure, its site and
    /// its own extra recipients, without duplicates, in that order.
    pub fn recipients(&self, probe: &str, procedure: &str, site: &str) -> Vec<Mailbox> {
        let mut out: Vec<Mailbox> = Vec::new();
        let extra = self.probes.get(probe).map(|p| p.to.as_slice()).unwrap_or(&[]);
        let lists = [
            self.to.as_slice(),
            self.by_procedure.get(procedure).map(|v| v.as_slice()).unwrap_or(&[]),
            self.by_site.get(site).map(|v| v.as_slice()).unwrap_or(&[]),
            extra,
        ];
        for m in lists.into_iter().flatten() {
            if !out.iter().any(|o| o.email == m.email) {
                out.push(m.clone());
            }
        }
        out
    }
}

/// One maintenance window as configured.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    pub name: String,
    pub note: Option<String>,
    pub when: WindowTime,
    /// Targets it covers; empty with `probes` empty = every probe.
    pub targets: Vec<String>,
    pub probes: Vec<String>,
    pub timezone: chrono_tz::Tz,
}

#[derive(Debug, Clone)]
pub enum WindowTime {
    Once {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    Recurring {
        cron: Box<croner::Cron>,
        source: String,
        duration: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_up_to_the_cap() {
        let r = Retry::default();
        let delays: Vec<u64> = (1..=8).map(|n| r.delay(n).as_secs()).collect();
        assert_eq!(delays, vec![30, 60, 120, 240, 480, 960, 1800, 1800]);
        assert_eq!(r.delay(10_000), Duration::from_secs(1800));
    }

    #[test]
    fn default_failing_outcomes() {
        let d = OutcomeSet::default();
        assert!(d.contains(Outcome::Down) && d.contains(Outcome::Broken));
        assert!(!d.contains(Outcome::NoCapacity) && !d.contains(Outcome::Degraded) && !d.contains(Outcome::Up));
        assert_eq!(d.to_string(), "broken, down");
    }
}
