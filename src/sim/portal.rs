//! The ANEF portal imitation: the Angular shell page, the Keycloak realm `anef-usagers` (login
//! and account creation with CSRF) and the JSON APIs behind a session cookie.
//!
//! Keycloak and ANEF share one listener here for simplicity (the real SSO lives on
//! sso.anef.dgef.interieur.gouv.fr); the paths are the real ones so that a probe written for
//! the simulator reads like one written for the live portal.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Form;
use serde_json::json;

use super::pages::{add_cookies, cookie, esc, html, json, redirect, set_cookie, token};
use super::sessions::AuthSession;
use super::{lock, RouteKey, Shared, TEST_PASSWORD, TEST_USERNAME};

pub(crate) const HOME: &str = "/particuliers/";
pub(crate) const REALM: &str = "/auth/realms/anef-usagers";
pub(crate) const AUTH: &str = "/auth/realms/anef-usagers/protocol/openid-connect/auth";
pub(crate) const AUTHENTICATE: &str = "/auth/realms/anef-usagers/login-actions/authenticate";
pub(crate) const REGISTRATION: &str = "/auth/realms/anef-usagers/login-actions/registration";
pub(crate) const CLIENT_ID: &str = "anef-usagers";
/// Where a successful login lands (the Angular route of the personal space).
pub(crate) const ESPACE_PERSONNEL: &str = "/particuliers/#/espace-personnel";

pub(crate) const LOGIN_INVALID: &str = "Nom d’utilisateur ou mot de passe invalide, veuillez cliquer sur \"Mot de passe oublié ?\"";
/// The hint under the login form of the `portail-anef` theme.
pub(crate) const LOGIN_HINT: &str =
    "Votre identifiant de connexion est votre numéro d'étranger, si vous n'en n'avez pas, votre adresse mail";
/// The app's account-creation route, where the login page's « Créer votre compte » leads.
pub(crate) const SIGNUP_ROUTE: &str = "/particuliers/#/espace-personnel/connexion-inscription";
pub(crate) const DEMANDE_INVALIDE: &str = "Demande invalide, veuillez réessayer.";
pub(crate) const EMAIL_SENT: &str = "Un e-mail de confirmation vous a été envoyé";

type Params = Query<HashMap<String, String>>;

pub(crate) fn routes() -> Vec<(RouteKey, &'static str, MethodRouter<Arc<Shared>>)> {
    vec![
        (RouteKey::Home, "/", get(|| async { redirect(HOME, &[]) })),
        (RouteKey::Home, HOME, get(super::spa::shell)),
        (RouteKey::App, "/particuliers/main.js", get(super::spa::main_js)),
        (RouteKey::App, "/particuliers/styles.css", get(super::spa::styles)),
        (RouteKey::Api, "/api/public/parametres", get(super::spa::parametres)),
        (RouteKey::Register, "/api/usager/inscription", post(super::spa::inscription)),
        (RouteKey::Login, AUTH, get(login_page)),
        (RouteKey::Login, AUTHENTICATE, post(authenticate)),
        (RouteKey::Register, REGISTRATION, get(registration_page).post(register)),
        (RouteKey::Api, "/api/usager/moi", get(moi)),
        (RouteKey::Api, "/api/notifications", get(notifications)),
        (RouteKey::Status, "/api/sejour/usager/statut/demande_sejour", get(statut)),
        (RouteKey::Upload, super::upload::PATH, post(super::upload::upload)),
    ]
}

/// The login URL as the real app builds it (`theme=portail-anef`, `response_mode=fragment`),
/// with an absolute `redirect_uri` as Keycloak requires.
pub(crate) fn login_url(headers: &HeaderMap) -> String {
    let redirect_uri: String = url::form_urlencoded::byte_serialize(format!("{}/particuliers/#", origin(headers)).as_bytes()).collect();
    format!(
        "{AUTH}?client_id={CLIENT_ID}&theme=portail-anef&redirect_uri={redirect_uri}&response_mode=fragment&response_type=code&scope=openid"
    )
}

/// Keycloak's page layout (PatternFly classes, as in the default "keycloak" theme).
fn kc_page(title: &str, content: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html class="login-pf" lang="fr">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex, nofollow">
<title>{title}</title>
</head>
<body class="">
<div class="login-pf-page">
  <div id="kc-header" class="login-pf-page-header"><div id="kc-header-wrapper">ANEF - Administration numérique pour les étrangers en France</div></div>
  <div class="card-pf">
{content}
  </div>
</div>
</body>
</html>
"#
    )
}

fn kc_error(status: StatusCode, message: &str) -> Response {
    html(
        status,
        kc_page(
            "Nous sommes désolés...",
            &format!(
                "<header class=\"login-pf-header\"><h1 id=\"kc-page-title\">Nous sommes désolés...</h1></header>\n\
                 <div id=\"kc-error-message\"><p class=\"instruction\">{message}</p></div>"
            ),
        ),
    )
}

/// The Keycloak error page for a bad `client_id` (or a missing `redirect_uri` when required),
/// or `None` when the request is acceptable.
fn client_error(q: &HashMap<String, String>, need_redirect: bool) -> Option<Response> {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return Some(kc_error(StatusCode::BAD_REQUEST, "Client invalide"));
    }
    if need_redirect && q.get("redirect_uri").is_none_or(|u| u.is_empty()) {
        return Some(kc_error(StatusCode::BAD_REQUEST, "Paramètre invalide : redirect_uri"));
    }
    None
}

/// Finds the visitor's Keycloak authentication session or opens one, and rotates its
/// `session_code` as Keycloak does on every rendering. Returns the session and the cookie to
/// set when the session is new.
fn auth_session(shared: &Shared, headers: &HeaderMap) -> (AuthSession, Option<HeaderValue>) {
    let mut sessions = lock(&shared.sessions);
    if let Some(id) = cookie(headers, "AUTH_SESSION_ID") {
        if let Some(s) = sessions.auth.get_mut(&id) {
            s.session_code = token();
            return (s.clone(), None);
        }
    }
    let id = token();
    let s = AuthSession {
        session_code: token(),
        execution: uuid::Uuid::new_v4().to_string(),
        tab_id: token()[..11].to_string(),
        csrf: token(),
    };
    sessions.auth.insert(id.clone(), s.clone());
    (s, Some(set_cookie("AUTH_SESSION_ID", &id, REALM, true)))
}

/// The visitor's origin as the `Host` header names it (`http://127.0.0.1:PORT`).
fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// A form's action: absolute, as Keycloak's themes render `url.loginAction`.
fn action_url(origin: &str, path: &str, s: &AuthSession) -> String {
    format!(
        "{origin}{path}?session_code={}&execution={}&client_id={CLIENT_ID}&tab_id={}",
        s.session_code, s.execution, s.tab_id
    )
}

/// The login form of the `portail-anef` theme; `alert` is a general message, `error` the
/// credentials error.
fn login_form(origin: &str, s: &AuthSession, username: &str, alert: Option<&str>, error: Option<&str>) -> String {
    let action = esc(&action_url(origin, AUTHENTICATE, s));
    let reset = esc(&format!(
        "{REALM}/login-actions/reset-credentials?client_id={CLIENT_ID}&tab_id={}",
        s.tab_id
    ));
    let franceconnect = esc(&format!(
        "{REALM}/broker/franceconnect-particulier/login?client_id={CLIENT_ID}&tab_id={}",
        s.tab_id
    ));
    let alert = alert
        .map(|m| {
            format!("<div class=\"alert-error pf-c-alert pf-m-inline pf-m-danger\"><span class=\"kc-feedback-text\">{m}</span></div>\n")
        })
        .unwrap_or_default();
    let (invalid, error) = match error {
        Some(m) => ("true", format!("\n      <span id=\"input-error\" class=\"pf-c-form-control-helper-text pf-m-error kc-feedback-text\" aria-live=\"polite\">{m}</span>")),
        None => ("", String::new()),
    };
    let username = esc(username);
    kc_page(
        "Se connecter à ANEF",
        &format!(
            r#"<header class="login-pf-header"><h1 id="kc-page-title">Connexion à votre compte</h1></header>
<div id="kc-content"><div id="kc-content-wrapper" class="portail-anef">
{alert}<div id="kc-form"><div id="kc-form-wrapper">
  <form id="kc-form-login" onsubmit="login.disabled = true; return true;" action="{action}" method="post">
    <div class="form-group">
      <label for="login" class="pf-c-form__label pf-c-form__label-text">Identifiant</label>
      <input tabindex="1" id="login" class="pf-c-form-control" name="username" value="{username}" type="text" autofocus autocomplete="off" aria-invalid="{invalid}">
      <p class="hint">{LOGIN_HINT}</p>
    </div>
    <div class="form-group">
      <label for="password" class="pf-c-form__label pf-c-form__label-text">Mot de passe</label>
      <input tabindex="2" id="password" class="pf-c-form-control" name="password" type="password" autocomplete="off" aria-invalid="{invalid}">{error}
    </div>
    <div id="kc-form-options"><a tabindex="5" href="{reset}">Mot de passe oublié ?</a></div>
    <div id="kc-form-buttons" class="form-group">
      <input type="hidden" id="id-hidden-input" name="credentialId" value="">
      <input tabindex="4" class="pf-c-button pf-m-primary pf-m-block btn-lg" name="login" id="kc-login" type="submit" value="S'identifier">
    </div>
  </form>
  <div id="kc-social-providers"><a id="social-franceconnect-particulier" href="{franceconnect}">S'identifier avec FranceConnect</a></div>
</div></div>
</div></div>
<div id="kc-info" class="login-pf-signup"><div id="kc-info-wrapper">
  <div id="kc-registration-container"><div id="kc-registration"><span>Première visite ? <a tabindex="6" href="{SIGNUP_ROUTE}">Créer votre compte</a></span></div></div>
</div></div>"#
        ),
    )
}

async fn login_page(State(shared): State<Arc<Shared>>, Query(q): Params, headers: HeaderMap) -> Response {
    if let Some(resp) = client_error(&q, true) {
        return resp;
    }
    let (s, set) = auth_session(&shared, &headers);
    let mut resp = html(StatusCode::OK, login_form(&origin(&headers), &s, "", None, None));
    add_cookies(&mut resp, set.as_slice());
    resp
}

async fn authenticate(
    State(shared): State<Arc<Shared>>,
    Query(q): Params,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(current) = cookie(&headers, "AUTH_SESSION_ID").and_then(|id| lock(&shared.sessions).auth.get(&id).cloned()) else {
        return kc_error(
            StatusCode::BAD_REQUEST,
            "Cookie introuvable. Veuillez vérifier que les cookies sont activés dans votre navigateur.",
        );
    };
    let code_ok = q.get("session_code") == Some(&current.session_code);
    // Any rendering rotates the code, so the next form carries a fresh one.
    let (s, _) = auth_session(&shared, &headers);
    let username = form.get("username").map(String::as_str).unwrap_or("");
    if !code_ok {
        return html(
            StatusCode::OK,
            login_form(
                &origin(&headers),
                &s,
                username,
                Some("Action expirée. Merci de continuer la connexion."),
                None,
            ),
        );
    }
    if username != TEST_USERNAME || form.get("password").map(String::as_str) != Some(TEST_PASSWORD) {
        return html(
            StatusCode::OK,
            login_form(&origin(&headers), &s, username, None, Some(LOGIN_INVALID)),
        );
    }
    let anef = token();
    lock(&shared.sessions).anef.insert(anef.clone(), ());
    shared.count(|c| c.logins += 1);
    redirect(
        ESPACE_PERSONNEL,
        &[
            set_cookie("KEYCLOAK_SESSION", &token(), REALM, false),
            set_cookie("ANEF_SESSION", &anef, "/", true),
            // The app reads `auth_token` and sends it as `Authorization: Token …`, as the real one.
            set_cookie("auth_token", &anef, "/", false),
            set_cookie("refresh_token", &token(), "/", true),
        ],
    )
}

/// Fields of the registration form, in page order: (name, label, input type).
const REGISTER_FIELDS: [(&str, &str, &str); 6] = [
    ("firstName", "Prénom", "text"),
    ("lastName", "Nom", "text"),
    ("email", "Adresse électronique", "email"),
    ("email-confirm", "Confirmation de l'adresse électronique", "email"),
    ("password", "Mot de passe (12 caractères minimum dont un chiffre)", "password"),
    ("password-confirm", "Confirmation du mot de passe", "password"),
];

fn register_form(origin: &str, s: &AuthSession, form: &HashMap<String, String>, errors: &HashMap<&str, &str>) -> String {
    let action = esc(&action_url(origin, REGISTRATION, s));
    let login = esc(&format!(
        "{AUTH}?client_id={CLIENT_ID}&redirect_uri=%2Fparticuliers%2F%23&response_type=code"
    ));
    let mut fields = String::new();
    let feedback = |name: &str| {
        errors
            .get(name)
            .map(|m| format!("\n      <span id=\"input-error-{name}\" class=\"pf-c-form-control-helper-text pf-m-error kc-feedback-text\" aria-live=\"polite\">{m}</span>"))
            .unwrap_or_default()
    };
    for (name, label, kind) in REGISTER_FIELDS {
        // Passwords are never echoed back; the other values are, as Keycloak does.
        let value = if kind == "password" {
            String::new()
        } else {
            esc(form.get(name).map(String::as_str).unwrap_or(""))
        };
        let invalid = if errors.contains_key(name) { "true" } else { "" };
        fields.push_str(&format!(
            "    <div class=\"form-group\">\n      <label for=\"{name}\" class=\"pf-c-form__label\">{label}</label>\n      \
             <input type=\"{kind}\" id=\"{name}\" class=\"pf-c-form-control\" name=\"{name}\" value=\"{value}\" aria-invalid=\"{invalid}\">{}\n    </div>\n",
            feedback(name)
        ));
    }
    let csrf = esc(&s.csrf);
    let cgu_error = feedback("cgu");
    kc_page(
        "Créer votre compte",
        &format!(
            r#"<header class="login-pf-header"><h1 id="kc-page-title">Créer votre compte</h1></header>
<div id="kc-content"><div id="kc-content-wrapper">
  <form id="kc-register-form" class="form-horizontal" action="{action}" method="post">
    <input type="hidden" name="csrf_token" value="{csrf}">
{fields}    <div class="form-group">
      <input type="checkbox" id="cgu" name="cgu" value="on">
      <label for="cgu">J'ai lu et j'accepte les conditions générales d'utilisation</label>{cgu_error}
    </div>
    <div id="kc-form-buttons" class="form-group">
      <input class="pf-c-button pf-m-primary pf-m-block btn-lg" type="submit" value="Créer mon compte">
    </div>
  </form>
  <div id="kc-form-options"><span><a href="{login}">« Retour à la connexion</a></span></div>
</div></div>"#
        ),
    )
}

async fn registration_page(State(shared): State<Arc<Shared>>, Query(q): Params, headers: HeaderMap) -> Response {
    if let Some(resp) = client_error(&q, false) {
        return resp;
    }
    let (s, set) = auth_session(&shared, &headers);
    let mut resp = html(
        StatusCode::OK,
        register_form(&origin(&headers), &s, &HashMap::new(), &HashMap::new()),
    );
    add_cookies(&mut resp, set.as_slice());
    resp
}

/// The per-field errors of a registration form, in French, as Keycloak's theme shows them.
pub(crate) fn registration_errors(form: &HashMap<String, String>) -> HashMap<&'static str, &'static str> {
    let get = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
    let mut errors = HashMap::new();
    if get("firstName").is_empty() {
        errors.insert("firstName", "Veuillez indiquer votre prénom.");
    }
    if get("lastName").is_empty() {
        errors.insert("lastName", "Veuillez indiquer votre nom.");
    }
    let email = get("email");
    if !valid_email(email) {
        errors.insert("email", "Veuillez indiquer un e-mail valide.");
    } else if get("email-confirm") != email {
        errors.insert("email-confirm", "Les adresses électroniques ne correspondent pas.");
    }
    let password = form.get("password").map(String::as_str).unwrap_or("");
    if password.chars().count() < 12 || !password.chars().any(|c| c.is_ascii_digit()) {
        errors.insert("password", "Le mot de passe doit contenir au moins 12 caractères dont un chiffre.");
    } else if form.get("password-confirm").map(String::as_str) != Some(password) {
        errors.insert("password-confirm", "Les mots de passe ne correspondent pas.");
    }
    if get("cgu").is_empty() {
        errors.insert("cgu", "Veuillez accepter les conditions générales d'utilisation.");
    }
    errors
}

/// A deliberately simple check (one `@`, a dotted domain, no spaces), like a form's first line
/// of defence; the real portal's rule is unknown.
pub(crate) fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain
            .split_once('.')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.ends_with('.'))
}

async fn register(State(shared): State<Arc<Shared>>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let id = cookie(&headers, "AUTH_SESSION_ID");
    let expected = id
        .as_deref()
        .and_then(|id| lock(&shared.sessions).auth.get(id).map(|s| s.csrf.clone()));
    match (expected, form.get("csrf_token")) {
        (Some(e), Some(got)) if !e.is_empty() && e == *got => {}
        _ => return kc_error(StatusCode::BAD_REQUEST, DEMANDE_INVALIDE),
    }
    let (s, _) = auth_session(&shared, &headers);
    let errors = registration_errors(&form);
    if !errors.is_empty() {
        return html(StatusCode::OK, register_form(&origin(&headers), &s, &form, &errors));
    }
    // A used token cannot be replayed; the submitted data itself is dropped here.
    if let Some(id) = id.as_deref() {
        if let Some(s) = lock(&shared.sessions).auth.get_mut(id) {
            s.csrf = token();
        }
    }
    shared.count(|c| c.accounts_created += 1);
    html(
        StatusCode::OK,
        kc_page(
            "Vérification de l'adresse électronique",
            &format!(
                "<header class=\"login-pf-header\"><h1 id=\"kc-page-title\">Vérification de l'adresse électronique</h1></header>\n\
                 <div id=\"kc-content\"><div id=\"kc-content-wrapper\">\n\
                 <p class=\"instruction\">{EMAIL_SENT}. Cliquez sur le lien qu'il contient pour activer votre compte.</p>\n\
                 <p class=\"instruction\">Vous n'avez pas reçu d'e-mail ? Vérifiez vos courriers indésirables.</p>\n\
                 </div></div>"
            ),
        ),
    )
}

/// Whether the request carries a live portal session: the session cookie, the `auth_token`
/// cookie, or `Authorization: Token <token>` as the app sends it.
pub(crate) fn logged_in(shared: &Shared, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token "))
        .map(str::to_string);
    let sessions = lock(&shared.sessions);
    [cookie(headers, "ANEF_SESSION"), cookie(headers, "auth_token"), bearer]
        .into_iter()
        .flatten()
        .any(|id| sessions.anef.contains(&id))
}

pub(crate) fn unauthorized() -> Response {
    json(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}))
}

async fn moi(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !logged_in(&shared, &headers) {
        return unauthorized();
    }
    json(
        StatusCode::OK,
        json!({
            "id": "00000000-0000-4000-8000-000000000001",
            "identifiant": TEST_USERNAME,
            "profil": "USAGER",
            "langue": "fr",
            "compteActif": true,
            "usager": {"identifiant": TEST_USERNAME, "langue": "fr"},
            "statut_actuel": {"code": "ACTIF"},
            "blocking": {"should_be_blocked": false},
            "dossier_en_cours": {"has_dossier_en_cours": true, "id_dossier_en_cours": "SIM-2026-000001"}
        }),
    )
}

async fn notifications(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !logged_in(&shared, &headers) {
        return unauthorized();
    }
    json(
        StatusCode::OK,
        json!({"notifications": [], "nonLues": 0, "_items": [], "_meta": {"page": 1, "per_page": 50, "total": 0}}),
    )
}

async fn statut(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !logged_in(&shared, &headers) {
        return unauthorized();
    }
    json(
        StatusCode::OK,
        json!({"demandes": [{
            "numero": "SIM-2026-000001",
            "statut": "EN_COURS_INSTRUCTION",
            "libelle": "En cours d'instruction",
            "dateDepot": "2026-01-15"
        }],
        "statut": "EN_COURS_INSTRUCTION",
        "libelle": "En cours d'instruction",
        "etape": "INSTRUCTION",
        "date_depot": "2026-01-15"}),
    )
}
