//! Builders for unit tests of the store and alerting: a probe and runs with
//! given outcomes, without loading a configuration.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::probe::result::{PageCapture, StepResult};
use crate::probe::{Labels, Outcome, Politeness, Probe, Reason, RunResult, Schedule, StepStatus, Target};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 13, 5, 0).single().unwrap_or_default()
}

pub fn probe(name: &str, title: &str, procedure: &str) -> Arc<Probe> {
    Arc::new(Probe {
        name: name.into(),
        title: title.into(),
        description: None,
        file: format!("probes/{name}.yaml").into(),
        enabled: true,
        target: Arc::new(Target {
            name: "prefecture-demo".into(),
            base_url: "https://rdv.prefecture-demo.example".into(),
            host_key: "rdv.prefecture-demo.example:443".into(),
            politeness: Politeness::default(),
            vars: vec![],
            ca_certs: vec![],
        }),
        labels: Labels {
            procedure: procedure.into(),
            site: "prefecture-demo".into(),
        },
        schedule: Schedule {
            source: "* * * * *".into(),
            cron: std::sync::Arc::new(crate::config::parse_cron("* * * * *").unwrap_or_else(|e| panic!("cron: {e}"))),
            timezone: chrono_tz::Europe::Paris,
        },
        timeout: Duration::from_secs(30),
        degraded_after: None,
        vars: vec![],
        env: vec![],
        config_secrets: Default::default(),
        broken_when: vec![],
        blocked_when: vec![],
        kind: crate::probe::ProbeKind::Http,
        steps: vec![],
    })
}

fn step(name: &str, status: StepStatus, http: Option<u16>, reason: Option<Reason>, ms: u64) -> StepResult {
    let mut s = StepResult::skipped(name);
    s.status = status;
    s.reason = reason;
    s.method = if status == StepStatus::Skipped {
        String::new()
    } else {
        "GET".into()
    };
    s.url = (status != StepStatus::Skipped).then(|| format!("https://rdv.prefecture-demo.example/booking/{name}"));
    s.http_status = http;
    s.duration = Duration::from_millis(ms);
    s
}

/// A three-step booking run with the given outcome, failing at `slots`.
pub fn run(probe: &Probe, at: DateTime<Utc>, outcome: Outcome) -> RunResult {
    let (slots, reason, http, message) = match outcome {
        Outcome::Up | Outcome::Degraded => (step("slots", StepStatus::Passed, Some(200), None, 412), None, Some(200), None),
        Outcome::NoCapacity => (
            step("slots", StepStatus::NoCapacity, Some(200), Some(Reason::NoCapacity), 388),
            Some(Reason::NoCapacity),
            Some(200),
            None,
        ),
        Outcome::Broken => (
            step("slots", StepStatus::Failed, Some(200), Some(Reason::ErrorPage), 1230),
            Some(Reason::ErrorPage),
            Some(200),
            Some("the page matches broken_when (error_page)".to_string()),
        ),
        Outcome::Unobserved => (
            step("slots", StepStatus::Failed, None, Some(Reason::MonitorError), 3),
            Some(Reason::MonitorError),
            None,
            Some("Chromium not found".to_string()),
        ),
        Outcome::Down => (
            step("slots", StepStatus::Failed, Some(503), Some(Reason::Http5xx), 1230),
            Some(Reason::Http5xx),
            Some(503),
            Some("HTTP 503 Service Unavailable".to_string()),
        ),
    };
    let mut slots = slots;
    slots.message = message.clone();
    slots.message_fr = match outcome {
        Outcome::Broken => Some("page d'erreur : la page affiche « Erreur technique »".to_string()),
        Outcome::Down => Some("le portail a répondu par une erreur HTTP 503".to_string()),
        _ => None,
    };
    // vigie's own failure saw no page.
    if !outcome.is_success() && outcome != Outcome::Unobserved {
        slots.capture = Some(PageCapture {
            url: "https://rdv.prefecture-demo.example/booking/slots".into(),
            status: http.unwrap_or(0),
            headers: vec![],
            body: match outcome {
                Outcome::Down => b"<html><body><h1>Service momentan\xc3\xa9ment indisponible</h1><p>Veuillez r\xc3\xa9essayer plus tard.</p></body></html>".to_vec(),
                Outcome::NoCapacity => "<p>Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. Veuillez recommencer ultérieurement.</p>".as_bytes().to_vec(),
                _ => "<h1>Erreur technique</h1><p>Une erreur technique est survenue. Merci de réessayer ultérieurement.</p>".as_bytes().to_vec(),
            },
            truncated: false,
            received_at: at,
        });
    }
    let confirm = if outcome.is_success() {
        step("confirm", StepStatus::Passed, Some(200), None, 95)
    } else {
        step("confirm", StepStatus::Skipped, None, None, 0)
    };
    RunResult {
        probe: probe.name.clone(),
        scheduled_at: Some(at),
        started_at: at,
        duration: Duration::from_millis(1737),
        politeness_wait: Duration::ZERO,
        outcome,
        reason,
        failed_step: (!outcome.is_success()).then(|| "slots".to_string()),
        message,
        captcha_step: None,
        steps: vec![step("conditions", StepStatus::Passed, Some(200), None, 320), slots, confirm],
    }
}
