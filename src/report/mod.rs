//! Availability reports for an authority or a court: per probe and per
//! procedure, incidents, slot availability, latency, failure patterns,
//! evidence counts and a methodology generated from the configuration, as
//! HTML (self-contained, printable to A4), CSV and JSON (the same numbers).
//!
//! [`build`] computes a [`model::Report`] from the store (hourly rollups,
//! plus raw runs for the hours not rolled up yet, see `data.rs`); `html`,
//! `csv` and JSON (serde) render it. See docs/reports.md.

pub(crate) mod compute;
pub mod csv;
pub mod data;
pub mod fmt;
pub mod html;
pub(crate) mod incidents;
pub mod methodology;
pub mod model;
mod observed;
pub mod pdf;
pub mod period;
pub mod settings;
mod slots;
mod svg;
mod words;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::alert::settings::Language;
use crate::config::Config;
use crate::store::{incidents as store_incidents, Result, StoreError};
use model::{EvidenceSummary, PeriodOut, ProbeReport, Report};
use period::Period;
use settings::ReportSettings;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Csv,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// Which probes a report covers: all when every list is empty; otherwise
/// the probes named, or of a procedure or site named.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub probes: Vec<String>,
    pub procedures: Vec<String>,
    pub sites: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty() && self.procedures.is_empty() && self.sites.is_empty()
    }

    pub fn accepts(&self, probe: &str, procedure: &str, site: &str) -> bool {
        self.is_empty()
            || self.probes.iter().any(|p| p == probe)
            || self.procedures.iter().any(|p| p == procedure)
            || self.sites.iter().any(|s| s == site)
    }
}

pub struct Request<'a> {
    pub period: Period,
    pub filter: Filter,
    pub language: Language,
    pub settings: ReportSettings,
    /// For the methodology, titles and step order; None with `--db` alone.
    pub config: Option<&'a Config>,
    pub now: DateTime<Utc>,
}

/// Labels and title of a probe, from the configuration or the history.
struct Known {
    title: String,
    procedure: String,
    site: String,
    steps: Vec<String>,
    observes_slots: bool,
}

fn known_probes(conn: &Connection, req: &Request, data: &data::Data, incidents: &[crate::store::Incident]) -> BTreeMap<String, Known> {
    let mut out = BTreeMap::new();
    let slot_name = &req.settings.slot_observation;
    if let Some(c) = req.config {
        for p in &c.probes {
            out.insert(
                p.name.clone(),
                Known {
                    title: p.title.clone(),
                    procedure: p.labels.procedure.clone(),
                    site: p.labels.site.clone(),
                    steps: p.steps.iter().map(|s| s.name.clone()).collect(),
                    observes_slots: p.steps.iter().any(|s| s.observe.iter().any(|o| &o.name == slot_name)),
                },
            );
        }
    }
    for r in &data.hourly.runs {
        out.entry(r.probe.clone()).or_insert_with(|| Known {
            title: r.probe.clone(),
            procedure: r.procedure.clone(),
            site: r.site.clone(),
            steps: vec![],
            observes_slots: false,
        });
    }
    for i in incidents {
        let k = out.entry(i.probe.clone()).or_insert_with(|| Known {
            title: i.title.clone(),
            procedure: i.procedure.clone(),
            site: i.site.clone(),
            steps: vec![],
            observes_slots: false,
        });
        if k.title == i.probe {
            k.title = i.title.clone();
        }
    }
    // Without a configuration, step order comes from the latest run.
    for (name, k) in out.iter_mut().filter(|(_, k)| k.steps.is_empty()) {
        let last = conn
            .prepare_cached(
                "SELECT r.id FROM run_log r WHERE r.probe_id = (SELECT id FROM probes WHERE name = ?1) ORDER BY r.started_at_ms DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([name], |r| r.get::<_, i64>(0)));
        if let Ok(id) = last {
            k.steps = crate::store::runs::steps(conn, id)
                .map(|s| s.into_iter().map(|s| s.name).collect())
                .unwrap_or_default();
        }
    }
    out
}

fn locations(conn: &Connection, config: Option<&Config>) -> Vec<String> {
    let mut set = BTreeSet::new();
    if let Some(c) = config {
        set.insert(c.location.clone());
    }
    if let Ok(l) = conn.query_row(
        "SELECT location FROM labels WHERE id = (SELECT labels_id FROM run_log ORDER BY id DESC LIMIT 1)",
        [],
        |r| r.get::<_, String>(0),
    ) {
        set.insert(l);
    }
    set.into_iter().collect()
}

/// Compute the report. `progress` receives short messages for long work.
/// Observed time and versions come from the writer-kept stretches and
/// version hours (`store::stretches`): no raw run is read for them.
pub fn build(conn: &Connection, req: &Request, progress: impl FnMut(&str)) -> Result<Report> {
    build_with(conn, req, progress, false)
}

/// The same report computed from every raw run of the period: hourly
/// aggregates (`store::aggregate`) instead of rollups, observed time and
/// versions from `store::observed::scan`. The reference the fast path is
/// compared with (tests, `vigie bench-report`).
pub fn build_from_raw_runs(conn: &Connection, req: &Request, progress: impl FnMut(&str)) -> Result<Report> {
    build_with(conn, req, progress, true)
}

fn build_with(conn: &Connection, req: &Request, mut progress: impl FnMut(&str), raw: bool) -> Result<Report> {
    let p = &req.period;
    let tz = p.tz;
    let office = &req.settings.office_hours;
    progress("reading hourly rollups");
    let data = if raw {
        data::load_from_raw_runs(conn, p)?
    } else {
        data::load(conn, p)?
    };
    let all_incidents = store_incidents::incidents_between(conn, None, p.start, p.end)?;
    let known = known_probes(conn, req, &data, &all_incidents);
    let oldest_raw = crate::store::observed::oldest_raw(conn)?;
    progress("observed time");
    let all_rows: Vec<_> = data.hourly.runs.iter().collect();
    let exact = observed::exact_from(p, &all_rows, oldest_raw, p.end.min(req.now).max(p.start));
    let selected: Vec<(&String, &Known)> = known.iter().filter(|(n, k)| req.filter.accepts(n, &k.procedure, &k.site)).collect();
    let scanned = if raw {
        crate::store::observed::scan(conn, exact, p.end, req.now)?
    } else {
        observed::from_stretches(conn, selected.iter().map(|(n, _)| n.as_str()), exact, p.end, req.now)?
    };
    let names: Vec<String> = selected.iter().map(|(n, _)| (*n).clone()).collect();
    let h = &data.hourly;
    // Each kind of row grouped by probe once (not filtered per probe: a
    // month of 50 probes is half a million phase rows).
    let latency_by = by_probe(&h.latency, |r| &r.probe);
    let phases_by = by_probe(&h.phases, |r| &r.probe);
    let runs_by = by_probe(&h.runs, |r| &r.probe);
    let failures_by = by_probe(&h.failures, |r| &r.probe);
    let mut probes = Vec::new();
    for (name, k) in &selected {
        progress(&format!("probe {name}"));
        let rows_of = |m: &BTreeMap<&str, Vec<usize>>| m.get(name.as_str()).cloned().unwrap_or_default();
        let runs: Vec<_> = rows_of(&runs_by).into_iter().map(|i| &h.runs[i]).collect();
        let slot_rows: Vec<_> = h
            .observations
            .iter()
            .filter(|o| &o.probe == *name && o.name == req.settings.slot_observation)
            .collect();
        let free_rows: Vec<_> = h
            .observations
            .iter()
            .filter(|o| &o.probe == *name && o.name == req.settings.first_free_observation)
            .collect();
        let latency: Vec<_> = rows_of(&latency_by).into_iter().map(|i| &h.latency[i]).collect();
        let phases: Vec<_> = rows_of(&phases_by).into_iter().map(|i| &h.phases[i]).collect();
        let failures: Vec<_> = rows_of(&failures_by).into_iter().map(|i| &h.failures[i]).collect();
        let incs: Vec<_> = all_incidents.iter().filter(|i| &i.probe == *name).collect();
        let availability = compute::availability(&runs, office, tz);
        let observed = observed::compute(conn, name, p, &runs, exact, scanned.get(*name).map(|s| &s.spans), req.now)?;
        let (not_observed, not_observed_count) = observed.listed_gaps();
        let slots = if k.observes_slots || !slot_rows.is_empty() {
            Some(slots::stats(
                conn,
                name,
                &req.settings.slot_observation,
                &slot_rows,
                &free_rows,
                availability.captcha,
                p,
            )?)
        } else {
            None
        };
        probes.push(ProbeReport {
            probe: (*name).clone(),
            title: k.title.clone(),
            procedure: k.procedure.clone(),
            site: k.site.clone(),
            observed_s: observed.seconds,
            period_s: observed.period_s,
            coverage: (observed.period_s > 0.0).then(|| observed.seconds / observed.period_s),
            not_observed_s: (observed.period_s - observed.seconds).max(0.0),
            not_observed,
            not_observed_count,
            incidents: incidents::stats(&incs, p, office, &observed),
            slots,
            latency: compute::latency(&latency, &k.steps),
            phases: compute::phases(&phases, &k.steps),
            failures: compute::failures(&failures),
            refusals: compute::refusals(&failures, tz),
            daily: compute::daily(&runs, &slot_rows, p),
            availability,
        });
    }
    let selected_runs: Vec<_> = h.runs.iter().filter(|r| names.contains(&r.probe)).collect();
    let evidence_folder = crate::evidence::bundle::default_stem(req.language, p.from_day, p.to_day);
    let mut incidents = Vec::new();
    for i in all_incidents.iter().filter(|i| names.contains(&i.probe)) {
        let mut row = incidents::row(i, p);
        row.captures = incidents::captures(conn, &row, p, &evidence_folder)?;
        incidents.push(row);
    }
    progress("evidence");
    let only = (!req.filter.is_empty()).then_some(names.as_slice());
    let (captures, days) = crate::store::evidence::count_between(conn, p.start, p.end, only)?;
    let head = crate::store::evidence::head(conn)?.map(|(s, h)| format!("{s}:{h}"));
    let mut versions = BTreeMap::new();
    for name in &names {
        let used = scanned.get(name).map(|s| s.versions.as_slice()).unwrap_or_default();
        versions.insert(name.clone(), crate::store::versions::described(conn, used)?);
    }
    let methodology = methodology::build(methodology::Input {
        config: req.config,
        settings: &req.settings,
        lang: req.language,
        tz,
        probes: &names,
        locations: locations(conn, req.config),
        live_from: data.live_from,
        now: req.now,
        versions: &versions,
    });
    Ok(Report {
        format: "vigie-report/1".into(),
        evidence_folder,
        generated_at: req.now,
        vigie_version: env!("CARGO_PKG_VERSION").into(),
        language: req.language.as_str().into(),
        author: req.settings.author.clone(),
        period: PeriodOut {
            from: p.from_day,
            to: p.to_day,
            timezone: tz.to_string(),
            start: p.start,
            end: p.end,
            partial: p.partial,
        },
        procedures: compute::procedures(&probes),
        probes,
        incidents,
        failure_pattern: compute::pattern(&selected_runs, tz),
        evidence: EvidenceSummary {
            captures,
            days_covered: days.len() as u64,
            register_head: head,
        },
        methodology,
    })
}

/// Indexes of `rows` by probe name.
fn by_probe<T>(rows: &[T], probe: impl Fn(&T) -> &String) -> BTreeMap<&str, Vec<usize>> {
    let mut out: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        out.entry(probe(r).as_str()).or_default().push(i);
    }
    out
}

/// Render in a format. Secret values of the configured probes are redacted
/// from the output once more, whatever their way in.
pub fn render(report: &Report, format: Format, config: Option<&Config>) -> std::result::Result<Vec<u8>, StoreError> {
    let bytes = match format {
        Format::Json => serde_json::to_vec_pretty(report)?,
        Format::Csv => csv::render(report).into_bytes(),
        Format::Html => html::render(report).into_bytes(),
    };
    let mut r = crate::runner::redact::Redactor::new();
    for p in config.map(|c| c.probes.as_slice()).unwrap_or_default() {
        for (_, v) in &p.env {
            r.add(v);
        }
    }
    Ok(if r.is_empty() { bytes } else { r.bytes(&bytes) })
}
