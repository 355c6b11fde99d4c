//! Per-host request budgets: a minimum interval between the starts of two
//! requests and a cap on requests in flight, shared by every probe.
//!
//! Budgets are keyed by `host:port`, not by probe or target, so that no
//! combination of probes (or two targets on one host, or a redirect to
//! another host) can exceed them. A request reserves its start slot under a
//! lock, so starts are spaced exactly; a slot reserved by a cancelled request
//! is simply lost, which errs on the polite side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::probe::Politeness;

#[derive(Debug)]
pub struct HostBudget {
    politeness: Politeness,
    in_flight: Arc<Semaphore>,
    next_start: Mutex<Instant>,
}

/// Held while a request is in flight.
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    /// How long we waited for it.
    pub waited: Duration,
}

impl HostBudget {
    fn new(politeness: Politeness, next_start: Instant) -> HostBudget {
        HostBudget {
            politeness,
            in_flight: Arc::new(Semaphore::new(politeness.max_concurrent.max(1))),
            next_start: Mutex::new(next_start),
        }
    }

    pub async fn acquire(&self) -> Slot {
        let t0 = Instant::now();
        // The semaphore is never closed, so acquiring cannot fail; if it
        // ever did, the interval below still spaces the requests.
        let permit = self.in_flight.clone().acquire_owned().await.ok();
        let start_at = {
            let mut next = self.next_start.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = if *next > now { *next } else { now };
            *next = at + self.politeness.min_interval;
            at
        };
        tokio::time::sleep_until(start_at).await;
        Slot {
            _permit: permit,
            waited: t0.elapsed(),
        }
    }

    fn next_start(&self) -> Instant {
        *self.next_start.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// All host budgets of the daemon. Survives configuration reloads so that a
/// reload can never reset an interval.
#[derive(Debug)]
pub struct Budgets {
    hosts: Mutex<HashMap<String, Arc<HostBudget>>>,
    configured: Mutex<HashMap<String, Politeness>>,
    default: Mutex<Politeness>,
}

impl Budgets {
    pub fn new(default: Politeness) -> Budgets {
        Budgets {
            hosts: Mutex::new(HashMap::new()),
            configured: Mutex::new(HashMap::new()),
            default: Mutex::new(default),
        }
    }

    /// Install the budgets of a (re)loaded configuration. When two targets
    /// share a host, the stricter settings win.
    pub fn configure(&self, default: Politeness, targets: impl IntoIterator<Item = (String, Politeness)>) {
        let mut wanted: HashMap<String, Politeness> = HashMap::new();
        for (host, p) in targets {
            wanted
                .entry(host)
                .and_modify(|q| {
                    q.min_interval = q.min_interval.max(p.min_interval);
                    q.max_concurrent = q.max_concurrent.min(p.max_concurrent);
                })
                .or_insert(p);
        }
        *self.default.lock().unwrap_or_else(|e| e.into_inner()) = default;
        // Budgets whose settings changed are replaced lazily by `budget`,
        // starting where the old ones stood, so a reload never resets a clock.
        *self.configured.lock().unwrap_or_else(|e| e.into_inner()) = wanted;
    }

    pub fn budget(&self, host_key: &str) -> Arc<HostBudget> {
        let politeness = self
            .configured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host_key)
            .copied()
            .unwrap_or_else(|| *self.default.lock().unwrap_or_else(|e| e.into_inner()));
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = hosts.get(host_key) {
            if b.politeness == politeness {
                return b.clone();
            }
        }
        let start = hosts.get(host_key).map(|b| b.next_start()).unwrap_or_else(Instant::now);
        let b = Arc::new(HostBudget::new(politeness, start));
        hosts.insert(host_key.to_string(), b.clone());
        b
    }
}

/// `host:port` of a URL, the key of its budget.
pub fn host_key(url: &url::Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_by_the_interval_across_callers() {
        let budgets = Arc::new(Budgets::new(Politeness {
            min_interval: Duration::from_secs(2),
            max_concurrent: 4,
        }));
        let t0 = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..4 {
            let b = budgets.clone();
            handles.push(tokio::spawn(async move {
                let _slot = b.budget("h:80").acquire().await;
                Instant::now() - t0
            }));
        }
        let mut starts = Vec::new();
        for h in handles {
            starts.push(h.await.expect("join").as_secs());
        }
        starts.sort();
        assert_eq!(starts, vec![0, 2, 4, 6]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_cap_holds() {
        let budgets = Arc::new(Budgets::new(Politeness {
            min_interval: Duration::ZERO,
            max_concurrent: 1,
        }));
        let first = budgets.budget("h:80").acquire().await;
        let b = budgets.clone();
        let second = tokio::spawn(async move { b.budget("h:80").acquire().await.waited });
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(first);
        let waited = second.await.expect("join");
        assert!(waited >= Duration::from_secs(3), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn shared_host_takes_the_stricter_settings_and_survives_reload() {
        let budgets = Budgets::new(Politeness::default());
        let fast = Politeness {
            min_interval: Duration::from_secs(1),
            max_concurrent: 4,
        };
        let slow = Politeness {
            min_interval: Duration::from_secs(10),
            max_concurrent: 2,
        };
        budgets.configure(Politeness::default(), [("h:80".to_string(), fast), ("h:80".to_string(), slow)]);
        let _ = budgets.budget("h:80").acquire().await;
        assert_eq!(
            budgets.budget("h:80").politeness,
            Politeness {
                min_interval: Duration::from_secs(10),
                max_concurrent: 2
            }
        );
        // A reload with the same settings keeps the same budget (and its clock).
        budgets.configure(Politeness::default(), [("h:80".to_string(), slow)]);
        let t0 = Instant::now();
        let slot = budgets.budget("h:80").acquire().await;
        assert_eq!(slot.waited, Duration::from_secs(10));
        assert_eq!(Instant::now() - t0, Duration::from_secs(10));
    }
}
