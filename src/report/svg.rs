//! Inline SVG charts: no script, no font or image to fetch, readable in
//! black and white (each cell carries its value in a tooltip, and the
//! tables beside each chart give the same figures).

use std::fmt::Write as _;

use super::fmt::esc;
use super::model::Cell;

/// Colour of an availability.
fn colour(a: Option<f64>) -> &'static str {
    match a {
        None => "#e4e4e4",
        Some(a) if a >= 0.995 => "#2e7d32",
        Some(a) if a >= 0.98 => "#8bc34a",
        Some(a) if a >= 0.95 => "#fdd835",
        Some(a) if a >= 0.80 => "#fb8c00",
        Some(_) => "#c62828",
    }
}

/// The columns labelled: the first, the middle and the last.
fn label_columns(n: usize) -> Vec<usize> {
    let last = n.saturating_sub(1);
    let mut v = vec![0, last / 2, last];
    v.dedup();
    v
}

/// A row of a strip chart: its label, and each cell's value with its tooltip.
pub type StripRow = (String, Vec<(Option<f64>, String)>);

/// A grid of coloured cells: one row per probe, one column per day.
pub fn strip(rows: &[StripRow], columns: &[String], legend: &[(&str, Option<f64>)]) -> String {
    let label_w = 230.0;
    let n = columns.len().max(1) as f64;
    let cell_w = ((760.0 - label_w) / n).clamp(4.0, 40.0);
    let cell_h = 18.0;
    // A fixed width, so that one day is not blown up to the page's width.
    let width = 770.0_f64.max(label_w + cell_w * n + 10.0);
    let height = 28.0 + cell_h * rows.len() as f64 + 34.0;
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\" font-family=\"sans-serif\">\n"
    );
    // Column labels: first, middle and last, dropped when too close to the
    // previous one (a date is about 65 units wide), so they never overlap.
    let mut last_x = f64::NEG_INFINITY;
    for i in label_columns(columns.len()) {
        let x = label_w + cell_w * (i as f64 + 0.5);
        if let (Some(c), true) = (columns.get(i), x - last_x >= 72.0) {
            let _ = writeln!(s, "<text x=\"{x:.1}\" y=\"16\" text-anchor=\"middle\">{}</text>", esc(c));
            last_x = x;
        }
    }
    for (r, (label, values)) in rows.iter().enumerate() {
        let y = 24.0 + cell_h * r as f64;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w - 6.0,
            y + 13.0,
            esc(&truncate(label, 34))
        );
        for (c, (v, tip)) in values.iter().enumerate() {
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" stroke=\"#fff\"><title>{}</title></rect>",
                label_w + cell_w * c as f64,
                cell_w,
                cell_h - 2.0,
                colour(*v),
                esc(tip)
            );
        }
    }
    let ly = 24.0 + cell_h * rows.len() as f64 + 12.0;
    let mut x = label_w;
    for (text, v) in legend {
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{ly:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            colour(*v),
            x + 16.0,
            ly + 10.0,
            esc(text)
        );
        x += 18.0 + 7.0 * text.chars().count() as f64;
    }
    s.push_str("</svg>\n");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// Bars from 0 to 100 % (share of checks with a slot, per day).
pub fn bars(values: &[(String, Option<f64>, String)]) -> String {
    let (w, h, left, bottom) = (760.0, 150.0, 40.0, 20.0);
    let n = values.len().max(1) as f64;
    let bw = ((w - left - 10.0) / n).min(40.0);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\" font-family=\"sans-serif\">\n"
    );
    let plot_h = h - bottom - 10.0;
    for (pct, y) in [(100, 10.0), (50, 10.0 + plot_h / 2.0), (0, 10.0 + plot_h)] {
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{pct} %</text>",
            w - 10.0,
            left - 4.0,
            y + 4.0
        );
    }
    for (i, (label, v, tip)) in values.iter().enumerate() {
        let x = left + bw * i as f64;
        match v {
            Some(v) => {
                let bh = (plot_h * v.clamp(0.0, 1.0)).max(if *v > 0.0 { 1.5 } else { 0.0 });
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#1565c0\"><title>{}</title></rect>",
                    x + bw * 0.1,
                    10.0 + plot_h - bh,
                    bw * 0.8,
                    esc(tip)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"3\" fill=\"#e4e4e4\"><title>{}</title></rect>",
                    x + bw * 0.1,
                    10.0 + plot_h - 3.0,
                    bw * 0.8,
                    esc(tip)
                );
            }
        }
        if i == 0 || i + 1 == values.len() || i == values.len() / 2 {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bw / 2.0,
                h - 4.0,
                esc(label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Weekday x hour grid of failure rates.
pub fn heatmap(grid: &[Vec<Cell>], weekdays: &[&str; 7], tip: impl Fn(usize, usize, &Cell) -> String) -> String {
    let (left, top, cw, ch) = (80.0, 18.0, 28.0, 20.0);
    let width = left + cw * 24.0 + 10.0;
    let height = top + ch * 7.0 + 10.0;
    let max_rate = grid
        .iter()
        .flatten()
        .filter(|c| c.runs > 0)
        .map(|c| c.failed as f64 / c.runs as f64)
        .fold(0.0_f64, f64::max);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\" font-family=\"sans-serif\">\n"
    );
    for hour in (0..24).step_by(3) {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"12\" text-anchor=\"middle\">{hour} h</text>",
            left + cw * (hour as f64 + 0.5)
        );
    }
    for (d, row) in grid.iter().enumerate().take(7) {
        let y = top + ch * d as f64;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 14.0,
            weekdays[d]
        );
        for (hour, c) in row.iter().enumerate().take(24) {
            let fill = if c.runs == 0 {
                "#f2f2f2".to_string()
            } else {
                let rate = c.failed as f64 / c.runs as f64;
                let t = if max_rate > 0.0 { rate / max_rate } else { 0.0 };
                // White (no failure) to deep red (the worst cell).
                let g = (255.0 - 200.0 * t).round() as u8;
                format!("rgb(255,{g},{g})")
            };
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" stroke=\"#ddd\"><title>{}</title></rect>",
                left + cw * hour as f64,
                cw,
                ch,
                esc(&tip(d, hour, c))
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
