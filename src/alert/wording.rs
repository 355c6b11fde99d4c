//! Words for people, in French (the default) and English: dates in local
//! time and UTC, durations, what a visitor sees, step trace lines, subjects.
//! Everything language-dependent that is not layout lives here; the layout
//! is in the e-mail templates.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::machine::NoticeKind;
use super::notice::{Notice, TraceLine};
use super::settings::Language;
use crate::probe::{Outcome, Reason, StepStatus};

/// `27/11/2026 à 14:05 (heure de Paris) — 13:05 UTC`.
pub fn date_time(lang: Language, tz: chrono_tz::Tz, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&tz);
    let utc_part = if local.date_naive() == t.date_naive() {
        t.format("%H:%M UTC").to_string()
    } else {
        t.format("%d/%m/%Y %H:%M UTC").to_string()
    };
    let zone = zone_name(lang, tz);
    match lang {
        Language::Fr => format!("{} à {} ({zone}) — {utc_part}", local.format("%d/%m/%Y"), local.format("%H:%M")),
        Language::En => format!("{} at {} ({zone}) — {utc_part}", local.format("%d/%m/%Y"), local.format("%H:%M")),
    }
}

/// `27/11/2026 à 14:05`, local time only (the sentence names the zone).
pub fn local_date_time(lang: Language, tz: chrono_tz::Tz, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&tz);
    match lang {
        Language::Fr => format!("{} à {}", local.format("%d/%m/%Y"), local.format("%H:%M")),
        Language::En => format!("{} at {}", local.format("%d/%m/%Y"), local.format("%H:%M")),
    }
}

/// `14:07:03` local time, for the trace header.
pub fn clock(tz: chrono_tz::Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%H:%M:%S").to_string()
}

pub fn zone_name(lang: Language, tz: chrono_tz::Tz) -> String {
    let city = tz.name().rsplit('/').next().unwrap_or(tz.name()).replace('_', " ");
    match lang {
        Language::Fr => format!("heure de {city}"),
        Language::En => format!("{city} time"),
    }
}

/// An outage's length: `45 s`, `1 min 50 s`, `12 min`, `4 h 05`, `2 j 3 h`.
/// Seconds are kept below 10 minutes, where they are a large share.
pub fn duration(lang: Language, d: Duration) -> String {
    let s = d.as_secs();
    let day = match lang {
        Language::Fr => "j",
        Language::En => "d",
    };
    if s < 60 {
        format!("{s} s")
    } else if s < 600 && !s.is_multiple_of(60) {
        format!("{} min {:02} s", s / 60, s % 60)
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86400 {
        format!("{} h {:02}", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} {day} {} h", s / 86400, (s % 86400) / 3600)
    }
}

/// A step's time: `320 ms`, `1,2 s` (decimal comma in French).
pub fn step_time(lang: Language, secs: f64) -> String {
    if secs < 1.0 {
        format!("{} ms", (secs * 1000.0).round() as u64)
    } else {
        let t = format!("{secs:.1} s");
        match lang {
            Language::Fr => t.replace('.', ","),
            Language::En => t,
        }
    }
}

pub fn outcome_label(lang: Language, o: Outcome) -> &'static str {
    match lang {
        Language::Fr => o.label_fr(),
        Language::En => o.label_en(),
    }
}

/// One sentence: what a person trying the procedure experiences.
pub fn visitor_sees(lang: Language, n: &Notice) -> String {
    let step = n.cause.failed_step.as_deref().unwrap_or("?");
    match (lang, n.outcome()) {
        (Language::Fr, Outcome::Down) => "Le site ne répond pas : un usager ne peut pas y accéder.".into(),
        (Language::Fr, Outcome::Broken) => {
            format!("Le site répond, mais la démarche échoue à l'étape « {step} » : un usager ne peut pas la mener à bout.")
        }
        (Language::Fr, Outcome::NoCapacity) => {
            "Le site fonctionne, mais aucun créneau n'est proposé : un usager ne peut pas prendre rendez-vous.".into()
        }
        (Language::Fr, Outcome::Degraded) => "Le site fonctionne, mais les pages mettent très longtemps à s'afficher.".into(),
        (Language::Fr, Outcome::Up) => "Le site fonctionne.".into(),
        (lang, Outcome::Unobserved) => not_observed(lang, n.cause.reason),
        (Language::En, Outcome::Down) => "The site does not respond: a visitor cannot reach it.".into(),
        (Language::En, Outcome::Broken) => {
            format!("The site responds, but the procedure fails at step \"{step}\": a visitor cannot complete it.")
        }
        (Language::En, Outcome::NoCapacity) => "The site works, but offers no slot: a visitor cannot book an appointment.".into(),
        (Language::En, Outcome::Degraded) => "The site works, but pages take very long to load.".into(),
        (Language::En, Outcome::Up) => "The site works.".into(),
    }
}

/// Why vigie saw nothing, and what that means (an operator notice).
fn not_observed(lang: Language, reason: Option<Reason>) -> String {
    let blocked = reason == Some(Reason::Blocked);
    match (lang, blocked) {
        (Language::Fr, true) => "La protection anti-robots du site a refusé vigie : la vérification n'a pas vu le service. \
            Ce n'est pas une panne du portail, et vigie n'essaie jamais de contourner cette protection."
            .into(),
        (Language::Fr, false) => "vigie n'a pas pu effectuer la vérification, à cause d'une défaillance de la machine qui l'exécute \
            (navigateur absent ou arrêté, mémoire, fichiers ouverts). Ce n'est pas une panne du portail."
            .into(),
        (Language::En, true) => "The site's bot protection refused vigie: the check did not see the service. \
            This is not an outage of the portal, and vigie never tries to get past such a protection."
            .into(),
        (Language::En, false) => "vigie could not perform the check because of a failure of the machine it runs on \
            (browser missing or stopped, memory, open files). This is not an outage of the portal."
            .into(),
    }
}

/// `✓`, `✗`, `∅` (no slot), `⛔` (CAPTCHA) or `·` (not run).
pub fn mark(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Passed => "✓",
        StepStatus::Failed => "✗",
        StepStatus::NoCapacity => "∅",
        StepStatus::Captcha => "⛔",
        StepStatus::Skipped => "·",
    }
}

/// `GET https://…/x → 200 en 320 ms — raison`, without the mark and name.
pub fn trace_detail(lang: Language, l: &TraceLine) -> String {
    let fr = lang == Language::Fr;
    if l.status == StepStatus::Skipped {
        return if fr { "non exécutée".into() } else { "not run".into() };
    }
    let url = l.url.as_deref().map(short_url).unwrap_or_else(|| "?".into());
    let time = step_time(lang, l.duration_s);
    let answer = match (l.http_status, fr) {
        (Some(code), true) => format!("{code} en {time}"),
        (Some(code), false) => format!("{code} in {time}"),
        (None, true) => format!("pas de réponse après {time}"),
        (None, false) => format!("no response after {time}"),
    };
    // The requests as sent: after a redirect, `POST …/1 → 302 → GET …/2`.
    let sent = if l.chain.is_empty() {
        format!("{} {url}", l.method)
    } else {
        crate::probe::Hop::describe(&l.chain, short_url)
    };
    let mut out = format!("{sent} → {answer}");
    match l.status {
        StepStatus::Captcha => out.push_str(if fr {
            " — CAPTCHA atteint (vigie ne les résout jamais)"
        } else {
            " — CAPTCHA reached (vigie never solves them)"
        }),
        StepStatus::Failed | StepStatus::NoCapacity => {
            if let Some(r) = l.reason {
                out.push_str(" — ");
                out.push_str(if fr { r.label_fr() } else { r.label_en() });
            }
        }
        _ => {}
    }
    out
}

/// A URL without its query string (`…?…`): the trace stays one readable
/// line, and the full URL is in the history.
fn short_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

/// Why a run was not observed, in a few words.
pub fn unobserved_cause(lang: Language, reason: Option<Reason>) -> &'static str {
    match (lang, reason == Some(Reason::Blocked)) {
        (Language::Fr, true) => "refusé par la protection anti-robots",
        (Language::Fr, false) => "défaillance de vigie",
        (Language::En, true) => "refused by bot protection",
        (Language::En, false) => "vigie's own failure",
    }
}

/// The subject line, e.g. `[vigie] PANNE — Préfecture de démo : créneau (inaccessible)`.
pub fn subject(lang: Language, kind: NoticeKind, notices: &[&Notice]) -> String {
    let fr = lang == Language::Fr;
    let state = match (kind, fr) {
        (NoticeKind::Opened, true) => "PANNE",
        (NoticeKind::Reminder, true) => "PANNE EN COURS",
        (NoticeKind::Recovered, true) => "RÉTABLI",
        (NoticeKind::Opened, false) => "OUTAGE",
        (NoticeKind::Reminder, false) => "STILL DOWN",
        (NoticeKind::Recovered, false) => "RECOVERED",
        (NoticeKind::Unobserved, true) => "NON OBSERVÉ",
        (NoticeKind::Unobserved, false) => "NOT OBSERVED",
    };
    if let [n] = notices {
        let detail = match (kind, fr) {
            (NoticeKind::Opened, _) => outcome_label(lang, n.outcome()).to_string(),
            (NoticeKind::Reminder, true) => format!("depuis {}", duration(lang, n.duration())),
            (NoticeKind::Reminder, false) => format!("for {}", duration(lang, n.duration())),
            (NoticeKind::Recovered, true) => format!("panne de {}", duration(lang, n.duration())),
            (NoticeKind::Recovered, false) => format!("outage lasted {}", duration(lang, n.duration())),
            (NoticeKind::Unobserved, _) => unobserved_cause(lang, n.cause.reason).to_string(),
        };
        return format!("[vigie] {state} — {} ({detail})", n.title);
    }
    let count = notices.len();
    let what = match (kind, fr) {
        (NoticeKind::Opened, true) => format!("{count} démarches touchées"),
        (NoticeKind::Reminder, true) => format!("{count} démarches toujours touchées"),
        (NoticeKind::Recovered, true) => format!("{count} démarches rétablies"),
        (NoticeKind::Opened, false) => format!("{count} procedures affected"),
        (NoticeKind::Reminder, false) => format!("{count} procedures still affected"),
        (NoticeKind::Recovered, false) => format!("{count} procedures recovered"),
        (NoticeKind::Unobserved, true) => format!("{count} démarches que vigie n'a pas pu observer"),
        (NoticeKind::Unobserved, false) => format!("{count} procedures vigie could not observe"),
    };
    format!("[vigie] {state} — {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_in_paris_and_utc() {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 13, 5, 0).single().expect("t");
        assert_eq!(
            date_time(Language::Fr, chrono_tz::Europe::Paris, t),
            "27/11/2026 à 14:05 (heure de Paris) — 13:05 UTC"
        );
        let late = Utc.with_ymd_and_hms(2026, 11, 27, 23, 30, 0).single().expect("t");
        assert_eq!(
            date_time(Language::En, chrono_tz::Europe::Paris, late),
            "28/11/2026 at 00:30 (Paris time) — 27/11/2026 23:30 UTC"
        );
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(duration(Language::Fr, Duration::from_secs(45)), "45 s");
        assert_eq!(duration(Language::Fr, Duration::from_secs(110)), "1 min 50 s");
        assert_eq!(duration(Language::Fr, Duration::from_secs(180)), "3 min");
        assert_eq!(duration(Language::Fr, Duration::from_secs(12 * 60 + 40)), "12 min");
        assert_eq!(duration(Language::Fr, Duration::from_secs(4 * 3600 + 5 * 60)), "4 h 05");
        assert_eq!(duration(Language::Fr, Duration::from_secs(2 * 86400 + 3 * 3600)), "2 j 3 h");
        assert_eq!(duration(Language::En, Duration::from_secs(2 * 86400 + 3 * 3600)), "2 d 3 h");
        assert_eq!(step_time(Language::Fr, 1.23), "1,2 s");
        assert_eq!(step_time(Language::En, 0.3204), "320 ms");
    }
}
