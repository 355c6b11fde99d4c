//! Per-probe families that change rarely (`vigie_outage_active`,
//! `vigie_evidence_records_total`: 5,000 series at 1,000 probes). They
//! change only when an outage opens or closes, evidence is kept, or the
//! configuration is reloaded, so a scrape reuses their last encoded text
//! until a writer changes them.
//!
//! They are not kept in the `prometheus` crate's types: a child of its
//! vectors costs about 500 bytes (its label pairs as protobuf messages), so
//! at 1,000 probes these two families held 2.7 MiB (heaptrack, issue 14).
//! Here a series is its label set, already written in the text format, and
//! an integer: about 100 bytes.
//!
//! The text is written as the crate's `TextEncoder` would: families by
//! name, the variable labels sorted by name, then the constant `location`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::text::{self, Family, Kind};

/// A handle writers keep to say "my series changed".
#[derive(Clone, Debug, Default)]
struct Changed(Arc<AtomicU64>);

impl Changed {
    fn touch(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// One family: its series keyed by their label set in the text format
/// (`kind="page",probe="rdv",location="paris"`).
struct RareFamily {
    family: Family,
    /// Label names in the order written (sorted), and where each comes from
    /// in the caller's values.
    order: Vec<(&'static str, usize)>,
    series: Mutex<BTreeMap<Box<str>, i64>>,
}

/// The rarely changing families and their last encoded text.
pub struct Rare {
    /// The escaped `location="…"` pair every series ends with.
    location: Box<str>,
    families: Mutex<Vec<Arc<RareFamily>>>,
    changed: Changed,
    /// The generation the text was encoded at (None before the first scrape).
    cache: Mutex<Option<(u64, Bytes)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rare {
    pub fn new(location: &str) -> Rare {
        let mut pair = String::from("location=\"");
        text::push_escaped(&mut pair, location, true);
        pair.push('"');
        Rare {
            location: pair.into(),
            families: Mutex::new(Vec::new()),
            changed: Changed::default(),
            cache: Mutex::new(None),
        }
    }

    /// A new family of integer series labelled `labels` (plus `location`).
    /// A name registered twice is refused, as the crate's registry does.
    pub fn family(
        self: &Arc<Self>,
        name: &'static str,
        help: &'static str,
        counter: bool,
        labels: &[&'static str],
    ) -> Result<RareVec, prometheus::Error> {
        let mut families = lock(&self.families);
        if families.iter().any(|f| f.family.name == name) {
            return Err(prometheus::Error::AlreadyReg);
        }
        let mut order: Vec<(&'static str, usize)> = labels.iter().copied().zip(0..).collect();
        order.sort_unstable();
        let kind = if counter { Kind::Counter } else { Kind::Gauge };
        let family = Arc::new(RareFamily {
            family: Family { name, help, kind },
            order,
            series: Mutex::new(BTreeMap::new()),
        });
        let at = families.partition_point(|f| f.family.name < name);
        families.insert(at, family.clone());
        Ok(RareVec {
            family,
            rare: self.clone(),
        })
    }

    /// The families' exposition text, encoded again only if they changed
    /// since the last scrape.
    pub fn text(&self) -> Bytes {
        let generation = self.changed.generation();
        let mut cache = lock(&self.cache);
        if let Some((at, text)) = cache.as_ref() {
            if *at == generation {
                return text.clone();
            }
        }
        let text = Bytes::from(self.render());
        *cache = Some((generation, text.clone()));
        text
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for f in lock(&self.families).iter() {
            let series = lock(&f.series);
            if series.is_empty() {
                continue;
            }
            text::header(&mut out, &f.family);
            for (labels, value) in series.iter() {
                out.push_str(f.family.name);
                out.push('{');
                out.push_str(labels);
                let _ = writeln!(out, "}} {value}");
            }
        }
        out
    }
}

/// A writer's handle on one rare family; every change tells the scrape.
pub struct RareVec {
    family: Arc<RareFamily>,
    rare: Arc<Rare>,
}

impl RareVec {
    /// The series' label set in the text format, `values` in the order of
    /// the names given to [`Rare::family`].
    fn key(&self, values: &[&str]) -> Box<str> {
        let mut key = String::new();
        for (name, i) in &self.family.order {
            key.push_str(name);
            key.push_str("=\"");
            text::push_escaped(&mut key, values.get(*i).copied().unwrap_or(""), true);
            key.push_str("\",");
        }
        key.push_str(&self.rare.location);
        key.into()
    }

    fn change(&self, values: &[&str], f: impl FnOnce(&mut BTreeMap<Box<str>, i64>, Box<str>)) {
        f(&mut lock(&self.family.series), self.key(values));
        self.rare.changed.touch();
    }

    pub fn set(&self, values: &[&str], v: i64) {
        self.change(values, |s, k| {
            s.insert(k, v);
        });
    }

    /// Create the series at 0 if it does not exist.
    pub fn declare(&self, values: &[&str]) {
        self.change(values, |s, k| {
            s.entry(k).or_insert(0);
        });
    }

    pub fn inc(&self, values: &[&str]) {
        self.change(values, |s, k| *s.entry(k).or_insert(0) += 1);
    }

    pub fn remove(&self, values: &[&str]) {
        self.change(values, |s, k| {
            s.remove(&k);
        });
    }

    /// The series' value (tests).
    #[cfg(test)]
    pub fn get(&self, values: &[&str]) -> Option<i64> {
        lock(&self.family.series).get(&self.key(values)).copied()
    }
}
