//! The public observatory: a status page with 90 days of history per
//! procedure, a page per procedure, an Atom feed of incidents, SVG badges
//! and a versioned JSON API, all rendered as static files from the store.
//!
//! [`build`] computes an [`model::Observatory`] (the JSON API's shape) from
//! the hourly data reports use; [`site`] renders every file; [`publish`]
//! writes them so that a reader never sees half a site. Nothing shown comes
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
pub use publish::{publish, Published};
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
    for lang in [Language::Fr, Language::En] {
        let suffix = html::suffix(lang);
        out.push(file(format!("index{suffix}.html"), html::index(o, lang)));
        for p in &o.procedures {
            out.push(file(format!("procedure/{}{suffix}.html", p.slug), html::detail(o, p, lang)));
        }
        out.push(file(format!("incidents{suffix}.atom"), feed::atom(o, lang)));
    }
    for p in &o.procedures {
        out.push(file(format!("badges/{}-30d.svg", p.slug), svg::badge_availability(p)));
        out.push(file(format!("badges/{}-state.svg", p.slug), svg::badge_state(p)));
        out.push(File {
            path: format!("api/v1/procedures/{}.json", p.slug),
            bytes: serde_json::to_vec_pretty(p)?,
        });
    }
    out.push(File {
        path: "api/v1/procedures.json".into(),
        bytes: serde_json::to_vec_pretty(&api_index(o))?,
    });
    out.push(File {
        path: "api/v1/incidents.json".into(),
        bytes: serde_json::to_vec_pretty(&serde_json::json!({
            "format": o.format, "generated_at": o.generated_at, "incidents": o.incidents(),
        }))?,
    });
    Ok(out)
}

/// `api/v1/procedures.json`: the list, current states and windows, without
/// the daily figures (those are in each procedure's file).
fn api_index(o: &Observatory) -> serde_json::Value {
    let procedures: Vec<serde_json::Value> = o
        .procedures
        .iter()
        .map(|p| {
            serde_json::json!({
                "slug": p.slug, "title": p.title, "site": p.site, "site_title": p.site_title,
                "current": p.current, "since": p.since, "last_check": p.last_check,
                "windows": p.windows, "slots": p.slots, "unobserved": p.unobserved,
                "detail": format!("procedures/{}.json", p.slug),
            })
        })
        .collect();
    serde_json::json!({
        "format": o.format, "generated_at": o.generated_at, "timezone": o.timezone,
        "from": o.from, "to": o.to, "public_url": o.public_url,
        "sites": o.sites, "procedures": procedures, "maintenance": o.maintenance,
    })
}

/// Build and render the whole site from the database a configuration
/// names (the daemon's periodic publication).
pub fn render_config(config: &crate::config::Config, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<File>, Error> {
    let store = crate::store::Store::open_existing(&config.store.path)?;
    let o = build(
        store.conn(),
        &Input {
            config: Some(config),
            settings: &config.publish,
            now,
        },
    )?;
    site(&o)
}
