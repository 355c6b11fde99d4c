//! What a report says, as data: the JSON format is this structure, the CSV
//! flattens it and the HTML renders it, so the three always agree.
//! Times are RFC 3339 (UTC), durations seconds, ratios between 0 and 1.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// Checks counted, failed ones, and the share that worked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Ratio {
    pub runs: u64,
    /// `down` and `broken` runs.
    pub failed: u64,
    /// (runs - failed) / runs; None without runs.
    pub availability: Option<f64>,
}

impl Ratio {
    pub fn add(&mut self, runs: u64, failed: u64) {
        self.runs += runs;
        self.failed += failed;
        self.availability = (self.runs > 0).then(|| (self.runs - self.failed) as f64 / self.runs as f64);
    }

    pub fn merge(&mut self, o: &Ratio) {
        self.add(o.runs, o.failed);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Availability {
    pub up: u64,
    pub degraded: u64,
    pub no_capacity: u64,
    pub broken: u64,
    pub down: u64,
    /// Runs that could not observe the portal (vigie's own failure, bot
    /// protection): outside every ratio.
    pub unobserved: u64,
    /// Runs that stopped at a CAPTCHA (counted as up).
    pub captcha: u64,
    pub maintenance_runs: u64,
    /// Every run, maintenance included.
    pub all: Ratio,
    /// Runs outside maintenance windows.
    pub excluding_maintenance: Ratio,
    /// Runs in office hours, maintenance included (what a person trying
    /// during opening hours met).
    pub office_hours: Ratio,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IncidentStats {
    pub count: u64,
    /// Incidents that started in the period (MTBF's denominator).
    pub started_in_period: u64,
    pub still_open: u64,
    /// Outage time inside the period.
    pub total_s: f64,
    /// Outage time inside the period and inside office hours.
    pub office_hours_lost_s: f64,
    pub longest_s: Option<f64>,
    /// Mean duration of the incidents that ended (mean time to recovery).
    pub mttr_s: Option<f64>,
    /// Observed time without outage / incidents started in the period.
    pub mtbf_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stretch {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub duration_s: f64,
    /// Checks made in the stretch, none of which offered a slot.
    pub checks: u64,
    /// Still without slot at the end of the period.
    pub ongoing: bool,
    /// Bounds to the hour only (raw runs past their retention).
    pub approximate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstFree {
    /// Checks that showed a first free date.
    pub observations: u64,
    pub min_days: f64,
    pub mean_days: f64,
    pub max_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotStats {
    pub observation: String,
    /// Checks that reached the slot page (and counted the slots).
    pub checks: u64,
    pub with_slot: u64,
    pub share_with_slot: Option<f64>,
    pub longest_without: Option<Stretch>,
    pub first_free: Option<FirstFree>,
    /// Runs stopped at a CAPTCHA before any slot could be seen.
    pub captcha_stops: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyRow {
    /// Empty for the whole run.
    pub step: String,
    pub count: u64,
    pub mean_s: Option<f64>,
    pub p50_s: Option<f64>,
    pub p95_s: Option<f64>,
    pub p99_s: Option<f64>,
    pub max_s: Option<f64>,
}

/// One step's phases over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRow {
    pub step: String,
    /// Timed checks of the step.
    pub count: u64,
    /// In `Phase::ALL` order: resolve, connect, tls, processing, transfer.
    pub phases: Vec<PhaseStat>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseStat {
    /// `Phase::as_str`.
    pub phase: String,
    pub p50_s: Option<f64>,
    pub p95_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureRow {
    pub step: String,
    pub reason: String,
    pub runs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub ratio: Ratio,
    pub slot_checks: u64,
    pub slot_with: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    pub probe: String,
    pub title: String,
    pub procedure: String,
    pub site: String,
    /// Time the probe's runs observed in the period (docs/reports.md,
    /// « Observed time »), the period's length up to now, and their ratio.
    pub observed_s: f64,
    pub period_s: f64,
    pub coverage: Option<f64>,
    /// The rest of the period: no run observed it.
    pub not_observed_s: f64,
    /// The longest not-observed stretches (at most 10), in time order, and
    /// how many there are in all.
    pub not_observed: Vec<Gap>,
    pub not_observed_count: u64,
    pub availability: Availability,
    pub incidents: IncidentStats,
    pub slots: Option<SlotStats>,
    pub latency: Vec<LatencyRow>,
    /// Where each HTTP step's time went (its requests' phases), for steps
    /// whose phases were timed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseRow>,
    pub failures: Vec<FailureRow>,
    /// Runs refused by bot protection (reason `blocked`): a finding of its own.
    pub refusals: Refusals,
    pub daily: Vec<Day>,
}

/// A stretch of the period no run observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub duration_s: f64,
}

/// How often, and on how many days, bot protection refused vigie.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Refusals {
    pub runs: u64,
    /// Days (in the report's time zone) with at least one refused run.
    pub days: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcedureReport {
    pub procedure: String,
    pub probes: Vec<String>,
    pub all: Ratio,
    pub excluding_maintenance: Ratio,
    pub office_hours: Ratio,
    pub incidents: u64,
    pub outage_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    pub id: i64,
    pub probe: String,
    pub title: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// To the end, or to the end of the period while it lasts.
    pub duration_s: f64,
    pub ongoing: bool,
    pub outcome: String,
    pub failed_step: Option<String>,
    pub reason: Option<String>,
    pub last_http_status: Option<u16>,
    pub failing_runs: u32,
    /// When the failure began inside a maintenance window.
    pub began_in_maintenance_at: Option<DateTime<Utc>>,
    /// The captures of the incident kept in the evidence register (the
    /// first ones), as found in a bundle exported for the same period.
    #[serde(default)]
    pub captures: Vec<CaptureLink>,
}

/// A capture in the evidence bundle of the same period: its number and
/// its path relative to the report, the bundle being unzipped beside the
/// report in a folder named like the zip (docs/reports.md).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CaptureLink {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub href: String,
}

/// Failed runs / runs for one weekday (Monday first) and hour, local time,
/// outside maintenance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cell {
    pub runs: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceSummary {
    pub captures: u64,
    pub days_covered: u64,
    /// The register's head when the report was made (`SEQ:HASH`): an anchor.
    pub register_head: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StepText {
    pub name: String,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProbeMethod {
    pub probe: String,
    pub title: String,
    pub description: Option<String>,
    pub target: String,
    pub base_url: String,
    pub schedule: String,
    pub timeout: String,
    pub steps: Vec<StepText>,
    /// The version that ran (first 12 hex digits of its hash) and its
    /// first and last run in the period; None when described from the
    /// configuration at report time (no recorded version in the period).
    #[serde(default)]
    pub version: Option<VersionOut>,
}

/// Which version of a probe a description is, and when it ran.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct VersionOut {
    pub hash: String,
    pub first_seen: DateTime<Utc>,
    pub first_run: DateTime<Utc>,
    pub last_run: DateTime<Utc>,
    pub runs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Methodology {
    pub from_configuration: bool,
    /// True when a probe is described from the configuration at report
    /// time, because no run of the period recorded its version (runs
    /// recorded before versions were kept).
    pub described_from_configuration: bool,
    pub vigie_version: String,
    pub locations: Vec<String>,
    pub user_agent: Option<String>,
    pub timezone: String,
    pub office_hours: String,
    pub rules: Vec<String>,
    pub politeness: Vec<String>,
    pub maintenance: Vec<String>,
    pub evidence: Vec<String>,
    pub computation: Vec<String>,
    pub probes: Vec<ProbeMethod>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodOut {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub timezone: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub format: String,
    /// The folder, beside the report, where the evidence bundle of the
    /// same period is expected unzipped (capture links point into it).
    pub evidence_folder: String,
    pub generated_at: DateTime<Utc>,
    pub vigie_version: String,
    pub language: String,
    pub author: Option<String>,
    pub period: PeriodOut,
    pub probes: Vec<ProbeReport>,
    pub procedures: Vec<ProcedureReport>,
    pub incidents: Vec<IncidentRow>,
    /// 7 weekdays (Monday first) x 24 hours.
    pub failure_pattern: Vec<Vec<Cell>>,
    pub evidence: EvidenceSummary,
    pub methodology: Methodology,
}
