//! The human-readable step-by-step trace of a run (`vigie once`, the demo).
//! Everything shown here is already redacted by the runner.

use std::fmt::Write;

use std::time::Duration;

use super::Lang;
use crate::config::units::format_duration;
use crate::probe::{Probe, RunResult, StepResult, StepStatus};

pub fn header(p: &Probe) -> String {
    format!(
        "{} — {}\ntarget {} ({}), at most 1 request every {} and {} at a time to this host\n",
        p.name,
        p.title,
        p.target.name,
        p.target.base_url,
        format_duration(p.target.politeness.min_interval),
        p.target.politeness.max_concurrent
    )
}

fn size(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / 1024.0 / 1024.0)
    }
}

pub fn render(r: &RunResult) -> String {
    render_with(r, &std::collections::HashMap::new(), Lang::Fr)
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
fn browser_line(s: &crate::probe::StepResult, b: &crate::probe::result::BrowserFacts, mark: &str, width: usize) -> String {
    let mut timings = Vec::new();
    if let Some(d) = b.dom_content_loaded_s {
        timings.push(format!("DOMContentLoaded {}", ms(d)));
    }
    if let Some(d) = b.load_s {
        timings.push(format!("load {}", ms(d)));
    }
    if let Some(d) = b.wait_s {
        timings.push(format!("awaited after {}", ms(d)));
    }
    let mut requests = format!("{} request(s)", b.requests);
    if b.blocked_requests > 0 {
        let _ = write!(requests, ", {} blocked", b.blocked_requests);
    }
    format!(
        "{mark} {:<width$}  {} → {} « {} » in {}{}, {requests}",
        s.name,
        b.action,
        s.url.as_deref().unwrap_or("?"),
        b.title,
        format_duration(s.duration),
        if timings.is_empty() {
            String::new()
        } else {
            format!(" ({})", timings.join(", "))
        },
    )
}

fn ms(secs: f64) -> String {
    format_duration(std::time::Duration::from_secs_f64(secs.max(0.0)))
}

/// The trace, with the files screenshots were written to (step → path).
pub fn render_with(r: &RunResult, shots: &std::collections::HashMap<String, std::path::PathBuf>, lang: Lang) -> String {
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
            let _ = writeln!(out, "{mark} {:<width$}  not run", s.name);
            continue;
        }
        if let Some(b) = &s.browser {
            let _ = writeln!(out, "{}", browser_line(s, b, mark, width));
            for c in &b.console_errors {
                let _ = writeln!(out, "    console error: {c}");
            }
            if b.console_error_count as usize > b.console_errors.len() {
                let _ = writeln!(out, "    … {} console error(s) in all", b.console_error_count);
            }
            for f in &b.failed_requests {
                let what = match (f.status, &f.error) {
                    (Some(st), _) => format!("HTTP {st}"),
                    (None, Some(e)) => e.clone(),
                    (None, None) => "failed".into(),
                };
                let _ = writeln!(out, "    failed request: {} ({what})", f.url);
            }
            if let Some(p) = shots.get(&s.name) {
                let _ = writeln!(out, "    screenshot: {}", p.display());
            }
        } else {
            let status = s
                .http_status
                .map(|c| format!("{c} ({})", s.http_version.as_deref().unwrap_or("?")))
                .unwrap_or_else(|| "no response".into());
            // The requests as sent: `POST …/1 → 302 → GET …/2`.
            let target = if s.chain.is_empty() {
                format!("{} {}", s.method, s.url.as_deref().unwrap_or("?"))
            } else {
                vigie_hops(&s.chain)
            };
            let _ = writeln!(
                out,
                "{mark} {:<width$}  {target} → {status} in {} (headers after {}), {}",
                s.name,
                format_duration(s.duration),
                format_duration(s.time_to_headers),
                size(s.response_bytes)
            );
            for line in phase_lines(s, lang) {
                let _ = writeln!(out, "{line}");
            }
        }
        for c in &s.checks {
            let _ = writeln!(out, "    {} {}", if c.passed { "✓" } else { "✗" }, c.description);
        }
        for x in &s.extracted {
            let _ = writeln!(out, "    → {} = {}", x.name, x.shown);
        }
        for (k, v) in &s.observations {
            let _ = writeln!(out, "    observed {k} = {v}");
        }
        if let Some(t) = s.tls_not_after {
            let _ = writeln!(out, "    TLS certificate valid until {}", t.format("%Y-%m-%d"));
        }
        match s.status {
            StepStatus::NoCapacity => {
                let _ = writeln!(out, "    no capacity: {}", s.message.as_deref().unwrap_or(""));
            }
            StepStatus::Captcha => {
                let _ = writeln!(out, "    CAPTCHA reached: the run stops here (vigie never solves CAPTCHAs)");
            }
            StepStatus::Failed => {
                let _ = writeln!(
                    out,
                    "    {}: {}",
                    s.reason.map(|x| x.as_str()).unwrap_or("failed"),
                    s.message.as_deref().unwrap_or("")
                );
                if let Some(c) = &s.capture {
                    let _ = writeln!(out, "    page said: « {} »", c.text_excerpt(200));
                }
            }
            _ => {}
        }
    }
    let _ = writeln!(
        out,
        "\noutcome: {}{} in {} (politeness wait {})",
        r.outcome,
        match (r.reason, &r.failed_step) {
            (Some(reason), Some(step)) => format!(" (step {step}, reason {reason})"),
            _ => String::new(),
        },
        format_duration(r.duration),
        format_duration(r.politeness_wait)
    );
    if let Some(step) = &r.captcha_step {
        let _ = writeln!(out, "stopped at a CAPTCHA in step {step}: reached, not solved");
    }
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
}
