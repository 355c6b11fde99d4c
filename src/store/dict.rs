//! The store's dictionaries: probes, label sets, interned strings and step
//! kinds, each stored once and named by a small integer in `run_log`.

use rusqlite::{params, Connection, OptionalExtension};

use super::Result;

pub fn probe_id(conn: &Connection, name: &str) -> Result<i64> {
    conn.prepare_cached("INSERT INTO probes (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?
        .execute([name])?;
    Ok(conn
        .prepare_cached("SELECT id FROM probes WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?)
}

/// The id of a probe already known (None: it never ran).
pub fn find_probe(conn: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM probes WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub fn text_id(conn: &Connection, text: &str) -> Result<i64> {
    if let Some(id) = conn
        .prepare_cached("SELECT id FROM texts WHERE text = ?1")?
        .query_row([text], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO texts (text) VALUES (?1)")?.execute([text])?;
    Ok(conn.last_insert_rowid())
}

pub fn opt_text_id(conn: &Connection, text: Option<&str>) -> Result<Option<i64>> {
    text.map(|t| text_id(conn, t)).transpose()
}

pub fn labels_id(conn: &Connection, procedure: &str, site: &str, target: &str, location: &str) -> Result<i64> {
    let find = "SELECT id FROM labels WHERE procedure = ?1 AND site = ?2 AND target = ?3 AND location = ?4";
    if let Some(id) = conn
        .prepare_cached(find)?
        .query_row(params![procedure, site, target, location], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO labels (procedure, site, target, location) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![procedure, site, target, location])?;
    Ok(conn.last_insert_rowid())
}

/// A step kind: name, method, URL ('' for none), checks JSON.
pub fn step_kind(conn: &Connection, name: &str, method: &str, url: &str, checks: &str) -> Result<i64> {
    let find = "SELECT id FROM step_kinds WHERE name = ?1 AND method = ?2 AND url = ?3 AND checks = ?4";
    if let Some(id) = conn
        .prepare_cached(find)?
        .query_row(params![name, method, url, checks], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO step_kinds (name, method, url, checks) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![name, method, url, checks])?;
    Ok(conn.last_insert_rowid())
}
