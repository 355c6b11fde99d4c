//! The human side of a bundle: `index.html` (summary and the list of every
//! capture with URL, date, time and SHA-256), one page per day showing each
//! capture as received, `README.txt` and `verify.py`.
//!
//! Pages are shown in `<iframe sandbox srcdoc=…>`: sandboxed without
//! `allow-scripts`, so no script runs, and under the parent's Content
//! Security Policy (`default-src 'none'`), which srcdoc frames inherit, so
//! nothing is fetched from the network: what is shown is what was received.
//! Rendering is deterministic (no clock, no randomness), so verification
//! renders again and compares byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;

use super::bundle::{paris_day, Manifest};
use super::record::Record;
use crate::alert::settings::Language;
use crate::report::fmt::{date, esc, int};

pub const README: &str = include_str!("bundle_readme.txt");
pub const VERIFY_PY: &str = include_str!("verify.py");

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:70rem;margin:1.5rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f0f0f5}code{font-size:.8rem;word-break:break-all}.hash{font-family:monospace;font-size:.75rem;word-break:break-all}
.summary{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}.summary div{border:1px solid #99a;border-radius:.3rem;padding:.5rem .8rem;background:#f7f7fb}
.summary b{font-size:1.5rem;display:block}.capture{border:2px solid #445;border-radius:.4rem;padding:.6rem 1rem;margin:1.5rem 0;break-inside:avoid}
.capture h2{border:none;margin-top:.2rem}dl{display:grid;grid-template-columns:13rem 1fr;gap:.2rem .8rem;font-size:.9rem}dt{font-weight:600}dd{margin:0}
img.shot{max-width:100%;height:auto;border:1px solid #889;margin:.4rem 0}iframe{width:100%;height:36rem;border:1px solid #889;background:#fff}pre{white-space:pre-wrap;word-break:break-all;background:#f7f7f7;padding:.5rem;max-height:36rem;overflow:auto}
.failure{color:#a00}.no_capacity{color:#a60}.muted{color:#666;font-size:.8rem}
@page{size:A4;margin:15mm}@media print{body{max-width:none;margin:0}iframe{height:20cm}a{color:inherit;text-decoration:none}}";

struct Words {
    title: &'static str,
    period: &'static str,
    exported: &'static str,
    captures: &'static str,
    days: &'static str,
    first_last: &'static str,
    how: &'static str,
    how_text: &'static str,
    chain: &'static str,
    list: &'static str,
    by_probe: &'static str,
    n: &'static str,
    paris: &'static str,
    utc: &'static str,
    probe: &'static str,
    finding: &'static str,
    url: &'static str,
    page_hash: &'static str,
    record_hash: &'static str,
    day_title: &'static str,
    back: &'static str,
    when: &'static str,
    response: &'static str,
    page: &'static str,
    no_response: &'static str,
    screenshot: &'static str,
    screenshot_alt: &'static str,
    truncated: &'static str,
    binary: &'static str,
    step: &'static str,
    vantage: &'static str,
    bytes: &'static str,
    maintenance: &'static str,
    detail: &'static str,
}

const FR: Words = Words {
    title: "Captures horodatées des pages vues par vigie",
    period: "Période",
    exported: "exporté le",
    captures: "captures",
    days: "jours couverts",
    first_last: "première et dernière capture (heure de Paris)",
    how: "Comment vérifier ces preuves",
    how_text: "Chaque capture est un enregistrement numéroté d'un registre tenu par vigie : chaque enregistrement contient l'empreinte SHA-256 de la page reçue et l'empreinte de l'enregistrement précédent. Modifier, supprimer ou déplacer une page ou un enregistrement rompt la chaîne. Pour vérifier : <code>vigie evidence verify</code> sur ce fichier zip, ou <code>python3 verify.py</code> (sans vigie), ou à la main avec <code>sha256sum</code> (voir README.txt).",
    chain: "Chaîne",
    list: "Liste des captures",
    by_probe: "Par démarche surveillée",
    n: "n°",
    paris: "Date et heure (Paris)",
    utc: "UTC",
    probe: "Démarche (sonde)",
    finding: "Constat",
    url: "Adresse (URL)",
    page_hash: "SHA-256 de la page",
    record_hash: "Empreinte de l'enregistrement",
    day_title: "Captures du",
    back: "← toutes les captures",
    when: "Date et heure",
    response: "Réponse",
    page: "Page reçue",
    no_response: "aucune page reçue",
    screenshot: "Capture d'écran",
    screenshot_alt: "Capture d'écran de la page affichée par le navigateur, avec le bandeau de vigie (adresse, date et heure, point d'observation)",
    truncated: "page tronquée à la limite de capture",
    binary: "contenu non textuel : voir le fichier",
    step: "étape",
    vantage: "point d'observation",
    bytes: "octets",
    maintenance: "pendant la maintenance annoncée",
    detail: "détail technique, en anglais",
};

const EN: Words = Words {
    title: "Time-stamped captures of the pages vigie saw",
    period: "Period",
    exported: "exported on",
    captures: "captures",
    days: "days covered",
    first_last: "first and last capture (Paris time)",
    how: "How to check this evidence",
    how_text: "Each capture is a numbered record of a register kept by vigie: each record holds the SHA-256 of the page received and the hash of the previous record. Changing, deleting or moving a page or a record breaks the chain. To check: <code>vigie evidence verify</code> on this zip file, or <code>python3 verify.py</code> (without vigie), or by hand with <code>sha256sum</code> (see README.txt).",
    chain: "Chain",
    list: "Every capture",
    by_probe: "By monitored procedure",
    n: "#",
    paris: "Date and time (Paris)",
    utc: "UTC",
    probe: "Procedure (probe)",
    finding: "Finding",
    url: "Address (URL)",
    page_hash: "SHA-256 of the page",
    record_hash: "Hash of the record",
    day_title: "Captures of",
    back: "← every capture",
    when: "Date and time",
    response: "Response",
    page: "Page received",
    no_response: "no page received",
    screenshot: "Screenshot",
    screenshot_alt: "Screenshot of the page as the browser showed it, with vigie's banner (address, date and time, vantage point)",
    truncated: "page cut at the capture limit",
    binary: "not text: see the file",
    step: "step",
    vantage: "vantage point",
    bytes: "bytes",
    maintenance: "during announced maintenance",
    detail: "technical detail",
};

fn lang_of(m: &Manifest) -> Language {
    if m.selection.language == "en" {
        Language::En
    } else {
        Language::Fr
    }
}

fn words(l: Language) -> &'static Words {
    match l {
        Language::Fr => &FR,
        Language::En => &EN,
    }
}

fn page_start(l: Language, title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        l.as_str(),
        esc(title)
    )
}

/// An RFC 3339 time as `27/11/2026 23:15:11`, Paris time.
fn local(t: Option<&str>, l: Language) -> String {
    t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| crate::report::fmt::datetime_s(t.with_timezone(&chrono::Utc), chrono_tz::Europe::Paris, l))
        .unwrap_or_else(|| "—".into())
}

/// The export time for a reader: Paris time in the language's format, the
/// stored UTC value after it as secondary detail.
fn exported_at(t: &str, l: Language) -> String {
    let zone = if l == Language::Fr { "heure de Paris" } else { "Paris time" };
    format!("{} ({zone}) <span class=\"muted\">{}</span>", local(Some(t), l), esc(t))
}

fn day_file(d: NaiveDate) -> String {
    format!("days/{}.html", d.format("%Y-%m-%d"))
}

fn anchor(seq: u64) -> String {
    format!("r{seq:06}")
}

/// "inaccessible — erreur du serveur (HTTP 5xx)".
fn finding(r: &Record, l: Language) -> String {
    let (outcome, reason) = match l {
        Language::Fr => (r.outcome.label_fr(), r.reason.map(|x| x.label_fr())),
        Language::En => (r.outcome.label_en(), r.reason.map(|x| x.label_en())),
    };
    match reason {
        Some(reason) if r.kind == super::Kind::Failure => format!("{outcome} — {reason}"),
        _ => outcome.to_string(),
    }
}

fn hash_of(m: &Manifest, seq: u64) -> &str {
    m.records.iter().find(|x| x.seq == seq).map(|x| x.hash.as_str()).unwrap_or("")
}

/// `27/11/2026 14:05:12` from the record's Paris time, and its UTC twin.
fn times(r: &Record, l: Language) -> (String, String) {
    let paris = r
        .observed_at_utc()
        .map(|t| crate::report::fmt::datetime_s(t, chrono_tz::Europe::Paris, l));
    let utc = r.observed_at_utc().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    (
        paris.unwrap_or_else(|| r.observed_at_paris.clone()),
        utc.unwrap_or_else(|| r.observed_at.clone()),
    )
}

fn index_row(r: &Record, l: Language) -> String {
    let (paris, utc) = times(r, l);
    let day = paris_day(r).map(day_file).unwrap_or_default();
    format!(
        "<tr id=\"{a}\"><td><a href=\"{day}#{a}\">{seq}</a></td><td>{paris}</td><td>{utc}</td><td>{probe}</td><td class=\"{kind}\">{finding}</td><td>{status}</td><td><code>{url}</code></td><td class=\"hash\">{hash}</td></tr>\n",
        a = anchor(r.seq),
        seq = r.seq,
        probe = esc(&r.title),
        kind = r.kind.as_str(),
        finding = esc(&finding(r, l)),
        status = r.http_status.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
        url = esc(&r.url),
        hash = if r.file.is_empty() { "—".to_string() } else { esc(&r.body_sha256) },
    )
}

fn capture_block(m: &Manifest, r: &Record, page: Option<&[u8]>, l: Language) -> String {
    let w = words(l);
    let (paris, utc) = times(r, l);
    let offset = r.observed_at_paris.get(r.observed_at_paris.len().saturating_sub(6)..).unwrap_or("");
    let mut s = format!(
        "<section class=\"capture\" id=\"{a}\">\n<h2>{n} {seq} — {paris} ({paris_word})</h2>\n<dl>\n",
        a = anchor(r.seq),
        n = w.n,
        seq = r.seq,
        paris_word = if l == Language::Fr { "heure de Paris" } else { "Paris time" },
    );
    let mut dd = |k: &str, v: String| {
        let _ = writeln!(s, "<dt>{k}</dt><dd>{v}</dd>");
    };
    dd(w.when, format!("{paris} (UTC{offset}) — {utc} {}", w.utc));
    dd(w.url, format!("<code>{}</code>", esc(&r.url)));
    if !r.chain.is_empty() {
        // The requests as sent: after a redirect the page's URL is not the
        // one first requested, nor with the same method.
        let sent = if l == Language::Fr {
            "Requêtes envoyées"
        } else {
            "Requests sent"
        };
        let status = r.chain.last().and_then(|h| h.status).map(|s| format!(" → {s}")).unwrap_or_default();
        dd(
            sent,
            format!(
                "<code>{}{status}</code>",
                esc(&crate::probe::Hop::describe(&r.chain, str::to_string))
            ),
        );
    }
    if let Some(addr) = &r.remote_addr {
        let word = if l == Language::Fr {
            "Adresse contactée"
        } else {
            "Address connected to"
        };
        dd(word, format!("<code>{}</code>", esc(addr)));
    }
    dd(
        w.response,
        r.http_status
            .map(|s| format!("HTTP {s}"))
            .unwrap_or_else(|| w.no_response.to_string()),
    );
    let mut f = format!(
        "<span class=\"{}\">{}</span> ({} « {} »)",
        r.kind.as_str(),
        esc(&finding(r, l)),
        w.step,
        esc(&r.step)
    );
    match (&r.message_fr, &r.message) {
        (Some(fr), Some(en)) if l == Language::Fr => {
            let _ = write!(f, " — {} <span class=\"muted\">({} : {})</span>", esc(fr), w.detail, esc(en));
        }
        (_, Some(msg)) => {
            let _ = write!(f, " — {} : {}", w.detail, esc(msg));
        }
        _ => {}
    }
    if let Some(mw) = &r.maintenance {
        let _ = write!(f, " — {} ({})", w.maintenance, esc(mw));
    }
    dd(w.finding, f);
    dd(
        w.probe,
        format!(
            "{} (<code>{}</code>) — {} <code>{}</code>",
            esc(&r.title),
            esc(&r.probe),
            w.vantage,
            esc(&r.location)
        ),
    );
    let page_desc = if r.file.is_empty() {
        w.no_response.to_string()
    } else {
        format!(
            "<a href=\"../{f}\">{f}</a> — {} {} — SHA-256 <span class=\"hash\">{}</span>{}",
            int(r.body_bytes, l),
            w.bytes,
            esc(&r.body_sha256),
            if r.truncated {
                format!(" — {}", w.truncated)
            } else {
                String::new()
            },
            f = esc(&r.file),
        )
    };
    dd(w.page, page_desc);
    if let Some(shot) = &r.screenshot {
        dd(
            w.screenshot,
            format!(
                "<a href=\"../{f}\">{f}</a> — {}×{} px — SHA-256 <span class=\"hash\">{}</span><br><a href=\"../{f}\"><img class=\"shot\" src=\"../{f}\" alt=\"{}\" loading=\"lazy\"></a>",
                shot.width,
                shot.height,
                esc(&shot.sha256),
                w.screenshot_alt,
                f = esc(&shot.file),
            ),
        );
    }
    dd(w.record_hash, format!("<span class=\"hash\">{}</span>", esc(hash_of(m, r.seq))));
    s.push_str("</dl>\n");
    match page {
        Some(body) if !body.is_empty() => {
            // `000042.html.txt`: an HTML page kept under a text name (see `record::extension`).
            let name = r.file.strip_suffix(".txt").filter(|n| n.ends_with(".html") || n.ends_with(".xml"));
            let ext = name.unwrap_or(&r.file).rsplit('.').next().unwrap_or("");
            let text = String::from_utf8_lossy(body);
            match ext {
                "html" | "xml" => {
                    let _ = writeln!(
                        s,
                        "<iframe sandbox srcdoc=\"{}\" title=\"{} {}\" loading=\"lazy\"></iframe>",
                        esc(&text),
                        w.page,
                        r.seq
                    );
                }
                "json" | "txt" => {
                    let _ = writeln!(s, "<pre>{}</pre>", esc(&text));
                }
                _ => {
                    let _ = writeln!(s, "<p>{} {}</p>", w.binary, esc(&r.file));
                }
            }
        }
        _ => {}
    }
    s.push_str("</section>\n");
    s
}

/// The HTML files of a bundle, rendered from its manifest and records.
pub fn render(m: &Manifest, records: &[Record], pages: &BTreeMap<u64, Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    let l = lang_of(m);
    let w = words(l);
    let from = date(m.selection.from, l);
    let to = date(m.selection.to, l);
    let mut index = page_start(l, &format!("vigie — {} — {from} – {to}", w.title));
    let _ = writeln!(index, "<h1>{}</h1>", w.title);
    let _ = writeln!(
        index,
        "<p>{} : {from} – {to} ({}) — {} {}</p>",
        w.period,
        esc(&m.selection.timezone),
        w.exported,
        exported_at(&m.exported_at, l)
    );
    let s = &m.summary;
    let _ = writeln!(
        index,
        "<div class=\"summary\"><div><b>{}</b>{}</div><div><b>{}</b>{}</div><div>{}<br>{} – {}</div></div>",
        int(s.captures, l),
        w.captures,
        int(s.days_covered, l),
        w.days,
        w.first_last,
        esc(&local(s.first.as_deref(), l)),
        esc(&local(s.last.as_deref(), l))
    );
    let _ = writeln!(index, "<h2>{}</h2>\n<p>{}</p>", w.how, w.how_text);
    let _ = writeln!(
        index,
        "<p>{} : #{} – #{} — <span class=\"hash\">{}</span></p>",
        w.chain,
        m.chain_first,
        m.chain_last,
        esc(&m.chain_last_hash)
    );
    let _ = writeln!(
        index,
        "<h2>{}</h2>\n<table><tr><th>{}</th><th>{}</th></tr>",
        w.by_probe, w.probe, w.captures
    );
    for (p, n) in &s.by_probe {
        let title = records.iter().find(|r| &r.probe == p).map(|r| r.title.as_str()).unwrap_or(p);
        let _ = writeln!(
            index,
            "<tr><td>{} (<code>{}</code>)</td><td>{}</td></tr>",
            esc(title),
            esc(p),
            int(*n, l)
        );
    }
    index.push_str("</table>\n");
    let _ = writeln!(
        index,
        "<h2>{}</h2>\n<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>HTTP</th><th>{}</th><th>{}</th></tr>",
        w.list, w.n, w.paris, w.utc, w.probe, w.finding, w.url, w.page_hash
    );
    let mut by_day: BTreeMap<NaiveDate, Vec<&Record>> = BTreeMap::new();
    for r in records {
        index.push_str(&index_row(r, l));
        if let Some(d) = paris_day(r) {
            by_day.entry(d).or_default().push(r);
        }
    }
    index.push_str("</table>\n</body>\n</html>\n");
    let mut out = vec![("index.html".to_string(), index.into_bytes())];
    for (d, rs) in by_day {
        let mut page = page_start(l, &format!("{} {}", w.day_title, date(d, l)));
        let _ = writeln!(
            page,
            "<h1>{} {}</h1>\n<p><a href=\"../index.html\">{}</a></p>",
            w.day_title,
            date(d, l),
            w.back
        );
        for r in rs {
            page.push_str(&capture_block(m, r, pages.get(&r.seq).map(Vec::as_slice), l));
        }
        page.push_str("</body>\n</html>\n");
        out.push((day_file(d), page.into_bytes()));
    }
    out
}

/// The fragment of `path` that shows record `r`, to name the first capture
/// whose display was edited.
pub fn block_for(m: &Manifest, r: &Record, path: &str, pages: &BTreeMap<u64, Vec<u8>>) -> Option<String> {
    let l = lang_of(m);
    if path == "index.html" {
        return Some(index_row(r, l));
    }
    (paris_day(r).map(day_file).as_deref() == Some(path)).then(|| capture_block(m, r, pages.get(&r.seq).map(Vec::as_slice), l))
}
