//! Incidents of the period and their figures: totals, longest, time lost
//! in office hours, MTTR and MTBF. Incidents are exact intervals (from the
//! first failing run to the first passing one), not rollups.

use chrono::{DateTime, Duration, Utc};

use super::model::{IncidentRow, IncidentStats};
use super::observed::Observed;
use super::period::Period;
use super::settings::OfficeHours;
use crate::store::Incident;

fn secs(d: Duration) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}

/// Seconds of `[from, to)` that fall in office hours.
pub fn office_seconds(from: DateTime<Utc>, to: DateTime<Utc>, office: &OfficeHours, p: &Period) -> f64 {
    let mut total = 0.0;
    let mut h = DateTime::<Utc>::from_timestamp(from.timestamp().div_euclid(3600) * 3600, 0).unwrap_or(from);
    while h < to {
        let next = h + Duration::hours(1);
        if office.contains(&h, p.tz) {
            total += secs(next.min(to) - h.max(from));
        }
        h = next;
    }
    total
}

pub fn row(i: &Incident, p: &Period) -> IncidentRow {
    let end = i.ended_at.unwrap_or(p.end);
    IncidentRow {
        id: i.id,
        probe: i.probe.clone(),
        title: i.title.clone(),
        started_at: i.started_at,
        ended_at: i.ended_at,
        duration_s: secs(end - i.started_at),
        ongoing: i.ended_at.is_none(),
        outcome: i.outcome.as_str().to_string(),
        failed_step: i.failed_step.clone(),
        reason: i.reason.map(|r| r.as_str().to_string()),
        last_http_status: i.last_http_status,
        failing_runs: i.failing_runs,
        began_in_maintenance_at: i.began_in_maintenance_at,
        captures: Vec::new(),
    }
}

/// Captures linked per incident (the first ones of the incident).
pub const CAPTURES_LINKED: u32 = 3;

/// The incident's captures inside the period, linked into the bundle
/// folder `folder` beside the report.
pub fn captures(
    conn: &rusqlite::Connection,
    i: &IncidentRow,
    p: &Period,
    folder: &str,
) -> crate::store::Result<Vec<super::model::CaptureLink>> {
    let from = i.started_at.max(p.start);
    // The capture of the run that ended it is not the incident's; a capture
    // taken in the same millisecond as the start is.
    let to = i.ended_at.unwrap_or(p.end).min(p.end);
    if to <= from {
        return Ok(Vec::new());
    }
    let rows = crate::store::evidence::of_probe_between(conn, &i.probe, from, to, CAPTURES_LINKED)?;
    Ok(rows
        .into_iter()
        .map(|(seq, at)| super::model::CaptureLink {
            seq,
            at,
            href: format!("{folder}/{}", crate::evidence::bundle::capture_path(seq, at)),
        })
        .collect())
}

/// Figures for one probe's incidents (those overlapping the period).
/// `observed` is what vigie watched of the probe in the period: MTBF is the
/// observed time outside incidents per incident started.
pub fn stats(incidents: &[&Incident], p: &Period, office: &OfficeHours, observed: &Observed) -> IncidentStats {
    let mut observed_outage_ms = 0i64;
    let mut s = IncidentStats {
        count: incidents.len() as u64,
        ..IncidentStats::default()
    };
    let mut closed = Vec::new();
    for i in incidents {
        let end = i.ended_at.unwrap_or(p.end);
        let (a, b) = (i.started_at.max(p.start), end.min(p.end));
        if b > a {
            observed_outage_ms += observed.overlap_ms(a.timestamp_millis(), b.timestamp_millis());
            s.total_s += secs(b - a);
            s.office_hours_lost_s += office_seconds(a, b, office, p);
        }
        let full = secs(end - i.started_at);
        s.longest_s = Some(s.longest_s.map_or(full, |l: f64| l.max(full)));
        match i.ended_at {
            Some(e) => closed.push(secs(e - i.started_at)),
            None => s.still_open += 1,
        }
        if i.started_at >= p.start {
            s.started_in_period += 1;
        }
    }
    s.mttr_s = (!closed.is_empty()).then(|| closed.iter().sum::<f64>() / closed.len() as f64);
    let up_s = observed.seconds - observed_outage_ms as f64 / 1000.0;
    s.mtbf_s = (s.started_in_period > 0).then(|| up_s.max(0.0) / s.started_in_period as f64);
    s
}
