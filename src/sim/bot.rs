//! RDV-Préfecture's front protection in the simulator: an Imperva-style block page or a
//! Cloudflare Turnstile-style challenge served instead of the service (`bot_protection`).
//!
//! The real RDV-Préfecture sets Imperva cookies (`incap_ses_*`) and a Cloudflare Turnstile
//! challenge has also been reported in front of it. The pages here carry the fixed markers of
//! the vendors' pages (the Incapsula incident text and resource script; Cloudflare's
//! `cf-mitigated: challenge` header and challenge-platform script) so that vigie's built-in
//! recognition can be tested; nothing in them can be "solved".

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::pages::{esc, html, token};
use super::BotProtection;

/// What the protection answers for `uri` under `mode` (`Off` never reaches here; it gets the
/// block page): the vendor's own resources (the block page's iframe and scripts), or the block
/// or challenge page instead of the service.
pub(crate) fn page(mode: BotProtection, uri: &Uri) -> Response {
    let query = uri.query().unwrap_or_default();
    match (mode, uri.path()) {
        (BotProtection::Off | BotProtection::Imperva, "/_Incapsula_Resource") if query.starts_with("CWUDNSAI") => {
            let incident = query.split("incident_id=").nth(1).unwrap_or("0-0");
            imperva_frame(&esc(incident))
        }
        (_, "/_Incapsula_Resource") => script(),
        (_, p) if p.starts_with("/cdn-cgi/challenge-platform/") => script(),
        (BotProtection::Turnstile, _) => turnstile(),
        (BotProtection::Off | BotProtection::Imperva, _) => imperva(),
    }
}

/// The vendors' scripts: nothing that could be "solved".
fn script() -> Response {
    let mut resp = (StatusCode::OK, "/* vigie simulator: protection script */\n").into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/javascript"));
    resp
}

/// The document inside the block page's iframe: what a person actually reads.
fn imperva_frame(incident: &str) -> Response {
    html(
        StatusCode::OK,
        format!(
            "<html><head><meta name=\"ROBOTS\" content=\"NOINDEX, NOFOLLOW\"><title>Request unsuccessful</title></head>\
<body style=\"font-family:Arial,sans-serif;margin:2rem\"><h1>Request unsuccessful.</h1>\
<p>Incapsula incident ID: {incident}</p></body></html>"
        ),
    )
}

fn imperva() -> Response {
    let incident = format!("{}-{}", &token()[..12], &token()[..8]);
    let mut resp = html(
        StatusCode::FORBIDDEN,
        format!(
            "<html style=\"height:100%\"><head><meta name=\"ROBOTS\" content=\"NOINDEX, NOFOLLOW\">\
<script src=\"/_Incapsula_Resource?SWJIYLWA=5074a744e2e3d891814e9a2dace20bd4,719d34d31c8e3a6e6fffd425f7e032f3\"></script></head>\
<body style=\"margin:0px;height:100%\"><iframe id=\"main-iframe\" src=\"/_Incapsula_Resource?CWUDNSAI=23&amp;incident_id={incident}\" \
frameborder=\"0\" width=\"100%\" height=\"100%\">Request unsuccessful. Incapsula incident ID: {incident}</iframe></body></html>"
        ),
    );
    let cookie = format!(
        "incap_ses_1234_567890={}; path=/; Domain=.rdv-prefecture.interieur.gouv.fr",
        token()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp.headers_mut().insert("x-cdn", HeaderValue::from_static("Imperva"));
    resp
}

fn turnstile() -> Response {
    let mut resp = html(
        StatusCode::FORBIDDEN,
        "<!DOCTYPE html><html lang=\"fr\"><head><title>Un instant…</title><meta charset=\"UTF-8\">\
<meta name=\"robots\" content=\"noindex,nofollow\"></head><body>\
<div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">\
<h1 class=\"zone-name-title h1\">www.rdv-prefecture.interieur.gouv.fr</h1>\
<p id=\"challenge-body-text\">Vérification que vous êtes un humain. Cela peut prendre quelques secondes.</p>\
<div id=\"challenge-stage\"><div class=\"cf-turnstile\" data-sitekey=\"0x4AAAAAAASIM\"></div></div>\
</div></div>\
<script>(function(){window._cf_chl_opt={cvId:'3',cZone:'www.rdv-prefecture.interieur.gouv.fr',cType:'managed'};\
var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1';\
document.getElementsByTagName('head')[0].appendChild(a);}());</script></body></html>"
            .to_string(),
    );
    resp.headers_mut().insert("cf-mitigated", HeaderValue::from_static("challenge"));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    resp
}
