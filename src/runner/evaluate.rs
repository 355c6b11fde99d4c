//! Evaluating a response against a step's conditions, extractions and
//! observations. Pure functions over [`Response`]: no I/O, no clock, so every
//! rule is unit-testable.

use std::cell::OnceCell;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use scraper::Html;

use crate::probe::result::CheckResult;
use crate::probe::text::truncate_chars;
use crate::probe::{Css, ExtractSource, Extraction, Json, Match, Observation, ObserveKind, ObserveSource};

/// A received response, with lazily parsed views of its body.
pub struct Response<'a> {
    pub status: u16,
    pub headers: &'a [(String, String)],
    pub body: &'a str,
    pub url: &'a str,
    pub cookies: &'a [(String, String)],
    pub duration: Duration,
    html: OnceCell<Html>,
    json: OnceCell<Option<serde_json::Value>>,
    /// What a person reads on the page, and its title: given by the browser
    /// (`innerText`, `document.title`), or read from the HTML on first use.
    text: OnceCell<String>,
    title: OnceCell<String>,
}

impl<'a> Response<'a> {
    pub fn new(
        status: u16,
        headers: &'a [(String, String)],
        body: &'a str,
        url: &'a str,
        cookies: &'a [(String, String)],
        duration: Duration,
    ) -> Response<'a> {
        Response {
            status,
            headers,
            body,
            url,
            cookies,
            duration,
            html: OnceCell::new(),
            json: OnceCell::new(),
            text: OnceCell::new(),
            title: OnceCell::new(),
        }
    }

    /// A rendered page: the browser says what its text and title are.
    pub fn rendered(mut self, text: String, title: String) -> Response<'a> {
        self.text = OnceCell::from(text);
        self.title = OnceCell::from(title);
        self
    }

    fn text(&self) -> &str {
        self.text.get_or_init(|| {
            let sel = scraper::Selector::parse("body").ok();
            let html = self.html();
            let root = sel.as_ref().and_then(|s| html.select(s).next());
            let mut out = String::new();
            let nodes = match root {
                Some(body) => body.descendants().collect::<Vec<_>>(),
                None => html.root_element().descendants().collect(),
            };
            for n in nodes {
                if let Some(t) = n.value().as_text() {
                    let hidden = n.ancestors().any(|a| {
                        a.value()
                            .as_element()
                            .is_some_and(|e| matches!(e.name(), "script" | "style" | "noscript" | "template"))
                    });
                    if !hidden {
                        out.push_str(t);
                        out.push(' ');
                    }
                }
            }
            out.split_whitespace().collect::<Vec<_>>().join(" ")
        })
    }

    fn title(&self) -> &str {
        self.title.get_or_init(|| {
            scraper::Selector::parse("title")
                .ok()
                .and_then(|s| {
                    self.html()
                        .select(&s)
                        .next()
                        .map(|t| t.text().collect::<String>().trim().to_string())
                })
                .unwrap_or_default()
        })
    }

    fn html(&self) -> &Html {
        self.html.get_or_init(|| Html::parse_document(self.body))
    }

    fn json(&self) -> Option<&serde_json::Value> {
        self.json.get_or_init(|| serde_json::from_str(self.body).ok()).as_ref()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn css_first(&self, css: &Css, attr: Option<&str>) -> Option<String> {
        let el = self.html().select(&css.selector).next()?;
        match attr {
            Some(a) => el.value().attr(a).map(|s| s.to_string()),
            None => Some(el.text().collect::<String>().trim().to_string()),
        }
    }

    fn json_first(&self, path: &Json) -> Option<serde_json::Value> {
        let doc = self.json()?;
        path.path.query(doc).first().cloned()
    }
}

/// What kind of check failed: decides the run's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    Status,
    Duration,
    Content,
}

pub struct Check {
    pub kind: CheckKind,
    pub result: CheckResult,
}

/// A check with its description in English (traces, technicians) and in
/// French (documents for readers outside the team).
fn check(kind: CheckKind, passed: bool, description: String, description_fr: String) -> Check {
    Check {
        kind,
        result: CheckResult {
            description,
            description_fr,
            passed,
        },
    }
}

fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

fn short(s: &str) -> String {
    truncate_chars(s, 80)
}

/// Every condition of `m`, evaluated. `default_status` applies when `m` says
/// nothing about the status (expect: any status below 400).
pub fn evaluate(m: &Match, r: &Response, default_status: bool) -> Vec<Check> {
    let mut out = Vec::new();
    match &m.status {
        Some(codes) => out.push(check(
            CheckKind::Status,
            codes.contains(&r.status),
            if codes.len() == 1 {
                format!("status is {} (got {})", codes[0], r.status)
            } else {
                format!("status in {codes:?} (got {})", r.status)
            },
            if codes.len() == 1 {
                format!("code HTTP {} (reçu : {})", codes[0], r.status)
            } else {
                format!("code HTTP parmi {codes:?} (reçu : {})", r.status)
            },
        )),
        None if default_status => out.push(check(
            CheckKind::Status,
            r.status < 400,
            format!("status below 400 (got {})", r.status),
            format!("code HTTP inférieur à 400 (reçu : {})", r.status),
        )),
        None => {}
    }
    for s in &m.body_contains {
        out.push(check(
            CheckKind::Content,
            r.body.contains(s.as_str()),
            format!("body contains « {} »", short(s)),
            format!("la page contient « {} »", short(s)),
        ));
    }
    for s in &m.body_not_contains {
        out.push(check(
            CheckKind::Content,
            !r.body.contains(s.as_str()),
            format!("body does not contain « {} »", short(s)),
            format!("la page ne contient pas « {} »", short(s)),
        ));
    }
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for t in &m.text_contains {
        out.push(check(
            CheckKind::Content,
            norm(r.text()).contains(&norm(t)),
            format!("page text contains « {} »", short(t)),
            format!("le texte de la page contient « {} »", short(t)),
        ));
    }
    for t in &m.text_not_contains {
        out.push(check(
            CheckKind::Content,
            !norm(r.text()).contains(&norm(t)),
            format!("page text does not contain « {} »", short(t)),
            format!("le texte de la page ne contient pas « {} »", short(t)),
        ));
    }
    for u in &m.url_contains {
        out.push(check(
            CheckKind::Content,
            r.url.contains(u.as_str()),
            format!("address contains « {} »", short(u)),
            format!("l'adresse de la page contient « {} »", short(u)),
        ));
    }
    for t in &m.title_contains {
        out.push(check(
            CheckKind::Content,
            r.title().contains(t.as_str()),
            format!("title contains « {} » (got « {} »)", short(t), short(r.title())),
            format!(
                "le titre de la page contient « {} » (titre reçu : « {} »)",
                short(t),
                short(r.title())
            ),
        ));
    }
    for re in &m.body_matches {
        out.push(check(
            CheckKind::Content,
            re.is_match(r.body),
            format!("body matches /{}/", short(re.as_str())),
            format!("la page correspond au motif /{}/", short(re.as_str())),
        ));
    }
    for css in &m.css_present {
        let found = r.html().select(&css.selector).next().is_some();
        out.push(check(
            CheckKind::Content,
            found,
            format!("element {} present", css.source),
            format!("la page contient l'élément {}", css.source),
        ));
    }
    for css in &m.css_absent {
        let found = r.html().select(&css.selector).next().is_some();
        out.push(check(
            CheckKind::Content,
            !found,
            format!("element {} absent", css.source),
            format!("la page ne contient pas l'élément {}", css.source),
        ));
    }
    for (path, want) in &m.json {
        let got = r.json_first(path);
        let passed = got.as_ref().is_some_and(|g| json_equal(g, want));
        let got_fr = match &got {
            Some(g) => format!("valeur reçue : {}", short(&g.to_string())),
            None => "champ absent de la réponse".into(),
        };
        let got_s = got.map(|g| short(&g.to_string())).unwrap_or_else(|| "nothing".into());
        out.push(check(
            CheckKind::Content,
            passed,
            format!("JSON {} = {} (got {got_s})", path.source, short(&want.to_string())),
            format!("la réponse JSON a {} égal à {} ({got_fr})", path.source, short(&want.to_string())),
        ));
    }
    for path in &m.json_exists {
        out.push(check(
            CheckKind::Content,
            r.json_first(path).is_some(),
            format!("JSON {} exists", path.source),
            format!("la réponse JSON contient le champ {}", path.source),
        ));
    }
    for (name, want) in &m.headers {
        let got = r.header(name);
        let passed = got.is_some_and(|g| g.to_ascii_lowercase().contains(&want.to_ascii_lowercase()));
        out.push(check(
            CheckKind::Content,
            passed,
            format!("header {name} contains « {} »", short(want)),
            format!("l'en-tête HTTP {name} contient « {} »", short(want)),
        ));
    }
    if let Some(max) = m.max_duration {
        out.push(check(
            CheckKind::Duration,
            r.duration <= max,
            format!(
                "step takes at most {} (took {})",
                crate::config::units::format_duration(max),
                crate::config::units::format_duration(r.duration)
            ),
            format!(
                "l'étape dure au plus {} (durée : {})",
                crate::config::units::format_duration(max),
                crate::config::units::format_duration(r.duration)
            ),
        ));
    }
    out
}

/// What made a `*_when` condition hold, in words for traces and e-mails:
/// the text it found when it looked for text, else its checks.
pub fn describe_match(m: &Match, r: &Response) -> String {
    if let Some(s) = m.body_contains.first().or(m.text_contains.first()) {
        return format!("the page says « {} »", short(s));
    }
    if let Some(found) = m.body_matches.first().and_then(|re| re.find(r.body)) {
        return format!("the page says « {} »", short(found.as_str()));
    }
    let checks: Vec<String> = evaluate(m, r, false).into_iter().map(|c| c.result.description).collect();
    checks.join(", ")
}

/// [`describe_match`] in French.
pub fn describe_match_fr(m: &Match, r: &Response) -> String {
    if let Some(s) = m.body_contains.first().or(m.text_contains.first()) {
        return format!("la page affiche « {} »", short(s));
    }
    if let Some(found) = m.body_matches.first().and_then(|re| re.find(r.body)) {
        return format!("la page affiche « {} »", short(found.as_str()));
    }
    let checks: Vec<String> = evaluate(m, r, false).into_iter().map(|c| c.result.description_fr).collect();
    checks.join(" ; ")
}

/// A `*_when` condition holds when all its parts hold.
pub fn matches(m: &Match, r: &Response) -> bool {
    evaluate(m, r, false).iter().all(|c| c.result.passed)
}

/// Extract a variable; `Err` explains what was not found.
pub fn extract(x: &Extraction, r: &Response) -> Result<String, String> {
    let found = match &x.source {
        ExtractSource::Css { css, attr } => r.css_first(css, attr.as_deref()).ok_or_else(|| match attr {
            Some(a) => format!("no element {} with attribute `{a}`", css.source),
            None => format!("no element {}", css.source),
        }),
        ExtractSource::Regex { regex, group } => regex
            .captures(r.body)
            .and_then(|c| c.get(*group))
            .map(|m| m.as_str().to_string())
            .ok_or_else(|| format!("regex /{}/ did not match", short(regex.as_str()))),
        ExtractSource::Header(h) => r.header(h).map(|s| s.to_string()).ok_or_else(|| format!("no header {h}")),
        ExtractSource::Cookie(c) => r
            .cookies
            .iter()
            .find(|(k, _)| k == c)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("no cookie {c}")),
        ExtractSource::Json(p) => r
            .json_first(p)
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .ok_or_else(|| format!("JSON path {} found nothing", p.source)),
        ExtractSource::Status => Ok(r.status.to_string()),
        ExtractSource::Url => Ok(r.url.to_string()),
    }?;
    Ok(found)
}

/// An observation's value, or `None` when the page does not have it (e.g.
/// no first free date on a page without slots: nothing is recorded).
pub fn observe(o: &Observation, r: &Response) -> Option<f64> {
    let text = match &o.source {
        ObserveSource::CssCount(css) => return Some(r.html().select(&css.selector).count() as f64),
        ObserveSource::RegexCount(re) => return Some(re.find_iter(r.body).count() as f64),
        ObserveSource::Css { css, attr } => r.css_first(css, attr.as_deref())?,
        ObserveSource::Regex { regex, group } => regex.captures(r.body)?.get(*group)?.as_str().to_string(),
        ObserveSource::Json(p) => match r.json_first(p)? {
            serde_json::Value::Number(n) if o.kind == ObserveKind::Number => return n.as_f64(),
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        },
    };
    match o.kind {
        ObserveKind::Number => parse_number(&text),
        ObserveKind::Timestamp => parse_timestamp(&text).map(|t| t as f64),
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s.trim().replace(['\u{a0}', ' '], "").replace(',', ".");
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Dates as portals write them, to Unix seconds. Dates without a zone are
/// taken in Europe/Paris (the portals' zone).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Ok(n) = s.parse::<i64>() {
        // Unix seconds, or milliseconds from JavaScript.
        return Some(if n > 100_000_000_000 { n / 1000 } else { n });
    }
    let paris = chrono_tz::Europe::Paris;
    let naive_dt = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y à %H:%M",
        "%d/%m/%Y %Hh%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok());
    let naive = naive_dt.or_else(|| {
        ["%Y-%m-%d", "%d/%m/%Y"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    paris.from_local_datetime(&naive).earliest().map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ObserveKind;

    fn css(s: &str) -> Css {
        Css {
            source: s.into(),
            selector: scraper::Selector::parse(s).expect("selector"),
        }
    }

    #[test]
    fn timestamps_in_the_formats_portals_use() {
        assert_eq!(parse_timestamp("2026-12-03T09:00:00+01:00"), Some(1796284800));
        assert_eq!(parse_timestamp("2026-12-03"), Some(1796252400));
        assert_eq!(parse_timestamp("03/12/2026"), Some(1796252400));
        assert_eq!(parse_timestamp("03/12/2026 09:00"), Some(1796284800));
        assert_eq!(parse_timestamp("1796284800000"), Some(1796284800));
        assert_eq!(parse_timestamp("bientôt"), None);
    }

    #[test]
    fn css_count_and_absent_first_date() {
        let body = r#"<div><a class="slot-free" href="/5/1">09:00</a><a class="slot-free" href="/5/2">09:20</a></div>"#;
        let r = Response::new(200, &[], body, "http://x", &[], Duration::ZERO);
        let count = Observation {
            name: "slots".into(),
            source: ObserveSource::CssCount(css("a.slot-free")),
            kind: ObserveKind::Number,
        };
        assert_eq!(observe(&count, &r), Some(2.0));
        let date = Observation {
            name: "first".into(),
            source: ObserveSource::Regex {
                regex: regex::Regex::new(r#"data-first-free="([^"]+)""#).expect("re"),
                group: 1,
            },
            kind: ObserveKind::Timestamp,
        };
        assert_eq!(observe(&date, &r), None);
    }

    #[test]
    fn expect_reports_each_condition() {
        let m = Match {
            status: Some(thin_vec::thin_vec![200]),
            body_contains: thin_vec::thin_vec!["Bonjour".into()],
            css_absent: thin_vec::thin_vec![css(".error")],
            ..Match::default()
        };
        let r = Response::new(200, &[], "<p class=error>Bonjour</p>", "http://x", &[], Duration::ZERO);
        let checks = evaluate(&m, &r, true);
        assert_eq!(checks.iter().map(|c| c.result.passed).collect::<Vec<_>>(), vec![true, true, false]);
        assert_eq!(checks[2].result.description, "element .error absent");
        assert!(!matches(&m, &r));
    }

    #[test]
    fn numbers_written_the_french_way() {
        assert_eq!(parse_number("1 234,5"), Some(1234.5));
        assert_eq!(parse_number("NaN"), None);
    }
}
