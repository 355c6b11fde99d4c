//! Per-request phase timings, as blackbox_exporter splits
//! `probe_http_duration_seconds`: DNS resolution, TCP connect, TLS handshake,
//! server processing (request sent → response headers) and transfer
//! (headers → end of body).
//!
//! Three hooks on the run's own client feed one [`Recorder`]:
//! - [`TimedResolver`], the client's DNS resolver, times the lookup
//!   (`getaddrinfo` on a blocking thread, as reqwest's default does);
//! - [`ConnectTiming`], a connector layer, times the whole connection
//!   (DNS + TCP + TLS);
//! - [`HelloClock`], the rustls session store, is asked for a TLS 1.3
//!   ticket when rustls builds the ClientHello, i.e. right after TCP
//!   connected: that instant splits TCP from TLS. It never stores nor
//!   returns a session, so every handshake stays a full one.
//!
//! A run sends its requests one after another, so the recorder holds the
//! last connection opened; the exchange takes it once per request. No
//! record means the request went over a reused connection: its resolve,
//! connect and TLS phases are zero.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;

use crate::probe::result::{Phases, RequestTiming};

/// What the hooks saw of one connection.
#[derive(Debug, Clone, Copy, Default)]
struct Conn {
    start: Option<Instant>,
    resolve: Duration,
    tls_start: Option<Instant>,
    /// When the connector finished, and whether it succeeded.
    end: Option<(Instant, bool)>,
    /// The connection's own address: which response went over it.
    local: Option<SocketAddr>,
}

#[derive(Debug, Default)]
struct State {
    /// The connection being opened (the resolver and the TLS hook write here).
    opening: Conn,
    /// Connections opened and not yet matched to a request, newest last.
    opened: Vec<Conn>,
}

/// At most this many unmatched connection records are kept.
const KEEP: usize = 4;

/// One run's timing state, shared by its client's hooks (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<State>>);

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }

    fn connect_started(&self) -> Instant {
        let now = Instant::now();
        self.with(|s| {
            s.opening = Conn {
                start: Some(now),
                ..Conn::default()
            }
        });
        now
    }

    fn connect_ended(&self, start: Instant, ok: bool, local: Option<SocketAddr>) {
        let now = Instant::now();
        self.with(|s| {
            let mut c = std::mem::take(&mut s.opening);
            if c.start != Some(start) {
                // Another connection started meanwhile: only ours is known.
                c = Conn::default();
            }
            c.start = Some(start);
            c.end = Some((now, ok));
            c.local = local;
            if s.opened.len() >= KEEP {
                s.opened.remove(0);
            }
            s.opened.push(c);
        });
    }

    fn resolved(&self, took: Duration) {
        self.with(|s| s.opening.resolve = took);
    }

    fn tls_started(&self) {
        let now = Instant::now();
        self.with(|s| s.opening.tls_start = Some(now));
    }

    /// The connection opened for the request sent at `sent` and answered
    /// over the connection at `local` (None: no answer, the newest record or
    /// the one being opened). A record older than the request, or of
    /// another connection, is not its own: the request reused a connection.
    fn take(&self, sent: Instant, local: Option<SocketAddr>) -> Option<Conn> {
        self.with(|s| {
            let mine = |c: &Conn| c.start.is_some_and(|t| t >= sent) && (local.is_none() || c.local == local);
            match s.opened.iter().rposition(mine) {
                Some(i) => Some(s.opened.remove(i)),
                None if local.is_none() && mine(&s.opening) => Some(std::mem::take(&mut s.opening)),
                None => None,
            }
        })
    }

    /// The phases of the request sent at `sent`, answered over the
    /// connection at `local`, whose headers came at `headers` (None: no
    /// response) and which ended at `end`.
    pub fn phases(&self, sent: Instant, local: Option<SocketAddr>, headers: Option<Instant>, end: Instant) -> Phases {
        let mut p = Phases::default();
        let ready = match self.take(sent, local) {
            None => sent,
            Some(conn) => match connection_phases(&conn, end, &mut p) {
                Some(ready) => ready,
                // The connection failed: nothing was sent.
                None => return p,
            },
        };
        match headers {
            Some(h) => {
                p.processing = h.saturating_duration_since(ready);
                p.transfer = end.saturating_duration_since(h);
            }
            None => p.processing = end.saturating_duration_since(ready),
        }
        p
    }
}

/// The local address of the connection a response came over.
pub fn local_addr(resp: &reqwest::Response) -> Option<SocketAddr> {
    resp.extensions().get::<HttpInfo>().map(|i| i.local_addr())
}

/// Fill resolve, connect and TLS from a connection record; the instant the
/// connection was ready, or None if it never was (failed or cut short).
fn connection_phases(conn: &Conn, now: Instant, p: &mut Phases) -> Option<Instant> {
    let start = conn.start?;
    let (end, ok) = conn.end.unwrap_or((now, false));
    p.resolve = conn.resolve;
    let tcp_end = conn.tls_start.unwrap_or(end);
    p.connect = tcp_end.saturating_duration_since(start).saturating_sub(conn.resolve);
    if let Some(t) = conn.tls_start {
        p.tls = end.saturating_duration_since(t);
    }
    ok.then_some(end)
}

/// One request's timing with the facts of its response.
pub fn request_timing(phases: Phases, resp: Option<&reqwest::Response>) -> RequestTiming {
    let Some(resp) = resp else {
        return RequestTiming {
            phases,
            ..RequestTiming::default()
        };
    };
    RequestTiming {
        phases,
        remote_addr: resp.remote_addr().map(|a| a.to_string()),
        http_version: Some(http_version(resp.version()).to_string()),
        tls_version: resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.version())
            .and_then(tls_version)
            .map(str::to_string),
    }
}

fn http_version(v: reqwest::Version) -> &'static str {
    match v {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_11 => "HTTP/1.1",
        reqwest::Version::HTTP_2 => "HTTP/2",
        reqwest::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}

fn tls_version(v: reqwest::tls::Version) -> Option<&'static str> {
    use reqwest::tls::Version as V;
    [
        (V::TLS_1_3, "TLSv1.3"),
        (V::TLS_1_2, "TLSv1.2"),
        (V::TLS_1_1, "TLSv1.1"),
        (V::TLS_1_0, "TLSv1.0"),
    ]
    .into_iter()
    .find(|(x, _)| *x == v)
    .map(|(_, s)| s)
}

/// The client's DNS resolver: the system's (`getaddrinfo`), timed.
pub struct TimedResolver(pub Recorder);

impl reqwest::dns::Resolve for TimedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let rec = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let t = Instant::now();
            let found = tokio::net::lookup_host((host, 0u16)).await;
            rec.resolved(t.elapsed());
            let addrs: reqwest::dns::Addrs = Box::new(found?);
            Ok(addrs)
        })
    }
}

/// A connector layer timing each connection the client opens.
#[derive(Clone)]
pub struct ConnectTiming(pub Recorder);

impl<S> tower::Layer<S> for ConnectTiming {
    type Service = Timed<S>;
    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            rec: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Timed<S> {
    inner: S,
    rec: Recorder,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> tower::Service<R> for Timed<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
    S::Response: Connection,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let start = self.rec.connect_started();
        let connecting = self.inner.call(req);
        let rec = self.rec.clone();
        Box::pin(async move {
            let r = connecting.await;
            let local = r.as_ref().ok().and_then(conn_local_addr);
            rec.connect_ended(start, r.is_ok(), local);
            r
        })
    }
}

fn conn_local_addr(c: &impl Connection) -> Option<SocketAddr> {
    let mut ext = http::Extensions::new();
    c.connected().get_extras(&mut ext);
    ext.get::<HttpInfo>().map(|i| i.local_addr())
}

/// The rustls session store of a run: rustls asks it for a TLS 1.3 ticket
/// every time it builds a ClientHello (`ClientHelloInput::new` in rustls
/// 0.23), which marks the end of TCP and the start of TLS. It stores
/// nothing and returns nothing: no resumption, no key-share hint.
#[derive(Debug)]
pub struct HelloClock(pub Recorder);

impl ClientSessionStore for HelloClock {
    fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}

    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        None
    }

    fn set_tls12_session(&self, _: ServerName<'static>, _: Tls12ClientSessionValue) {}

    fn tls12_session(&self, _: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        None
    }

    fn remove_tls12_session(&self, _: &ServerName<'static>) {}

    fn insert_tls13_ticket(&self, _: ServerName<'static>, _: Tls13ClientSessionValue) {}

    fn take_tls13_ticket(&self, _: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.0.tls_started();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::result::Phase;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    fn local(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    fn conn(r: &Recorder, base: Instant, tls: Option<u64>, end: Option<(u64, bool)>, port: u16) {
        let c = Conn {
            start: Some(at(base, 1)),
            resolve: Duration::from_millis(4),
            tls_start: tls.map(|t| at(base, t)),
            end: end.map(|(e, ok)| (at(base, e), ok)),
            local: local(port),
        };
        r.with(|s| match end {
            Some(_) => s.opened.push(c),
            None => s.opening = c,
        });
    }

    fn ms(p: &Phases) -> [u128; 5] {
        Phase::ALL.map(|x| p.get(x).as_millis())
    }

    #[test]
    fn fresh_tls_connection_splits_into_five_phases() {
        let b = Instant::now();
        let r = Recorder::default();
        conn(&r, b, Some(10), Some((30, true)), 5000);
        let p = r.phases(b, local(5000), Some(at(b, 50)), at(b, 80));
        assert_eq!(ms(&p), [4, 5, 20, 20, 30]);
        // Taken once: the next request on the same connection has none.
        let again = r.phases(b, local(5000), Some(at(b, 90)), at(b, 95));
        assert_eq!(ms(&again), [0, 0, 0, 90, 5]);
    }

    #[test]
    fn a_connection_the_response_did_not_use_is_not_counted() {
        let b = Instant::now();
        let r = Recorder::default();
        conn(&r, b, None, Some((9, true)), 5001);
        let p = r.phases(b, local(5002), Some(at(b, 30)), at(b, 31));
        assert_eq!(ms(&p), [0, 0, 0, 30, 1]);
        // Nor one opened before the request was sent.
        let p = r.phases(at(b, 20), local(5001), Some(at(b, 30)), at(b, 31));
        assert_eq!(ms(&p), [0, 0, 0, 10, 1]);
    }

    #[test]
    fn failed_handshake_keeps_what_it_completed() {
        let b = Instant::now();
        let r = Recorder::default();
        conn(&r, b, Some(10), Some((25, false)), 5003);
        let p = r.phases(b, None, None, at(b, 26));
        assert_eq!(ms(&p), [4, 5, 15, 0, 0]);
        // A connection cut short (timeout) ends at the failure instant.
        conn(&r, b, None, None, 5004);
        let p = r.phases(b, None, None, at(b, 40));
        assert_eq!(ms(&p), [4, 35, 0, 0, 0]);
    }
}
