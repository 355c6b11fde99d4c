//! The V7 migration (the compact store) on a database made by the previous
//! version: the schema is built by running the migrations up to V6, rows
//! are written in the V6 layout (text everywhere, one `steps` row per
//! step), then the database is opened by this vigie. Every run, step and
//! observation must read back as written (through the store's readers and
//! the `runs` / `observations` views), evidence and incidents keep naming
//! the same run ids, and the report's observed time, computed from the
//! stretches the migration derived, equals the one computed from raw runs
//! (and the figures worked out by hand).
//!
//! Thursday 10 September 2026, Europe/Paris (UTC+2). Probe `demo` runs
//! every minute 10:00–10:06 (10:02 and 10:05 down), is stopped, runs again
//! 10:20–10:23 and at 10:24 observes nothing (`unobserved`): 7 + 4 = 11
//! minutes observed. Probe `slots` runs 10:00–10:02 and records slots.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection};
use vigie::report::{self, period::Period, Filter, Format};
use vigie::store::{runs, schema, Store};

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .with_ymd_and_hms(2026, 9, 10, hour, minute, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

type Row = Vec<rusqlite::types::Value>;

fn rows(conn: &Connection, sql: &str) -> Vec<Row> {
    let mut stmt = conn.prepare(sql).expect("prepare");
    let n = stmt.column_count();
    let out = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect())
        .expect("query");
    out.collect::<rusqlite::Result<Vec<Row>>>().expect("rows")
}

const RUN_COLUMNS: &str = "SELECT id, probe, procedure, site, target, location, scheduled_at_ms, started_at_ms, duration_s,
    politeness_wait_s, outcome, reason, failed_step, message, captcha_step, last_http_status, maintenance, version_id, interval_s
    FROM runs ORDER BY id";

/// A V6 database with real rows; returns it closed.
fn v6_database(path: &std::path::Path) {
    let mut conn = Connection::open(path).expect("open");
    schema::migrate_to(&mut conn, 6).expect("migrate to V6");
    let run = "INSERT INTO runs (id, probe, procedure, site, target, location, scheduled_at_ms, started_at_ms, duration_s,
        politeness_wait_s, outcome, reason, failed_step, message, captcha_step, last_http_status, maintenance, version_id, interval_s)
        VALUES (?1, ?2, ?3, 'site-a', 'anef', 'paris', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, ?12, ?13, ?14, 60.0)";
    let step = "INSERT INTO steps (run_id, idx, name, status, reason, message, method, url, http_status, http_version, duration_s,
        time_to_headers_s, response_bytes, redirects, checks, tls_not_after_ms, excerpt, chain)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'GET', ?7, ?8, 'HTTP/1.1', ?9, 0.01, 2000, 0, ?10, NULL, ?11, ?12)";
    conn.execute_batch(
        "INSERT INTO probe_versions (id, probe, hash, first_seen_ms, description) VALUES
            (1, 'demo', 'aaa', 0, '{\"fr\":\"v1\",\"en\":\"v1\"}'), (2, 'demo', 'bbb', 0, '{\"fr\":\"v2\",\"en\":\"v2\"}');",
    )
    .expect("versions");
    let mut id = 0;
    let mut minutes: Vec<(&str, u32, &str, Option<i64>)> = Vec::new();
    for m in 0..=6 {
        minutes.push(("demo", m, if m == 2 || m == 5 { "down" } else { "up" }, Some(1)));
    }
    for m in 20..=24 {
        minutes.push(("demo", m, if m == 24 { "unobserved" } else { "up" }, Some(2)));
    }
    for m in 0..=2 {
        minutes.push(("slots", m, "no_capacity", None));
    }
    for (probe, m, outcome, version) in minutes {
        id += 1;
        let scheduled = at(10, m).timestamp_millis();
        let down = outcome == "down";
        conn.execute(
            run,
            params![
                id,
                probe,
                if probe == "demo" { "anef-connexion" } else { "rdv-prefecture" },
                scheduled,
                scheduled + 150,
                0.25 + f64::from(m) / 1000.0,
                if m == 1 { 1.5 } else { 0.0 },
                outcome,
                down.then_some("http_5xx"),
                down.then_some("accueil"),
                down.then_some("HTTP 503"),
                if down { 503 } else { 200 },
                (m == 3).then_some("fenetre"),
                version,
            ],
        )
        .expect("run");
        let chain = (m == 4).then_some(r#"[["GET","https://a.example/",302],["GET","https://a.example/b",200]]"#);
        conn.execute(
            step,
            params![
                id,
                0,
                "accueil",
                if down { "failed" } else { "passed" },
                down.then_some("http_5xx"),
                down.then_some("HTTP 503"),
                "https://a.example/",
                if down { 503 } else { 200 },
                0.125,
                r#"[{"description":"statut 200","passed":true}]"#,
                down.then_some("Service indisponible"),
                chain,
            ],
        )
        .expect("step 0");
        if !down {
            conn.execute(
                step,
                params![
                    id,
                    1,
                    "connexion",
                    "passed",
                    None::<String>,
                    None::<String>,
                    None::<String>,
                    None::<u16>,
                    0.0625,
                    "[]",
                    None::<String>,
                    None::<String>
                ],
            )
            .expect("step 1");
        }
        if probe == "slots" {
            conn.execute(
                "INSERT INTO observations (run_id, step_idx, name, value) VALUES (?1, 1, 'appointment_slots', ?2)",
                params![id, f64::from(m)],
            )
            .expect("observation");
        }
    }
    conn.execute_batch(
        "INSERT INTO incidents (probe, procedure, site, title, started_at_ms, detected_at_ms, ended_at_ms, closed_at_ms, last_failure_at_ms,
            outcome, failing_runs, opening_run_id, closing_run_id)
         VALUES ('demo', 'anef-connexion', 'site-a', 'Démo', 0, 0, 0, 0, 0, 'down', 1, 3, 4);",
    )
    .expect("incident");
}

#[test]
fn a_v6_database_reads_the_same_after_the_compact_migration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v6.db");
    v6_database(&path);
    let (runs_before, steps_before, obs_before) = {
        let conn = Connection::open(&path).expect("open");
        let steps = rows(
            &conn,
            "SELECT run_id, idx, name, status, reason, message, method, url, http_status, duration_s, checks, excerpt, chain
             FROM steps ORDER BY run_id, idx",
        );
        (
            rows(&conn, RUN_COLUMNS),
            steps,
            rows(&conn, "SELECT run_id, step_idx, name, value FROM observations ORDER BY run_id"),
        )
    };
    assert_eq!(runs_before.len(), 15);

    let store = Store::open_existing(&path).expect("migrate");
    let conn = store.conn();
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, schema::CURRENT_VERSION);
    assert_eq!(rows(conn, RUN_COLUMNS), runs_before, "the runs view reads every run as written");
    assert_eq!(
        rows(conn, "SELECT run_id, step_idx, name, value FROM observations ORDER BY run_id"),
        obs_before,
        "the observations view too"
    );
    // Steps: every field the readers give, from the blob, the kinds and the details.
    let mut n = 0;
    for old in &steps_before {
        let run_id: i64 = match old[0] {
            rusqlite::types::Value::Integer(i) => i,
            _ => panic!("run id"),
        };
        let idx = match old[1] {
            rusqlite::types::Value::Integer(i) => i as usize,
            _ => panic!("idx"),
        };
        let s = &runs::steps(conn, run_id).expect("steps")[idx];
        let text = |v: &rusqlite::types::Value| match v {
            rusqlite::types::Value::Text(t) => Some(t.clone()),
            _ => None,
        };
        assert_eq!(Some(s.name.clone()), text(&old[2]));
        assert_eq!(Some(s.status.clone()), text(&old[3]));
        assert_eq!(s.reason.map(|r| r.as_str().to_string()), text(&old[4]));
        assert_eq!(s.message, text(&old[5]));
        assert_eq!(s.url, text(&old[7]));
        assert_eq!(s.excerpt, text(&old[11]));
        assert_eq!(s.chain.len(), if text(&old[12]).is_some() { 2 } else { 0 });
        assert!(matches!(old[9], rusqlite::types::Value::Real(d) if (d - s.duration_s).abs() < 1e-9));
        assert_eq!(s.checks.len(), if text(&old[10]).as_deref() == Some("[]") { 0 } else { 1 });
        n += 1;
    }
    assert_eq!(n, 28);
    // Incidents and evidence name runs by id: the ids are kept.
    let opening = runs::run(conn, 3).expect("run").expect("run 3");
    assert_eq!((opening.probe.as_str(), opening.failed_step.as_deref()), ("demo", Some("accueil")));
    assert_eq!(opening.started_at, at(10, 2) + chrono::Duration::milliseconds(150));

    // The report: observed time from the derived stretches, as from raw runs.
    let day = NaiveDate::from_ymd_opt(2026, 9, 10).expect("day");
    let now = at(12, 0) + chrono::Duration::days(1);
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
    assert_eq!(json(&fast), json(&raw), "the same report from stretches and from raw runs");
    let demo = fast.probes.iter().find(|p| p.probe == "demo").expect("demo");
    assert!((demo.observed_s - 660.0).abs() < 1e-9, "observed {}", demo.observed_s);
    assert_eq!(demo.not_observed_count, 3);
    let slots = fast.probes.iter().find(|p| p.probe == "slots").expect("slots");
    assert!((slots.observed_s - 180.0).abs() < 1e-9, "observed {}", slots.observed_s);
    let versions: i64 = conn
        .query_row("SELECT SUM(runs) FROM rollup_versions", [], |r| r.get(0))
        .expect("versions");
    assert_eq!(versions, 12, "the demo runs, by version");
}
