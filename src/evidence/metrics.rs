//! Metrics and log lines of the evidence register. Labels: probe names (from
//! the configuration) and the two kinds; never a URL or a hash.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::{Appended, Kind};

pub struct EvidenceMetrics {
    pub records: IntCounterVec,
    pub stored_bytes: IntCounter,
    pub chain_length: IntGauge,
}

impl EvidenceMetrics {
    pub fn new(registry: &Registry) -> Result<EvidenceMetrics, prometheus::Error> {
        let m = EvidenceMetrics {
            records: IntCounterVec::new(
                Opts::new(
                    "vigie_evidence_records_total",
                    "Pages kept as evidence (failing and no-slot runs, throttled per probe), by probe and kind.",
                ),
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
        registry.register(Box::new(m.records.clone()))?;
        registry.register(Box::new(m.stored_bytes.clone()))?;
        registry.register(Box::new(m.chain_length.clone()))?;
        Ok(m)
    }

    pub fn appended(&self, a: &Appended) {
        self.records.with_label_values(&[a.probe.as_str(), a.kind.as_str()]).inc();
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
            m.records.with_label_values(&[p.as_str(), k.as_str()]);
        }
    }
}
