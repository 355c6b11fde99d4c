//! Prometheus metrics, named after blackbox_exporter's habits with a `vigie_`
//! namespace. Every series carries `location` (a registry constant label) and
//! only labels from a closed set: probe, procedure, site, step, outcome,
//! reason, observation name. Never a URL or an error message.
//!
//! The registry is owned by the daemon (no global state) and is fed only
//! through [`Metrics::record_run`] and the typed events in `events.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::probe::{Outcome, Probe, RunResult, StepStatus};

const PROBE: [&str; 3] = ["probe", "procedure", "site"];

pub struct Metrics {
    pub registry: Registry,
    pub probe_success: IntGaugeVec,
    pub probe_outcome: IntGaugeVec,
    pub probe_duration: HistogramVec,
    pub probe_runs: IntCounterVec,
    pub probe_failures: IntCounterVec,
    pub probe_last_run: GaugeVec,
    pub probe_captcha: IntCounterVec,
    pub probe_politeness_wait: prometheus::CounterVec,
    pub step_duration: GaugeVec,
    pub step_success: IntGaugeVec,
    pub step_status: IntGaugeVec,
    pub step_bytes: IntGaugeVec,
    pub observation: GaugeVec,
    pub tls_expiry: GaugeVec,
    pub sched_lateness: Histogram,
    pub sched_skipped: IntCounterVec,
    pub runs_in_flight: IntGauge,
    pub probes_configured: IntGauge,
    pub reload_ok: IntGauge,
    pub reload_time: Gauge,
    /// Label sets written per probe, so a probe removed by a reload loses its series.
    seen: Mutex<HashMap<String, SeenSeries>>,
}

#[derive(Default)]
struct SeenSeries {
    labels: [String; 3],
    steps: HashSet<String>,
    failures: HashSet<(String, String)>,
    captcha_steps: HashSet<String>,
    observations: HashSet<String>,
}

fn labels<'a>(v: &'a [&'a str]) -> Vec<&'a str> {
    v.to_vec()
}

impl Metrics {
    pub fn new(location: &str) -> Result<Metrics, prometheus::Error> {
        let mut consts = HashMap::new();
        consts.insert("location".to_string(), location.to_string());
        let registry = Registry::new_custom(None, Some(consts))?;
        let step_labels = ["probe", "procedure", "site", "step"];
        let m = Metrics {
            probe_success: IntGaugeVec::new(
                Opts::new(
                    "vigie_probe_success",
                    "Whether the last run of the probe completed its procedure (1 for up or degraded, 0 otherwise).",
                ),
                &PROBE,
            )?,
            probe_outcome: IntGaugeVec::new(
                Opts::new(
                    "vigie_probe_outcome",
                    "Outcome of the last run: 1 on the series of the current outcome, 0 on the others.",
                ),
                &labels(&["probe", "procedure", "site", "outcome"]),
            )?,
            probe_duration: HistogramVec::new(
                HistogramOpts::new(
                    "vigie_probe_duration_seconds",
                    "Active duration of probe runs (requests and transfers, without politeness waits).",
                )
                .buckets(vec![0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0]),
                &PROBE,
            )?,
            probe_runs: IntCounterVec::new(
                Opts::new("vigie_probe_runs_total", "Probe runs by outcome."),
                &labels(&["probe", "procedure", "site", "outcome"]),
            )?,
            probe_failures: IntCounterVec::new(
                Opts::new(
                    "vigie_probe_failures_total",
                    "Runs that were not up, by deciding step and bounded reason.",
                ),
                &labels(&["probe", "procedure", "site", "step", "reason"]),
            )?,
            probe_last_run: GaugeVec::new(
                Opts::new(
                    "vigie_probe_last_run_timestamp_seconds",
                    "Unix time when the last run of the probe started.",
                ),
                &PROBE,
            )?,
            probe_captcha: IntCounterVec::new(
                Opts::new(
                    "vigie_probe_captcha_reached_total",
                    "Runs that stopped at a CAPTCHA (never solved).",
                ),
                &step_labels,
            )?,
            probe_politeness_wait: prometheus::CounterVec::new(
                Opts::new(
                    "vigie_probe_politeness_wait_seconds_total",
                    "Time runs waited for the per-host politeness budget.",
                ),
                &PROBE,
            )?,
            step_duration: GaugeVec::new(
                Opts::new(
                    "vigie_step_duration_seconds",
                    "Active duration of the step in the last run that reached it.",
                ),
                &step_labels,
            )?,
            step_success: IntGaugeVec::new(
                Opts::new("vigie_step_success", "Whether the step passed in the last run that reached it."),
                &step_labels,
            )?,
            step_status: IntGaugeVec::new(
                Opts::new("vigie_step_http_status", "HTTP status of the step's last response."),
                &step_labels,
            )?,
            step_bytes: IntGaugeVec::new(
                Opts::new("vigie_step_response_bytes", "Size of the step's last response body in bytes."),
                &step_labels,
            )?,
            observation: GaugeVec::new(
                Opts::new(
                    "vigie_observation",
                    "Last value of a named observation (e.g. appointment_slots, first_free_date as Unix time).",
                ),
                &labels(&["probe", "procedure", "site", "name"]),
            )?,
            tls_expiry: GaugeVec::new(
                Opts::new(
                    "vigie_tls_cert_expiry_timestamp_seconds",
                    "Unix time when the TLS certificate seen by the step expires.",
                ),
                &step_labels,
            )?,
            sched_lateness: Histogram::with_opts(
                HistogramOpts::new(
                    "vigie_scheduler_lateness_seconds",
                    "How late runs started compared with their schedule (queueing for the concurrency cap included).",
                )
                .buckets(vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0]),
            )?,
            sched_skipped: IntCounterVec::new(
                Opts::new(
                    "vigie_scheduler_skipped_runs_total",
                    "Runs not started because the previous run of the probe was still going.",
                ),
                &PROBE,
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
            seen: Mutex::new(HashMap::new()),
            registry,
        };
        let build = IntGaugeVec::new(Opts::new("vigie_build_info", "Build information; always 1."), &["version"])?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        m.registry.register(Box::new(build))?;
        m.registry.register(Box::new(m.probe_success.clone()))?;
        m.registry.register(Box::new(m.probe_outcome.clone()))?;
        m.registry.register(Box::new(m.probe_duration.clone()))?;
        m.registry.register(Box::new(m.probe_runs.clone()))?;
        m.registry.register(Box::new(m.probe_failures.clone()))?;
        m.registry.register(Box::new(m.probe_last_run.clone()))?;
        m.registry.register(Box::new(m.probe_captcha.clone()))?;
        m.registry.register(Box::new(m.probe_politeness_wait.clone()))?;
        m.registry.register(Box::new(m.step_duration.clone()))?;
        m.registry.register(Box::new(m.step_success.clone()))?;
        m.registry.register(Box::new(m.step_status.clone()))?;
        m.registry.register(Box::new(m.step_bytes.clone()))?;
        m.registry.register(Box::new(m.observation.clone()))?;
        m.registry.register(Box::new(m.tls_expiry.clone()))?;
        m.registry.register(Box::new(m.sched_lateness.clone()))?;
        m.registry.register(Box::new(m.sched_skipped.clone()))?;
        m.registry.register(Box::new(m.runs_in_flight.clone()))?;
        m.registry.register(Box::new(m.probes_configured.clone()))?;
        m.registry.register(Box::new(m.reload_ok.clone()))?;
        m.registry.register(Box::new(m.reload_time.clone()))?;
        #[cfg(target_os = "linux")]
        m.registry
            .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        Ok(m)
    }

    /// Make every series of a probe exist before its first run, so that
    /// dashboards and `rate()` see zeros instead of gaps.
    pub fn declare_probe(&self, probe: &Probe) {
        let l = [probe.name.as_str(), probe.labels.procedure.as_str(), probe.labels.site.as_str()];
        for o in Outcome::ALL {
            self.probe_runs.with_label_values(&[l[0], l[1], l[2], o.as_str()]);
        }
        self.sched_skipped.with_label_values(&l);
        self.probe_politeness_wait.with_label_values(&l);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let entry = seen.entry(probe.name.clone()).or_default();
        entry.labels = [l[0].to_string(), l[1].to_string(), l[2].to_string()];
    }

    pub fn record_run(&self, probe: &Probe, r: &RunResult) {
        let l = [probe.name.as_str(), probe.labels.procedure.as_str(), probe.labels.site.as_str()];
        if r.outcome.is_observed() {
            // An unobserved run says nothing about the portal: the last
            // observed success stays, and its duration is not a measurement.
            self.probe_success.with_label_values(&l).set(i64::from(r.outcome.is_success()));
            self.probe_duration.with_label_values(&l).observe(r.duration.as_secs_f64());
        }
        for o in Outcome::ALL {
            self.probe_outcome
                .with_label_values(&[l[0], l[1], l[2], o.as_str()])
                .set(i64::from(o == r.outcome));
        }
        self.probe_runs.with_label_values(&[l[0], l[1], l[2], r.outcome.as_str()]).inc();
        self.probe_last_run
            .with_label_values(&l)
            .set(r.started_at.timestamp_millis() as f64 / 1000.0);
        self.probe_politeness_wait
            .with_label_values(&l)
            .inc_by(r.politeness_wait.as_secs_f64());
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let s = seen.entry(probe.name.clone()).or_default();
        s.labels = [l[0].to_string(), l[1].to_string(), l[2].to_string()];
        if let (Some(reason), Some(step)) = (r.reason, &r.failed_step) {
            self.probe_failures
                .with_label_values(&[l[0], l[1], l[2], step.as_str(), reason.as_str()])
                .inc();
            s.failures.insert((step.clone(), reason.as_str().to_string()));
        }
        if let Some(step) = &r.captcha_step {
            self.probe_captcha.with_label_values(&[l[0], l[1], l[2], step.as_str()]).inc();
            s.captcha_steps.insert(step.clone());
        }
        for st in &r.steps {
            if st.status == StepStatus::Skipped {
                continue;
            }
            let sl = [l[0], l[1], l[2], st.name.as_str()];
            s.steps.insert(st.name.clone());
            self.step_duration.with_label_values(&sl).set(st.duration.as_secs_f64());
            self.step_success
                .with_label_values(&sl)
                .set(i64::from(matches!(st.status, StepStatus::Passed | StepStatus::Captcha)));
            if let Some(code) = st.http_status {
                self.step_status.with_label_values(&sl).set(i64::from(code));
                self.step_bytes.with_label_values(&sl).set(st.response_bytes as i64);
            }
            if let Some(t) = st.tls_not_after {
                self.tls_expiry.with_label_values(&sl).set(t.timestamp() as f64);
            }
            for (name, v) in &st.observations {
                self.observation.with_label_values(&[l[0], l[1], l[2], name.as_str()]).set(*v);
                s.observations.insert(name.clone());
            }
        }
    }

    /// Remove every series of a probe that is no longer configured.
    pub fn forget_probe(&self, name: &str) {
        let Some(s) = self.seen.lock().unwrap_or_else(|e| e.into_inner()).remove(name) else {
            return;
        };
        let l: Vec<&str> = s.labels.iter().map(|x| x.as_str()).collect();
        let _ = self.probe_success.remove_label_values(&l);
        let _ = self.probe_duration.remove_label_values(&l);
        let _ = self.probe_last_run.remove_label_values(&l);
        let _ = self.sched_skipped.remove_label_values(&l);
        let _ = self.probe_politeness_wait.remove_label_values(&l);
        for o in Outcome::ALL {
            let ol = [l[0], l[1], l[2], o.as_str()];
            let _ = self.probe_outcome.remove_label_values(&ol);
            let _ = self.probe_runs.remove_label_values(&ol);
        }
        for (step, reason) in &s.failures {
            let _ = self
                .probe_failures
                .remove_label_values(&[l[0], l[1], l[2], step.as_str(), reason.as_str()]);
        }
        for step in s.steps.iter().chain(s.captcha_steps.iter()) {
            let sl = [l[0], l[1], l[2], step.as_str()];
            let _ = self.step_duration.remove_label_values(&sl);
            let _ = self.step_success.remove_label_values(&sl);
            let _ = self.step_status.remove_label_values(&sl);
            let _ = self.step_bytes.remove_label_values(&sl);
            let _ = self.tls_expiry.remove_label_values(&sl);
            let _ = self.probe_captcha.remove_label_values(&sl);
        }
        for name in &s.observations {
            let _ = self.observation.remove_label_values(&[l[0], l[1], l[2], name.as_str()]);
        }
    }

    /// Names of probes that have series.
    pub fn known_probes(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut buf = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
