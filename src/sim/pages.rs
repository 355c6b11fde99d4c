//! Small helpers shared by the three sites: HTML responses, escaping, cookies, random tokens and
//! slot times.
//!
//! Pages are built with `format!` rather than a template engine: they are short, and the compiler
//! then checks every placeholder. French messages that probes match on are inserted verbatim
//! (never escaped), so that `body_contains` sees exactly the text the real sites show.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::{Europe::Paris, Tz};
use rand::Rng;

/// Escapes text for HTML content and double-quoted attributes. Apostrophes are left alone on
/// purpose: messages such as « Il n'existe plus… » must appear byte for byte.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// An HTML response with the given status.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// A JSON response with the given status.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// A 302 redirect, optionally setting cookies.
pub(crate) fn redirect(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    add_cookies(&mut resp, cookies);
    resp
}

pub(crate) fn add_cookies(resp: &mut Response, cookies: &[HeaderValue]) {
    for c in cookies {
        resp.headers_mut().append(header::SET_COOKIE, c.clone());
    }
}

/// The value of a request cookie, if sent.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value. Tokens are hex, so the value never needs quoting.
pub(crate) fn set_cookie(name: &str, value: &str, path: &str, http_only: bool) -> HeaderValue {
    let mut s = format!("{name}={value}; Path={path}; SameSite=Lax");
    if http_only {
        s.push_str("; HttpOnly");
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// A random 128-bit token in hex, for session ids, CSRF tokens and Keycloak codes.
pub(crate) fn token() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// The `n` first free slots from the day after tomorrow, Paris working hours (09:00-12:00,
/// 13:30-16:30, Monday to Friday), `step` minutes apart. Deterministic for a given day so that
/// two pages fetched in a row agree.
pub(crate) fn slot_times(n: usize, step_minutes: u32, now: DateTime<Utc>) -> Vec<DateTime<Tz>> {
    let mut out = Vec::with_capacity(n);
    let mut day: NaiveDate = now.with_timezone(&Paris).date_naive() + Days::new(2);
    let step = step_minutes.max(5);
    while out.len() < n {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            for (start, end) in [(9 * 60, 12 * 60), (13 * 60 + 30, 16 * 60 + 30)] {
                let mut m = start;
                while m < end && out.len() < n {
                    let naive = day.and_hms_opt(m / 60, m % 60, 0);
                    if let Some(t) = naive.and_then(|nt| Paris.from_local_datetime(&nt).single()) {
                        out.push(t);
                    }
                    m += step;
                }
            }
        }
        match day.checked_add_days(Days::new(1)) {
            Some(d) => day = d,
            None => break,
        }
    }
    out
}

/// French short weekday, as on the booking calendars (« lun. 07/12 »).
pub(crate) fn day_label(t: &DateTime<Tz>) -> String {
    let d = match t.weekday() {
        Weekday::Mon => "lun.",
        Weekday::Tue => "mar.",
        Weekday::Wed => "mer.",
        Weekday::Thu => "jeu.",
        Weekday::Fri => "ven.",
        Weekday::Sat => "sam.",
        Weekday::Sun => "dim.",
    };
    format!("{d} {}", t.format("%d/%m"))
}

/// A plain 404 page, in the style of the site's web server.
pub(crate) fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Page introuvable</title></head>\n\
         <body><h1>Page introuvable</h1><p>La page demandée n'existe pas ou a été déplacée.</p></body></html>\n"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_apostrophes() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c'");
    }

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; eZSESSID=abc; b=2"));
        assert_eq!(cookie(&h, "eZSESSID").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn slots_are_future_working_hours() {
        let now = Utc::now();
        let slots = slot_times(30, 30, now);
        assert_eq!(slots.len(), 30);
        for s in &slots {
            assert!(s.with_timezone(&Utc) > now);
            assert!(!matches!(s.weekday(), Weekday::Sat | Weekday::Sun));
            let h = s.format("%H:%M").to_string();
            assert!(("09:00".."16:30").contains(&h.as_str()), "{h}");
        }
        assert!(slots.windows(2).all(|w| w[0] < w[1]));
    }
}
