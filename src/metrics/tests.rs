//! The per-probe series: the cached texts equal a full render, match the
//! `prometheus` crate's encoding line for line, pass the real `promtool`,
//! follow reloads, and carry the per-phase gauge only for timed steps.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::TimeZone;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::*;
use crate::alert::testutil::{self, t0};
use crate::probe::result::{Phases, RequestTiming};
use crate::probe::{Outcome, Probe, RunResult};

fn timed(mut r: RunResult) -> RunResult {
    let phases = Phases {
        resolve: Duration::from_micros(1500),
        connect: Duration::from_millis(3),
        tls: Duration::from_millis(12),
        processing: Duration::from_millis(40),
        transfer: Duration::from_micros(250),
    };
    let hop = RequestTiming {
        phases,
        ..RequestTiming::default()
    };
    // The first step followed one redirect: its phases add up.
    r.steps[0].timings = vec![hop.clone(), hop];
    r.steps[0].tls_not_after = chrono::Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).single();
    r.steps[0].observations = vec![("appointment_slots".into(), 4.0)];
    r.captcha_step = Some("conditions".into());
    r.politeness_wait = Duration::from_millis(250);
    r
}

/// Two probes through every outcome, a timed run and a skip.
fn busy() -> (Metrics, Vec<std::sync::Arc<Probe>>) {
    let m = Metrics::new("paris \"bureau\"").expect("metrics");
    let probes = vec![
        testutil::probe("titre-sejour", "Titre", "titre-sejour"),
        testutil::probe("rdv", "Rendez-vous", "rdv-prefecture"),
    ];
    for p in &probes {
        m.declare_probe(p);
    }
    for (i, o) in Outcome::ALL.into_iter().enumerate() {
        let at = t0() + chrono::Duration::minutes(i as i64);
        m.record_run(&probes[0], &testutil::run(&probes[0], at, o));
        m.record_run(&probes[1], &timed(testutil::run(&probes[1], at, o)));
    }
    m.record_skip(&probes[1]);
    (m, probes)
}

#[test]
fn cached_text_equals_a_full_render() {
    let (m, probes) = busy();
    assert_eq!(m.render_probes_cached(), m.render_probes_uncached());
    m.configure(MetricsSettings {
        duration_histogram: false,
        step_phases: false,
    });
    assert_eq!(m.render_probes_cached(), m.render_probes_uncached());
    m.forget_probe(&probes[0].name);
    assert_eq!(m.render_probes_cached(), m.render_probes_uncached());
}

/// Each probe's cached text is held at its exact size, after runs that made
/// it grow (more digits, failure reasons, steps) and after a skip.
#[test]
fn cached_texts_hold_little_slack_and_keep_their_buffer() {
    let (m, probes) = busy();
    let texts = m.cached_texts();
    assert_eq!(texts.len(), 2);
    for t in &texts {
        assert!(t.len() > 1000, "{} bytes", t.len());
        assert!(
            t.capacity() <= t.len() + series::MAX_SLACK,
            "{} bytes for {}",
            t.capacity(),
            t.len()
        );
    }
    let buffer = |m: &Metrics| m.cached_texts()[0].as_ptr();
    let shared = |m: &Metrics| Arc::as_ptr(&m.cached_texts()[0]);
    drop(texts);
    let (before, before_shared) = (buffer(&m), shared(&m));
    // The first text is `rdv`'s (probes are kept by name).
    let run = testutil::run(&probes[1], t0() + chrono::Duration::minutes(9), Outcome::Up);
    m.record_run(&probes[1], &run);
    assert_eq!(buffer(&m), before, "a run renders into the same buffer");
    assert_eq!(shared(&m), before_shared, "… kept in the same shared block");

    let held = m.cached_texts();
    m.record_run(&probes[1], &run);
    assert_ne!(buffer(&m), before, "a text a scrape still holds is left alone");
    assert_eq!(held[0].as_ptr(), before);
    assert_eq!(m.render_probes_cached(), m.render_probes_uncached());
}

/// A scrape cut into chunks of any size writes the same bytes as a full
/// render followed by the registry's text, and counts them exactly (the
/// server's `Content-Length`).
#[test]
fn scrape_chunks_of_any_size_add_up_to_the_full_render() {
    let (m, _) = busy();
    let probes_text = m.render_probes_uncached();
    for max in [1, 7, 300, 4096, CHUNK] {
        let mut scrape = m.scrape();
        let announced = scrape.remaining();
        let mut joined = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = scrape.next_chunk(max) {
            assert!(!chunk.is_empty(), "an empty chunk at size {max}");
            joined.extend_from_slice(&chunk);
            assert_eq!(scrape.remaining(), announced - joined.len());
            chunks += 1;
        }
        assert_eq!(joined.len(), announced, "chunks of {max} bytes");
        let text = String::from_utf8(joined).expect("utf-8");
        assert!(text.starts_with(&probes_text), "chunks of {max} bytes");
        assert!(text[probes_text.len()..].starts_with("# HELP "), "the registry's text follows");
        assert!(text.contains("vigie_build_info{version=\""));
        if max == 1 {
            // Every fragment and header on its own: many chunks.
            assert!(chunks > 30, "{chunks} chunks");
        }
    }
}

/// The same runs fed to the `prometheus` crate the way vigie did before
/// the cached texts: every line it writes for these families, vigie writes.
#[test]
fn samples_match_the_prometheus_crate_encoding() {
    let (m, probes) = busy();
    let mut consts = HashMap::new();
    consts.insert("location".to_string(), "paris \"bureau\"".to_string());
    let reg = Registry::new_custom(None, Some(consts)).expect("registry");
    let l3 = ["probe", "procedure", "site"];
    let runs = IntCounterVec::new(Opts::new("vigie_probe_runs_total", "h"), &["probe", "procedure", "site", "outcome"]).expect("runs");
    let outcome = IntGaugeVec::new(Opts::new("vigie_probe_outcome", "h"), &["probe", "procedure", "site", "outcome"]).expect("outcome");
    let status = IntGaugeVec::new(Opts::new("vigie_step_http_status", "h"), &["probe", "procedure", "site", "step"]).expect("status");
    let duration = HistogramVec::new(
        HistogramOpts::new("vigie_probe_duration_seconds", "h").buckets(series::DURATION_BUCKETS.to_vec()),
        &l3,
    )
    .expect("histogram");
    for c in [
        Box::new(runs.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(outcome.clone()),
        Box::new(status.clone()),
        Box::new(duration.clone()),
    ] {
        reg.register(c).expect("register");
    }
    for p in &probes {
        let l = [p.name.as_str(), p.labels.procedure.as_str(), p.labels.site.as_str()];
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            let r = testutil::run(p, t0() + chrono::Duration::minutes(i as i64), o);
            runs.with_label_values(&[l[0], l[1], l[2], o.as_str()]).inc();
            for x in Outcome::ALL {
                outcome.with_label_values(&[l[0], l[1], l[2], x.as_str()]).set(i64::from(x == o));
            }
            if o.is_observed() {
                duration.with_label_values(&l).observe(r.duration.as_secs_f64());
            }
            for st in r.steps.iter().filter(|s| s.http_status.is_some()) {
                let code = st.http_status.map(i64::from).unwrap_or_default();
                status.with_label_values(&[l[0], l[1], l[2], st.name.as_str()]).set(code);
            }
        }
    }
    let mut buf = Vec::new();
    prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &reg.gather(), &mut buf).expect("encode");
    let reference = String::from_utf8(buf).expect("utf-8");
    let ours: BTreeSet<&str> = m.render_probes_cached().leak().lines().collect();
    let mut compared = 0;
    for line in reference.lines().filter(|l| !l.starts_with('#')) {
        assert!(ours.contains(line), "the crate writes `{line}`, vigie does not");
        compared += 1;
    }
    // Two probes: 6 run counters, 6 outcome gauges, 3 step statuses, 15 histogram lines.
    assert_eq!(compared, 2 * (6 + 6 + 3 + 15));
}

#[test]
fn exposition_passes_promtool() {
    let (m, _) = busy();
    assert_promtool_accepts(&m.encode());
}

/// The real `promtool check metrics` accepts the text, and no family
/// appears twice.
fn assert_promtool_accepts(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        panic!("promtool is required for this test: install Debian's `prometheus` package (`.ci/run` does)");
    };
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics:\n{said}\n---\n{text}"
    );
    // Each family once: a second TYPE line would make the exposition invalid.
    let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    assert_eq!(types.len(), types.iter().collect::<BTreeSet<_>>().len());
}

#[test]
fn phase_gauge_appears_only_for_timed_steps() {
    let (m, _) = busy();
    let text = m.encode();
    let phase_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("vigie_step_phase_duration_seconds{"))
        .collect();
    // One timed step (two requests summed), five phases, on the timed probe only.
    assert_eq!(phase_lines.len(), 5, "{phase_lines:?}");
    assert!(phase_lines
        .iter()
        .all(|l| l.contains("probe=\"rdv\"") && l.contains("step=\"conditions\"")));
    assert!(text.contains(
        "vigie_step_phase_duration_seconds{phase=\"tls\",probe=\"rdv\",procedure=\"rdv-prefecture\",site=\"prefecture-demo\",step=\"conditions\",location=\"paris \\\"bureau\\\"\"} 0.024\n"
    ));
    assert!(text.contains("vigie_scheduler_skipped_runs_total{probe=\"rdv\",procedure=\"rdv-prefecture\",site=\"prefecture-demo\",location=\"paris \\\"bureau\\\"\"} 1\n"));
    m.configure(MetricsSettings {
        duration_histogram: false,
        step_phases: false,
    });
    let text = m.encode();
    assert!(!text.contains("vigie_step_phase_duration_seconds"));
    assert!(!text.contains("vigie_probe_duration_seconds"));
    assert!(text.contains("vigie_probe_runs_total{"));
}

#[test]
fn a_probe_removed_or_relabelled_by_a_reload_loses_its_series() {
    let (m, probes) = busy();
    m.forget_probe("titre-sejour");
    let text = m.encode();
    assert!(!text.contains("probe=\"titre-sejour\""));
    assert!(text.contains("probe=\"rdv\""));
    assert_eq!(m.known_probes(), vec!["rdv".to_string()]);
    // The same probe moved to another site: the old label set goes.
    let mut moved = (*probes[1]).clone();
    moved.labels.site = "prefecture-nord".into();
    m.declare_probe(&moved);
    let text = m.encode();
    assert!(!text.contains("site=\"prefecture-demo\""), "{text}");
    assert!(text.contains("vigie_probe_runs_total{outcome=\"up\",probe=\"rdv\",procedure=\"rdv-prefecture\",site=\"prefecture-nord\",location=\"paris \\\"bureau\\\"\"} 0\n"));
}

#[test]
fn lateness_buckets_start_at_one_millisecond() {
    let m = Metrics::new("l").expect("metrics");
    m.sched_lateness.observe(0.0004);
    m.sched_lateness.observe(0.003);
    let text = m.encode();
    assert!(
        text.contains("vigie_scheduler_lateness_seconds_bucket{location=\"l\",le=\"0.001\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("vigie_scheduler_lateness_seconds_bucket{location=\"l\",le=\"0.005\"} 2\n"));
}

/// `vigie_outage_active` and `vigie_evidence_records_total` are among the
/// rare families: encoded once, reused while nothing changes, encoded again
/// as soon as a writer changes them; the whole exposition stays valid.
#[test]
fn rare_families_are_reencoded_only_when_they_change() {
    let (m, _) = busy();
    let alerts = crate::alert::metrics::AlertMetrics::new(&m.registry, &m.rare).expect("alert metrics");
    let evidence = crate::evidence::metrics::EvidenceMetrics::new(&m.registry, &m.rare).expect("evidence metrics");
    crate::evidence::metrics::init_series(&evidence, &["rdv".to_string()]);
    let labels = ["rdv", "Rendez-vous", "rdv-prefecture"];
    alerts.set_outage_active(&labels, false);

    let first = m.rare.text();
    assert_eq!(first.as_ptr(), m.rare.text().as_ptr(), "unchanged: the same encoded text is reused");
    let outage = |text: &str| -> Option<String> {
        text.lines()
            .find(|l| l.starts_with("vigie_outage_active{") && l.contains(r#"probe="rdv""#))
            .map(str::to_string)
    };
    let text = m.encode();
    assert!(outage(&text).is_some_and(|l| l.ends_with("} 0")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("vigie_evidence_records_total{")), "{text}");

    alerts.set_outage_active(&labels, true);
    assert_ne!(first.as_ptr(), m.rare.text().as_ptr(), "a change is encoded again");
    let text = m.encode();
    assert!(outage(&text).is_some_and(|l| l.ends_with("} 1")), "{text}");

    alerts.remove_outage_active(&labels);
    assert_eq!(outage(&m.encode()), None, "a removed probe loses its series");

    alerts.set_outage_active(&labels, true);
    assert_promtool_accepts(&m.encode());
}

/// The rare families' text is what the `prometheus` crate's encoder writes
/// for the same series, byte for byte: families by name, labels sorted by
/// name then `location`, values escaped, series sorted.
#[test]
fn rare_families_are_written_as_the_crate_writes_them() {
    let rare = std::sync::Arc::new(Rare::new("lyon \"2\""));
    let outage = rare
        .family("vigie_outage_active", "1 while open.", false, &["probe", "procedure", "site"])
        .expect("family");
    let records = rare
        .family("vigie_evidence_records_total", "Pages kept.", true, &["probe", "kind"])
        .expect("family");
    assert!(
        rare.family("vigie_outage_active", "again", false, &["probe"]).is_err(),
        "a name is registered once"
    );

    let consts = [("location".to_string(), "lyon \"2\"".to_string())].into_iter().collect();
    let registry = Registry::new_custom(None, Some(consts)).expect("registry");
    let crate_outage = IntGaugeVec::new(Opts::new("vigie_outage_active", "1 while open."), &["probe", "procedure", "site"]).expect("vec");
    let crate_records = IntCounterVec::new(Opts::new("vigie_evidence_records_total", "Pages kept."), &["probe", "kind"]).expect("vec");
    registry.register(Box::new(crate_outage.clone())).expect("register");
    registry.register(Box::new(crate_records.clone())).expect("register");

    for (probe, procedure, site, active) in [("rdv", "Titre \\ séjour", "a\nb", 1), ("accueil", "anef", "paris", 0)] {
        outage.set(&[probe, procedure, site], active);
        crate_outage.with_label_values(&[probe, procedure, site]).set(active);
        for kind in ["page", "blocked"] {
            records.declare(&[probe, kind]);
            crate_records.with_label_values(&[probe, kind]);
        }
    }
    for _ in 0..3 {
        records.inc(&["rdv", "page"]);
        crate_records.with_label_values(&["rdv", "page"]).inc();
    }
    outage.remove(&["accueil", "anef", "paris"]);
    let _ = crate_outage.remove_label_values(&["accueil", "anef", "paris"]);

    assert_eq!(records.get(&["rdv", "page"]), Some(3));
    let expected = String::from_utf8(encode_registry(&registry).to_vec()).expect("utf-8");
    let written = String::from_utf8(rare.text().to_vec()).expect("utf-8");
    assert_eq!(written, expected);
    assert_promtool_accepts(&written);
}
