//! The stamper: a task of its own that, every `evidence.timestamp.every`
//! and once more at shutdown, asks a time-stamping authority (RFC 3161 over
//! HTTP) for a token over the evidence chain's head, checks it and appends
//! it to the time-stamp register. A failing TSA is retried with backoff
//! (30 s, doubling, at most `every`); probing never waits for it: the task
//! shares nothing with the scheduler or the history writer but the
//! database file (its own connection, WAL).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::metrics::StampMetrics;
use super::settings::TimestampSettings;
use super::timestamps::Stamp;
use super::tsp;
use super::tsp_verify::{self, TokenCheckError, Trust};
use crate::store::timestamps::{self as rows, StampRow};
use crate::store::Store;

/// The first retry after a failure; doubled each time, at most `every`.
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// How long one request to the TSA may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The last stamp at shutdown waits at most this long.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest reply read (a token with its certificates is a few kilobytes).
const MAX_REPLY: usize = 256 * 1024;
/// How often the age gauge is refreshed.
const TICK: Duration = Duration::from_secs(5);

/// Why no token was stored this time.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    #[error("time-stamping authority {url}: {message}")]
    Tsa { url: String, message: String },
    #[error("{0}")]
    Token(#[from] tsp::TspError),
    #[error("the token does not verify: {0}")]
    Check(TokenCheckError),
    #[error("{0}")]
    Store(String),
}

pub struct Stamper {
    pub store_path: PathBuf,
    pub settings: watch::Receiver<Option<TimestampSettings>>,
    pub metrics: Arc<StampMetrics>,
    pub stop: watch::Receiver<bool>,
    pub client: reqwest::Client,
    /// [`FIRST_RETRY`] (shorter in tests).
    pub first_retry: Duration,
}

impl Stamper {
    /// Run until `stop`, then stamp once more (bounded).
    pub async fn run(mut self) {
        let mut due = Instant::now();
        let mut retry = self.first_retry;
        // Without `evidence.timestamp` the stamper never opens the database.
        if self.settings.borrow().is_some() {
            self.refresh_age().await;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due.min(Instant::now() + TICK)) => {}
                _ = self.settings.changed() => due = Instant::now(),
                _ = self.stop.changed() => break,
            }
            self.metrics.tick();
            let Some(s) = self.settings.borrow().clone() else {
                // Nothing to stamp: sleep a tick (a past `due` would spin).
                due = Instant::now() + TICK;
                continue;
            };
            if Instant::now() < due {
                continue;
            }
            match self.stamp(&s, true).await {
                Ok(_) => {
                    retry = self.first_retry;
                    due = Instant::now() + s.every;
                }
                Err(e) => {
                    self.metrics.failed(&e);
                    due = Instant::now() + retry;
                    retry = (retry * 2).min(s.every);
                }
            }
        }
        let last = self.settings.borrow().clone();
        if let Some(s) = last {
            match tokio::time::timeout(SHUTDOWN_TIMEOUT, self.stamp(&s, false)).await {
                Ok(Err(e)) => self.metrics.failed(&e),
                Err(_) => tracing::warn!("no time stamp at shutdown: the time-stamping authority did not answer in time"),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The last stored token's time, for the age gauge.
    async fn refresh_age(&self) {
        let path = self.store_path.clone();
        let last = tokio::task::spawn_blocking(move || Store::open(&path).ok().and_then(|s| rows::last(s.conn()).ok().flatten())).await;
        if let Ok(Some(row)) = last {
            self.metrics.seen(&row);
        }
    }

    /// One token over the current head, stored. `Ok(None)`: the register
    /// is empty, or (`again` false) its head already has a token.
    pub async fn stamp(&self, s: &TimestampSettings, again: bool) -> Result<Option<StampRow>, StampError> {
        let path = self.store_path.clone();
        let heads = tokio::task::spawn_blocking(move || {
            let store = Store::open(&path)?;
            let stamped = rows::last(store.conn())?.map(|r| r.chain_seq);
            Ok::<_, crate::store::StoreError>((crate::store::evidence::head(store.conn())?, stamped))
        })
        .await
        .map_err(|e| StampError::Store(e.to_string()))?
        .map_err(|e| StampError::Store(e.to_string()))?;
        let (Some((seq, hash)), stamped) = heads else { return Ok(None) };
        if !again && stamped == Some(seq) {
            return Ok(None);
        }
        let reply = self.obtain(s, &hash).await?;
        let row = append(self.store_path.clone(), (seq, hash), s.url.clone(), reply).await?;
        self.metrics.stored(&row);
        Ok(Some(row))
    }

    /// Ask the TSA for a token over `hash`, read and check it.
    async fn obtain(&self, s: &TimestampSettings, hash: &str) -> Result<Vec<u8>, StampError> {
        let tsa = |message: String| StampError::Tsa {
            url: s.url.clone(),
            message,
        };
        let digest: [u8; 32] = hex::decode(hash)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| StampError::Store(format!("the chain's head `{hash}` is not a SHA-256")))?;
        let nonce: u64 = rand::random();
        let reply = self
            .client
            .post(&s.url)
            .header("content-type", "application/timestamp-query")
            .timeout(REQUEST_TIMEOUT)
            .body(tsp::request(&digest, nonce))
            .send()
            .await
            .map_err(|e| tsa(error_chain(&e)))?;
        if !reply.status().is_success() {
            return Err(tsa(format!("HTTP {}", reply.status())));
        }
        let bytes = read_capped(reply).await.map_err(tsa)?;
        tsp::read_reply(&bytes, &digest, Some(nonce))?;
        check(&bytes, hash, &Trust::of(s.ca_file.as_deref())).await?;
        Ok(bytes)
    }
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

/// The body of a reply, refused beyond [`MAX_REPLY`].
async fn read_capped(mut reply: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = reply.chunk().await.map_err(|e| e.to_string())? {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_REPLY {
            return Err(format!("the reply is larger than {MAX_REPLY} bytes"));
        }
    }
    Ok(out)
}

/// Verify with OpenSSL before storing. Without OpenSSL on this machine the
/// token is kept (it can be checked elsewhere) and the log says so.
async fn check(reply: &[u8], hash: &str, trust: &Trust) -> Result<(), StampError> {
    let (reply, hash, trust) = (reply.to_vec(), hash.to_string(), trust.clone());
    let r = tokio::task::spawn_blocking(move || tsp_verify::verify_reply(&reply, &hash, &trust))
        .await
        .map_err(|e| StampError::Store(e.to_string()))?;
    match r {
        Ok(()) => Ok(()),
        Err(e @ TokenCheckError::NoOpenssl(_)) => {
            tracing::warn!(error = %e, "time-stamp token kept without checking it here");
            Ok(())
        }
        Err(e) => Err(StampError::Check(e)),
    }
}

/// Append a token to the register, after the last one, in one transaction.
async fn append(path: PathBuf, head: (i64, String), tsa: String, reply: Vec<u8>) -> Result<StampRow, StampError> {
    let fail = |e: String| StampError::Store(e);
    tokio::task::spawn_blocking(move || {
        let info = tsp::token_of(&reply).and_then(tsp::read_token)?;
        let mut store = Store::open(&path).map_err(|e| fail(e.to_string()))?;
        let tx = store.conn_mut().transaction().map_err(|e| fail(e.to_string()))?;
        let last = rows::last(&tx).map_err(|e| fail(e.to_string()))?;
        let mut stamp = Stamp::new((head.0.max(0) as u64, &head.1), &tsa, &info, &reply);
        let (record, hash) = stamp
            .seal(last.as_ref().map(|l| (l.seq.max(0) as u64, l.hash.as_str())))
            .map_err(|e| fail(e.to_string()))?;
        let row = StampRow {
            seq: stamp.seq as i64,
            gen_time: info.gen_time,
            chain_seq: head.0,
            record,
            reply,
            hash,
        };
        rows::insert(&tx, &row).map_err(|e| fail(e.to_string()))?;
        tx.commit().map_err(|e| fail(e.to_string()))?;
        Ok(row)
    })
    .await
    .map_err(|e| StampError::Store(e.to_string()))?
}
