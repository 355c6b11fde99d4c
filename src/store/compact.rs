//! The V7 conversion: rows of the V6 layout (`runs`, `steps`,
//! `observations`, text everywhere) rewritten into the compact one
//! (`run_log` and its dictionaries, `schema.rs`), run ids kept; then the
//! writer-kept tables (`observed`, `rollup_versions`) computed from the
//! whole history, the old tables dropped and their views created.

use rusqlite::Transaction;

use super::codec::StepRecord;
use super::runs::{self, NewRun};
use super::{codec, dict, stretches, StoreError};
use crate::probe::StepStatus;

pub fn convert_v6(tx: &Transaction) -> Result<(), StoreError> {
    copy_runs(tx)?;
    tx.execute_batch(
        "INSERT INTO run_values (run_id, step_idx, name_id, value)
            SELECT o.run_id, o.step_idx, t.id, o.value FROM observations o JOIN texts t ON t.text = o.name WHERE true
            ON CONFLICT DO NOTHING;
         INSERT INTO rollup_versions (probe_id, hour_ms, version_id, runs, first_ms, last_ms)
            SELECT probe_id, (started_at_ms / 3600000) * 3600000, version_id, COUNT(*), MIN(started_at_ms), MAX(started_at_ms)
            FROM run_log WHERE version_id IS NOT NULL GROUP BY 1, 2, 3;
         DROP TABLE observations;
         DROP TABLE steps;
         DROP TABLE runs;",
    )?;
    let probes: Vec<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM probes")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for p in probes {
        stretches::rebuild(tx, p, i64::MIN)?;
    }
    tx.execute_batch(super::schema::V7_VIEWS)?;
    Ok(())
}

fn copy_runs(tx: &Transaction) -> Result<(), StoreError> {
    // Observation names first, so the bulk copy above finds them.
    let names: Vec<String> = {
        let mut stmt = tx.prepare("SELECT DISTINCT name FROM observations")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for n in names {
        dict::text_id(tx, &n)?;
    }
    let mut stmt = tx.prepare(
        "SELECT id, probe, procedure, site, target, location, scheduled_at_ms, started_at_ms, duration_s, politeness_wait_s,
                outcome, reason, failed_step, message, captcha_step, last_http_status, maintenance, version_id, interval_s
         FROM runs ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let probe: String = r.get(1)?;
        let (procedure, site, target, location): (String, String, String, String) = (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
        let scheduled: Option<i64> = r.get(6)?;
        let started: i64 = r.get(7)?;
        let (outcome, reason, failed, message, captcha): (String, Option<String>, Option<String>, Option<String>, Option<String>) =
            (r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?);
        let maintenance: Option<String> = r.get(16)?;
        let ms = |s: f64| (s * 1000.0).round() as i64;
        let row = NewRun {
            probe_id: dict::probe_id(tx, &probe)?,
            started_at_ms: started,
            sched_ms: scheduled.map(|s| started - s),
            duration_ms: ms(r.get(8)?),
            wait_ms: ms(r.get(9)?),
            outcome: &outcome,
            reason: reason.as_deref(),
            failed_step: failed.as_deref(),
            captcha_step: captcha.as_deref(),
            last_http_status: r.get(15)?,
            maintenance: maintenance.as_deref(),
            version_id: r.get(17)?,
            interval_ms: r.get::<_, Option<f64>>(18)?.map(ms),
            labels_id: dict::labels_id(tx, &procedure, &site, &target, &location)?,
            message: message.as_deref(),
            steps: Vec::new(),
        };
        let (blob, details) = copy_steps(tx, id)?;
        runs::insert_row(tx, Some(id), &NewRun { steps: blob, ..row })?;
        for (idx, [reason, message, excerpt, chain]) in details {
            runs::put_details(
                tx,
                id,
                idx,
                reason.as_deref(),
                message.as_deref(),
                excerpt.as_deref(),
                chain.as_deref(),
            )?;
        }
    }
    Ok(())
}

/// A step's reason, message, excerpt and chain.
type Details = (usize, [Option<String>; 4]);

/// The run's old step rows: their blob, and their details (written once
/// the run row exists).
fn copy_steps(tx: &Transaction, run_id: i64) -> Result<(Vec<u8>, Vec<Details>), StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT idx, name, status, reason, message, method, url, http_status, duration_s, checks, excerpt, chain
         FROM steps WHERE run_id = ?1 ORDER BY idx",
    )?;
    let mut rows = stmt.query([run_id])?;
    let mut records = Vec::new();
    let mut details = Vec::new();
    while let Some(r) = rows.next()? {
        let idx: i64 = r.get(0)?;
        let (name, status, method, url, checks): (String, String, String, Option<String>, String) =
            (r.get(1)?, r.get(2)?, r.get(5)?, r.get(6)?, r.get(9)?);
        let status = [
            StepStatus::Passed,
            StepStatus::Failed,
            StepStatus::NoCapacity,
            StepStatus::Captcha,
            StepStatus::Skipped,
        ]
        .into_iter()
        .find(|s| runs::step_status_str(*s) == status)
        .unwrap_or(StepStatus::Failed);
        records.push(StepRecord {
            kind: dict::step_kind(tx, &name, &method, url.as_deref().unwrap_or(""), &checks)?,
            status: runs::status_code(status),
            http_status: r.get(7)?,
            duration_us: (r.get::<_, f64>(8)? * 1e6).round().max(0.0) as u64,
            phases: None,
        });
        details.push((idx as usize, [r.get(3)?, r.get(4)?, r.get(10)?, r.get(11)?]));
    }
    Ok((codec::encode(&records), details))
}
