//! Recognises bot-protection pages (Imperva/Incapsula, Cloudflare) and a probe's own
//! `blocked_when` conditions: a run that meets one has not seen the service.
//!
//! Such a run is recorded as not observed with reason `blocked` — never "up" (a challenge page
//! is not the service) and never "down" (the service may well be working for people). The
//! markers are the fixed parts of the vendors' interstitial pages, not the cookies or headers a
//! protected site sends on every page (`incap_ses_*`, `X-CDN: Imperva`, `Server: cloudflare`),
//! which would flag every normal page of a protected site:
//! - Imperva (Incapsula) block page: « Request unsuccessful. Incapsula incident ID: … » and its
//!   `/_Incapsula_Resource?…` script, documented by Imperva as the page shown when a request is
//!   blocked (docs.imperva.com, "Error and block pages"; checked 2026-12).
//! - Cloudflare challenge: the `cf-mitigated: challenge` response header, documented by
//!   Cloudflare for challenge responses (developers.cloudflare.com, "Detect a Challenge Page
//!   response"; checked 2026-12), and the challenge page's `/cdn-cgi/challenge-platform/`
//!   script with `window._cf_chl_opt`; the block page "Attention Required! | Cloudflare".
//!
//! vigie never tries to get past such a page.

use super::evaluate::{self, Response};
use crate::probe::Probe;

/// Markers found in the bodies of the vendors' block and challenge pages: (vendor, marker).
const BODY_MARKERS: [(&str, &str); 6] = [
    ("Imperva", "Incapsula incident ID"),
    ("Imperva", "/_Incapsula_Resource"),
    ("Cloudflare", "window._cf_chl_opt"),
    ("Cloudflare", "/cdn-cgi/challenge-platform/"),
    ("Cloudflare", "Attention Required! | Cloudflare"),
    ("Cloudflare", "cf-error-details"),
];

/// Why the response is a bot-protection page, or `None`. Probe conditions are checked after
/// the built-in markers.
pub(crate) fn blocked(probe: &Probe, r: &Response) -> Option<String> {
    if let Some(why) = builtin(r) {
        return Some(why);
    }
    probe
        .blocked_when
        .iter()
        .find(|m| evaluate::matches(m, r))
        .map(|m| format!("bot protection (blocked_when): {}", evaluate::describe_match(m, r)))
}

/// A JavaScript expression, true when the page holds one of the vendors' markers: a browser
/// wait ends there (the step is then decided `blocked`) instead of waiting out its timeout on a
/// block page.
pub(crate) fn js_detector() -> String {
    let list: Vec<String> = BODY_MARKERS.iter().map(|(_, m)| crate::browser::page::js_string(m)).collect();
    format!(
        "(function(){{var h=document.documentElement?document.documentElement.outerHTML:'';return [{}].some(function(m){{return h.indexOf(m)>=0;}});}})()",
        list.join(",")
    )
}

/// The built-in recognition of the known vendors' pages.
pub(crate) fn builtin(r: &Response) -> Option<String> {
    let challenge_header = r
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("cf-mitigated") && v.trim().eq_ignore_ascii_case("challenge"));
    if challenge_header {
        return Some(format!(
            "bot protection page (Cloudflare challenge, header cf-mitigated: challenge) at {}",
            r.url
        ));
    }
    BODY_MARKERS
        .iter()
        .find(|(_, marker)| r.body.contains(marker))
        .map(|(vendor, marker)| format!("bot protection page ({vendor}: the page contains « {marker} ») at {}", r.url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn resp<'a>(headers: &'a [(String, String)], body: &'a str) -> Response<'a> {
        Response::new(403, headers, body, "https://example.test/x", &[], Duration::ZERO)
    }

    #[test]
    fn vendor_pages_are_recognised_and_normal_pages_of_protected_sites_are_not() {
        let none: Vec<(String, String)> = vec![];
        let imperva = "<html><body>Request unsuccessful. Incapsula incident ID: 1234-5678</body></html>";
        assert!(builtin(&resp(&none, imperva)).is_some_and(|w| w.contains("Imperva")));
        let cf = vec![("CF-Mitigated".to_string(), "challenge".to_string())];
        assert!(builtin(&resp(&cf, "<html></html>")).is_some_and(|w| w.contains("Cloudflare")));
        let chl = "<script>window._cf_chl_opt={cType:'managed'}</script>";
        assert!(builtin(&resp(&none, chl)).is_some());
        // A normal page of a protected site: vendor cookies and headers, a Turnstile widget in a form.
        let protected = vec![
            ("Server".to_string(), "cloudflare".to_string()),
            ("X-CDN".to_string(), "Imperva".to_string()),
            ("Set-Cookie".to_string(), "incap_ses_123=abc; path=/".to_string()),
        ];
        let page = "<form><div class=\"cf-turnstile\"></div><script src=\"https://challenges.cloudflare.com/turnstile/v0/api.js\"></script></form>";
        assert_eq!(builtin(&resp(&protected, page)), None);
    }
}
