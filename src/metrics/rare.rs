//! Per-probe families that change rarely and are kept in the `prometheus`
//! crate's types (`vigie_outage_active`, `vigie_evidence_records_total`:
//! 3,000 series at 1,000 probes). Gathering and encoding them cost about
//! half of a scrape's CPU (perf, BENCHMARKS.md), yet they change only when
//! an outage opens or closes, evidence is kept, or the configuration is
//! reloaded. So they sit in their own registry, and a scrape reuses their
//! last encoded text until a writer says they changed.
//!
//! The rule for writers: change the value, then call [`Changed::touch`].
//! A scrape reads the generation before it gathers, so a change made
//! during a gather is seen by the next scrape at the latest.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use prometheus::{Encoder, Registry, TextEncoder};

/// A handle writers keep to say "my series changed".
#[derive(Clone, Debug, Default)]
pub struct Changed(Arc<AtomicU64>);

impl Changed {
    pub fn touch(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// The rarely changing families' registry and their last encoded text.
pub struct Rare {
    pub registry: Registry,
    changed: Changed,
    /// The generation the text was encoded at (None before the first scrape).
    cache: Mutex<Option<(u64, Bytes)>>,
}

impl Rare {
    pub fn new(registry: Registry) -> Rare {
        Rare {
            registry,
            changed: Changed::default(),
            cache: Mutex::new(None),
        }
    }

    /// The handle to give to whoever changes these series.
    pub fn changed(&self) -> Changed {
        self.changed.clone()
    }

    /// The families' exposition text, encoded again only if they changed
    /// since the last scrape.
    pub fn text(&self) -> Bytes {
        let generation = self.changed.generation();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, text)) = cache.as_ref() {
            if *at == generation {
                return text.clone();
            }
        }
        let text = encode(&self.registry);
        *cache = Some((generation, text.clone()));
        text
    }
}

/// A registry's families in the text format (nothing if it cannot be
/// encoded: the probes' families still go out).
pub(super) fn encode(registry: &Registry) -> Bytes {
    let mut buf = Vec::new();
    if TextEncoder::new().encode(&registry.gather(), &mut buf).is_err() {
        buf.clear();
    }
    Bytes::from(buf)
}
