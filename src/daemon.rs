//! The daemon: loads the configuration, runs the probe loops, passes each
//! result down the pipeline (metrics, status board, then the sinks: store and
//! alerting), serves HTTP, reloads on SIGHUP and stops cleanly on SIGTERM or
//! ctrl-c.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config::{self, Config, Files, LoadOptions};
use crate::diag::ConfigErrors;
use crate::events::{ConfigLoaded, ConfigReloadFailed, RunFinished};
use crate::metrics::Metrics;
use crate::probe::{Probe, RunResult};
use crate::runner::{Budgets, HttpEnv, Runner};
use crate::schedule::{self, Shared};
use crate::server::{self, AppState};
use crate::status::StatusBoard;

/// Something downstream of metrics that receives every result: the store,
/// then alerting. Must return quickly: slow work goes to its own task.
pub trait ResultSink: Send + Sync {
    fn on_result(&self, probe: &Arc<Probe>, result: &RunResult);
    /// Called with each (re)loaded configuration.
    fn on_config(&self, _config: &Config) {}
    /// Called once at shutdown, after the last result: flush and stop.
    /// May block (it runs on a blocking thread).
    fn shutdown(&self) {}
}

/// Builds the sinks once the configuration is loaded and the metrics
/// registry exists (sinks register their own metrics in it).
pub type SinkFactory = Box<dyn FnOnce(&Config, &Arc<Metrics>) -> anyhow::Result<Vec<Arc<dyn ResultSink>>> + Send>;

/// A factory for a daemon without store or alerting.
pub fn no_sinks() -> SinkFactory {
    Box::new(|_, _| Ok(vec![]))
}

/// Where the configuration comes from, so SIGHUP can read it again.
pub struct ConfigSource {
    pub path: PathBuf,
    pub files: Arc<dyn Files>,
    pub options: LoadOptions,
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, ConfigErrors> {
        config::load(&self.path, self.files.as_ref(), &self.options)
    }
}

pub struct Daemon {
    source: ConfigSource,
    metrics: Arc<Metrics>,
    board: Arc<StatusBoard>,
    runner: Arc<Runner>,
    /// The global cap on runs in flight, with the size it was made with.
    concurrency: Mutex<(usize, Arc<Semaphore>)>,
    results_tx: mpsc::Sender<(Arc<Probe>, RunResult)>,
    loops: Mutex<Loops>,
    config: Mutex<Arc<Config>>,
    sinks: Vec<Arc<dyn ResultSink>>,
    /// Set at start and by each reload: the code they ran is given back at
    /// the next tick of [`give_back_memory_regularly`].
    code_to_give_back: Arc<AtomicBool>,
}

#[derive(Default)]
struct Loops {
    stop: Option<watch::Sender<bool>>,
    handles: Vec<JoinHandle<()>>,
    running: HashMap<String, Arc<AtomicBool>>,
}

/// A running daemon, for the CLI and tests.
pub struct DaemonHandle {
    pub daemon: Arc<Daemon>,
    pub listen: SocketAddr,
    server: JoinHandle<std::io::Result<()>>,
    pipeline: JoinHandle<()>,
    shutdown_tx: watch::Sender<bool>,
}

impl Daemon {
    /// Load the configuration, build the shared parts, start everything.
    /// `listen_override` replaces the configured listen address.
    pub async fn start(source: ConfigSource, listen_override: Option<SocketAddr>, sinks: SinkFactory) -> anyhow::Result<DaemonHandle> {
        crate::malloc::tune_for_daemon();
        let config = source.load()?;
        let metrics = Arc::new(Metrics::new(&config.location)?);
        let sinks = sinks(&config, &metrics)?;
        let http = HttpEnv::new(config.user_agent())?;
        let budgets = Arc::new(Budgets::new(config.default_politeness));
        let swept = crate::browser::process::sweep_stale(&config.browser.profile_root);
        if swept > 0 {
            tracing::warn!(
                swept,
                "removed browser profiles left by a vigie that was killed, and any Chromium still using them"
            );
        }
        let browser = crate::runner::browser_env::BrowserEnv::new(config.browser.clone(), config.location.clone());
        let runner = Arc::new(Runner::new(http, budgets).with_browser(browser));
        let (results_tx, results_rx) = mpsc::channel(1024);
        let listen = listen_override.unwrap_or(config.listen);
        let daemon = Arc::new(Daemon {
            source,
            metrics: metrics.clone(),
            board: Arc::new(StatusBoard::default()),
            runner,
            concurrency: Mutex::new((config.concurrency, Arc::new(Semaphore::new(config.concurrency)))),
            results_tx,
            loops: Mutex::new(Loops::default()),
            config: Mutex::new(Arc::new(config.clone())),
            sinks,
            code_to_give_back: Arc::new(AtomicBool::new(true)),
        });
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {listen}: {e} (is another vigie running? choose another address with --listen)")
        })?;
        let listen = listener.local_addr()?;
        daemon.install(Arc::new(config), false);

        // The pipeline must not hold the daemon: dropping the daemon (and so
        // its results sender) is what ends the pipeline at shutdown.
        let pipeline = tokio::spawn(Self::pipeline(
            daemon.metrics.clone(),
            daemon.board.clone(),
            daemon.sinks.clone(),
            results_rx,
        ));
        let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
        let observatory = Arc::new(crate::observatory::serve::Latest::default());
        let app = server::app(AppState {
            observatory: observatory.clone(),
            metrics,
            board: daemon.board.clone(),
            location: daemon.config().location.clone(),
            evidence_db: {
                let c = daemon.config();
                c.alerting.evidence_url.as_ref().map(|_| c.store.path.clone())
            },
        });
        tokio::spawn(Self::publisher(Arc::downgrade(&daemon), observatory, shutdown_rx.clone()));
        tokio::spawn(give_back_memory_regularly(daemon.code_to_give_back.clone(), shutdown_rx.clone()));
        let server = tokio::spawn(server::serve(listener, app, async move {
            let _ = shutdown_rx.changed().await;
        }));
        tracing::info!(%listen, "serving /metrics, /healthz, /api/status and the status page");
        Ok(DaemonHandle {
            daemon,
            listen,
            server,
            pipeline,
            shutdown_tx,
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn board(&self) -> &Arc<StatusBoard> {
        &self.board
    }

    pub fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }

    /// Replace the running probe loops with those of `config`.
    fn install(&self, config: Arc<Config>, reload: bool) {
        let enabled: Vec<Arc<Probe>> = config.probes.iter().filter(|p| p.enabled).cloned().collect();
        self.runner.budgets.configure(
            config.default_politeness,
            config.targets.iter().map(|t| (t.host_key.clone(), t.politeness)),
        );
        let old = self.config();
        for p in &old.probes {
            if config.probe(&p.name).is_none_or(|n| !n.enabled) {
                self.metrics.forget_probe(&p.name);
            }
        }
        self.metrics.configure(config.metrics);
        for p in &enabled {
            self.metrics.declare_probe(p);
        }
        self.board.configure(enabled.iter().map(|p| p.as_ref()));
        for sink in &self.sinks {
            sink.on_config(&config);
        }
        let mut loops = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stop) = loops.stop.take() {
            let _ = stop.send(true);
        }
        loops.handles.clear();
        let (stop_tx, stop_rx) = watch::channel(false);
        let concurrency = {
            let mut c = self.concurrency.lock().unwrap_or_else(|e| e.into_inner());
            // Runs in flight keep their permits from the old semaphore.
            if c.0 != config.concurrency {
                *c = (config.concurrency, Arc::new(Semaphore::new(config.concurrency)));
            }
            c.1.clone()
        };
        let shared = Shared {
            runner: self.runner.clone(),
            metrics: self.metrics.clone(),
            concurrency,
            results: self.results_tx.clone(),
        };
        for p in enabled.iter() {
            let running = loops
                .running
                .entry(p.name.clone())
                .or_insert_with(|| Arc::new(AtomicBool::new(false)))
                .clone();
            loops
                .handles
                .push(schedule::spawn_probe_loop(p.clone(), shared.clone(), running, stop_rx.clone()));
        }
        loops.stop = Some(stop_tx);
        drop(loops);
        ConfigLoaded {
            file: &config.file,
            probes: enabled.len(),
            reload,
        }
        .emit(&self.metrics);
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Read the configuration again; on any error keep the running one.
    pub fn reload(&self) -> Result<(), ConfigErrors> {
        match self.source.load() {
            Ok(c) => {
                self.install(Arc::new(c), true);
                self.code_to_give_back.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                ConfigReloadFailed { errors: &e.0 }.emit(&self.metrics);
                Err(e)
            }
        }
    }

    async fn pipeline(
        metrics: Arc<Metrics>,
        board: Arc<StatusBoard>,
        sinks: Vec<Arc<dyn ResultSink>>,
        mut rx: mpsc::Receiver<(Arc<Probe>, RunResult)>,
    ) {
        while let Some((probe, result)) = rx.recv().await {
            RunFinished {
                probe: &probe,
                result: &result,
            }
            .emit(&metrics);
            board.record(&probe, &result);
            for sink in &sinks {
                sink.on_result(&probe, &result);
            }
        }
    }

    /// Publish the public observatory every `publish.every` (read again
    /// after each reload) into `publish.output` (or the private cache) and
    /// serve it from there under `/observatoire/`. Holds the daemon weakly: shutdown drops it.
    async fn publisher(daemon: std::sync::Weak<Daemon>, latest: Arc<crate::observatory::serve::Latest>, mut stop: watch::Receiver<bool>) {
        loop {
            let Some(config) = daemon.upgrade().map(|d| d.config()) else {
                return;
            };
            let every = config.publish.every;
            let (c, latest) = (config.clone(), latest.clone());
            let t = std::time::Instant::now();
            match tokio::task::spawn_blocking(move || publish_once(&c, &latest)).await {
                Ok(Ok(files)) => tracing::info!(files, ms = t.elapsed().as_millis() as u64, "observatory published"),
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot publish the observatory; the previous version stays online"),
                Err(e) => tracing::error!(error = %e, "the observatory publisher stopped unexpectedly"),
            }
            drop(config);
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }

    fn stop_loops(&self) {
        let mut loops = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stop) = loops.stop.take() {
            let _ = stop.send(true);
        }
        loops.handles.clear();
    }
}

impl DaemonHandle {
    /// Stop scheduling, let runs in flight finish (bounded), flush the
    /// pipeline and stop the server.
    pub async fn shutdown(self, grace: std::time::Duration) {
        self.daemon.stop_loops();
        let deadline = tokio::time::Instant::now() + grace;
        while self.daemon.metrics.runs_in_flight.get() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = self.shutdown_tx.send(true);
        let _ = self.server.await;
        // Dropping the daemon's sender ends the pipeline once queued results are handled.
        let DaemonHandle { daemon, pipeline, .. } = self;
        let sinks = daemon.sinks.clone();
        drop(daemon);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), pipeline).await;
        let _ = tokio::task::spawn_blocking(move || {
            for sink in &sinks {
                sink.shutdown();
            }
        })
        .await;
    }
}

/// Wait for SIGTERM or ctrl-c; call `on_hup` on each SIGHUP meanwhile.
#[cfg(unix)]
pub async fn wait_for_signals(mut on_hup: impl FnMut()) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); return; }
            _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted: shutting down"); return; }
            _ = hup.recv() => { tracing::info!("SIGHUP: reloading the configuration"); on_hup(); }
        }
    }
}

/// One publication of the observatory: rendered a file at a time into a
/// new generation folder of `publish.output`, or of the private
/// `observatoire-cache/` beside the store when no output is set, then
/// served from that folder under `/observatoire/` (the site is never in the
/// daemon's memory, issue 14). Returns the number of files.
fn publish_once(config: &Config, latest: &crate::observatory::serve::Latest) -> Result<usize, crate::observatory::Error> {
    let now = chrono::Utc::now();
    let o = crate::observatory::build_config(config, now)?;
    let output = match &config.publish.output {
        Some(output) => output.clone(),
        None => {
            let cache = observatory_cache(config);
            crate::private_fs::create_dir(&cache).map_err(|e| crate::observatory::Error::Write {
                path: cache.clone(),
                error: std::io::Error::other(e),
            })?;
            cache.join("site")
        }
    };
    let n = crate::observatory::serve::publish(&o, &output, now.timestamp_millis(), latest)?;
    drop(o);
    crate::malloc::give_back_free_memory();
    Ok(n)
}

/// How often the daemon hands the allocator's free pages back to the system.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Every [`TRIM_EVERY`], return the free pages inside the allocator's heaps
/// (`malloc_trim`, on a blocking thread). Each run's bodies and clients are
/// freed between long-lived blocks, and glibc keeps those pages otherwise
/// (measured at 1,000 probes in BENCHMARKS.md, issue 14). At the first tick
/// after start and after each reload (when `code` is set), also give back
/// the pages of code start-up ran ([`crate::code_pages`]): by then the
/// configuration is loaded and the first publication is over.
async fn give_back_memory_regularly(code: Arc<AtomicBool>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TRIM_EVERY) => {}
            _ = stop.changed() => return,
        }
        let give_back_code = code.swap(false, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || {
            crate::malloc::give_back_free_memory();
            if give_back_code {
                match crate::code_pages::give_back() {
                    Ok(bytes) => tracing::debug!(kib = bytes / 1024, "start-up code pages given back"),
                    Err(e) => tracing::debug!(error = %e, "cannot give back the start-up code pages (Linux 5.4 or later needed)"),
                }
            }
        })
        .await;
    }
}

/// Where the daemon keeps the observatory it serves when `publish.output`
/// is not set: `observatoire-cache/` beside the store, owner-only.
pub fn observatory_cache(config: &Config) -> PathBuf {
    let dir = config.store.path.parent().filter(|d| !d.as_os_str().is_empty());
    dir.unwrap_or(std::path::Path::new(".")).join("observatoire-cache")
}
