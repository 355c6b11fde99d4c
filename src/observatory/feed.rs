//! The Atom feed of incidents (RFC 4287): one entry per outage, updated
//! when it ends, naming the procedure and the duration.

use super::html::{incident_cause, suffix};
use super::model::{IncidentOut, Observatory};
use super::words;
use crate::alert::settings::Language;
use crate::report::fmt::{self, esc};

fn base(o: &Observatory) -> Option<String> {
    o.public_url
        .as_ref()
        .map(|u| if u.ends_with('/') { u.clone() } else { format!("{u}/") })
}

fn entry(o: &Observatory, i: &IncidentOut, lang: Language) -> String {
    let w = words::of(lang);
    let tz: chrono_tz::Tz = o.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let updated = i.ended_at.unwrap_or(i.started_at);
    let (head, state) = match i.ended_at {
        Some(end) => (
            w.feed_resolved,
            format!(
                "{} → {} ({})",
                fmt::datetime(i.started_at, tz, lang),
                fmt::datetime(end, tz, lang),
                fmt::duration(i.duration_s, lang)
            ),
        ),
        None => (
            w.feed_opened,
            format!(
                "{} {} ({}, {})",
                w.since,
                fmt::datetime(i.started_at, tz, lang),
                w.ongoing,
                fmt::duration(i.duration_s, lang)
            ),
        ),
    };
    let link = base(o)
        .map(|b| {
            format!(
                r#"<link rel="alternate" type="text/html" href="{}procedure/{}{}.html"/>"#,
                esc(&b),
                i.procedure,
                suffix(lang)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<entry><id>tag:vigie,2026:incident-{id}</id><title>{head} : {title}</title><updated>{updated}</updated><published>{published}</published>{link}<category term="{outcome}"/><summary type="text">{site} — {title} : {cause}. {state}</summary></entry>
"#,
        id = i.id,
        title = esc(&i.title),
        updated = updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        published = i.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        outcome = esc(&i.outcome),
        site = esc(&o.procedure(&i.procedure).map(|p| p.site_title.clone()).unwrap_or_default()),
        cause = esc(&incident_cause(i, lang)),
        state = esc(&state),
    )
}

/// The feed, in one language, most recent first (at most 100 entries).
pub fn atom(o: &Observatory, lang: Language) -> String {
    let w = words::of(lang);
    let incidents = o.incidents();
    let updated = incidents
        .iter()
        .map(|i| i.ended_at.unwrap_or(i.started_at))
        .max()
        .unwrap_or(o.generated_at);
    let links = match base(o) {
        Some(b) => format!(
            r#"<link rel="self" type="application/atom+xml" href="{b}incidents{s}.atom"/><link rel="alternate" type="text/html" href="{b}index{s}.html"/>"#,
            b = esc(&b),
            s = suffix(lang)
        ),
        None => String::new(),
    };
    let title = if o.title.is_empty() { w.default_title } else { &o.title };
    let mut s = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}"><id>tag:vigie,2026:observatory-incidents-{lang}</id><title>{title} — {feed}</title><updated>{updated}</updated><author><name>vigie</name></author><generator version="{v}">vigie</generator>{links}
"#,
        lang = lang.as_str(),
        title = esc(title),
        feed = esc(w.feed),
        updated = updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        v = env!("CARGO_PKG_VERSION"),
    );
    for i in incidents.iter().take(100) {
        s.push_str(&entry(o, i, lang));
    }
    s.push_str("</feed>\n");
    s
}
