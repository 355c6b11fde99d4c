//! Typed events of the store and alerting, in the style of `crate::events`:
//! each struct writes its log line and updates its metrics together.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{debug, error, info, warn};

use super::machine::NoticeKind;
use super::metrics::AlertMetrics;
use crate::store::rollup::CompactReport;

pub struct BatchWritten {
    pub runs: usize,
    pub took: Duration,
}

impl BatchWritten {
    pub fn emit(&self, m: &AlertMetrics) {
        m.store_write_duration.observe(self.took.as_secs_f64());
        m.store_runs_written.inc_by(self.runs as u64);
        debug!(runs = self.runs, took_ms = self.took.as_millis() as u64, "history written");
    }
}

pub struct BatchFailed<'a> {
    pub runs: usize,
    pub error: &'a dyn std::fmt::Display,
    pub retry_in: Duration,
}

impl BatchFailed<'_> {
    pub fn emit(&self, m: &AlertMetrics) {
        m.store_write_errors.inc();
        error!(
            runs = self.runs,
            error = %self.error,
            retry_in_s = self.retry_in.as_secs_f64(),
            "cannot write to the history store; keeping the runs in memory and retrying (probing continues)"
        );
    }
}

pub struct OutageOpened<'a> {
    pub probe: &'a str,
    pub labels: [&'a str; 3],
    pub incident: i64,
    pub since: DateTime<Utc>,
}

impl OutageOpened<'_> {
    pub fn emit(&self, m: &AlertMetrics) {
        m.set_outage_active(&self.labels, true);
        m.outages_active.inc();
        warn!(probe = self.probe, incident = self.incident, since = %self.since, "outage opened");
    }
}

pub struct OutageClosed<'a> {
    pub probe: &'a str,
    pub labels: [&'a str; 3],
    pub incident: i64,
    pub lasted: Duration,
}

impl OutageClosed<'_> {
    pub fn emit(&self, m: &AlertMetrics) {
        m.set_outage_active(&self.labels, false);
        m.outages_active.dec();
        info!(
            probe = self.probe,
            incident = self.incident,
            lasted_s = self.lasted.as_secs(),
            "outage closed"
        );
    }
}

pub struct EmailQueued<'a> {
    pub id: i64,
    pub kind: NoticeKind,
    pub subject: &'a str,
    pub recipients: usize,
}

impl EmailQueued<'_> {
    pub fn emit(&self, m: &AlertMetrics) {
        m.outbox_queued.inc();
        info!(
            id = self.id,
            kind = self.kind.as_str(),
            recipients = self.recipients,
            subject = self.subject,
            "e-mail queued"
        );
    }
}

pub struct EmailSent<'a> {
    pub id: i64,
    pub kind: NoticeKind,
    pub to: &'a str,
    pub attempts: u32,
}

impl EmailSent<'_> {
    pub fn emit(&self, m: &AlertMetrics) {
        m.alerts_sent.with_label_values(&[self.kind.as_str()]).inc();
        info!(
            id = self.id,
            kind = self.kind.as_str(),
            to = self.to,
            attempts = self.attempts,
            "e-mail delivered"
        );
    }
}

pub struct EmailFailed<'a> {
    pub id: i64,
    pub kind: NoticeKind,
    pub error: &'a str,
    pub permanent: bool,
    pub retry_at: DateTime<Utc>,
}

impl EmailFailed<'_> {
    pub fn emit(&self, m: &AlertMetrics) {
        m.alerts_failed.with_label_values(&[self.kind.as_str()]).inc();
        if self.permanent {
            error!(
                id = self.id,
                kind = self.kind.as_str(),
                error = self.error,
                "e-mail refused for good; see `vigie outbox`, fix and `vigie outbox --retry`"
            );
        } else {
            warn!(id = self.id, kind = self.kind.as_str(), error = self.error, retry_at = %self.retry_at, "e-mail not delivered; it stays queued and will be retried");
        }
    }
}

pub struct Compacted<'a> {
    pub report: &'a CompactReport,
    pub took: Duration,
}

impl Compacted<'_> {
    pub fn emit(&self, m: &AlertMetrics) {
        m.store_last_compaction.set(Utc::now().timestamp() as f64);
        info!(
            hours_rolled_up = self.report.hours_rolled_up,
            runs_deleted = self.report.runs_deleted,
            rollups_deleted = self.report.rollups_deleted,
            took_ms = self.took.as_millis() as u64,
            "history compacted"
        );
    }
}
