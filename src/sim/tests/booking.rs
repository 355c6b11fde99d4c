//! Prefecture booking module tests: conditions (CSRF), counter, slots and the AJAX calendar.

use reqwest::StatusCode;

use super::{attr, client, count, location, set_cookies, sim, texts};
use crate::sim::booking::{CONDITION_TEXT, NO_SLOT, SESSION_EXPIRED};
use crate::sim::{SimHandle, StatePatch};

/// Accepts the conditions of form `id` with `c`; returns nothing, asserts each hop.
async fn accept(sim: &SimHandle, c: &reqwest::Client, id: u32) {
    let base = sim.prefecture_url();
    let resp = c.get(format!("{base}/booking/create/{id}/0")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    let token = attr(&page, "#FormBookingCreate input[name=_token]", "value").unwrap();
    let resp = c
        .post(format!("{base}/booking/create/{id}/0"))
        .form(&[
            ("condition", "on"),
            ("_token", token.as_str()),
            ("nextButton", "Effectuer une demande de rendez-vous"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), format!("/booking/create/{id}/1"));
}

#[tokio::test]
async fn conditions_page_and_its_errors() {
    let sim = sim().await;
    let c = client();
    let base = sim.prefecture_url();
    let resp = c.get(format!("{base}/booking/create/4242/0")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(set_cookies(&resp).iter().any(|c| c.starts_with("eZSESSID=")));
    let page = resp.text().await.unwrap();
    assert_eq!(
        attr(&page, "form#FormBookingCreate", "action").as_deref(),
        Some("/booking/create/4242/0")
    );
    assert_eq!(attr(&page, "form#FormBookingCreate", "method").as_deref(), Some("post"));
    assert_eq!(count(&page, "input[type=checkbox][name=condition]"), 1);
    assert_eq!(texts(&page, "label[for=condition]"), [CONDITION_TEXT]);
    assert_eq!(
        attr(&page, "input[name=nextButton]", "value").as_deref(),
        Some("Effectuer une demande de rendez-vous")
    );
    let token = attr(&page, "input[name=_token]", "value").unwrap();

    // Missing checkbox: the form again with the message as an error.
    let resp = c
        .post(format!("{base}/booking/create/4242/0"))
        .form(&[("_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert_eq!(texts(&page, ".message-error li"), [CONDITION_TEXT]);

    // Bad token.
    let resp = c
        .post(format!("{base}/booking/create/4242/0"))
        .form(&[("_token", "forged"), ("condition", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(texts(&resp.text().await.unwrap(), ".message-error li"), [SESSION_EXPIRED]);

    // Another visitor's token is worthless without its cookie.
    let resp = client()
        .post(format!("{base}/booking/create/4242/0"))
        .form(&[("_token", token.as_str()), ("condition", "on")])
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains(SESSION_EXPIRED));

    // Later steps without accepted conditions go back to step 0.
    for step in [1, 2] {
        let resp = client().get(format!("{base}/booking/create/4242/{step}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(location(&resp), "/booking/create/4242/0");
    }
    let resp = c.get(format!("{base}/booking/create/abc/0")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[tokio::test]
async fn booking_flow_with_free_slots() {
    let sim = sim().await;
    sim.apply(&StatePatch {
        prefecture_slots: Some(3),
        ..StatePatch::default()
    })
    .unwrap();
    let c = client();
    let base = sim.prefecture_url();
    accept(&sim, &c, 4242).await;

    let page = c
        .get(format!("{base}/booking/create/4242/1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        attr(&page, "input#planning14470[type=radio][name=planning]", "value").as_deref(),
        Some("14470")
    );
    assert_eq!(attr(&page, "input#planning14471", "value").as_deref(), Some("14471"));
    assert_eq!(texts(&page, "label[for=planning14470]"), ["Guichet 1 - Titres de séjour"]);
    // No counter chosen: same page with an error.
    let resp = c
        .post(format!("{base}/booking/create/4242/1"))
        .form(&[("planning", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = c
        .post(format!("{base}/booking/create/4242/1"))
        .form(&[("planning", "14471"), ("nextButton", "Etape suivante")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/booking/create/4242/3");

    let page = c
        .get(format!("{base}/booking/create/4242/2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        texts(&page, "#FormBookingCreate .counter"),
        ["Guichet 2 - Titres de séjour (renouvellements)"]
    );
    let links = texts(&page, "#FormBookingCreate a.slot-free");
    assert_eq!(links, ["09:00", "09:30", "10:00"]);
    let href = attr(&page, "a.slot-free", "href").unwrap();
    let re = regex::Regex::new(r"^/booking/create/4242/5/(\d+)$").unwrap();
    let ts: i64 = re.captures(&href).expect("slot link")[1].parse().unwrap();
    let first = chrono::DateTime::from_timestamp(ts, 0)
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Paris);
    assert!(first > chrono::Utc::now());
    let date = attr(&page, "[data-first-free]", "data-first-free").unwrap();
    assert_eq!(date, first.format("%Y-%m-%d").to_string());
    let re = regex::Regex::new(r"Premier créneau disponible : le (\d{2}/\d{2}/\d{4})").unwrap();
    assert_eq!(&re.captures(&page).unwrap()[1], first.format("%d/%m/%Y").to_string());
    assert!(!page.contains(NO_SLOT));

    // The AJAX calendar serves the same slots, split by week offset.
    let mut total = 0;
    for week in 0..3 {
        let resp = c
            .get(format!("{base}/ezjscore/call/bookingserver::planning::assign::4242::14471::{week}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        total += count(&resp.text().await.unwrap(), "a.slot-free");
    }
    assert_eq!(total, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn no_slot_message_and_other_form_ids() {
    let sim = sim().await;
    let c = client();
    let base = sim.prefecture_url();
    accept(&sim, &c, 1234).await;
    // Step 1 may be skipped: the first counter applies.
    let page = c
        .get(format!("{base}/booking/create/1234/2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(texts(&page, "#FormBookingCreate"), [NO_SLOT]);
    assert_eq!(count(&page, "a.slot-free"), 0);
    // Accepting 1234 does not accept 4242.
    let resp = c.get(format!("{base}/booking/create/4242/2")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let frag = c
        .get(format!("{base}/ezjscore/call/bookingserver::planning::assign::1234::1::0"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(frag.contains(NO_SLOT));
    let resp = c.get(format!("{base}/ezjscore/call/something::else")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    sim.shutdown().await;
}
