//! The observatory as the daemon serves it under `/observatoire/`: the
//! files of its last publication, held in memory (deflated) and swapped whole (a
//! request sees one generation), and which file answers a request:
//! `?lang=en` or `?lang=fr` first, then `Accept-Language` for addresses
//! that name no language (`/observatoire/`, `procedure/rdv`), French
//! otherwise. A file named in full (`index.en.html`) is served as named.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::html::suffix;
use super::File;
use crate::alert::settings::Language;

/// The rendered site: path relative to its root → its bytes, deflated.
/// Held compressed: at 1,000 probes the site is ~280 MiB of repetitive HTML
/// and JSON, 12 MiB deflated (heaptrack, BENCHMARKS.md, issue 14); a request
/// inflates its file.
#[derive(Debug, Default)]
pub struct Site {
    files: HashMap<String, Box<[u8]>>,
}

impl Site {
    pub fn new(files: Vec<File>) -> Site {
        let mut site = Site::default();
        for f in files {
            site.add(f);
        }
        site
    }

    /// Add (or replace) one file, deflated at once: the daemon renders the
    /// site a file at a time into here (`observatory::render_each`).
    pub fn add(&mut self, f: File) {
        self.files.insert(f.path, deflate(&f.bytes));
    }

    /// The file's bytes as published (None for a file not in the site).
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut d = flate2::read::DeflateDecoder::new(self.files.get(path)?.as_ref());
        std::io::Read::read_to_end(&mut d, &mut out).ok()?;
        Some(out)
    }
}

fn deflate(bytes: &[u8]) -> Box<[u8]> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::with_capacity(bytes.len() / 8), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = std::io::Write::write_all(&mut e, bytes);
    e.finish().unwrap_or_default().into_boxed_slice()
}

/// The last rendered site, replaced whole at each publication.
#[derive(Debug, Default)]
pub struct Latest(RwLock<Option<Arc<Site>>>);

impl Latest {
    pub fn set(&self, site: Site) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(site));
    }

    pub fn get(&self) -> Option<Arc<Site>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What answers a request: the file, its language when it has one, and
/// whether the choice depended on `Accept-Language` (for `Vary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub file: String,
    pub language: Option<Language>,
    pub negotiated: bool,
}

/// The file for `path` (relative to the observatory's root, without a
/// leading slash), given `?lang=` and the `Accept-Language` header.
pub fn resolve(path: &str, query_lang: Option<&str>, accept_language: Option<&str>) -> Option<Resolved> {
    if path.split('/').any(|part| part == ".." || part.starts_with('.')) {
        return None;
    }
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index")
    } else {
        path.to_string()
    };
    let last = path.rsplit('/').next().unwrap_or_default();
    let (stem, ext) = match last.rsplit_once('.') {
        Some((_, ext)) => (path[..path.len() - ext.len() - 1].to_string(), Some(ext.to_string())),
        None => (path.clone(), None),
    };
    match ext.as_deref() {
        Some("html" | "atom") => {
            let ext = ext.unwrap_or_default();
            let (base, named) = match stem.strip_suffix(".en") {
                Some(base) => (base.to_string(), Language::En),
                None => (stem.clone(), Language::Fr),
            };
            let lang = match query_lang {
                Some(q) => negotiate(Some(q), None),
                None => named,
            };
            Some(Resolved {
                file: format!("{base}{}.{ext}", suffix(lang)),
                language: Some(lang),
                negotiated: false,
            })
        }
        Some(_) => Some(Resolved {
            file: path,
            language: None,
            negotiated: false,
        }),
        None => {
            let lang = negotiate(query_lang, accept_language);
            Some(Resolved {
                file: format!("{stem}{}.html", suffix(lang)),
                language: Some(lang),
                negotiated: query_lang.is_none(),
            })
        }
    }
}

/// The language asked for by `?lang=` or an `Accept-Language` header:
/// English only when asked, French otherwise.
pub fn negotiate(query_lang: Option<&str>, accept_language: Option<&str>) -> Language {
    if let Some(q) = query_lang {
        return if q.trim().eq_ignore_ascii_case("en") {
            Language::En
        } else {
            Language::Fr
        };
    }
    let Some(header) = accept_language else { return Language::Fr };
    let mut best: Option<(f32, Language)> = None;
    for part in header.split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse::<f32>().ok()))
            .unwrap_or(1.0);
        let lang = if tag.starts_with("fr") {
            Language::Fr
        } else if tag.starts_with("en") {
            Language::En
        } else {
            continue;
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l).unwrap_or(Language::Fr)
}

/// The `Content-Type` of a file of the site.
pub fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("atom") => "application/atom+xml; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_held_deflated_and_served_as_published() {
        let page = "<tr><td class=ok></td></tr>\n".repeat(4000).into_bytes();
        let site = Site::new(vec![
            File {
                path: "index.html".into(),
                bytes: page.clone(),
            },
            File {
                path: "empty.json".into(),
                bytes: vec![],
            },
        ]);
        assert_eq!(site.get("index.html"), Some(page.clone()));
        assert_eq!(site.get("empty.json"), Some(vec![]));
        assert_eq!(site.get("absent.html"), None);
        let held = site.files.get("index.html").map_or(0, |b| b.len());
        assert!(held * 10 < page.len(), "{held} bytes held for {}", page.len());
    }

    fn file(path: &str, q: Option<&str>, accept: Option<&str>) -> Option<String> {
        resolve(path, q, accept).map(|r| r.file)
    }

    #[test]
    fn the_language_comes_from_the_query_then_the_header_then_french() {
        assert_eq!(file("", None, None).as_deref(), Some("index.html"));
        assert_eq!(file("", Some("en"), None).as_deref(), Some("index.en.html"));
        assert_eq!(file("", None, Some("en-GB,en;q=0.9,fr;q=0.5")).as_deref(), Some("index.en.html"));
        assert_eq!(file("", None, Some("fr-FR,fr;q=0.9,en;q=0.8")).as_deref(), Some("index.html"));
        assert_eq!(file("", None, Some("de-DE")).as_deref(), Some("index.html"));
        assert_eq!(file("", Some("fr"), Some("en")).as_deref(), Some("index.html"), "the query wins");
        assert_eq!(file("procedure/rdv", None, Some("en")).as_deref(), Some("procedure/rdv.en.html"));
        assert!(resolve("", None, Some("en")).is_some_and(|r| r.negotiated));
    }

    #[test]
    fn a_file_named_in_full_is_served_as_named_unless_the_query_says_otherwise() {
        assert_eq!(file("index.html", None, Some("en")).as_deref(), Some("index.html"));
        assert_eq!(file("index.en.html", None, None).as_deref(), Some("index.en.html"));
        assert_eq!(
            file("procedure/rdv.html", Some("en"), None).as_deref(),
            Some("procedure/rdv.en.html")
        );
        assert_eq!(
            file("procedure/rdv.en.html", Some("fr"), None).as_deref(),
            Some("procedure/rdv.html")
        );
        assert_eq!(file("incidents.atom", Some("en"), None).as_deref(), Some("incidents.en.atom"));
        assert_eq!(
            file("api/v1/procedures.json", Some("en"), None).as_deref(),
            Some("api/v1/procedures.json")
        );
        assert_eq!(file("badges/rdv-30d.svg", None, None).as_deref(), Some("badges/rdv-30d.svg"));
    }

    #[test]
    fn nothing_outside_the_site() {
        assert_eq!(file("../vigie.db", None, None), None);
        assert_eq!(file("procedure/../../x.html", None, None), None);
        assert_eq!(file(".hidden", None, None), None);
        assert_eq!(content_type("procedure/rdv.en.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("incidents.atom"), "application/atom+xml; charset=utf-8");
    }
}
