//! The fault gate: the middleware in front of every simulated page. It logs the request, applies
//! the site's min-interval limiter, then the route's delay and fault mode.
//!
//! The gate is attached per route (not per site) so that it knows the route key without a second
//! table of paths: each site module declares `(key, path, handlers)` once.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use futures_util::stream;
use std::net::SocketAddr;

use super::pages::{html, redirect};
use super::server::ResetHandle;
use super::{BotProtection, FaultMode, RequestRecord, RouteKey, Shared, Site};

/// A hanging request is answered (504) after this long, so no task lives forever.
pub(crate) const HANG_CAP: Duration = Duration::from_secs(600);
/// `trickle` sends this many bytes...
const TRICKLE_CHUNK: usize = 8;
/// ...every this long, for at most HANG_CAP.
const TRICKLE_EVERY: Duration = Duration::from_secs(1);
/// `huge` streams chunks of this size...
const HUGE_CHUNK: usize = 64 * 1024;
/// ...up to this total (1 GiB): effectively endless for a probe, yet finite.
const HUGE_TOTAL: usize = 1 << 30;

/// The literal message of ANEF's technical error page.
pub(crate) const ERREUR_TECHNIQUE: &str = "Une erreur technique est survenue. Veuillez réessayer ultérieurement.";
pub(crate) const MAINTENANCE: &str = "Le site est en maintenance";

#[derive(Clone)]
pub(crate) struct Gate {
    shared: Arc<Shared>,
    site: Site,
    route: Option<RouteKey>,
}

/// Puts `method_router` behind the fault gate for `route`.
pub(crate) fn gated(
    shared: &Arc<Shared>,
    site: Site,
    route: Option<RouteKey>,
    method_router: MethodRouter<Arc<Shared>>,
) -> MethodRouter<Arc<Shared>> {
    let gate = Gate {
        shared: shared.clone(),
        site,
        route,
    };
    method_router.layer(from_fn_with_state(gate, gate_fn))
}

async fn gate_fn(State(g): State<Gate>, req: Request, next: Next) -> Response {
    let arrival = Instant::now();
    let (site_state, route_state, bot) = {
        let st = super::lock(&g.shared.state);
        (st.site(g.site), g.route.map(|k| st.route(k)).unwrap_or_default(), st.bot_protection)
    };
    let limited = g.shared.rate_limited(g.site, site_state.min_interval_ms);
    g.shared.record(RequestRecord {
        seq: 0,
        site: g.site,
        route: g.route,
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        at: chrono::Utc::now(),
        instant: arrival,
        peer_port: req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.port()),
        limited,
        mode: route_state.mode,
        delay_ms: route_state.delay_ms,
    });
    let mut resp = if limited {
        bad_gateway()
    } else if g.site == Site::Rdv && bot != BotProtection::Off {
        super::bot::page(bot, req.uri())
    } else {
        if route_state.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(route_state.delay_ms)).await;
        }
        apply_mode(route_state.mode, req, next).await
    };
    // Real front ends announce themselves; probes may record it.
    let server = match g.site {
        Site::Prefecture => "Apache",
        Site::Portal | Site::Rdv => "nginx",
    };
    resp.headers_mut().insert(header::SERVER, HeaderValue::from_static(server));
    resp
}

async fn apply_mode(mode: FaultMode, req: Request, next: Next) -> Response {
    match mode {
        FaultMode::Normal => next.run(req).await,
        FaultMode::Maintenance => maintenance(),
        FaultMode::ErrorPage => error_page(),
        FaultMode::ServerError => server_error(),
        FaultMode::BadGateway => bad_gateway(),
        FaultMode::Hang => {
            // The connection task drops this future when the client goes away or the site stops.
            tokio::time::sleep(HANG_CAP).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        FaultMode::Reset => {
            match req.extensions().get::<ResetHandle>() {
                Some(h) => h.trigger(),
                None => tracing::debug!("reset fault without a connection handle"),
            }
            // Never reaches the wire when the handle is there: the write fails first.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        FaultMode::Trickle => trickle(),
        FaultMode::Huge => huge(),
        FaultMode::BadUtf8 => bad_utf8(),
        FaultMode::RedirectLoop => redirect_loop(&req),
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n{body}\n</body>\n</html>\n"
    )
}

pub(crate) fn maintenance() -> Response {
    let mut resp = html(
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            "Maintenance en cours",
            &format!(
                "<main id=\"maintenance\"><h1>{MAINTENANCE}</h1>\n\
                 <p>Une opération de maintenance est en cours. Le service sera de nouveau accessible dans les meilleurs délais.</p>\n\
                 <p>Nous vous prions de nous excuser pour la gêne occasionnée.</p></main>"
            ),
        ),
    );
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
    resp
}

pub(crate) fn error_page() -> Response {
    html(
        StatusCode::OK,
        page(
            "ANEF - Erreur",
            &format!(
                "<app-root><div class=\"fr-alert fr-alert--error\" role=\"alert\">\n\
                 <h1 class=\"fr-alert__title\">Erreur</h1>\n<p id=\"message-erreur\">{ERREUR_TECHNIQUE}</p>\n\
                 </div></app-root>"
            ),
        ),
    )
}

fn server_error() -> Response {
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        page(
            "500 Internal Server Error",
            "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request.</p>",
        ),
    )
}

/// nginx's own 502 page, as seen when a back end is gone or refuses a burst.
pub(crate) fn bad_gateway() -> Response {
    html(
        StatusCode::BAD_GATEWAY,
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n\
         <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            .to_string(),
    )
}

fn trickle() -> Response {
    let mut text =
        String::from("<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Chargement</title></head><body>\n");
    let max = HANG_CAP.as_secs() as usize * TRICKLE_CHUNK;
    while text.len() < max {
        text.push_str("<p>Chargement en cours, veuillez patienter.</p>\n");
    }
    let bytes = Bytes::from(text);
    let chunks = (bytes.len() / TRICKLE_CHUNK).min(max / TRICKLE_CHUNK);
    let body = stream::unfold(0usize, move |i| {
        let bytes = bytes.clone();
        async move {
            if i >= chunks {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(TRICKLE_EVERY).await;
            }
            let chunk = bytes.slice(i * TRICKLE_CHUNK..(i + 1) * TRICKLE_CHUNK);
            Some((Ok::<_, Infallible>(chunk), i + 1))
        }
    });
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], Body::from_stream(body)).into_response()
}

fn huge() -> Response {
    static CHUNK: OnceLock<Bytes> = OnceLock::new();
    let chunk = CHUNK
        .get_or_init(|| {
            let line = b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n";
            Bytes::from(line.iter().copied().cycle().take(HUGE_CHUNK).collect::<Vec<u8>>())
        })
        .clone();
    let head =
        Bytes::from_static(b"<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Document</title></head><body>\n");
    let body = stream::iter(
        std::iter::once(head)
            .chain(std::iter::repeat_n(chunk, HUGE_TOTAL / HUGE_CHUNK))
            .map(Ok::<_, Infallible>),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], Body::from_stream(body)).into_response()
}

fn bad_utf8() -> Response {
    let mut body = b"<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>ANEF</title></head><body>\n<p>Donn".to_vec();
    // A lone continuation byte, an invalid lead byte and a truncated sequence.
    body.extend_from_slice(b"\xe9es \x80\xff\xfe \xc3\x28 ");
    body.extend_from_slice(b"incompl\xc3</p>\n</body></html>\n");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// 302 to the same path with `loop` incremented, keeping the other query parameters.
fn redirect_loop(req: &Request) -> Response {
    let uri = req.uri();
    let mut n = 0u64;
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k == "loop" {
            n = v.parse().unwrap_or(0);
        } else {
            query.push((k.into_owned(), v.into_owned()));
        }
    }
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    ser.extend_pairs(query);
    ser.append_pair("loop", &(n + 1).to_string());
    redirect(&format!("{}?{}", uri.path(), ser.finish()), &[])
}
