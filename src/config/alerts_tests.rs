//! A complete configuration of the store, alerting, SMTP and maintenance
//! sections (the example of docs/alerts.md) loads into the expected settings.

use std::collections::HashMap;
use std::time::Duration;

use crate::alert::settings::{Delivery, Language, Security, WindowTime};
use crate::config::{load, DiskFiles, LoadOptions};
use crate::probe::Outcome;

const CONFIG: &str = r#"
location: paris-bureau
contact: veille@asso.example
probes: ["probes/*.yaml"]
targets:
  prefecture-demo: { base_url: "https://rdv.prefecture-demo.example" }
  anef: { base_url: "https://administration-etrangers-en-france.interieur.gouv.fr" }
store:
  path: /var/lib/vigie/vigie.db
  retention: { runs: 90d, rollups: 5y }
  compact_every: 1h
alerts:
  language: fr
  to: ["Équipe veille <veille@asso.example>"]
  by_procedure:
    titre-sejour: [juriste@asso.example]
  by_site:
    prefecture-demo: [permanence-94@asso.example]
  failure_threshold: 2
  success_threshold: 2
  failing_outcomes: [down, broken]
  reminder_every: 4h
  group_window: 2m
  status_page_url: https://veille.asso.example/etat
  grafana_url: https://grafana.asso.example/d/vigie
  retry: { min: 30s, max: 30m }
smtp:
  host: smtp.asso.example
  port: 587
  security: starttls
  username: vigie@asso.example
  password_env: VIGIE_SMTP_PASSWORD
  from: "vigie <vigie@asso.example>"
  timeout: 30s
maintenance:
  - name: maintenance-hebdo-anef
    note: annoncée sur le portail
    cron: "0 22 * * 0"
    duration: 2h
    targets: [anef]
  - name: migration-prefecture
    from: "2026-12-05 20:00"
    to: "2026-12-06 08:00"
    probes: [rdv]
"#;

const PROBE: &str = r#"
name: rdv
title: "Préfecture de démo : créneau titre de séjour"
target: prefecture-demo
labels: { procedure: titre-sejour }
schedule: "*/15 * * * *"
alerts:
  failure_threshold: 3
  failing_outcomes: [down, broken, no_capacity]
  reminder_every: "off"
  to: [avocat@cabinet.example]
steps:
  - name: home
    request: { url: "{{ base_url }}/" }
"#;

#[test]
fn the_documented_example_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("probes")).expect("probes");
    std::fs::write(dir.path().join("vigie.yaml"), CONFIG).expect("config");
    std::fs::write(dir.path().join("probes/rdv.yaml"), PROBE).expect("probe");
    let opts = LoadOptions {
        env: Some(HashMap::from([("VIGIE_SMTP_PASSWORD".to_string(), "s3cret".to_string())])),
        ..LoadOptions::default()
    };
    let cfg = load(&dir.path().join("vigie.yaml"), &DiskFiles, &opts).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(cfg.store.path, std::path::Path::new("/var/lib/vigie/vigie.db"));
    assert_eq!(cfg.store.keep_rollups, Duration::from_secs(5 * 365 * 86400));
    let a = &cfg.alerting;
    assert_eq!(a.language, Language::Fr);
    assert_eq!(a.group_window, Duration::from_secs(120));
    let Delivery::Smtp(smtp) = &a.delivery else {
        panic!("smtp expected")
    };
    assert_eq!((smtp.security, smtp.port), (Security::StartTls, 587));
    assert_eq!(smtp.password.as_ref().map(|p| p.0.as_str()), Some("s3cret"));
    assert!(!format!("{smtp:?}").contains("s3cret"), "the password never shows in debug output");

    let probe = cfg.probe("rdv").expect("probe");
    let policy = a.policy_for(probe);
    assert_eq!((policy.failure_threshold, policy.success_threshold), (3, 2));
    assert!(policy.failing.contains(Outcome::NoCapacity));
    assert_eq!(policy.reminder_every, None);
    let to: Vec<String> = a
        .recipients(&probe.name, &probe.labels.procedure, &probe.labels.site)
        .iter()
        .map(|m| m.email.to_string())
        .collect();
    assert_eq!(
        to,
        vec![
            "veille@asso.example",
            "juriste@asso.example",
            "permanence-94@asso.example",
            "avocat@cabinet.example"
        ]
    );

    assert_eq!(cfg.maintenance.len(), 2);
    assert!(matches!(cfg.maintenance[0].when, WindowTime::Recurring { .. }));
    assert!(!cfg.maintenance[0].applies_to("rdv", "prefecture-demo"));
    assert!(cfg.maintenance[1].applies_to("rdv", "prefecture-demo"));
}

#[test]
fn no_smtp_means_a_spool_next_to_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("probes")).expect("probes");
    let minimal = "location: l\ncontact: a@b.example\nprobes: [\"probes/*.yaml\"]\ntargets:\n  prefecture-demo: { base_url: \"http://127.0.0.1:9\" }\n";
    std::fs::write(dir.path().join("vigie.yaml"), minimal).expect("config");
    std::fs::write(dir.path().join("probes/rdv.yaml"), PROBE).expect("probe");
    let cfg = load(&dir.path().join("vigie.yaml"), &DiskFiles, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.store.path, dir.path().join("var/vigie.db"));
    assert_eq!(cfg.alerting.delivery, Delivery::Spool(dir.path().join("var/spool")));
    assert_eq!(cfg.alerting.policy.failure_threshold, 2);
    assert_eq!(cfg.alerting.policy.reminder_every, None);
}

#[test]
fn tls_settings_build_for_names_and_addresses() {
    use crate::alert::settings::{Secret, SmtpSettings};
    for (host, security) in [
        ("smtp.asso.example", Security::Tls),
        ("127.0.0.1", Security::StartTls),
        ("::1", Security::Tls),
    ] {
        let s = SmtpSettings {
            host: host.into(),
            port: security.default_port(),
            security,
            username: Some("vigie".into()),
            password: Some(Secret("x".into())),
            password_source: None,
            timeout: Duration::from_secs(5),
            hello_name: None,
            ca_file: None,
            ca_certs: vec![],
        };
        assert!(crate::alert::mailer::smtp(&s).is_ok(), "{host} {security:?}");
    }
}

#[test]
fn smtp_ca_file_is_read_relative_to_the_config_and_trusted() {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&rcgen::KeyPair::generate().expect("key")).expect("CA");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("probes")).expect("probes");
    std::fs::create_dir_all(dir.path().join("certs")).expect("certs");
    std::fs::write(dir.path().join("certs/asso-ca.pem"), ca.pem()).expect("ca");
    std::fs::write(dir.path().join("probes/rdv.yaml"), PROBE).expect("probe");
    let config = "location: l\ncontact: a@b.example\nprobes: [\"probes/*.yaml\"]\n\
                  targets:\n  prefecture-demo: { base_url: \"http://127.0.0.1:9\" }\n\
                  alerts: { to: [veille@asso.example] }\n\
                  smtp: { host: mail.asso.example, security: tls, ca_file: certs/asso-ca.pem, from: vigie@asso.example }\n";
    std::fs::write(dir.path().join("vigie.yaml"), config).expect("config");
    let cfg = load(&dir.path().join("vigie.yaml"), &DiskFiles, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let Delivery::Smtp(smtp) = &cfg.alerting.delivery else {
        panic!("smtp expected")
    };
    assert_eq!(smtp.ca_file.as_deref(), Some(dir.path().join("certs/asso-ca.pem").as_path()));
    assert_eq!(smtp.ca_certs, vec![ca.der().to_vec()]);
    assert!(crate::alert::mailer::smtp(smtp).is_ok());
}

#[test]
fn metrics_section_turns_optional_families_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("probes")).expect("probes");
    std::fs::write(dir.path().join("probes/rdv.yaml"), PROBE).expect("probe");
    let base = "location: l\ncontact: a@b.example\nprobes: [\"probes/*.yaml\"]\ntargets:\n  prefecture-demo: { base_url: \"http://127.0.0.1:9\" }\n";
    let load_with = |extra: &str| {
        std::fs::write(dir.path().join("vigie.yaml"), format!("{base}{extra}")).expect("config");
        load(&dir.path().join("vigie.yaml"), &DiskFiles, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
    };
    let default = load_with("").metrics;
    assert!(default.duration_histogram && default.step_phases);
    let off = load_with("metrics:\n  duration_histogram: false\n").metrics;
    assert!(!off.duration_histogram && off.step_phases);
    let off = load_with("metrics: { step_phases: false }\n").metrics;
    assert!(off.duration_histogram && !off.step_phases);
}
