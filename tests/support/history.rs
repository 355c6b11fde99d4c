//! A synthetic history written the way the daemon writes it: results are
//! handed to the real history sink (store, outage state machine, evidence),
//! then every hour is rolled up as compaction would. Runs are built by hand
//! with known outcomes, so tests know every answer in advance.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use vigie::config::Config;
use vigie::daemon::ResultSink;
use vigie::probe::result::PageCapture;
use vigie::probe::{Outcome, Probe, Reason, RunResult, StepResult, StepStatus};
use vigie::store::{rollup, Store};

/// Paris local time on a day of September 2026 (no summer-time change in it).
pub fn paris(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let d = NaiveDate::from_ymd_opt(2026, 9, day).expect("day");
    chrono_tz::Europe::Paris
        .from_local_datetime(&d.and_hms_opt(hour, minute, 0).expect("time"))
        .single()
        .expect("unambiguous")
        .with_timezone(&Utc)
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct Spec {
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    /// Index of the deciding step (failing or no slot).
    pub step: usize,
    pub http: Option<u16>,
    /// Active duration of each step, seconds.
    pub durations: Vec<f64>,
    /// Observations at the last step.
    pub observations: Vec<(String, f64)>,
}

impl Spec {
    pub fn up(durations: &[f64]) -> Spec {
        Spec {
            outcome: Outcome::Up,
            reason: None,
            step: 0,
            http: Some(200),
            durations: durations.to_vec(),
            observations: vec![],
        }
    }

    pub fn failing(outcome: Outcome, reason: Reason, step: usize, http: Option<u16>, durations: &[f64]) -> Spec {
        Spec {
            outcome,
            reason: Some(reason),
            step,
            http,
            durations: durations.to_vec(),
            observations: vec![],
        }
    }

    pub fn observe(mut self, name: &str, value: f64) -> Spec {
        self.observations.push((name.to_string(), value));
        self
    }
}

const PAGES: [&str; 3] = [
    "<html><body><h1>Service momentanément indisponible</h1></body></html>",
    "<html><body><h1>Erreur technique</h1><p>Une erreur technique est survenue.</p></body></html>",
    "<html><body><form id=\"FormBookingCreate\"><p>Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. Veuillez recommencer ultérieurement.</p></form></body></html>",
];

/// A run of `probe` at `at` as the runner would return it.
pub fn run(probe: &Probe, at: DateTime<Utc>, spec: &Spec) -> RunResult {
    let mut steps = Vec::new();
    let mut elapsed = 0.0;
    let deciding = (spec.outcome != Outcome::Up && spec.outcome != Outcome::Degraded).then_some(spec.step);
    for (i, s) in probe.steps.iter().enumerate() {
        let mut r = StepResult::skipped(&s.name);
        if deciding.is_some_and(|d| i > d) {
            steps.push(r);
            continue;
        }
        let d = spec.durations.get(i).copied().unwrap_or(0.1);
        elapsed += d;
        r.method = "GET".into();
        r.url = Some(format!("{}/step/{}", probe.target.base_url, s.name));
        r.request_url = r.url.clone();
        r.duration = Duration::from_secs_f64(d);
        r.time_to_headers = r.duration;
        r.status = StepStatus::Passed;
        r.http_status = Some(200);
        if Some(i) == deciding {
            r.status = if spec.outcome == Outcome::NoCapacity {
                StepStatus::NoCapacity
            } else {
                StepStatus::Failed
            };
            r.reason = spec.reason;
            r.http_status = spec.http;
            let page = match spec.outcome {
                Outcome::Down => PAGES[0],
                Outcome::NoCapacity => PAGES[2],
                _ => PAGES[1],
            };
            r.capture = spec.http.map(|status| PageCapture {
                url: r.url.clone().unwrap_or_default(),
                status,
                headers: vec![
                    ("content-type".into(), "text/html; charset=utf-8".into()),
                    ("set-cookie".into(), "SESSION=«redacted»; Path=/".into()),
                ],
                body: page.as_bytes().to_vec(),
                truncated: false,
                received_at: at + chrono::Duration::milliseconds((elapsed * 1000.0) as i64),
            });
        }
        if i + 1 == probe.steps.len() || Some(i) == deciding {
            r.observations = spec.observations.clone();
        }
        steps.push(r);
    }
    RunResult {
        probe: probe.name.clone(),
        scheduled_at: Some(at),
        started_at: at,
        duration: Duration::from_secs_f64(elapsed),
        politeness_wait: Duration::ZERO,
        outcome: spec.outcome,
        reason: spec.reason,
        failed_step: deciding.map(|d| probe.steps[d].name.clone()),
        message: spec.reason.map(|r| format!("synthetic {}", r.as_str())),
        captcha_step: None,
        steps,
    }
}

/// Hand every run to the daemon's history sink, in time order, then roll
/// every hour up as compaction would have while the daemon ran.
pub async fn write(config: &Config, runs: Vec<(Arc<Probe>, RunResult)>) {
    let metrics = Arc::new(vigie::metrics::Metrics::new(&config.location).expect("metrics"));
    let sink = vigie::alert::HistorySink::start(config, &metrics).expect("history sink");
    for (p, r) in &runs {
        sink.on_result(p, r);
    }
    tokio::task::spawn_blocking(move || sink.shutdown()).await.expect("shutdown");
    roll_up_everything(config);
}

/// Recompute every rollup from the raw runs (the sink's own compaction ran
/// when it started, before the backdated runs arrived).
pub fn roll_up_everything(config: &Config) {
    let mut store = Store::open(&config.store.path).expect("store");
    forget_rollups(&store);
    rollup::compact(
        store.conn_mut(),
        Utc::now(),
        Duration::from_secs(3650 * 86400),
        Duration::from_secs(3650 * 86400),
    )
    .expect("compact");
}

/// No rollup at all: reports must then aggregate every hour from raw runs.
pub fn forget_rollups(store: &Store) {
    store
        .conn()
        .execute_batch(
            "DELETE FROM meta WHERE key = 'rollup_watermark_ms';
             DELETE FROM rollup_runs; DELETE FROM rollup_failures; DELETE FROM rollup_observations; DELETE FROM rollup_timings;",
        )
        .expect("forget rollups");
}
