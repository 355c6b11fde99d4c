//! `vigie outbox`: what e-mails are waiting, failed or were sent, read from
//! the history store; `--retry` queues failed ones again, `--show` prints one.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::config::{self, DiskFiles, LoadOptions};
use crate::store::{outbox, OutboxStatus, Store};

pub struct Options {
    pub all: bool,
    pub limit: usize,
    pub retry: Option<String>,
    pub show: Option<i64>,
}

/// Read the database named by the configuration at `config`, or `db`.
pub fn outbox(config: Option<&Path>, db: Option<&Path>, o: Options) -> anyhow::Result<ExitCode> {
    let (db_path, tz, delivery) = match (config, db) {
        (_, Some(db)) => (db.to_path_buf(), chrono_tz::Europe::Paris, None),
        (Some(path), None) => match config::load(path, &DiskFiles, &LoadOptions::default()) {
            Ok(c) => (c.store.path.clone(), c.timezone, Some(crate::alert::describe(&c.alerting.delivery))),
            Err(e) => {
                super::print_config_errors(&e);
                return Ok(ExitCode::from(super::EXIT_CONFIG));
            }
        },
        (None, None) => anyhow::bail!("give --config FILE or --db FILE"),
    };
    let store = Store::open_existing(&db_path)?;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string();

    if let Some(id) = o.show {
        let Some(row) = outbox::get(store.conn(), id)? else {
            eprintln!("error: no e-mail #{id} in the outbox");
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        };
        print!("{}", String::from_utf8_lossy(&row.raw));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(which) = &o.retry {
        let id = match which.as_str() {
            "all" => None,
            n => match n.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    eprintln!("error: --retry takes an e-mail number or `all`, not `{n}`");
                    return Ok(ExitCode::from(super::EXIT_CONFIG));
                }
            },
        };
        let n = outbox::requeue_failed(store.conn(), id, Utc::now())?;
        println!("{n} failed e-mail(s) queued again; the running daemon sends them within seconds.");
        return Ok(ExitCode::SUCCESS);
    }

    let (queued, failed, oldest) = outbox::stats(store.conn())?;
    println!(
        "{} — {queued} queued, {failed} failed{}",
        db_path.display(),
        oldest.map(|t| format!(", oldest queued since {}", local(t))).unwrap_or_default()
    );
    if let Some(d) = delivery {
        println!("delivery: {d}");
    }
    println!();
    let rows = outbox::list(store.conn(), o.all, o.limit)?;
    if rows.is_empty() {
        println!(
            "{}",
            if o.all {
                "The outbox is empty: no e-mail was ever written."
            } else {
                "Nothing waiting: every e-mail was delivered (use --all to list them)."
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>5}  {:<19}  {:<9}  {:<6}  {:>8}  subject",
        "#", "created", "kind", "status", "attempts"
    );
    for r in &rows {
        println!(
            "{:>5}  {:<19}  {:<9}  {:<6}  {:>8}  {}",
            r.id,
            local(r.created_at),
            r.kind.as_str(),
            r.status.as_str(),
            r.attempts,
            r.subject
        );
        println!("       to: {}", r.recipients.join(", "));
        match r.status {
            OutboxStatus::Sent => {
                if let (Some(at), Some(to)) = (r.sent_at, &r.delivered_to) {
                    println!("       delivered {} to {to}", local(at));
                }
            }
            OutboxStatus::Queued => {
                if r.attempts > 0 {
                    println!("       next attempt {}", local(r.next_attempt_at));
                }
            }
            OutboxStatus::Failed => println!("       refused for good: fix the cause, then `vigie outbox --retry {}`", r.id),
        }
        if let (Some(e), false) = (&r.last_error, r.status == OutboxStatus::Sent) {
            println!("       last error: {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
