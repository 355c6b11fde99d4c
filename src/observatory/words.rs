//! The observatory's words in French and English: a missing translation
//! does not compile.

use super::model::{Current, DayState};
use crate::alert::settings::Language;
use crate::probe::Reason;

pub struct Words {
    pub default_title: &'static str,
    pub intro: &'static str,
    pub updated: &'static str,
    pub other_lang: &'static str,
    pub other_lang_code: &'static str,
    pub since: &'static str,
    pub last_check: &'static str,
    pub no_check: &'static str,
    pub last_90: &'static str,
    pub availability: &'static str,
    pub incidents: &'static str,
    pub incidents_last: &'static str,
    pub no_incident: &'static str,
    pub started: &'static str,
    pub ended: &'static str,
    pub duration: &'static str,
    pub ongoing: &'static str,
    pub cause: &'static str,
    pub slots_share: &'static str,
    pub slot_last_seen: &'static str,
    pub slot_never: &'static str,
    pub first_free: &'static str,
    pub first_free_none: &'static str,
    pub detail: &'static str,
    pub legend: &'static str,
    pub maintenance_title: &'static str,
    pub maintenance_none: &'static str,
    pub in_progress: &'static str,
    pub daily_title: &'static str,
    pub date: &'static str,
    pub checks: &'static str,
    pub failed: &'static str,
    pub slow: &'static str,
    pub no_slot: &'static str,
    pub not_observed: &'static str,
    pub maintenance_checks: &'static str,
    pub slot_checks: &'static str,
    pub slot_chart: &'static str,
    pub back: &'static str,
    pub feed: &'static str,
    pub api: &'static str,
    pub method: &'static str,
    pub refused: &'static str,
    pub monitor_failed: &'static str,
    pub feed_opened: &'static str,
    pub feed_resolved: &'static str,
    pub windows: [&'static str; 4],
    pub what_public: &'static str,
    /// « : » with French spacing, or ": ".
    pub colon: &'static str,
    pub semicolon: &'static str,
    pub over_90_days: &'static str,
    pub not_outages: &'static str,
    pub state: &'static str,
    pub bar_help: &'static str,
}

const FR: Words = Words {
    default_title: "Observatoire des démarches en ligne",
    intro: "Ce que des visites automatiques régulières ont constaté sur le portail ANEF et les prises de rendez-vous en préfecture : les démarches fonctionnent-elles, et un rendez-vous peut-il être obtenu ?",
    updated: "Mis à jour le",
    other_lang: "English version",
    other_lang_code: "en",
    since: "depuis le",
    last_check: "dernière vérification le",
    no_check: "aucune vérification enregistrée",
    last_90: "90 derniers jours",
    availability: "Disponibilité",
    incidents: "Pannes sur 90 jours",
    incidents_last: "les plus récentes",
    no_incident: "Aucune panne sur les 90 derniers jours.",
    started: "Début",
    ended: "Fin",
    duration: "Durée",
    ongoing: "en cours",
    cause: "Cause",
    slots_share: "Vérifications ayant proposé un créneau",
    slot_last_seen: "Dernier créneau vu le",
    slot_never: "Aucun créneau vu sur 90 jours",
    first_free: "Première date libre proposée",
    first_free_none: "aucune date proposée",
    detail: "Détail jour par jour",
    legend: "Légende",
    maintenance_title: "Maintenances annoncées",
    maintenance_none: "Aucune maintenance annoncée.",
    in_progress: "en cours",
    daily_title: "Chiffres quotidiens (90 jours)",
    date: "Jour",
    checks: "Vérifications",
    failed: "En échec",
    slow: "Lentes",
    no_slot: "Sans créneau",
    not_observed: "Non observées",
    maintenance_checks: "En maintenance",
    slot_checks: "Avec créneau",
    slot_chart: "Part des vérifications ayant proposé un créneau, par jour",
    back: "Retour à l'observatoire",
    feed: "Flux Atom des pannes",
    api: "Données (JSON)",
    method: "Une vérification est une visite automatique qui suit la démarche comme une personne le ferait. La disponibilité est la part des vérifications sans panne (portail injoignable ou démarche en échec) ; « aucun créneau » n'est pas une panne mais est compté à part. Les vérifications que l'outil n'a pas pu faire (sa propre défaillance, ou un refus de la protection anti-robots du portail) ne comptent ni pour ni contre le portail.",
    refused: "L'outil de mesure a été refusé par la protection anti-robots du portail",
    monitor_failed: "L'outil de mesure a été défaillant",
    feed_opened: "Panne",
    feed_resolved: "Panne terminée",
    windows: ["24 h", "7 jours", "30 jours", "90 jours"],
    what_public: "Cette page ne montre ni adresse, ni contenu de page, ni donnée personnelle.",
    colon: " : ",
    semicolon: " ; ",
    over_90_days: "sur 90 jours",
    not_outages: "ces vérifications ne comptent pas comme des pannes",
    state: "État",
    bar_help: "Chaque barre est un jour, du plus ancien (à gauche) au plus récent ; survolez une barre pour ses chiffres, ou ouvrez le détail jour par jour.",
};

const EN: Words = Words {
    default_title: "Online procedures observatory",
    intro: "What regular automated visits found on the ANEF portal and the prefectures' appointment systems: do the procedures work, and can an appointment be had?",
    updated: "Updated",
    other_lang: "Version française",
    other_lang_code: "fr",
    since: "since",
    last_check: "last checked",
    no_check: "no check recorded",
    last_90: "Last 90 days",
    availability: "Availability",
    incidents: "Outages over 90 days",
    incidents_last: "most recent",
    no_incident: "No outage in the last 90 days.",
    started: "Start",
    ended: "End",
    duration: "Duration",
    ongoing: "ongoing",
    cause: "Cause",
    slots_share: "Checks that offered a slot",
    slot_last_seen: "Last slot seen",
    slot_never: "No slot seen in 90 days",
    first_free: "First free date offered",
    first_free_none: "no date offered",
    detail: "Day-by-day detail",
    legend: "Legend",
    maintenance_title: "Announced maintenance",
    maintenance_none: "No maintenance announced.",
    in_progress: "in progress",
    daily_title: "Daily figures (90 days)",
    date: "Day",
    checks: "Checks",
    failed: "Failed",
    slow: "Slow",
    no_slot: "No slot",
    not_observed: "Not observed",
    maintenance_checks: "In maintenance",
    slot_checks: "With a slot",
    slot_chart: "Share of checks that offered a slot, per day",
    back: "Back to the observatory",
    feed: "Atom feed of outages",
    api: "Data (JSON)",
    method: "A check is an automated visit that goes through the procedure as a person would. Availability is the share of checks without an outage (portal unreachable or procedure failing); \"no slot\" is not an outage but is counted apart. Checks the tool could not make (its own failure, or a refusal by the portal's bot protection) count neither for nor against the portal.",
    refused: "The measuring tool was refused by the portal's bot protection",
    monitor_failed: "The measuring tool itself failed",
    feed_opened: "Outage",
    feed_resolved: "Outage over",
    windows: ["24 h", "7 days", "30 days", "90 days"],
    what_public: "This page shows no address, no page content and no personal data.",
    colon: ": ",
    semicolon: "; ",
    over_90_days: "over 90 days",
    not_outages: "these checks do not count as outages",
    state: "State",
    bar_help: "Each bar is a day, oldest on the left; hover over a bar for its figures, or open the day-by-day detail.",
};

pub fn of(l: Language) -> &'static Words {
    match l {
        Language::Fr => &FR,
        Language::En => &EN,
    }
}

/// « 8 fois » / « 8 times ».
pub fn times(n: u64, l: Language) -> String {
    let n_text = crate::report::fmt::int(n, l);
    match l {
        Language::Fr => format!("{n_text} fois"),
        Language::En if n == 1 => "once".to_string(),
        Language::En => format!("{n_text} times"),
    }
}

pub fn current(c: Current, l: Language) -> &'static str {
    match (c, l) {
        (Current::Available, Language::Fr) => "Fonctionne",
        (Current::Available, Language::En) => "Working",
        (Current::Slow, Language::Fr) => "Fonctionne, lentement",
        (Current::Slow, Language::En) => "Working, slowly",
        (Current::NoSlot, Language::Fr) => "Fonctionne, aucun créneau proposé",
        (Current::NoSlot, Language::En) => "Working, no slot offered",
        (Current::Failing, Language::Fr) => "En panne : la démarche échoue",
        (Current::Failing, Language::En) => "Outage: the procedure fails",
        (Current::Unreachable, Language::Fr) => "En panne : site injoignable",
        (Current::Unreachable, Language::En) => "Outage: site unreachable",
        (Current::Unknown, Language::Fr) => "Non observé",
        (Current::Unknown, Language::En) => "Not observed",
    }
}

pub fn day(s: DayState, l: Language) -> &'static str {
    match (s, l) {
        (DayState::Available, Language::Fr) => "disponible",
        (DayState::Available, Language::En) => "available",
        (DayState::Degraded, Language::Fr) => "perturbé",
        (DayState::Degraded, Language::En) => "degraded",
        (DayState::Outage, Language::Fr) => "panne",
        (DayState::Outage, Language::En) => "outage",
        (DayState::NoSlot, Language::Fr) => "aucun créneau proposé",
        (DayState::NoSlot, Language::En) => "no slot offered",
        (DayState::NotObserved, Language::Fr) => "non observé",
        (DayState::NotObserved, Language::En) => "not observed",
        (DayState::Maintenance, Language::Fr) => "maintenance",
        (DayState::Maintenance, Language::En) => "maintenance",
    }
}

/// What each colour means, for the legend.
pub fn day_meaning(s: DayState, l: Language) -> &'static str {
    match (s, l) {
        (DayState::Available, Language::Fr) => "toutes les vérifications ont abouti",
        (DayState::Available, Language::En) => "every check worked",
        (DayState::Degraded, Language::Fr) => "quelques échecs (moins de 5 %) ou plus de 10 % de pages lentes",
        (DayState::Degraded, Language::En) => "a few failures (under 5 %) or over 10 % slow pages",
        (DayState::Outage, Language::Fr) => "5 % des vérifications ou plus en échec",
        (DayState::Outage, Language::En) => "5 % of the checks or more failed",
        (DayState::NoSlot, Language::Fr) => "le site a répondu mais aucun créneau n'a été proposé de la journée",
        (DayState::NoSlot, Language::En) => "the site answered but offered no slot all day",
        (DayState::NotObserved, Language::Fr) => "aucune vérification n'a pu être faite",
        (DayState::NotObserved, Language::En) => "no check could be made",
        (DayState::Maintenance, Language::Fr) => "maintenance annoncée une partie de la journée",
        (DayState::Maintenance, Language::En) => "announced maintenance for part of the day",
    }
}

/// A stored reason in words (unknown ones stay unsaid).
pub fn reason(code: Option<&str>, l: Language) -> Option<&'static str> {
    let r = Reason::parse(code?)?;
    Some(match l {
        Language::Fr => r.label_fr(),
        Language::En => r.label_en(),
    })
}
