//! A real HTTP server (axum on a loopback socket) that answers with what it
//! received, so tests can assert what vigie actually sent: method, headers,
//! query, body, multipart parts, cookies; plus redirects of every kind.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let hdrs: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    // Multipart: list part names, file names, content types and sizes.
    let mut parts = Vec::new();
    if let Some(boundary) = ct.split("boundary=").nth(1) {
        let sep = format!("--{boundary}");
        let text = String::from_utf8_lossy(&body).into_owned();
        for chunk in text.split(sep.as_str()).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            let (head, content) = chunk.split_once("\r\n\r\n").unwrap_or((chunk, ""));
            let name = head
                .split("name=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .to_string();
            let filename = head
                .split("filename=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .map(|s| s.to_string());
            let ptype = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Type: ").or_else(|| l.strip_prefix("content-type: ")))
                .map(|s| s.to_string());
            let content = content.strip_suffix("\r\n").unwrap_or(content);
            parts.push(serde_json::json!({"name": name, "filename": filename, "content_type": ptype, "size": content.len(), "starts": content.chars().take(8).collect::<String>()}));
        }
    }
    let v = serde_json::json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": hdrs,
        "body": String::from_utf8_lossy(&body),
        "body_len": body.len(),
        "parts": parts,
    });
    ([("content-type", "application/json")], v.to_string()).into_response()
}

#[derive(serde::Deserialize)]
struct To {
    to: String,
}

async fn redirect(Path(code): Path<u16>, Query(q): Query<To>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND);
    (status, [("location", q.to)]).into_response()
}

async fn set_cookie() -> Response {
    ([("set-cookie", "visitor=v-0123456789; Path=/")], "cookie set").into_response()
}

pub async fn start() -> SocketAddr {
    let app = Router::new()
        .route("/redirect/{code}", any(redirect))
        .route("/set-cookie", any(set_cookie))
        .fallback(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}
