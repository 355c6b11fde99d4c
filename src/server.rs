//! The HTTP server: `/metrics` for Prometheus, `/healthz` for supervisors,
//! `/` a status page in French for the team, `/api/status` the same as JSON,
//! `/observatoire/` the public observatory (docs/observatory.md).
//!
//! `app()` builds the router alone so tests drive it with `oneshot`, as in
//! axum's examples; `serve` adds the listener, the connection cap, header
//! and request timeouts and graceful shutdown (see `server_conn`).

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;

use crate::metrics::Metrics;
use crate::status::{ProbeStatus, StatusBoard};

#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub board: Arc<StatusBoard>,
    pub location: String,
    /// The history store, when screenshots are served to the team
    /// (`alerts.evidence_url` set): `/preuves/capture/N.png`.
    pub evidence_db: Option<std::path::PathBuf>,
    /// The public observatory's last publication, served at `/observatoire/`.
    pub observatory: Arc<crate::observatory::serve::Latest>,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/status", get(api_status))
        .route("/", get(status_page))
        .route("/preuves/capture/{file}", get(screenshot))
        .route(
            "/observatoire",
            get(|| async { axum::response::Redirect::permanent("/observatoire/") }),
        )
        .route("/observatoire/", get(observatory_root))
        .route("/observatoire/{*path}", get(observatory))
        .fallback(|| async { not_found() })
        .with_state(state)
}

/// The scrape is written chunk by chunk as hyper sends it, with its
/// `Content-Length` (no 9 MB string at 1,000 probes; see `metrics::Scrape`).
async fn metrics(State(s): State<AppState>) -> Response {
    // The registry's process collector reads /proc: off the runtime's threads.
    match tokio::task::spawn_blocking(move || s.metrics.scrape()).await {
        Ok(scrape) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            axum::body::Body::new(ScrapeBody(scrape)),
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the metrics\n").into_response(),
    }
}

/// A [`metrics::Scrape`](crate::metrics::Scrape) as an HTTP body of known length.
struct ScrapeBody(crate::metrics::Scrape);

impl http_body::Body for ScrapeBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let chunk = self.get_mut().0.next_chunk(crate::metrics::CHUNK);
        std::task::Poll::Ready(chunk.map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.remaining() == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.remaining() as u64)
    }
}

async fn api_status(State(s): State<AppState>) -> Json<Vec<ProbeStatus>> {
    Json(s.board.snapshot())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `2 h 13 min depuis le 07/12/2026 06:00`: what the runs since vigie
/// started observed, to the minute.
fn observed(p: &crate::status::ProbeStatus) -> String {
    let l = crate::alert::settings::Language::Fr;
    match p.observed_since {
        Some(t) => format!(
            "{}<br><small>depuis le {}</small>",
            crate::report::fmt::duration(p.observed_s, l),
            crate::report::fmt::datetime(t, chrono_tz::Europe::Paris, l)
        ),
        None => "—".into(),
    }
}

async fn status_page(State(s): State<AppState>) -> impl IntoResponse {
    let paris = chrono_tz::Europe::Paris;
    let mut rows = String::new();
    for p in s.board.snapshot() {
        let (class, state) = match p.last_outcome {
            Some(o) => (o.as_str(), o.label_fr().to_string()),
            None => ("pending", "en attente du premier passage".to_string()),
        };
        let state = match (&p.captcha_step, p.last_outcome) {
            (Some(step), Some(o)) if o.is_success() => format!("{state} (arrêt au CAPTCHA, étape {step})"),
            _ => state,
        };
        let why = match (p.last_reason, &p.last_step) {
            (Some(r), Some(step)) => format!("{} — étape « {} »", r.label_fr(), esc(step)),
            _ => String::new(),
        };
        let fmt = |t: Option<chrono::DateTime<Utc>>| {
            t.map(|t| t.with_timezone(&paris).format("%d/%m/%Y %H:%M:%S").to_string())
                .unwrap_or_default()
        };
        rows.push_str(&format!(
            "<tr class=\"{class}\"><td>{}<br><small>{} · {}</small></td><td><b>{}</b><br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&p.title),
            esc(&p.procedure),
            esc(&p.site),
            esc(&state),
            why,
            fmt(p.since),
            fmt(p.last_run),
            p.runs,
            observed(&p)
        ));
    }
    let now = Utc::now().with_timezone(&paris).format("%d/%m/%Y %H:%M:%S");
    let page = format!(
        r#"<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>vigie — état des démarches</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.5em;text-align:left;vertical-align:top}}
tr.up td:nth-child(2){{color:#0a7a2f}}tr.degraded td:nth-child(2){{color:#a66b00}}tr.no_capacity td:nth-child(2){{color:#8a5a00}}tr.broken td:nth-child(2),tr.down td:nth-child(2){{color:#b00020}}small{{color:#666}}</style></head>
<body><h1>État des démarches surveillées</h1>
<p>Point d'observation : <b>{}</b> · page générée le {now} (heure de Paris) · <a href="/observatoire/">observatoire public</a> · <a href="/metrics">métriques</a> · <a href="/api/status">JSON</a></p>
<table><tr><th>Démarche</th><th>État</th><th>Depuis</th><th>Dernier passage</th><th>Passages</th><th>Temps observé</th></tr>
{rows}</table></body></html>"#,
        esc(&s.location)
    );
    Html(page)
}

#[derive(serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

async fn observatory_root(state: State<AppState>, query: Query<LangQuery>, headers: HeaderMap) -> Response {
    observatory(state, axum::extract::Path(String::new()), query, headers).await
}

/// A file of the observatory's last publication, in the language asked
/// for (`?lang=`, else `Accept-Language` where the address names none).
async fn observatory(
    State(s): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    use crate::observatory::serve;
    let Some(site) = s.observatory.get() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "l'observatoire n'est pas encore publié (not published yet)\n",
        )
            .into_response();
    };
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let Some(r) = serve::resolve(&path, q.lang.as_deref(), accept) else {
        return not_found().into_response();
    };
    let file = r.file.clone();
    let Ok(Some(bytes)) = tokio::task::spawn_blocking(move || site.get(&file)).await else {
        return not_found().into_response();
    };
    let mut resp = (
        [
            (header::CONTENT_TYPE, serve::content_type(&r.file)),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        bytes,
    )
        .into_response();
    if let Some(lang) = r.language {
        if let Ok(v) = lang.as_str().parse() {
            resp.headers_mut().insert(header::CONTENT_LANGUAGE, v);
        }
    }
    if r.negotiated {
        resp.headers_mut()
            .insert(header::VARY, header::HeaderValue::from_static("Accept-Language"));
    }
    resp
}

/// Serve `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::server_conn::serve(listener, app, shutdown).await
}

/// 404 with a hint, for unknown paths.
/// A screenshot of the evidence register, for the links in alert e-mails.
/// Served only when the operator gave the team's address for it.
async fn screenshot(State(s): State<AppState>, axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (Some(db), Some(seq)) = (s.evidence_db.clone(), file.strip_suffix(".png").and_then(|n| n.parse::<i64>().ok())) else {
        return not_found().into_response();
    };
    let png = tokio::task::spawn_blocking(move || {
        let store = crate::store::Store::open_existing(&db).ok()?;
        crate::store::evidence::get(store.conn(), seq).ok()??.screenshot
    })
    .await
    .ok()
    .flatten();
    match png {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        None => not_found().into_response(),
    }
}

pub fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found: try /metrics, /healthz, /api/status, /observatoire/ or /\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn state() -> AppState {
        AppState {
            evidence_db: None,
            metrics: Arc::new(Metrics::new("unit").expect("metrics")),
            board: Arc::new(StatusBoard::default()),
            location: "unit".into(),
            observatory: Arc::default(),
        }
    }

    async fn get(path: &str) -> (StatusCode, String, Option<String>) {
        let resp = app(state())
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.to_string());
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned(), ct)
    }

    /// Over a real socket, a scrape streamed chunk by chunk is sent with
    /// its exact `Content-Length`, not chunked.
    #[tokio::test]
    async fn metrics_over_a_socket_carry_their_length() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let st = state();
        for i in 0..300 {
            let p = crate::alert::testutil::probe(&format!("p{i}"), "T", "proc");
            st.metrics.declare_probe(&p);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app(st), async {
            let _ = stopped.await;
        }));
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: vigie\r\nConnection: close\r\n\r\n")
            .await
            .expect("request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("response");
        let text = String::from_utf8(raw).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
        let head = head.to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("a content-length");
        assert!(len > 2 * crate::metrics::CHUNK, "several chunks: {len} bytes");
        assert_eq!(len, body.len());
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert!(body.contains("vigie_probe_runs_total{outcome=\"up\",probe=\"p299\""));
        assert!(body.ends_with('\n'));
        let _ = stop.send(());
        server.await.expect("server task").expect("server");
    }

    #[tokio::test]
    async fn routes_answer() {
        assert_eq!(get("/healthz").await.0, StatusCode::OK);
        let (status, body, ct) = get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct.as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
        assert!(body.contains("vigie_build_info{version=\""), "{body}");
        let (status, body, _) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("<html lang=\"fr\">"));
        assert_eq!(
            get("/observatoire/").await.0,
            StatusCode::SERVICE_UNAVAILABLE,
            "nothing published yet"
        );
        let (status, body, _) = get("/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("/metrics"));
    }
}
