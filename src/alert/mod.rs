//! Alerting and history: the daemon sink that records every run in the
//! store, runs the outage state machine, groups notifications into e-mails
//! and delivers them exactly once (see docs/alerts.md).
//!
//! Data flow, per result: the daemon's pipeline calls [`HistorySink`] after
//! the metrics; the sink hands the result to the writer thread (`writer.rs`)
//! through a bounded channel and returns at once. The writer records the run
//! and the state machine's decisions in one SQLite transaction; notifications
//! wait out the grouping window in the store, then become outbox e-mails,
//! which the mailer task (`mailer.rs`) delivers.
//!
//! Store and alerting are one sink on purpose: the run, the state change and
//! the notification it causes must share a transaction.

pub mod email;
pub mod events;
pub mod machine;
pub mod mailer;
pub mod maintenance;
pub mod metrics;
pub mod notice;
pub mod settings;
pub mod wording;
mod writer;

#[cfg(test)]
pub(crate) mod testutil;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::daemon::{ResultSink, SinkFactory};
use crate::evidence::metrics::EvidenceMetrics;
use crate::evidence::EvidenceSettings;
use crate::metrics::Metrics;
use crate::probe::{Probe, RunResult};
use crate::store::{incidents, Store, StoreError, StoreSettings};
use mailer::{Mailer, MailerSettings};
use metrics::AlertMetrics;
use settings::{AlertSettings, Delivery, MaintenanceWindow};

/// Results waiting for the writer. Generous: a run is small, and when full the
/// pipeline task waits (the scheduler never does: it has its own channel).
const QUEUE: usize = 10_000;
/// Page cache of the writer's and the mailer's connections, in KiB (see
/// `Store::cap_cache`). The writer appends: the pages it needs are the last
/// leaf of each table and index. At 1,000 probes with 1 MiB the daemon's
/// memory grew by 0.8 MiB between its second and third minute, as the cache
/// filled, and not after (BENCHMARKS.md, "Fourth memory pass").
const WRITER_CACHE_KIB: u32 = 256;
const MAILER_CACHE_KIB: u32 = 256;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("history store {}: {error}", path.display())]
    Store { path: PathBuf, error: StoreError },
    #[error("metrics: {0}")]
    Metrics(prometheus::Error),
    #[error("cannot start the history writer thread: {0}")]
    Thread(std::io::Error),
    #[error("the history sink needs a tokio runtime")]
    NoRuntime,
    #[error("cannot build the HTTP client for the time-stamping authority: {0}")]
    Http(String),
}

/// What the writer reads from the configuration.
pub(crate) struct Runtime {
    pub alerting: AlertSettings,
    pub maintenance: Vec<MaintenanceWindow>,
    pub store: StoreSettings,
    pub evidence: EvidenceSettings,
    pub location: String,
    pub probes: Vec<Arc<Probe>>,
}

impl Runtime {
    fn of(c: &Config) -> Runtime {
        Runtime {
            alerting: c.alerting.clone(),
            maintenance: c.maintenance.clone(),
            store: c.store.clone(),
            evidence: c.evidence.clone(),
            location: c.location.clone(),
            probes: c.probes.clone(),
        }
    }
}

pub(crate) enum Msg {
    Run(Arc<Probe>, Box<RunResult>),
    Config(Arc<Runtime>),
    Shutdown,
}

/// The daemon sink for `vigie run` and `vigie demo`: the history store and alerting.
pub fn sinks() -> SinkFactory {
    Box::new(|config, metrics| {
        let sink: Arc<dyn ResultSink> = HistorySink::start(config, metrics)?;
        Ok(vec![sink])
    })
}

pub struct HistorySink {
    tx: SyncSender<Msg>,
    queue_len: Arc<AtomicI64>,
    stopping: Arc<AtomicBool>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    mailer_settings: watch::Sender<MailerSettings>,
    mailer_stop: watch::Sender<bool>,
    mailer_done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    store_path: PathBuf,
    metrics: Arc<AlertMetrics>,
    stamper: StamperHandle,
}

/// The stamper task's controls (`evidence.timestamp`).
struct StamperHandle {
    settings: watch::Sender<Option<crate::evidence::settings::TimestampSettings>>,
    stop: watch::Sender<bool>,
    done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl StamperHandle {
    /// Start the stamper (idle while `evidence.timestamp` is unset).
    fn start(handle: &tokio::runtime::Handle, config: &Config, metrics: &Arc<Metrics>) -> Result<StamperHandle, AlertError> {
        let sm = Arc::new(crate::evidence::metrics::StampMetrics::new(&metrics.registry).map_err(AlertError::Metrics)?);
        let (settings, settings_rx) = watch::channel(config.evidence.timestamp.clone());
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent())
            .build()
            .map_err(|e| AlertError::Http(e.to_string()))?;
        let stamper = crate::evidence::stamper::Stamper {
            store_path: config.store.path.clone(),
            settings: settings_rx,
            metrics: sm,
            stop: stop_rx,
            client,
            first_retry: crate::evidence::stamper::FIRST_RETRY,
        };
        handle.spawn(async move {
            stamper.run().await;
            let _ = done_tx.send(());
        });
        Ok(StamperHandle {
            settings,
            stop,
            done: Mutex::new(Some(done_rx)),
        })
    }

    /// Stop after a last stamp of the final head (bounded).
    fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Some(done) = self.done.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = done.recv_timeout(Duration::from_secs(15));
        }
    }
}

impl HistorySink {
    /// Open the store (migrating it), restore the state machine's state,
    /// start the writer thread and the mailer task.
    pub fn start(config: &Config, metrics: &Arc<Metrics>) -> Result<Arc<HistorySink>, AlertError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| AlertError::NoRuntime)?;
        let am = Arc::new(AlertMetrics::new(&metrics.registry, &metrics.rare).map_err(AlertError::Metrics)?);
        let em = Arc::new(EvidenceMetrics::new(&metrics.registry, &metrics.rare).map_err(AlertError::Metrics)?);
        let names: Vec<String> = config.probes.iter().map(|p| p.name.clone()).collect();
        crate::evidence::metrics::init_series(&em, &names);
        let path = config.store.path.clone();
        let store_err = |error| AlertError::Store { path: path.clone(), error };
        let store = Store::open(&path).map_err(store_err)?;
        let states = incidents::load_states(store.conn()).map_err(store_err)?;
        let throttle = crate::evidence::throttle_from_store(store.conn()).map_err(store_err)?;
        let mailer_store = Store::open(&path).map_err(store_err)?;
        store.cap_cache(WRITER_CACHE_KIB).map_err(store_err)?;
        mailer_store.cap_cache(MAILER_CACHE_KIB).map_err(store_err)?;

        let wake = Arc::new(Notify::new());
        let (settings_tx, settings_rx) = watch::channel(mailer_settings(&config.alerting));
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let mailer = Mailer {
            store: Arc::new(Mutex::new(mailer_store)),
            settings: settings_rx,
            metrics: am.clone(),
            wake: wake.clone(),
            stop: stop_rx,
        };
        handle.spawn(async move {
            mailer.run().await;
            let _ = done_tx.send(());
        });

        let stamper = StamperHandle::start(&handle, config, metrics)?;
        let (tx, rx) = sync_channel(QUEUE);
        let queue_len = Arc::new(AtomicI64::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let w = writer::Writer {
            store,
            rt: Arc::new(Runtime::of(config)),
            states,
            throttle,
            evidence_metrics: em,
            last_anchor: None,
            metrics: am.clone(),
            wake_mailer: wake,
            stopping: stopping.clone(),
            queue_len: queue_len.clone(),
            oldest_pending: None,
            last_compaction: None,
            flush_retry_at: None,
            gauged: HashMap::new(),
            versions: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("vigie-history".into())
            .spawn(move || w.run(rx))
            .map_err(AlertError::Thread)?;
        tracing::info!(store = %path.display(), delivery = %describe(&config.alerting.delivery), "history store and alerting started");
        Ok(Arc::new(HistorySink {
            tx,
            queue_len,
            stopping,
            writer: Mutex::new(Some(thread)),
            mailer_settings: settings_tx,
            mailer_stop: stop_tx,
            mailer_done: Mutex::new(Some(done_rx)),
            store_path: path,
            metrics: am,
            stamper,
        }))
    }

    pub fn metrics(&self) -> &Arc<AlertMetrics> {
        &self.metrics
    }

    fn send(&self, msg: Msg) {
        match self.tx.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => {
                tracing::warn!("the history writer is behind ({QUEUE} runs queued): waiting for it (probing continues)");
                let _ = self.tx.send(msg);
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the history writer has stopped: a result could not be recorded");
            }
        }
    }
}

fn mailer_settings(a: &AlertSettings) -> MailerSettings {
    MailerSettings {
        delivery: a.delivery.clone(),
        retry: a.retry,
    }
}

/// `SMTP smtp.example.org:587 (starttls)` or `spool folder var/spool`.
pub fn describe(d: &Delivery) -> String {
    match d {
        Delivery::Smtp(s) => format!("SMTP {}:{} ({})", s.host, s.port, s.security.as_str()),
        Delivery::Spool(dir) => format!("spool folder {} (.eml files)", dir.display()),
    }
}

/// What `vigie demo` tells a person about where e-mails go.
pub fn describe_for_people(d: &Delivery) -> String {
    match d {
        Delivery::Smtp(s) => format!("sent through SMTP {}:{} ({})", s.host, s.port, s.security.as_str()),
        Delivery::Spool(dir) => format!(
            "no SMTP configured: each alert is written as an .eml file into {}/ (open it with any mail client)",
            dir.display()
        ),
    }
}

impl ResultSink for HistorySink {
    fn on_result(&self, probe: &Arc<Probe>, result: &RunResult) {
        self.queue_len.fetch_add(1, Ordering::Relaxed);
        self.send(Msg::Run(probe.clone(), Box::new(result.clone())));
    }

    fn on_config(&self, config: &Config) {
        if config.store.path != self.store_path {
            tracing::warn!(
                running = %self.store_path.display(),
                configured = %config.store.path.display(),
                "`store.path` changed: it takes effect at the next restart"
            );
        }
        self.send(Msg::Config(Arc::new(Runtime::of(config))));
        self.mailer_settings.send_replace(mailer_settings(&config.alerting));
        self.stamper.settings.send_if_modified(|s| {
            let changed = *s != config.evidence.timestamp;
            *s = config.evidence.timestamp.clone();
            changed
        });
    }

    fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(t) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        // The writer has written the last records: stamp the final head.
        self.stamper.shutdown();
        let _ = self.mailer_stop.send(true);
        if let Some(done) = self.mailer_done.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // A last delivery pass may be talking to a slow SMTP server.
            let _ = done.recv_timeout(Duration::from_secs(15));
        }
    }
}
