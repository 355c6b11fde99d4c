//! `vigie bench-report` (hidden): fill a database with a month of history
//! of 50 probes run every minute (2.2 million runs with their steps and
//! observations, rolled up as the daemon's compaction would), then time the
//! report in each format. BENCHMARKS.md records the figures.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rusqlite::params;

use crate::report::{self, period::Period, Filter, Format};
use crate::store::codec::{self, StepRecord};
use crate::store::observed::Tick;
use crate::store::runs::{self, NewRun};
use crate::store::{dict, rollup, stretches, to_ms, Store};

const PROCEDURES: [&str; 5] = [
    "anef-connexion",
    "anef-depot-document",
    "titre-sejour",
    "naturalisation",
    "rdv-prefecture",
];

/// Deterministic pseudo-random numbers (no seed file, same data every time).
fn noise(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// What the generator writes with, per transaction.
struct Ctx {
    kinds: [i64; 3],
    every_minutes: u32,
    probe_ids: std::collections::BTreeMap<u32, (i64, i64)>,
}

impl Ctx {
    fn new(tx: &rusqlite::Transaction, every_minutes: u32) -> anyhow::Result<Ctx> {
        let kind = |i: usize| dict::step_kind(tx, &format!("step-{i}"), "GET", "https://bench.example/", "[]");
        Ok(Ctx {
            kinds: [kind(0)?, kind(1)?, kind(2)?],
            every_minutes,
            probe_ids: Default::default(),
        })
    }

    /// One run of probe `p` at minute `m`, as the writer would store it.
    fn run(&mut self, tx: &rusqlite::Transaction, at: DateTime<Utc>, m: i64, p: u32) -> anyhow::Result<()> {
        let local = at.with_timezone(&chrono_tz::Europe::Paris);
        let slots_probe = p % 5 == 4;
        let maintenance = local.weekday() == chrono::Weekday::Sun && local.hour() >= 22;
        // Every probe has an outage of 40 to 100 minutes every 3 days, at a working hour.
        let day_no = m / 1440;
        let outage = (day_no + i64::from(p)) % 3 == 0 && {
            let from = (9 + i64::from(p % 8)) * 60;
            let minute_of_day = i64::from(local.hour() * 60 + local.minute());
            minute_of_day >= from && minute_of_day < from + 40 + i64::from(p)
        };
        let r = noise(m as u64, u64::from(p));
        let (outcome, reason, failed_step, http) = if maintenance || outage {
            ("down", Some("http_5xx"), Some("step-2"), 503)
        } else if r.is_multiple_of(500) {
            ("broken", Some("error_page"), Some("step-1"), 200)
        } else if slots_probe && !(local.weekday().num_days_from_monday() < 3 && local.hour() == 10) {
            ("no_capacity", Some("no_capacity"), Some("step-2"), 200)
        } else if r.is_multiple_of(97) {
            ("degraded", Some("slow"), Some("step-0"), 200)
        } else {
            ("up", None, None, 200)
        };
        let d_ms = [80 + r % 50, 150 + r % 300, 300 + r % 700];
        let (probe_id, labels_id) = match self.probe_ids.get(&p) {
            Some(ids) => *ids,
            None => {
                let ids = (
                    dict::probe_id(tx, &format!("bench-probe-{p:02}"))?,
                    dict::labels_id(tx, PROCEDURES[(p % 5) as usize], &format!("site-{:02}", p % 10), "bench", "bench")?,
                );
                self.probe_ids.insert(p, ids);
                ids
            }
        };
        // Every step is a timed HTTPS request: its five phases, summing to its duration.
        let steps: Vec<StepRecord> = d_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| {
                let us = ms * 1000;
                let phases = [300 + r % 700, 400 + r % 300, 2_000 + r % 3_000, us / 2, 0];
                let transfer = us.saturating_sub(phases.iter().sum());
                StepRecord {
                    kind: self.kinds[i],
                    status: 0,
                    http_status: Some(if outcome == "down" && i == 2 { 503 } else { 200 }),
                    duration_us: us,
                    phases: Some([phases[0], phases[1], phases[2], phases[3], transfer]),
                }
            })
            .collect();
        let interval_ms = i64::from(self.every_minutes.max(1)) * 60_000;
        let row = NewRun {
            probe_id,
            started_at_ms: to_ms(at),
            sched_ms: Some(0),
            duration_ms: d_ms.iter().sum::<u64>() as i64,
            wait_ms: 0,
            outcome,
            reason,
            failed_step,
            captcha_step: None,
            last_http_status: Some(http),
            maintenance: maintenance.then_some("dimanche-soir"),
            version_id: None,
            interval_ms: Some(interval_ms),
            labels_id,
            message: None,
            steps: codec::encode(&steps),
        };
        let tick = Tick {
            at: to_ms(at),
            started_at: to_ms(at),
            interval_ms: Some(interval_ms),
            observed: true,
            maintenance,
        };
        let id = runs::insert_row(tx, None, &row)?;
        stretches::record(tx, probe_id, id, tick)?;
        if slots_probe && outcome != "down" {
            let free = if outcome == "up" { 3.0 } else { 0.0 };
            runs::put_value(tx, id, 2, "appointment_slots", free)?;
            if free > 0.0 {
                runs::put_value(tx, id, 2, "first_free_date", (at + Duration::days(40)).timestamp() as f64)?;
            }
        }
        Ok(())
    }
}

fn generate(store: &mut Store, probes: u32, days: u32, every_minutes: u32, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let start = now - Duration::days(i64::from(days));
    let minutes = i64::from(days) * 1440;
    let mut runs = 0u64;
    for day in 0..i64::from(days) {
        let tx = store.conn_mut().transaction()?;
        {
            let mut ctx = Ctx::new(&tx, every_minutes)?;
            for m in (day * 1440..((day + 1) * 1440).min(minutes)).step_by(every_minutes.max(1) as usize) {
                for p in 0..probes {
                    ctx.run(&tx, start + Duration::minutes(m) + Duration::seconds(i64::from(p % 60)), m, p)?;
                    runs += 1;
                }
            }
        }
        // The incidents the daemon would have recorded for the outages above.
        for p in (0..probes).filter(|p| (day + i64::from(*p)) % 3 == 0) {
            // The outage's first minute inside this day of the generator.
            let base = start + Duration::days(day);
            let local_day = base.with_timezone(&chrono_tz::Europe::Paris).date_naive();
            let at_hour = |d| crate::report::period::day_start(d, chrono_tz::Europe::Paris) + Duration::hours(9 + i64::from(p % 8));
            let mut from = at_hour(local_day);
            if from < base {
                from = at_hour(local_day + Duration::days(1));
            }
            if from >= base + Duration::days(1) || from >= now {
                continue;
            }
            let to = from + Duration::minutes(40 + i64::from(p));
            tx.execute(
                "INSERT INTO incidents (probe, procedure, site, title, started_at_ms, detected_at_ms, ended_at_ms, closed_at_ms,
                    last_failure_at_ms, outcome, reason, failed_step, message, last_http_status, failing_runs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'down', 'http_5xx', 'step-2', 'HTTP 503', 503, ?10)",
                params![
                    format!("bench-probe-{p:02}"),
                    PROCEDURES[(p % 5) as usize],
                    format!("site-{:02}", p % 10),
                    format!("Bench probe {p:02}"),
                    to_ms(from),
                    to_ms(from + Duration::minutes(1)),
                    to_ms(to),
                    to_ms(to + Duration::minutes(1)),
                    to_ms(to - Duration::minutes(1)),
                    40 + i64::from(p),
                ],
            )?;
        }
        tx.commit()?;
        eprintln!("  day {}/{days}: {runs} runs", day + 1);
    }
    Ok(runs)
}

/// The benchmark's database: generated and rolled up the first time.
fn history(db: &Path, probes: u32, days: u32, every_minutes: u32, now: DateTime<Utc>) -> anyhow::Result<Store> {
    let fresh = !db.exists();
    let mut store = Store::open(db)?;
    if fresh {
        eprintln!(
            "generating {days} days of {probes} probes run every {every_minutes} minute(s) into {}…",
            db.display()
        );
        let t = Instant::now();
        let runs = generate(&mut store, probes, days, every_minutes, now)?;
        eprintln!(
            "{runs} runs in {:.0} s; rolling up (as the daemon's compaction does)…",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let r = rollup::compact(
            store.conn_mut(),
            now,
            std::time::Duration::from_secs(90 * 86400),
            std::time::Duration::from_secs(5 * 365 * 86400),
        )?;
        eprintln!("{} hours rolled up in {:.0} s", r.hours_rolled_up, t.elapsed().as_secs_f64());
    }
    Ok(store)
}

pub fn bench_report(db: &Path, probes: u32, days: u32, every_minutes: u32) -> anyhow::Result<ExitCode> {
    let now = Utc::now().with_minute(0).and_then(|t| t.with_second(0)).unwrap_or_else(Utc::now);
    let store = history(db, probes, days, every_minutes, now)?;
    let runs: i64 = store.conn().query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))?;
    let to = now.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let period = Period::new(Some(to - Duration::days(i64::from(days))), Some(to), chrono_tz::Europe::Paris, now)?;
    println!(
        "{} — {runs} raw runs; report from {} to {}",
        db.display(),
        period.from_day,
        period.to_day
    );
    let request = || report::Request {
        period: period.clone(),
        filter: Filter::default(),
        language: crate::alert::settings::Language::Fr,
        settings: Default::default(),
        config: None,
        now,
    };
    for format in [Format::Html, Format::Json, Format::Csv] {
        let t = Instant::now();
        let req = request();
        let r = report::build(store.conn(), &req, |_| {})?;
        let built = t.elapsed();
        let bytes = report::render(&r, format, None)?;
        println!(
            "{:<4}  {} probes, {} incidents: built in {:.2} s, rendered in {:.2} s ({} KiB)",
            format.extension(),
            r.probes.len(),
            r.incidents.len(),
            built.as_secs_f64(),
            (t.elapsed() - built).as_secs_f64(),
            bytes.len() / 1024
        );
    }
    let req = request();
    // The same JSON report from rollups and stretches (three times) and
    // from raw runs (once: it takes minutes), alternated.
    let (mut fast, mut raw) = (vec![], vec![]);
    let (mut fast_json, mut raw_json) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let t = Instant::now();
        fast_json = report::render(&report::build(store.conn(), &req, |_| {})?, Format::Json, None)?;
        fast.push(t.elapsed().as_secs_f64());
        println!("json from rollups and stretches: {:.2} s", fast[round]);
        if round == 0 {
            let t = Instant::now();
            raw_json = report::render(&report::build_from_raw_runs(store.conn(), &req, |_| {})?, Format::Json, None)?;
            raw.push(t.elapsed().as_secs_f64());
            println!("json from raw runs (peer): {:.2} s", raw[0]);
        }
    }
    let (f, _) = median_max(fast);
    let r = raw.first().copied().unwrap_or(0.0);
    println!(
        "median {f:.2} s vs {r:.2} s from raw runs: ratio 1/{:.1}; same JSON: {}",
        r / f.max(1e-9),
        fast_json == raw_json
    );
    print_sizes(&store, runs)?;
    Ok(ExitCode::SUCCESS)
}

/// Bytes per raw run: the whole file, and per table with `dbstat`.
fn print_sizes(store: &Store, runs: i64) -> anyhow::Result<()> {
    let c = store.conn();
    let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let per = |b: i64| b as f64 / runs.max(1) as f64;
    println!(
        "file: {} bytes in use ({} pages of {size}, {free} free), {:.1} bytes per run",
        (pages - free) * size,
        pages,
        per((pages - free) * size)
    );
    let Ok(mut stmt) = c.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC") else {
        println!("(no dbstat in this SQLite: no per-table figures)");
        return Ok(());
    };
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (name, bytes) = row?;
        println!("  {name:<32} {bytes:>12} bytes  {:>7.1} per run", per(bytes));
    }
    Ok(())
}

fn median_max(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v.get(v.len() / 2).copied().unwrap_or(0.0), v.last().copied().unwrap_or(0.0))
}

/// Time the observatory over the benchmark's history: building the figures,
/// rendering the index page, rendering every file, and publishing them.
pub fn bench_observatory(db: &Path, probes: u32, days: u32, every_minutes: u32, output: &Path, repeat: u32) -> anyhow::Result<ExitCode> {
    use crate::alert::settings::Language;
    use crate::observatory::{self, html, Input, PublishSettings};
    let now = Utc::now().with_minute(0).and_then(|t| t.with_second(0)).unwrap_or_else(Utc::now);
    let store = history(db, probes, days, every_minutes, now)?;
    let runs: i64 = store.conn().query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))?;
    println!("{} — {runs} raw runs", db.display());
    let settings = PublishSettings::default();
    let (mut read, mut build, mut index, mut render, mut write) = (vec![], vec![], vec![], vec![], vec![]);
    let mut last = None;
    let period = Period::new(
        Some((now - Duration::days(90)).date_naive()),
        Some(now.date_naive()),
        chrono_tz::Europe::Paris,
        now,
    )?;
    for i in 0..repeat.max(1) {
        let t = Instant::now();
        let rows = report::data::load_counts(store.conn(), &period)?;
        read.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(rows);
        let t = Instant::now();
        let o = observatory::build(
            store.conn(),
            &Input {
                config: None,
                settings: &settings,
                now,
            },
        )?;
        build.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let page = html::index(&o, Language::Fr);
        index.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let files = observatory::site(&o)?;
        render.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let published = observatory::publish(output, &files, now.timestamp_millis() + i64::from(i))?;
        write.push(t.elapsed().as_secs_f64() * 1000.0);
        last = Some((o.procedures.len(), o.incidents().len(), page.len(), published));
    }
    if let Some((procedures, incidents, page, p)) = last {
        println!(
            "{procedures} procedures, {incidents} incidents; index.html {} KiB; {} files, {} KiB",
            page / 1024,
            p.files,
            p.bytes / 1024
        );
    }
    for (what, v) in [
        ("build (figures)", build),
        ("  of which rollups read", read),
        ("index.html", index),
        ("every file", render),
        ("publish (write)", write),
    ] {
        let (median, max) = median_max(v);
        println!("{what:<24} median {median:>8.1} ms   slowest {max:>8.1} ms");
    }
    Ok(ExitCode::SUCCESS)
}
