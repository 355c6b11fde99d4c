//! The part of `vigie check` that shows the history store, alerting and
//! maintenance settings, so an operator sees what a configuration means
//! before the first outage (who would be told, how, and when not).

use chrono::Utc;

use crate::alert::settings::{Delivery, WindowTime};
use crate::config::units::format_duration;
use crate::config::Config;

pub fn print(cfg: &Config) {
    let s = &cfg.store;
    println!("history store: {}", s.path.display());
    println!(
        "    keeps raw runs {}, hourly rollups {}; compaction every {}",
        days(s.keep_runs),
        days(s.keep_rollups),
        format_duration(s.compact_every)
    );
    let a = &cfg.alerting;
    match &a.delivery {
        Delivery::Smtp(m) => {
            println!(
                "e-mail: SMTP {}:{} ({}), from {}{}",
                m.host,
                m.port,
                m.security.as_str(),
                a.from,
                match (&m.username, &m.password_source) {
                    (Some(u), Some(src)) => format!(", login {u} (password from {src})"),
                    _ => String::new(),
                }
            );
            if let Some(f) = &m.ca_file {
                println!(
                    "    server certificate checked against the system's authorities and {} more from {}",
                    m.ca_certs.len(),
                    f.display()
                );
            }
        }
        Delivery::Spool(dir) => println!(
            "e-mail: no SMTP configured: e-mails are written as .eml files into {}",
            dir.display()
        ),
    }
    println!(
        "    language {}; grouped within {}; retried every {} up to {}",
        a.language.as_str(),
        format_duration(a.group_window),
        format_duration(a.retry.min),
        format_duration(a.retry.max)
    );
    let p = &a.policy;
    println!(
        "    outage after {} failing run(s) ({}), over after {} passing run(s); reminders {}",
        p.failure_threshold,
        p.failing,
        p.success_threshold,
        p.reminder_every
            .map(|d| format!("every {}", format_duration(d)))
            .unwrap_or_else(|| "off".into())
    );
    for probe in cfg.probes.iter().filter(|p| p.enabled) {
        let pp = a.policy_for(probe);
        let to: Vec<String> = a
            .recipients(&probe.name, &probe.labels.procedure, &probe.labels.site)
            .iter()
            .map(|m| m.email.to_string())
            .collect();
        let differs = pp.failure_threshold != p.failure_threshold
            || pp.success_threshold != p.success_threshold
            || pp.failing != p.failing
            || pp.reminder_every != p.reminder_every;
        println!(
            "    {:<28} → {}{}{}",
            probe.name,
            if to.is_empty() { "(nobody)".to_string() } else { to.join(", ") },
            if pp.notify { "" } else { "  [e-mails muted]" },
            if differs {
                format!(
                    "  [outage after {}, over after {}; failing: {}]",
                    pp.failure_threshold, pp.success_threshold, pp.failing
                )
            } else {
                String::new()
            }
        );
    }
    if cfg.maintenance.is_empty() {
        println!("maintenance windows: none");
    } else {
        println!("maintenance windows ({}):", cfg.timezone);
    }
    let now = Utc::now();
    for w in &cfg.maintenance {
        let scope = if w.targets.is_empty() && w.probes.is_empty() {
            "every probe".to_string()
        } else {
            let mut v: Vec<String> = w.targets.iter().map(|t| format!("target {t}")).collect();
            v.extend(w.probes.iter().map(|p| format!("probe {p}")));
            v.join(", ")
        };
        let what = match &w.when {
            WindowTime::Once { .. } => "one-off".to_string(),
            WindowTime::Recurring { source, duration, cron } => {
                format!("\"{source}\" for {} ({})", format_duration(*duration), cron.describe())
            }
        };
        let fmt = |t: chrono::DateTime<Utc>| t.with_timezone(&cfg.timezone).format("%Y-%m-%d %H:%M").to_string();
        let next = match w.next_occurrence(now) {
            Some(o) if o.start <= now => format!("in progress until {}", fmt(o.end)),
            Some(o) => format!("next {} → {}", fmt(o.start), fmt(o.end)),
            None => "over".to_string(),
        };
        println!("    {:<28} {what}; {scope}; {next}", w.name);
    }
}

fn days(d: std::time::Duration) -> String {
    let days = d.as_secs() / 86400;
    if days >= 365 && days.is_multiple_of(365) {
        format!("{} year(s)", days / 365)
    } else {
        format!("{days} day(s)")
    }
}
