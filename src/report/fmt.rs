//! Formatting for people, in French or English: dates (`27/11/2026 14:05`),
//! durations (`2 h 05 min`, `3 j 04 h`), percentages (`99,72 %`), and HTML
//! escaping. Shared by reports and evidence bundles.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::alert::settings::Language;

/// Text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    crate::probe::text::escape_html(s)
}

/// `27/11/2026 14:05` (fr) or `2026-11-27 14:05` (en), in `tz`.
pub fn datetime(t: DateTime<Utc>, tz: Tz, lang: Language) -> String {
    let l = t.with_timezone(&tz);
    match lang {
        Language::Fr => l.format("%d/%m/%Y %H:%M").to_string(),
        Language::En => l.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// With seconds: evidence is dated to the second.
pub fn datetime_s(t: DateTime<Utc>, tz: Tz, lang: Language) -> String {
    let l = t.with_timezone(&tz);
    match lang {
        Language::Fr => l.format("%d/%m/%Y %H:%M:%S").to_string(),
        Language::En => l.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

pub fn date(d: chrono::NaiveDate, lang: Language) -> String {
    match lang {
        Language::Fr => d.format("%d/%m/%Y").to_string(),
        Language::En => d.format("%Y-%m-%d").to_string(),
    }
}

/// `45 s`, `12 min`, `2 h 05 min`, `3 j 04 h` (fr) / `3 d 04 h` (en).
pub fn duration(seconds: f64, lang: Language) -> String {
    let s = seconds.max(0.0).round() as u64;
    let day = if lang == Language::Fr { "j" } else { "d" };
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        let (m, r) = (s / 60, s % 60);
        if r == 0 || m >= 10 {
            format!("{} min", (s + 30) / 60)
        } else {
            format!("{m} min {r:02} s")
        }
    } else if s < 86400 {
        let m = (s + 30) / 60;
        format!("{} h {:02} min", m / 60, m % 60)
    } else {
        let m = (s + 30) / 60;
        let (d, h, m) = (m / 1440, (m / 60) % 24, m % 60);
        if m == 0 {
            format!("{d} {day} {h:02} h")
        } else {
            format!("{d} {day} {h:02} h {m:02} min")
        }
    }
}

/// `99,72 %` / `99.72%`; `—` when there is nothing to divide.
pub fn percent(ratio: Option<f64>, lang: Language) -> String {
    match ratio {
        None => "—".into(),
        Some(r) => {
            // Two decimals, but never a 100 % that hides a failure, nor a
            // 0 % that hides a success.
            let mut text = format!("{:.2}", r * 100.0);
            if r < 1.0 && text == "100.00" {
                text = "99.99".into();
            } else if r > 0.0 && text == "0.00" {
                text = "0.01".into();
            }
            match lang {
                Language::Fr => format!("{} %", text.replace('.', ",")),
                Language::En => format!("{text}%"),
            }
        }
    }
}

/// A latency: `850 ms`, `2,4 s`.
pub fn seconds(s: Option<f64>, lang: Language) -> String {
    match s {
        None => "—".into(),
        Some(s) if s < 1.0 => format!("{} ms", (s * 1000.0).round() as u64),
        Some(s) => {
            let t = format!("{s:.1} s");
            if lang == Language::Fr {
                t.replace('.', ",")
            } else {
                t
            }
        }
    }
}

/// `1 capture`, `12 captures` (the words given for one and for several).
pub fn count(n: u64, one: &str, many: &str, lang: Language) -> String {
    let singular = n == 1 || (n == 0 && lang == Language::Fr);
    format!("{} {}", int(n, lang), if singular { one } else { many })
}

/// A number with a thin space between thousands (fr) or a comma (en).
pub fn int(n: u64, lang: Language) -> String {
    let digits = n.to_string();
    let sep = if lang == Language::Fr { "\u{202f}" } else { "," };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

/// Days with one decimal: `12,5 jours` / `12.5 days`.
pub fn days(d: f64, lang: Language) -> String {
    match lang {
        Language::Fr => format!("{} j", format!("{d:.1}").replace('.', ",")),
        Language::En => format!("{d:.1} d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_first() {
        let fr = Language::Fr;
        assert_eq!(duration(7500.0, fr), "2 h 05 min");
        assert_eq!(duration(45.0, fr), "45 s");
        assert_eq!(duration(150.0, fr), "2 min 30 s");
        assert_eq!(duration(3.0 * 86400.0 + 4.0 * 3600.0, fr), "3 j 04 h");
        assert_eq!(duration(3.0 * 86400.0, Language::En), "3 d 00 h");
        assert_eq!(duration(14.0 * 86400.0 - 1800.0, fr), "13 j 23 h 30 min");
        assert_eq!(percent(Some(0.997_222), fr), "99,72 %");
        assert_eq!(percent(Some(0.999_99), fr), "99,99 %");
        assert_eq!(percent(Some(4.0 / 15.0), fr), "26,67 %");
        assert_eq!(percent(Some(0.000_01), fr), "0,01 %");
        assert_eq!(count(1, "jour couvert", "jours couverts", fr), "1 jour couvert");
        assert_eq!(count(0, "day", "days", Language::En), "0 days");
        assert_eq!(percent(Some(1.0), Language::En), "100.00%");
        assert_eq!(percent(None, fr), "—");
        assert_eq!(int(2_160_000, fr), "2\u{202f}160\u{202f}000");
        assert_eq!(int(950, Language::En), "950");
        assert_eq!(seconds(Some(0.4123), fr), "412 ms");
        assert_eq!(seconds(Some(2.46), fr), "2,5 s");
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-27T13:05:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(datetime(t, chrono_tz::Europe::Paris, fr), "27/11/2026 14:05");
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
