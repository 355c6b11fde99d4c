//! What browser runs share in the daemon: where Chromium is, where profiles
//! go, how many browsers may run at once (`browser.max_concurrent`), one
//! journey at a time per host, and each run's memory bound.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Browser settings of the daemon (`browser:` in vigie.yaml).
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    /// Chromium's path; `None`: looked for in the usual places.
    pub executable: Option<PathBuf>,
    pub max_concurrent: usize,
    /// Memory (PSS of the whole process group) above which a run's browser
    /// is killed and the run recorded as vigie's own failure.
    pub max_memory: u64,
    /// Browser journeys at once per host (a person browses one page at a time).
    pub per_host: usize,
    /// Where each run's profile directory is created.
    pub profile_root: PathBuf,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        BrowserSettings {
            executable: None,
            max_concurrent: 1,
            max_memory: 1024 * 1024 * 1024,
            per_host: 1,
            profile_root: std::env::temp_dir(),
        }
    }
}

/// Shared by every browser run.
pub struct BrowserEnv {
    pub settings: BrowserSettings,
    /// The vantage point, written on every screenshot's banner.
    pub location: String,
    slots: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held for the whole browser journey.
pub struct JourneyPermit {
    _slot: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
}

impl BrowserEnv {
    pub fn new(settings: BrowserSettings, location: impl Into<String>) -> BrowserEnv {
        BrowserEnv {
            slots: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            settings,
            location: location.into(),
            hosts: Mutex::default(),
        }
    }

    /// Wait for a browser slot and for the host to be free of other journeys.
    pub async fn admit(&self, host_key: &str) -> Option<JourneyPermit> {
        let host = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            hosts
                .entry(host_key.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_host.max(1))))
                .clone()
        };
        let host = host.acquire_owned().await.ok()?;
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        Some(JourneyPermit { _slot: slot, _host: host })
    }

    /// Chromium's path, if there is one.
    pub fn executable(&self) -> Option<PathBuf> {
        crate::browser::find_chromium(self.settings.executable.as_deref())
    }
}

impl Default for BrowserEnv {
    fn default() -> Self {
        BrowserEnv::new(BrowserSettings::default(), "")
    }
}
