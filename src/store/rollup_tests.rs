//! Rollups and retention on a real SQLite file.

use super::*;
use crate::alert::testutil::{probe, run, t0};
use crate::probe::Outcome;
use crate::store::runs::{insert_run, runs_between};
use crate::store::Store;

fn day() -> Duration {
    Duration::from_secs(86400)
}

#[test]
fn closed_hours_roll_up_with_outcomes_percentiles_and_observations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("v.db")).expect("open");
    let p = probe("rdv", "RDV", "titre-sejour");
    let hour = t0().date_naive().and_hms_opt(13, 0, 0).expect("hour").and_utc();
    // 10 runs in the 13:00 hour: 7 up (with slots), 2 no_capacity, 1 down in maintenance.
    for i in 0..10 {
        let at = hour + chrono::Duration::minutes(i * 5);
        let outcome = match i {
            0..=6 => Outcome::Up,
            7 | 8 => Outcome::NoCapacity,
            _ => Outcome::Down,
        };
        let mut r = run(&p, at, outcome);
        r.duration = Duration::from_millis(100 * (i as u64 + 1));
        r.steps[1].observations = vec![("appointment_slots".into(), if outcome == Outcome::Up { 3.0 } else { 0.0 })];
        let maintenance = (outcome == Outcome::Down).then_some("nuit");
        insert_run(store.conn(), &p, "paris", &r, maintenance, None).expect("insert");
    }
    // Not closed yet at 14:10 (settling), closed at 14:20.
    let rep = compact(store.conn_mut(), hour + chrono::Duration::minutes(70), day(), day() * 365).expect("compact");
    assert_eq!(rep.hours_rolled_up, 0);
    let rep = compact(store.conn_mut(), hour + chrono::Duration::minutes(80), day(), day() * 365).expect("compact");
    assert_eq!(rep.hours_rolled_up, 1);
    let rows = run_rollups(store.conn(), Some("rdv"), hour, hour + chrono::Duration::hours(1)).expect("rollups");
    assert_eq!(rows.len(), 2, "maintenance runs are rolled up apart: {rows:?}");
    let normal = rows.iter().find(|r| !r.maintenance).expect("normal");
    assert_eq!((normal.runs, normal.up, normal.no_capacity, normal.down), (9, 7, 2, 0));
    assert!((normal.duration_sum_s - 4.5).abs() < 1e-9);
    assert!((normal.duration_p50_s - 0.5).abs() < 1e-9, "p50 {}", normal.duration_p50_s);
    assert!((normal.duration_p95_s - 0.9).abs() < 1e-9, "p95 {}", normal.duration_p95_s);
    let maint = rows.iter().find(|r| r.maintenance).expect("maintenance");
    assert_eq!((maint.runs, maint.down), (1, 1));
    let obs = observation_rollups(store.conn(), None, hour, hour + chrono::Duration::hours(1)).expect("obs");
    assert_eq!(obs.len(), 1);
    assert_eq!((obs[0].count, obs[0].positive, obs[0].max), (10, 7, 3.0));
    assert!((obs[0].avg() - 2.1).abs() < 1e-9);
    let fails = failure_rollups(store.conn(), None, hour, hour + chrono::Duration::hours(1)).expect("fails");
    let counts: Vec<(&str, &str, u32)> = fails.iter().map(|f| (f.step.as_str(), f.reason.as_str(), f.runs)).collect();
    assert_eq!(counts, vec![("slots", "http_5xx", 1), ("slots", "no_capacity", 2)]);

    // Compacting again changes nothing (rows are replaced, not added).
    compact(store.conn_mut(), hour + chrono::Duration::minutes(90), day(), day() * 365).expect("again");
    let again = run_rollups(store.conn(), Some("rdv"), hour, hour + chrono::Duration::hours(1)).expect("rollups");
    assert_eq!(again, rows);
}

#[test]
fn retention_deletes_raw_runs_then_rollups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("v.db")).expect("open");
    let p = probe("rdv", "RDV", "titre-sejour");
    let start = t0();
    for d in 0..5 {
        let r = run(&p, start + chrono::Duration::days(d), Outcome::Up);
        insert_run(store.conn(), &p, "paris", &r, None, None).expect("insert");
    }
    // Day 5: keep 2 days of runs, 3 days of rollups.
    let now = start + chrono::Duration::days(5);
    let rep = compact(store.conn_mut(), now, day() * 2, day() * 3).expect("compact");
    assert_eq!(rep.hours_rolled_up, 5);
    let left = runs_between(store.conn(), None, start - chrono::Duration::days(1), now).expect("runs");
    assert_eq!(left.len(), 2, "runs older than 2 days are gone");
    let rows: i64 = store
        .conn()
        .query_row("SELECT COUNT(*) FROM run_log", [], |r| r.get(0))
        .expect("rows");
    assert_eq!(rows, 2, "their rows (steps inside) went with them");
    let steps: usize = left
        .iter()
        .map(|r| crate::store::runs::steps(store.conn(), r.id).expect("steps").len())
        .sum();
    assert_eq!(steps, 6);
    let kept = run_rollups(store.conn(), None, start - chrono::Duration::days(1), now).expect("rollups");
    assert_eq!(kept.len(), 2, "rollups of hours older than 3 days are gone");
}

#[test]
fn phases_are_stored_per_step_and_rolled_up_by_hour() {
    use crate::probe::result::{Phases, RequestTiming};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("v.db")).expect("open");
    let p = probe("rdv", "RDV", "titre-sejour");
    let hour = t0().date_naive().and_hms_opt(13, 0, 0).expect("hour").and_utc();
    let ms = Duration::from_millis;
    let mut ids = Vec::new();
    for i in 0..10u64 {
        let mut r = run(&p, hour + chrono::Duration::minutes(i as i64 * 5), Outcome::Up);
        r.steps[0].http_status = Some(200);
        // A redirect and its target: the step's phases are their sums.
        let hop = |processing: u64| RequestTiming {
            phases: Phases {
                resolve: ms(2),
                connect: ms(3),
                tls: ms(10),
                processing: ms(processing),
                transfer: ms(1),
            },
            ..Default::default()
        };
        r.steps[0].timings = vec![hop(20), hop(100 + 10 * i)];
        r.steps[1].timings.clear();
        ids.push(insert_run(store.conn(), &p, "paris", &r, None, None).expect("insert"));
    }
    let steps = crate::store::runs::steps(store.conn(), ids[0]).expect("steps");
    assert_eq!(steps[0].phases_us, Some([4_000, 6_000, 20_000, 120_000, 2_000]));
    assert_eq!(steps[1].phases_us, None, "untimed steps store no phases");
    compact(store.conn_mut(), hour + chrono::Duration::minutes(80), day(), day() * 365).expect("compact");
    let rows = crate::store::latency::phase_rollups(store.conn(), Some("rdv"), hour, hour + chrono::Duration::hours(1)).expect("rows");
    let step0 = steps[0].name.clone();
    assert_eq!(rows.len(), 5, "five phases of the one timed step: {rows:?}");
    assert!(rows.iter().all(|r| r.step == step0 && r.histogram.count == 10));
    let processing = rows.iter().find(|r| r.phase == "processing").expect("processing");
    // 120 … 210 ms: median within a bucket (±9 %) of 160 ms, maximum exact.
    let p50 = processing.histogram.percentile(50.0).expect("p50");
    assert!((p50 - 0.16).abs() / 0.16 < 0.1, "p50 {p50}");
    assert_eq!(processing.histogram.max_s, 0.21);
    let refs: Vec<_> = rows.iter().collect();
    let table = crate::report::compute::phases(&refs, std::slice::from_ref(&step0));
    assert_eq!(table.len(), 1);
    let names: Vec<&str> = table[0].phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(names, ["resolve", "connect", "tls", "processing", "transfer"]);
    assert_eq!(table[0].phases[0].p95_s, Some(0.004));
}
