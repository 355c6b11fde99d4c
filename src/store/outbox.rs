//! Pending notifications (waiting out the grouping window) and the e-mail
//! outbox. Each row is written in the transaction of the decision that
//! causes it; the mailer marks an e-mail `sent` only after the SMTP server
//! accepted it or its `.eml` file is in place.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{from_ms, to_ms, Result};
use crate::alert::machine::NoticeKind;
use crate::alert::notice::Notice;

pub fn insert_notification(conn: &Connection, n: &Notice) -> Result<i64> {
    conn.prepare_cached("INSERT INTO notifications (kind, probe, incident_id, created_at_ms, notice) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![
            n.kind.as_str(),
            n.probe,
            n.incident_id,
            to_ms(n.created_at),
            serde_json::to_string(n)?
        ])?;
    Ok(conn.last_insert_rowid())
}

/// Every pending notification, oldest first.
pub fn pending_notifications(conn: &Connection) -> Result<Vec<(i64, Notice)>> {
    let mut stmt = conn.prepare_cached("SELECT id, notice FROM notifications ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row?;
        out.push((id, serde_json::from_str(&json)?));
    }
    Ok(out)
}

pub fn delete_notification(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM notifications WHERE id = ?1")?.execute([id])?;
    Ok(())
}

/// An e-mail ready to queue.
pub struct NewEmail<'a> {
    pub created_at: DateTime<Utc>,
    pub kind: NoticeKind,
    pub recipients: &'a [String],
    pub sender: &'a str,
    pub subject: &'a str,
    pub message_id: &'a str,
    pub raw: &'a [u8],
    pub incidents: &'a [i64],
}

pub fn enqueue(conn: &Connection, e: &NewEmail) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO outbox (created_at_ms, kind, recipients, sender, subject, message_id, raw, incidents, status, next_attempt_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', ?1)",
    )?
    .execute(params![
        to_ms(e.created_at),
        e.kind.as_str(),
        serde_json::to_string(e.recipients)?,
        e.sender,
        e.subject,
        e.message_id,
        e.raw,
        serde_json::to_string(e.incidents)?,
    ])?;
    Ok(conn.last_insert_rowid())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Queued,
    Sent,
    /// Refused for good by the server; `vigie outbox --retry` queues it again.
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: NoticeKind,
    pub recipients: Vec<String>,
    pub sender: String,
    pub subject: String,
    pub message_id: String,
    #[serde(skip)]
    pub raw: Vec<u8>,
    pub incidents: Vec<i64>,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_to: Option<String>,
}

const COLUMNS: &str = "id, created_at_ms, kind, recipients, sender, subject, message_id, raw, incidents, status, attempts, last_error,
    next_attempt_at_ms, sent_at_ms, delivered_to";

fn from_row(r: &Row) -> rusqlite::Result<OutboxRow> {
    let kind: String = r.get(2)?;
    let recipients: String = r.get(3)?;
    let incidents: String = r.get(8)?;
    let status: String = r.get(9)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        created_at: from_ms(r.get(1)?),
        kind: NoticeKind::parse(&kind).unwrap_or(NoticeKind::Opened),
        recipients: serde_json::from_str(&recipients).unwrap_or_default(),
        sender: r.get(4)?,
        subject: r.get(5)?,
        message_id: r.get(6)?,
        raw: r.get(7)?,
        incidents: serde_json::from_str(&incidents).unwrap_or_default(),
        status: match status.as_str() {
            "sent" => OutboxStatus::Sent,
            "failed" => OutboxStatus::Failed,
            _ => OutboxStatus::Queued,
        },
        attempts: r.get(10)?,
        last_error: r.get(11)?,
        next_attempt_at: from_ms(r.get(12)?),
        sent_at: r.get::<_, Option<i64>>(13)?.map(from_ms),
        delivered_to: r.get(14)?,
    })
}

/// The queue, oldest first. E-mails leave in this order: the mailer stops at
/// the first one that is not due, so a recovery never overtakes its outage.
pub fn queued(conn: &Connection, limit: usize) -> Result<Vec<OutboxRow>> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE status = 'queued' ORDER BY id LIMIT ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// When the head of the queue is due, if anything is queued.
pub fn next_due(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let ms: Option<i64> = conn
        .query_row(
            "SELECT next_attempt_at_ms FROM outbox WHERE status = 'queued' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(ms.map(from_ms))
}

pub fn mark_sent(conn: &Connection, id: i64, now: DateTime<Utc>, delivered_to: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'sent', sent_at_ms = ?2, attempts = attempts + 1, delivered_to = ?3, last_error = NULL WHERE id = ?1",
    )?
    .execute(params![id, to_ms(now), delivered_to])?;
    Ok(())
}

/// Record a failed attempt: retried at `next` unless `permanent`.
pub fn mark_failed(conn: &Connection, id: i64, error: &str, next: DateTime<Utc>, permanent: bool) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at_ms = ?3,
            status = CASE WHEN ?4 THEN 'failed' ELSE 'queued' END WHERE id = ?1",
    )?
    .execute(params![id, error, to_ms(next), permanent])?;
    Ok(())
}

/// Queue failed e-mails again (all of them, or one); returns how many.
pub fn requeue_failed(conn: &Connection, id: Option<i64>, now: DateTime<Utc>) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE outbox SET status = 'queued', next_attempt_at_ms = ?1 WHERE status = 'failed' AND (?2 IS NULL OR id = ?2)",
        params![to_ms(now), id],
    )?)
}

/// Rows for `vigie outbox`: queued and failed ones, plus sent ones when `all`.
pub fn list(conn: &Connection, all: bool, limit: usize) -> Result<Vec<OutboxRow>> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE ?1 OR status != 'sent' ORDER BY id DESC LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![all, limit as i64], from_row)?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    out.reverse();
    Ok(out)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<OutboxRow>> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], from_row).optional()?)
}

/// Counts for the metrics: queued, failed, and when the oldest queued was created.
pub fn stats(conn: &Connection) -> Result<(u64, u64, Option<DateTime<Utc>>)> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(status = 'queued'), 0), COALESCE(SUM(status = 'failed'), 0),
                MIN(CASE WHEN status = 'queued' THEN created_at_ms END) FROM outbox",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, Option<i64>>(2)?.map(from_ms),
            ))
        },
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn email(conn: &Connection, at: DateTime<Utc>, kind: NoticeKind, subject: &str) -> i64 {
        let id = format!("{subject}@test");
        enqueue(
            conn,
            &NewEmail {
                created_at: at,
                kind,
                recipients: &["veille@asso.example".to_string()],
                sender: "vigie@asso.example",
                subject,
                message_id: &id,
                raw: b"raw message",
                incidents: &[1],
            },
        )
        .expect("enqueue")
    }

    #[test]
    fn the_queue_keeps_its_order_through_failures_and_retries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("v.db")).expect("open");
        let c = store.conn();
        let t = crate::alert::testutil::t0();
        let a = email(c, t, NoticeKind::Opened, "a");
        let b = email(c, t, NoticeKind::Recovered, "b");
        assert_eq!(queued(c, 10).expect("queued").iter().map(|r| r.id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(next_due(c).expect("next"), Some(t));

        // The head fails for now: the queue waits for it.
        let later = t + chrono::Duration::seconds(30);
        mark_failed(c, a, "connection refused", later, false).expect("fail");
        assert_eq!(next_due(c).expect("next"), Some(later), "the head's retry time, not b's");
        let head = &queued(c, 10).expect("queued")[0];
        assert_eq!(
            (head.id, head.attempts, head.last_error.as_deref()),
            (a, 1, Some("connection refused"))
        );
        assert_eq!(stats(c).expect("stats"), (2, 0, Some(t)));

        // Refused for good: out of the queue, listed, and requeued on demand.
        mark_failed(c, a, "550 no such user", later, true).expect("fail");
        assert_eq!(queued(c, 10).expect("queued").iter().map(|r| r.id).collect::<Vec<_>>(), vec![b]);
        assert_eq!(stats(c).expect("stats").1, 1);
        mark_sent(c, b, later, "smtp 127.0.0.1:25").expect("sent");
        assert_eq!(list(c, false, 10).expect("list").iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        assert_eq!(list(c, true, 10).expect("list").len(), 2);
        assert_eq!(requeue_failed(c, None, later).expect("requeue"), 1);
        let row = get(c, a).expect("get").expect("row");
        assert_eq!((row.status, row.attempts), (OutboxStatus::Queued, 2));
        assert_eq!(
            get(c, b).expect("get").map(|r| r.delivered_to),
            Some(Some("smtp 127.0.0.1:25".to_string()))
        );
    }
}
