//! Prometheus metrics, named after blackbox_exporter's habits with a `vigie_`
//! namespace. Every series carries `location` (a registry constant label) and
//! only labels from a closed set: probe, procedure, site, step, outcome,
//! reason, phase, observation name. Never a URL or an error message.
//!
//! The per-probe series (52 for a probe of 5 steps) are not kept in the
//! `prometheus` crate's registry: each probe has a compact state and its
//! exposition text, rendered when its run is recorded ([`series`]), so a
//! scrape only concatenates the probes' texts family by family ([`text`]),
//! chunk by chunk as the server sends them ([`Scrape`]).
//! The process, scheduler and other subsystems' metrics stay in the
//! registry, encoded by the crate after the probes' families.
//!
//! Owned by the daemon (no global state), fed only through
//! [`Metrics::record_run`] and the typed events in `events.rs`. This module
//! knows nothing about HTTP: the server calls [`Metrics::encode`].

mod rare;
mod scrape;
mod series;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use prometheus::{Encoder, Gauge, Histogram, HistogramOpts, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::probe::{Probe, RunResult};
pub use rare::{Rare, RareVec};
pub use scrape::{Scrape, CHUNK};
use series::{ProbeSeries, ProbeText, Show};

/// Which optional per-probe series are exported (`metrics:` in the
/// configuration). Both on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `vigie_probe_duration_seconds` (15 series per probe), read by the
    /// dashboards' run-duration quantiles.
    pub duration_histogram: bool,
    /// `vigie_step_phase_duration_seconds` (5 series per timed step).
    pub step_phases: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            duration_histogram: true,
            step_phases: true,
        }
    }
}

/// Upper bounds of `vigie_scheduler_lateness_seconds`: from 1 ms (the tokio
/// timer's granularity) to a minute.
pub const LATENESS_BUCKETS: [f64; 13] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0, 60.0];

pub struct Metrics {
    pub registry: Registry,
    /// Per-probe families that change rarely, encoded only when they do.
    pub rare: Arc<Rare>,
    pub sched_lateness: Histogram,
    pub runs_in_flight: IntGauge,
    pub probes_configured: IntGauge,
    pub reload_ok: IntGauge,
    pub reload_time: Gauge,
    location: String,
    probes: Mutex<Probes>,
}

struct Probes {
    show: Show,
    by_name: BTreeMap<String, ProbeSeries>,
    /// Where a probe's text is rendered before it is copied into the
    /// probe's own buffer (see [`ProbeSeries::render`]).
    scratch: String,
}

impl Metrics {
    pub fn new(location: &str) -> Result<Metrics, prometheus::Error> {
        let mut consts = HashMap::new();
        consts.insert("location".to_string(), location.to_string());
        let registry = Registry::new_custom(None, Some(consts))?;
        let rare = Arc::new(Rare::new(location));
        let m = Metrics {
            sched_lateness: Histogram::with_opts(
                HistogramOpts::new(
                    "vigie_scheduler_lateness_seconds",
                    "How late runs started compared with their schedule (queueing for the concurrency cap included).",
                )
                .buckets(LATENESS_BUCKETS.to_vec()),
            )?,
            runs_in_flight: IntGauge::new("vigie_runs_in_flight", "Probe runs in progress or waiting for a concurrency slot.")?,
            probes_configured: IntGauge::new("vigie_probes_configured", "Enabled probes in the running configuration.")?,
            reload_ok: IntGauge::new(
                "vigie_config_last_reload_successful",
                "Whether the last configuration (re)load succeeded.",
            )?,
            reload_time: Gauge::new(
                "vigie_config_last_reload_success_timestamp_seconds",
                "Unix time of the last successful configuration load.",
            )?,
            location: location.to_string(),
            probes: Mutex::new(Probes {
                show: show(MetricsSettings::default()),
                by_name: BTreeMap::new(),
                scratch: String::new(),
            }),
            registry,
            rare,
        };
        let build = IntGaugeVec::new(Opts::new("vigie_build_info", "Build information; always 1."), &["version"])?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        m.registry.register(Box::new(build))?;
        m.registry.register(Box::new(m.sched_lateness.clone()))?;
        m.registry.register(Box::new(m.runs_in_flight.clone()))?;
        m.registry.register(Box::new(m.probes_configured.clone()))?;
        m.registry.register(Box::new(m.reload_ok.clone()))?;
        m.registry.register(Box::new(m.reload_time.clone()))?;
        #[cfg(target_os = "linux")]
        m.registry
            .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        Ok(m)
    }

    fn probes(&self) -> std::sync::MutexGuard<'_, Probes> {
        self.probes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Apply the configuration's `metrics:` settings (at load and reload).
    pub fn configure(&self, settings: MetricsSettings) {
        let mut guard = self.probes();
        let p = &mut *guard;
        let s = show(settings);
        if p.show != s {
            p.show = s;
            for series in p.by_name.values_mut() {
                series.render(s, &mut p.scratch);
            }
        }
    }

    /// Make the counters of a probe exist before its first run, so that
    /// dashboards and `rate()` see zeros instead of gaps.
    pub fn declare_probe(&self, probe: &Probe) {
        self.update(probe, |_| ());
    }

    /// Update a probe's state and render its text again. A probe whose
    /// procedure or site changed starts afresh (its old label set goes).
    fn update(&self, probe: &Probe, f: impl FnOnce(&mut ProbeSeries)) {
        let mut guard = self.probes();
        let p = &mut *guard;
        let show = p.show;
        let (procedure, site) = (probe.labels.procedure.as_str(), probe.labels.site.as_str());
        if !p.by_name.get(&probe.name).is_some_and(|s| s.has_labels(procedure, site)) {
            let fresh = ProbeSeries::new(&self.location, &probe.name, procedure, site);
            p.by_name.insert(probe.name.clone(), fresh);
        }
        if let Some(series) = p.by_name.get_mut(&probe.name) {
            f(series);
            series.render(show, &mut p.scratch);
        }
    }

    pub fn record_run(&self, probe: &Probe, r: &RunResult) {
        self.update(probe, |s| s.record_run(r));
    }

    /// A run not started because the previous one was still going.
    pub fn record_skip(&self, probe: &Probe) {
        self.update(probe, ProbeSeries::record_skip);
    }

    /// Remove every series of a probe that is no longer configured.
    pub fn forget_probe(&self, name: &str) {
        self.probes().by_name.remove(name);
    }

    /// Names of probes that have series.
    pub fn known_probes(&self) -> Vec<String> {
        self.probes().by_name.keys().cloned().collect()
    }

    /// One scrape: the probes' cached texts, family by family, then the
    /// registry's metrics and the rare families' last text, written chunk by
    /// chunk by [`Scrape::next_chunk`]. Holds the probes' lock only to clone
    /// one `Arc` per probe.
    pub fn scrape(&self) -> Scrape {
        let tail = vec![encode_registry(&self.registry), self.rare.text()];
        Scrape::new(self.cached_texts(), tail)
    }

    /// The whole text exposition format at once (tests, diagnostics).
    pub fn encode(&self) -> String {
        self.scrape().into_string()
    }

    /// The probes' families rendered from their state, ignoring the cached
    /// texts: what [`Metrics::encode`] must equal (tests and benchmarks).
    pub fn render_probes_uncached(&self) -> String {
        let p = self.probes();
        let mut scratch = String::new();
        let texts: Vec<Arc<ProbeText>> = p
            .by_name
            .values()
            .map(|s| {
                let mut copy = s.clone();
                copy.render(p.show, &mut scratch);
                copy.text().clone()
            })
            .collect();
        let mut out = String::new();
        concat_families(&mut out, &texts);
        out
    }

    /// The probes' families from the cached texts only (no registry).
    pub fn render_probes_cached(&self) -> String {
        Scrape::new(self.cached_texts(), Vec::new()).into_string()
    }

    fn cached_texts(&self) -> Vec<Arc<ProbeText>> {
        self.probes().by_name.values().map(|s| s.text().clone()).collect()
    }
}

/// A registry's families in the text format (nothing if it cannot be
/// encoded: the probes' families still go out).
fn encode_registry(registry: &Registry) -> Bytes {
    let mut buf = Vec::new();
    if TextEncoder::new().encode(&registry.gather(), &mut buf).is_err() {
        buf.clear();
    }
    Bytes::from(buf)
}

fn show(s: MetricsSettings) -> Show {
    Show {
        duration_histogram: s.duration_histogram,
        step_phases: s.step_phases,
    }
}

/// Each family that has series: its header, then every probe's fragment.
fn concat_families(out: &mut String, texts: &[Arc<ProbeText>]) {
    for (i, family) in text::FAMILIES.iter().enumerate() {
        if texts.iter().all(|t| t.fragment(i).is_empty()) {
            continue;
        }
        text::header(out, family);
        for t in texts {
            out.push_str(t.fragment(i));
        }
    }
}

#[cfg(test)]
mod tests;
