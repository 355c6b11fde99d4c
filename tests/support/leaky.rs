//! A hostile portal for the redaction tests (axum on two loopback
//! addresses, so that a redirect crosses hosts): it sets session cookies for
//! another path and from another host during redirects, and echoes the
//! probe's password and token back in every encoding a server uses — plain,
//! URL-encoded, base64 (alone and inside a longer value), hexadecimal, JSON
//! escapes, HTML entities, Latin-1 bytes in the body and in a header — in
//! pages, headers, JSON checks, "no slot" messages and past the capture cut.

use std::net::SocketAddr;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use base64::Engine;

pub const PASSWORD: &str = "Sécret pass/Wörd+42";
pub const TOKEN: &str = "tok-A1b2C3d4e5F6";
/// Values the server makes up: they are secrets of the run too.
pub const SESSION: &str = "sess-Q9w8E7r6T5y4";
pub const OTHER_HOST_COOKIE: &str = "other-Z1x2C3v4B5n6";
pub const CSRF: &str = "csrf-M1n2B3v4C5x6";

/// Where the page cut (the runner's 512 KiB capture limit) falls.
pub const CAPTURE_LIMIT: usize = 512 * 1024;

#[derive(Clone)]
struct Hosts {
    a: SocketAddr,
    b: SocketAddr,
}

pub struct Leaky {
    /// `http://127.0.0.1:port`
    pub url: String,
}

/// Start the two servers (127.0.0.1 and 127.0.0.2, same routes).
pub async fn start() -> Leaky {
    let la = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a");
    let lb = tokio::net::TcpListener::bind("127.0.0.2:0").await.expect("bind b (127.0.0.2)");
    let hosts = Hosts {
        a: la.local_addr().expect("addr"),
        b: lb.local_addr().expect("addr"),
    };
    for l in [la, lb] {
        let app = router(hosts.clone());
        tokio::spawn(async move { axum::serve(l, app).await });
    }
    Leaky {
        url: format!("http://{}", hosts.a),
    }
}

fn router(h: Hosts) -> Router {
    Router::new()
        .route("/login/{*rest}", any(login))
        .route("/hop", get(hop))
        .route("/welcome", get(welcome))
        .route("/account", get(account))
        .route("/slots", get(slots))
        .route("/latin1", get(latin1))
        .route("/big", get(big))
        .with_state(h)
}

fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| u8::try_from(u32::from(c)).expect("latin-1")).collect()
}

/// Every encoding of `s` a page may carry.
pub fn encodings(s: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
    let strict_lower: String = s
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect();
    let json_ascii: String = s
        .chars()
        .map(|c| match c {
            '/' => "\\/".to_string(),
            c if c.is_ascii() => c.to_string(),
            c => format!("\\u{:04x}", u32::from(c)),
        })
        .collect();
    let entities: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("&#{};", u32::from(c))
            }
        })
        .collect();
    format!(
        "<p>plain {s}</p><p>form {form}</p><p>strict {strict_lower}</p><p>b64 {}</p><p>b64url {}</p>\
         <p>basic {}</p><p>hex {}</p><script>var j = \"{json_ascii}\";</script><p>entities {entities}</p>",
        b64.encode(s),
        b64u.encode(s),
        b64.encode(format!("tester:{s}")),
        hex::encode(s),
    )
}

async fn login(State(h): State<Hosts>, headers: HeaderMap, Form(form): Form<Vec<(String, String)>>) -> Response {
    let ok = form.iter().any(|(k, v)| k == "password" && v == PASSWORD) && headers.get("x-auth-token").is_some_and(|v| v == TOKEN);
    if !ok {
        return (StatusCode::FORBIDDEN, "bad credentials").into_response();
    }
    let mut r = (StatusCode::FOUND, "").into_response();
    let hd = r.headers_mut();
    hd.insert("location", hv(&format!("http://{}/hop", h.b)));
    hd.append("set-cookie", hv(&format!("SESSION={SESSION}; Path=/elsewhere; HttpOnly")));
    r
}

async fn hop(State(h): State<Hosts>) -> Response {
    let mut r = (StatusCode::FOUND, "").into_response();
    let echo: String = url::form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
    r.headers_mut()
        .insert("location", hv(&format!("http://{}/welcome?echo={echo}", h.a)));
    r.headers_mut()
        .append("set-cookie", hv(&format!("OTHERHOST={OTHER_HOST_COOKIE}; Path=/")));
    r
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("header value")
}

async fn welcome() -> Response {
    let body = format!(
        "<html><head><title>Bienvenue {PASSWORD}</title></head><body><main><h1>Bienvenue</h1>\
         <p id=\"greet\">Bonjour {PASSWORD}</p><form><input name=\"csrf_token\" value=\"{CSRF}\"></form>{}{}{}{}{}</main></body></html>",
        encodings(PASSWORD),
        encodings(TOKEN),
        encodings(SESSION),
        encodings(OTHER_HOST_COOKIE),
        encodings(CSRF),
    );
    let mut r = ([("content-type", "text/html; charset=utf-8")], body).into_response();
    let hd = r.headers_mut();
    hd.insert("x-echo-token", hv(TOKEN));
    hd.insert("x-api-key", hv(TOKEN));
    hd.insert("x-echo", hv(&format!("seen {TOKEN}")));
    hd.insert(
        "x-echo-latin1",
        HeaderValue::from_bytes(&latin1_bytes(PASSWORD)).expect("latin-1 header"),
    );
    hd.append("set-cookie", hv("lang=fr; Path=/"));
    r
}

async fn account() -> Response {
    let echo = [PASSWORD, TOKEN, SESSION, OTHER_HOST_COOKIE, CSRF].map(encodings).join("");
    let body = serde_json::json!({ "user": PASSWORD, "token": TOKEN, "echo": echo }).to_string();
    ([("content-type", "application/json")], body).into_response()
}

async fn slots() -> Response {
    let body = format!("<html><body><main><p>Aucun créneau pour {PASSWORD} ni {TOKEN}</p></main></body></html>");
    ([("content-type", "text/html; charset=utf-8")], body).into_response()
}

async fn latin1() -> Response {
    let mut body = b"<html><body><main><p>Mot de passe : ".to_vec();
    body.extend(latin1_bytes(PASSWORD));
    body.extend_from_slice(b"</p></main></body></html>");
    let mut r = ([("content-type", "text/html; charset=iso-8859-1")], body).into_response();
    r.headers_mut().insert(
        "x-echo-latin1",
        HeaderValue::from_bytes(&latin1_bytes(PASSWORD)).expect("latin-1 header"),
    );
    r
}

/// The token straddles the capture cut.
async fn big() -> Response {
    let mut body = "<html><body><main><p>".to_string();
    while body.len() < CAPTURE_LIMIT - TOKEN.len() / 2 {
        body.push('x');
    }
    body.push_str(TOKEN);
    body.push_str("</p></main></body></html>");
    ([("content-type", "text/html; charset=utf-8")], body).into_response()
}
