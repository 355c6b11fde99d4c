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
async fn cgu_leads_to_the_captcha_wall() {
    let sim = sim().await;
    let c = client();
    let base = sim.rdv_url();
    assert_eq!(pass_cgu(&sim, &c, 3109).await, "/rdvpref/reservation/demarche/3109/captcha/");
    let page = c
        .get(format!("{base}/rdvpref/reservation/demarche/3109/captcha/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(count(&page, "rdv-captchetat#captcha"), 1);
    assert!(page.contains(CAPTCHA_TEXT));
    let resp = c
        .post(format!("{base}/rdvpref/reservation/demarche/3109/captcha/"))
        .form(&[("captchaUsercode", "ABCD")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/rdvpref/reservation/demarche/3109/captcha/?error=invalidCaptcha");
    // The slots stay behind the CAPTCHA.
    let resp = c
        .get(format!("{base}/rdvpref/reservation/demarche/3109/creneau/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/rdvpref/reservation/demarche/3109/captcha/");
    sim.shutdown().await;
}

#[tokio::test]
async fn sessions_are_required() {
    let sim = sim().await;
    let base = sim.rdv_url();
    for page in ["captcha", "creneau"] {
        let resp = client()
            .get(format!("{base}/rdvpref/reservation/demarche/3109/{page}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(location(&resp), "/rdvpref/reservation/demarche/3109/cgu/?errorSessionInvalide");
    }
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
    let first = data["datePremiereDispo"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(first).unwrap() > chrono::Utc::now());
    assert!(first.ends_with("T09:00:00+01:00") || first.ends_with("T09:00:00+02:00"));
    assert_eq!(data["creneaux"].as_array().unwrap().len(), 2);
    assert_eq!(data["creneaux"][0]["debut"], first);
    assert!(chrono::NaiveDate::parse_from_str(data["dateMin"].as_str().unwrap(), "%Y-%m-%d").is_ok());
    assert!(data["dateMax"].as_str().unwrap() > data["dateMin"].as_str().unwrap());
    assert_eq!(count(&page, "#creneaux button.creneau"), 2);
    assert!(!page.contains(NO_SLOT));

    sim.apply(&StatePatch::from_json(r#"{"rdv_slots": 0}"#).unwrap()).unwrap();
    let page = c.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(NO_SLOT));
    let data = app_data(&page);
    assert!(data["datePremiereDispo"].is_null());
    assert_eq!(data["creneaux"], serde_json::json!([]));
    sim.shutdown().await;
}
