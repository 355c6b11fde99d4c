//! Listeners and connections: binding, the accept loops, closing a site for real and reopening
//! it on the same port, and the connection-level `reset` fault.
//!
//! The simulator runs its own accept loop over hyper instead of `axum::serve` because faults
//! need control below HTTP: a site that is "down" must refuse connections (its listening socket
//! closed at once, synchronously, so a test that flips the switch sees the refusal right away),
//! and the `reset` mode must close a connection with a TCP RST and no response at all.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use super::{admin, booking, faults, lock, portal, rdv, Shared, SimError, SimState, Site};

/// How long open connections may finish their current request once their site stops.
const GRACE: Duration = Duration::from_millis(250);

/// The listener of one site. `addr` is fixed after the first bind so a site comes back on the
/// same port.
pub(crate) struct SiteListener {
    addr: SocketAddr,
    running: Option<Running>,
}

impl SiteListener {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        SiteListener { addr, running: None }
    }
}

struct Running {
    /// Shared with the accept loop, which polls it without holding the lock across awaits; taking
    /// it out and dropping it closes the socket immediately.
    listener: Arc<Mutex<Option<TcpListener>>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Binds a listening socket with `SO_REUSEADDR`, so that a site can be reopened on its port while
/// connections of its previous life sit in TIME_WAIT. Needs a tokio runtime context.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The full router of a site: its pages (each behind the fault gate) plus the admin API.
pub(crate) fn app(shared: &Arc<Shared>, site: Site) -> Router {
    let routes = match site {
        Site::Portal => portal::routes(),
        Site::Prefecture => booking::routes(),
        Site::Rdv => rdv::routes(),
    };
    let mut router = Router::new();
    for (key, path, method_router) in routes {
        router = router.route(path, faults::gated(shared, site, Some(key), method_router));
    }
    let fallback = faults::gated(shared, site, None, axum::routing::any(|| async { super::pages::not_found() }));
    router
        .merge(admin::routes())
        .fallback_service(fallback.with_state(shared.clone()))
        .with_state(shared.clone())
}

/// Starts serving `listener` for `site`.
pub(crate) fn launch(shared: &Arc<Shared>, site: Site, listener: TcpListener) {
    let slot = Arc::new(Mutex::new(Some(listener)));
    let (stop, stop_rx) = watch::channel(false);
    let task = shared.rt.spawn(accept_loop(app(shared, site), slot.clone(), stop_rx));
    let mut listeners = lock(&shared.listeners);
    if let Some(l) = listeners.get_mut(&site) {
        l.running = Some(Running {
            listener: slot,
            stop,
            task,
        });
    }
}

/// Closes the listening socket now and tells the accept loop and its connections to stop.
fn close(running: Running) -> JoinHandle<()> {
    drop(lock(&running.listener).take());
    let _ = running.stop.send(true);
    running.task
}

/// Opens or closes listeners so that they match `new.sites.*.down`. Binds first, so that a
/// failure leaves everything as it was.
pub(crate) fn sync_listeners(shared: &Arc<Shared>, new: &SimState) -> Result<(), SimError> {
    if shared.closed.load(Ordering::SeqCst) {
        return Ok(());
    }
    let mut to_open = Vec::new();
    let mut to_close = Vec::new();
    {
        let listeners = lock(&shared.listeners);
        let _guard = shared.rt.enter();
        for (site, l) in listeners.iter() {
            let want_up = !new.site(*site).down;
            match (l.running.is_some(), want_up) {
                (false, true) => {
                    let listener = bind(l.addr).map_err(|source| SimError::Listener {
                        site: *site,
                        addr: l.addr,
                        source,
                    })?;
                    to_open.push((*site, listener));
                }
                (true, false) => to_close.push(*site),
                _ => {}
            }
        }
    }
    for site in to_close {
        let running = lock(&shared.listeners).get_mut(&site).and_then(|l| l.running.take());
        if let Some(r) = running {
            // The old accept loop winds down on its own within GRACE.
            drop(close(r));
        }
    }
    for (site, listener) in to_open {
        launch(shared, site, listener);
    }
    Ok(())
}

/// Stops all sites and waits for their accept loops (and so their connections) to end.
pub(crate) async fn shutdown(shared: &Arc<Shared>) {
    let running: BTreeMap<Site, Running> = lock(&shared.listeners)
        .iter_mut()
        .filter_map(|(s, l)| l.running.take().map(|r| (*s, r)))
        .collect();
    for (_, r) in running {
        let _ = close(r).await;
    }
}

fn poll_accept(slot: &Mutex<Option<TcpListener>>, cx: &mut Context<'_>) -> Poll<Option<io::Result<(TcpStream, SocketAddr)>>> {
    match lock(slot).as_ref() {
        None => Poll::Ready(None),
        Some(l) => l.poll_accept(cx).map(Some),
    }
}

async fn accept_loop(app: Router, slot: Arc<Mutex<Option<TcpListener>>>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            a = std::future::poll_fn(|cx| poll_accept(&slot, cx)) => a,
        };
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => {
                conns.spawn(serve_connection(stream, peer, app.clone(), stop.clone()));
            }
            Some(Err(e)) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::debug!(error = %e, "simulator accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Reap finished connections so the set does not grow with the connection count.
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}

/// Handed to handlers (as a request extension) so that the `reset` fault can kill the connection.
#[derive(Clone)]
pub(crate) struct ResetHandle(Arc<AtomicBool>);

impl ResetHandle {
    /// From now on the connection's I/O fails and the socket is closed with a RST.
    pub(crate) fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, app: Router, mut stop: watch::Receiver<bool>) {
    let reset = Arc::new(AtomicBool::new(false));
    let handle = ResetHandle(reset.clone());
    let io = TokioIo::new(ConnIo { stream, reset });
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(handle.clone());
        app.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|s| *s) => {}
    }
    // The site is stopping: idle keep-alive connections close now, busy ones get GRACE.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(GRACE, conn).await;
}

/// A TCP stream whose I/O fails once the `reset` fault fires; hyper then drops it, and zero
/// linger turns that close into a RST, so the client sees a reset rather than a clean EOF.
struct ConnIo {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl ConnIo {
    fn check(&self) -> io::Result<()> {
        if self.reset.load(Ordering::SeqCst) {
            let _ = self.stream.set_zero_linger();
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        Ok(())
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
