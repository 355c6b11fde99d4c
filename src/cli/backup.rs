//! `vigie backup`: an online, checked copy of the history store, safe while
//! the daemon runs (see `store::backup`).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::store::backup;

pub fn backup(config: Option<PathBuf>, db: Option<PathBuf>, output: PathBuf) -> anyhow::Result<ExitCode> {
    let source = match super::history::resolve(config.as_deref(), db.as_deref())? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let s = backup::backup(&source.db, &output)?;
    println!(
        "sauvegarde vérifiée / checked backup: {} ({} octets/bytes, schéma v{}, {} exécutions/runs, {} preuves/evidence records) depuis/from {}",
        s.path.display(),
        s.bytes,
        s.schema_version,
        s.runs,
        s.evidence,
        source.db.display()
    );
    Ok(ExitCode::SUCCESS)
}
