//! The observatory's figures from the store: the hourly data of the last 90
//! days (`report::data`, rollups plus raw runs for the hours not rolled up),
//! availability by `report::compute::availability` (the one definition in
//! the code base), incidents from the store, and a few indexed point queries
//! on raw runs (current state, last slot seen, last first free date).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::model::{
    Current, DayFigures, DayState, IncidentOut, MaintenanceOut, Observatory, Procedure, SiteGroup, Slots, Unobserved, Window,
};
use super::settings::PublishSettings;
use super::Error;
use crate::alert::settings::MaintenanceWindow;
use crate::config::Config;
use crate::probe::{Outcome, Reason};
use crate::report::compute;
use crate::report::data::{self, Data};
use crate::report::model::Availability;
use crate::report::period::Period;
use crate::report::settings::ReportSettings;
use crate::store::{from_ms, incidents as store_incidents, to_ms, FailureRollup, Incident, ObservationRollup, RunRollup};

/// Days in the bars and the longest window.
pub const DAYS: i64 = 90;

/// What to build the observatory from.
pub struct Input<'a> {
    /// Titles, sites and maintenance windows; without it, the probes of the history.
    pub config: Option<&'a Config>,
    pub settings: &'a PublishSettings,
    pub now: DateTime<Utc>,
}

/// A probe as the public sees it.
struct Shown {
    name: String,
    title: String,
    site: String,
    target: Option<String>,
    observes_slots: bool,
}

fn shown_probes(input: &Input, d: &Data, incidents: &[Incident], slot_name: &str) -> Vec<Shown> {
    if let Some(c) = input.config {
        return c
            .probes
            .iter()
            .map(|p| Shown {
                name: p.name.clone(),
                title: p.title.clone(),
                site: p.labels.site.clone(),
                target: Some(p.target.name.clone()),
                observes_slots: p.steps.iter().any(|s| s.observe.iter().any(|o| o.name == slot_name)),
            })
            .collect();
    }
    let mut m: BTreeMap<String, Shown> = BTreeMap::new();
    for r in &d.hourly.runs {
        m.entry(r.probe.clone()).or_insert_with(|| Shown {
            name: r.probe.clone(),
            title: r.probe.clone(),
            site: r.site.clone(),
            target: None,
            observes_slots: false,
        });
    }
    for i in incidents {
        if let Some(s) = m.get_mut(&i.probe) {
            s.title = i.title.clone();
        }
    }
    for o in d.hourly.observations.iter().filter(|o| o.name == slot_name) {
        if let Some(s) = m.get_mut(&o.probe) {
            s.observes_slots = true;
        }
    }
    m.into_values().collect()
}

/// The page name of a probe: lowercase letters, digits and dashes.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    if s.is_empty() {
        "procedure".into()
    } else {
        s
    }
}

/// The title people read for a site: configured, else what the probes'
/// titles say before « — » or « : », else the label.
fn site_title(site: &str, probes: &[&Shown], settings: &PublishSettings) -> String {
    if let Some(t) = settings.sites.get(site) {
        return t.clone();
    }
    for p in probes {
        for sep in [" — ", " – ", " : ", ": "] {
            if let Some((head, _)) = p.title.split_once(sep) {
                if !head.trim().is_empty() {
                    return head.trim().to_string();
                }
            }
        }
    }
    site.to_string()
}

/// The hourly rows of one probe, gathered once.
#[derive(Default)]
struct Rows<'a> {
    runs: Vec<&'a RunRollup>,
    failures: Vec<&'a FailureRollup>,
    observations: Vec<&'a ObservationRollup>,
}

/// Every probe's rows inside the 90-day window (whole hours ending now).
fn by_probe(d: &Data, from: DateTime<Utc>) -> HashMap<&str, Rows<'_>> {
    let mut m: HashMap<&str, Rows> = HashMap::new();
    let inside = |hour: DateTime<Utc>| hour + Duration::hours(1) > from;
    for r in d.hourly.runs.iter().filter(|r| inside(r.hour)) {
        m.entry(r.probe.as_str()).or_default().runs.push(r);
    }
    for f in d.hourly.failures.iter().filter(|f| inside(f.hour)) {
        m.entry(f.probe.as_str()).or_default().failures.push(f);
    }
    for o in d.hourly.observations.iter().filter(|o| inside(o.hour)) {
        m.entry(o.probe.as_str()).or_default().observations.push(o);
    }
    m
}

/// What every procedure's figures are computed with.
struct Ctx<'a> {
    conn: &'a Connection,
    /// The bars' 90 days.
    period: &'a Period,
    reports: &'a ReportSettings,
    incidents: &'a [Incident],
    now: DateTime<Utc>,
}

/// Build everything the pages, feed, badges and API show.
pub fn build(conn: &Connection, input: &Input) -> Result<Observatory, Error> {
    let tz = input.config.map(|c| c.timezone).unwrap_or(chrono_tz::Europe::Paris);
    let reports = input.config.map(|c| c.reports.clone()).unwrap_or_default();
    let today = input.now.with_timezone(&tz).date_naive();
    let period = Period::new(Some(today - Duration::days(DAYS - 1)), Some(today), tz, input.now)?;
    // The 90-day window is 2 160 whole hours: it begins in the day before the bars.
    let window_start = input.now - Duration::days(DAYS);
    let loaded = Period::new(Some(window_start.with_timezone(&tz).date_naive()), Some(today), tz, input.now)?;
    let d = data::load_counts(conn, &loaded)?;
    let incidents = store_incidents::incidents_between(conn, None, period.start, period.end)?;
    let shown = shown_probes(input, &d, &incidents, &reports.slot_observation);
    let rows = by_probe(&d, window_start);
    let cx = Ctx {
        conn,
        period: &period,
        reports: &reports,
        incidents: &incidents,
        now: input.now,
    };
    let empty = Rows::default();
    let mut procedures = Vec::with_capacity(shown.len());
    for s in &shown {
        procedures.push(procedure(&cx, s, rows.get(s.name.as_str()).unwrap_or(&empty))?);
    }
    let sites = site_groups(&shown, input.settings);
    for p in &mut procedures {
        if let Some(g) = sites.iter().find(|g| g.procedures.contains(&p.slug)) {
            p.site_title = g.title.clone();
        }
    }
    let maintenance = input
        .config
        .map(|c| maintenance(&c.maintenance, &shown, input.now))
        .unwrap_or_default();
    Ok(Observatory {
        format: "vigie-observatory/1".into(),
        generated_at: input.now,
        title: input.settings.title.clone().unwrap_or_default(),
        public_url: input.settings.public_url.clone(),
        timezone: tz.to_string(),
        from: period.from_day,
        to: period.to_day,
        sites,
        procedures,
        maintenance,
    })
}

fn site_groups(shown: &[Shown], settings: &PublishSettings) -> Vec<SiteGroup> {
    let mut groups: BTreeMap<&str, Vec<&Shown>> = BTreeMap::new();
    for s in shown {
        groups.entry(s.site.as_str()).or_default().push(s);
    }
    groups
        .iter()
        .map(|(site, ps)| SiteGroup {
            site: site.to_string(),
            title: site_title(site, ps, settings),
            procedures: ps.iter().map(|p| slug(&p.name)).collect(),
        })
        .collect()
}

fn procedure(cx: &Ctx, s: &Shown, rows: &Rows) -> Result<Procedure, Error> {
    let slug = slug(&s.name);
    let (current, since, last_check) = current_state(cx, &s.name, &rows.runs)?;
    let slot_rows: Vec<&ObservationRollup> = rows
        .observations
        .iter()
        .copied()
        .filter(|o| o.name == cx.reports.slot_observation)
        .collect();
    let incidents = cx
        .incidents
        .iter()
        .filter(|i| i.probe == s.name)
        .rev()
        .map(|i| incident_out(i, &slug, &s.title, &s.site, cx.now))
        .collect();
    let slots = if s.observes_slots || !slot_rows.is_empty() {
        Some(slots(cx, &s.name, rows)?)
    } else {
        None
    };
    Ok(Procedure {
        title: s.title.clone(),
        site: s.site.clone(),
        site_title: s.site.clone(),
        current,
        since,
        last_check,
        windows: windows(cx, &rows.runs),
        days: days(cx, &rows.runs, &slot_rows, s.observes_slots),
        incidents,
        slots,
        unobserved: unobserved(rows),
        slug,
    })
}

/// The bars' 90 days, each by `report::compute::availability`.
fn days(cx: &Ctx, runs: &[&RunRollup], slot_rows: &[&ObservationRollup], observes_slots: bool) -> Vec<DayFigures> {
    let tz = cx.period.tz;
    let mut of_day: HashMap<NaiveDate, Vec<&RunRollup>> = HashMap::new();
    for r in runs {
        of_day.entry(r.hour.with_timezone(&tz).date_naive()).or_default().push(r);
    }
    compute::daily(runs, slot_rows, cx.period)
        .iter()
        .map(|day| {
            let rows = of_day.get(&day.date).map(Vec::as_slice).unwrap_or(&[]);
            let a = compute::availability(rows, &cx.reports.office_hours, tz);
            day_figures(day.date, &a, day.slot_checks, day.slot_with, observes_slots)
        })
        .collect()
}

/// Availability over 24 h, 7, 30 and 90 days: whole hours ending now.
fn windows(cx: &Ctx, runs: &[&RunRollup]) -> Vec<Window> {
    [("24h", 24u32), ("7d", 7 * 24), ("30d", 30 * 24), ("90d", DAYS as u32 * 24)]
        .into_iter()
        .map(|(name, hours)| {
            let from = cx.now - Duration::hours(i64::from(hours));
            let inside: Vec<&RunRollup> = runs.iter().copied().filter(|r| r.hour + Duration::hours(1) > from).collect();
            Window {
                window: name.into(),
                hours,
                availability: compute::availability(&inside, &cx.reports.office_hours, cx.period.tz).all,
            }
        })
        .collect()
}

/// The day's colour. Thresholds are documented in docs/observatory.md.
pub fn day_state(a: &Availability, slot_checks: u64, slot_with: u64, observes_slots: bool) -> DayState {
    let observed = a.all.runs;
    let outside = &a.excluding_maintenance;
    if observed == 0 {
        return if a.maintenance_runs > 0 {
            DayState::Maintenance
        } else {
            DayState::NotObserved
        };
    }
    if outside.failed > 0 && outside.failed * 20 >= outside.runs.max(1) {
        DayState::Outage
    } else if outside.failed > 0 || a.degraded * 10 > observed {
        DayState::Degraded
    } else if a.maintenance_runs > 0 {
        DayState::Maintenance
    } else if observes_slots && slot_checks > 0 && slot_with == 0 {
        DayState::NoSlot
    } else {
        DayState::Available
    }
}

fn day_figures(date: NaiveDate, a: &Availability, slot_checks: u64, slot_with: u64, observes_slots: bool) -> DayFigures {
    DayFigures {
        date,
        state: day_state(a, slot_checks, slot_with, observes_slots),
        availability: a.all,
        up: a.up,
        degraded: a.degraded,
        no_capacity: a.no_capacity,
        broken: a.broken,
        down: a.down,
        unobserved: a.unobserved,
        maintenance_checks: a.maintenance_runs,
        slot_checks,
        slot_offered: slot_with,
    }
}

fn current_of(o: Outcome) -> Current {
    match o {
        Outcome::Up => Current::Available,
        Outcome::Degraded => Current::Slow,
        Outcome::NoCapacity => Current::NoSlot,
        Outcome::Broken => Current::Failing,
        Outcome::Down => Current::Unreachable,
        Outcome::Unobserved => Current::Unknown,
    }
}

/// Observed runs of the hour with another outcome than `o`.
fn others(r: &RunRollup, o: Outcome) -> u32 {
    let same = match o {
        Outcome::Up => r.up,
        Outcome::Degraded => r.degraded,
        Outcome::NoCapacity => r.no_capacity,
        Outcome::Broken => r.broken,
        Outcome::Down => r.down,
        Outcome::Unobserved => r.unobserved,
    };
    r.runs.saturating_sub(r.unobserved).saturating_sub(same)
}

/// The current state, since when, and the last check at all.
type State = (Current, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The last observed check's state, since when, and the last check at all.
/// The hourly rows locate the last hour with another outcome; indexed point
/// queries inside it give the exact time (a long series is never scanned).
fn current_state(cx: &Ctx, probe: &str, runs: &[&RunRollup]) -> Result<State, Error> {
    let last: Option<(String, i64)> = cx
        .conn
        .prepare_cached(
            "SELECT (SELECT text FROM texts WHERE id = r.outcome_id), r.started_at_ms FROM run_log r
             WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) AND r.outcome_id != IFNULL((SELECT id FROM texts WHERE text = 'unobserved'), -1) ORDER BY r.started_at_ms DESC LIMIT 1",
        )?
        .query_row([probe], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let last_check: Option<i64> = cx
        .conn
        .prepare_cached("SELECT MAX(r.started_at_ms) FROM run_log r WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1)")?
        .query_row([probe], |r| r.get(0))?;
    let Some((outcome, at)) = last else {
        return Ok((Current::Unknown, None, last_check.map(from_ms)));
    };
    let outcome = Outcome::parse(&outcome).unwrap_or(Outcome::Broken);
    let other_hour = runs
        .iter()
        .filter(|r| others(r, outcome) > 0 && to_ms(r.hour) <= at)
        .map(|r| r.hour)
        .max();
    let after = match other_hour {
        Some(h) => {
            let other: Option<i64> = cx
                .conn
                .prepare_cached(
                    "SELECT MAX(r.started_at_ms) FROM run_log r WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) AND r.started_at_ms >= ?2 AND r.started_at_ms < ?3
                     AND r.outcome_id != IFNULL((SELECT id FROM texts WHERE text = ?4), -1) AND r.outcome_id != IFNULL((SELECT id FROM texts WHERE text = 'unobserved'), -1)",
                )?
                .query_row(
                    params![probe, to_ms(h), to_ms(h).saturating_add(3_600_000).min(at), outcome.as_str()],
                    |r| r.get(0),
                )?;
            // Raw runs past their retention: from the end of that hour.
            other.unwrap_or(to_ms(h) + 3_599_999)
        }
        None => to_ms(cx.now - Duration::days(DAYS)) - 1,
    };
    let since: Option<i64> = cx
        .conn
        .prepare_cached(
            "SELECT MIN(r.started_at_ms) FROM run_log r WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) AND r.outcome_id = IFNULL((SELECT id FROM texts WHERE text = ?2), -1) AND r.started_at_ms > ?3",
        )?
        .query_row(params![probe, outcome.as_str(), after], |r| r.get(0))?;
    Ok((current_of(outcome), since.map(from_ms), last_check.map(from_ms)))
}

fn incident_out(i: &Incident, slug: &str, title: &str, site: &str, now: DateTime<Utc>) -> IncidentOut {
    let end = i.ended_at.unwrap_or(now);
    IncidentOut {
        id: i.id,
        procedure: slug.to_string(),
        title: title.to_string(),
        site: site.to_string(),
        started_at: i.started_at,
        ended_at: i.ended_at,
        duration_s: (end - i.started_at).num_milliseconds().max(0) as f64 / 1000.0,
        ongoing: i.ended_at.is_none(),
        outcome: i.outcome.as_str().to_string(),
        reason: i.reason.map(|r| r.as_str().to_string()),
    }
}

fn unobserved(rows: &Rows) -> Unobserved {
    let mut u = Unobserved::default();
    for r in &rows.runs {
        u.total += u64::from(r.unobserved);
    }
    for f in &rows.failures {
        match Reason::parse(&f.reason) {
            Some(Reason::Blocked) => u.blocked += u64::from(f.runs),
            Some(Reason::MonitorError) => u.monitor_error += u64::from(f.runs),
            _ => {}
        }
    }
    u
}

/// The last raw observation named `name` with a value in `(min, ∞)`, in
/// the hour starting at `hour`: (time of the check, value).
fn last_in_hour(conn: &Connection, probe: &str, name: &str, hour: DateTime<Utc>, min: f64) -> Result<Option<(i64, f64)>, Error> {
    Ok(conn
        .prepare_cached(
            "SELECT r.started_at_ms, o.value FROM run_log r JOIN run_values o ON o.run_id = r.id
             WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) AND r.started_at_ms >= ?2 AND r.started_at_ms < ?3 AND o.name_id = (SELECT id FROM texts WHERE text = ?4) AND o.value > ?5
             ORDER BY r.started_at_ms DESC LIMIT 1",
        )?
        .query_row(params![probe, to_ms(hour), to_ms(hour) + 3_600_000, name, min], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// The rows of one observation.
fn named<'a>(rows: &'a [&'a ObservationRollup], name: &'a str) -> impl Iterator<Item = &'a ObservationRollup> + 'a {
    rows.iter().copied().filter(move |o| o.name == name)
}

/// The share of slot checks that offered one, the last slot seen and the
/// first free date offered at the last check that gave one: hourly rows
/// locate the hour, a point query on raw runs gives the exact check.
fn slots(cx: &Ctx, probe: &str, rows: &Rows) -> Result<Slots, Error> {
    let (slot_name, free_name) = (cx.reports.slot_observation.as_str(), cx.reports.first_free_observation.as_str());
    let of = |name| named(&rows.observations, name);
    let (mut checks, mut with_slot) = (0u64, 0u64);
    for o in of(slot_name) {
        checks += u64::from(o.count);
        with_slot += u64::from(o.positive.min(o.count));
    }
    let last_seen = match of(slot_name).filter(|o| o.positive > 0).map(|o| o.hour).max() {
        Some(h) => Some(
            last_in_hour(cx.conn, probe, slot_name, h, 0.0)?
                .map(|(t, _)| from_ms(t))
                .unwrap_or(h),
        ),
        None => None,
    };
    let (first_free_date, first_free_seen_at) = match of(free_name).filter(|o| o.count > 0).map(|o| o.hour).max() {
        Some(h) => match last_in_hour(cx.conn, probe, free_name, h, f64::MIN)? {
            Some((t, v)) => (DateTime::from_timestamp(v as i64, 0), Some(from_ms(t))),
            // Raw runs past their retention: the hour's largest value.
            None => {
                let max = of(free_name).filter(|o| o.hour == h).map(|o| o.max).fold(f64::MIN, f64::max);
                (DateTime::from_timestamp(max as i64, 0), Some(h))
            }
        },
        None => (None, None),
    };
    Ok(Slots {
        checks,
        with_slot,
        share_with_slot: (checks > 0).then(|| with_slot as f64 / checks as f64),
        last_seen,
        first_free_date,
        first_free_seen_at,
    })
}

fn maintenance(windows: &[MaintenanceWindow], shown: &[Shown], now: DateTime<Utc>) -> Vec<MaintenanceOut> {
    let mut out: Vec<MaintenanceOut> = windows
        .iter()
        .filter_map(|w| {
            let o = w.next_occurrence(now)?;
            let procedures = shown
                .iter()
                .filter(|s| w.applies_to(&s.name, s.target.as_deref().unwrap_or("")))
                .map(|s| s.title.clone())
                .collect();
            Some(MaintenanceOut {
                name: w.name.clone(),
                note: w.note.clone(),
                start: o.start,
                end: o.end,
                in_progress: o.start <= now,
                procedures,
            })
        })
        .collect();
    out.sort_by_key(|m| m.start);
    out
}
