//! What the observatory shows, as data. The JSON API (`api/v1/…`) is this
//! structure serialised; the HTML pages, the feed and the badges render it,
//! so every output gives the same numbers. Times are RFC 3339 (UTC),
//! durations seconds, ratios between 0 and 1.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::report::model::Ratio;

/// The state of one day in the 90-day bar, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    /// 5 % or more of the observed checks failed (down or broken).
    Outage,
    /// Some checks failed, or more than 10 % were slow.
    Degraded,
    /// An announced maintenance window covered part of the day, and no more
    /// than the failures above happened outside it.
    Maintenance,
    /// The system answered but no check offered an appointment slot.
    NoSlot,
    /// Every observed check worked.
    Available,
    /// No check observed the portal (vigie stopped, or could not observe).
    NotObserved,
}

impl DayState {
    pub const ALL: [DayState; 6] = [
        DayState::Available,
        DayState::Degraded,
        DayState::Outage,
        DayState::NoSlot,
        DayState::NotObserved,
        DayState::Maintenance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DayState::Outage => "outage",
            DayState::Degraded => "degraded",
            DayState::Maintenance => "maintenance",
            DayState::NoSlot => "no_slot",
            DayState::Available => "available",
            DayState::NotObserved => "not_observed",
        }
    }
}

/// The current state of a procedure, from its last observed check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Current {
    Available,
    Slow,
    NoSlot,
    /// The portal answered but the procedure failed.
    Failing,
    /// The portal could not be reached.
    Unreachable,
    /// No check has observed it yet (or none in the 90 days).
    Unknown,
}

impl Current {
    pub fn as_str(self) -> &'static str {
        match self {
            Current::Available => "available",
            Current::Slow => "slow",
            Current::NoSlot => "no_slot",
            Current::Failing => "failing",
            Current::Unreachable => "unreachable",
            Current::Unknown => "unknown",
        }
    }
}

/// One day of one procedure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayFigures {
    pub date: NaiveDate,
    pub state: DayState,
    /// Checks that observed the portal, and the failed ones (maintenance included).
    pub availability: Ratio,
    pub up: u64,
    pub degraded: u64,
    pub no_capacity: u64,
    pub broken: u64,
    pub down: u64,
    /// Checks that could not observe the portal (vigie's own failure, or
    /// the portal's bot protection refusing the monitor).
    pub unobserved: u64,
    pub maintenance_checks: u64,
    /// Slot checks of the day and those that offered at least one slot.
    pub slot_checks: u64,
    pub slot_offered: u64,
}

/// Availability over a window ending at the time of publication.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// `24h`, `7d`, `30d`, `90d`.
    pub window: String,
    pub hours: u32,
    pub availability: Ratio,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentOut {
    pub id: i64,
    /// The procedure's page name (`slug`) and title.
    pub procedure: String,
    pub title: String,
    pub site: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// To the end, or to the time of publication while it lasts.
    pub duration_s: f64,
    pub ongoing: bool,
    /// `down` (unreachable) or `broken` (the procedure failed).
    pub outcome: String,
    /// Why, in words (never a page's content, an address or an identifier).
    pub reason: Option<String>,
}

/// Appointment slots over the 90 days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slots {
    pub checks: u64,
    pub with_slot: u64,
    pub share_with_slot: Option<f64>,
    /// The last check that offered a slot.
    pub last_seen: Option<DateTime<Utc>>,
    /// The first free date offered at the last check that showed one, and when.
    pub first_free_date: Option<DateTime<Utc>>,
    pub first_free_seen_at: Option<DateTime<Utc>>,
}

/// What the monitor could not observe: never counted as the portal's outage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Unobserved {
    pub total: u64,
    /// Refused by the portal's bot protection.
    pub blocked: u64,
    /// vigie's own failure (browser crashed, no memory…).
    pub monitor_error: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Procedure {
    /// Stable page name: `procedure/<slug>.html`, `api/v1/procedures/<slug>.json`.
    pub slug: String,
    pub title: String,
    pub site: String,
    pub site_title: String,
    pub current: Current,
    /// When the current state began (first check of the current series).
    pub since: Option<DateTime<Utc>>,
    pub last_check: Option<DateTime<Utc>>,
    pub windows: Vec<Window>,
    pub days: Vec<DayFigures>,
    pub incidents: Vec<IncidentOut>,
    pub slots: Option<Slots>,
    pub unobserved: Unobserved,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteGroup {
    pub site: String,
    pub title: String,
    pub procedures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaintenanceOut {
    pub name: String,
    pub note: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub in_progress: bool,
    /// Titles of the procedures it covers.
    pub procedures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observatory {
    pub format: String,
    pub generated_at: DateTime<Utc>,
    pub title: String,
    pub public_url: Option<String>,
    pub timezone: String,
    /// The 90 days of the bars, oldest first.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub sites: Vec<SiteGroup>,
    pub procedures: Vec<Procedure>,
    /// Announced maintenance in progress or to come.
    pub maintenance: Vec<MaintenanceOut>,
}

impl Observatory {
    pub fn procedure(&self, slug: &str) -> Option<&Procedure> {
        self.procedures.iter().find(|p| p.slug == slug)
    }

    /// Every incident, most recent first.
    pub fn incidents(&self) -> Vec<&IncidentOut> {
        let mut all: Vec<&IncidentOut> = self.procedures.iter().flat_map(|p| &p.incidents).collect();
        all.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
        all
    }
}
