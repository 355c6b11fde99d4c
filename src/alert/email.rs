//! Rendering e-mails: notices → subject, plain text and HTML (minijinja
//! templates in `templates/`, one per language and format), then the MIME
//! message (multipart/alternative) with a Message-ID and MIME boundary that
//! are stable per outbox row, so every delivery attempt sends the same bytes.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::machine::NoticeKind;
use super::notice::Notice;
use super::settings::Language;
use super::wording;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("e-mail template: {0}")]
    Template(minijinja::Error),
    #[error("e-mail assembly: {0}")]
    Build(lettre::error::Error),
}

impl From<minijinja::Error> for EmailError {
    fn from(e: minijinja::Error) -> Self {
        EmailError::Template(e)
    }
}

impl From<lettre::error::Error> for EmailError {
    fn from(e: lettre::error::Error) -> Self {
        EmailError::Build(e)
    }
}

/// What rendering needs besides the notices.
#[derive(Debug, Clone)]
pub struct RenderSettings {
    pub language: Language,
    pub timezone: chrono_tz::Tz,
    pub status_page_url: Option<String>,
    pub grafana_url: Option<String>,
    pub evidence_url: Option<String>,
}

/// A rendered e-mail, before MIME assembly (what golden files compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Serialize)]
struct EmailView {
    kind: &'static str,
    grouped: bool,
    headline: String,
    items: Vec<ItemView>,
    status_page_url: Option<String>,
    grafana_url: Option<String>,
    /// `heure de Paris` / `Paris time`.
    zone_label: String,
}

#[derive(Serialize)]
struct ItemView {
    title: String,
    probe: String,
    procedure: String,
    site: String,
    location: String,
    outcome: &'static str,
    visitor_sees: String,
    summary: String,
    step: Option<String>,
    step_position: Option<String>,
    reason: Option<&'static str>,
    message: Option<String>,
    technical: Option<String>,
    since: String,
    detected: String,
    ended: Option<String>,
    last_failure: String,
    duration: String,
    failing_runs: u32,
    threshold: u32,
    last_http_status: Option<u16>,
    began_in_maintenance: Option<String>,
    unobserved_from: Option<String>,
    unobserved_to: Option<String>,
    trace_at: String,
    trace: Vec<TraceView>,
    excerpt: Option<String>,
    /// The screenshot kept for the run: its record number, and a link
    /// when the team's evidence address is configured.
    screenshot_seq: Option<u64>,
    screenshot_url: Option<String>,
}

#[derive(Serialize)]
struct TraceView {
    mark: &'static str,
    step: String,
    detail: String,
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        // The templates are part of the binary and covered by golden tests;
        // a syntax error is caught there, and reported at render time.
        for (name, src) in [
            ("fr.txt", include_str!("templates/fr.txt")),
            ("fr.html", include_str!("templates/fr.html")),
            ("en.txt", include_str!("templates/en.txt")),
            ("en.html", include_str!("templates/en.html")),
        ] {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "invalid built-in e-mail template");
            }
        }
        env
    })
}

fn item(s: &RenderSettings, kind: NoticeKind, n: &Notice) -> ItemView {
    let lang = s.language;
    let fr = lang == Language::Fr;
    let when = |t: DateTime<Utc>| wording::date_time(lang, s.timezone, t);
    let local = |t: DateTime<Utc>| wording::local_date_time(lang, s.timezone, t);
    let outcome = wording::outcome_label(lang, n.outcome());
    let duration = wording::duration(lang, n.duration());
    let local_hm = n.started_at.with_timezone(&s.timezone).format("%H:%M").to_string();
    let summary = match (kind, fr) {
        (NoticeKind::Opened, true) => format!("{outcome} depuis {local_hm}"),
        (NoticeKind::Opened, false) => format!("{outcome} since {local_hm}"),
        (NoticeKind::Reminder, true) => format!("{outcome} depuis {duration}"),
        (NoticeKind::Reminder, false) => format!("{outcome} for {duration}"),
        (NoticeKind::Recovered, true) => format!("rétabli après {duration} de panne"),
        (NoticeKind::Recovered, false) => format!("recovered after {duration}"),
        (NoticeKind::Unobserved, true) => format!("{} depuis {local_hm}", wording::unobserved_cause(lang, n.cause.reason)),
        (NoticeKind::Unobserved, false) => format!("{} since {local_hm}", wording::unobserved_cause(lang, n.cause.reason)),
    };
    let c = &n.cause;
    ItemView {
        title: n.title.clone(),
        probe: n.probe.clone(),
        procedure: n.procedure.clone(),
        site: n.site.clone(),
        location: n.location.clone(),
        outcome,
        visitor_sees: wording::visitor_sees(lang, n),
        summary,
        step: c.failed_step.clone(),
        step_position: c.step_position.map(|(i, of)| {
            if fr {
                format!("étape {i} sur {of}")
            } else {
                format!("step {i} of {of}")
            }
        }),
        reason: c.reason.map(|r| if fr { r.label_fr() } else { r.label_en() }),
        // French readers get the French detail; the English one (what the
        // trace and the logs say) stays as a technician's secondary detail.
        message: if fr { c.message_fr.clone() } else { c.message.clone() },
        technical: if fr { c.message.clone() } else { None },
        since: when(n.started_at),
        detected: when(n.detected_at),
        ended: n.ended_at.map(when),
        last_failure: when(n.last_failure_at),
        duration,
        failing_runs: n.failing_runs,
        threshold: n.failure_threshold,
        last_http_status: c.last_http_status,
        began_in_maintenance: n.began_in_maintenance_at.map(local),
        // Only a silence between the last failure and the end hides the recovery.
        unobserved_from: n
            .unobserved
            .filter(|(from, _)| kind == NoticeKind::Recovered && *from >= n.last_failure_at)
            .map(|(from, _)| local(from)),
        unobserved_to: n
            .unobserved
            .filter(|(from, _)| kind == NoticeKind::Recovered && *from >= n.last_failure_at)
            .map(|(_, to)| local(to)),
        trace_at: wording::clock(s.timezone, n.trace_at),
        trace: n
            .trace
            .iter()
            .map(|l| TraceView {
                mark: wording::mark(l.status),
                step: l.step.clone(),
                detail: wording::trace_detail(lang, l),
            })
            .collect(),
        excerpt: c.excerpt.clone(),
        screenshot_seq: c.screenshot_seq,
        screenshot_url: c
            .screenshot_seq
            .zip(s.evidence_url.as_deref())
            .map(|(seq, base)| format!("{}/preuves/capture/{seq}.png", base.trim_end_matches('/'))),
    }
}

/// Subject and bodies for `notices` (one, or several grouped).
pub fn render(s: &RenderSettings, kind: NoticeKind, notices: &[&Notice]) -> Result<Rendered, EmailError> {
    let subject = wording::subject(s.language, kind, notices);
    let view = EmailView {
        kind: kind.as_str(),
        grouped: notices.len() > 1,
        headline: subject.trim_start_matches("[vigie] ").to_string(),
        items: notices.iter().map(|n| item(s, kind, n)).collect(),
        status_page_url: s.status_page_url.clone(),
        grafana_url: s.grafana_url.clone(),
        zone_label: wording::zone_name(s.language, s.timezone),
    };
    let lang = s.language.as_str();
    let env = env();
    let text = env.get_template(&format!("{lang}.txt"))?.render(&view)?;
    let html = env.get_template(&format!("{lang}.html"))?.render(&view)?;
    Ok(Rendered {
        subject,
        text: tidy(&text),
        html,
    })
}

/// Collapse runs of blank lines left by optional template sections.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    // The signature separator is "-- " with its trailing space (RFC 3676).
    out.trim_start_matches('\n').replace("\n--\n", "\n-- \n")
}

/// Everything that makes the message bytes.
pub struct Envelope<'a> {
    pub from: &'a Mailbox,
    pub to: &'a [Mailbox],
    pub message_id: &'a str,
    pub date: DateTime<Utc>,
    pub kind: NoticeKind,
}

/// The complete RFC 5322 message. With no recipient it is addressed to the
/// sender (the spool still gets a readable file).
pub fn assemble(r: &Rendered, e: &Envelope) -> Result<Vec<u8>, EmailError> {
    let mut b = Message::builder()
        .from(e.from.clone())
        .subject(r.subject.clone())
        .message_id(Some(format!("<{}>", e.message_id)))
        .date(e.date.into())
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Vigie-Kind"),
            e.kind.as_str().into(),
        ));
    if e.to.is_empty() {
        b = b.to(e.from.clone());
    }
    for m in e.to {
        b = b.to(m.clone());
    }
    let boundary = format!("vigie-{}", e.message_id.split('@').next().unwrap_or("part").replace('.', "-"));
    let msg = b.multipart(
        MultiPart::alternative()
            .boundary(boundary)
            .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(r.text.clone()))
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(r.html.clone())),
    )?;
    Ok(msg.formatted())
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
