//! Compiling the `evidence:` and `reports:` sections and the probe files'
//! `evidence:` sections into typed settings, every error positioned.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use serde_saphyr::Spanned;

use super::alerts::Sink;
use super::raw_evidence::{RawEvidence, RawEvidenceKind, RawOfficeHours, RawProbeEvidence, RawReports, RawTimestamp};
use super::step::{pos, valid_name};
use crate::alert::settings::Language;
use crate::diag::Diagnostics;
use crate::evidence::settings::{EvidenceSettings, KindPolicy, ProbeEvidence, TimestampSettings, MAX_BODY, TIMESTAMP_EVERY};
use crate::report::settings::{OfficeHours, ReportSettings};

const DAY: Duration = Duration::from_secs(86400);

pub(super) fn compile_evidence(file: &Path, raw: &Option<Spanned<RawEvidence>>, diags: &mut Diagnostics) -> EvidenceSettings {
    let mut s = Sink { file, diags };
    let mut out = EvidenceSettings::default();
    let Some(raw) = raw else { return out };
    let r = &raw.value;
    if let Some(e) = r.enabled {
        out.enabled = e;
    }
    if let Some(k) = &r.failures {
        out.failures = kind_policy(&mut s, k, out.failures, "failures");
    }
    if let Some(k) = &r.no_capacity {
        out.no_capacity = kind_policy(&mut s, k, out.no_capacity, "no_capacity");
    }
    if let Some(m) = &r.max_body {
        if m.value.0 < 1024 || m.value.0 > MAX_BODY as u64 {
            s.err(
                pos(m),
                "`max_body` must be between 1KiB and 512KiB (the runner captures at most 512 KiB of a page)",
            );
        } else {
            out.max_body = m.value.0 as usize;
        }
    }
    if let Some(a) = &r.anchor_every {
        if a.value.0 < Duration::from_secs(60) || a.value.0 > DAY {
            s.err(pos(a), "`anchor_every` must be between 1m and 1d");
        } else {
            out.anchor_every = a.value.0;
        }
    }
    if let Some(t) = &r.timestamp {
        out.timestamp = timestamp(&mut s, t);
    }
    out
}

/// `evidence.timestamp: { url, every, ca_file }`.
fn timestamp(s: &mut Sink, raw: &Spanned<RawTimestamp>) -> Option<TimestampSettings> {
    let t = &raw.value;
    let url = t.url.value.trim();
    let ok_url = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !ok_url {
        s.err(
            pos(&t.url),
            format!(
                "`timestamp.url` `{url}` is not an http(s) address of a time-stamping authority (RFC 3161), e.g. https://freetsa.org/tsr"
            ),
        );
    }
    let mut every = TIMESTAMP_EVERY;
    if let Some(e) = &t.every {
        if e.value.0 < Duration::from_secs(60) || e.value.0 > DAY {
            s.err(pos(e), "`timestamp.every` must be between 1m and 1d");
        } else {
            every = e.value.0;
        }
    }
    let ca_file = t.ca_file.as_ref().and_then(|f| {
        let path = super::relative_to(s.file, &f.value);
        if path.is_file() {
            Some(path)
        } else {
            s.err(
                pos(f),
                format!("cannot read `timestamp.ca_file` `{}` (relative to this file's folder)", f.value),
            );
            None
        }
    });
    ok_url.then(|| TimestampSettings {
        url: url.to_string(),
        every,
        ca_file,
    })
}

fn kind_policy(s: &mut Sink, raw: &Spanned<RawEvidenceKind>, default: KindPolicy, key: &str) -> KindPolicy {
    let mut p = default;
    if let Some(e) = raw.value.enabled {
        p.enabled = e;
    }
    if let Some(every) = &raw.value.every {
        if every.value.0 > DAY {
            s.err(
                pos(every),
                format!("`{key}.every` is at most 1d: judges weigh how many days the captures cover, so keep at least one a day"),
            );
        } else {
            p.every = every.value.0;
        }
    }
    p
}

/// A probe file's `evidence:` section.
pub(super) fn compile_probe_evidence(file: &Path, raw: &Spanned<RawProbeEvidence>, diags: &mut Diagnostics) -> ProbeEvidence {
    let mut s = Sink { file, diags };
    let r = &raw.value;
    let defaults = EvidenceSettings::default();
    ProbeEvidence {
        enabled: r.enabled,
        // Unset keys of a probe's policy fall back to the built-in defaults,
        // not to the daemon's section: a probe file says what it means alone.
        failures: r.failures.as_ref().map(|k| kind_policy(&mut s, k, defaults.failures, "failures")),
        no_capacity: r
            .no_capacity
            .as_ref()
            .map(|k| kind_policy(&mut s, k, defaults.no_capacity, "no_capacity")),
    }
}

pub(super) fn compile_reports(file: &Path, raw: &Option<Spanned<RawReports>>, diags: &mut Diagnostics) -> ReportSettings {
    let mut s = Sink { file, diags };
    let mut out = ReportSettings::default();
    let Some(raw) = raw else { return out };
    let r = &raw.value;
    if let Some(l) = &r.language {
        match l.value.as_str() {
            "fr" => out.language = Language::Fr,
            "en" => out.language = Language::En,
            other => s.err(pos(l), format!("unknown language `{other}`: expected fr (the default) or en")),
        }
    }
    if let Some(a) = &r.author {
        let a = a.value.trim();
        if !a.is_empty() {
            out.author = Some(a.to_string());
        }
    }
    for (field, target) in [
        (&r.slot_observation, &mut out.slot_observation),
        (&r.first_free_observation, &mut out.first_free_observation),
    ] {
        if let Some(v) = field {
            if valid_name(&v.value) {
                *target = v.value.clone();
            } else {
                s.err(
                    pos(v),
                    format!(
                        "invalid observation name `{}`: use the name given under a step's `observe:` (lowercase letters, digits, `-` and `_`)",
                        v.value
                    ),
                );
            }
        }
    }
    if let Some(o) = &r.office_hours {
        out.office_hours = office_hours(&mut s, o);
    }
    out
}

fn office_hours(s: &mut Sink, raw: &Spanned<RawOfficeHours>) -> OfficeHours {
    let r = &raw.value;
    let mut out = OfficeHours::default();
    if let Some(days) = &r.days {
        let mut set = [false; 7];
        for d in &days.value {
            match day_index(&d.value) {
                Some(i) => set[i] = true,
                None => s.err(
                    pos(d),
                    format!(
                        "unknown day `{}`: expected mon, tue, wed, thu, fri, sat or sun (or lun, mar, mer, jeu, ven, sam, dim)",
                        d.value
                    ),
                ),
            }
        }
        if days.value.is_empty() {
            s.err(
                pos(days),
                "`office_hours.days` is empty: list the open days, such as [mon, tue, wed, thu, fri]",
            );
        }
        out.days = set;
    }
    let from = r.from.as_ref().and_then(|f| hour(s, f, false));
    let to = r.to.as_ref().and_then(|t| hour(s, t, true));
    if let Some(f) = from {
        out.from_hour = f;
    }
    if let Some(t) = to {
        out.to_hour = t;
    }
    if out.to_hour <= out.from_hour && (from.is_some() || to.is_some()) {
        let at = r.to.as_ref().or(r.from.as_ref()).map(pos).unwrap_or(pos(raw));
        s.err(
            at,
            format!(
                "office hours end before they start ({:02}:00 to {:02}:00): `to` must be later than `from`",
                out.from_hour, out.to_hour
            ),
        );
    }
    for h in &r.holidays {
        match NaiveDate::parse_from_str(h.value.trim(), "%Y-%m-%d") {
            Ok(d) => {
                out.holidays.insert(d);
            }
            Err(_) => s.err(
                pos(h),
                format!("invalid date `{}`: expected YYYY-MM-DD, such as 2026-12-25", h.value),
            ),
        }
    }
    out
}

fn day_index(d: &str) -> Option<usize> {
    const EN: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const FR: [&str; 7] = ["lun", "mar", "mer", "jeu", "ven", "sam", "dim"];
    let d = d.trim().to_ascii_lowercase();
    EN.iter().position(|x| *x == d).or_else(|| FR.iter().position(|x| *x == d))
}

/// `09:00` → 9. Whole hours only; `24:00` is allowed as an end.
fn hour(s: &mut Sink, v: &Spanned<String>, is_end: bool) -> Option<u32> {
    let text = v.value.trim();
    let parsed = text
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
        .or_else(|| text.parse::<u32>().ok().map(|h| (h, 0)));
    match parsed {
        Some((h, 0)) if h < 24 || (is_end && h == 24) => Some(h),
        Some((h, m)) if h < 24 && m < 60 => {
            s.err(
                pos(v),
                format!("office hours start and end on the hour (`{h:02}:00`, not `{text}`): availability is computed from hourly rollups"),
            );
            None
        }
        _ => {
            s.err(pos(v), format!("invalid time `{text}`: expected HH:00, such as 09:00"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{load, DiskFiles, LoadOptions};

    /// The annotated production example loads into the settings it describes.
    #[test]
    fn the_shipped_example_configures_evidence_and_reports() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vigie.yaml");
        let opts = LoadOptions {
            secrets_optional: true,
            ..LoadOptions::default()
        };
        let c = load(&path, &DiskFiles, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.evidence.enabled);
        assert_eq!(c.evidence.failures.every, Duration::from_secs(900));
        assert_eq!(c.evidence.no_capacity.every, Duration::from_secs(3600));
        assert_eq!(c.evidence.max_body, 512 * 1024);
        let o = &c.reports.office_hours;
        assert_eq!(
            (o.from_hour, o.to_hour, o.days),
            (9, 17, [true, true, true, true, true, false, false])
        );
        assert_eq!(o.holidays.len(), 2);
        assert_eq!(
            o.describe(crate::alert::settings::Language::Fr),
            "du lundi au vendredi, de 9 h à 17 h, hors 2 jour(s) férié(s)"
        );
        let demo =
            load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.yaml"), &DiskFiles, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            demo.evidence.no_capacity.every,
            Duration::from_secs(60),
            "the demo keeps a capture a minute"
        );
    }
}
