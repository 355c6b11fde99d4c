//! Metrics of the history store, the outage state machine and the outbox,
//! registered in the daemon's registry (with its `location` label). Label
//! values come from closed sets: probe/procedure/site names from the
//! configuration and the three notice kinds.

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::machine::NoticeKind;

pub struct AlertMetrics {
    pub store_write_duration: Histogram,
    pub store_write_errors: IntCounter,
    pub store_runs_written: IntCounter,
    pub store_queue: IntGauge,
    pub store_last_compaction: Gauge,
    pub notifications_pending: IntGauge,
    pub outbox_queued: IntGauge,
    pub outbox_failed: IntGauge,
    pub outbox_oldest_age: Gauge,
    pub alerts_sent: IntCounterVec,
    pub alerts_failed: IntCounterVec,
    /// One series per probe: set through [`AlertMetrics::set_outage_active`]
    /// and [`AlertMetrics::remove_outage_active`], which tell the scrape.
    outage_active: crate::metrics::RareVec,
    pub outages_active: IntGauge,
}

impl AlertMetrics {
    /// `rare`: the registry of per-probe families that change rarely
    /// (`metrics::Rare`), where `vigie_outage_active` goes.
    pub fn new(registry: &Registry, rare: &std::sync::Arc<crate::metrics::Rare>) -> Result<AlertMetrics, prometheus::Error> {
        let m = AlertMetrics {
            store_write_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "vigie_store_write_duration_seconds",
                    "Time to write one batch of runs (with their alert state changes) to the history store.",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
            )?,
            store_write_errors: IntCounter::new(
                "vigie_store_write_errors_total",
                "Failed history store transactions (retried: nothing is dropped).",
            )?,
            store_runs_written: IntCounter::new("vigie_store_runs_written_total", "Runs recorded in the history store.")?,
            store_queue: IntGauge::new("vigie_store_queue_length", "Runs waiting to be written to the history store.")?,
            store_last_compaction: Gauge::new(
                "vigie_store_last_compaction_timestamp_seconds",
                "Unix time of the last successful rollup and retention pass.",
            )?,
            notifications_pending: IntGauge::new(
                "vigie_alerts_pending",
                "Outage notifications waiting out the grouping window before becoming e-mails.",
            )?,
            outbox_queued: IntGauge::new("vigie_outbox_queued", "E-mails in the outbox waiting to be delivered.")?,
            outbox_failed: IntGauge::new(
                "vigie_outbox_failed",
                "E-mails refused for good by the SMTP server (see `vigie outbox`).",
            )?,
            outbox_oldest_age: Gauge::new(
                "vigie_outbox_oldest_queued_age_seconds",
                "Age of the oldest e-mail still waiting in the outbox (0 when empty).",
            )?,
            alerts_sent: IntCounterVec::new(
                Opts::new(
                    "vigie_alerts_sent_total",
                    "E-mails delivered (accepted by the SMTP server or spooled), by kind.",
                ),
                &["kind"],
            )?,
            alerts_failed: IntCounterVec::new(
                Opts::new("vigie_alerts_failed_total", "Failed e-mail delivery attempts, by kind."),
                &["kind"],
            )?,
            outage_active: rare.family(
                "vigie_outage_active",
                "1 while an outage of the probe is open, 0 otherwise.",
                false,
                &["probe", "procedure", "site"],
            )?,
            outages_active: IntGauge::new("vigie_outages_active", "Outages currently open.")?,
        };
        for kind in NoticeKind::ALL {
            m.alerts_sent.with_label_values(&[kind.as_str()]);
            m.alerts_failed.with_label_values(&[kind.as_str()]);
        }
        registry.register(Box::new(m.store_write_duration.clone()))?;
        registry.register(Box::new(m.store_write_errors.clone()))?;
        registry.register(Box::new(m.store_runs_written.clone()))?;
        registry.register(Box::new(m.store_queue.clone()))?;
        registry.register(Box::new(m.store_last_compaction.clone()))?;
        registry.register(Box::new(m.notifications_pending.clone()))?;
        registry.register(Box::new(m.outbox_queued.clone()))?;
        registry.register(Box::new(m.outbox_failed.clone()))?;
        registry.register(Box::new(m.outbox_oldest_age.clone()))?;
        registry.register(Box::new(m.alerts_sent.clone()))?;
        registry.register(Box::new(m.alerts_failed.clone()))?;
        registry.register(Box::new(m.outages_active.clone()))?;
        Ok(m)
    }
}

impl AlertMetrics {
    /// `vigie_outage_active{probe, procedure, site}` = 1 while an outage is open.
    pub fn set_outage_active(&self, labels: &[&str; 3], active: bool) {
        self.outage_active.set(labels, i64::from(active));
    }

    /// A probe removed or relabelled by a reload loses its series.
    pub fn remove_outage_active(&self, labels: &[&str; 3]) {
        self.outage_active.remove(labels);
    }
}
