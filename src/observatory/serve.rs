//! The observatory as the daemon serves it under `/observatoire/`: the
//! files of its last publication, read from that publication's generation
//! folder on disk (the page cache holds them, not the daemon's heap),
//! swapped whole (a request sees one generation), and which file answers a
//! request: `?lang=en` or `?lang=fr` first, then `Accept-Language` for
//! addresses that name no language (`/observatoire/`, `procedure/rdv`),
//! French otherwise. A file named in full (`index.en.html`) is served as
//! named.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::html::suffix;
use super::model::Observatory;
use super::{render_each, Error, Generation};
use crate::alert::settings::Language;

/// One published generation: its folder and the names written into it.
/// Only those names are served, each opened without following a link: a
/// file or link added to the folder afterwards is never served. At 1,000
/// probes the names are ~5,000 short strings; the files themselves (~280 MiB
/// of text) stay on disk (held in memory, even deflated, they were 12 MiB
/// of the daemon's RSS: BENCHMARKS.md, issue 14).
#[derive(Debug)]
pub struct Site {
    root: PathBuf,
    names: Names,
}

/// A set of file names kept in one buffer. Collected while the files are
/// rendered, 5,000 names as separate small blocks would each be left
/// between the publication's freed blocks and keep that page of the heap
/// resident long after (issue 14).
#[derive(Debug, Default)]
pub struct Names {
    text: String,
    /// (start, end) of each name in `text`, sorted by name once sealed.
    spans: Vec<(u32, u32)>,
}

impl Names {
    pub fn insert(&mut self, name: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let span = (u32::try_from(start), u32::try_from(self.text.len()));
        if let (Ok(start), Ok(end)) = span {
            self.spans.push((start, end));
        }
    }

    /// Sort for lookups, drop repeats, and keep no spare room.
    pub fn seal(mut self) -> Names {
        let text = std::mem::take(&mut self.text);
        let name = |&(s, e): &(u32, u32)| &text[s as usize..e as usize];
        self.spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        self.spans.dedup_by(|a, b| name(a) == name(b));
        self.spans.shrink_to_fit();
        self.text = text;
        self.text.shrink_to_fit();
        self
    }

    /// Whether `name` is in the set (sealed).
    pub fn contains(&self, name: &str) -> bool {
        self.spans
            .binary_search_by(|&(s, e)| self.text[s as usize..e as usize].cmp(name))
            .is_ok()
    }
}

impl<'a> FromIterator<&'a str> for Names {
    fn from_iter<I: IntoIterator<Item = &'a str>>(names: I) -> Names {
        let mut set = Names::default();
        for n in names {
            set.insert(n);
        }
        set.seal()
    }
}

impl Site {
    /// The generation folder `root`, of which `names` (paths relative to
    /// it) are served.
    pub fn new(root: PathBuf, names: Names) -> Site {
        Site { root, names }
    }

    /// The generation folder served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file's bytes as published, read from disk (None for a file not
    /// in the site, or gone: a generation two publications old is removed).
    /// Blocking: call it off the async runtime.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        if !self.names.contains(path) {
            return None;
        }
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.root.join(path))
            .ok()?;
        let mut out = Vec::with_capacity(f.metadata().map_or(0, |m| m.len() as usize));
        f.read_to_end(&mut out).ok()?;
        Some(out)
    }
}

/// Render `o` a file at a time into a new generation of `output` (each
/// file written, then dropped: the site is never whole in memory), link
/// it, then serve it through `latest`. The generation served until now is
/// kept by [`Generation::finish`] (a request may still be reading it) and
/// removed at the next publication. On error nothing changes: the previous
/// site stays online. Returns the number of files.
pub fn publish(o: &Observatory, output: &Path, now_ms: i64, latest: &Latest) -> Result<usize, Error> {
    let mut g = Generation::begin(output, now_ms)?;
    let mut names = Names::default();
    render_each(o, |f| {
        g.write(&f)?;
        names.insert(&f.path);
        Ok(())
    })?;
    let published = g.finish()?;
    let root = std::fs::canonicalize(&published.generation).unwrap_or(published.generation);
    latest.set(Site::new(root, names.seal()));
    Ok(published.files)
}

/// The last published site (its generation folder), replaced whole at each
/// publication.
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
    fn only_the_names_written_are_served_and_never_through_a_link() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join("g-1");
        std::fs::create_dir_all(root.join("procedure")).expect("mkdir");
        let page = "<tr><td class=ok></td></tr>\n".repeat(4000).into_bytes();
        std::fs::write(root.join("index.html"), &page).expect("write");
        std::fs::write(root.join("procedure/rdv.html"), b"rdv").expect("write");
        std::fs::write(root.join("added-later.html"), b"not ours").expect("write");
        std::fs::write(dir.path().join("secret"), b"outside").expect("write");
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link.json")).expect("symlink");
        let names = ["index.html", "procedure/rdv.html", "link.json", "gone.json"];
        let site = Site::new(root.clone(), names.into_iter().collect());
        assert_eq!(site.get("index.html"), Some(page));
        assert_eq!(site.get("procedure/rdv.html"), Some(b"rdv".to_vec()));
        assert_eq!(site.get("added-later.html"), None, "not written by the publication");
        assert_eq!(site.get("link.json"), None, "a link is not followed");
        assert_eq!(site.get("gone.json"), None);
        assert_eq!(site.root(), root.as_path());
    }

    #[test]
    fn names_are_found_whatever_the_order_they_were_written_in() {
        let written = ["procedure/b.html", "index.html", "procedure/a.html", "index.html", "api/v1/x.json"];
        let names: Names = written.into_iter().collect();
        for n in written {
            assert!(names.contains(n), "{n}");
        }
        for n in ["", "index", "index.html2", "procedure/", "procedure/c.html", "zz"] {
            assert!(!names.contains(n), "{n}");
        }
        assert_eq!(names.spans.len(), 4, "the repeated name is kept once");
        assert_eq!(names.text.capacity(), names.text.len(), "no spare room");
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
