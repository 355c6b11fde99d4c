//! Simulator tests over real sockets: each test starts its own simulator on ephemeral loopback
//! ports and drives it with reqwest, as the daemon and the benchmarks do.

mod admin;
mod booking;
mod faults;
mod portal;
mod rdv;

use std::time::Duration;

use scraper::{Html, Selector};

use super::{start, SimConfig, SimHandle};

pub(super) async fn sim() -> SimHandle {
    start(SimConfig::loopback_ephemeral())
        .await
        .expect("simulator starts on ephemeral ports")
}

/// A fresh visitor: its own cookie jar, redirects not followed (tests check each hop).
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).expect("valid selector")
}

/// The attribute of the first element matching `css`.
pub(super) fn attr(html: &str, css: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let found = doc.select(&sel(css)).next().and_then(|e| e.value().attr(name).map(str::to_string));
    found
}

/// The whitespace-trimmed text of every element matching `css`.
pub(super) fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let found = doc
        .select(&sel(css))
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect();
    found
}

pub(super) fn count(html: &str, css: &str) -> usize {
    texts(html, css).len()
}

/// `Location` of a redirect.
pub(super) fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Every `Set-Cookie` line of a response.
pub(super) fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}
