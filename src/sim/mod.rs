//! A local imitation of the ANEF portal and of prefecture booking systems, for the demo, the
//! tests and the benchmarks.
//!
//! Three sites, each on its own listener so that per-host politeness budgets stay separate:
//! the ANEF portal with its Keycloak SSO, an old eZ Publish prefecture booking module, and
//! RDV-Préfecture. Faults (outages, slow pages, error pages, rejected uploads, slot counts) are
//! switched at run time through [`SimHandle::apply`] or the loopback-only admin API under
//! `/__sim/`, so tests know the ground truth. See docs/simulator.md for the routes and markup.

mod admin;
mod booking;
mod bot;
mod faults;
mod pages;
mod portal;
mod rdv;
pub mod scenario;
mod server;
mod sessions;
mod spa;
pub mod state;
mod upload;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use scenario::{play, Scenario, ScenarioEvent};
pub use state::{
    AppMode, BotProtection, Counters, FaultMode, RouteKey, RoutePatch, RouteState, SimState, Site, SitePatch, SiteState, StatePatch,
    UploadMode,
};

/// The simulator's built-in test account (the only one that can log in).
pub const TEST_USERNAME: &str = "TEST-VIGIE-0001";
/// Password of [`TEST_USERNAME`]. Not a secret: it only opens the simulator.
pub const TEST_PASSWORD: &str = "vigie-demo-password";

/// How many requests the log keeps (oldest dropped first).
pub const REQUEST_LOG_CAP: usize = 10_000;

/// Errors of the simulator's API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A state patch that does not parse or is out of range.
    #[error("invalid state patch: {0}")]
    InvalidPatch(String),
    /// A site could not be brought back up (its port was taken meanwhile).
    #[error("cannot reopen the {site} listener on {addr}: {source}")]
    Listener {
        site: Site,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// An invalid scenario file, with the position of the offending node.
    #[error("{file}:{line}:{column}: {message}")]
    Scenario {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
}

/// Where the three sites listen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimConfig {
    pub portal: SocketAddr,
    pub prefecture: SocketAddr,
    pub rdv: SocketAddr,
}

impl SimConfig {
    /// All three sites on 127.0.0.1 with ports chosen by the system (for tests).
    pub fn loopback_ephemeral() -> SimConfig {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        SimConfig {
            portal: any,
            prefecture: any,
            rdv: any,
        }
    }

    fn addr(&self, site: Site) -> SocketAddr {
        match site {
            Site::Portal => self.portal,
            Site::Prefecture => self.prefecture,
            Site::Rdv => self.rdv,
        }
    }
}

impl Default for SimConfig {
    /// 127.0.0.1:8181 (portal), :8182 (prefecture), :8183 (rdv).
    fn default() -> Self {
        SimConfig {
            portal: SocketAddr::from((Ipv4Addr::LOCALHOST, 8181)),
            prefecture: SocketAddr::from((Ipv4Addr::LOCALHOST, 8182)),
            rdv: SocketAddr::from((Ipv4Addr::LOCALHOST, 8183)),
        }
    }
}

/// One request received by a site (admin requests excluded).
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// Increasing from 1; `GET /__sim/requests?since=N` returns the records after N.
    pub seq: u64,
    pub site: Site,
    /// `None` for paths that match no route (404).
    pub route: Option<RouteKey>,
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Arrival time (wall clock).
    pub at: DateTime<Utc>,
    /// Arrival time (monotonic), for measuring intervals in tests.
    #[serde(skip)]
    pub instant: Instant,
    pub peer_port: Option<u16>,
    /// Refused with 502 by the site's `min_interval_ms` limiter.
    pub limited: bool,
    /// The route's fault mode when the request arrived (ground truth for tests).
    pub mode: FaultMode,
    /// The route's `delay_ms` when the request arrived.
    pub delay_ms: u64,
}

struct RequestLog {
    records: VecDeque<RequestRecord>,
    next_seq: u64,
}

/// What all listeners and handlers share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<SimState>,
    pub(crate) sessions: Mutex<sessions::Sessions>,
    log: Mutex<RequestLog>,
    last_arrival: Mutex<BTreeMap<Site, Instant>>,
    listeners: Mutex<BTreeMap<Site, server::SiteListener>>,
    addrs: BTreeMap<Site, SocketAddr>,
    rt: tokio::runtime::Handle,
    closed: AtomicBool,
}

/// Locks a mutex, recovering from poisoning: a panicking handler must not take the whole
/// simulator down with it, and every guarded value stays consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn state(&self) -> SimState {
        lock(&self.state).clone()
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut lock(&self.state).counters);
    }

    /// Changes the state and opens or closes listeners to match `sites.*.down`. On a listener
    /// error nothing changes.
    pub(crate) fn update(self: &Arc<Self>, f: impl FnOnce(&mut SimState)) -> Result<SimState, SimError> {
        let mut st = lock(&self.state);
        let mut new = st.clone();
        f(&mut new);
        server::sync_listeners(self, &new)?;
        *st = new;
        Ok(st.clone())
    }

    pub(crate) fn apply(self: &Arc<Self>, patch: &StatePatch) -> Result<SimState, SimError> {
        patch.validate()?;
        self.update(|s| patch.apply_to(s))
    }

    pub(crate) fn reset(self: &Arc<Self>) -> SimState {
        match self.update(|s| *s = SimState::default()) {
            Ok(s) => s,
            Err(e) => {
                // A site that cannot be reopened stays down; everything else is reset.
                tracing::warn!(error = %e, "simulator reset: a site could not be reopened");
                let sites = self.state().sites;
                self.update(|s| {
                    *s = SimState::default();
                    s.sites = sites;
                })
                .unwrap_or_else(|_| self.state())
            }
        }
    }

    /// Whether a request arriving now on `site` must be refused by the min-interval limiter.
    /// The interval is measured from the previous request's arrival, refused or not, as a
    /// hammering client keeps being refused on the real sites.
    pub(crate) fn rate_limited(&self, site: Site, min_interval_ms: u64) -> bool {
        let now = Instant::now();
        let prev = lock(&self.last_arrival).insert(site, now);
        min_interval_ms > 0 && prev.is_some_and(|p| now.duration_since(p) < Duration::from_millis(min_interval_ms))
    }

    pub(crate) fn record(&self, mut rec: RequestRecord) {
        let mut log = lock(&self.log);
        log.next_seq += 1;
        rec.seq = log.next_seq;
        log.records.push_back(rec);
        while log.records.len() > REQUEST_LOG_CAP {
            log.records.pop_front();
        }
    }

    pub(crate) fn requests_since(&self, since: u64) -> Vec<RequestRecord> {
        let log = lock(&self.log);
        // Sequence numbers are contiguous, so the first wanted record's index is computed.
        let first = log.records.front().map_or(0, |r| r.seq);
        let skip = since.saturating_sub(first.saturating_sub(1));
        log.records
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    fn url(&self, site: Site) -> String {
        match self.addrs.get(&site) {
            Some(a) => format!("http://{a}"),
            None => String::new(),
        }
    }
}

/// A running simulator. Cheap to clone; every clone controls the same simulator.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("portal", &self.portal_url())
            .field("prefecture", &self.prefecture_url())
            .field("rdv", &self.rdv_url())
            .finish()
    }
}

/// Binds the three sites and starts serving; returns once all three are listening.
pub async fn start(cfg: SimConfig) -> std::io::Result<SimHandle> {
    let mut bound = Vec::new();
    for site in Site::ALL {
        let listener = server::bind(cfg.addr(site))?;
        bound.push((site, listener.local_addr()?, listener));
    }
    let addrs: BTreeMap<Site, SocketAddr> = bound.iter().map(|(s, a, _)| (*s, *a)).collect();
    let shared = Arc::new(Shared {
        state: Mutex::new(SimState::default()),
        sessions: Mutex::new(sessions::Sessions::default()),
        log: Mutex::new(RequestLog {
            records: VecDeque::new(),
            next_seq: 0,
        }),
        last_arrival: Mutex::new(BTreeMap::new()),
        listeners: Mutex::new(addrs.iter().map(|(s, a)| (*s, server::SiteListener::new(*a))).collect()),
        addrs,
        rt: tokio::runtime::Handle::current(),
        closed: AtomicBool::new(false),
    });
    for (site, _, listener) in bound {
        server::launch(&shared, site, listener);
    }
    Ok(SimHandle { shared })
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn portal_url(&self) -> String {
        self.shared.url(Site::Portal)
    }

    pub fn prefecture_url(&self) -> String {
        self.shared.url(Site::Prefecture)
    }

    pub fn rdv_url(&self) -> String {
        self.shared.url(Site::Rdv)
    }

    /// The base URL of any site.
    pub fn url(&self, site: Site) -> String {
        self.shared.url(site)
    }

    /// A snapshot of the current state.
    pub fn state(&self) -> SimState {
        self.shared.state()
    }

    /// Applies a patch, exactly as `PATCH /__sim/state` does. Closing a site closes its
    /// listener before this returns; reopening binds the same port again.
    pub fn apply(&self, patch: &StatePatch) -> Result<(), SimError> {
        self.shared.apply(patch).map(|_| ())
    }

    /// Back to the default state (everything up and normal, no slots, CAPTCHA on, counters at
    /// zero). Sessions and the request log are kept.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// The request log, oldest first (at most [`REQUEST_LOG_CAP`] records).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests_since(0)
    }

    /// The records whose `seq` is greater than `since`.
    pub fn requests_since(&self, since: u64) -> Vec<RequestRecord> {
        self.shared.requests_since(since)
    }

    /// Stops every listener and ends open connections (in-flight requests get a short grace
    /// period; hanging and trickling responses are cut). Affects every clone of the handle.
    pub async fn shutdown(self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        server::shutdown(&self.shared).await;
    }
}
