//! The public observatory: a status page with 90 days of history per
//! procedure, a page per procedure, an Atom feed of incidents, SVG badges
//! and a versioned JSON API, all rendered as static files from the store.
//!
//! [`build`] computes an [`model::Observatory`] (the JSON API's shape) from
//! the hourly data reports use; [`site`] renders every file ([`render_each`]
//! one at a time); [`publish`] ([`Generation`] file by file) writes them so
//! that a reader never sees half a site. Nothing shown comes
//! from a page's content, an address or the evidence: see docs/observatory.md.

pub mod build;
pub mod feed;
pub mod html;
pub mod model;
pub mod publish;
pub mod serve;
pub mod settings;
mod svg;
mod words;

pub use build::{build, Input};
pub use publish::{publish, Generation, Published};
pub use serve::negotiate;
pub use settings::PublishSettings;

use crate::alert::settings::Language;
use model::Observatory;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the history: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the 90-day period: {0}")]
    Period(#[from] crate::report::period::PeriodError),
    #[error("cannot write {}: {error}", path.display())]
    Write { path: std::path::PathBuf, error: std::io::Error },
    #[error("{} is a folder vigie did not create: publish into a new (or empty) folder, or remove it first", .0.display())]
    NotOurs(std::path::PathBuf),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(crate::store::StoreError::Sqlite(e))
    }
}

/// One file of the site: its path relative to the site's root, and bytes.
pub struct File {
    pub path: String,
    pub bytes: Vec<u8>,
}

fn file(path: String, text: String) -> File {
    File {
        path,
        bytes: text.into_bytes(),
    }
}

/// Every file of the site: pages in French (`index.html`) and English
/// (`index.en.html`), per procedure, the feed, the badges and the API.
pub fn site(o: &Observatory) -> Result<Vec<File>, Error> {
    let mut out = Vec::new();
    render_each(o, |f| {
        out.push(f);
        Ok(())
    })?;
    Ok(out)
}

/// The files of [`site`], in the same order, each handed to `each` as soon
/// as it is rendered and dropped after: the site is never whole in memory
/// (at 1,000 probes it is ~280 MiB of text, issue 14). Stops at the first
/// error `each` returns.
pub fn render_each(o: &Observatory, mut each: impl FnMut(File) -> Result<(), Error>) -> Result<(), Error> {
    for lang in [Language::Fr, Language::En] {
        let suffix = html::suffix(lang);
        each(file(format!("index{suffix}.html"), html::index(o, lang)))?;
        for p in &o.procedures {
            each(file(format!("procedure/{}{suffix}.html", p.slug), html::detail(o, p, lang)))?;
        }
        each(file(format!("incidents{suffix}.atom"), feed::atom(o, lang)))?;
    }
    for p in &o.procedures {
        each(file(format!("badges/{}-30d.svg", p.slug), svg::badge_availability(p)))?;
        each(file(format!("badges/{}-state.svg", p.slug), svg::badge_state(p)))?;
        each(File {
            path: format!("api/v1/procedures/{}.json", p.slug),
            bytes: serde_json::to_vec_pretty(p)?,
        })?;
    }
    each(File {
        path: "api/v1/procedures.json".into(),
        bytes: api_index(o)?,
    })?;
    each(File {
        path: "api/v1/incidents.json".into(),
        bytes: serde_json::to_vec_pretty(&serde_json::json!({
            "format": o.format, "generated_at": o.generated_at, "incidents": o.incidents(),
        }))?,
    })
}

/// `api/v1/procedures.json`: the list, current states and windows, without
/// the daily figures (those are in each procedure's file). Written entry by
/// entry: one procedure at a time becomes a small JSON value (whose keys
/// come out sorted, as they always have), never the whole list at once; at
/// a thousand procedures the whole tree took 12.7 MiB at each publication.
fn api_index(o: &Observatory) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec_pretty(&Index {
        format: &o.format,
        from: o.from,
        generated_at: o.generated_at,
        maintenance: serde_json::to_value(&o.maintenance)?,
        procedures: Entries(&o.procedures),
        public_url: &o.public_url,
        sites: serde_json::to_value(&o.sites)?,
        timezone: &o.timezone,
        to: o.to,
    })
}

/// The index's top level, its fields in the alphabetical order of the
/// file's keys.
#[derive(serde::Serialize)]
struct Index<'a> {
    format: &'a str,
    from: chrono::NaiveDate,
    generated_at: chrono::DateTime<chrono::Utc>,
    maintenance: serde_json::Value,
    procedures: Entries<'a>,
    public_url: &'a Option<String>,
    sites: serde_json::Value,
    timezone: &'a str,
    to: chrono::NaiveDate,
}

/// The index's procedures, each turned into its JSON value only when written.
struct Entries<'a>(&'a [model::Procedure]);

impl serde::Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            seq.serialize_element(&index_entry(p))?;
        }
        seq.end()
    }
}

fn index_entry(p: &model::Procedure) -> serde_json::Value {
    serde_json::json!({
        "slug": p.slug, "title": p.title, "site": p.site, "site_title": p.site_title,
        "current": p.current, "since": p.since, "last_check": p.last_check,
        "windows": p.windows, "slots": p.slots, "unobserved": p.unobserved,
        "detail": format!("procedures/{}.json", p.slug),
    })
}

/// Build the observatory from the database a configuration names (the
/// daemon's periodic publication); render it with [`render_each`].
pub fn build_config(config: &crate::config::Config, now: chrono::DateTime<chrono::Utc>) -> Result<Observatory, Error> {
    let store = crate::store::Store::open_existing(&config.store.path)?;
    build(
        store.conn(),
        &Input {
            config: Some(config),
            settings: &config.publish,
            now,
        },
    )
}
