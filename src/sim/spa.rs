//! ANEF's single-page application in the simulator: the shell page under `/particuliers/`, the
//! app's own script and styles (served from the binary), the app's first API call and the
//! in-app account creation (`#/espace-personnel/connexion-inscription`).
//!
//! The real portal is an Angular app whose screens are rendered in the browser from JSON APIs;
//! account creation happens inside the app (e-mail, e-mail confirmation, foreigner number), not
//! on a Keycloak page. The script here (assets/anef-app.js) is the simulator's own: small, no
//! framework, no download. The shell carries the home view as a `<template>` that the script
//! instantiates: a browser shows (and `document.querySelector` finds) only what the script
//! rendered, while an HTTP probe still reads the links in the shell's markup, as it did when
//! the simulator's home page was server-rendered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::pages::{esc, html, json};
use super::portal::{login_url, EMAIL_SENT};
use super::{AppMode, Shared};

/// The app's script, served at `/particuliers/main.js`.
const APP_JS: &str = include_str!("assets/anef-app.js");

/// The app's styles, served at `/particuliers/styles.css`.
const APP_CSS: &str = "body{font-family:Marianne,Arial,sans-serif;margin:0;color:#161616}\
.fr-header{display:flex;gap:2rem;align-items:center;padding:1rem 2rem;border-bottom:1px solid #ddd}\
.fr-btn{background:#000091;color:#fff;padding:.5rem 1rem;text-decoration:none;border:0}\
main{padding:1rem 2rem}.alert-danger{background:#ffe9e9;color:#ce0500;border-left:4px solid #ce0500;padding:1rem}\
.fr-alert--success{background:#b8fec9;padding:1rem}.fr-error-text{color:#ce0500}\
.app-loader{display:flex;gap:1rem;align-items:center;justify-content:center;height:80vh}\
.spinner{width:2rem;height:2rem;border:4px solid #ddd;border-top-color:#000091;border-radius:50%;animation:spin 1s linear infinite}\
@keyframes spin{to{transform:rotate(360deg)}}label{display:block;margin-top:1rem}";

/// What `main.js` becomes under the `app: script_error` fault: it throws before rendering.
const BROKEN_PRELUDE: &str = "// Simulated fault (app: script_error): the bundle fails before rendering anything.\n\
anefBootstrap.start();\n";

/// How long the app's first API call waits under `app: spinner` (the connection is dropped
/// earlier when the browser goes away or the simulator stops).
const SPINNER_HANG: Duration = Duration::from_secs(600);

/// `GET /particuliers/`: the app's shell.
pub(crate) async fn shell(headers: HeaderMap) -> Response {
    let login = esc(&login_url(&headers));
    html(
        StatusCode::OK,
        format!(
            r#"<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>ANEF - Administration numérique pour les étrangers en France</title>
<base href="/particuliers/">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="styles.css">
</head>
<body>
<app-root></app-root>
<template id="vue-accueil">
<header class="fr-header" role="banner">
  <div class="fr-header__brand"><p class="fr-logo">Ministère<br>de l'Intérieur</p></div>
  <div class="fr-header__service"><p class="fr-header__service-title">Administration numérique pour les étrangers en France</p></div>
  <nav class="fr-header__tools">
    <a id="btn-se-connecter" class="fr-btn" href="{login}">SE CONNECTER</a>
  </nav>
</header>
<main id="main" role="main">
  <h1>Bienvenue sur le site de l'administration numérique pour les étrangers en France</h1>
  <p>Ce site vous permet d'effectuer vos démarches en ligne : validation de VLS-TS, demande ou renouvellement de titre de séjour, document de circulation, naturalisation, autorisation de travail, changement d'adresse.</p>
  <p class="fr-callout"><a id="btn-creer-compte" href="/particuliers/#/espace-personnel/connexion-inscription">PREMIÈRE VISITE ? CRÉER VOTRE COMPTE</a></p>
</main>
</template>
<noscript>Veuillez activer JavaScript pour utiliser ce site.</noscript>
<script src="main.js" defer></script>
</body>
</html>
"#
        ),
    )
}

fn asset(content_type: &'static str, body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response()
}

/// `GET /particuliers/main.js`.
pub(crate) async fn main_js(State(shared): State<Arc<Shared>>) -> Response {
    let body = match shared.state().app {
        AppMode::ScriptError => format!("{BROKEN_PRELUDE}{APP_JS}"),
        AppMode::Normal | AppMode::Spinner => APP_JS.to_string(),
    };
    asset("text/javascript; charset=utf-8", body)
}

/// `GET /particuliers/styles.css`.
pub(crate) async fn styles() -> Response {
    asset("text/css; charset=utf-8", APP_CSS.to_string())
}

/// `GET /api/public/parametres`: the app's first call (simulator-specific name; the real app's
/// start-up calls are not public). Never answers under `app: spinner`.
pub(crate) async fn parametres(State(shared): State<Arc<Shared>>) -> Response {
    if shared.state().app == AppMode::Spinner {
        tokio::time::sleep(SPINNER_HANG).await;
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }
    json(StatusCode::OK, json!({"maintenance": false, "langues": ["fr", "en"]}))
}

/// The per-field errors of the app's identification form, keyed by the form's input ids.
pub(crate) fn signup_errors(form: &HashMap<String, String>) -> HashMap<&'static str, &'static str> {
    let get = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
    let mut errors = HashMap::new();
    let email = get("email");
    if !super::portal::valid_email(email) {
        errors.insert("email", "Veuillez indiquer une adresse électronique valide.");
    } else if get("email_confirmation") != email {
        errors.insert("emailConfirmation", "Les adresses électroniques ne correspondent pas.");
    }
    let number = get("numero_etranger");
    if number.len() != 10 || !number.chars().all(|c| c.is_ascii_digit()) {
        errors.insert("numeroEtranger", "Le numéro étranger comporte 10 chiffres (exemple : 9999999999).");
    }
    errors
}

/// `POST /api/usager/inscription` (JSON): the app's account creation. Nothing is kept but a
/// counter; the answer is the confirmation the app shows.
pub(crate) async fn inscription(State(shared): State<Arc<Shared>>, body: Option<Json<HashMap<String, serde_json::Value>>>) -> Response {
    let form: HashMap<String, String> = body
        .map(|Json(m)| m.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect())
        .unwrap_or_default();
    let errors = signup_errors(&form);
    if !errors.is_empty() {
        return json(StatusCode::UNPROCESSABLE_ENTITY, json!({"erreurs": errors}));
    }
    shared.count(|c| c.accounts_created += 1);
    json(
        StatusCode::CREATED,
        json!({"message": format!("{EMAIL_SENT} à l'adresse indiquée. Cliquez sur le lien qu'il contient pour choisir votre mot de passe.")}),
    )
}
