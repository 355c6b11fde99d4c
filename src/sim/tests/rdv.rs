//! RDV-Préfecture tests: CGU with CSRF, the CAPTCHA wall, and the `creneau` JSON.

use reqwest::StatusCode;
use serde_json::Value;

use super::{attr, client, count, location, sim, texts};
use crate::sim::rdv::{CAPTCHA_TEXT, NO_SLOT};
use crate::sim::{SimHandle, StatePatch};

/// GET the CGU page and POST its form; returns the redirect target.
async fn pass_cgu(sim: &SimHandle, c: &reqwest::Client, id: u32) -> String {
    let url = format!("{}/rdvpref/reservation/demarche/{id}/cgu/", sim.rdv_url());
    let page = c.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(
        attr(&page, "form#cgu-form", "action"),
        Some(format!("/rdvpref/reservation/demarche/{id}/cgu/"))
    );
    let csrf = attr(&page, "form#cgu-form input[name=csrf]", "value").unwrap();
    let resp = c.post(&url).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    location(&resp)
}

#[tokio::test]
async fn the_captcha_stands_on_the_conditions_page_and_is_never_solved() {
    let sim = sim().await;
    let c = client();
    let base = sim.rdv_url();
    let url = format!("{base}/rdvpref/reservation/demarche/3109/cgu/");
    let page = c.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(count(&page, "form#cgu-form rdv-captchetat#captcha"), 1);
    assert_eq!(
        count(&page, "form#cgu-form input#captchaFormulaireExtInput[name=captchaUsercode]"),
        1
    );
    assert_eq!(count(&page, "form#cgu-form input[type=hidden][name=captchaId]"), 1);
    assert!(page.contains(CAPTCHA_TEXT));
    let image = attr(&page, "img#captchaFR_CaptchaImage", "src").unwrap();
    let resp = c.get(format!("{base}{image}")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    assert!(resp.text().await.unwrap().starts_with("<svg"));

    // Whatever is typed, the code is refused, as the live site says in its URL.
    assert_eq!(
        pass_cgu(&sim, &c, 3109).await,
        "/rdvpref/reservation/demarche/3109/cgu/?error=invalidCaptcha"
    );
    let page = c
        .get(format!("{url}?error=invalidCaptcha"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(count(&page, ".fr-alert--error"), 1);
    // The slots stay behind the CAPTCHA.
    let resp = c
        .get(format!("{base}/rdvpref/reservation/demarche/3109/creneau/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/rdvpref/reservation/demarche/3109/cgu/?errorSessionInvalide");

    // Without the CAPTCHA (a simulator-only switch), the form leads to the slots.
    sim.apply(&StatePatch::from_json(r#"{"captcha": false}"#).unwrap()).unwrap();
    let page = c.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(count(&page, "rdv-captchetat"), 0);
    assert_eq!(pass_cgu(&sim, &c, 3109).await, "/rdvpref/reservation/demarche/3109/creneau/");
    sim.shutdown().await;
}

#[tokio::test]
async fn sessions_are_required() {
    let sim = sim().await;
    let base = sim.rdv_url();
    let resp = client()
        .get(format!("{base}/rdvpref/reservation/demarche/3109/creneau/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/rdvpref/reservation/demarche/3109/cgu/?errorSessionInvalide");
    let c = client();
    let url = format!("{base}/rdvpref/reservation/demarche/3109/cgu/");
    c.get(&url).send().await.unwrap();
    let resp = c.post(&url).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(location(&resp), "/rdvpref/reservation/demarche/3109/cgu/?errorSessionInvalide");
    let page = c
        .get(format!("{url}?errorSessionInvalide"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(count(&page, ".fr-alert--error"), 1);
    sim.shutdown().await;
}

fn app_data(page: &str) -> Value {
    let json = texts(page, "script#app-data[type='application/json']");
    serde_json::from_str(&json[0]).unwrap()
}

#[tokio::test]
async fn creneau_page_without_captcha() {
    let sim = sim().await;
    sim.apply(&StatePatch::from_json(r#"{"captcha": false, "rdv_slots": 2}"#).unwrap())
        .unwrap();
    let c = client();
    let base = sim.rdv_url();
    assert_eq!(pass_cgu(&sim, &c, 42).await, "/rdvpref/reservation/demarche/42/creneau/");
    let url = format!("{base}/rdvpref/reservation/demarche/42/creneau/");
    let page = c.get(&url).send().await.unwrap().text().await.unwrap();
    let data = app_data(&page);
    let first = data["critere"]["datePremiereDispo"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(first).unwrap() > chrono::Utc::now());
    assert!(first.ends_with("T09:00:00+01:00") || first.ends_with("T09:00:00+02:00"));
    assert_eq!(data["creneaux"].as_array().unwrap().len(), 2);
    assert_eq!(data["creneaux"][0]["debut"], first);
    assert!(chrono::NaiveDate::parse_from_str(data["critere"]["dateMin"].as_str().unwrap(), "%Y-%m-%d").is_ok());
    assert!(data["critere"]["dateMax"].as_str().unwrap() > data["critere"]["dateMin"].as_str().unwrap());
    assert_eq!(count(&page, "#creneaux .row.cellule.justify-center.radio-card label"), 2);
    assert!(!page.contains(NO_SLOT));

    sim.apply(&StatePatch::from_json(r#"{"rdv_slots": 0}"#).unwrap()).unwrap();
    let page = c.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(NO_SLOT));
    let data = app_data(&page);
    assert_eq!(data["critere"]["datePremiereDispo"], "");
    assert_eq!(data["creneaux"], serde_json::json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn bot_protection_serves_the_vendors_pages_instead_of_the_service() {
    let sim = sim().await;
    let c = client();
    let base = sim.rdv_url();
    let cgu = format!("{base}/rdvpref/reservation/demarche/3109/cgu/");
    sim.apply(&StatePatch::from_json(r#"{"bot_protection": "imperva"}"#).unwrap())
        .unwrap();
    let resp = c.get(&cgu).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers()["set-cookie"].to_str().unwrap().starts_with("incap_ses_"));
    let page = resp.text().await.unwrap();
    assert!(page.contains("Request unsuccessful. Incapsula incident ID:"), "{page}");
    assert_eq!(count(&page, "form#cgu-form"), 0, "the service is not reached");
    // The block page's iframe shows the incident to a person.
    let frame = attr(&page, "iframe#main-iframe", "src").unwrap();
    let resp = c.get(format!("{base}{frame}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let inner = resp.text().await.unwrap();
    let incident = frame.split("incident_id=").nth(1).unwrap();
    assert!(inner.contains(&format!("Incapsula incident ID: {incident}")), "{inner}");

    sim.apply(&StatePatch::from_json(r#"{"bot_protection": "turnstile"}"#).unwrap())
        .unwrap();
    let resp = c.get(&cgu).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(resp.headers()["cf-mitigated"], "challenge");
    assert!(resp.text().await.unwrap().contains("window._cf_chl_opt"));

    sim.apply(&StatePatch::from_json(r#"{"bot_protection": "off"}"#).unwrap()).unwrap();
    let resp = c.get(&cgu).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    sim.shutdown().await;
}
