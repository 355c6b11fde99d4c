//! RDV-Préfecture imitation: CGU page with CSRF, the CaptchEtat page (never solvable), and the
//! slot page `creneau` with its embedded JSON (`datePremiereDispo`, `dateMin`, `dateMax`).
//!
//! The real service always puts a CAPTCHA before the slots, and vigie stops there. The
//! simulator can turn it off (`captcha: false`) so that tests and the demo can exercise slot
//! extraction on the `creneau` page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::Form;
use chrono::{Days, Duration as ChronoDuration, Utc};
use chrono_tz::Europe::Paris;
use serde_json::json;

use super::pages::{add_cookies, cookie, day_label, esc, html, not_found, redirect, set_cookie, slot_times, token};
use super::sessions::RdvSession;
use super::{lock, RouteKey, Shared};

pub(crate) const NO_SLOT: &str = "Aucun créneau disponible";
pub(crate) const CAPTCHA_TEXT: &str = "Veuillez recopier les caractères de l'image";
const SESSION_INVALID: &str = "Votre session a expiré ou est invalide. Veuillez recommencer votre démarche.";
const CAPTCHA_INVALID: &str = "Le code saisi ne correspond pas à l'image. Veuillez réessayer.";
const COOKIE: &str = "RDVPREF_SESSID";
/// Minutes between two slots, and duration of one appointment.
const SLOT_MINUTES: u32 = 20;

pub(crate) fn routes() -> Vec<(RouteKey, &'static str, MethodRouter<Arc<Shared>>)> {
    vec![
        (
            RouteKey::Cgu,
            "/rdvpref/reservation/demarche/{id}/cgu/",
            get(cgu_page).post(cgu_submit),
        ),
        (
            RouteKey::Captcha,
            "/rdvpref/reservation/demarche/{id}/captcha/",
            get(captcha_page).post(captcha_submit),
        ),
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
    } else {
        String::new()
    };
    let action = url(id, "cgu");
    let csrf = esc(&csrf);
    let mut resp = html(
        StatusCode::OK,
        layout(
            "Conditions générales d'utilisation",
            &format!(
                r#"<h1>Conditions générales d'utilisation</h1>
{error}<div class="cgu-text">
<p>Le service RDV-Préfecture permet de prendre un rendez-vous en préfecture ou en sous-préfecture pour les démarches qui le nécessitent.</p>
<p>Un rendez-vous est personnel. Toute réservation automatisée ou revente de rendez-vous est interdite et peut entraîner l'annulation des rendez-vous concernés.</p>
<p>Les données saisies sont traitées par le ministère de l'Intérieur pour la seule gestion des rendez-vous.</p>
</div>
<form id="cgu-form" method="post" action="{action}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" class="fr-btn" name="accepter">J'accepte les conditions générales d'utilisation</button>
</form>"#
            ),
        ),
    );
    add_cookies(&mut resp, set.as_slice());
    resp
}

async fn cgu_submit(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return not_found();
    };
    let ok = cookie(&headers, COOKIE).is_some_and(|sid| {
        let mut sessions = lock(&shared.sessions);
        match sessions.rdv.get_mut(&sid) {
            Some(s) if form.get("csrf") == Some(&s.csrf) => {
                s.cgu.insert(id);
                true
            }
            _ => false,
        }
    });
    if !ok {
        return session_invalid(id);
    }
    let next = if shared.state().captcha { "captcha" } else { "creneau" };
    redirect(&url(id, next), &[])
}

async fn captcha_page(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return not_found();
    };
    if !passed_cgu(&shared, &headers, id) {
        return session_invalid(id);
    }
    if !shared.state().captcha {
        return redirect(&url(id, "creneau"), &[]);
    }
    let error = if q.get("error").map(String::as_str) == Some("invalidCaptcha") {
        alert(CAPTCHA_INVALID)
    } else {
        String::new()
    };
    let action = url(id, "captcha");
    let uuid = uuid::Uuid::new_v4();
    html(
        StatusCode::OK,
        layout(
            "Vérification",
            &format!(
                r#"<h1>Vérification de sécurité</h1>
{error}<form id="captcha-form" method="post" action="{action}">
<rdv-captchetat id="captcha" data-captcha-type="captchaFR" data-url-api="/rdvpref/api/captchetat" data-uuid="{uuid}"></rdv-captchetat>
<p class="fr-hint-text">{CAPTCHA_TEXT}</p>
<input type="text" class="fr-input" id="captchaUsercode" name="captchaUsercode" autocomplete="off">
<input type="hidden" name="captchaUuid" value="{uuid}">
<button type="submit" class="fr-btn">Valider</button>
</form>"#
            ),
        ),
    )
}

/// Whatever is typed, the CAPTCHA fails: the simulator never lets a CAPTCHA be "solved".
async fn captcha_submit(Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return not_found();
    };
    redirect(&format!("{}?error=invalidCaptcha", url(id, "captcha")), &[])
}

async fn creneau_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return not_found();
    };
    if !passed_cgu(&shared, &headers, id) {
        return session_invalid(id);
    }
    let state = shared.state();
    if state.captcha {
        // The CAPTCHA was never passed (it cannot be).
        return redirect(&url(id, "captcha"), &[]);
    }
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
        "datePremiereDispo": slots.first().map(|t| t.format(fmt).to_string()),
        "dateMin": today.format("%Y-%m-%d").to_string(),
        "dateMax": today.checked_add_days(Days::new(90)).unwrap_or(today).format("%Y-%m-%d").to_string(),
        "creneaux": creneaux,
    });
    // `</` cannot appear in generated values, but escaping it keeps the script block safe anyway.
    let data = data.to_string().replace("</", "<\\/");
    let visible = if slots.is_empty() {
        format!("<div class=\"fr-alert fr-alert--info\" id=\"aucun-creneau\"><p>{NO_SLOT}</p></div>")
    } else {
        let items: String = slots
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "<li><button type=\"button\" class=\"fr-btn creneau\" data-id=\"{}\">{} {}</button></li>",
                    i + 1,
                    day_label(t),
                    t.format("%H:%M")
                )
            })
            .collect();
        format!("<ul id=\"creneaux\" class=\"creneaux\">{items}</ul>")
    };
    html(
        StatusCode::OK,
        layout(
            "Choix du créneau",
            &format!("<h1>Choisissez votre créneau</h1>\n{visible}\n<script id=\"app-data\" type=\"application/json\">{data}</script>"),
        ),
    )
}
