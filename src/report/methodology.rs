//! The methodology section, generated from the configuration: what each
//! probe does step by step, its schedule and target, the vantage point, the
//! responsible-probing rules in force and how each figure is computed.
//! Form values, extracted values and secrets are never shown: only field
//! names and the probe's own conditions.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::model::{Methodology, ProbeMethod, StepText};
use super::settings::ReportSettings;
use crate::alert::settings::{Language, WindowTime};
use crate::config::units::format_duration;
use crate::config::Config;
use crate::evidence::EvidenceSettings;
use crate::probe::browser::{BrowserAction, BrowserStep, WaitTarget};
use crate::probe::{Action, Body, BrokenWhen, Match, ObserveKind, ObserveSource, PartContent, Probe, RequestPlan, Step};

fn fr(l: Language) -> bool {
    l == Language::Fr
}

fn conditions(m: &Match, l: Language) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &m.status {
        let list: Vec<String> = s.iter().map(u16::to_string).collect();
        out.push(format!(
            "{} {}",
            if fr(l) { "statut HTTP" } else { "HTTP status" },
            list.join(" / ")
        ));
    }
    for t in &m.body_contains {
        out.push(format!("{} « {t} »", if fr(l) { "la page contient" } else { "the page contains" }));
    }
    for t in &m.body_not_contains {
        out.push(format!(
            "{} « {t} »",
            if fr(l) {
                "la page ne contient pas"
            } else {
                "the page does not contain"
            }
        ));
    }
    for r in &m.body_matches {
        out.push(format!(
            "{} /{}/",
            if fr(l) { "la page correspond à" } else { "the page matches" },
            r.as_str()
        ));
    }
    for c in &m.css_present {
        out.push(format!(
            "{} `{}`",
            if fr(l) { "élément présent" } else { "element present" },
            c.source
        ));
    }
    for c in &m.css_absent {
        out.push(format!(
            "{} `{}`",
            if fr(l) { "élément absent" } else { "element absent" },
            c.source
        ));
    }
    for (path, v) in &m.json {
        out.push(format!("JSON `{}` = {v}", path.source));
    }
    for path in &m.json_exists {
        out.push(format!("JSON `{}` {}", path.source, if fr(l) { "présent" } else { "present" }));
    }
    for (k, v) in &m.headers {
        out.push(format!("{} {k}: {v}", if fr(l) { "en-tête" } else { "header" }));
    }
    if let Some(d) = m.max_duration {
        out.push(format!("{} {}", if fr(l) { "en moins de" } else { "within" }, format_duration(d)));
    }
    out
}

fn broken(b: &BrokenWhen, l: Language) -> String {
    format!(
        "{} « {} » ({}) {} {}",
        if fr(l) { "en échec :" } else { "broken:" },
        if fr(l) { b.reason.label_fr() } else { b.reason.label_en() },
        b.reason.as_str(),
        if fr(l) { "si" } else { "when" },
        conditions(&b.when, l).join(" ; ")
    )
}

/// A template as a reader should see it: the target's address and
/// variables filled in (the values used), what a run computes described in
/// words (a value read on an earlier page, a secret, a random value).
fn shown(t: &crate::template::Template, p: &Probe, l: Language) -> String {
    let mut s = t.to_string().replace("{{ base_url }}", &p.target.base_url);
    for (k, v) in &p.target.vars {
        s = s.replace(&format!("{{{{ {k} }}}}"), v);
    }
    in_words(&s, p, l)
}

/// Every `{{ … }}` left in `s`, as words.
fn in_words(s: &str, p: &Probe, l: Language) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i..].find("}}") else { break };
        out.push_str(&rest[..i]);
        out.push_str(&variable_words(rest[i + 2..i + j].trim(), p, l));
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

fn variable_words(name: &str, p: &Probe, l: Language) -> String {
    let f = fr(l);
    if let Some(env) = name.strip_prefix("env.") {
        return if f {
            format!("‹valeur secrète {env}›")
        } else {
            format!("‹secret value {env}›")
        };
    }
    if let Some(helper) = name.strip_suffix("()") {
        let what = match (helper, f) {
            ("uuid", true) => "identifiant aléatoire",
            ("uuid", false) => "random identifier",
            ("random_email", true) => "adresse e-mail aléatoire",
            ("random_email", false) => "random e-mail address",
            (_, true) => "valeur générée à chaque passage",
            (_, false) => "value generated at each run",
        };
        return format!("‹{what}›");
    }
    let step = p.steps.iter().find(|s| s.extract.iter().any(|e| e.name == name));
    match (step, f) {
        (Some(s), true) => format!("‹{name} : valeur relevée sur la page de l'étape « {} »›", s.name),
        (Some(s), false) => format!("‹{name}: value read on the page of step “{}”›", s.name),
        (None, true) => format!("‹{name} : valeur calculée pendant le passage›"),
        (None, false) => format!("‹{name}: value computed during the run›"),
    }
}

fn size(bytes: u64, l: Language) -> String {
    match (bytes, l) {
        (b, Language::Fr) if b >= 1024 => format!("{} Kio", b / 1024),
        (b, Language::En) if b >= 1024 => format!("{} KiB", b / 1024),
        (b, Language::Fr) => format!("{b} octets"),
        (b, Language::En) => format!("{b} bytes"),
    }
}

fn request_line(p: &Probe, r: &RequestPlan, i: usize, l: Language) -> String {
    let mut req = format!("{}. {} {}", i + 1, r.method, shown(&r.url, p, l));
    if !r.query.is_empty() {
        let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={}", shown(v, p, l))).collect();
        let _ = write!(req, "?{}", q.join("&"));
    }
    match &r.body {
        Body::None => {}
        Body::Form(fields) => {
            let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            let _ = write!(
                req,
                " — {} : {}",
                if fr(l) { "formulaire, champs" } else { "form, fields" },
                names.join(", ")
            );
        }
        Body::Json(_) => req.push_str(if fr(l) { " — corps JSON" } else { " — JSON body" }),
        Body::Raw { .. } => req.push_str(if fr(l) { " — corps texte" } else { " — text body" }),
        Body::Multipart(parts) => {
            let desc: Vec<String> = parts
                .iter()
                .map(|part| match &part.content {
                    PartContent::Text(_) => part.name.clone(),
                    PartContent::File { path, bytes } => format!(
                        "{} ({} {}, {})",
                        part.name,
                        if fr(l) { "fichier" } else { "file" },
                        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                        size(bytes.len() as u64, l)
                    ),
                    PartContent::Generated { size: n, kind } => format!(
                        "{} ({} {}, {})",
                        part.name,
                        if fr(l) {
                            "fichier de test généré"
                        } else {
                            "generated test file"
                        },
                        kind.default_content_type(),
                        size(*n, l)
                    ),
                })
                .collect();
            let _ = write!(
                req,
                " — {} : {}",
                if fr(l) { "envoi de fichier" } else { "upload" },
                desc.join(", ")
            );
        }
    }
    req
}

/// A browser step in words: the action, never the values typed.
fn browser_line(p: &Probe, b: &BrowserStep, i: usize, l: Language) -> String {
    let f = fr(l);
    let mut line = match &b.action {
        BrowserAction::Goto(u) => format!(
            "{}. {} {}",
            i + 1,
            if f { "navigateur : ouvrir" } else { "browser: open" },
            shown(u, p, l)
        ),
        BrowserAction::Click(c) => format!(
            "{}. {} {}",
            i + 1,
            if f { "navigateur : cliquer sur" } else { "browser: click" },
            c.source
        ),
        BrowserAction::Fill { css, .. } => format!(
            "{}. {} {}",
            i + 1,
            if f { "navigateur : remplir le champ" } else { "browser: fill" },
            css.source
        ),
        BrowserAction::Select { css, .. } => format!(
            "{}. {} {}",
            i + 1,
            if f { "navigateur : choisir dans" } else { "browser: select in" },
            css.source
        ),
        BrowserAction::Check { css, checked } => format!(
            "{}. {} {}",
            i + 1,
            match (f, checked) {
                (true, true) => "navigateur : cocher",
                (true, false) => "navigateur : décocher",
                (false, true) => "browser: check",
                (false, false) => "browser: uncheck",
            },
            css.source
        ),
        BrowserAction::Upload { css, content, .. } => {
            let what = match content {
                PartContent::Generated { size: n, kind } => format!("{} ({})", kind.default_content_type(), size(*n, l)),
                PartContent::File { bytes, .. } => size(bytes.len() as u64, l),
                PartContent::Text(_) => String::new(),
            };
            format!(
                "{}. {} {} — {what}",
                i + 1,
                if f {
                    "navigateur : joindre un fichier de test à"
                } else {
                    "browser: attach a test file to"
                },
                css.source
            )
        }
        BrowserAction::Nothing => format!("{}. {}", i + 1, if f { "navigateur : attendre" } else { "browser: wait" }),
    };
    if let Some(w) = &b.wait_for {
        let (what, t) = match &w.target {
            WaitTarget::Selector(c) => (c.source.clone(), if f { "attendre l'élément" } else { "wait for element" }),
            WaitTarget::SelectorGone(c) => (c.source.clone(), if f { "attendre la disparition de" } else { "wait until gone" }),
            WaitTarget::Text(s) => (format!("« {s} »"), if f { "attendre le texte" } else { "wait for text" }),
        };
        let _ = write!(line, " — {t} {what} ({})", crate::config::units::format_duration(w.timeout));
    }
    line
}

fn step_text(p: &Probe, s: &Step, i: usize, l: Language) -> StepText {
    let mut lines = Vec::new();
    lines.push(match &s.action {
        Action::Request(r) => request_line(p, r, i, l),
        Action::Browser(b) => browser_line(p, b, i, l),
    });
    let expect = conditions(&s.expect, l);
    if !expect.is_empty() {
        lines.push(format!("{} : {}", if fr(l) { "attendu" } else { "expected" }, expect.join(" ; ")));
    }
    if let Some(m) = &s.captcha_when {
        lines.push(format!(
            "{} : {}",
            if fr(l) {
                "arrêt au CAPTCHA (jamais résolu) si"
            } else {
                "stops at the CAPTCHA (never solved) when"
            },
            conditions(m, l).join(" ; ")
        ));
    }
    if let Some(m) = &s.no_capacity_when {
        lines.push(format!(
            "{} : {}",
            if fr(l) { "« aucun créneau » si" } else { "\"no slot\" when" },
            conditions(m, l).join(" ; ")
        ));
    }
    for b in &s.broken_when {
        lines.push(broken(b, l));
    }
    if !s.observe.is_empty() {
        let obs: Vec<String> = s
            .observe
            .iter()
            .map(|o| {
                let what = match &o.source {
                    ObserveSource::CssCount(c) => format!("{} `{}`", if fr(l) { "nombre de" } else { "count of" }, c.source),
                    ObserveSource::Css { css, attr } => match attr {
                        Some(a) => format!("`{}` [{a}]", css.source),
                        None => format!("`{}`", css.source),
                    },
                    ObserveSource::Regex { regex, .. } => format!("/{}/", regex.as_str()),
                    ObserveSource::RegexCount(regex) => format!("{} /{}/", if fr(l) { "nombre de" } else { "count of" }, regex.as_str()),
                    ObserveSource::Json(j) => format!("JSON `{}`", j.source),
                };
                let kind = if o.kind == ObserveKind::Timestamp { ", date" } else { "" };
                format!("{} ({what}{kind})", o.name)
            })
            .collect();
        lines.push(format!("{} : {}", if fr(l) { "relève" } else { "records" }, obs.join(", ")));
    }
    if !s.extract.is_empty() {
        let names: Vec<String> = s
            .extract
            .iter()
            .map(|e| {
                if e.secret {
                    format!(
                        "{} ({})",
                        e.name,
                        if fr(l) { "secret, jamais écrit" } else { "secret, never written" }
                    )
                } else {
                    e.name.clone()
                }
            })
            .collect();
        lines.push(format!(
            "{} : {}",
            if fr(l) {
                "extrait pour la suite"
            } else {
                "extracts for later steps"
            },
            names.join(", ")
        ));
    }
    StepText {
        name: s.name.clone(),
        lines,
    }
}

/// How often a schedule starts runs, seen from `now`: a regular period in
/// seconds, or runs per day on average over the next week.
enum Rhythm {
    Every(i64),
    PerDay(f64),
}

/// The schedule's next start times are computed here once per probe (each
/// costs ~1.5 µs in croner; a version hash describes both languages).
fn rhythm(p: &Probe, now: DateTime<Utc>) -> Rhythm {
    let next = p.schedule.next_times(now, 200);
    let gaps: Vec<i64> = next.windows(2).map(|w| (w[1] - w[0]).num_seconds()).collect();
    if let Some(g) = gaps.first().filter(|g| gaps.iter().all(|x| x == *g)) {
        return Rhythm::Every(*g);
    }
    let week = p
        .schedule
        .next_times(now, 20_000)
        .into_iter()
        .take_while(|t| *t < now + chrono::Duration::days(7))
        .count();
    Rhythm::PerDay(week as f64 / 7.0)
}

/// "toutes les 15 min" / "every 15 min", or runs per day when irregular.
fn schedule_words(p: &Probe, rhythm: &Rhythm, l: Language) -> String {
    let words = match rhythm {
        Rhythm::Every(g) => format!(
            "{} {}",
            if fr(l) { "toutes les" } else { "every" },
            super::fmt::duration(*g as f64, l)
        ),
        Rhythm::PerDay(n) => format!(
            "{:.0} {}",
            n,
            if fr(l) {
                "fois par jour en moyenne"
            } else {
                "times a day on average"
            }
        ),
    };
    format!("{words} — crontab « {} » ({})", p.schedule.source, p.schedule.timezone)
}

fn probe_method(p: &Probe, l: Language, now: DateTime<Utc>) -> ProbeMethod {
    probe_method_with(p, l, &rhythm(p, now))
}

fn probe_method_with(p: &Probe, l: Language, rhythm: &Rhythm) -> ProbeMethod {
    let mut steps: Vec<StepText> = p.steps.iter().enumerate().map(|(i, s)| step_text(p, s, i, l)).collect();
    if !p.broken_when.is_empty() {
        steps.push(StepText {
            name: if fr(l) { "à chaque page".into() } else { "on every page".into() },
            lines: p.broken_when.iter().map(|b| broken(b, l)).collect(),
        });
    }
    let secs = |d: std::time::Duration| super::fmt::duration(d.as_secs_f64(), l);
    let mut timeout = secs(p.timeout);
    if let Some(d) = p.degraded_after {
        let _ = write!(timeout, " ({} {})", if fr(l) { "lent au-delà de" } else { "slow beyond" }, secs(d));
    }
    ProbeMethod {
        probe: p.name.clone(),
        title: p.title.clone(),
        description: p.description.as_ref().map(|d| d.trim().to_string()),
        target: p.target.name.clone(),
        base_url: p.target.base_url.clone(),
        schedule: schedule_words(p, rhythm, l),
        timeout,
        steps,
        version: None,
    }
}

/// The description kept with each version of a compiled probe (JSON of its
/// methodology in French and English) and its hash (SHA-256 of that JSON,
/// hex). Irregular schedules are described over a fixed reference week, so
/// the same probe always gives the same text.
pub fn version_of(p: &Probe) -> (String, String) {
    use sha2::{Digest, Sha256};
    let reference = DateTime::<Utc>::from_timestamp(1_767_571_200, 0).unwrap_or_default();
    let r = rhythm(p, reference);
    let both = serde_json::json!({
        "fr": probe_method_with(p, Language::Fr, &r),
        "en": probe_method_with(p, Language::En, &r),
    });
    let text = both.to_string();
    (hex::encode(Sha256::digest(text.as_bytes())), text)
}

/// A version that ran, described as it was, with its dates.
fn ran(v: &crate::store::versions::VersionUse, l: Language) -> Option<ProbeMethod> {
    let mut m = stored_method(&v.description, l)?;
    m.version = Some(super::model::VersionOut {
        hash: v.hash.chars().take(12).collect(),
        first_seen: v.first_seen,
        first_run: v.first_run,
        last_run: v.last_run,
        runs: v.runs,
    });
    Some(m)
}

/// A stored version's description in `l` (None if it does not parse).
pub fn stored_method(description: &str, l: Language) -> Option<ProbeMethod> {
    let mut v: serde_json::Value = serde_json::from_str(description).ok()?;
    serde_json::from_value(v.get_mut(l.as_str())?.take()).ok()
}

fn rules(l: Language, contact: Option<&str>) -> Vec<String> {
    let contact = contact.unwrap_or("—");
    if fr(l) {
        vec![
            "vigie ne résout ni ne contourne jamais un CAPTCHA : une sonde s'arrête à la page du CAPTCHA et enregistre seulement qu'elle l'a atteinte.".into(),
            "Aucune rotation d'adresse IP ni de proxy ; chaque exécution est un nouveau visiteur (cookies vides), comme une personne qui ouvre le site.".into(),
            "Un budget de requêtes par serveur, partagé par toutes les sondes (ci-dessous), borne la charge imposée aux sites observés.".into(),
            format!("Chaque requête s'identifie dans son User-Agent avec une adresse de contact ({contact})."),
            "Aucun compte réel n'est créé et aucun document réel n'est déposé sur les sites en production, sauf compte de test dédié configuré explicitement.".into(),
            "Aucune donnée personnelle n'est conservée ; mots de passe, cookies, jetons et secrets configurés sont masqués dans tout ce que vigie écrit (historique, preuves, rapports, journaux).".into(),
        ]
    } else {
        vec![
            "vigie never solves or bypasses a CAPTCHA: a probe stops at the CAPTCHA page and only records that it reached it.".into(),
            "No IP rotation, no proxies; each run is a new visitor (empty cookie jar), like a person opening the site.".into(),
            "A per-server request budget, shared by all probes (below), bounds the load put on the sites observed.".into(),
            format!("Every request identifies itself in its User-Agent with a contact address ({contact})."),
            "No real account is created and no real document is filed on live sites, unless a dedicated test account is explicitly configured.".into(),
            "No personal data is kept; passwords, cookies, tokens and configured secrets are redacted from everything vigie writes (history, evidence, reports, logs).".into(),
        ]
    }
}

fn computation(l: Language, live_from: DateTime<Utc>, s: &ReportSettings, tz: chrono_tz::Tz) -> Vec<String> {
    let live = super::fmt::datetime(live_from, tz, l);
    if fr(l) {
        vec![
            "Disponibilité : part des vérifications (exécutions d'une sonde) qui ne se sont terminées ni « inaccessible » (pas de réponse, erreur 5xx) ni « en échec » (la démarche n'a pas abouti). Une réponse lente ou « aucun créneau » compte comme disponible : le système a répondu ; l'absence de créneau est mesurée à part. Trois chiffres : toutes vérifications comprises, hors fenêtres de maintenance annoncées, et pendant les heures ouvrées (maintenance comprise : c'est ce qu'a rencontré une personne pendant ces heures).".into(),
            "Incidents : de la première vérification en échec à la première vérification réussie qui suit (seuils de la politique d'alerte). Durée cumulée et temps perdu en heures ouvrées : part de chaque incident comprise dans la période (et dans les heures ouvrées). MTTR : durée moyenne des incidents terminés. MTBF : temps observé hors incident divisé par le nombre d'incidents commencés dans la période.".into(),
            "Temps observé : chaque vérification observe la sonde depuis l'heure où elle était prévue jusqu'à l'heure prévue de la suivante selon le calendrier de la sonde (par exemple 3 minutes pour une sonde lancée toutes les 3 minutes), sans dépasser la vérification suivante réellement faite ni l'heure du rapport. Le temps avant la première vérification, après l'intervalle de la dernière, et tout écart plus long que l'intervalle prévu (vigie arrêté, vérification sautée) est « non observé » et indiqué comme tel ; une vérification que vigie n'a pas pu mener (défaillance de vigie, protection anti-robots) n'observe rien. Ces durées sont calculées à la milliseconde et affichées à la minute.".into(),
            format!("Créneaux : part des vérifications ayant atteint la page des créneaux qui en proposaient au moins un (observation « {} »). Plus longue période sans créneau : de la première à la dernière vérification n'en trouvant aucun avant qu'un créneau réapparaisse ; toutes les vérifications de cette période n'en ont trouvé aucun. Délai jusqu'à la première date libre (observation « {} ») : moyenne horaire, à une demi-heure près.", s.slot_observation, s.first_free_observation),
            "Temps de réponse : percentiles calculés à partir d'histogrammes horaires (classes larges de 19 %, soit ±9 % sur chaque valeur) ; « exécution complète » : vérifications allées jusqu'au bout (disponible, lent ou aucun créneau) ; étapes : celles qui ont reçu une réponse (un délai dépassé est un échec, pas un temps de réponse).".into(),
            format!("Données : agrégats horaires de l'historique (conservés 5 ans par défaut), et vérifications brutes pour les heures récentes non encore agrégées (depuis le {live}). Le temps où vigie ne tournait pas n'est compté nulle part : le temps observé de chaque sonde est indiqué."),
            "Répartition des échecs : par jour de la semaine et heure (heure de Paris), hors maintenance.".into(),
        ]
    } else {
        vec![
            "Availability: the share of checks (probe runs) that ended neither \"down\" (no response, HTTP 5xx) nor \"broken\" (the procedure failed). A slow answer or \"no slot\" counts as available: the system answered; the lack of slots is measured apart. Three figures: all checks, outside announced maintenance windows, and in office hours (maintenance included: what a person met during those hours).".into(),
            "Incidents: from the first failing check to the first passing one after it (alerting policy thresholds). Total and office hours lost: the part of each incident inside the period (and inside office hours). MTTR: mean duration of the incidents that ended. MTBF: observed time without outage divided by the incidents that started in the period.".into(),
            "Observed time: each check observes the probe from its scheduled time to the next scheduled time of the probe's schedule (e.g. 3 minutes for a probe run every 3 minutes), never past the next check actually made nor the report's time. Time before the first check, after the last one's interval, and any gap longer than the scheduled interval (vigie stopped, a check skipped) is \"not observed\" and shown as such; a check vigie could not make (its own failure, bot protection) observes nothing. Computed to the millisecond, shown to the minute.".into(),
            format!("Slots: the share of checks that reached the slot page and were offered at least one (observation \"{}\"). Longest stretch without slot: from the first to the last check finding none before a slot was offered again; every check in it found none. Delay to the first free date (observation \"{}\"): hourly means, to within half an hour.", s.slot_observation, s.first_free_observation),
            "Response times: percentiles from hourly histograms (buckets 19 % wide, so ±9 % on each value); \"whole run\": checks that went to their end (up, slow or no slot); steps: those that received a response (a timeout is a failure, not a response time).".into(),
            format!("Data: hourly rollups of the history (kept 5 years by default), and raw checks for recent hours not rolled up yet (since {live}). Time when vigie was not running counts nowhere: each probe's observed time is given."),
            "Failure pattern: by weekday and hour (Paris time), outside maintenance.".into(),
        ]
    }
}

fn evidence_text(e: &EvidenceSettings, l: Language) -> Vec<String> {
    if !e.enabled {
        return vec![if fr(l) {
            "Conservation des preuves désactivée."
        } else {
            "Evidence keeping is off."
        }
        .into()];
    }
    let d = |x: std::time::Duration| super::fmt::duration(x.as_secs_f64(), l);
    if fr(l) {
        vec![
            format!("Pour les vérifications en échec et celles sans créneau, vigie conserve la page telle que reçue (adresse, date et heure, statut HTTP, en-têtes, contenu jusqu'à {} Kio, secrets masqués), avec son empreinte SHA-256, dans un registre chaîné : chaque enregistrement contient l'empreinte du précédent.", e.max_body / 1024),
            format!("Au plus une capture par sonde toutes les {} pour des échecs identiques répétés, et toutes les {} pour les pages « aucun créneau » ; le début d'une série ou un changement (autre étape, raison ou statut) est conservé plus tôt, au plus une fois par minute.", d(e.failures.every), d(e.no_capacity.every)),
        ]
    } else {
        vec![
            format!("For failing checks and checks with no slot, vigie keeps the page as received (URL, date and time, HTTP status, headers, content up to {} KiB, secrets redacted) with its SHA-256, in a chained register: each record holds the hash of the previous one.", e.max_body / 1024),
            format!("At most one capture per probe every {} for repeated identical failures, and every {} for \"no slot\" pages; the start of a streak or a change (another step, reason or status) is kept sooner, at most once a minute.", d(e.failures.every), d(e.no_capacity.every)),
        ]
    }
}

/// The capture context of this machine (no name resolution: bundles and
/// WARC files carry it), and the third-party time stamps when configured.
fn context_text(c: &Config, l: Language) -> Vec<String> {
    let ctx = crate::evidence::context::gather(&c.location, &[]);
    let mut out = if fr(l) {
        ctx.lines_fr_at("du rapport").into_iter().take(4).collect()
    } else {
        ctx.lines_en()
    };
    if let Some(t) = &c.evidence.timestamp {
        let every = super::fmt::duration(t.every.as_secs_f64(), l);
        out.push(if fr(l) {
            format!("Horodatage par un tiers (RFC 3161) : toutes les {every}, l'empreinte de la tête du registre est horodatée par l'autorité {} ; les jetons sont joints aux exports.", t.url)
        } else {
            format!("Third-party time stamps (RFC 3161): every {every}, the register's head hash is time-stamped by {}; the tokens are part of the exports.", t.url)
        });
    }
    out
}

pub struct Input<'a> {
    pub config: Option<&'a Config>,
    pub settings: &'a ReportSettings,
    pub lang: Language,
    pub tz: chrono_tz::Tz,
    pub probes: &'a [String],
    pub locations: Vec<String>,
    pub live_from: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// The versions each probe ran under in the period (from the runs).
    pub versions: &'a std::collections::BTreeMap<String, Vec<crate::store::versions::VersionUse>>,
}

pub fn build(i: Input) -> Methodology {
    let l = i.lang;
    let c = i.config;
    let mut politeness = Vec::new();
    let mut maintenance = Vec::new();
    let mut probes = Vec::new();
    if let Some(c) = c {
        for t in &c.targets {
            politeness.push(format!(
                "{} ({}) : {} {} {} {}",
                t.name,
                t.base_url,
                if fr(l) {
                    "au plus 1 requête toutes les"
                } else {
                    "at most 1 request every"
                },
                format_duration(t.politeness.min_interval),
                if fr(l) { "et simultanées :" } else { "and at once:" },
                t.politeness.max_concurrent
            ));
        }
        for m in &c.maintenance {
            let when = match &m.when {
                WindowTime::Once { from, to } => {
                    format!("{} – {}", super::fmt::datetime(*from, i.tz, l), super::fmt::datetime(*to, i.tz, l))
                }
                WindowTime::Recurring { source, duration, .. } => format!(
                    "crontab « {source} », {} {}",
                    if fr(l) { "durée" } else { "lasting" },
                    format_duration(*duration)
                ),
            };
            let scope: Vec<String> = m.targets.iter().chain(m.probes.iter()).cloned().collect();
            maintenance.push(format!(
                "{} : {when}{}{}",
                m.name,
                if scope.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", scope.join(", "))
                },
                m.note.as_ref().map(|n| format!(" — {n}")).unwrap_or_default()
            ));
        }
    }
    let mut described_from_config = false;
    for name in i.probes {
        match i.versions.get(name).filter(|v| !v.is_empty()) {
            Some(used) => probes.extend(used.iter().filter_map(|v| ran(v, l))),
            None => {
                if let Some(p) = c.and_then(|c| c.probes.iter().find(|p| &p.name == name)) {
                    probes.push(probe_method(p, l, i.now));
                    described_from_config = true;
                }
            }
        }
    }
    Methodology {
        from_configuration: c.is_some(),
        described_from_configuration: described_from_config,
        vigie_version: env!("CARGO_PKG_VERSION").into(),
        locations: i.locations,
        user_agent: c.map(|c| c.user_agent()),
        timezone: i.tz.to_string(),
        office_hours: i.settings.office_hours.describe(l),
        rules: rules(l, c.map(|c| c.contact.as_str())),
        politeness,
        maintenance,
        evidence: c
            .map(|c| evidence_text(&c.evidence, l).into_iter().chain(context_text(c, l)).collect())
            .unwrap_or_default(),
        computation: computation(l, i.live_from, i.settings, i.tz),
        probes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::compile::parse_cron;

    fn with_schedule(cron: &str) -> Probe {
        let mut p = (*crate::alert::testutil::probe("p", "Titre", "titre-sejour")).clone();
        p.schedule = crate::probe::Schedule {
            source: cron.into(),
            cron: std::sync::Arc::new(parse_cron(cron).expect("valid cron")),
            timezone: chrono_tz::Europe::Paris,
        };
        p
    }

    /// The rhythm is computed once for both languages: each still says it,
    /// and the hash of a probe does not move between two computations.
    #[test]
    fn version_describes_the_rhythm_in_both_languages() {
        let (hash, text) = version_of(&with_schedule("*/15 * * * *"));
        assert!(
            text.contains("toutes les 15 min — crontab « */15 * * * * » (Europe/Paris)"),
            "{text}"
        );
        assert!(text.contains("every 15 min — crontab « */15 * * * * » (Europe/Paris)"), "{text}");
        assert_eq!(version_of(&with_schedule("*/15 * * * *")).0, hash);
        // Weekdays 9:00 to 17:00: 45 runs a week.
        let (other, text) = version_of(&with_schedule("0 9-17 * * 1-5"));
        assert!(text.contains("6 fois par jour en moyenne — crontab"), "{text}");
        assert!(text.contains("6 times a day on average — crontab"), "{text}");
        assert_ne!(other, hash);
    }
}
