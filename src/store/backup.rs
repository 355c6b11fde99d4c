//! Online backup of the history: a consistent copy of the database taken
//! while the daemon writes to it (SQLite's `VACUUM INTO`, which reads one
//! snapshot under WAL and never blocks the writer for long), then checked.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Result, StoreError};

/// What a backup holds, read back from the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub runs: i64,
    pub evidence: i64,
    pub schema_version: u32,
}

/// Copy the database at `src` into `dest` (which must not exist) and check
/// the copy (`PRAGMA integrity_check`).
pub fn backup(src: &Path, dest: &Path) -> Result<BackupSummary> {
    if !src.exists() {
        return Err(StoreError::Missing(src.to_path_buf()));
    }
    if dest.exists() {
        return Err(StoreError::Backup(format!(
            "{} exists already: vigie never overwrites a backup; choose another name",
            dest.display()
        )));
    }
    let conn = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let dest_text = dest
        .to_str()
        .ok_or_else(|| StoreError::Backup(format!("{}: the file name is not valid UTF-8", dest.display())))?;
    create_private_empty(dest)?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [dest_text]) {
        let _ = std::fs::remove_file(dest);
        return Err(e.into());
    }
    drop(conn);
    summarize(dest)
}

/// The copy is readable by its owner only, like the history itself: it is
/// created empty with mode 0600 (never following a link, never replacing a
/// file), which `VACUUM INTO` accepts as its destination.
fn create_private_empty(dest: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dest)
        .map(drop)
        .map_err(|e| StoreError::Backup(format!("{}: {e}", dest.display())))
}

/// Check a database file and count what it holds.
pub fn summarize(path: &Path) -> Result<BackupSummary> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Backup(format!("{}: integrity check failed: {check}", path.display())));
    }
    let schema_version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let runs: i64 = conn.query_row("SELECT count(*) FROM run_log", [], |r| r.get(0))?;
    let evidence: i64 = conn.query_row("SELECT count(*) FROM evidence", [], |r| r.get(0))?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupSummary {
        path: path.to_path_buf(),
        bytes,
        runs,
        evidence,
        schema_version,
    })
}
