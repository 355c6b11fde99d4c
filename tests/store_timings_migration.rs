//! The V8 migration (`rollup_latency` and `rollup_phases` moved into
//! `rollup_timings`, `rollup_runs` keyed by ids with integer milliseconds)
//! on a database made by the previous version: the
//! schema is built by running the migrations up to V7, six hours of two
//! probes' runs are written through the run writer (its tables did not
//! change), and the hourly rollups in the V7 layout by plain SQL, as V7's
//! compaction wrote them (text keys, buckets as `index:count` text, sums
//! as floating-point totals, phases as `codec::encode_histograms`). Then
//! the database is opened by this vigie: every histogram must read back
//! with the same count, buckets, minimum and maximum (sums to the
//! microsecond), every hour's run counts, labels, durations and observed
//! time too, the old tables are gone, and the report's JSON from the
//! converted rollups equals, byte for byte, the one computed from raw runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection};
use vigie::report::{self, period::Period, Filter, Format};
use vigie::store::codec::{self, StepRecord};
use vigie::store::latency::{self, Histogram};
use vigie::store::observed::Tick;
use vigie::store::runs::{self, NewRun};
use vigie::store::{aggregate, dict, schema, stretches, to_ms, Store};

fn start() -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .with_ymd_and_hms(2026, 9, 10, 8, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

const HOURS: i64 = 6;

fn noise(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// One run of probe `p` at minute `m`: three steps, the first two timed
/// (their phases), the third untimed; some runs fail at the second step
/// without a response, some are slow.
fn write_run(conn: &Connection, kinds: &[i64; 3], p: u64, m: i64) {
    let probe = ["accueil-paris", "rdv-lyon"][p as usize];
    let probe_id = dict::probe_id(conn, probe).expect("probe");
    let labels_id = dict::labels_id(conn, "titre-sejour", probe, "anef", "paris").expect("labels");
    let r = noise(m as u64, p);
    let failed = r.is_multiple_of(17);
    let slow = r.is_multiple_of(23);
    let d_ms = [40 + r % 900, if slow { 12_000 + r % 5_000 } else { 150 + r % 400 }, 3 + r % 50];
    let steps: Vec<StepRecord> = (0..3)
        .map(|i| {
            let us = d_ms[i] * 1000 + (r >> 8) % 1000;
            let timed = i < 2;
            let responded = !(failed && i >= 1);
            StepRecord {
                kind: kinds[i],
                status: u8::from(failed && i == 1),
                http_status: responded.then_some(200),
                duration_us: if responded { us } else { 0 },
                phases: (timed && responded).then(|| {
                    let dns = if r.is_multiple_of(5) { 0 } else { 200 + r % 3_000 };
                    let ph = [dns, 300 + (r >> 3) % 900, 2_000 + (r >> 5) % 9_000, us / 2];
                    [ph[0], ph[1], ph[2], ph[3], us.saturating_sub(ph.iter().sum())]
                }),
            }
        })
        .collect();
    let at = start() + Duration::minutes(m) + Duration::seconds(p as i64 * 7);
    let run = NewRun {
        probe_id,
        started_at_ms: to_ms(at),
        sched_ms: Some(0),
        duration_ms: d_ms.iter().sum::<u64>() as i64,
        wait_ms: 0,
        outcome: if failed {
            "down"
        } else if slow {
            "degraded"
        } else {
            "up"
        },
        reason: if failed {
            Some("timeout")
        } else if slow {
            Some("slow")
        } else {
            None
        },
        failed_step: (failed || slow).then_some("formulaire"),
        captcha_step: None,
        last_http_status: Some(200),
        maintenance: None,
        version_id: None,
        interval_ms: Some(60_000),
        labels_id,
        message: None,
        steps: codec::encode(&steps),
    };
    let id = runs::insert_row(conn, None, &run).expect("run");
    let tick = Tick {
        at: to_ms(at),
        started_at: to_ms(at),
        interval_ms: Some(60_000),
        observed: true,
        maintenance: false,
    };
    stretches::record(conn, probe_id, id, tick).expect("stretch");
    if p == 1 {
        runs::put_value(conn, id, 1, "appointment_slots", (r % 4) as f64).expect("value");
    }
}

/// V7's compaction of the hours, written as it wrote them.
fn v7_rollups(conn: &Connection) {
    let h = aggregate::aggregate(conn, None, start(), start() + Duration::hours(HOURS)).expect("aggregate");
    for a in &h.runs {
        conn.execute(
            "INSERT INTO rollup_runs (probe, hour_ms, maintenance, procedure, site, runs, up, degraded, no_capacity, broken,
                down, captcha, duration_sum_s, duration_min_s, duration_max_s, duration_p50_s, duration_p95_s, unobserved, observed_s)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            params![
                a.probe,
                to_ms(a.hour),
                a.maintenance,
                a.procedure,
                a.site,
                a.runs,
                a.up,
                a.degraded,
                a.no_capacity,
                a.broken,
                a.down,
                a.captcha,
                a.duration_sum_s,
                a.duration_min_s,
                a.duration_max_s,
                a.duration_p50_s,
                a.duration_p95_s,
                a.unobserved,
                a.observed_s
            ],
        )
        .expect("rollup_runs");
    }
    for f in &h.failures {
        conn.execute(
            "INSERT INTO rollup_failures (probe, hour_ms, step, reason, runs) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![f.probe, to_ms(f.hour), f.step, f.reason, f.runs],
        )
        .expect("rollup_failures");
    }
    for o in &h.observations {
        conn.execute(
            "INSERT INTO rollup_observations (probe, hour_ms, name, count, positive, sum, min, max) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![o.probe, to_ms(o.hour), o.name, o.count, o.positive, o.sum, o.min, o.max],
        )
        .expect("rollup_observations");
    }
    for l in &h.latency {
        let g = &l.histogram;
        // V7 summed seconds in floating point: its totals may differ from
        // the microseconds' in the last bit; one ulp off here.
        let sum = f64::from_bits(g.sum_s.to_bits() + 1);
        conn.execute(
            "INSERT INTO rollup_latency (probe, hour_ms, step, count, sum_s, min_s, max_s, buckets) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![l.probe, to_ms(l.hour), l.step, g.count as i64, sum, g.min_s, g.max_s, g.encode_buckets()],
        )
        .expect("rollup_latency");
    }
    let mut phases: BTreeMap<(String, i64, String), [Option<Histogram>; 5]> = BTreeMap::new();
    for p in &h.phases {
        let i = ["resolve", "connect", "tls", "processing", "transfer"]
            .iter()
            .position(|x| *x == p.phase)
            .expect("phase");
        phases.entry((p.probe.clone(), to_ms(p.hour), p.step.clone())).or_default()[i] = Some(p.histogram.clone());
    }
    for ((probe, hour, step), hs) in &phases {
        let refs: Vec<Option<&Histogram>> = hs.iter().map(Option::as_ref).collect();
        conn.execute(
            "INSERT INTO rollup_phases (probe, hour_ms, step, phases) VALUES (?1, ?2, ?3, ?4)",
            params![probe, hour, step, codec::encode_histograms(&refs)],
        )
        .expect("rollup_phases");
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('rollup_watermark_ms', ?1)",
        [to_ms(start() + Duration::hours(HOURS)).to_string()],
    )
    .expect("watermark");
}

/// A V7 database with six rolled-up hours; returns it closed.
fn v7_database(path: &std::path::Path) {
    let mut conn = Connection::open(path).expect("open");
    schema::migrate_to(&mut conn, 7).expect("migrate to V7");
    let kind = |i: usize| {
        dict::step_kind(
            &conn,
            ["accueil", "formulaire", "confirmation"][i],
            "GET",
            "https://x.example/",
            "[]",
        )
    };
    let kinds = [kind(0).expect("kind"), kind(1).expect("kind"), kind(2).expect("kind")];
    for m in 0..HOURS * 60 {
        for p in 0..2 {
            write_run(&conn, &kinds, p, m);
        }
    }
    v7_rollups(&conn);
}

type Old = Vec<(String, i64, String, i64, f64, f64, f64, String)>;

type RunHour = (String, i64, bool, String, String, u32, u32, u32, f64, f64, f64, Option<f64>);

fn old_run_hours(conn: &Connection) -> Vec<RunHour> {
    rows(
        conn,
        "SELECT probe, hour_ms, maintenance, procedure, site, runs, up, down, duration_sum_s, duration_p95_s, duration_max_s,
            observed_s FROM rollup_runs ORDER BY 1, 2, 3",
    )
}

fn old_latency(conn: &Connection) -> Old {
    rows(
        conn,
        "SELECT probe, hour_ms, step, count, sum_s, min_s, max_s, buckets FROM rollup_latency ORDER BY 1, 2, 3",
    )
}

/// Every row of `sql`, each as a tuple of its columns.
fn rows<T>(conn: &Connection, sql: &str) -> Vec<T>
where
    T: for<'a> TryFrom<&'a rusqlite::Row<'a>, Error = rusqlite::Error>,
{
    let mut stmt = conn.prepare(sql).expect("prepare");
    let rows = stmt.query_map([], |r| T::try_from(r)).expect("query");
    rows.collect::<rusqlite::Result<_>>().expect("rows")
}

#[test]
fn a_v7_database_reports_the_same_after_the_timings_migration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vigie.db");
    v7_database(&path);
    let (latency_before, phases_before, runs_before) = {
        let conn = Connection::open(&path).expect("open");
        let phases: Vec<(String, i64, String, Vec<u8>)> = {
            let mut stmt = conn
                .prepare("SELECT probe, hour_ms, step, phases FROM rollup_phases ORDER BY 1, 2, 3")
                .expect("prepare");
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .expect("query");
            rows.collect::<rusqlite::Result<_>>().expect("rows")
        };
        (old_latency(&conn), phases, old_run_hours(&conn))
    };
    assert_eq!(runs_before.len(), 2 * 6);
    // Two probes, six hours, the whole run and three steps.
    assert_eq!(latency_before.len(), 2 * 6 * 4);
    assert_eq!(phases_before.len(), 2 * 6 * 2, "the two timed steps");

    let store = Store::open(&path).expect("open and migrate");
    let conn = store.conn();
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, schema::CURRENT_VERSION);
    let old_tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('rollup_latency', 'rollup_phases')",
            [],
            |r| r.get(0),
        )
        .expect("schema");
    assert_eq!(old_tables, 0, "the old tables are dropped");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM rollup_timings", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 2 * 6, "one row per probe and hour");

    // Every hour's runs.
    let runs_after: Vec<RunHour> = vigie::store::rollup::run_rollups(conn, None, start(), start() + Duration::hours(HOURS))
        .expect("run rollups")
        .into_iter()
        .map(|r| {
            (
                r.probe,
                to_ms(r.hour),
                r.maintenance,
                r.procedure,
                r.site,
                r.runs,
                r.up,
                r.down,
                r.duration_sum_s,
                r.duration_p95_s,
                r.duration_max_s,
                r.observed_s,
            )
        })
        .collect();
    assert_eq!(runs_after, runs_before, "rollup_runs reads back as V7 wrote it");

    // Every latency histogram, hour by hour (each hour merged alone).
    for (probe, hour, step, count, sum, min, max, buckets) in &latency_before {
        let from = vigie::store::from_ms(*hour);
        let (merged, _) = latency::timings_merged(conn, from, from + Duration::hours(1)).expect("timings");
        let got = merged
            .iter()
            .find(|l| (&l.probe, &l.step) == (probe, step))
            .unwrap_or_else(|| panic!("{probe} {step} at {hour}"));
        let h = &got.histogram;
        assert_eq!((h.count as i64, h.min_s, h.max_s), (*count, *min, *max), "{probe} {step} at {hour}");
        assert_eq!(h.buckets, Histogram::decode_buckets(buckets));
        assert_eq!(h.sum_s, (sum * 1e6).round() / 1e6, "sums to the microsecond");
        assert_ne!(h.sum_s, *sum, "the test's V7 sums are one ulp off");
    }
    // Every phase histogram, exactly (V7 kept them in microseconds).
    for (probe, hour, step, blob) in &phases_before {
        let from = vigie::store::from_ms(*hour);
        let got = latency::phase_rollups(conn, Some(probe), from, from + Duration::hours(1)).expect("phases");
        let got: Vec<Histogram> = got.into_iter().filter(|p| &p.step == step).map(|p| p.histogram).collect();
        let want: Vec<Histogram> = codec::decode_histograms(blob).into_iter().flatten().collect();
        assert_eq!(got.len(), 5);
        assert_eq!(got, want, "{probe} {step} at {hour}");
    }

    // The report, from the converted rollups and from raw runs.
    let day = NaiveDate::from_ymd_opt(2026, 9, 10).expect("day");
    let now = start() + Duration::days(2);
    let req = report::Request {
        period: Period::new(Some(day), Some(day), chrono_tz::Europe::Paris, now).expect("period"),
        filter: Filter::default(),
        language: vigie::alert::settings::Language::Fr,
        settings: Default::default(),
        config: None,
        now,
    };
    let fast = report::build(conn, &req, |_| {}).expect("report");
    let raw = report::build_from_raw_runs(conn, &req, |_| {}).expect("raw report");
    let json = |r| report::render(r, Format::Json, None).expect("json");
    assert_eq!(
        json(&fast),
        json(&raw),
        "the same report from the converted rollups and from raw runs"
    );
    let probe = fast.probes.iter().find(|p| p.probe == "rdv-lyon").expect("probe");
    let text = serde_json::to_string(probe).expect("probe json");
    assert!(text.contains("\"processing\""), "phases in the report: {text}");
    assert!(text.contains("\"formulaire\""), "step latency in the report");
}
