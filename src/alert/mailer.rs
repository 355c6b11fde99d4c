//! The mailer: a task that delivers queued outbox e-mails, over SMTP
//! (lettre) or as `.eml` files in a spool folder, and marks each one sent
//! only after the server accepted it or the file is in place.
//!
//! Exactly once, as far as SMTP allows: the one unavoidable window is a crash
//! between the server's acceptance and the `sent` mark; the e-mail is then
//! sent again after restart, with the same bytes and the same Message-ID, so
//! receivers can drop the duplicate. Spooled files have a name fixed by the
//! outbox row, so a repeat overwrites the same file.
//!
//! E-mails leave in outbox order. A failed attempt holds the queue and is
//! retried with bounded exponential backoff, for as long as it takes (the
//! outbox survives restarts). Only a permanent refusal of
//! the message or its recipients (SMTP 501, 550-554) stops retries: the row
//! becomes `failed` and `vigie outbox --retry` queues it again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{watch, Notify};

use super::events::{EmailFailed, EmailSent};
use super::metrics::AlertMetrics;
use super::settings::{Delivery, Retry, Security, SmtpSettings};
use crate::store::{outbox, OutboxRow, Store};

/// How often the gauges are refreshed when nothing happens.
const IDLE: Duration = Duration::from_secs(5);

/// What the mailer reads from the configuration (changes on reload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailerSettings {
    pub delivery: Delivery,
    pub retry: Retry,
}

pub struct Mailer {
    pub store: Arc<Mutex<Store>>,
    pub settings: watch::Receiver<MailerSettings>,
    pub metrics: Arc<AlertMetrics>,
    pub wake: Arc<Notify>,
    pub stop: watch::Receiver<bool>,
}

enum Transport {
    Smtp {
        inner: AsyncSmtpTransport<Tokio1Executor>,
        label: String,
    },
    Spool(PathBuf),
    /// The SMTP settings cannot make a transport (reported on every attempt).
    Broken(String),
}

fn transport(d: &Delivery) -> Transport {
    match d {
        Delivery::Spool(dir) => Transport::Spool(dir.clone()),
        Delivery::Smtp(s) => match smtp(s) {
            Ok(t) => Transport::Smtp {
                inner: t,
                label: format!("smtp {}:{}", s.host, s.port),
            },
            Err(e) => Transport::Broken(format!("cannot set up SMTP to {}:{}: {e}", s.host, s.port)),
        },
    }
}

/// Build the lettre transport. TLS parameters are made here rather than by
/// lettre's `relay`/`starttls_relay` shortcuts so that `ca_file`'s
/// authorities are trusted besides the system's; the server's name is
/// checked against its certificate either way.
pub fn smtp(s: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host);
    b = match s.security {
        Security::Tls => b.tls(Tls::Wrapper(tls_parameters(s)?)),
        // `Required`, not `Opportunistic`: a server (or a man in the middle)
        // that does not offer STARTTLS gets neither the password nor the e-mail.
        Security::StartTls => b.tls(Tls::Required(tls_parameters(s)?)),
        Security::None => b,
    };
    b = b.port(s.port).timeout(Some(s.timeout));
    if let (Some(user), Some(pass)) = (&s.username, &s.password) {
        b = b.credentials(Credentials::new(user.clone(), pass.0.clone()));
    }
    if let Some(h) = &s.hello_name {
        b = b.hello_name(ClientId::Domain(h.clone()));
    }
    Ok(b.build())
}

fn tls_parameters(s: &SmtpSettings) -> Result<TlsParameters, lettre::transport::smtp::Error> {
    let mut p = TlsParameters::builder(s.host.clone());
    for der in &s.ca_certs {
        p = p.add_root_certificate(Certificate::from_der(der.clone())?);
    }
    p.build()
}

impl Mailer {
    pub async fn run(mut self) {
        let mut current = self.settings.borrow().clone();
        let mut t = transport(&current.delivery);
        loop {
            let next = self.settings.borrow().clone();
            if next != current {
                t = transport(&next.delivery);
                current = next;
            }
            self.deliver_due(&t, current.retry).await;
            self.refresh_gauges().await;
            // A dropped sender also means stop (the daemon is gone).
            if *self.stop.borrow() || self.stop.has_changed().is_err() {
                return;
            }
            let wait = self
                .db(|s| outbox::next_due(s.conn()))
                .await
                .flatten()
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(IDLE)
                .min(IDLE);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.changed() => {}
                r = self.settings.changed() => {
                    if r.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Run a store operation on a blocking thread.
    async fn db<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> crate::store::Result<T> + Send + 'static) -> Option<T> {
        let store = self.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            let s = store.lock().unwrap_or_else(|e| e.into_inner());
            f(&s)
        })
        .await;
        match r {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "outbox: store error");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "outbox: store task failed");
                None
            }
        }
    }

    /// Deliver the queue in order, stopping at the first e-mail that is not
    /// due or fails for now: the backoff of the head holds the whole queue,
    /// so e-mails arrive in the order they were decided (an SMTP relay that
    /// fails, fails for every message anyway).
    async fn deliver_due(&self, t: &Transport, retry: Retry) {
        let Some(rows) = self.db(|s| outbox::queued(s.conn(), 50)).await else {
            return;
        };
        for row in rows {
            if row.next_attempt_at > Utc::now() {
                return;
            }
            let result = deliver(t, &row).await;
            let now = Utc::now();
            match result {
                Ok(to) => {
                    let (id, to2) = (row.id, to.clone());
                    if self.db(move |s| outbox::mark_sent(s.conn(), id, now, &to2)).await.is_some() {
                        EmailSent {
                            id: row.id,
                            kind: row.kind,
                            to: &to,
                            attempts: row.attempts + 1,
                        }
                        .emit(&self.metrics);
                    }
                }
                Err(f) => {
                    let retry_at = now + chrono::Duration::from_std(retry.delay(row.attempts + 1)).unwrap_or_default();
                    let (id, msg, permanent) = (row.id, f.message.clone(), f.permanent);
                    self.db(move |s| outbox::mark_failed(s.conn(), id, &msg, retry_at, permanent)).await;
                    EmailFailed {
                        id: row.id,
                        kind: row.kind,
                        error: &f.message,
                        permanent: f.permanent,
                        retry_at,
                    }
                    .emit(&self.metrics);
                    if !f.permanent {
                        return;
                    }
                }
            }
        }
    }

    async fn refresh_gauges(&self) {
        if let Some((queued, failed, oldest)) = self.db(|s| outbox::stats(s.conn())).await {
            self.metrics.outbox_queued.set(queued as i64);
            self.metrics.outbox_failed.set(failed as i64);
            let age = oldest.map(|t| (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0);
            self.metrics.outbox_oldest_age.set(age.unwrap_or(0.0));
        }
    }
}

struct Failure {
    message: String,
    permanent: bool,
}

fn transient(message: String) -> Failure {
    Failure { message, permanent: false }
}

async fn deliver(t: &Transport, row: &OutboxRow) -> Result<String, Failure> {
    match t {
        Transport::Broken(msg) => Err(transient(msg.clone())),
        Transport::Spool(dir) => {
            let path = dir.join(spool_name(row));
            let (p, raw) = (path.clone(), row.raw.clone());
            match tokio::task::spawn_blocking(move || write_atomically(&p, &raw)).await {
                Ok(Ok(())) => Ok(path.display().to_string()),
                Ok(Err(e)) => Err(transient(format!("cannot write {}: {e}", path.display()))),
                Err(e) => Err(transient(format!("spool task failed: {e}"))),
            }
        }
        Transport::Smtp { inner, label } => {
            let envelope = envelope(row).map_err(transient)?;
            match inner.send_raw(&envelope, &row.raw).await {
                Ok(_) => Ok(label.clone()),
                Err(e) => {
                    let code = e.status().map(|c| c.to_string()).unwrap_or_default();
                    let permanent = e.is_permanent() && matches!(code.as_str(), "501" | "550" | "551" | "552" | "553" | "554");
                    Err(Failure {
                        message: format!("{label}: {e}{}", certificate_hint(&e)),
                        permanent,
                    })
                }
            }
        }
    }
}

/// What an operator should do about a certificate the TLS layer refused;
/// empty for any other error. rustls's own words ("invalid peer
/// certificate: UnknownIssuer") name the problem but not the remedy.
fn certificate_hint(e: &lettre::transport::smtp::Error) -> &'static str {
    use rustls::CertificateError as C;
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        // tokio-rustls wraps the rustls error in an io::Error, whose
        // `source()` skips it: look inside explicitly.
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(c)) = err.downcast_ref::<rustls::Error>().or(inner) {
            return match c {
                C::UnknownIssuer | C::BadSignature | C::UnhandledCriticalExtension => {
                    " — the server's certificate is not trusted: no known authority signed it (if the mail server uses its own authority, give it in `smtp.ca_file`)"
                }
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    " — the server's certificate is not trusted: it is not made out to `smtp.host` (use the name the certificate gives)"
                }
                C::Expired | C::ExpiredContext { .. } => {
                    " — the server's certificate is not trusted: it has expired (the mail server's administrator must renew it)"
                }
                _ => " — the server's certificate is not trusted (see `smtp.ca_file` in docs/alerts.md)",
            };
        }
        source = err.source();
    }
    ""
}

fn envelope(row: &OutboxRow) -> Result<lettre::address::Envelope, String> {
    let from: lettre::Address = row.sender.parse().map_err(|e| format!("invalid sender {}: {e}", row.sender))?;
    let to = row
        .recipients
        .iter()
        .map(|r| r.parse::<lettre::Address>().map_err(|e| format!("invalid recipient {r}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    lettre::address::Envelope::new(Some(from), to).map_err(|e| e.to_string())
}

/// `20261127T130700Z-000042-opened.eml`: fixed by the row, so a repeated
/// delivery rewrites the same file.
pub fn spool_name(row: &OutboxRow) -> String {
    format!(
        "{}-{:06}-{}.eml",
        row.created_at.format("%Y%m%dT%H%M%SZ"),
        row.id,
        row.kind.as_str()
    )
}

/// Write to a temporary name, sync, then rename: a reader never sees half
/// a file. Owner-only, never through a link (see `private_fs`).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::private_fs::write(path, bytes).map_err(|e| std::io::Error::other(e.to_string()))
}
