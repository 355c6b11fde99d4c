//! The observatory's pages: the index (every procedure grouped by site,
//! with its state, 90-day bar, availability windows, last incidents and
//! slots) and a page per procedure (daily figures, incidents, slot chart).
//! Server-rendered HTML with inline CSS and SVG: no script, no external
//! resource; readable on a phone and printable.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::model::{Current, DayState, IncidentOut, Observatory, Procedure};
use super::svg;
use super::words::{self, Words};
use crate::alert::settings::Language;
use crate::report::fmt::{self, esc};

/// `""` for French (the default page), `".en"` for English.
pub fn suffix(lang: Language) -> &'static str {
    match lang {
        Language::Fr => "",
        Language::En => ".en",
    }
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;background:#fff;line-height:1.45}
.wrap{max-width:1000px;margin:0 auto;padding:1rem}
header.top{border-bottom:1px solid #d0d7de;margin-bottom:1rem}
h1{font-size:1.6rem;margin:.3rem 0}
h2{font-size:1.3rem;margin:1.6rem 0 .4rem;border-bottom:2px solid #1f2328}
h3{font-size:1.1rem;margin:0 0 .2rem}
a{color:#0550ae}
.meta{color:#57606a;font-size:.92rem}
.proc{border:1px solid #d0d7de;border-radius:6px;padding:.8rem;margin:.8rem 0;break-inside:avoid}
.state{font-weight:600;margin:.1rem 0 .4rem}
.state .dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.35em;vertical-align:baseline}
svg.bar{width:100%;height:34px;display:block}
.scale{display:flex;justify-content:space-between;color:#57606a;font-size:.8rem}
dl.win{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:.4rem;margin:.6rem 0}
dl.win div{background:#f6f8fa;border-radius:4px;padding:.3rem .5rem}
dl.win dt{font-size:.8rem;color:#57606a}
dl.win dd{margin:0;font-weight:600;font-size:1.05rem}
ul.facts{margin:.3rem 0;padding-left:1.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.25rem .35rem;text-align:left;vertical-align:top}
th{vertical-align:bottom}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n{white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;padding:0;list-style:none;font-size:.9rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.35em;vertical-align:-.1em}
.table-scroll{overflow-x:auto}
.table-scroll:focus{outline:2px solid #0550ae;outline-offset:2px}
svg.chart{width:100%;height:auto;display:block}
footer{border-top:1px solid #d0d7de;margin-top:2rem;padding-top:.6rem;color:#57606a;font-size:.88rem}
@media (max-width:600px){dl.win{grid-template-columns:repeat(2,minmax(0,1fr))}h1{font-size:1.3rem}.wrap{padding:.6rem}}
@media print{a{color:#1f2328;text-decoration:none}.noprint{display:none}.proc{border-color:#888}body{font-size:10pt}}
"#;

fn page(o: &Observatory, lang: Language, title: &str, other: &str, body: &str) -> String {
    let mut s = page_open(o, lang, title, other, body.len());
    s.push_str(body);
    page_close(o, lang, &mut s);
    s
}

/// A page up to its body, with room for `body` bytes more: the index of
/// 1,000 probes (~13 MB) is written once, not built then copied (issue 14).
fn page_open(o: &Observatory, lang: Language, title: &str, other: &str, body: usize) -> String {
    let w = words::of(lang);
    let alternate = match &o.public_url {
        Some(u) => format!(
            r#"<link rel="alternate" type="application/atom+xml" href="{}incidents{}.atom">"#,
            esc(&with_slash(u)),
            suffix(lang)
        ),
        None => String::new(),
    };
    let mut s = String::with_capacity(CSS.len() + body + 2048);
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{alternate}
<style>{CSS}</style>
</head>
<body>
<div class="wrap">
<p class="noprint"><a href="{other}" hreflang="{ocode}" lang="{ocode}">{olang}</a></p>
"#,
        code = lang.as_str(),
        title = esc(title),
        ocode = w.other_lang_code,
        olang = w.other_lang,
    );
    s
}

/// The end of a page, after its body.
fn page_close(o: &Observatory, lang: Language, s: &mut String) {
    let w = words::of(lang);
    let _ = write!(
        s,
        r#"
<footer><p>{method}</p><p>{public}</p><p>{updated} <time datetime="{stamp}">{when}</time> ({tz}) · vigie {version}</p></footer>
</div>
</body>
</html>
"#,
        method = esc(w.method),
        public = esc(w.what_public),
        updated = w.updated,
        when = fmt::datetime(o.generated_at, tz(o), lang),
        stamp = o.generated_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        tz = esc(&o.timezone),
        version = env!("CARGO_PKG_VERSION"),
    );
}

fn with_slash(u: &str) -> String {
    if u.ends_with('/') {
        u.to_string()
    } else {
        format!("{u}/")
    }
}

fn tz(o: &Observatory) -> Tz {
    o.timezone.parse().unwrap_or(chrono_tz::Europe::Paris)
}

fn site_title(o: &Observatory, lang: Language) -> String {
    if o.title.is_empty() {
        words::of(lang).default_title.to_string()
    } else {
        o.title.clone()
    }
}

fn state_colour(c: Current) -> &'static str {
    match c {
        Current::Available => svg::colour(DayState::Available),
        Current::Slow => svg::colour(DayState::Degraded),
        Current::NoSlot => svg::colour(DayState::NoSlot),
        Current::Failing | Current::Unreachable => svg::colour(DayState::Outage),
        Current::Unknown => svg::colour(DayState::NotObserved),
    }
}

fn when(t: Option<DateTime<Utc>>, o: &Observatory, lang: Language) -> String {
    t.map(|t| fmt::datetime(t, tz(o), lang)).unwrap_or_else(|| "—".into())
}

fn state_line(o: &Observatory, p: &Procedure, lang: Language) -> String {
    let w = words::of(lang);
    let since = match p.since {
        Some(s) => format!(" {} {}", w.since, fmt::datetime(s, tz(o), lang)),
        None => String::new(),
    };
    let last = match p.last_check {
        Some(t) => format!("{} {}", w.last_check, fmt::datetime(t, tz(o), lang)),
        None => w.no_check.to_string(),
    };
    format!(
        r#"<p class="state"><span class="dot" style="background:{}" aria-hidden="true"></span>{}{}</p><p class="meta">{}</p>"#,
        state_colour(p.current),
        esc(words::current(p.current, lang)),
        esc(&since),
        esc(&last)
    )
}

fn windows(p: &Procedure, lang: Language) -> String {
    let w = words::of(lang);
    let mut s = format!(r#"<dl class="win" aria-label="{}">"#, esc(w.availability));
    for (win, label) in p.windows.iter().zip(w.windows) {
        s.push_str(&format!(
            "<div><dt>{} {}</dt><dd>{}</dd></div>",
            esc(w.availability),
            label,
            fmt::percent(win.availability.availability, lang)
        ));
    }
    s.push_str("</dl>");
    s
}

fn bar_block(o: &Observatory, p: &Procedure, lang: Language) -> String {
    format!(
        r#"{}<div class="scale" aria-hidden="true"><span>{}</span><span>{}</span></div>"#,
        svg::bar(&p.days, &p.slug, lang),
        fmt::date(o.from, lang),
        fmt::date(o.to, lang)
    )
}

fn slot_facts(o: &Observatory, p: &Procedure, lang: Language) -> String {
    let w = words::of(lang);
    let Some(s) = &p.slots else { return String::new() };
    let last = match s.last_seen {
        Some(t) => format!("{} {}", w.slot_last_seen, fmt::datetime(t, tz(o), lang)),
        None => w.slot_never.to_string(),
    };
    let free = match s.first_free_date {
        Some(d) => format!(
            "{}{}{} ({} {})",
            w.first_free,
            w.colon,
            fmt::date(d.with_timezone(&tz(o)).date_naive(), lang),
            w.last_check,
            when(s.first_free_seen_at, o, lang)
        ),
        None => format!("{}{}{}", w.first_free, w.colon, w.first_free_none),
    };
    format!(
        "<ul class=\"facts\"><li>{} {}{}<strong>{}</strong> ({}/{})</li><li>{}</li><li>{}</li></ul>",
        esc(w.slots_share),
        w.over_90_days,
        w.colon,
        fmt::percent(s.share_with_slot, lang),
        fmt::int(s.with_slot, lang),
        fmt::int(s.checks, lang),
        esc(&last),
        esc(&free)
    )
}

fn unobserved_facts(p: &Procedure, lang: Language) -> String {
    let w = words::of(lang);
    let u = &p.unobserved;
    let items: String = [(u.blocked, w.refused), (u.monitor_error, w.monitor_failed)]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| {
            let text = format!(
                "{what} {} {}{}{}.",
                words::times(*n, lang),
                w.over_90_days,
                w.semicolon,
                w.not_outages
            );
            format!("<li>{}</li>", esc(&text))
        })
        .collect();
    if items.is_empty() {
        return String::new();
    }
    format!("<ul class=\"facts\">{items}</ul>")
}

fn incidents_table(o: &Observatory, list: &[&IncidentOut], lang: Language, caption: &str) -> String {
    let w = words::of(lang);
    if list.is_empty() {
        return format!("<p>{}</p>", esc(w.no_incident));
    }
    let mut s = format!(
        r#"<div class="table-scroll" tabindex="0" role="region" aria-label="{cap}"><table><caption class="vh">{cap}</caption><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col" class="n">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
        w.started,
        w.ended,
        w.duration,
        w.cause,
        cap = esc(caption),
    );
    for i in list {
        let cause = incident_cause(i, lang);
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            fmt::datetime(i.started_at, tz(o), lang),
            end_text(o, i, lang),
            fmt::duration(i.duration_s, lang),
            esc(&cause)
        ));
    }
    s.push_str("</tbody></table></div>");
    s
}

/// The end of an incident: its time alone when it ended the day it began.
fn end_text(o: &Observatory, i: &IncidentOut, lang: Language) -> String {
    let Some(end) = i.ended_at else {
        return words::of(lang).ongoing.to_string();
    };
    let day = |t: DateTime<Utc>| t.with_timezone(&tz(o)).date_naive();
    if day(end) == day(i.started_at) {
        end.with_timezone(&tz(o)).format("%H:%M").to_string()
    } else {
        fmt::datetime(end, tz(o), lang)
    }
}

/// « site injoignable : délai dépassé » — outcome and reason in words.
pub fn incident_cause(i: &IncidentOut, lang: Language) -> String {
    let head = if i.outcome == "down" {
        words::current(Current::Unreachable, lang)
    } else {
        words::current(Current::Failing, lang)
    };
    let head = head
        .split_once(": ")
        .or_else(|| head.split_once(" : "))
        .map(|(_, b)| b)
        .unwrap_or(head);
    match words::reason(i.reason.as_deref(), lang) {
        Some(r) => format!("{head} — {r}"),
        None => head.to_string(),
    }
}

fn legend(lang: Language) -> String {
    let w = words::of(lang);
    let items: String = DayState::ALL
        .iter()
        .map(|s| {
            format!(
                r#"<li><span class="sw" style="background:{}" aria-hidden="true"></span><strong>{}</strong>{}{}</li>"#,
                svg::colour(*s),
                esc(words::day(*s, lang)),
                w.colon,
                esc(words::day_meaning(*s, lang))
            )
        })
        .collect();
    format!(
        r#"<section aria-labelledby="legend"><h2 id="legend">{}</h2><ul class="legend">{items}</ul></section>"#,
        w.legend
    )
}

fn maintenance(o: &Observatory, lang: Language) -> String {
    let w = words::of(lang);
    let mut s = format!(r#"<section aria-labelledby="maint"><h2 id="maint">{}</h2>"#, w.maintenance_title);
    if o.maintenance.is_empty() {
        s.push_str(&format!("<p>{}</p></section>", w.maintenance_none));
        return s;
    }
    s.push_str("<ul>");
    for m in &o.maintenance {
        s.push_str(&format!(
            "<li>{} → {}{}{}{}{}</li>",
            fmt::datetime(m.start, tz(o), lang),
            fmt::datetime(m.end, tz(o), lang),
            if m.in_progress {
                format!(" ({})", w.in_progress)
            } else {
                String::new()
            },
            w.colon,
            esc(&m.procedures.join(", ")),
            m.note.as_deref().map(|n| format!(" — {}", esc(n))).unwrap_or_default()
        ));
    }
    s.push_str("</ul></section>");
    s
}

/// The title under its site's heading: without the site's name when it
/// starts with it (« ANEF : page d'accueil » under « ANEF » is « Page
/// d'accueil »).
fn short_title(p: &Procedure) -> String {
    let rest = [" : ", ": ", " — ", " – "]
        .iter()
        .find_map(|sep| p.title.strip_prefix(&format!("{}{sep}", p.site_title)))
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match rest {
        Some(r) => {
            let mut c = r.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        }
        None => p.title.clone(),
    }
}

fn procedure_card(o: &Observatory, p: &Procedure, lang: Language) -> String {
    let w = words::of(lang);
    let recent: Vec<&IncidentOut> = p.incidents.iter().take(3).collect();
    format!(
        r#"<article class="proc" aria-labelledby="t-{slug}"><h3 id="t-{slug}"><a href="procedure/{slug}{sfx}.html">{title}</a></h3>{state}{bar}{windows}{slots}{unobs}<details><summary>{inc}{colon}{n}{last}</summary>{table}</details><p class="noprint"><a href="procedure/{slug}{sfx}.html">{detail}<span class="vh"> — {title}</span></a></p></article>"#,
        slug = p.slug,
        sfx = suffix(lang),
        title = esc(&short_title(p)),
        state = state_line(o, p, lang),
        bar = bar_block(o, p, lang),
        windows = windows(p, lang),
        slots = slot_facts(o, p, lang),
        unobs = unobserved_facts(p, lang),
        inc = w.incidents,
        colon = w.colon,
        n = p.incidents.len(),
        last = if p.incidents.len() > recent.len() {
            format!(" ({} {})", recent.len(), w.incidents_last)
        } else {
            String::new()
        },
        table = incidents_table(o, &recent, lang, &format!("{} — {}", w.incidents, p.title)),
        detail = w.detail,
    )
}

/// The index page.
pub fn index(o: &Observatory, lang: Language) -> String {
    let w = words::of(lang);
    let title = site_title(o, lang);
    let by_slug: HashMap<&str, &Procedure> = o.procedures.iter().map(|p| (p.slug.as_str(), p)).collect();
    // The first card's size times the count: one allocation, near enough.
    let card = o.procedures.first().map_or(0, |p| procedure_card(o, p, lang).len());
    let guess = card * (o.procedures.len() + 1);
    let mut body = page_open(o, lang, &title, &format!("index{}.html", suffix(other(lang))), guess);
    let _ = write!(
        body,
        r#"<header class="top"><h1>{}</h1><p>{}</p><p class="meta noprint"><a href="incidents{sfx}.atom">{}</a> · <a href="api/v1/procedures.json">{}</a></p></header><main><p class="meta noprint">{}</p>"#,
        esc(&title),
        esc(w.intro),
        w.feed,
        w.api,
        esc(w.bar_help),
        sfx = suffix(lang)
    );
    body.push_str(&legend(lang));
    for (n, g) in o.sites.iter().enumerate() {
        // Numbered ids: a site's label is an identifier, not for the public.
        let _ = write!(
            body,
            r#"<section aria-labelledby="site-{n}"><h2 id="site-{n}">{}</h2>"#,
            esc(&g.title),
            n = n + 1
        );
        for slug in &g.procedures {
            if let Some(p) = by_slug.get(slug.as_str()) {
                body.push_str(&procedure_card(o, p, lang));
            }
        }
        body.push_str("</section>");
    }
    body.push_str(&maintenance(o, lang));
    body.push_str("</main>");
    page_close(o, lang, &mut body);
    body
}

fn other(lang: Language) -> Language {
    match lang {
        Language::Fr => Language::En,
        Language::En => Language::Fr,
    }
}

fn daily_table(p: &Procedure, w: &Words, lang: Language) -> String {
    let slots = p.slots.is_some();
    let mut s = format!(
        r#"<div class="table-scroll" tabindex="0" role="region" aria-label="{cap}"><table><caption class="vh">{cap}</caption><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col" class="n">{}</th><th scope="col" class="n">{}</th><th scope="col" class="n">{}</th><th scope="col" class="n">{}</th><th scope="col" class="n">{}</th><th scope="col" class="n">{}</th><th scope="col" class="n">{}</th>{}</tr></thead><tbody>"#,
        w.date,
        w.state,
        w.availability,
        w.checks,
        w.failed,
        w.slow,
        w.no_slot,
        w.not_observed,
        w.maintenance_checks,
        if slots {
            format!(r#"<th scope="col" class="n">{}</th>"#, w.slot_checks)
        } else {
            String::new()
        },
        cap = esc(&format!("{} — {}", w.daily_title, p.title)),
    );
    for d in p.days.iter().rev() {
        s.push_str(&format!(
            r#"<tr><th scope="row">{}</th><td><span class="sw" style="background:{}" aria-hidden="true"></span>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td>{}</tr>"#,
            fmt::date(d.date, lang),
            svg::colour(d.state),
            esc(words::day(d.state, lang)),
            fmt::percent(d.availability.availability, lang),
            fmt::int(d.availability.runs, lang),
            fmt::int(d.availability.failed, lang),
            fmt::int(d.degraded, lang),
            fmt::int(d.no_capacity, lang),
            fmt::int(d.unobserved, lang),
            fmt::int(d.maintenance_checks, lang),
            if slots { format!(r#"<td class="n">{}/{}</td>"#, d.slot_offered, d.slot_checks) } else { String::new() }
        ));
    }
    s.push_str("</tbody></table></div>");
    s
}

/// The page of one procedure.
pub fn detail(o: &Observatory, p: &Procedure, lang: Language) -> String {
    let w = words::of(lang);
    let all: Vec<&IncidentOut> = p.incidents.iter().collect();
    let chart = if p.slots.is_some() {
        format!(
            r#"<section aria-labelledby="slots"><h2 id="slots">{}</h2>{}{}</section>"#,
            w.slot_chart,
            slot_facts(o, p, lang),
            svg::slot_chart(&p.days, lang)
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<header class="top"><p class="noprint"><a href="../index{sfx}.html">{back}</a></p><h1>{title}</h1><p class="meta">{site}</p></header><main>{state}{bar}{windows}{unobs}{legend}<section aria-labelledby="inc"><h2 id="inc">{inc}</h2>{table}</section>{chart}<section aria-labelledby="daily"><h2 id="daily">{daily}</h2>{days}</section></main>"#,
        sfx = suffix(lang),
        back = w.back,
        title = esc(&p.title),
        site = esc(&p.site_title),
        state = state_line(o, p, lang),
        bar = bar_block(o, p, lang),
        windows = windows(p, lang),
        unobs = unobserved_facts(p, lang),
        inc = w.incidents,
        table = incidents_table(o, &all, lang, &format!("{} — {}", w.incidents, p.title)),
        daily = w.daily_title,
        days = daily_table(p, w, lang),
        legend = legend(lang),
    );
    page(
        o,
        lang,
        &format!("{} — {}", p.title, site_title(o, lang)),
        &format!("{}{}.html", p.slug, suffix(other(lang))),
        &body,
    )
}
