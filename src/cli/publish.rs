//! `vigie publish`: the public observatory as static files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;

use crate::observatory::{self, PublishSettings};
use crate::store::Store;

pub fn publish(config: Option<&Path>, db: Option<&Path>, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let src = match super::history::resolve(config, db)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let settings = src.config.as_ref().map(|c| c.publish.clone()).unwrap_or_default();
    let Some(output) = output.or_else(|| settings.output.clone()) else {
        anyhow::bail!("where to? Give --output FOLDER, or set `publish.output` in the configuration");
    };
    let store = Store::open_existing(&src.db)?;
    let report = publish_once(&store, src.config.as_ref(), &settings, &output)?;
    eprintln!(
        "{} procedure(s): {} files, {} KiB — built in {} ms, rendered in {} ms, written in {} ms → {}/index.html",
        report.procedures,
        report.published.files,
        report.published.bytes / 1024,
        report.build_ms,
        report.render_ms,
        report.write_ms,
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub struct Timed {
    pub procedures: usize,
    pub published: observatory::Published,
    pub build_ms: u128,
    pub render_ms: u128,
    pub write_ms: u128,
}

/// Build, render and write once, timing each part.
pub fn publish_once(
    store: &Store,
    config: Option<&crate::config::Config>,
    settings: &PublishSettings,
    output: &Path,
) -> Result<Timed, observatory::Error> {
    let now = Utc::now();
    let t = Instant::now();
    let o = observatory::build(store.conn(), &observatory::Input { config, settings, now })?;
    let build_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let files = observatory::site(&o)?;
    let render_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let published = observatory::publish(output, &files, now.timestamp_millis())?;
    Ok(Timed {
        procedures: o.procedures.len(),
        published,
        build_ms,
        render_ms,
        write_ms: t.elapsed().as_millis(),
    })
}
