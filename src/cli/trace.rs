//! The human-readable step-by-step trace of a run (`vigie once`, the demo).
//! Everything shown here is already redacted by the runner.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::Lang;
use crate::config::units::format_duration;
use crate::probe::result::BrowserFacts;
use crate::probe::{Probe, RunResult, StepResult, StepStatus};

/// The trace's first lines: the probe, its target and the politeness
/// budget the run respects.
pub fn header(p: &Probe, lang: Lang) -> String {
    let every = dur(p.target.politeness.min_interval, lang);
    let at_once = p.target.politeness.max_concurrent;
    let (target, budget) = match lang {
        Lang::Fr => (
            "cible",
            format!("au plus 1 requête toutes les {every} et {at_once} à la fois vers cet hôte"),
        ),
        Lang::En => (
            "target",
            format!("at most 1 request every {every} and {at_once} at a time to this host"),
        ),
    };
    format!(
        "{} — {}\n{target} {} ({}), {budget}\n",
        p.name, p.title, p.target.name, p.target.base_url
    )
}

/// The French or the English word, without allocating.
fn w(lang: Lang, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// French typography puts a space before a colon; English does not.
fn colon(lang: Lang) -> &'static str {
    w(lang, " :", ":")
}

/// A duration as people read it: `1,5 s` in French, `1.5 s` in English.
fn dur(d: Duration, lang: Lang) -> String {
    let text = format_duration(d);
    match lang {
        Lang::Fr => text.replace('.', ","),
        Lang::En => text,
    }
}

fn size(n: u64, lang: Lang) -> String {
    let text = if n < 1024 {
        format!("{n} {}", w(lang, "o", "B"))
    } else if n < 1024 * 1024 {
        format!("{:.1} {}", n as f64 / 1024.0, w(lang, "Kio", "KiB"))
    } else {
        format!("{:.1} {}", n as f64 / 1024.0 / 1024.0, w(lang, "Mio", "MiB"))
    };
    match lang {
        Lang::Fr => text.replace('.', ","),
        Lang::En => text,
    }
}

/// A duration in milliseconds, to the precision that matters.
fn millis(d: Duration, lang: Lang) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    let text = match ms {
        m if m < 10.0 => format!("{m:.2}"),
        m if m < 100.0 => format!("{m:.1}"),
        m => format!("{m:.0}"),
    };
    match lang {
        Lang::Fr => format!("{} ms", text.replace('.', ",")),
        Lang::En => format!("{text} ms"),
    }
}

/// One line per request a step sent: its phases, the address connected
/// to, the HTTP and TLS versions. A reused connection has no DNS, TCP or
/// TLS phase: it says so instead.
fn phase_lines(s: &StepResult, lang: Lang) -> Vec<String> {
    let n = s.timings.len();
    s.timings
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = &t.phases;
            let reused = p.resolve.is_zero() && p.connect.is_zero() && p.tls.is_zero();
            let fresh = [("DNS", "DNS", p.resolve), ("TCP", "TCP", p.connect), ("TLS", "TLS", p.tls)];
            let served = [("serveur", "server", p.processing), ("transfert", "transfer", p.transfer)];
            let mut parts: Vec<String> = Vec::new();
            if reused && t.remote_addr.is_some() {
                parts.push(lang.pick("connexion réutilisée", "reused connection"));
            } else {
                // Plain HTTP has no TLS phase at all.
                let shown = if t.tls_version.is_none() && p.tls.is_zero() {
                    &fresh[..2]
                } else {
                    &fresh[..]
                };
                parts.extend(
                    shown
                        .iter()
                        .map(|(fr, en, d)| format!("{} {}", lang.pick(fr, en), millis(*d, lang))),
                );
            }
            parts.extend(
                served
                    .iter()
                    .map(|(fr, en, d)| format!("{} {}", lang.pick(fr, en), millis(*d, lang))),
            );
            let facts: Vec<&str> = [t.remote_addr.as_deref(), t.http_version.as_deref(), t.tls_version.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            let which = if n == 1 { String::new() } else { format!(" {}/{n}", i + 1) };
            let label = lang.pick("requête", "request");
            let colon = lang.pick(" :", ":");
            let facts = if facts.is_empty() {
                String::new()
            } else {
                format!(" — {}", facts.join(", "))
            };
            format!("    {label}{which}{colon} {}{facts}", parts.join(" · "))
        })
        .collect()
}

/// One browser step's line: action, page, load timings, requests.
fn browser_line(s: &StepResult, b: &BrowserFacts, mark: &str, width: usize, lang: Lang) -> String {
    let mut timings = Vec::new();
    if let Some(d) = b.dom_content_loaded_s {
        timings.push(format!("DOMContentLoaded {}", secs(d, lang)));
    }
    if let Some(d) = b.load_s {
        timings.push(format!("load {}", secs(d, lang)));
    }
    if let Some(d) = b.wait_s {
        timings.push(format!("{} {}", w(lang, "attendu après", "awaited after"), secs(d, lang)));
    }
    let mut requests = format!("{} {}", b.requests, w(lang, "requête(s)", "request(s)"));
    if b.blocked_requests > 0 {
        let _ = write!(requests, ", {} {}", b.blocked_requests, w(lang, "bloquée(s)", "blocked"));
    }
    format!(
        "{mark} {:<width$}  {} → {} « {} » {} {}{}, {requests}",
        s.name,
        b.action,
        s.url.as_deref().unwrap_or("?"),
        b.title,
        w(lang, "en", "in"),
        dur(s.duration, lang),
        if timings.is_empty() {
            String::new()
        } else {
            format!(" ({})", timings.join(", "))
        },
    )
}

fn secs(secs: f64, lang: Lang) -> String {
    dur(Duration::from_secs_f64(secs.max(0.0)), lang)
}

/// A browser step's details: console errors, failed requests, screenshot.
fn browser_details(out: &mut String, s: &StepResult, b: &BrowserFacts, shots: &HashMap<String, PathBuf>, lang: Lang) {
    for c in &b.console_errors {
        let _ = writeln!(out, "    {}{} {c}", w(lang, "erreur de console", "console error"), colon(lang));
    }
    if b.console_error_count as usize > b.console_errors.len() {
        let _ = writeln!(
            out,
            "    … {} {}",
            b.console_error_count,
            w(lang, "erreur(s) de console en tout", "console error(s) in all")
        );
    }
    for f in &b.failed_requests {
        let what = match (f.status, &f.error) {
            (Some(st), _) => format!("HTTP {st}"),
            (None, Some(e)) => e.clone(),
            (None, None) => w(lang, "échec", "failed").to_string(),
        };
        let _ = writeln!(
            out,
            "    {}{} {} ({what})",
            w(lang, "requête en échec", "failed request"),
            colon(lang),
            f.url
        );
    }
    if let Some(p) = shots.get(&s.name) {
        let _ = writeln!(
            out,
            "    {}{} {}",
            w(lang, "capture d'écran", "screenshot"),
            colon(lang),
            p.display()
        );
    }
}

/// An HTTP step's line (`POST …/1 → 302 → GET …/2 → 200 …`) and one line
/// per request with its phases.
fn http_lines(out: &mut String, s: &StepResult, mark: &str, width: usize, lang: Lang) {
    let status = s
        .http_status
        .map(|c| format!("{c} ({})", s.http_version.as_deref().unwrap_or("?")))
        .unwrap_or_else(|| w(lang, "aucune réponse", "no response").to_string());
    let target = if s.chain.is_empty() {
        format!("{} {}", s.method, s.url.as_deref().unwrap_or("?"))
    } else {
        vigie_hops(&s.chain)
    };
    let _ = writeln!(
        out,
        "{mark} {:<width$}  {target} → {status} {} {} ({} {}), {}",
        s.name,
        w(lang, "en", "in"),
        dur(s.duration, lang),
        w(lang, "en-têtes après", "headers after"),
        dur(s.time_to_headers, lang),
        size(s.response_bytes, lang)
    );
    for line in phase_lines(s, lang) {
        let _ = writeln!(out, "{line}");
    }
}

/// What every step shows after its first line: checks, extracted and
/// observed values, certificate, and why it did not pass.
fn step_tail(out: &mut String, s: &StepResult, lang: Lang) {
    for c in &s.checks {
        let _ = writeln!(out, "    {} {}", if c.passed { "✓" } else { "✗" }, c.description);
    }
    for x in &s.extracted {
        let _ = writeln!(out, "    → {} = {}", x.name, x.shown);
    }
    for (k, v) in &s.observations {
        let _ = writeln!(out, "    {} {k} = {v}", w(lang, "observé", "observed"));
    }
    if let Some(t) = s.tls_not_after {
        let _ = writeln!(
            out,
            "    {} {}",
            w(lang, "certificat TLS valable jusqu'au", "TLS certificate valid until"),
            t.format("%Y-%m-%d")
        );
    }
    let message = s.message.as_deref().unwrap_or("");
    match s.status {
        StepStatus::NoCapacity => {
            let _ = writeln!(out, "    {}{} {message}", w(lang, "aucun créneau", "no capacity"), colon(lang));
        }
        StepStatus::Captcha => {
            let _ = writeln!(
                out,
                "    {}",
                w(
                    lang,
                    "CAPTCHA atteint : la vérification s'arrête ici (vigie ne résout jamais de CAPTCHA)",
                    "CAPTCHA reached: the run stops here (vigie never solves CAPTCHAs)"
                )
            );
        }
        StepStatus::Failed => {
            let why = match (s.reason, lang) {
                (Some(r), Lang::Fr) => format!("{} ({})", r.label_fr(), r.as_str()),
                (Some(r), Lang::En) => r.as_str().to_string(),
                (None, _) => w(lang, "échec", "failed").to_string(),
            };
            let _ = writeln!(out, "    {why}{} {message}", colon(lang));
            if let Some(c) = &s.capture {
                let _ = writeln!(out, "    {} « {} »", w(lang, "la page disait :", "page said:"), c.text_excerpt(200));
            }
        }
        _ => {}
    }
}

/// The run's last lines: its outcome, how long it took, the politeness wait.
fn summary(out: &mut String, r: &RunResult, lang: Lang) {
    let outcome = match lang {
        Lang::Fr => format!("{} ({})", r.outcome.label_fr(), r.outcome.as_str()),
        Lang::En => r.outcome.as_str().to_string(),
    };
    let why = match (r.reason, &r.failed_step) {
        (Some(reason), Some(step)) => match lang {
            Lang::Fr => format!(" — étape {step}, raison {reason} —"),
            Lang::En => format!(" (step {step}, reason {reason})"),
        },
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "\n{} {outcome}{why} {} {} ({} {})",
        w(lang, "résultat :", "outcome:"),
        w(lang, "en", "in"),
        dur(r.duration, lang),
        w(lang, "attente de politesse", "politeness wait"),
        dur(r.politeness_wait, lang)
    );
    if let Some(step) = &r.captcha_step {
        let _ = writeln!(
            out,
            "{} {step}{}",
            w(lang, "arrêt sur un CAPTCHA à l'étape", "stopped at a CAPTCHA in step"),
            w(lang, " : atteint, non résolu", ": reached, not solved")
        );
    }
}

/// The trace, with the files screenshots were written to (step → path).
pub fn render_with(r: &RunResult, shots: &HashMap<String, PathBuf>, lang: Lang) -> String {
    let mut out = String::new();
    let width = r.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &r.steps {
        let mark = match s.status {
            StepStatus::Passed => "✓",
            StepStatus::Failed => "✗",
            StepStatus::NoCapacity => "∅",
            StepStatus::Captcha => "⛔",
            StepStatus::Skipped => "·",
        };
        if s.status == StepStatus::Skipped {
            let _ = writeln!(out, "{mark} {:<width$}  {}", s.name, w(lang, "non exécutée", "not run"));
            continue;
        }
        if let Some(b) = &s.browser {
            let _ = writeln!(out, "{}", browser_line(s, b, mark, width, lang));
            browser_details(&mut out, s, b, shots, lang);
        } else {
            http_lines(&mut out, s, mark, width, lang);
        }
        step_tail(&mut out, s, lang);
    }
    summary(&mut out, r, lang);
    out
}

fn vigie_hops(chain: &[crate::probe::Hop]) -> String {
    crate::probe::Hop::describe(chain, str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::result::{Phases, RequestTiming};

    fn timing(ms: [u64; 5], tls: Option<&str>) -> RequestTiming {
        let d = Duration::from_micros;
        RequestTiming {
            phases: Phases {
                resolve: d(ms[0]),
                connect: d(ms[1]),
                tls: d(ms[2]),
                processing: d(ms[3]),
                transfer: d(ms[4]),
            },
            remote_addr: Some("192.0.2.7:443".into()),
            http_version: Some("HTTP/2".into()),
            tls_version: tls.map(str::to_string),
        }
    }

    #[test]
    fn each_request_gets_a_line_in_french_or_english() {
        let mut s = StepResult::skipped("page");
        s.timings = vec![
            timing([420, 1_500, 12_340, 123_456, 80], Some("TLSv1.3")),
            timing([0, 0, 0, 2_000, 50], Some("TLSv1.3")),
        ];
        let fr = phase_lines(&s, Lang::Fr);
        assert_eq!(
            fr[0],
            "    requête 1/2 : DNS 0,42 ms · TCP 1,50 ms · TLS 12,3 ms · serveur 123 ms · transfert 0,08 ms — 192.0.2.7:443, HTTP/2, TLSv1.3"
        );
        assert_eq!(
            fr[1],
            "    requête 2/2 : connexion réutilisée · serveur 2,00 ms · transfert 0,05 ms — 192.0.2.7:443, HTTP/2, TLSv1.3"
        );
        let en = phase_lines(&s, Lang::En);
        assert!(
            en[1].starts_with("    request 2/2: reused connection · server 2.00 ms"),
            "{}",
            en[1]
        );
    }

    #[test]
    fn plain_http_has_no_tls_phase_and_a_single_request_no_number() {
        let mut s = StepResult::skipped("page");
        s.timings = vec![timing([0, 300, 0, 900, 10], None)];
        assert_eq!(
            phase_lines(&s, Lang::En),
            vec!["    request: DNS 0.00 ms · TCP 0.30 ms · server 0.90 ms · transfer 0.01 ms — 192.0.2.7:443, HTTP/2"]
        );
    }

    fn failed_run() -> RunResult {
        let mut s = StepResult::skipped("accueil");
        s.status = StepStatus::Failed;
        s.reason = Some(crate::probe::Reason::ErrorPage);
        s.message = Some("body contains « erreur technique »".into());
        s.method = "GET".into();
        s.url = Some("https://anef.example/".into());
        s.http_status = Some(200);
        s.http_version = Some("HTTP/1.1".into());
        s.duration = Duration::from_millis(1_500);
        s.response_bytes = 2_560;
        RunResult {
            probe: "anef".into(),
            scheduled_at: None,
            started_at: chrono::Utc::now(),
            duration: Duration::from_millis(1_500),
            politeness_wait: Duration::ZERO,
            outcome: crate::probe::Outcome::Broken,
            reason: Some(crate::probe::Reason::ErrorPage),
            failed_step: Some("accueil".into()),
            message: None,
            captcha_step: None,
            steps: vec![s, StepResult::skipped("rdv")],
        }
    }

    #[test]
    fn the_whole_trace_is_french_by_default_and_english_on_request() {
        let r = failed_run();
        let fr = render_with(&r, &HashMap::new(), Lang::Fr);
        for line in [
            "✗ accueil  GET https://anef.example/ → 200 (HTTP/1.1) en 1,5 s (en-têtes après 0 ms), 2,5 Kio",
            "    page « erreur technique » (error_page) : body contains « erreur technique »",
            "· rdv      non exécutée",
            "résultat : en échec (broken) — étape accueil, raison error_page — en 1,5 s (attente de politesse 0 ms)",
        ] {
            assert!(fr.lines().any(|l| l == line), "{line:?} missing from:\n{fr}");
        }
        let en = render_with(&r, &HashMap::new(), Lang::En);
        for line in [
            "✗ accueil  GET https://anef.example/ → 200 (HTTP/1.1) in 1.5 s (headers after 0 ms), 2.5 KiB",
            "    error_page: body contains « erreur technique »",
            "· rdv      not run",
            "outcome: broken (step accueil, reason error_page) in 1.5 s (politeness wait 0 ms)",
        ] {
            assert!(en.lines().any(|l| l == line), "{line:?} missing from:\n{en}");
        }
    }
}
