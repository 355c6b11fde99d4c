//! The history writer: one thread that owns the SQLite connection. For each
//! batch of results it records the runs, steps the outage state machine and
//! writes incidents, the new states and any notifications, all in one
//! transaction. On a timer it turns notifications that have waited out the
//! grouping window into outbox e-mails (again one transaction), and compacts.
//!
//! If a transaction fails (disk full, I/O error) nothing is dropped: the
//! batch stays in memory and is retried with backoff, the in-memory states
//! are only replaced after a commit, and new results wait in the channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::TransactionBehavior;

use super::email::{self, RenderSettings};
use super::events::{BatchFailed, BatchWritten, Compacted, EmailQueued, OutageClosed, OutageOpened};
use super::machine::{self, Action, NoticeKind, ProbeState};
use super::maintenance::window_at;
use super::metrics::AlertMetrics;
use super::notice::{self, Notice, NoticeInput};
use super::{Msg, Runtime};
use crate::evidence::metrics::EvidenceMetrics;
use crate::evidence::throttle::Throttle;
use crate::evidence::{record, Appended, Appender};
use crate::probe::{Probe, RunResult};
use crate::store::{incidents, outbox, rollup, runs, versions, Store, StoreError};

const BATCH: usize = 256;
/// How long a stopping writer keeps retrying a batch that fails to write.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
const TICK: Duration = Duration::from_millis(200);

pub(super) struct Writer {
    pub store: Store,
    pub rt: Arc<Runtime>,
    pub states: HashMap<String, ProbeState>,
    /// Which runs leave evidence (replaced only after a commit, like `states`).
    pub throttle: Throttle,
    pub evidence_metrics: Arc<EvidenceMetrics>,
    pub last_anchor: Option<Instant>,
    pub metrics: Arc<AlertMetrics>,
    pub wake_mailer: Arc<tokio::sync::Notify>,
    pub stopping: Arc<AtomicBool>,
    pub queue_len: Arc<std::sync::atomic::AtomicI64>,
    /// When the oldest pending notification was created.
    pub oldest_pending: Option<DateTime<Utc>>,
    pub last_compaction: Option<Instant>,
    /// After a failed flush, when to try again (not on every tick).
    pub flush_retry_at: Option<Instant>,
    /// Probes that have a `vigie_outage_active` series.
    pub gauged: HashMap<String, [String; 3]>,
    /// Each probe's compiled version and its `probe_versions` row (the
    /// probe is kept so a reload's new one is never mistaken for it).
    pub versions: HashMap<String, (Arc<Probe>, i64)>,
}

impl Writer {
    pub fn run(mut self, rx: Receiver<Msg>) {
        self.refresh_pending();
        self.configure_gauges();
        loop {
            let first = match rx.recv_timeout(TICK) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch: Vec<(Arc<Probe>, Box<RunResult>)> = Vec::new();
            let mut stop = false;
            let mut next = first;
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Run(p, r) => {
                        self.queue_len.fetch_sub(1, Ordering::Relaxed);
                        batch.push((p, r));
                    }
                    Msg::Config(rt) => {
                        // Apply what came before with the old settings first.
                        self.write_with_retry(std::mem::take(&mut batch));
                        self.rt = rt;
                        self.configure_gauges();
                    }
                    Msg::Shutdown => stop = true,
                }
                if batch.len() < BATCH && !stop {
                    next = rx.try_recv().ok();
                }
            }
            self.write_with_retry(batch);
            self.metrics.store_queue.set(self.queue_len.load(Ordering::Relaxed).max(0));
            self.flush_due(Utc::now());
            self.maybe_compact();
            self.maybe_anchor();
            if stop {
                break;
            }
        }
        self.anchor();
        self.wake_mailer.notify_one();
    }

    fn write_with_retry(&mut self, batch: Vec<(Arc<Probe>, Box<RunResult>)>) {
        if batch.is_empty() {
            return;
        }
        let mut delay = Duration::from_millis(500);
        let mut stop_retry_since: Option<Instant> = None;
        loop {
            let started = Instant::now();
            match self.write(&batch, Utc::now()) {
                Ok(()) => {
                    BatchWritten {
                        runs: batch.len(),
                        took: started.elapsed(),
                    }
                    .emit(&self.metrics);
                    return;
                }
                Err(e) => {
                    BatchFailed {
                        runs: batch.len(),
                        error: &e,
                        retry_in: delay,
                    }
                    .emit(&self.metrics);
                    // Stopping does not make a transient error (a busy
                    // database) final: keep retrying for a while, and give
                    // up only on an error that outlasts the grace period.
                    if self.stopping.load(Ordering::Acquire) {
                        let since = *stop_retry_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > SHUTDOWN_GRACE {
                            tracing::error!(runs = batch.len(), error = %e, "shutting down with runs that could not be written");
                            return;
                        }
                        delay = delay.min(Duration::from_secs(1));
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// One transaction: runs, evidence, incidents, states, notifications.
    fn write(&mut self, batch: &[(Arc<Probe>, Box<RunResult>)], now: DateTime<Utc>) -> Result<(), StoreError> {
        let rt = self.rt.clone();
        let mut touched: HashMap<String, ProbeState> = HashMap::new();
        let mut opened = Vec::new();
        let mut closed = Vec::new();
        let mut noticed = false;
        let mut throttle = self.throttle.clone();
        let mut appended: Vec<Appended> = Vec::new();
        let tx = self.store.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut chain = Appender::open(&tx)?;
        // Versions registered in this transaction: remembered only once it commits.
        let mut new_versions: HashMap<String, (Arc<Probe>, i64)> = HashMap::new();
        for (probe, r) in batch {
            let window = window_at(&rt.maintenance, probe, r.started_at).map(|w| w.name.as_str());
            let known = new_versions.get(&probe.name).or_else(|| self.versions.get(&probe.name));
            let version = match known {
                Some((p, id)) if Arc::ptr_eq(p, probe) => *id,
                _ => {
                    let (hash, description) = crate::report::methodology::version_of(probe);
                    let id = versions::register(&tx, &probe.name, &hash, &description, now)?;
                    new_versions.insert(probe.name.clone(), (probe.clone(), id));
                    id
                }
            };
            let run_id = runs::insert_run(&tx, probe, &rt.location, r, window, Some(version))?;
            let mut screenshot_seq = None;
            if let Some(kind) = throttle.decide(&rt.evidence, r) {
                if let Some(draft) = record::draft(probe, &rt.location, r, kind, window, rt.evidence.max_body) {
                    let a = chain.append(&tx, draft, Some(run_id))?;
                    screenshot_seq = a.has_screenshot.then_some(a.seq);
                    appended.push(a);
                }
            }
            for step in requested_screenshots(r) {
                if throttle.decide_requested(&rt.evidence, &probe.name, step, r.started_at) {
                    let kind = crate::evidence::Kind::Requested;
                    if let Some(draft) = record::draft_step(probe, &rt.location, r, step, kind, window, rt.evidence.max_body) {
                        appended.push(chain.append(&tx, draft, Some(run_id))?);
                    }
                }
            }
            let policy = rt.alerting.policy_for(probe);
            let prev = touched
                .get(&probe.name)
                .or_else(|| self.states.get(&probe.name))
                .cloned()
                .unwrap_or_default();
            let after_gap = prev.last_run_at.is_some_and(|last| notice::missed_runs(probe, last, r));
            let mut facts = notice::facts(run_id, r, window, after_gap);
            facts.screenshot_seq = screenshot_seq;
            let (mut next, actions) = machine::step(&prev, &facts, &policy, now);
            let mut closing = None;
            let mut changed_incident = true;
            for a in actions {
                match a {
                    Action::OpenIncident => {
                        if let Some(o) = next.outage.as_mut() {
                            let id = incidents::insert_incident(&tx, probe, o)?;
                            o.incident_id = Some(id);
                            opened.push((probe.clone(), id, o.started_at));
                            changed_incident = false;
                        }
                    }
                    Action::CloseIncident(c) => {
                        if let Some(id) = c.outage.incident_id {
                            incidents::close_incident(&tx, id, &c)?;
                            let lasted = (c.ended_at - c.outage.started_at).to_std().unwrap_or_default();
                            closed.push((probe.clone(), id, lasted));
                        }
                        closing = Some(c);
                        changed_incident = false;
                    }
                    Action::Notify(NoticeKind::Unobserved) => {
                        let n = Notice::unobserved(probe, &rt.location, &policy, &facts, r, now);
                        outbox::insert_notification(&tx, &n)?;
                        noticed = true;
                    }
                    Action::Notify(kind) => {
                        let outage = closing.as_ref().map(|c| &c.outage).or(next.outage.as_deref());
                        if let Some(outage) = outage {
                            let n = Notice::build(NoticeInput {
                                kind,
                                probe,
                                location: &rt.location,
                                policy: &policy,
                                outage,
                                closed: closing.as_deref(),
                                run: r,
                                now,
                            });
                            outbox::insert_notification(&tx, &n)?;
                            noticed = true;
                        }
                    }
                }
            }
            if changed_incident {
                if let Some((id, o)) = next.outage.as_ref().and_then(|o| o.incident_id.map(|id| (id, o))) {
                    incidents::update_incident(&tx, id, o)?;
                }
            }
            incidents::save_state(&tx, &probe.name, &next, now)?;
            touched.insert(probe.name.clone(), next);
        }
        tx.commit()?;
        self.states.extend(touched);
        self.versions.extend(new_versions);
        self.throttle = throttle;
        for a in &appended {
            self.evidence_metrics.appended(a);
        }
        for (p, id, since) in opened {
            OutageOpened {
                probe: &p.name,
                labels: [&p.name, &p.labels.procedure, &p.labels.site],
                incident: id,
                since,
            }
            .emit(&self.metrics);
        }
        for (p, id, lasted) in closed {
            OutageClosed {
                probe: &p.name,
                labels: [&p.name, &p.labels.procedure, &p.labels.site],
                incident: id,
                lasted,
            }
            .emit(&self.metrics);
        }
        if noticed {
            self.refresh_pending();
        }
        Ok(())
    }

    fn refresh_pending(&mut self) {
        match outbox::pending_notifications(self.store.conn()) {
            Ok(p) => {
                self.oldest_pending = p.iter().map(|(_, n)| n.created_at).min();
                self.metrics.notifications_pending.set(p.len() as i64);
            }
            Err(e) => tracing::error!(error = %e, "cannot read pending notifications"),
        }
    }

    /// Turn due notifications into outbox e-mails.
    fn flush_due(&mut self, now: DateTime<Utc>) {
        let window = self.rt.alerting.group_window;
        let Some(oldest) = self.oldest_pending else { return };
        if (now - oldest).to_std().is_ok_and(|d| d < window) {
            return;
        }
        if self.flush_retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        match self.flush(now) {
            Ok(()) => self.flush_retry_at = None,
            Err(e) => {
                self.metrics.store_write_errors.inc();
                tracing::error!(error = %e, "cannot turn notifications into e-mails; they stay pending and are retried in 30 s");
                self.flush_retry_at = Some(Instant::now() + Duration::from_secs(30));
            }
        }
        self.refresh_pending();
    }

    fn flush(&mut self, now: DateTime<Utc>) -> Result<(), FlushError> {
        let rt = self.rt.clone();
        let a = &rt.alerting;
        let pending = outbox::pending_notifications(self.store.conn())?;
        let settings = RenderSettings {
            language: a.language,
            timezone: a.timezone,
            status_page_url: a.status_page_url.clone(),
            grafana_url: a.grafana_url.clone(),
            evidence_url: a.evidence_url.clone(),
        };
        let mut queued = Vec::new();
        let tx = self.store.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        for kind in machine::NoticeKind::ALL {
            if !notice::due(&pending, kind, a.group_window, now) {
                continue;
            }
            let recipients_of = |n: &Notice| match kind {
                NoticeKind::Unobserved => a.operators().to_vec(),
                _ => a.recipients(&n.probe, &n.procedure, &n.site),
            };
            for e in notice::plan(kind, &pending, recipients_of) {
                let refs: Vec<&Notice> = e.notices.iter().map(|(_, n)| n).collect();
                let rendered = email::render(&settings, kind, &refs)?;
                let message_id = format!("{}@{}", uuid::Uuid::new_v4().simple(), a.from.email.domain());
                let raw = email::assemble(
                    &rendered,
                    &email::Envelope {
                        from: &a.from,
                        to: &e.recipients,
                        message_id: &message_id,
                        date: now,
                        kind,
                    },
                )?;
                let mut recipients: Vec<String> = e.recipients.iter().map(|m| m.email.to_string()).collect();
                if recipients.is_empty() {
                    recipients.push(a.from.email.to_string());
                }
                // Notices of unobserved streaks belong to no incident (id 0).
                let mut incident_ids: Vec<i64> = e.notices.iter().map(|(_, n)| n.incident_id).filter(|id| *id > 0).collect();
                incident_ids.dedup();
                let id = outbox::enqueue(
                    &tx,
                    &outbox::NewEmail {
                        created_at: now,
                        kind,
                        recipients: &recipients,
                        sender: a.from.email.as_ref(),
                        subject: &rendered.subject,
                        message_id: &message_id,
                        raw: &raw,
                        incidents: &incident_ids,
                    },
                )?;
                for (nid, _) in &e.notices {
                    outbox::delete_notification(&tx, *nid)?;
                }
                queued.push((id, kind, rendered.subject, recipients.len()));
            }
        }
        tx.commit()?;
        for (id, kind, subject, recipients) in &queued {
            EmailQueued {
                id: *id,
                kind: *kind,
                subject,
                recipients: *recipients,
            }
            .emit(&self.metrics);
        }
        if !queued.is_empty() {
            self.wake_mailer.notify_one();
        }
        Ok(())
    }

    fn maybe_compact(&mut self) {
        let every = self.rt.store.compact_every;
        if self.last_compaction.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last_compaction = Some(Instant::now());
        let started = Instant::now();
        let s = &self.rt.store;
        match rollup::compact(self.store.conn_mut(), Utc::now(), s.keep_runs, s.keep_rollups) {
            Ok(report) => Compacted {
                report: &report,
                took: started.elapsed(),
            }
            .emit(&self.metrics),
            Err(e) => {
                self.metrics.store_write_errors.inc();
                tracing::error!(error = %e, "history compaction failed; will try again later");
            }
        }
    }

    /// Log the evidence chain's head every `anchor_every`, from the first
    /// record on (and at shutdown: the last head before a stop).
    fn maybe_anchor(&mut self) {
        let every = self.rt.evidence.anchor_every;
        if self.last_anchor.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.anchor();
    }

    fn anchor(&mut self) {
        match crate::store::evidence::head(self.store.conn()) {
            Ok(Some((seq, hash))) => {
                self.evidence_metrics.anchor(seq, &hash);
                self.last_anchor = Some(Instant::now());
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the evidence chain's head"),
        }
    }

    /// One `vigie_outage_active` series per configured probe.
    fn configure_gauges(&mut self) {
        let mut next = HashMap::new();
        let mut open = 0;
        for p in self.rt.probes.iter().filter(|p| p.enabled) {
            let labels = [p.name.clone(), p.labels.procedure.clone(), p.labels.site.clone()];
            let active = self.states.get(&p.name).is_some_and(|s| s.outage.is_some());
            open += i64::from(active);
            let l = [labels[0].as_str(), labels[1].as_str(), labels[2].as_str()];
            self.metrics.set_outage_active(&l, active);
            next.insert(p.name.clone(), labels);
        }
        for (name, labels) in &self.gauged {
            if next.get(name) != Some(labels) {
                let l = [labels[0].as_str(), labels[1].as_str(), labels[2].as_str()];
                self.metrics.remove_outage_active(&l);
            }
        }
        self.gauged = next;
        self.metrics.outages_active.set(open);
    }
}

#[derive(Debug, thiserror::Error)]
enum FlushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Email(#[from] email::EmailError),
}

/// Steps with a screenshot other than the deciding one: the probe asked for them.
fn requested_screenshots(r: &RunResult) -> impl Iterator<Item = &str> {
    r.steps
        .iter()
        .filter(move |s| s.screenshot.is_some() && r.failed_step.as_deref() != Some(s.name.as_str()))
        .map(|s| s.name.as_str())
}
