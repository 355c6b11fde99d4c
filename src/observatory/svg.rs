//! Inline SVG: the 90-day bar (one cell a day, each with its own tooltip),
//! the slot chart, and the badges. No script, no external resource.

use super::model::{Current, DayFigures, DayState, Procedure};
use super::words;
use crate::alert::settings::Language;
use crate::report::fmt::{self, esc};

/// Fill colour of a day; the legend pairs each with its word.
pub fn colour(s: DayState) -> &'static str {
    match s {
        DayState::Available => "#1a7f37",
        DayState::Degraded => "#b88700",
        DayState::Outage => "#cf222e",
        DayState::NoSlot => "#8250df",
        DayState::NotObserved => "#afb8c1",
        DayState::Maintenance => "#0969da",
    }
}

/// The figures of one day, in words (tooltip and table caption alike).
pub fn day_text(d: &DayFigures, lang: Language) -> String {
    let w = words::of(lang);
    let mut parts = vec![format!("{}{}{}", fmt::date(d.date, lang), w.colon, words::day(d.state, lang))];
    if d.availability.runs > 0 {
        parts.push(format!(
            "{} {} ({} {}, {} {})",
            w.availability.to_lowercase(),
            fmt::percent(d.availability.availability, lang),
            fmt::int(d.availability.runs, lang),
            w.checks.to_lowercase(),
            fmt::int(d.availability.failed, lang),
            w.failed.to_lowercase()
        ));
    }
    if d.slot_checks > 0 {
        parts.push(format!("{} {}/{}", w.slot_checks.to_lowercase(), d.slot_offered, d.slot_checks));
    }
    if d.unobserved > 0 {
        parts.push(format!("{} {}", w.not_observed.to_lowercase(), d.unobserved));
    }
    if d.maintenance_checks > 0 {
        parts.push(format!("{} {}", w.maintenance_checks.to_lowercase(), d.maintenance_checks));
    }
    parts.join(w.semicolon)
}

/// A one-line summary of the bar: how many days of each state.
pub fn bar_summary(days: &[DayFigures], lang: Language) -> String {
    let counts: Vec<String> = DayState::ALL
        .iter()
        .filter_map(|s| {
            let n = days.iter().filter(|d| d.state == *s).count();
            (n > 0).then(|| format!("{n} {} {}", if lang == Language::Fr { "j" } else { "d" }, words::day(*s, lang)))
        })
        .collect();
    let w = words::of(lang);
    format!("{}{}{}", w.last_90, w.colon, counts.join(", "))
}

/// The 90-day bar. `id` makes the title's id unique on the page.
pub fn bar(days: &[DayFigures], id: &str, lang: Language) -> String {
    let (cell, gap, h) = (8, 2, 34);
    let width = days.len() * (cell + gap);
    let mut s = format!(
        r#"<svg class="bar" viewBox="0 0 {width} {h}" width="{width}" height="{h}" role="img" aria-labelledby="bar-{id}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"><title id="bar-{id}">{}</title>"#,
        esc(&bar_summary(days, lang))
    );
    for (i, d) in days.iter().enumerate() {
        s.push_str(&format!(
            r#"<rect x="{}" y="0" width="{cell}" height="{h}" rx="1.5" fill="{}" class="d-{}"><title>{}</title></rect>"#,
            i * (cell + gap),
            colour(d.state),
            d.state.as_str(),
            esc(&day_text(d, lang))
        ));
    }
    s.push_str("</svg>");
    s
}

/// The chart's top: the smallest of 1, 2, 5, 10, 20, 50 and 100 % above
/// every day's share, so that rare slots stay visible.
fn slot_scale(days: &[DayFigures]) -> f64 {
    let max = days
        .iter()
        .filter(|d| d.slot_checks > 0)
        .map(|d| d.slot_offered as f64 / d.slot_checks as f64)
        .fold(0.0, f64::max);
    [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
        .into_iter()
        .find(|s| *s >= max)
        .unwrap_or(1.0)
}

/// `5 %` / `0,5 %` (French), `5%` / `0.5%` (English).
fn percent_label(ratio: f64, lang: Language) -> String {
    let n = format!("{}", (ratio * 1000.0).round() / 10.0);
    match lang {
        Language::Fr => format!("{} %", n.replace('.', ",")),
        Language::En => format!("{n}%"),
    }
}

/// Share of slot checks that offered a slot, per day, on a scale that fits
/// the largest share. A day whose checks offered none is a dark tick; a day
/// without slot checks, a light one.
pub fn slot_chart(days: &[DayFigures], lang: Language) -> String {
    let (cell, gap, h, top, left) = (6usize, 2usize, 120.0f64, 10.0f64, 48usize);
    let width = days.len() * (cell + gap) + left;
    let scale = slot_scale(days);
    let mut s = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {full}" width="{width}" height="{full}" role="img" aria-labelledby="slot-chart" xmlns="http://www.w3.org/2000/svg"><title id="slot-chart">{}</title>"#,
        esc(words::of(lang).slot_chart),
        full = h + top + 22.0,
    );
    for (v, y) in [(scale, top), (scale / 2.0, top + h / 2.0), (0.0, top + h)] {
        s.push_str(&format!(
            r##"<line x1="{}" x2="{width}" y1="{y}" y2="{y}" stroke="#d0d7de"/><text x="{}" y="{}" font-size="12" text-anchor="end" fill="#1f2328">{}</text>"##,
            left - 2,
            left - 6,
            y + 4.0,
            percent_label(v, lang)
        ));
    }
    for (i, d) in days.iter().enumerate() {
        let x = left + i * (cell + gap);
        let tip = esc(&day_text(d, lang));
        let (y, height, fill) = if d.slot_checks == 0 {
            (top + h - 2.0, 2.0, "#d0d7de")
        } else if d.slot_offered == 0 {
            (top + h - 3.0, 3.0, "#57606a")
        } else {
            let bh = (d.slot_offered as f64 / d.slot_checks as f64 / scale * h).clamp(3.0, h);
            (top + h - bh, bh, colour(DayState::NoSlot))
        };
        s.push_str(&format!(
            r##"<rect x="{x}" y="{y:.1}" width="{cell}" height="{height:.1}" fill="{fill}"><title>{tip}</title></rect>"##
        ));
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let y = top + h + 18.0;
        s.push_str(&format!(
            r##"<text x="{left}" y="{y}" font-size="12" fill="#1f2328">{}</text><text x="{width}" y="{y}" font-size="12" text-anchor="end" fill="#1f2328">{}</text>"##,
            fmt::date(first.date, lang),
            fmt::date(last.date, lang)
        ));
    }
    s.push_str("</svg>");
    s
}

fn badge(label: &str, value: &str, colour: &str) -> String {
    // Verdana-ish widths: ~6.5 px a character at 11 px.
    let lw = 10 + (label.chars().count() as f64 * 6.5) as usize;
    let vw = 10 + (value.chars().count() as f64 * 6.8) as usize;
    let w = lw + vw;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{l}: {v}"><title>{l}: {v}</title><rect width="{lw}" height="20" fill="#24292f"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/><g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="5" y="14">{l}</text><text x="{}" y="14">{v}</text></g></svg>
"##,
        lw + 5,
        l = esc(label),
        v = esc(value),
    )
}

/// « ANEF : dépôt · 30 j | 99,12 % » (French: badges are for French pages).
pub fn badge_availability(p: &Procedure) -> String {
    let r = p
        .windows
        .iter()
        .find(|w| w.window == "30d")
        .and_then(|w| w.availability.availability);
    let colour = match r {
        None => "#57606a",
        Some(r) if r >= 0.99 => "#1a7f37",
        Some(r) if r >= 0.95 => "#9a6700",
        Some(_) => "#cf222e",
    };
    badge("disponibilité 30 j", &fmt::percent(r, Language::Fr), colour)
}

pub fn badge_state(p: &Procedure) -> String {
    let colour = match p.current {
        Current::Available => "#1a7f37",
        Current::Slow => "#9a6700",
        Current::NoSlot => "#8250df",
        Current::Failing | Current::Unreachable => "#cf222e",
        Current::Unknown => "#57606a",
    };
    badge("état", words::current(p.current, Language::Fr), colour)
}
