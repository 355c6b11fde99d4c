//! The old eZ Publish booking module of prefecture websites: `/booking/create/{id}/{step}`
//! (conditions, counter, week calendar) and its AJAX calendar under `/ezjscore/call/…`.
//!
//! Any numeric form id works the same. The session (cookie `eZSESSID`) carries the CSRF token
//! and whether the conditions were accepted; later steps without it go back to step 0, as the
//! real module does when a session has expired.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::Form;
use chrono::{DateTime, Datelike, Days, Utc};
use chrono_tz::Tz;

use super::pages::{add_cookies, cookie, day_label, esc, html, not_found, redirect, set_cookie, slot_times, token};
use super::sessions::BookingSession;
use super::{lock, RouteKey, Shared};

pub(crate) const CONDITION_TEXT: &str =
    "Veuillez cocher la case pour accepter les conditions d'utilisation avant de continuer le processus de prise de rendez-vous.";
pub(crate) const NO_SLOT: &str =
    "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. Veuillez recommencer ultérieurement.";
pub(crate) const SESSION_EXPIRED: &str = "Votre session a expiré. Veuillez recommencer votre demande de rendez-vous.";
const NO_COUNTER: &str = "Veuillez sélectionner un guichet.";

/// The counters (`planning` radio buttons) offered at step 1.
pub(crate) const COUNTERS: [(u32, &str); 2] = [
    (14470, "Guichet 1 - Titres de séjour"),
    (14471, "Guichet 2 - Titres de séjour (renouvellements)"),
];

/// Minutes between two slots of the calendar.
const SLOT_STEP_MINUTES: u32 = 30;

pub(crate) fn routes() -> Vec<(RouteKey, &'static str, MethodRouter<Arc<Shared>>)> {
    vec![
        (
            RouteKey::Conditions,
            "/booking/create/{id}/0",
            get(conditions_page).post(accept_conditions),
        ),
        (RouteKey::Counter, "/booking/create/{id}/1", get(counter_page).post(choose_counter)),
        (RouteKey::Slots, "/booking/create/{id}/3", get(slots_page)),
        // Step 2 was this simulator's slot page before the real module's `/3` was known.
        (RouteKey::Slots, "/booking/create/{id}/2", get(slots_page)),
        (RouteKey::Slots, "/booking/create/{id}/5/{ts}", get(slot_chosen)),
        (RouteKey::Planning, "/ezjscore/call/{call}", get(planning)),
    ]
}

fn step_url(id: u32, step: u32) -> String {
    format!("/booking/create/{id}/{step}")
}

/// The prefecture website's layout around the booking block.
fn layout(title: &str, content: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>{title} - Les services de l'État dans le département</title>
</head>
<body>
<header id="header">
  <div class="bloc-marianne"><p>Liberté<br>Égalité<br>Fraternité</p></div>
  <p class="site-title">PRÉFET DU DÉPARTEMENT</p>
  <p class="site-subtitle">Les services de l'État dans le département</p>
</header>
<main id="contenu">
<div class="booking">
<h1>Demande de rendez-vous : titres de séjour</h1>
{content}
</div>
</main>
<footer id="footer"><p>Préfecture - Service de l'immigration et de l'intégration</p></footer>
</body>
</html>
"#
    )
}

fn errors(messages: &[&str]) -> String {
    if messages.is_empty() {
        return String::new();
    }
    let items: String = messages.iter().map(|m| format!("<li>{m}</li>")).collect();
    format!("<div class=\"message-error\"><ul>{items}</ul></div>\n")
}

/// The visitor's booking session, opened if missing (second value: the cookie to set).
fn session(shared: &Shared, headers: &HeaderMap) -> (String, BookingSession, Option<HeaderValue>) {
    let mut sessions = lock(&shared.sessions);
    if let Some(id) = cookie(headers, "eZSESSID") {
        if let Some(s) = sessions.booking.get(&id) {
            return (id, s.clone(), None);
        }
    }
    let id = token();
    let s = BookingSession {
        token: token(),
        ..BookingSession::default()
    };
    sessions.booking.insert(id.clone(), s.clone());
    let set = set_cookie("eZSESSID", &id, "/", true);
    (id, s, Some(set))
}

fn accepted(shared: &Shared, headers: &HeaderMap, id: u32) -> Option<BookingSession> {
    let sid = cookie(headers, "eZSESSID")?;
    lock(&shared.sessions)
        .booking
        .get(&sid)
        .filter(|s| s.accepted.contains(&id))
        .cloned()
}

fn conditions_form(id: u32, token: &str, messages: &[&str]) -> String {
    let action = step_url(id, 0);
    let token = esc(token);
    let errors = errors(messages);
    layout(
        "Prise de rendez-vous",
        &format!(
            r#"<form id="FormBookingCreate" name="create" method="post" action="{action}">
{errors}<p>Les rendez-vous sont personnels et nominatifs. Présentez-vous au guichet muni de votre convocation et des pièces demandées.</p>
<p><input type="checkbox" name="condition" id="condition" value="on"> <label for="condition">{CONDITION_TEXT}</label></p>
<input type="hidden" name="_token" value="{token}">
<p class="submit"><input type="submit" name="nextButton" value="Effectuer une demande de rendez-vous" class="Bbutton"></p>
</form>"#
        ),
    )
}

fn form_id(raw: &str) -> Option<u32> {
    raw.parse().ok()
}

async fn conditions_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Some(id) = form_id(&id) else {
        return not_found();
    };
    let (_, s, set) = session(&shared, &headers);
    let mut resp = html(StatusCode::OK, conditions_form(id, &s.token, &[]));
    add_cookies(&mut resp, set.as_slice());
    resp
}

async fn accept_conditions(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(id) = form_id(&id) else {
        return not_found();
    };
    let (sid, s, set) = session(&shared, &headers);
    // The session cookie is required; a `_token`, when sent, must match. Public scripts that
    // use the real module post only `condition` and `nextButton`, so a form without the token
    // is accepted, as it must be for the live probe to run unchanged against the simulator.
    let token_ok = set.is_none() && form.get("_token").is_none_or(|t| *t == s.token);
    let message = if !token_ok {
        Some(SESSION_EXPIRED)
    } else if form.get("condition").is_none_or(|v| v.trim().is_empty()) {
        Some(CONDITION_TEXT)
    } else {
        None
    };
    if let Some(m) = message {
        let mut resp = html(StatusCode::OK, conditions_form(id, &s.token, &[m]));
        add_cookies(&mut resp, set.as_slice());
        return resp;
    }
    if let Some(sess) = lock(&shared.sessions).booking.get_mut(&sid) {
        sess.accepted.insert(id);
    }
    redirect(&step_url(id, 1), &[])
}

fn counter_form(id: u32, s: &BookingSession, messages: &[&str]) -> String {
    let action = step_url(id, 1);
    let token = esc(&s.token);
    let errors = errors(messages);
    let radios: String = COUNTERS
        .iter()
        .map(|(n, label)| {
            format!(
                "<p><input type=\"radio\" name=\"planning\" id=\"planning{n}\" value=\"{n}\"> <label for=\"planning{n}\">{label}</label></p>\n"
            )
        })
        .collect();
    layout(
        "Choix du guichet",
        &format!(
            r#"<form id="FormBookingCreate" name="create" method="post" action="{action}">
{errors}<fieldset><legend>Veuillez choisir un guichet</legend>
{radios}</fieldset>
<input type="hidden" name="_token" value="{token}">
<p class="submit"><input type="submit" name="nextButton" value="Etape suivante" class="Bbutton"></p>
</form>"#
        ),
    )
}

async fn counter_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Some(id) = form_id(&id) else {
        return not_found();
    };
    match accepted(&shared, &headers, id) {
        Some(s) => html(StatusCode::OK, counter_form(id, &s, &[])),
        None => redirect(&step_url(id, 0), &[]),
    }
}

async fn choose_counter(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(id) = form_id(&id) else {
        return not_found();
    };
    let Some(s) = accepted(&shared, &headers, id) else {
        return redirect(&step_url(id, 0), &[]);
    };
    let chosen = form
        .get("planning")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| COUNTERS.iter().any(|(n, _)| n == p));
    let Some(planning) = chosen else {
        return html(StatusCode::OK, counter_form(id, &s, &[NO_COUNTER]));
    };
    if let Some(sid) = cookie(&headers, "eZSESSID") {
        if let Some(sess) = lock(&shared.sessions).booking.get_mut(&sid) {
            sess.planning.insert(id, planning);
        }
    }
    redirect(&step_url(id, 3), &[])
}

/// The week calendar fragment (what the AJAX call returns). `week`: `None` for all slots, or an
/// offset from the current week.
fn calendar(id: u32, n: u32, week: Option<i64>, now: DateTime<Utc>) -> String {
    let this_monday = monday(now.with_timezone(&chrono_tz::Europe::Paris).date_naive());
    let slots: Vec<DateTime<Tz>> = slot_times(n as usize, SLOT_STEP_MINUTES, now)
        .into_iter()
        .filter(|t| week.is_none() || week == Some((monday(t.date_naive()) - this_monday).num_days() / 7))
        .collect();
    let Some(first) = slots.first() else {
        return format!("<div id=\"planning-calendar\" class=\"planning\"><p class=\"no-slot\">{NO_SLOT}</p></div>");
    };
    let mut days: Vec<(String, Vec<&DateTime<Tz>>)> = Vec::new();
    for t in &slots {
        let label = day_label(t);
        match days.last_mut() {
            Some((l, v)) if *l == label => v.push(t),
            _ => days.push((label, vec![t])),
        }
    }
    let head: String = days.iter().map(|(l, _)| format!("<th>{l}</th>")).collect();
    let cells: String = days
        .iter()
        .map(|(_, ts)| {
            let links: Vec<String> = ts
                .iter()
                .map(|t| {
                    format!(
                        "<a class=\"slot-free\" href=\"/booking/create/{id}/5/{}\">{}</a>",
                        t.timestamp(),
                        t.format("%H:%M")
                    )
                })
                .collect();
            format!("<td>{}</td>", links.join("<br>"))
        })
        .collect();
    format!(
        "<div id=\"planning-calendar\" class=\"planning\" data-first-free=\"{}\">\n\
         <p class=\"first-free\">Premier créneau disponible : le {}</p>\n\
         <table class=\"calendar\"><thead><tr>{head}</tr></thead>\n<tbody><tr>{cells}</tr></tbody></table>\n</div>",
        first.format("%Y-%m-%d"),
        first.format("%d/%m/%Y"),
    )
}

fn monday(d: chrono::NaiveDate) -> chrono::NaiveDate {
    d.checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday())))
        .unwrap_or(d)
}

async fn slots_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Some(id) = form_id(&id) else {
        return not_found();
    };
    let Some(s) = accepted(&shared, &headers, id) else {
        return redirect(&step_url(id, 0), &[]);
    };
    let n = shared.state().prefecture_slots;
    let action = step_url(id, 3);
    // Without a chosen counter the first one applies, so a probe may skip step 1.
    let planning = s.planning.get(&id).copied().unwrap_or(COUNTERS[0].0);
    let label = COUNTERS.iter().find(|(p, _)| *p == planning).map_or("", |(_, l)| l);
    // With no slot the form holds the bare message, exactly as on the real module.
    let inner = if n == 0 {
        NO_SLOT.to_string()
    } else {
        format!(
            "<p class=\"counter\">{label}</p>\n<div data-url=\"/ezjscore/call/bookingserver::planning::assign::{id}::{planning}::0\">\n{}\n</div>",
            calendar(id, n, None, Utc::now())
        )
    };
    html(
        StatusCode::OK,
        layout(
            "Choix d'une plage horaire",
            &format!("<form id=\"FormBookingCreate\" name=\"create\" method=\"post\" action=\"{action}\">{inner}</form>"),
        ),
    )
}

/// `GET /ezjscore/call/bookingserver::planning::assign::{id}::{ajax_id}::{week}`.
async fn planning(State(shared): State<Arc<Shared>>, Path(call): Path<String>) -> Response {
    let parts: Vec<&str> = call.split("::").collect();
    let (id, week) = match parts.as_slice() {
        ["bookingserver", "planning", "assign", id, _ajax, week] => match (id.parse::<u32>(), week.parse::<i64>()) {
            (Ok(id), Ok(week)) => (id, week),
            _ => return not_found(),
        },
        _ => return not_found(),
    };
    let n = shared.state().prefecture_slots;
    html(StatusCode::OK, calendar(id, n, Some(week), Utc::now()))
}

/// `GET /booking/create/{id}/5/{timestamp}`: a free date was chosen; the real module then asks
/// for a reCAPTCHA (step 6) before any personal data. vigie stops there; so does this page.
async fn slot_chosen(Path((id, ts)): Path<(String, String)>) -> Response {
    let (Some(id), Ok(_)) = (form_id(&id), ts.parse::<i64>()) else {
        return not_found();
    };
    let action = step_url(id, 6);
    html(
        StatusCode::OK,
        layout(
            "Vérification",
            &format!(
                "<form id=\"FormBookingCreate\" name=\"create\" method=\"post\" action=\"{action}\">\n\
                 <p>Veuillez confirmer que vous n'êtes pas un robot.</p>\n\
                 <div class=\"g-recaptcha\" data-sitekey=\"6LsimulateurVigie\"></div>\n\
                 <input type=\"submit\" name=\"nextButton\" value=\"Etape suivante\">\n</form>"
            ),
        ),
    )
}
