//! The simulator's switchable state (faults, slot counts) and the partial patches that change it.
//!
//! Everything a test or a scenario can change at run time lives in [`SimState`]; it is a plain
//! value (serde, JSON) so that the admin route, the Rust API and the YAML scenarios share one
//! shape. [`StatePatch`] mirrors it with every field optional and `deny_unknown_fields`, so a
//! typo in a patch is an error instead of a silently ignored field.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::SimError;

/// Upper bound for `delay_ms` and `min_interval_ms`: a fault longer than the hang cap makes no sense.
pub const MAX_DELAY_MS: u64 = 600_000;
/// Upper bound for free slot counts, so that a slot page stays a page and not a megabyte.
pub const MAX_SLOTS: u32 = 100;

/// One of the three simulated sites; each has its own listener (and so its own host:port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// ANEF and its Keycloak SSO.
    Portal,
    /// The old eZ Publish booking module of a prefecture website.
    Prefecture,
    /// RDV-Préfecture, the national booking system.
    Rdv,
}

impl Site {
    pub const ALL: [Site; 3] = [Site::Portal, Site::Prefecture, Site::Rdv];

    pub fn as_str(self) -> &'static str {
        match self {
            Site::Portal => "portal",
            Site::Prefecture => "prefecture",
            Site::Rdv => "rdv",
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named group of routes that faults apply to. Keys are unique across the three sites so that
/// a patch needs no site prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKey {
    /// Portal: `GET /` and `GET /particuliers/`.
    Home,
    /// Portal: the Keycloak login page and its form target.
    Login,
    /// Portal: account creation: the app's `POST /api/usager/inscription` and the legacy
    /// Keycloak registration page (kept for older probes; the real portal does not use it).
    Register,
    /// Portal: the single-page app's own files (`/particuliers/main.js`, `styles.css`).
    App,
    /// Portal: `/api/usager/moi`, `/api/notifications`, `/api/public/parametres` (the app's
    /// first call) and the other JSON APIs of the personal space.
    Api,
    /// Portal: `/api/sejour/usager/statut/demande_sejour`.
    Status,
    /// Portal: `POST /api/anf/pieces-justificatives`.
    Upload,
    /// Prefecture: `/booking/create/{id}/0`.
    Conditions,
    /// Prefecture: `/booking/create/{id}/1`.
    Counter,
    /// Prefecture: `/booking/create/{id}/2`.
    Slots,
    /// Prefecture: the AJAX calendar `/ezjscore/call/bookingserver::planning::assign::…`.
    Planning,
    /// RDV-Préfecture: `…/demarche/{id}/cgu/`.
    Cgu,
    /// RDV-Préfecture: the CaptchEtat image API `/rdvpref/api/captchetat`.
    Captcha,
    /// RDV-Préfecture: `…/demarche/{id}/creneau/`.
    Creneau,
}

impl RouteKey {
    pub const ALL: [RouteKey; 14] = [
        RouteKey::Home,
        RouteKey::Login,
        RouteKey::Register,
        RouteKey::App,
        RouteKey::Api,
        RouteKey::Status,
        RouteKey::Upload,
        RouteKey::Conditions,
        RouteKey::Counter,
        RouteKey::Slots,
        RouteKey::Planning,
        RouteKey::Cgu,
        RouteKey::Captcha,
        RouteKey::Creneau,
    ];

    pub fn site(self) -> Site {
        match self {
            RouteKey::Home | RouteKey::Login | RouteKey::Register | RouteKey::App | RouteKey::Api | RouteKey::Status | RouteKey::Upload => {
                Site::Portal
            }
            RouteKey::Conditions | RouteKey::Counter | RouteKey::Slots | RouteKey::Planning => Site::Prefecture,
            RouteKey::Cgu | RouteKey::Captcha | RouteKey::Creneau => Site::Rdv,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteKey::Home => "home",
            RouteKey::Login => "login",
            RouteKey::Register => "register",
            RouteKey::App => "app",
            RouteKey::Api => "api",
            RouteKey::Status => "status",
            RouteKey::Upload => "upload",
            RouteKey::Conditions => "conditions",
            RouteKey::Counter => "counter",
            RouteKey::Slots => "slots",
            RouteKey::Planning => "planning",
            RouteKey::Cgu => "cgu",
            RouteKey::Captcha => "captcha",
            RouteKey::Creneau => "creneau",
        }
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a route answers. `Normal` serves the page; every other mode replaces (or withholds) it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    #[default]
    Normal,
    /// 503 with a French maintenance page and `Retry-After`.
    Maintenance,
    /// 200 with ANEF's « Une erreur technique est survenue » page.
    ErrorPage,
    /// 500.
    ServerError,
    /// 502, like a reverse proxy whose backend is gone.
    BadGateway,
    /// Accept the request and never answer (capped, ends on shutdown).
    Hang,
    /// Close the TCP connection (RST) without any HTTP response.
    Reset,
    /// 200 whose body arrives a few bytes a second.
    Trickle,
    /// 200 with a very large streamed body.
    Huge,
    /// 200 `text/html; charset=utf-8` containing invalid UTF-8.
    BadUtf8,
    /// 302 to the same path with an incrementing `loop` query parameter.
    RedirectLoop,
}

/// How the ANEF single-page app behaves in the browser, whatever its APIs answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppMode {
    #[default]
    Normal,
    /// The app's first API call never answers: the page stays on its loading spinner.
    Spinner,
    /// `main.js` throws before rendering anything: a blank page and a console error.
    ScriptError,
}

/// What RDV-Préfecture's front protection does to every visitor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotProtection {
    /// The service is served.
    #[default]
    Off,
    /// An Imperva (Incapsula) block page, HTTP 403, instead of the service.
    Imperva,
    /// A Cloudflare Turnstile challenge page ("Just a moment..."), HTTP 403.
    Turnstile,
}

/// What uploads do regardless of the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadMode {
    #[default]
    Normal,
    /// Every upload fails with 422 « Le dépôt de la pièce a échoué… ».
    Reject,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteState {
    /// The listener is closed (connection refused) while true.
    #[serde(default)]
    pub down: bool,
    /// A request arriving sooner than this after the previous one on the site gets a 502
    /// (0 = off), like the real prefecture sites under rapid requests.
    #[serde(default)]
    pub min_interval_ms: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteState {
    #[serde(default)]
    pub mode: FaultMode,
    /// Delay before answering, applied together with `mode`.
    #[serde(default)]
    pub delay_ms: u64,
}

/// Read-only counters of what the simulator did; no personal data is ever kept, only counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counters {
    #[serde(default)]
    pub accounts_created: u64,
    #[serde(default)]
    pub logins: u64,
    #[serde(default)]
    pub uploads_accepted: u64,
    #[serde(default)]
    pub uploads_rejected: u64,
}

/// A snapshot of everything switchable in the simulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimState {
    pub sites: BTreeMap<Site, SiteState>,
    pub routes: BTreeMap<RouteKey, RouteState>,
    /// Free slots offered by the prefecture booking module (step 2).
    pub prefecture_slots: u32,
    /// Free slots offered by RDV-Préfecture's `creneau` page.
    pub rdv_slots: u32,
    /// Whether RDV-Préfecture puts its CAPTCHA between the CGU and the slots (the real one
    /// always does; turning it off is a simulator-only convenience).
    pub captcha: bool,
    pub upload: UploadMode,
    /// The ANEF single-page app's own failure modes.
    #[serde(default)]
    pub app: AppMode,
    /// RDV-Préfecture's bot protection.
    #[serde(default)]
    pub bot_protection: BotProtection,
    /// Not patchable; reset by [`super::SimHandle::reset`].
    #[serde(default)]
    pub counters: Counters,
}

impl Default for SimState {
    fn default() -> Self {
        SimState {
            sites: Site::ALL.iter().map(|s| (*s, SiteState::default())).collect(),
            routes: RouteKey::ALL.iter().map(|k| (*k, RouteState::default())).collect(),
            prefecture_slots: 0,
            rdv_slots: 0,
            captcha: true,
            upload: UploadMode::Normal,
            app: AppMode::Normal,
            bot_protection: BotProtection::Off,
            counters: Counters::default(),
        }
    }
}

impl SimState {
    pub fn site(&self, site: Site) -> SiteState {
        self.sites.get(&site).copied().unwrap_or_default()
    }

    pub fn route(&self, key: RouteKey) -> RouteState {
        self.routes.get(&key).copied().unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FaultMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// A partial update of [`SimState`]: only the fields present change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<BTreeMap<Site, SitePatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<BTreeMap<RouteKey, RoutePatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefecture_slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdv_slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_protection: Option<BotProtection>,
}

impl StatePatch {
    /// Parses a JSON patch (the admin route's body).
    pub fn from_json(src: &str) -> Result<StatePatch, SimError> {
        serde_json::from_str(src).map_err(|e| SimError::InvalidPatch(e.to_string()))
    }

    /// Checks the ranges that serde cannot express; called by `apply` and when a scenario is
    /// loaded, so a bad scenario fails at load time rather than minutes into a demo.
    pub fn validate(&self) -> Result<(), SimError> {
        let too_big = |what: String, v: u64, max: u64| SimError::InvalidPatch(format!("{what}: {v} is above the maximum of {max}"));
        for (site, p) in self.sites.iter().flatten() {
            if let Some(ms) = p.min_interval_ms.filter(|ms| *ms > MAX_DELAY_MS) {
                return Err(too_big(format!("sites.{site}.min_interval_ms"), ms, MAX_DELAY_MS));
            }
        }
        for (key, p) in self.routes.iter().flatten() {
            if let Some(ms) = p.delay_ms.filter(|ms| *ms > MAX_DELAY_MS) {
                return Err(too_big(format!("routes.{key}.delay_ms"), ms, MAX_DELAY_MS));
            }
        }
        for (name, v) in [("prefecture_slots", self.prefecture_slots), ("rdv_slots", self.rdv_slots)] {
            if let Some(n) = v.filter(|n| *n > MAX_SLOTS) {
                return Err(too_big(name.to_string(), n.into(), MAX_SLOTS.into()));
            }
        }
        Ok(())
    }

    /// Applies the patch to a state (no validation: see [`StatePatch::validate`]).
    pub fn apply_to(&self, state: &mut SimState) {
        for (site, p) in self.sites.iter().flatten() {
            let s = state.sites.entry(*site).or_default();
            if let Some(v) = p.down {
                s.down = v;
            }
            if let Some(v) = p.min_interval_ms {
                s.min_interval_ms = v;
            }
        }
        for (key, p) in self.routes.iter().flatten() {
            let r = state.routes.entry(*key).or_default();
            if let Some(v) = p.mode {
                r.mode = v;
            }
            if let Some(v) = p.delay_ms {
                r.delay_ms = v;
            }
        }
        if let Some(v) = self.prefecture_slots {
            state.prefecture_slots = v;
        }
        if let Some(v) = self.rdv_slots {
            state.rdv_slots = v;
        }
        if let Some(v) = self.captcha {
            state.captcha = v;
        }
        if let Some(v) = self.upload {
            state.upload = v;
        }
        if let Some(v) = self.app {
            state.app = v;
        }
        if let Some(v) = self.bot_protection {
            state.bot_protection = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for k in RouteKey::ALL {
            assert!(seen.insert(k.as_str()));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        let s = serde_json::to_string(&FaultMode::BadUtf8).unwrap();
        assert_eq!(s, "\"bad_utf8\"");
    }

    #[test]
    fn patch_rejects_typos_and_unknown_keys() {
        let e = StatePatch::from_json(r#"{"routes":{"hom":{"mode":"maintenance"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid state patch: unknown variant `hom`"), "{e}");
        let e = StatePatch::from_json(r#"{"routes":{"home":{"mod":"maintenance"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `mod`"), "{e}");
        let e = StatePatch::from_json(r#"{"sites":{"portl":{"down":true}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `portl`"), "{e}");
        let e = StatePatch::from_json(r#"{"routes":{"home":{"mode":"broken"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `broken`"), "{e}");
        let e = StatePatch::from_json(r#"{"counters":{"logins":1}}"#).unwrap_err().to_string();
        assert!(e.contains("unknown field `counters`"), "{e}");
    }

    #[test]
    fn patch_ranges_are_checked() {
        let p = StatePatch::from_json(r#"{"routes":{"home":{"delay_ms":600001}}}"#).unwrap();
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "invalid state patch: routes.home.delay_ms: 600001 is above the maximum of 600000"
        );
        let p = StatePatch::from_json(r#"{"prefecture_slots":101}"#).unwrap();
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "invalid state patch: prefecture_slots: 101 is above the maximum of 100"
        );
    }

    #[test]
    fn patch_changes_only_what_it_names() {
        let mut s = SimState::default();
        let p = StatePatch::from_json(r#"{"routes":{"home":{"mode":"maintenance"}},"sites":{"rdv":{"min_interval_ms":5}}}"#).unwrap();
        p.apply_to(&mut s);
        assert_eq!(s.route(RouteKey::Home).mode, FaultMode::Maintenance);
        assert_eq!(s.route(RouteKey::Home).delay_ms, 0);
        assert_eq!(s.route(RouteKey::Login).mode, FaultMode::Normal);
        assert_eq!(s.site(Site::Rdv).min_interval_ms, 5);
        assert!(s.captcha);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["routes"]["home"]["mode"], "maintenance");
        assert_eq!(json["sites"]["portal"]["down"], false);
    }
}
