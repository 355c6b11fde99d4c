//! The durable history: SQLite (bundled, WAL) holding runs with their steps
//! and observations, hourly rollups, incidents, the outage state machine's
//! state, pending notifications, the e-mail outbox and the evidence register.
//!
//! [`Store`] is a plain synchronous handle on one connection. The daemon owns
//! one on a dedicated writer thread (`alert::sink`) and one in the mailer;
//! the CLI opens its own. Schema and conventions: `schema.rs`.

pub mod aggregate;
pub mod backup;
pub mod codec;
pub mod compact;
pub mod compact_timings;
pub mod dict;
pub mod evidence;
pub mod incidents;
pub mod latency;
pub mod observed;
pub mod outbox;
pub mod rollup;
pub mod runs;
pub mod schema;
pub mod stretches;
pub mod timestamps;
pub mod versions;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags};

pub use incidents::Incident;
pub use outbox::{OutboxRow, OutboxStatus};
pub use rollup::{FailureRollup, ObservationRollup, RunRollup};
pub use runs::{StoredRun, StoredStep};

/// The `store:` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub path: PathBuf,
    /// How long raw runs, steps and observations are kept.
    pub keep_runs: Duration,
    /// How long hourly rollups are kept.
    pub keep_rollups: Duration,
    /// How often rollups are computed and expired rows deleted.
    pub compact_every: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: PathBuf::from("var/vigie.db"),
            keep_runs: Duration::from_secs(90 * 86400),
            keep_rollups: Duration::from_secs(5 * 365 * 86400),
            compact_every: Duration::from_secs(3600),
        }
    }
}

/// Each message carries its cause (logs print `Display` only), so no variant
/// also links it as a `source`: error chains would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(rusqlite::Error),
    #[error("the database was written by a newer vigie (schema version {found}; this binary knows up to {supported}): upgrade vigie, or point `store.path` at another file")]
    TooNew { found: u32, supported: u32 },
    #[error("cannot create the folder {}: {error}", path.display())]
    Folder { path: PathBuf, error: std::io::Error },
    #[error("no history database at {}: vigie creates it when the daemon starts", .0.display())]
    Missing(PathBuf),
    #[error("stored JSON: {0}")]
    Json(serde_json::Error),
    #[error("evidence: {0}")]
    Evidence(String),
    #[error("backup: {0}")]
    Backup(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Json(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One connection on the history database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating the file and its folder if needed) and migrate.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_fs::create_dir(dir).map_err(|e| StoreError::Folder {
                path: dir.to_path_buf(),
                error: std::io::Error::other(e.to_string()),
            })?;
        }
        // Owner-only before SQLite opens it: its WAL and shared-memory files
        // take the database file's mode.
        let _ = crate::private_fs::precreate(path);
        crate::private_fs::restrict(path);
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Open an existing database without creating it (the CLI).
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let mut conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cap this connection's page cache at `kib` KiB (SQLite's default is
    /// 2,000 KiB per connection). For the daemon's long-lived connections:
    /// the writer appends at the right edge of its tables and indexes, the
    /// mailer reads a short outbox (memory at 1,000 probes, issue 14).
    pub fn cap_cache(&self, kib: u32) -> Result<()> {
        self.conn.pragma_update(None, "cache_size", -i64::from(kib))?;
        Ok(())
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// A random identity given to the database when it was created; part of
    /// every Message-ID so two databases never produce the same one.
    pub fn database_id(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'database_id'", [], |r| r.get(0))?)
    }
}

/// WAL lets readers (CLI, mailer) work while the writer writes;
/// `synchronous = NORMAL` is durable across a process crash (a power loss may
/// lose the last transactions, never corrupt the file).
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// UTC milliseconds, the unit of every `_ms` column.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_a_newer_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/vigie.db");
        let store = Store::open(&path).expect("create");
        let id = store.database_id().expect("id");
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.database_id().expect("id"), id, "migrations ran once");
        let mode: String = store.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        store
            .conn()
            .execute_batch(&format!("PRAGMA user_version = {}", schema::CURRENT_VERSION + 1))
            .expect("bump");
        drop(store);
        match Store::open(&path) {
            Err(StoreError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (schema::CURRENT_VERSION + 1, schema::CURRENT_VERSION));
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a newer database must be refused"),
        }
    }

    #[test]
    fn existing_only_does_not_create() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("none.db");
        assert!(matches!(Store::open_existing(&path), Err(StoreError::Missing(_))));
        assert!(!path.exists());
    }
}
