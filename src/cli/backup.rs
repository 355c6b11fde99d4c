//! `vigie backup`: an online, checked copy of the history store, safe while
//! the daemon runs (see `store::backup`).

use std::path::PathBuf;
use std::process::ExitCode;

use super::Lang;
use crate::store::backup;

pub fn backup(config: Option<PathBuf>, db: Option<PathBuf>, output: PathBuf, lang: Lang) -> anyhow::Result<ExitCode> {
    let source = match super::history::resolve(config.as_deref(), db.as_deref())? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let s = backup::backup(&source.db, &output)?;
    let (path, from) = (s.path.display(), source.db.display());
    let (bytes, version, runs, evidence) = (s.bytes, s.schema_version, s.runs, s.evidence);
    println!(
        "{}",
        lang.pick(
            &format!(
                "sauvegarde vérifiée : {path} ({bytes} octets, schéma v{version}, {runs} exécution(s), {evidence} preuve(s)), copiée depuis {from}"
            ),
            &format!("checked backup: {path} ({bytes} bytes, schema v{version}, {runs} run(s), {evidence} evidence record(s)), copied from {from}")
        )
    );
    Ok(ExitCode::SUCCESS)
}
