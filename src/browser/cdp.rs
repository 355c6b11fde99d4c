//! A small client of the Chrome DevTools Protocol over Chromium's debugging
//! pipe: JSON messages separated by NUL bytes, commands matched to their
//! replies by id, events handed to one listener.
//!
//! Every call has a deadline: a page that never answers costs its step's
//! timeout, never the daemon's progress.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use super::BrowserError;

/// Largest message accepted from the browser (a full-page screenshot in
/// base64 is the biggest thing it sends).
const MAX_MESSAGE: usize = 96 * 1024 * 1024;

/// An event from the browser: its method, params and session.
#[derive(Debug, Clone)]
pub struct Event {
    pub method: String,
    pub params: Value,
    pub session: Option<String>,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// The connection. Cloning shares it.
#[derive(Clone)]
pub struct Cdp {
    out: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
}

impl Cdp {
    /// Connect over the two pipe ends; events go to the returned receiver.
    pub fn connect(to_browser: OwnedFd, from_browser: OwnedFd) -> Result<(Cdp, mpsc::UnboundedReceiver<Event>), BrowserError> {
        let tx = pipe::Sender::from_owned_fd(to_browser).map_err(|e| BrowserError::Launch(format!("pipe: {e}")))?;
        let rx = pipe::Receiver::from_owned_fd(from_browser).map_err(|e| BrowserError::Launch(format!("pipe: {e}")))?;
        let (out, out_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        tokio::spawn(write_loop(tx, out_rx));
        tokio::spawn(read_loop(rx, pending.clone(), ev_tx));
        Ok((
            Cdp {
                out,
                pending,
                next_id: Arc::new(AtomicU64::new(1)),
            },
            ev_rx,
        ))
    }

    /// Send a command and wait for its reply, at most `deadline`.
    pub async fn call(&self, method: &str, params: Value, session: Option<&str>, deadline: Duration) -> Result<Value, BrowserError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_string());
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| BrowserError::Protocol(e.to_string()))?;
        bytes.push(0);
        if self.out.send(bytes).is_err() {
            return Err(BrowserError::Closed);
        }
        let reply = tokio::time::timeout(deadline, rx).await;
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        match reply {
            Err(_) => Err(BrowserError::Timeout(method.to_string())),
            Ok(Err(_)) => Err(BrowserError::Closed),
            Ok(Ok(Err(e))) => Err(BrowserError::Command(method.to_string(), e)),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }
}

async fn write_loop(mut tx: pipe::Sender, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(bytes) = rx.recv().await {
        if tx.write_all(&bytes).await.is_err() {
            break;
        }
    }
}

async fn read_loop(mut rx: pipe::Receiver, pending: Pending, events: mpsc::UnboundedSender<Event>) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = match rx.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let scan_from = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        let mut search = scan_from;
        while let Some(pos) = buf[search..].iter().position(|b| *b == 0) {
            let end = search + pos;
            dispatch(&buf[start..end], &pending, &events);
            start = end + 1;
            search = start;
        }
        buf.drain(..start);
        if buf.len() > MAX_MESSAGE {
            break;
        }
    }
    // The browser is gone: every waiting call fails now rather than at its deadline.
    pending.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

fn dispatch(msg: &[u8], pending: &Pending, events: &mpsc::UnboundedSender<Event>) {
    let Ok(v) = serde_json::from_slice::<Value>(msg) else {
        return;
    };
    if let Some(id) = v.get("id").and_then(Value::as_u64) {
        let tx = pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        if let Some(tx) = tx {
            let r = match v.get("error") {
                Some(e) => Err(e.get("message").and_then(Value::as_str).unwrap_or("error").to_string()),
                None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
            };
            let _ = tx.send(r);
        }
        return;
    }
    if let Some(method) = v.get("method").and_then(Value::as_str) {
        let _ = events.send(Event {
            method: method.to_string(),
            params: v.get("params").cloned().unwrap_or(Value::Null),
            session: v.get("sessionId").and_then(Value::as_str).map(str::to_string),
        });
    }
}
