//! ANEF's supporting-document upload (`POST /api/anf/pieces-justificatives`, multipart field
//! `fichier`): type checks on both the declared content type and the magic bytes, a size limit,
//! and the `upload: reject` fault.
//!
//! The body is read with a hard cap and parsed by a small multipart reader written here (axum's
//! `multipart` feature is off in this crate's manifest, and the format needed is tiny). Nothing
//! uploaded is kept: only counters move.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::json;

use super::pages::json;
use super::portal::{logged_in, unauthorized};
use super::{Shared, UploadMode};

pub(crate) const PATH: &str = "/api/anf/pieces-justificatives";

/// 2 MB per file. ASSUMPTION: the real limit is not documented; a commercial page claims 2 MB
/// per file (10 MB for some procedures). Adjust here if better information appears.
pub(crate) const MAX_FILE: usize = 2 * 1024 * 1024;
/// What is buffered at most: one maximal file plus generous room for the multipart framing and
/// the `type_piece` field.
const MAX_BODY: usize = MAX_FILE + 64 * 1024;
/// Larger bodies are still read (and discarded) up to this size so that the client, still
/// sending, gets the 413 instead of a broken pipe; beyond it the answer comes at once.
const DRAIN_MAX: usize = 16 * 1024 * 1024;

pub(crate) const MSG_FORMAT: &str = "Le format du fichier n'est pas accepté. Formats acceptés : PDF, JPG, PNG.";
pub(crate) const MSG_SIZE: &str = "Le fichier dépasse la taille maximale autorisée (2 Mo).";
pub(crate) const MSG_FAILED: &str = "Le dépôt de la pièce a échoué. Veuillez réessayer ultérieurement.";
const MSG_NO_FILE: &str = "Aucun fichier n'a été transmis.";

fn rejected(status: StatusCode, message: &str) -> Response {
    json(status, json!({"statut": "REJETE", "message": message}))
}

pub(crate) async fn upload(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    if !logged_in(&shared, &headers) {
        return unauthorized();
    }
    let Some(boundary) = boundary(&headers) else {
        return rejected(StatusCode::BAD_REQUEST, MSG_NO_FILE);
    };
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let outcome = if declared_len.is_some_and(|n| n > DRAIN_MAX as u64) {
        Read::TooLarge
    } else {
        read_capped(body).await
    };
    let reject = |status, message| {
        shared.count(|c| c.uploads_rejected += 1);
        rejected(status, message)
    };
    let bytes = match outcome {
        Read::Complete(b) => b,
        Read::TooLarge => return reject(StatusCode::PAYLOAD_TOO_LARGE, MSG_SIZE),
        Read::Failed => return rejected(StatusCode::BAD_REQUEST, MSG_NO_FILE),
    };
    if shared.state().upload == UploadMode::Reject {
        return reject(StatusCode::UNPROCESSABLE_ENTITY, MSG_FAILED);
    }
    let parts = parse_multipart(&bytes, &boundary).unwrap_or_default();
    let Some(file) = parts.iter().find(|p| p.name == "fichier" && p.filename.is_some()) else {
        return rejected(StatusCode::BAD_REQUEST, MSG_NO_FILE);
    };
    if file.data.len() > MAX_FILE {
        return reject(StatusCode::PAYLOAD_TOO_LARGE, MSG_SIZE);
    }
    if !accepted_type(file.content_type.as_deref(), file.data) {
        return reject(StatusCode::BAD_REQUEST, MSG_FORMAT);
    }
    shared.count(|c| c.uploads_accepted += 1);
    json(
        StatusCode::CREATED,
        json!({
            "statut": "DEPOSE",
            "id": uuid::Uuid::new_v4().to_string(),
            "taille": file.data.len()
        }),
    )
}

/// PDF, JPEG or PNG, where the declared type and the first bytes agree.
pub(crate) fn accepted_type(declared: Option<&str>, data: &[u8]) -> bool {
    let declared = declared.and_then(|t| t.split(';').next()).map(|t| t.trim().to_ascii_lowercase());
    let magic: &[u8] = match declared.as_deref() {
        Some("application/pdf") => b"%PDF",
        Some("image/jpeg") => b"\xFF\xD8\xFF",
        Some("image/png") => b"\x89PNG",
        _ => return false,
    };
    data.starts_with(magic)
}

enum Read {
    Complete(Vec<u8>),
    TooLarge,
    Failed,
}

/// Reads at most MAX_BODY bytes into memory, draining (not keeping) up to DRAIN_MAX.
async fn read_capped(body: Body) -> Read {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Read::Failed;
        };
        total = total.saturating_add(chunk.len());
        if total > DRAIN_MAX {
            return Read::TooLarge;
        }
        if total <= MAX_BODY {
            buf.extend_from_slice(&chunk);
        }
    }
    if total > MAX_BODY {
        Read::TooLarge
    } else {
        Read::Complete(buf)
    }
}

/// The boundary of a `multipart/form-data` request.
fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut parts = ct.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
}

#[derive(Debug)]
pub(crate) struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// Splits a multipart body into parts (RFC 7578). `None` when the framing is broken.
pub(crate) fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let first = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    let mut pos = find(body, first.as_bytes(), 0)? + first.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(pos..)?;
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return None;
        }
        let head_start = pos + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = std::str::from_utf8(body.get(head_start..head_end)?).ok()?;
        let data_start = head_end + 4;
        let data_end = find(body, delim.as_bytes(), data_start)?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body.get(data_start..data_end)?,
        };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                for param in v.split(';').skip(1) {
                    if let Some((pk, pv)) = param.trim().split_once('=') {
                        let pv = pv.trim().trim_matches('"').to_string();
                        match pk.trim() {
                            "name" => part.name = pv,
                            "filename" => part.filename = Some(pv),
                            _ => {}
                        }
                    }
                }
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(v.trim().to_string());
            }
        }
        parts.push(part);
        pos = data_end + delim.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parses_fields_and_files() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"type_piece\"\r\n\r\njustificatif_domicile\r\n--XyZ\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n\r\nx\r\n--XyZ--\r\n";
        let parts = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "type_piece");
        assert_eq!(parts[0].data, b"justificatif_domicile");
        assert_eq!(parts[1].filename.as_deref(), Some("a.pdf"));
        assert_eq!(parts[1].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(parts[1].data, b"%PDF-1.4\r\n\r\nx");
        assert!(parse_multipart(b"--XyZ\r\nbroken", "XyZ").is_none());
    }

    #[test]
    fn type_needs_declaration_and_magic() {
        assert!(accepted_type(Some("application/pdf"), b"%PDF-1.7"));
        assert!(accepted_type(Some("image/jpeg"), b"\xFF\xD8\xFF\xE0"));
        assert!(accepted_type(Some("IMAGE/PNG; x=y"), b"\x89PNG\r\n"));
        assert!(!accepted_type(Some("application/pdf"), b"\x89PNG"));
        assert!(!accepted_type(Some("text/plain"), b"%PDF"));
        assert!(!accepted_type(None, b"%PDF"));
    }
}
