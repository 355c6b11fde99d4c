//! The configuration as the user wrote it: serde structs that mirror the YAML
//! (`deny_unknown_fields` everywhere), with positions kept on every value a
//! later stage may have to complain about. Nothing here is validated beyond
//! its shape; `compile.rs` turns it into the checked, runnable form.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::raw_alerts::{RawAlerts, RawMaintenance, RawProbeAlerts, RawSmtp, RawStore};
use super::raw_evidence::{RawEvidence, RawProbeEvidence, RawReports};
use super::units::{ByteSize, HumanDuration};

pub type S<T> = Spanned<T>;

/// A YAML mapping kept in file order, with the position of each key.
#[derive(Debug, Clone)]
pub struct OrderedMap<V>(pub Vec<(S<String>, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<S<String>>()? {
                    let v = map.next_value::<V>()?;
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

/// One value or a list of values (`body_contains: "x"` or `body_contains: [x, y]`).
#[derive(Debug, Clone)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<T>()? {
                    out.push(x);
                }
                Ok(OneOrMany(out))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|x| OneOrMany(vec![x]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(de::value::U64Deserializer::<E>::new(v)).map(|x| OneOrMany(vec![x]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(de::value::I64Deserializer::<E>::new(v)).map(|x| OneOrMany(vec![x]))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// HTTP status codes: `200` or `[200, 302]`, each 100 to 599.
#[derive(Debug, Clone)]
pub struct StatusCodes(pub Vec<u16>);

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn check<E: de::Error>(v: i64) -> Result<u16, E> {
            if (100..=599).contains(&v) {
                Ok(v as u16)
            } else {
                Err(E::custom(format!("invalid HTTP status {v}: expected a number from 100 to 599")))
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = StatusCodes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status (such as 200) or a list of them (such as [200, 302])")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusCodes, E> {
                Ok(StatusCodes(vec![check(i64::try_from(v).unwrap_or(i64::MAX))?]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusCodes, E> {
                Ok(StatusCodes(vec![check(v)?]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusCodes, E> {
                match v.trim().parse::<i64>() {
                    Ok(n) => Ok(StatusCodes(vec![check(n)?])),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusCodes, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<i64>()? {
                    out.push(check(n)?);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("the list of HTTP statuses is empty"));
                }
                Ok(StatusCodes(out))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------- daemon config

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Vantage point of this instance (a metric label).
    pub location: S<String>,
    /// Contact put in the User-Agent (an e-mail or URL): required by the
    /// responsible-probing rules, so the portal's operators can reach us.
    pub contact: S<String>,
    #[serde(default)]
    pub timezone: Option<S<String>>,
    #[serde(default)]
    pub listen: Option<S<String>>,
    /// Glob patterns (`*` in the file name) of probe files, relative to this file.
    pub probes: Vec<S<String>>,
    #[serde(default)]
    pub concurrency: Option<S<u32>>,
    #[serde(default)]
    pub default_politeness: Option<RawPoliteness>,
    pub targets: OrderedMap<RawTarget>,
    #[serde(default)]
    pub vars: OrderedMap<S<String>>,
    /// History store, alerting, e-mail delivery and maintenance windows
    /// (see `raw_alerts.rs`).
    #[serde(default)]
    pub store: Option<S<RawStore>>,
    #[serde(default)]
    pub alerts: Option<S<RawAlerts>>,
    #[serde(default)]
    pub smtp: Option<S<RawSmtp>>,
    /// Evidence kept of failing and no-slot runs, and report defaults (see
    /// `raw_evidence.rs`).
    #[serde(default)]
    pub evidence: Option<S<RawEvidence>>,
    #[serde(default)]
    pub reports: Option<S<RawReports>>,
    #[serde(default)]
    pub maintenance: Vec<S<RawMaintenance>>,
    /// A section owned by a later stage (the status page). Kept raw here so
    /// that the core config stays independent of it.
    #[serde(default)]
    pub status_page: Option<S<serde_json::Value>>,
    /// Chromium for browser probes.
    #[serde(default)]
    pub browser: Option<S<RawBrowser>>,
    /// The public observatory (static site, public address).
    #[serde(default)]
    pub publish: Option<S<super::publish::RawPublish>>,
    /// Optional per-probe metric families.
    #[serde(default)]
    pub metrics: Option<S<RawMetrics>>,
}

/// `metrics:`: which optional per-probe series `/metrics` exports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    #[serde(default)]
    pub duration_histogram: Option<bool>,
    #[serde(default)]
    pub step_phases: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoliteness {
    #[serde(default)]
    pub min_interval: Option<S<HumanDuration>>,
    #[serde(default)]
    pub max_concurrent: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub base_url: S<String>,
    /// Extra certificate authorities (PEM) to trust for this target, on top
    /// of the system's: for a portal behind a private CA, or a test server.
    #[serde(default)]
    pub ca_file: Option<S<String>>,
    #[serde(default)]
    pub min_interval: Option<S<HumanDuration>>,
    #[serde(default)]
    pub max_concurrent: Option<S<u32>>,
    #[serde(default)]
    pub vars: OrderedMap<S<String>>,
}

// ---------------------------------------------------------------- probe files

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub name: S<String>,
    pub title: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    pub target: S<String>,
    #[serde(default)]
    pub labels: Option<RawLabels>,
    pub schedule: S<String>,
    #[serde(default)]
    pub timezone: Option<S<String>>,
    #[serde(default)]
    pub timeout: Option<S<HumanDuration>>,
    #[serde(default)]
    pub degraded_after: Option<S<HumanDuration>>,
    #[serde(default)]
    pub vars: OrderedMap<S<String>>,
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    #[serde(default)]
    pub broken_when: Vec<S<RawMatch>>,
    /// Conditions that mean "a bot-protection page, not the service".
    #[serde(default)]
    pub blocked_when: Vec<S<RawMatch>>,
    /// Alerting policy (failure/success thresholds, recipients...).
    #[serde(default)]
    pub alerts: Option<S<RawProbeAlerts>>,
    /// How often this probe's pages are kept as evidence.
    #[serde(default)]
    pub evidence: Option<S<RawProbeEvidence>>,
    /// `http` (the default) or `browser`.
    #[serde(default)]
    pub kind: Option<S<String>>,
    /// Settings of a browser probe.
    #[serde(default)]
    pub browser: Option<S<RawBrowserProbe>>,
    /// Steps are re-read one by one (see `yaml::reparse_node`) so that each
    /// reports its own errors.
    pub steps: Vec<S<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLabels {
    #[serde(default)]
    pub procedure: Option<S<String>>,
    #[serde(default)]
    pub site: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    #[serde(default)]
    pub timeout: Option<S<HumanDuration>>,
    #[serde(default)]
    pub max_body: Option<S<ByteSize>>,
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    #[serde(default)]
    pub headers: OrderedMap<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: S<String>,
    /// HTTP steps.
    #[serde(default)]
    pub request: Option<S<RawRequest>>,
    /// Browser steps: one action each.
    #[serde(default)]
    pub goto: Option<S<String>>,
    #[serde(default)]
    pub click: Option<S<String>>,
    #[serde(default)]
    pub fill: Option<S<RawFill>>,
    #[serde(default)]
    pub select: Option<S<RawFill>>,
    #[serde(default)]
    pub check: Option<S<String>>,
    #[serde(default)]
    pub uncheck: Option<S<String>>,
    #[serde(default)]
    pub upload: Option<S<RawUpload>>,
    #[serde(default)]
    pub wait_for: Option<S<RawWait>>,
    #[serde(default)]
    pub screenshot: Option<bool>,
    #[serde(default)]
    pub timeout: Option<S<HumanDuration>>,
    #[serde(default)]
    pub expect: Option<S<RawMatch>>,
    #[serde(default)]
    pub extract: OrderedMap<S<RawExtract>>,
    #[serde(default)]
    pub observe: OrderedMap<S<RawObserve>>,
    #[serde(default)]
    pub no_capacity_when: Option<S<RawMatch>>,
    #[serde(default)]
    pub captcha_when: Option<S<RawMatch>>,
    #[serde(default)]
    pub broken_when: Vec<S<RawMatch>>,
}

/// `browser:` of the daemon configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBrowser {
    #[serde(default)]
    pub executable: Option<S<String>>,
    #[serde(default)]
    pub max_concurrent: Option<S<u32>>,
    #[serde(default)]
    pub max_memory: Option<S<ByteSize>>,
    #[serde(default)]
    pub per_host: Option<S<u32>>,
    #[serde(default)]
    pub profile_dir: Option<S<String>>,
}

/// `fill:` and `select:` of a browser step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFill {
    pub selector: S<String>,
    pub value: S<String>,
}

/// `upload:` of a browser step: a file input and what to put in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpload {
    pub selector: S<String>,
    #[serde(default)]
    pub file: Option<S<String>>,
    #[serde(default)]
    pub generate: Option<S<RawGenerate>>,
    #[serde(default)]
    pub filename: Option<S<String>>,
}

/// `wait_for:` of a browser step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWait {
    #[serde(default)]
    pub selector: Option<S<String>>,
    #[serde(default)]
    pub selector_gone: Option<S<String>>,
    #[serde(default)]
    pub text: Option<S<String>>,
    #[serde(default)]
    pub timeout: Option<S<HumanDuration>>,
}

/// `browser:` of a browser probe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBrowserProbe {
    /// `1280x800`.
    #[serde(default)]
    pub viewport: Option<S<String>>,
    #[serde(default)]
    pub block_hosts: Vec<S<String>>,
    #[serde(default)]
    pub block_third_party: Option<bool>,
    /// `failures` (default) or `every_step`.
    #[serde(default)]
    pub screenshots: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    #[serde(default)]
    pub method: Option<S<String>>,
    pub url: S<String>,
    #[serde(default)]
    pub headers: OrderedMap<S<String>>,
    #[serde(default)]
    pub query: OrderedMap<S<String>>,
    #[serde(default)]
    pub form: Option<OrderedMap<S<String>>>,
    #[serde(default)]
    pub json: Option<S<serde_json::Value>>,
    #[serde(default)]
    pub multipart: Option<Vec<S<RawPart>>>,
    #[serde(default)]
    pub body: Option<S<String>>,
    #[serde(default)]
    pub content_type: Option<S<String>>,
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    #[serde(default)]
    pub max_redirects: Option<S<u32>>,
    #[serde(default)]
    pub max_body: Option<S<ByteSize>>,
    #[serde(default)]
    pub timeout: Option<S<HumanDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPart {
    pub name: S<String>,
    #[serde(default)]
    pub value: Option<S<String>>,
    /// A file under the probes' `fixtures/` folder.
    #[serde(default)]
    pub file: Option<S<String>>,
    #[serde(default)]
    pub generate: Option<S<RawGenerate>>,
    #[serde(default)]
    pub filename: Option<S<String>>,
    #[serde(default)]
    pub content_type: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGenerate {
    pub size: S<ByteSize>,
    #[serde(default)]
    pub kind: Option<S<String>>,
}

/// Conditions on a response; also carries `reason` for `broken_when` entries.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    #[serde(default)]
    pub status: Option<S<StatusCodes>>,
    #[serde(default)]
    pub body_contains: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub body_not_contains: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub body_matches: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub css_present: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub css_absent: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub json: OrderedMap<S<serde_json::Value>>,
    #[serde(default)]
    pub json_exists: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub headers: OrderedMap<S<String>>,
    #[serde(default)]
    pub max_duration: Option<S<HumanDuration>>,
    #[serde(default)]
    pub text_contains: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub text_not_contains: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub url_contains: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub title_contains: Option<S<OneOrMany<String>>>,
    #[serde(default)]
    pub reason: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExtract {
    #[serde(default)]
    pub css: Option<S<String>>,
    #[serde(default)]
    pub attr: Option<S<String>>,
    #[serde(default)]
    pub regex: Option<S<String>>,
    #[serde(default)]
    pub group: Option<S<u32>>,
    #[serde(default)]
    pub header: Option<S<String>>,
    #[serde(default)]
    pub cookie: Option<S<String>>,
    #[serde(default)]
    pub json: Option<S<String>>,
    #[serde(default)]
    pub status: Option<bool>,
    #[serde(default)]
    pub url: Option<bool>,
    #[serde(default)]
    pub secret: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObserve {
    #[serde(default)]
    pub css_count: Option<S<String>>,
    #[serde(default)]
    pub css: Option<S<String>>,
    #[serde(default)]
    pub attr: Option<S<String>>,
    #[serde(default)]
    pub regex: Option<S<String>>,
    #[serde(default)]
    pub regex_count: Option<S<String>>,
    #[serde(default)]
    pub group: Option<S<u32>>,
    #[serde(default)]
    pub json: Option<S<String>>,
    #[serde(default, rename = "as")]
    pub as_kind: Option<S<String>>,
}
