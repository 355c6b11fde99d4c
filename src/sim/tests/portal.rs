//! Portal tests: home page, Keycloak login and registration, JSON APIs, uploads.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;

use super::{attr, client, count, location, set_cookies, sim, texts};
use crate::sim::portal::{DEMANDE_INVALIDE, EMAIL_SENT, LOGIN_INVALID};
use crate::sim::upload::{MAX_FILE, MSG_FAILED, MSG_FORMAT, MSG_SIZE};
use crate::sim::{SimHandle, StatePatch, TEST_PASSWORD, TEST_USERNAME};

/// Home → SE CONNECTER → login form; returns the form's absolute action URL.
async fn login_form(sim: &SimHandle, c: &reqwest::Client) -> String {
    let home = c
        .get(format!("{}/particuliers/", sim.portal_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let href = attr(&home, "a#btn-se-connecter", "href").expect("login link");
    let resp = c.get(format!("{}{href}", sim.portal_url())).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    let action = attr(&page, "form#kc-form-login", "action").expect("login form");
    assert!(action.starts_with(&sim.portal_url()), "Keycloak renders absolute actions: {action}");
    action
}

/// Logs the test account in with `c`'s cookie jar.
pub(super) async fn login(sim: &SimHandle, c: &reqwest::Client) {
    let action = login_form(sim, c).await;
    let resp = c
        .post(action)
        .form(&[("username", TEST_USERNAME), ("password", TEST_PASSWORD), ("credentialId", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn home_page_is_the_angular_shell() {
    let sim = sim().await;
    let c = client();
    let resp = c.get(format!("{}/", sim.portal_url())).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/particuliers/");
    let resp = c.get(format!("{}/particuliers/", sim.portal_url())).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert_eq!(
        texts(&html, "title"),
        ["ANEF - Administration numérique pour les étrangers en France"]
    );
    assert_eq!(count(&html, "app-root"), 1);
    assert_eq!(texts(&html, "a#btn-se-connecter"), ["SE CONNECTER"]);
    let href = attr(&html, "a#btn-se-connecter", "href").unwrap();
    assert!(
        href.starts_with(
            "/auth/realms/anef-usagers/protocol/openid-connect/auth?client_id=anef-usagers&theme=portail-anef&redirect_uri=http%3A%2F%2F127.0.0.1%3A"
        ),
        "{href}"
    );
    assert!(
        href.ends_with("%2Fparticuliers%2F%23&response_mode=fragment&response_type=code&scope=openid"),
        "{href}"
    );
    assert_eq!(texts(&html, "a#btn-creer-compte"), ["PREMIÈRE VISITE ? CRÉER VOTRE COMPTE"]);
    assert_eq!(
        attr(&html, "a#btn-creer-compte", "href").as_deref(),
        Some("/particuliers/#/espace-personnel/connexion-inscription"),
        "account creation is inside the app"
    );
    // The app's script and styles come from the simulator itself.
    assert_eq!(count(&html, "script[src='main.js']"), 1);
    let js = c.get(format!("{}/particuliers/main.js", sim.portal_url())).send().await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.unwrap().contains("connexion-inscription"));
    sim.shutdown().await;
}

#[tokio::test]
async fn login_end_to_end() {
    let sim = sim().await;
    let c = client();
    let action = login_form(&sim, &c).await;
    assert!(action.contains("/login-actions/authenticate?session_code="));
    assert!(action.contains("&client_id=anef-usagers&tab_id="));

    // Wrong password: the form again, with Keycloak's message.
    let resp = c
        .post(&action)
        .form(&[("username", TEST_USERNAME), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert_eq!(texts(&page, "span#input-error"), [LOGIN_INVALID]);
    assert_eq!(attr(&page, "input#login[name=username]", "value").as_deref(), Some(TEST_USERNAME));
    let next_action = attr(&page, "form#kc-form-login", "action").unwrap();
    assert_ne!(next_action, action, "session_code rotates");

    // The old session_code has expired.
    let resp = c
        .post(&action)
        .form(&[("username", TEST_USERNAME), ("password", TEST_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert_eq!(
        texts(&page, ".alert-error .kc-feedback-text"),
        ["Action expirée. Merci de continuer la connexion."]
    );
    let action = attr(&page, "form#kc-form-login", "action").unwrap();

    // APIs refuse anonymous visitors.
    let resp = c.get(format!("{}/api/usager/moi", sim.portal_url())).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await.unwrap(), serde_json::json!({"error": "unauthorized"}));

    let resp = c
        .post(&action)
        .form(&[("username", TEST_USERNAME), ("password", TEST_PASSWORD), ("credentialId", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/particuliers/#/espace-personnel");
    let cookies = set_cookies(&resp);
    assert!(cookies.iter().any(|c| c.starts_with("ANEF_SESSION=") && c.contains("HttpOnly")));
    assert!(cookies.iter().any(|c| c.starts_with("KEYCLOAK_SESSION=")));

    let moi: Value = c
        .get(format!("{}/api/usager/moi", sim.portal_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moi["identifiant"], TEST_USERNAME);
    let resp = c
        .get(format!("{}/api/sejour/usager/statut/demande_sejour", sim.portal_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let statut: Value = resp.json().await.unwrap();
    assert_eq!(statut["demandes"][0]["statut"], "EN_COURS_INSTRUCTION");
    assert_eq!(statut["demandes"][0]["libelle"], "En cours d'instruction");
    assert!(statut["demandes"][0]["dateDepot"].as_str().unwrap().starts_with("2026-"));
    assert_eq!(sim.state().counters.logins, 1);

    // Another visitor has no session.
    let resp = client()
        .get(format!("{}/api/sejour/usager/statut/demande_sejour", sim.portal_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
}

#[tokio::test]
async fn keycloak_errors() {
    let sim = sim().await;
    let c = client();
    let base = sim.portal_url();
    for query in [
        "client_id=other&redirect_uri=x&response_type=code",
        "redirect_uri=x&response_type=code",
    ] {
        let resp = c
            .get(format!("{base}/auth/realms/anef-usagers/protocol/openid-connect/auth?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let page = resp.text().await.unwrap();
        assert_eq!(texts(&page, "#kc-error-message p"), ["Client invalide"]);
    }
    // No AUTH_SESSION_ID cookie.
    let resp = c
        .post(format!("{base}/auth/realms/anef-usagers/login-actions/authenticate?session_code=x"))
        .form(&[("username", TEST_USERNAME), ("password", TEST_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("Cookie introuvable"));
    sim.shutdown().await;
}

fn registration(csrf: &str, email: &str, email2: &str, pw: &str, pw2: &str, cgu: bool) -> Vec<(String, String)> {
    let mut f = vec![
        ("csrf_token", csrf),
        ("firstName", "Test"),
        ("lastName", "Vigie"),
        ("email", email),
        ("email-confirm", email2),
        ("password", pw),
        ("password-confirm", pw2),
    ];
    if cgu {
        f.push(("cgu", "on"));
    }
    f.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn account_creation_with_csrf() {
    let sim = sim().await;
    let c = client();
    let base = sim.portal_url();
    // The legacy Keycloak registration page (the live portal creates accounts in the app).
    let resp = c
        .get(format!(
            "{base}/auth/realms/anef-usagers/login-actions/registration?client_id=anef-usagers"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(set_cookies(&resp).iter().any(|c| c.starts_with("AUTH_SESSION_ID=")));
    let page = resp.text().await.unwrap();
    let action = attr(&page, "form#kc-register-form", "action").unwrap();
    let csrf = attr(&page, "form#kc-register-form input[name=csrf_token]", "value").unwrap();
    assert_eq!(csrf.len(), 32);
    for field in [
        "firstName",
        "lastName",
        "email",
        "email-confirm",
        "password",
        "password-confirm",
        "cgu",
    ] {
        assert_eq!(count(&page, &format!("input[name='{field}']")), 1, "{field}");
    }

    // Field errors re-render the form with French messages.
    let resp = c
        .post(&action)
        .form(&registration(&csrf, "pas-un-email", "x", "court1", "court1", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert_eq!(texts(&page, "#input-error-email"), ["Veuillez indiquer un e-mail valide."]);
    assert_eq!(
        texts(&page, "#input-error-password"),
        ["Le mot de passe doit contenir au moins 12 caractères dont un chiffre."]
    );
    assert_eq!(count(&page, "#input-error-cgu"), 1);
    assert_eq!(count(&page, "span.kc-feedback-text"), 3);
    assert_eq!(attr(&page, "input#firstName", "value").as_deref(), Some("Test"));
    assert_eq!(attr(&page, "input#password", "value").as_deref(), Some(""));

    let resp = c
        .post(&action)
        .form(&registration(
            &csrf,
            "a@example.org",
            "b@example.org",
            "motdepasse-123",
            "motdepasse-124",
            true,
        ))
        .send()
        .await
        .unwrap();
    let page = resp.text().await.unwrap();
    assert_eq!(
        texts(&page, "#input-error-email-confirm"),
        ["Les adresses électroniques ne correspondent pas."]
    );
    assert_eq!(
        texts(&page, "#input-error-password-confirm"),
        ["Les mots de passe ne correspondent pas."]
    );

    // A wrong token, or no cookie: « Demande invalide ».
    let resp = c
        .post(&action)
        .form(&registration(
            "forged",
            "a@example.org",
            "a@example.org",
            "motdepasse-123",
            "motdepasse-123",
            true,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains(DEMANDE_INVALIDE));
    let resp = client()
        .post(&action)
        .form(&registration(
            &csrf,
            "a@example.org",
            "a@example.org",
            "motdepasse-123",
            "motdepasse-123",
            true,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let valid = registration(&csrf, "a@example.org", "a@example.org", "motdepasse-123", "motdepasse-123", true);
    let resp = c.post(&action).form(&valid).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert_eq!(texts(&page, "title"), ["Vérification de l'adresse électronique"]);
    assert!(page.contains(EMAIL_SENT));
    assert_eq!(sim.state().counters.accounts_created, 1);

    // The token was used up.
    let resp = c.post(&action).form(&valid).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.state().counters.accounts_created, 1);
    sim.shutdown().await;
}

fn file(bytes: Vec<u8>, name: &str, mime: &str) -> Form {
    Form::new()
        .text("type_piece", "justificatif_domicile")
        .part("fichier", Part::bytes(bytes).file_name(name.to_string()).mime_str(mime).unwrap())
}

fn pdf(size: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.4\n".to_vec();
    v.resize(size, b'x');
    v
}

async fn post_upload(sim: &SimHandle, c: &reqwest::Client, form: Form) -> (StatusCode, Value) {
    let resp = c
        .post(format!("{}/api/anf/pieces-justificatives", sim.portal_url()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test]
async fn uploads() {
    let sim = sim().await;
    let c = client();

    let (status, body) = post_upload(&sim, &c, file(pdf(100), "a.pdf", "application/pdf")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    login(&sim, &c).await;
    let (status, body) = post_upload(&sim, &c, file(pdf(1000), "a.pdf", "application/pdf")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["statut"], "DEPOSE");
    assert_eq!(body["taille"], 1000);
    assert_eq!(body["id"].as_str().unwrap().len(), 36);

    let jpeg = b"\xFF\xD8\xFF\xE0rest".to_vec();
    let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
    assert_eq!(
        post_upload(&sim, &c, file(jpeg.clone(), "a.jpg", "image/jpeg")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        post_upload(&sim, &c, file(png.clone(), "a.png", "image/png")).await.0,
        StatusCode::CREATED
    );
    // The largest accepted file.
    assert_eq!(
        post_upload(&sim, &c, file(pdf(MAX_FILE), "a.pdf", "application/pdf")).await.0,
        StatusCode::CREATED
    );

    let format_error = serde_json::json!({"statut": "REJETE", "message": MSG_FORMAT});
    for form in [
        file(png, "a.pdf", "application/pdf"),
        file(b"hello".to_vec(), "a.txt", "text/plain"),
        file(pdf(100), "a.pdf", "text/plain"),
        file(jpeg, "a.png", "image/png"),
    ] {
        assert_eq!(post_upload(&sim, &c, form).await, (StatusCode::BAD_REQUEST, format_error.clone()));
    }

    let size_error = serde_json::json!({"statut": "REJETE", "message": MSG_SIZE});
    for size in [MAX_FILE + 1, 5 * 1024 * 1024] {
        assert_eq!(
            post_upload(&sim, &c, file(pdf(size), "a.pdf", "application/pdf")).await,
            (StatusCode::PAYLOAD_TOO_LARGE, size_error.clone())
        );
    }

    sim.apply(&StatePatch::from_json(r#"{"upload":"reject"}"#).unwrap()).unwrap();
    assert_eq!(
        post_upload(&sim, &c, file(pdf(100), "a.pdf", "application/pdf")).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({"statut": "REJETE", "message": MSG_FAILED})
        )
    );
    let counters = sim.state().counters;
    assert_eq!(counters.uploads_accepted, 4);
    assert_eq!(counters.uploads_rejected, 7);
    sim.shutdown().await;
}
