//! The `evidence:` and `reports:` sections of the daemon configuration and
//! the `evidence:` section of probe files, as written. Compiled by
//! `config::evidence`.

use serde::Deserialize;

use super::raw::S;
use super::units::{ByteSize, HumanDuration};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvidence {
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Pages of failing runs (down, broken).
    #[serde(default)]
    pub failures: Option<S<RawEvidenceKind>>,
    /// "No slot" pages.
    #[serde(default)]
    pub no_capacity: Option<S<RawEvidenceKind>>,
    #[serde(default)]
    pub max_body: Option<S<ByteSize>>,
    #[serde(default)]
    pub anchor_every: Option<S<HumanDuration>>,
    /// RFC 3161 time stamps of the chain's head by a third party.
    #[serde(default)]
    pub timestamp: Option<S<RawTimestamp>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimestamp {
    pub url: S<String>,
    #[serde(default)]
    pub every: Option<S<HumanDuration>>,
    #[serde(default)]
    pub ca_file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvidenceKind {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub every: Option<S<HumanDuration>>,
}

/// A probe file's `evidence:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbeEvidence {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub failures: Option<S<RawEvidenceKind>>,
    #[serde(default)]
    pub no_capacity: Option<S<RawEvidenceKind>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    /// fr (default) or en.
    #[serde(default)]
    pub language: Option<S<String>>,
    /// Who publishes the report (shown under its title).
    #[serde(default)]
    pub author: Option<S<String>>,
    #[serde(default)]
    pub office_hours: Option<S<RawOfficeHours>>,
    /// The observation counting free slots (default appointment_slots).
    #[serde(default)]
    pub slot_observation: Option<S<String>>,
    /// The observation giving the first free date (default first_free_date).
    #[serde(default)]
    pub first_free_observation: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOfficeHours {
    #[serde(default)]
    pub days: Option<S<Vec<S<String>>>>,
    /// "09:00": whole hours only (rollups are hourly).
    #[serde(default)]
    pub from: Option<S<String>>,
    #[serde(default)]
    pub to: Option<S<String>>,
    /// Public holidays ("2026-12-25"): not office hours.
    #[serde(default)]
    pub holidays: Vec<S<String>>,
}
