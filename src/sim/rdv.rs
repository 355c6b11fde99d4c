//! RDV-Préfecture imitation: the conditions page (CSRF, and the CaptchEtat CAPTCHA on the same
//! form, never solvable), and the slot page `creneau` with its embedded JSON
//! (`datePremiereDispo`, `dateMin`, `dateMax`).
//!
//! The real service puts its CAPTCHA on the conditions page itself (public scripts that use it
//! load `…/cgu/` and find `#captchaFR_CaptchaImage` and `#captchaFormulaireExtInput` there; a
//! wrong code comes back as `…/cgu/?error=invalidCaptcha`), and vigie stops there. The
//! simulator can turn it off (`captcha: false`) so that tests and the demo can exercise slot
//! extraction on the `creneau` page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Form;
use chrono::{Days, Duration as ChronoDuration, Utc};
use chrono_tz::Europe::Paris;
use serde_json::json;

use super::pages::{add_cookies, cookie, day_label, esc, html, not_found, redirect, set_cookie, slot_times, token};
use super::sessions::RdvSession;
use super::{lock, RouteKey, Shared};

pub(crate) const NO_SLOT: &str = "Aucun créneau disponible";
pub(crate) const CAPTCHA_TEXT: &str = "Saisissez le code de sécurité affiché dans l'image";
/// The second line of the empty slot page.
pub(crate) const RETRY_LATER: &str = "Veuillez réessayer ultérieurement.";
const SESSION_INVALID: &str = "Votre session a expiré ou est invalide. Veuillez recommencer votre démarche.";
const CAPTCHA_INVALID: &str = "Le code saisi ne correspond pas à l'image. Veuillez réessayer.";
const COOKIE: &str = "RDVPREF_SESSID";
/// The CaptchEtat API the widget loads its image from.
const CAPTCHA_API: &str = "/rdvpref/api/captchetat";
/// Minutes between two slots, and duration of one appointment.
const SLOT_MINUTES: u32 = 20;

pub(crate) fn routes() -> Vec<(RouteKey, &'static str, MethodRouter<Arc<Shared>>)> {
    vec![
        (
            RouteKey::Cgu,
            "/rdvpref/reservation/demarche/{id}/cgu/",
            get(cgu_page).post(cgu_submit),
        ),
        (RouteKey::Captcha, CAPTCHA_API, get(captcha_image)),
        (RouteKey::Creneau, "/rdvpref/reservation/demarche/{id}/creneau/", get(creneau_page)),
    ]
}

fn url(id: u32, page: &str) -> String {
    format!("/rdvpref/reservation/demarche/{id}/{page}/")
}

fn layout(title: &str, content: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>{title} - RDV-Préfecture</title>
</head>
<body>
<header class="fr-header" role="banner">
  <p class="fr-logo">Ministère<br>de l'Intérieur</p>
  <p class="fr-header__service-title">RDV-Préfecture</p>
  <p class="fr-header__service-tagline">Prise de rendez-vous en préfecture</p>
</header>
<main id="main" class="fr-container" role="main">
{content}
</main>
</body>
</html>
"#
    )
}

fn alert(message: &str) -> String {
    format!("<div class=\"fr-alert fr-alert--error\"><p>{message}</p></div>\n")
}

/// The session with CGU accepted for démarche `id`, if any.
fn passed_cgu(shared: &Shared, headers: &HeaderMap, id: u32) -> bool {
    cookie(headers, COOKIE).is_some_and(|sid| lock(&shared.sessions).rdv.get(&sid).is_some_and(|s| s.cgu.contains(&id)))
}

fn session_invalid(id: u32) -> Response {
    redirect(&format!("{}?errorSessionInvalide", url(id, "cgu")), &[])
}

async fn cgu_page(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return not_found();
    };
    let existing = cookie(&headers, COOKIE).and_then(|sid| lock(&shared.sessions).rdv.get(&sid).map(|s| s.csrf.clone()));
    let (csrf, set) = match existing {
        Some(csrf) => (csrf, None),
        None => {
            let (sid, csrf) = (token(), token());
            lock(&shared.sessions).rdv.insert(
                sid.clone(),
                RdvSession {
                    csrf: csrf.clone(),
                    ..RdvSession::default()
                },
            );
            (csrf, Some(set_cookie(COOKIE, &sid, "/rdvpref", true)))
        }
    };
    let error = if q.contains_key("errorSessionInvalide") {
        alert(SESSION_INVALID)
    } else if q.get("error").map(String::as_str) == Some("invalidCaptcha") {
        alert(CAPTCHA_INVALID)
    } else {
        String::new()
    };
    let captcha = if shared.state().captcha { captcha_widget() } else { String::new() };
    let action = url(id, "cgu");
    let csrf = esc(&csrf);
    let mut resp = html(
        StatusCode::OK,
        layout(
            "Conditions générales d'utilisation",
            &format!(
                r#"<p class="fr-text--sm">Étape 1 sur 6</p>
<h1>Conditions générales d'utilisation</h1>
{error}<div class="cgu-text">
<p>Le service RDV-Préfecture permet de prendre un rendez-vous en préfecture ou en sous-préfecture pour les démarches qui le nécessitent.</p>
<p>Un rendez-vous est personnel. Toute réservation automatisée ou revente de rendez-vous est interdite et peut entraîner l'annulation des rendez-vous concernés.</p>
<p>Les données saisies sont traitées par le ministère de l'Intérieur pour la seule gestion des rendez-vous.</p>
</div>
<form id="cgu-form" method="post" action="{action}">
<input type="hidden" name="csrf" value="{csrf}">
{captcha}<button type="submit" class="fr-btn q-btn q-btn--standard q-btn--actionable" name="accepter">Suivant</button>
</form>"#
            ),
        ),
    );
    add_cookies(&mut resp, set.as_slice());
    resp
}

/// The CaptchEtat widget as the live CGU page carries it: the element, its image (served by
/// the CAPTCHA API route), the answer field and the hidden id.
fn captcha_widget() -> String {
    let uuid = uuid::Uuid::new_v4();
    format!(
        r#"<rdv-captchetat id="captcha" data-captcha-type="captchaFR" data-url-api="{CAPTCHA_API}" data-uuid="{uuid}">
<img id="captchaFR_CaptchaImage" alt="Code de sécurité à recopier" src="{CAPTCHA_API}?get=image&amp;c=captchaFR&amp;t={uuid}">
</rdv-captchetat>
<label class="fr-label" for="captchaFormulaireExtInput">{CAPTCHA_TEXT}</label>
<input type="text" class="fr-input" id="captchaFormulaireExtInput" name="captchaUsercode" autocomplete="off">
<input type="hidden" name="captchaId" value="{uuid}">
"#
    )
}

/// `POST …/cgu/`: with the CAPTCHA on, whatever is typed fails (the simulator never lets a
/// CAPTCHA be "solved"); without it, the conditions are accepted and the slots follow.
async fn cgu_submit(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return not_found();
    };
    let captcha = shared.state().captcha;
    let ok = cookie(&headers, COOKIE).is_some_and(|sid| {
        let mut sessions = lock(&shared.sessions);
        match sessions.rdv.get_mut(&sid) {
            Some(s) if form.get("csrf") == Some(&s.csrf) => {
                if !captcha {
                    s.cgu.insert(id);
                }
                true
            }
            _ => false,
        }
    });
    if !ok {
        return session_invalid(id);
    }
    if captcha {
        return redirect(&format!("{}?error=invalidCaptcha", url(id, "cgu")), &[]);
    }
    redirect(&url(id, "creneau"), &[])
}

/// `GET /rdvpref/api/captchetat`: the CAPTCHA image, a few distorted letters (SVG), so that a
/// screenshot shows where a person would take over.
async fn captcha_image() -> Response {
    let code: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .take(6)
        .collect();
    let letters: String = code
        .to_uppercase()
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let (x, rot) = (14 + i * 26, if i % 2 == 0 { -12 } else { 10 });
            format!("<text x=\"{x}\" y=\"38\" transform=\"rotate({rot} {x} 30)\">{c}</text>")
        })
        .collect();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"180\" height=\"56\" viewBox=\"0 0 180 56\">\
<rect width=\"180\" height=\"56\" fill=\"#e8ecf4\"/><path d=\"M0 40 C40 10 80 50 180 18\" stroke=\"#7a869a\" stroke-width=\"2\" fill=\"none\"/>\
<g font-family=\"monospace\" font-size=\"28\" font-weight=\"bold\" fill=\"#1e2a4a\">{letters}</g></svg>"
    );
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response()
}

async fn creneau_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return not_found();
    };
    if !passed_cgu(&shared, &headers, id) {
        return session_invalid(id);
    }
    // With the CAPTCHA on, no session ever passes the conditions page: see `cgu_submit`.
    let state = shared.state();
    let now = Utc::now();
    let today = now.with_timezone(&Paris).date_naive();
    let slots = slot_times(state.rdv_slots as usize, SLOT_MINUTES, now);
    let fmt = "%Y-%m-%dT%H:%M:%S%:z";
    let creneaux: Vec<serde_json::Value> = slots
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "id": i + 1,
                "debut": t.format(fmt).to_string(),
                "fin": (*t + ChronoDuration::minutes(SLOT_MINUTES.into())).format(fmt).to_string(),
            })
        })
        .collect();
    let data = json!({
        // As on the live site (vertigo-planning's fields): an empty string when nothing is offered.
        "critere": {
            "idDemarche": id,
            "dateMin": today.format("%Y-%m-%d").to_string(),
            "dateMax": today.checked_add_days(Days::new(90)).unwrap_or(today).format("%Y-%m-%d").to_string(),
            "datePremiereDispo": slots.first().map(|t| t.format(fmt).to_string()).unwrap_or_default(),
        },
        "creneaux": creneaux,
    });
    // `</` cannot appear in generated values, but escaping it keeps the script block safe anyway.
    let data = data.to_string().replace("</", "<\\/");
    let visible = if slots.is_empty() {
        format!("<div class=\"fr-alert fr-alert--info\" id=\"aucun-creneau\"><h2>{NO_SLOT}</h2><p>{RETRY_LATER}</p></div>")
    } else {
        let items: String = slots
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "<div class=\"row cellule justify-center radio-card\"><input type=\"radio\" name=\"creneau\" id=\"creneau-{n}\" value=\"{n}\"><label for=\"creneau-{n}\">{} {}</label></div>\n",
                    day_label(t),
                    t.format("%H:%M"),
                    n = i + 1
                )
            })
            .collect();
        format!("<div id=\"creneaux\" class=\"creneaux\">\n{items}</div>")
    };
    html(
        StatusCode::OK,
        layout(
            "Choix du créneau",
            &format!("<p class=\"fr-text--sm\">Étape 2 sur 6</p>\n<h1>Choisissez votre créneau</h1>\n{visible}\n<script id=\"app-data\" type=\"application/json\">{data}</script>"),
        ),
    )
}
