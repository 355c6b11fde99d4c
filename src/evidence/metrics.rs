//! Metrics and log lines of the evidence register. Labels: probe names (from
//! the configuration) and the two kinds; never a URL or a hash.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use prometheus::{Gauge, IntCounter, IntGauge, Registry};

use super::{Appended, Kind};

pub struct EvidenceMetrics {
    /// Per probe and kind, among the rarely changing families
    /// (`metrics::Rare`).
    records: crate::metrics::RareVec,
    pub stored_bytes: IntCounter,
    pub chain_length: IntGauge,
}

impl EvidenceMetrics {
    pub fn new(registry: &Registry, rare: &std::sync::Arc<crate::metrics::Rare>) -> Result<EvidenceMetrics, prometheus::Error> {
        let m = EvidenceMetrics {
            records: rare.family(
                "vigie_evidence_records_total",
                "Pages kept as evidence (failing and no-slot runs, throttled per probe), by probe and kind.",
                true,
                &["probe", "kind"],
            )?,
            stored_bytes: IntCounter::new(
                "vigie_evidence_stored_bytes_total",
                "Bytes added to the evidence register (records and compressed pages).",
            )?,
            chain_length: IntGauge::new(
                "vigie_evidence_chain_length",
                "Records in the evidence chain (the position of its head). It never decreases: a decrease means records were removed.",
            )?,
        };
        registry.register(Box::new(m.stored_bytes.clone()))?;
        registry.register(Box::new(m.chain_length.clone()))?;
        Ok(m)
    }

    pub fn appended(&self, a: &Appended) {
        self.records.inc(&[a.probe.as_str(), a.kind.as_str()]);
        self.stored_bytes.inc_by(a.stored_bytes as u64);
        self.chain_length.set(i64::try_from(a.seq).unwrap_or(i64::MAX));
        tracing::debug!(seq = a.seq, probe = %a.probe, kind = %a.kind, bytes = a.stored_bytes, "evidence recorded");
    }

    /// The chain's head, written to the log so that a later copy of the
    /// register can be checked against it (`vigie verify --anchor SEQ:HASH`).
    pub fn anchor(&self, seq: i64, hash: &str) {
        self.chain_length.set(seq);
        tracing::info!(
            seq,
            hash,
            anchor = %format!("{seq}:{hash}"),
            "evidence chain anchor (check a copy of the register with `vigie verify --anchor {seq}:{hash}`)"
        );
    }
}

/// Pre-create the series of configured probes, so dashboards see zeros.
pub fn init_series(m: &EvidenceMetrics, probes: &[String]) {
    for p in probes {
        for k in Kind::ALL {
            m.records.declare(&[p.as_str(), k.as_str()]);
        }
    }
}

/// Metrics of the RFC 3161 time stamps (`evidence.timestamp`).
pub struct StampMetrics {
    pub age: Gauge,
    pub last: IntGauge,
    pub stamps: IntCounter,
    pub failures: IntCounter,
    last_time: Mutex<Option<DateTime<Utc>>>,
}

impl StampMetrics {
    pub fn new(registry: &Registry) -> Result<StampMetrics, prometheus::Error> {
        let m = StampMetrics {
            age: Gauge::new(
                "vigie_evidence_timestamp_age_seconds",
                "Age of the last RFC 3161 time stamp of the evidence chain (by the TSA's clock); -1 before the first.",
            )?,
            last: IntGauge::new(
                "vigie_evidence_timestamp_last_seconds",
                "Unix time (TSA's genTime) of the last RFC 3161 time stamp of the evidence chain.",
            )?,
            stamps: IntCounter::new("vigie_evidence_timestamps_total", "RFC 3161 time stamps obtained and stored.")?,
            failures: IntCounter::new(
                "vigie_evidence_timestamp_failures_total",
                "Requests to the time-stamping authority that gave no usable token (retried with backoff).",
            )?,
            last_time: Mutex::new(None),
        };
        m.age.set(-1.0);
        registry.register(Box::new(m.age.clone()))?;
        registry.register(Box::new(m.last.clone()))?;
        registry.register(Box::new(m.stamps.clone()))?;
        registry.register(Box::new(m.failures.clone()))?;
        Ok(m)
    }

    /// A token stored (or found at start).
    pub fn stored(&self, row: &crate::store::timestamps::StampRow) {
        self.seen(row);
        self.stamps.inc();
        tracing::info!(seq = row.seq, chain_seq = row.chain_seq, gen_time = %row.gen_time.to_rfc3339(), "evidence chain time-stamped (RFC 3161)");
    }

    /// The last token in the register, found at start.
    pub fn seen(&self, row: &crate::store::timestamps::StampRow) {
        *self.last_time.lock().unwrap_or_else(|e| e.into_inner()) = Some(row.gen_time);
        self.last.set(row.gen_time.timestamp());
        self.tick();
    }

    pub fn failed(&self, e: &super::stamper::StampError) {
        self.failures.inc();
        tracing::warn!(error = %e, "no time stamp this time; will retry (probing is not affected)");
    }

    /// Refresh the age gauge.
    pub fn tick(&self) {
        if let Some(t) = *self.last_time.lock().unwrap_or_else(|e| e.into_inner()) {
            self.age.set((Utc::now() - t).num_milliseconds() as f64 / 1000.0);
        }
    }
}
