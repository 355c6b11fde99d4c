//! The `publish:` section (the public observatory, see docs/observatory.md):
//! as written, and compiled into `observatory::PublishSettings`, every
//! error positioned.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::alerts::{public_url, Sink};
use super::raw::{OrderedMap, S};
use super::step::pos;
use super::units::HumanDuration;
use crate::diag::Diagnostics;
use crate::observatory::PublishSettings;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPublish {
    /// Folder the daemon rewrites the static site into (relative to this file).
    #[serde(default)]
    pub output: Option<S<String>>,
    /// How often (default 5m, at least 1m).
    #[serde(default)]
    pub every: Option<S<HumanDuration>>,
    /// Where the public reads the site: e-mails and the feed link there.
    #[serde(default)]
    pub public_url: Option<S<String>>,
    #[serde(default)]
    pub title: Option<S<String>>,
    /// `labels.site` → the title people read.
    #[serde(default)]
    pub sites: OrderedMap<S<String>>,
}

pub(super) fn compile_publish(file: &Path, raw: &Option<Spanned<RawPublish>>, diags: &mut Diagnostics) -> PublishSettings {
    let mut s = Sink { file, diags };
    let mut out = PublishSettings::default();
    let Some(raw) = raw else { return out };
    let r = &raw.value;
    if let Some(o) = &r.output {
        if o.value.trim().is_empty() {
            s.err(pos(o), "`output` is empty: give the folder to publish into, such as var/site");
        } else {
            out.output = Some(super::relative_to(file, o.value.trim()));
        }
    }
    if let Some(e) = &r.every {
        if e.value.0 < Duration::from_secs(60) || e.value.0 > Duration::from_secs(86400) {
            s.err(
                pos(e),
                "`every` must be between 1m and 1d (publishing reads 90 days of rollups each time)",
            );
        } else {
            out.every = e.value.0;
        }
    }
    if let Some(u) = &r.public_url {
        out.public_url = public_url(&mut s, u, "public_url");
    }
    if let Some(t) = &r.title {
        out.title = Some(t.value.trim().to_string()).filter(|t| !t.is_empty());
    }
    for (k, v) in &r.sites.0 {
        out.sites.insert(k.value.clone(), v.value.trim().to_string());
    }
    out
}
