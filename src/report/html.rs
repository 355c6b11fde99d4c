//! The HTML report: one self-contained file (inline CSS and SVG, no script,
//! nothing fetched), readable on screen and printable to A4. French by
//! default; every figure comes from the [`Report`] the JSON and CSV carry.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::fmt::{self, esc};
use super::model::{ProbeReport, Ratio, Report};
use super::svg;
use super::words::{self, Words};
use crate::alert::settings::Language;
use crate::probe::{Outcome, Reason};

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1.2rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.8rem;margin:0 0 .3rem}h2{font-size:1.35rem;margin-top:2.2rem;border-bottom:2px solid #000091;padding-bottom:.2rem;color:#000091}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}p.meta{margin:.15rem 0;color:#444}
table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:.86rem}th,td{border:1px solid #c8c8d0;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#eef0f8}td.n{text-align:right;white-space:nowrap}.muted{color:#666;font-size:.85rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}.card{border:1px solid #b8bcd8;border-radius:.4rem;padding:.6rem .9rem;min-width:10rem;background:#f6f7fc}
.card b{display:block;font-size:1.45rem}.bad{color:#b00020}.warn{color:#a15c00}
nav ol{columns:2;font-size:.9rem}svg.chart{max-width:100%;height:auto;margin:.4rem 0}code{font-size:.82rem;word-break:break-all}
ol.steps li{margin:.25rem 0}ul li{margin:.2rem 0}.hash{font-family:monospace;font-size:.8rem;word-break:break-all}
@page{size:A4;margin:15mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:9.5pt}h1,h2,h3{break-after:avoid;break-inside:avoid}h2+p,h3+p{break-after:avoid}
h2{margin-top:1.2rem}tr,svg,.card,.cards,li{break-inside:avoid}thead{display:table-header-group}table{font-size:8.5pt;width:99.6%}
td:first-child,th:first-child{min-width:15em}td.n{white-space:nowrap}td.obs{white-space:normal;min-width:8em}code,.hash{word-break:break-all}
nav{display:none}a{color:inherit;text-decoration:none}}
";

/// The word for one or for several (French: 0 and 1 are singular).
fn plural<'a>(n: u64, one: &'a str, many: &'a str, l: Language) -> &'a str {
    if n == 1 || (n == 0 && l == Language::Fr) {
        one
    } else {
        many
    }
}

fn pct(r: &Ratio, l: Language) -> String {
    fmt::percent(r.availability, l)
}

fn dt(t: DateTime<Utc>, r: &Report, l: Language) -> String {
    fmt::datetime(t, tz(r), l)
}

fn tz(r: &Report) -> chrono_tz::Tz {
    r.period.timezone.parse().unwrap_or(chrono_tz::Europe::Paris)
}

fn reason_label(reason: &str, l: Language) -> String {
    match Reason::parse(reason) {
        Some(r) if l == Language::Fr => r.label_fr().to_string(),
        Some(r) => r.label_en().to_string(),
        None => reason.to_string(),
    }
}

fn outcome_label(o: &str, l: Language) -> String {
    match Outcome::parse(o) {
        Some(o) if l == Language::Fr => o.label_fr().to_string(),
        Some(o) => o.label_en().to_string(),
        None => o.to_string(),
    }
}

fn probe_name(p: &ProbeReport) -> String {
    format!("{}<br><span class=\"muted\">{}</span>", esc(&p.title), esc(&p.probe))
}

fn header(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(s, "<h1>{} — vigie</h1>", w.title);
    if let Some(a) = &r.author {
        let _ = writeln!(s, "<p class=\"meta\"><strong>{}</strong></p>", esc(a));
    }
    let _ = writeln!(
        s,
        "<p class=\"meta\">{} : {} {} {} ({}){}</p>",
        w.period,
        fmt::date(r.period.from, l),
        w.to,
        fmt::date(r.period.to, l),
        esc(&r.period.timezone),
        if r.period.partial {
            format!(", {}", w.until_now)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "<p class=\"meta\">{} {} — {} : {} — vigie {}</p>",
        w.generated,
        dt(r.generated_at, r, l),
        w.vantage,
        esc(&r.methodology.locations.join(", ")),
        esc(&r.vigie_version)
    );
    let _ = writeln!(
        s,
        "<nav><ol><li><a href=\"#synthese\">{}</a></li><li><a href=\"#disponibilite\">{}</a></li><li><a href=\"#incidents\">{}</a></li><li><a href=\"#creneaux\">{}</a></li><li><a href=\"#temps\">{}</a></li><li><a href=\"#echecs\">{}</a></li><li><a href=\"#preuves\">{}</a></li><li><a href=\"#methodologie\">{}</a></li></ol></nav>",
        w.summary, w.availability, w.incidents, w.slots, w.latency, w.patterns, w.evidence, w.methodology
    );
}

fn summary(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(s, "<h2 id=\"synthese\">{}</h2>", w.summary);
    let outage: f64 = r.probes.iter().map(|p| p.incidents.total_s).sum();
    let office: f64 = r.probes.iter().map(|p| p.incidents.office_hours_lost_s).sum();
    let _ = writeln!(
        s,
        "<div class=\"cards\"><div class=\"card\"><b>{}</b>{}</div><div class=\"card\"><b>{}</b>{}</div><div class=\"card\"><b>{}</b>{}</div><div class=\"card\"><b>{}</b>{} — {}</div></div>",
        fmt::int(r.incidents.len() as u64, l),
        plural(r.incidents.len() as u64, w.incident, &w.incidents.to_lowercase(), l),
        fmt::duration(outage, l),
        w.total.to_lowercase(),
        fmt::duration(office, l),
        w.office_lost.to_lowercase(),
        fmt::int(r.evidence.captures, l),
        plural(r.evidence.captures, w.capture, w.captures, l),
        fmt::count(r.evidence.days_covered, w.day_covered, w.days_covered, l)
    );
    if r.procedures.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", w.nothing);
        return;
    }
    let _ = writeln!(
        s,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.procedure, w.checks, w.all, w.no_maintenance, w.office, w.incidents, w.total
    );
    for p in &r.procedures {
        let _ = writeln!(
            s,
            "<tr><td>{}<br><span class=\"muted\">{}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&p.procedure),
            esc(&p.probes.join(", ")),
            fmt::int(p.all.runs, l),
            pct(&p.all, l),
            pct(&p.excluding_maintenance, l),
            pct(&p.office_hours, l),
            p.incidents,
            fmt::duration(p.outage_s, l)
        );
    }
    s.push_str("</table>\n");
}

/// "The monitor was refused N times over D days": bot protection is a finding, never an outage.
fn refusals(s: &mut String, r: &Report, l: Language) {
    for p in r.probes.iter().filter(|p| p.refusals.runs > 0) {
        let (n, d) = (fmt::int(p.refusals.runs, l), fmt::int(p.refusals.days, l));
        let text = match l {
            Language::Fr => format!(
                "{} : la protection anti-robot du site a refusé vigie {n} fois sur {d} jour(s). Ces vérifications n'ont pas pu observer le service ; elles ne comptent ni pour ni contre sa disponibilité.",
                probe_name(p)
            ),
            Language::En => format!(
                "{}: the site's bot protection refused vigie {n} time(s) over {d} day(s). These checks could not observe the service; they count neither for nor against its availability.",
                probe_name(p)
            ),
        };
        let _ = writeln!(s, "<p class=\"refus\">{text}</p>");
    }
}

fn availability(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(
        s,
        "<h2 id=\"disponibilite\">{}</h2>\n<p>{}</p>",
        w.availability, w.availability_intro
    );
    let _ = writeln!(
        s,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.probe, w.checks, w.all, w.no_maintenance, w.office, w.slow, w.no_slot, w.failed, w.coverage
    );
    for p in &r.probes {
        let a = &p.availability;
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n obs\">{}</td></tr>",
            probe_name(p),
            fmt::int(a.all.runs, l),
            pct(&a.all, l),
            pct(&a.excluding_maintenance, l),
            pct(&a.office_hours, l),
            fmt::int(a.degraded, l),
            fmt::int(a.no_capacity, l),
            fmt::int(a.all.failed, l),
            coverage(p, l),
        );
    }
    s.push_str("</table>\n");
    not_observed(s, r, w, l);
    refusals(s, r, l);
    let columns: Vec<String> = r
        .probes
        .first()
        .map(|p| p.daily.iter().map(|d| fmt::date(d.date, l)).collect())
        .unwrap_or_default();
    let rows: Vec<svg::StripRow> = r
        .probes
        .iter()
        .map(|p| {
            let cells = p
                .daily
                .iter()
                .map(|d| {
                    let tip = match d.ratio.availability {
                        Some(_) => format!("{} — {} ({} {})", fmt::date(d.date, l), pct(&d.ratio, l), d.ratio.runs, w.runs),
                        None => format!("{} — {}", fmt::date(d.date, l), w.no_data),
                    };
                    (d.ratio.availability, tip)
                })
                .collect();
            (p.title.clone(), cells)
        })
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(s, "<h3>{}</h3>", w.per_day);
        s.push_str(&svg::strip(
            &rows,
            &columns,
            &[
                ("≥ 99,5 %", Some(1.0)),
                ("≥ 98 %", Some(0.985)),
                ("≥ 95 %", Some(0.96)),
                ("≥ 80 %", Some(0.9)),
                ("< 80 %", Some(0.5)),
                (w.no_data, None),
            ],
        ));
    }
}

/// Links to the incident's captures in the bundle beside the report.
fn capture_links(i: &super::model::IncidentRow, w: &Words) -> String {
    if i.captures.is_empty() {
        return "—".into();
    }
    i.captures
        .iter()
        .map(|c| format!("<a href=\"{}\">{} {}</a>", esc(&c.href), w.capture_n, c.seq))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `11 min / 24 h 00 min (0,76 %)`: observed time, to the minute.
fn coverage(p: &ProbeReport, l: Language) -> String {
    format!(
        "{} / {} ({})",
        fmt::duration(p.observed_s, l),
        fmt::duration(p.period_s, l),
        fmt::percent(p.coverage, l)
    )
}

/// Each probe's longest not-observed stretches, with their dates.
fn not_observed(s: &mut String, r: &Report, w: &Words, l: Language) {
    let tz: chrono_tz::Tz = r.period.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let mut items = String::new();
    for p in r.probes.iter().filter(|p| p.not_observed_count > 0) {
        let stretches: Vec<String> = p
            .not_observed
            .iter()
            .map(|g| {
                format!(
                    "{} ({} {} {} {})",
                    fmt::duration(g.duration_s, l),
                    w.from_to.0,
                    fmt::datetime_s(g.from, tz, l),
                    w.from_to.1,
                    fmt::datetime_s(g.to, tz, l)
                )
            })
            .collect();
        let more = p.not_observed_count.saturating_sub(p.not_observed.len() as u64);
        let more = if more > 0 {
            format!(" ; {more} {}", w.not_observed_more)
        } else {
            String::new()
        };
        let colon = if l == Language::Fr { " :" } else { ":" };
        let _ = writeln!(
            items,
            "<li>{} — {}{colon} {}{more}</li>",
            probe_name(p),
            fmt::duration(p.not_observed_s, l),
            stretches.join(" ; ")
        );
    }
    if !items.is_empty() {
        let _ = writeln!(s, "<h3>{}</h3>\n<ul>\n{items}</ul>", w.not_observed);
    }
}

fn incidents(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(s, "<h2 id=\"incidents\">{}</h2>\n<p>{}</p>", w.incidents, w.incidents_intro);
    let _ = writeln!(
        s,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>MTTR</th><th>MTBF</th></tr>",
        w.probe, w.count, w.total, w.office_lost, w.longest
    );
    let d = |x: Option<f64>| x.map(|v| fmt::duration(v, l)).unwrap_or_else(|| "—".into());
    for p in &r.probes {
        let i = &p.incidents;
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            probe_name(p),
            i.count,
            fmt::duration(i.total_s, l),
            fmt::duration(i.office_hours_lost_s, l),
            d(i.longest_s),
            d(i.mttr_s),
            d(i.mtbf_s)
        );
    }
    s.push_str("</table>\n");
    if r.incidents.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", w.none_incident);
        return;
    }
    let _ = writeln!(
        s,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>HTTP</th><th>{}</th></tr>",
        w.probe, w.start, w.end, w.duration, w.step, w.reason, w.captures_col
    );
    for i in &r.incidents {
        let end = match i.ended_at {
            Some(e) => dt(e, r, l),
            None => format!("<strong class=\"bad\">{}</strong>", w.ongoing),
        };
        let mut reason = i
            .reason
            .as_deref()
            .map(|x| reason_label(x, l))
            .unwrap_or_else(|| outcome_label(&i.outcome, l));
        if let Some(m) = i.began_in_maintenance_at {
            let _ = write!(reason, " ({} {})", w.after_maintenance, dt(m, r, l));
        }
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{end}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.title),
            dt(i.started_at, r, l),
            fmt::duration(i.duration_s, l),
            esc(i.failed_step.as_deref().unwrap_or("—")),
            esc(&reason),
            i.last_http_status.map(|x| x.to_string()).unwrap_or_else(|| "—".into()),
            capture_links(i, w)
        );
    }
    s.push_str("</table>\n");
    if r.incidents.iter().any(|i| !i.captures.is_empty()) {
        let _ = writeln!(
            s,
            "<p class=\"muted\">{} <code>{}</code>{}</p>",
            w.captures_note.0,
            esc(&r.evidence_folder),
            w.captures_note.1
        );
    }
}

fn slots(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(s, "<h2 id=\"creneaux\">{}</h2>\n<p>{}</p>", w.slots, w.slots_intro);
    for p in &r.probes {
        let Some(st) = &p.slots else { continue };
        let _ = writeln!(
            s,
            "<h3>{} <span class=\"muted\">({})</span></h3>\n<table>",
            esc(&p.title),
            esc(&p.probe)
        );
        let _ = writeln!(
            s,
            "<tr><th>{}</th><td>{} ({} / {} {})</td></tr>",
            w.share_slot,
            fmt::percent(st.share_with_slot, l),
            fmt::int(st.with_slot, l),
            fmt::int(st.checks, l),
            w.runs
        );
        let longest = match &st.longest_without {
            Some(x) => format!(
                "<strong>{}</strong> — {} → {}{} — {} {}{}",
                fmt::duration(x.duration_s, l),
                dt(x.from, r, l),
                dt(x.to, r, l),
                if x.ongoing { format!(" ({})", w.still) } else { String::new() },
                fmt::int(x.checks, l),
                w.checks_in_it,
                if x.approximate { format!(" ({})", w.approx) } else { String::new() }
            ),
            None => "—".into(),
        };
        let _ = writeln!(s, "<tr><th>{}</th><td>{longest}</td></tr>", w.longest_without);
        if let Some(f) = &st.first_free {
            let _ = writeln!(
                s,
                "<tr><th>{}</th><td>{} {} ({} {} {} {}, {} {})</td></tr>",
                w.first_free,
                w.mean,
                fmt::days(f.mean_days, l),
                w.min_max,
                fmt::days(f.min_days, l),
                w.to_value,
                fmt::days(f.max_days, l),
                fmt::int(f.observations, l),
                w.runs
            );
        }
        if st.captcha_stops > 0 {
            let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", w.captcha_stops, fmt::int(st.captcha_stops, l));
        }
        s.push_str("</table>\n");
        let values: Vec<(String, Option<f64>, String)> = p
            .daily
            .iter()
            .map(|d| {
                let share = (d.slot_checks > 0).then(|| d.slot_with as f64 / d.slot_checks as f64);
                let tip = format!(
                    "{} — {} ({}/{})",
                    fmt::date(d.date, l),
                    fmt::percent(share, l),
                    d.slot_with,
                    d.slot_checks
                );
                (fmt::date(d.date, l), share, tip)
            })
            .collect();
        if st.checks > 0 {
            let _ = writeln!(s, "<p class=\"muted\">{}</p>", w.slot_chart);
            s.push_str(&svg::bars(&values));
        }
    }
}

fn latency(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(s, "<h2 id=\"temps\">{}</h2>\n<p>{}</p>", w.latency, w.latency_intro);
    let _ = writeln!(
        s,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>",
        w.probe, w.step, w.checks
    );
    for p in &r.probes {
        for (i, row) in p.latency.iter().enumerate() {
            let step = if row.step.is_empty() {
                format!("<em>{}</em>", w.whole_run)
            } else {
                esc(&row.step)
            };
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{step}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                if i == 0 { probe_name(p) } else { String::new() },
                fmt::int(row.count, l),
                fmt::seconds(row.p50_s, l),
                fmt::seconds(row.p95_s, l),
                fmt::seconds(row.p99_s, l),
                fmt::seconds(row.max_s, l)
            );
        }
    }
    s.push_str("</table>\n");
    phases(s, r, w, l);
}

/// The phases table, when any step's phases were timed.
fn phases(s: &mut String, r: &Report, w: &Words, l: Language) {
    if r.probes.iter().all(|p| p.phases.is_empty()) {
        return;
    }
    let _ = writeln!(s, "<h3>{}</h3>\n<p>{}</p>", w.phases, w.phases_intro);
    let _ = write!(s, "<table><tr><th>{}</th><th>{}</th><th>{}</th>", w.probe, w.step, w.checks);
    for name in w.phase_names {
        let _ = write!(s, "<th>{name}<br><span class=\"muted\">p50 / p95</span></th>");
    }
    s.push_str("</tr>\n");
    for p in r.probes.iter().filter(|p| !p.phases.is_empty()) {
        for (i, row) in p.phases.iter().enumerate() {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td>",
                if i == 0 { probe_name(p) } else { String::new() },
                esc(&row.step),
                fmt::int(row.count, l)
            );
            for phase in crate::probe::result::Phase::ALL {
                let cell = row.phases.iter().find(|x| x.phase == phase.as_str());
                let _ = write!(
                    s,
                    "<td class=\"n\">{} / {}</td>",
                    fmt::seconds(cell.and_then(|c| c.p50_s), l),
                    fmt::seconds(cell.and_then(|c| c.p95_s), l)
                );
            }
            s.push_str("</tr>\n");
        }
    }
    s.push_str("</table>\n");
}

fn patterns(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(s, "<h2 id=\"echecs\">{}</h2>\n<p class=\"muted\">{}</p>", w.patterns, w.heatmap);
    s.push_str(&svg::heatmap(&r.failure_pattern, &w.weekdays, |d, h, c| {
        let share = (c.runs > 0).then(|| c.failed as f64 / c.runs as f64);
        format!("{} {h} h — {} ({}/{})", w.weekdays[d], fmt::percent(share, l), c.failed, c.runs)
    }));
    let _ = writeln!(
        s,
        "<h3>{}</h3>\n<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.failures_by_step, w.probe, w.step, w.reason, w.runs
    );
    for p in &r.probes {
        for f in &p.failures {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.title),
                esc(&f.step),
                esc(&reason_label(&f.reason, l)),
                fmt::int(f.runs, l)
            );
        }
    }
    s.push_str("</table>\n");
}

fn evidence(s: &mut String, r: &Report, w: &Words, l: Language) {
    let _ = writeln!(s, "<h2 id=\"preuves\">{}</h2>\n<p>{}</p>", w.evidence, w.evidence_text);
    let _ = writeln!(
        s,
        "<div class=\"cards\"><div class=\"card\"><b>{}</b>{}</div><div class=\"card\"><b>{}</b>{}</div></div>",
        fmt::int(r.evidence.captures, l),
        plural(r.evidence.captures, w.capture, w.captures, l),
        fmt::int(r.evidence.days_covered, l),
        plural(r.evidence.days_covered, w.day_covered, w.days_covered, l)
    );
    if let Some(h) = &r.evidence.register_head {
        let _ = writeln!(s, "<p>{} : <span class=\"hash\">{}</span></p>", w.anchor, esc(h));
    }
}

fn list(s: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(s, "<h3>{title}</h3>\n<ul>");
    for i in items {
        let _ = writeln!(s, "<li>{}</li>", esc(i));
    }
    s.push_str("</ul>\n");
}

/// Which version of the probe this is and when it ran; or that it is the
/// configuration at report time.
fn version_line(s: &mut String, p: &super::model::ProbeMethod, r: &Report, w: &Words) {
    let l = if r.language == "en" { Language::En } else { Language::Fr };
    let tz: chrono_tz::Tz = r.period.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    match &p.version {
        Some(v) => {
            let _ = writeln!(
                s,
                "<p class=\"meta\"><strong>{} <code>{}</code></strong> — {} {} {} {} ({} {}) — {} {}</p>",
                w.version_word,
                esc(&v.hash),
                w.ran_from,
                fmt::datetime(v.first_run, tz, l),
                w.from_to.1,
                fmt::datetime(v.last_run, tz, l),
                fmt::int(v.runs, l),
                w.runs,
                w.first_seen,
                fmt::datetime(v.first_seen, tz, l),
            );
        }
        None => {
            let _ = writeln!(s, "<p class=\"meta\"><em>{}</em></p>", w.config_now);
        }
    }
}

fn methodology(s: &mut String, r: &Report, w: &Words) {
    let m = &r.methodology;
    let _ = writeln!(s, "<h2 id=\"methodologie\">{}</h2>\n<table>", w.methodology);
    let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", w.version, esc(&m.vigie_version));
    let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", w.vantage, esc(&m.locations.join(", ")));
    if let Some(ua) = &m.user_agent {
        let _ = writeln!(s, "<tr><th>{}</th><td><code>{}</code></td></tr>", w.user_agent, esc(ua));
    }
    let _ = writeln!(
        s,
        "<tr><th>{}</th><td>{} ({})</td></tr>\n</table>",
        w.office_hours,
        esc(&m.office_hours),
        esc(&m.timezone)
    );
    if !m.from_configuration {
        let _ = writeln!(s, "<p><em>{}</em></p>", w.no_config);
    }
    if !m.probes.is_empty() {
        let _ = writeln!(s, "<h3>{}</h3>", w.how_probes);
    }
    for p in &m.probes {
        let _ = writeln!(s, "<h3>{} <span class=\"muted\">({})</span></h3>", esc(&p.title), esc(&p.probe));
        version_line(s, p, r, w);
        if let Some(d) = &p.description {
            let _ = writeln!(s, "<p>{}</p>", esc(d));
        }
        let _ = writeln!(
            s,
            "<p class=\"meta\">{} : {} (<code>{}</code>) — {} : {} — {} : {}</p>\n<ol class=\"steps\">",
            w.target,
            esc(&p.target),
            esc(&p.base_url),
            w.schedule,
            esc(&p.schedule),
            w.timeout,
            esc(&p.timeout)
        );
        for st in &p.steps {
            let _ = write!(s, "<li><strong>{}</strong>", esc(&st.name));
            for line in &st.lines {
                let _ = write!(s, "<br>{}", esc(line));
            }
            s.push_str("</li>\n");
        }
        s.push_str("</ol>\n");
    }
    list(s, w.rules, &m.rules);
    list(s, w.politeness, &m.politeness);
    list(s, w.maintenance, &m.maintenance);
    list(s, w.evidence, &m.evidence);
    list(s, w.computation, &m.computation);
}

pub fn render(r: &Report) -> String {
    let l = if r.language == "en" { Language::En } else { Language::Fr };
    let w = words::of(l);
    let mut s = format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<title>{} — vigie — {} – {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        l.as_str(),
        w.title,
        fmt::date(r.period.from, l),
        fmt::date(r.period.to, l)
    );
    header(&mut s, r, w, l);
    summary(&mut s, r, w, l);
    availability(&mut s, r, w, l);
    incidents(&mut s, r, w, l);
    slots(&mut s, r, w, l);
    latency(&mut s, r, w, l);
    patterns(&mut s, r, w, l);
    evidence(&mut s, r, w, l);
    methodology(&mut s, r, w);
    s.push_str("</body>\n</html>\n");
    with_thead(&s)
}

/// Put the first row of each table that starts with header cells in a
/// `<thead>`: printed, it repeats at the top of every page the table spans.
fn with_thead(s: &str) -> String {
    const OPEN: &str = "<table><tr><th>";
    let mut out = String::with_capacity(s.len() + 256);
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let Some(end) = after.find("</tr>") else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str("<table><thead><tr><th>");
        out.push_str(&after[..end]);
        out.push_str("</tr></thead>");
        rest = &after[end + "</tr>".len()..];
    }
    out.push_str(rest);
    out
}
