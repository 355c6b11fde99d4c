//! A small single-page application served over a real socket, for browser
//! probe tests: an HTML shell whose content is rendered by JavaScript from
//! a JSON API, with faults switched at run time (the API answering 500, a
//! page that never finishes loading, a busy script, a memory hog), and a
//! form submission (POST → 303 → result page).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

const APP: &str = include_str!("spa/app.html");
const APP_JS: &str = include_str!("spa/app.js");

#[derive(Default)]
pub struct SpaState {
    /// "" (healthy) or "api500".
    pub fault: Mutex<String>,
    pub hits: Mutex<Vec<String>>,
}

pub struct Spa {
    pub addr: SocketAddr,
    pub state: Arc<SpaState>,
    task: tokio::task::JoinHandle<()>,
}

impl Spa {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set_fault(&self, f: &str) {
        *self.state.fault.lock().unwrap() = f.to_string();
    }

    pub fn hits(&self) -> Vec<String> {
        self.state.hits.lock().unwrap().clone()
    }
}

impl Drop for Spa {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn note(st: &SpaState, what: &str) {
    st.hits.lock().unwrap().push(what.to_string());
}

async fn app(State(st): State<Arc<SpaState>>) -> Html<&'static str> {
    note(&st, "GET /app");
    Html(APP)
}

async fn api(State(st): State<Arc<SpaState>>) -> Response {
    note(&st, "GET /api/status");
    if st.fault.lock().unwrap().as_str() == "api500" {
        return (StatusCode::INTERNAL_SERVER_ERROR, "{\"erreur\":\"interne\"}").into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"slots":["1796284800","1796286000"],"first":"1796284800","first_text":"03/12/2026 09:00"}"#,
    )
        .into_response()
}

async fn submit(State(st): State<Arc<SpaState>>, body: String) -> Redirect {
    note(&st, &format!("POST /submit {body}"));
    Redirect::to("/done")
}

async fn done() -> Html<&'static str> {
    Html("<!doctype html><html><head><title>Demande envoyée</title></head><body><p id=ok>Un e-mail de confirmation vous a été envoyé.</p></body></html>")
}

/// A page whose image never arrives: its load event never fires.
async fn never_loads() -> Html<&'static str> {
    Html("<!doctype html><html><head><title>Lent</title></head><body><p>En cours</p><img src=\"/never\"></body></html>")
}

async fn never() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    ""
}

/// A script that never yields once its button is clicked.
async fn busy() -> Html<&'static str> {
    Html("<!doctype html><html><head><title>Occupé</title></head><body><p>Bonjour</p><button id=\"spin\" onclick=\"setTimeout(() => { for (;;) {} }, 50)\">Lancer</button></body></html>")
}

/// A page that allocates memory without end.
async fn hog() -> Html<&'static str> {
    Html("<!doctype html><html><head><title>Gourmand</title></head><body><p>Bonjour</p><script>const keep = []; setInterval(() => { for (let i = 0; i < 40; i++) keep.push(new Array(250000).fill(Math.random())); }, 5);</script></body></html>")
}

pub async fn start() -> Spa {
    let state = Arc::new(SpaState::default());
    let router = Router::new()
        .route("/app", get(app))
        .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], APP_JS) }))
        .route("/api/status", get(api))
        .route("/submit", post(submit))
        .route("/done", get(done))
        .route("/slow", get(never_loads))
        .route("/never", get(never))
        .route("/busy", get(busy))
        .route("/hog", get(hog))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Spa { addr, state, task }
}
