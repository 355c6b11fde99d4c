//! The SQLite schema and its versioned migrations.
//!
//! `PRAGMA user_version` holds the schema version. Migrations run in order at
//! start, each in its own transaction; a database written by a newer vigie
//! (a version this binary does not know) is refused rather than misread.
//!
//! Conventions: every timestamp is UTC Unix time in milliseconds, in an
//! INTEGER column whose name ends in `_ms`; durations are REAL seconds in
//! columns ending in `_s`; enumerations are their snake_case names
//! (`Outcome::as_str`, `Reason::as_str`).

use rusqlite::Connection;

use super::StoreError;

/// Each entry migrates from version `index` to `index + 1`: its SQL, then,
/// for the few that must transform rows, a Rust step in the same transaction.
const MIGRATIONS: &[(&str, Option<Convert>)] = &[
    (V1, None),
    (V2, None),
    (V3, None),
    (V4, None),
    (V5, None),
    (V6, None),
    (V7, Some(super::compact::convert_v6)),
    (V8, Some(super::compact_timings::convert_v7)),
];

type Convert = fn(&rusqlite::Transaction) -> Result<(), StoreError>;

/// The schema version this binary writes.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

const V1: &str = r#"
-- Key/value facts about the database itself (its identity, watermarks).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per probe run, kept `retention.runs` (90 days by default).
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    probe             TEXT NOT NULL,
    procedure         TEXT NOT NULL,
    site              TEXT NOT NULL,
    target            TEXT NOT NULL,
    location          TEXT NOT NULL,
    scheduled_at_ms   INTEGER,
    started_at_ms     INTEGER NOT NULL,
    duration_s        REAL NOT NULL,
    politeness_wait_s REAL NOT NULL,
    outcome           TEXT NOT NULL,
    reason            TEXT,
    failed_step       TEXT,
    message           TEXT,
    captcha_step      TEXT,
    last_http_status  INTEGER,
    -- Name of the maintenance window the run fell in, NULL outside one.
    maintenance       TEXT
);
CREATE INDEX runs_by_probe_time ON runs (probe, started_at_ms);
CREATE INDEX runs_by_time ON runs (started_at_ms);

CREATE TABLE steps (
    run_id            INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx               INTEGER NOT NULL,
    name              TEXT NOT NULL,
    status            TEXT NOT NULL,
    reason            TEXT,
    message           TEXT,
    method            TEXT NOT NULL,
    url               TEXT,
    http_status       INTEGER,
    http_version      TEXT,
    duration_s        REAL NOT NULL,
    time_to_headers_s REAL NOT NULL,
    response_bytes    INTEGER NOT NULL,
    redirects         INTEGER NOT NULL,
    -- JSON list of {"description": ..., "passed": bool}.
    checks            TEXT NOT NULL,
    tls_not_after_ms  INTEGER,
    -- Visible text of the page for failing and no-slot steps (redacted, short).
    excerpt           TEXT,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;

CREATE TABLE observations (
    run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_idx INTEGER NOT NULL,
    name     TEXT NOT NULL,
    value    REAL NOT NULL
);
CREATE INDEX observations_by_run ON observations (run_id);

-- Hourly rollups, kept `retention.rollups` (5 years by default). One row per
-- probe, UTC hour and maintenance flag (runs inside a maintenance window are
-- rolled up apart, so availability can be given with and without them).
CREATE TABLE rollup_runs (
    probe            TEXT NOT NULL,
    hour_ms          INTEGER NOT NULL,
    maintenance      INTEGER NOT NULL,
    procedure        TEXT NOT NULL,
    site             TEXT NOT NULL,
    runs             INTEGER NOT NULL,
    up               INTEGER NOT NULL,
    degraded         INTEGER NOT NULL,
    no_capacity      INTEGER NOT NULL,
    broken           INTEGER NOT NULL,
    down             INTEGER NOT NULL,
    captcha          INTEGER NOT NULL,
    duration_sum_s   REAL NOT NULL,
    duration_min_s   REAL NOT NULL,
    duration_max_s   REAL NOT NULL,
    duration_p50_s   REAL NOT NULL,
    duration_p95_s   REAL NOT NULL,
    PRIMARY KEY (probe, hour_ms, maintenance)
) WITHOUT ROWID;

CREATE TABLE rollup_failures (
    probe   TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    step    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    runs    INTEGER NOT NULL,
    PRIMARY KEY (probe, hour_ms, step, reason)
) WITHOUT ROWID;

CREATE TABLE rollup_observations (
    probe    TEXT NOT NULL,
    hour_ms  INTEGER NOT NULL,
    name     TEXT NOT NULL,
    count    INTEGER NOT NULL,
    -- How many were above zero (e.g. checks that offered at least one slot).
    positive INTEGER NOT NULL,
    sum      REAL NOT NULL,
    min      REAL NOT NULL,
    max      REAL NOT NULL,
    PRIMARY KEY (probe, hour_ms, name)
) WITHOUT ROWID;

-- Outages, kept forever.
CREATE TABLE incidents (
    id                  INTEGER PRIMARY KEY,
    probe               TEXT NOT NULL,
    procedure           TEXT NOT NULL,
    site                TEXT NOT NULL,
    title               TEXT NOT NULL,
    -- First failing run of the streak that opened it.
    started_at_ms       INTEGER NOT NULL,
    -- Run that reached the failure threshold.
    detected_at_ms      INTEGER NOT NULL,
    -- First passing run of the streak that closed it (NULL while open).
    ended_at_ms         INTEGER,
    -- Run that reached the success threshold.
    closed_at_ms        INTEGER,
    last_failure_at_ms  INTEGER NOT NULL,
    outcome             TEXT NOT NULL,
    reason              TEXT,
    failed_step         TEXT,
    message             TEXT,
    last_http_status    INTEGER,
    failing_runs        INTEGER NOT NULL,
    -- When the failure began inside a maintenance window, that earlier start.
    began_in_maintenance_at_ms INTEGER,
    -- A stretch vigie did not observe (it was stopped) during the outage.
    unobserved_from_ms  INTEGER,
    unobserved_to_ms    INTEGER,
    opening_run_id      INTEGER,
    closing_run_id      INTEGER
);
CREATE INDEX incidents_by_probe_time ON incidents (probe, started_at_ms);

-- The outage state machine's state per probe (JSON of alert::machine::ProbeState).
CREATE TABLE alert_state (
    probe         TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

-- Notifications decided but not yet turned into e-mails: they wait out the
-- grouping window here, so a restart neither loses nor repeats them.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    probe         TEXT NOT NULL,
    incident_id   INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    -- JSON of alert::notice::Notice: everything the e-mail says.
    notice        TEXT NOT NULL
);

-- E-mails to deliver. A row is written in the same transaction as the
-- decision that causes it; `status` becomes `sent` only once the SMTP server
-- accepted it (or the .eml file is in place).
CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY,
    created_at_ms      INTEGER NOT NULL,
    kind               TEXT NOT NULL,
    -- JSON list of e-mail addresses (the envelope).
    recipients         TEXT NOT NULL,
    sender             TEXT NOT NULL,
    subject            TEXT NOT NULL,
    message_id         TEXT NOT NULL UNIQUE,
    -- The complete RFC 5322 message, identical on every attempt.
    raw                BLOB NOT NULL,
    -- JSON list of incident ids.
    incidents          TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    next_attempt_at_ms INTEGER NOT NULL,
    sent_at_ms         INTEGER,
    -- Where it went: "smtp host:port" or the .eml file's path.
    delivered_to       TEXT
);
CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at_ms);
"#;

/// Version 2: the evidence register and latency histograms.
const V2: &str = r#"
-- Evidence: what a visitor would have seen on failing and no-slot runs.
-- One hash chain over the whole table, in `seq` order (1, 2, 3... without
-- gaps): `record` is the canonical JSON of the record, which holds the
-- previous record's hash; `hash` is the SHA-256 of `record`; the body's
-- SHA-256 is inside `record`. See src/evidence/record.rs and docs/reports.md.
-- Append-only, kept forever: changing or deleting a row breaks the chain,
-- which `vigie verify` reports.
CREATE TABLE evidence (
    seq            INTEGER PRIMARY KEY,
    probe          TEXT NOT NULL,
    -- failure | no_capacity
    kind           TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    -- The run it comes from (raw runs are deleted after their retention;
    -- the evidence stays).
    run_id         INTEGER,
    record         TEXT NOT NULL,
    -- The page as received (redacted, capped), gzip-compressed.
    body           BLOB NOT NULL,
    hash           TEXT NOT NULL UNIQUE
);
CREATE INDEX evidence_by_time ON evidence (received_at_ms);
CREATE INDEX evidence_by_probe_time ON evidence (probe, received_at_ms);

-- A guard against accidents (an UPDATE typed in the wrong window), not a
-- security boundary: whoever can drop these triggers can edit the file, and
-- the hash chain is what detects that.
CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence records are append-only'); END;
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence records are append-only'); END;

-- Hourly latency histograms per probe and step (step '' is the whole run),
-- so that reports give percentiles over any period from rollups. `buckets`
-- is "index:count" pairs separated by commas; bucket i holds durations up to
-- 1 ms x 2^(i/4) (store::rollup::bucket_of).
CREATE TABLE rollup_latency (
    probe   TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    step    TEXT NOT NULL,
    count   INTEGER NOT NULL,
    sum_s   REAL NOT NULL,
    min_s   REAL NOT NULL,
    max_s   REAL NOT NULL,
    buckets TEXT NOT NULL,
    PRIMARY KEY (probe, hour_ms, step)
) WITHOUT ROWID;
"#;

/// Version 3: runs vigie could not observe (`unobserved`: its own failure or
/// bot protection) are counted apart in the hourly rollups, so availability
/// leaves them out.
const V3: &str = r#"
ALTER TABLE rollup_runs ADD COLUMN unobserved INTEGER NOT NULL DEFAULT 0;
"#;

/// Version 4: browser probes' screenshots (PNG, with vigie's banner) kept
/// beside the page in the evidence register; their SHA-256 is in the record.
const V4: &str = r#"
ALTER TABLE evidence ADD COLUMN screenshot BLOB;
"#;

/// Version 5: RFC 3161 time-stamp tokens over the evidence chain's head
/// (`evidence.timestamp`), chained like the captures and append-only. The
/// record (canonical JSON, `src/evidence/timestamps.rs`) holds the stamped
/// head, the TSA's time and the SHA-256 of `reply`, the TSA's DER answer.
const V5: &str = r#"
CREATE TABLE evidence_timestamps (
    seq         INTEGER PRIMARY KEY,
    gen_time_ms INTEGER NOT NULL,
    chain_seq   INTEGER NOT NULL,
    record      TEXT NOT NULL,
    reply       BLOB NOT NULL,
    hash        TEXT NOT NULL
);
CREATE TRIGGER evidence_timestamps_no_update BEFORE UPDATE ON evidence_timestamps
BEGIN SELECT RAISE(ABORT, 'time stamps are append-only'); END;
CREATE TRIGGER evidence_timestamps_no_delete BEFORE DELETE ON evidence_timestamps
BEGIN SELECT RAISE(ABORT, 'time stamps are append-only'); END;
"#;

/// Version 6: what ran, and for how long it watched.
/// - `probe_versions`: each distinct compiled probe, once per hash, with its
///   description in words (JSON `{"fr": …, "en": …}` of the report's
///   `ProbeMethod`) and when it was first seen; `runs.version_id` names the
///   version a run ran under.
/// - `runs.interval_s`: from the run's scheduled time to its schedule's next
///   time, the stretch the run observes (`store::observed`).
/// - `steps.chain`: JSON list of the requests a step sent (method, redacted
///   URL, status), only when a redirect was followed (NULL otherwise: the
///   single request is `method` `url`).
/// - `rollup_runs.observed_s`: the time observed by the hour's runs (NULL
///   for hours rolled up before this version).
const V6: &str = r#"
CREATE TABLE probe_versions (
    id            INTEGER PRIMARY KEY,
    probe         TEXT NOT NULL,
    hash          TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    description   TEXT NOT NULL,
    UNIQUE (probe, hash)
);
ALTER TABLE runs ADD COLUMN version_id INTEGER;
ALTER TABLE runs ADD COLUMN interval_s REAL;
ALTER TABLE steps ADD COLUMN chain TEXT;
ALTER TABLE rollup_runs ADD COLUMN observed_s REAL;
"#;

/// Version 7: the compact store (issue 14; ARCHITECTURE.md « The store's
/// encodings »). A run of 3 steps went from ~500 bytes to under 150:
/// - `probes`, `labels`, `texts`, `step_kinds`: dictionaries. A run names
///   its probe, labels (procedure, site, target, location), outcome,
///   reason… by small integers instead of repeating the text.
/// - `run_log`: one row per run (the ids of `runs` are kept: evidence and
///   incidents name them). `sched_ms` is `started - scheduled` (NULL when
///   not scheduled), durations are integer milliseconds, `interval_ms` the
///   stretch the run observes. `steps` is a BLOB, one record per step of
///   unsigned LEB128 varints (`store::codec`): kind, status, HTTP status,
///   duration (µs) and, for timed HTTP steps, the five phases summed over
///   the step's requests (µs). One index only, (probe, start): time ranges
///   over all probes walk it probe by probe.
/// - `step_details`: a row only for a step that carries more than the blob
///   (reason, message, page excerpt, redirect chain).
/// - `run_values`: observations, `WITHOUT ROWID`, the name a `texts` id.
/// - `observed`: the stretches each probe was watched, kept by the writer
///   as runs arrive (`store::stretches`), so reports need not read raw runs.
/// - `rollup_versions`: per probe, hour and probe version, the runs and the
///   first and last of them, kept by the writer.
/// - `rollup_phases`: hourly histograms of each step's five phases, one
///   row per probe, hour and step, the histograms as varints in µs.
/// - `runs` and `observations` stay as read-only views in the old layout,
///   for people reading the file with `sqlite3`; the old `steps` table is
///   gone (`store::runs::steps` decodes the blob).
const V7: &str = r#"
CREATE TABLE probes (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE labels (
    id        INTEGER PRIMARY KEY,
    procedure TEXT NOT NULL,
    site      TEXT NOT NULL,
    target    TEXT NOT NULL,
    location  TEXT NOT NULL,
    UNIQUE (procedure, site, target, location)
);
-- Interned strings: outcomes, reasons, step names, maintenance windows,
-- observation names.
CREATE TABLE texts (
    id   INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
-- What a step is, the same from run to run: name, method, URL as
-- requested (redacted), and its checks (JSON list, with their results).
CREATE TABLE step_kinds (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    method TEXT NOT NULL,
    url    TEXT NOT NULL,
    checks TEXT NOT NULL,
    UNIQUE (name, method, url, checks)
);
CREATE TABLE run_log (
    id               INTEGER PRIMARY KEY,
    probe_id         INTEGER NOT NULL,
    started_at_ms    INTEGER NOT NULL,
    sched_ms         INTEGER,
    duration_ms      INTEGER NOT NULL,
    wait_ms          INTEGER NOT NULL,
    outcome_id       INTEGER NOT NULL,
    reason_id        INTEGER,
    failed_step_id   INTEGER,
    captcha_step_id  INTEGER,
    last_http_status INTEGER,
    maintenance_id   INTEGER,
    version_id       INTEGER,
    interval_ms      INTEGER,
    labels_id        INTEGER NOT NULL,
    message          TEXT,
    steps            BLOB NOT NULL
);
CREATE INDEX run_log_by_probe_time ON run_log (probe_id, started_at_ms);

CREATE TABLE step_details (
    run_id  INTEGER NOT NULL REFERENCES run_log (id) ON DELETE CASCADE,
    idx     INTEGER NOT NULL,
    reason  TEXT,
    message TEXT,
    excerpt TEXT,
    chain   TEXT,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;

CREATE TABLE run_values (
    run_id   INTEGER NOT NULL REFERENCES run_log (id) ON DELETE CASCADE,
    step_idx INTEGER NOT NULL,
    name_id  INTEGER NOT NULL,
    value    REAL NOT NULL,
    PRIMARY KEY (run_id, step_idx, name_id)
) WITHOUT ROWID;

-- Stretches `[from_ms, to_ms)` a probe was watched (the union of its runs'
-- observed spans); the last one's end is its last run's potential end,
-- readers cut it at now. Kept like rollups.
CREATE TABLE observed (
    probe_id INTEGER NOT NULL,
    from_ms  INTEGER NOT NULL,
    to_ms    INTEGER NOT NULL,
    PRIMARY KEY (probe_id, from_ms)
) WITHOUT ROWID;

CREATE TABLE rollup_versions (
    probe_id   INTEGER NOT NULL,
    hour_ms    INTEGER NOT NULL,
    version_id INTEGER NOT NULL,
    runs       INTEGER NOT NULL,
    first_ms   INTEGER NOT NULL,
    last_ms    INTEGER NOT NULL,
    PRIMARY KEY (probe_id, hour_ms, version_id)
) WITHOUT ROWID;

-- Hourly histograms of each HTTP step's phases: one row per probe, hour
-- and step, `phases` the five histograms (`store::codec::encode_histograms`).
CREATE TABLE rollup_phases (
    probe   TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    step    TEXT NOT NULL,
    phases  BLOB NOT NULL,
    PRIMARY KEY (probe, hour_ms, step)
) WITHOUT ROWID;
"#;

/// Version 8: the hourly timings get the run tables' treatment (issue 14).
/// `rollup_latency` (text keys, buckets as text) and `rollup_phases` (text
/// keys) become `rollup_timings`: one row per hour and probe (its
/// `probes` id), `data` holding every step's latency histogram and five
/// phase histograms as varints (`store::codec::encode_timings`; a step is
/// named by its `texts` id, 0 for the whole run), sums, minima and maxima
/// in whole microseconds. Keyed by hour first: compaction writes an hour
/// for all probes at once (rows are appended, pages stay full), reports and
/// retention read or delete hour ranges. The conversion
/// (`store::compact_timings`) moves every row; the old tables are dropped.
///
/// `rollup_runs` gets the same treatment in place: keyed (hour, probe id,
/// maintenance), the procedure and site as `texts` ids, durations and the
/// observed time as integer milliseconds (they are whole milliseconds; the
/// sum is rounded to one, `store::aggregate` computes it so).
const V8: &str = r#"
CREATE TABLE rollup_timings (
    hour_ms  INTEGER NOT NULL,
    probe_id INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (hour_ms, probe_id)
) WITHOUT ROWID;

ALTER TABLE rollup_runs RENAME TO rollup_runs_v7;
CREATE TABLE rollup_runs (
    hour_ms         INTEGER NOT NULL,
    probe_id        INTEGER NOT NULL,
    maintenance     INTEGER NOT NULL,
    procedure_id    INTEGER NOT NULL,
    site_id         INTEGER NOT NULL,
    runs            INTEGER NOT NULL,
    up              INTEGER NOT NULL,
    degraded        INTEGER NOT NULL,
    no_capacity     INTEGER NOT NULL,
    broken          INTEGER NOT NULL,
    down            INTEGER NOT NULL,
    unobserved      INTEGER NOT NULL,
    captcha         INTEGER NOT NULL,
    duration_sum_ms INTEGER NOT NULL,
    duration_min_ms INTEGER NOT NULL,
    duration_max_ms INTEGER NOT NULL,
    duration_p50_ms INTEGER NOT NULL,
    duration_p95_ms INTEGER NOT NULL,
    -- NULL for hours rolled up before V6.
    observed_ms     INTEGER,
    PRIMARY KEY (hour_ms, probe_id, maintenance)
) WITHOUT ROWID;
INSERT OR IGNORE INTO probes (name) SELECT DISTINCT probe FROM rollup_runs_v7;
INSERT OR IGNORE INTO texts (text) SELECT procedure FROM rollup_runs_v7 UNION SELECT site FROM rollup_runs_v7;
INSERT INTO rollup_runs
SELECT r.hour_ms, p.id, r.maintenance, tp.id, ts.id, r.runs, r.up, r.degraded, r.no_capacity, r.broken, r.down,
       r.unobserved, r.captcha, CAST(round(r.duration_sum_s * 1000) AS INTEGER), CAST(round(r.duration_min_s * 1000) AS INTEGER),
       CAST(round(r.duration_max_s * 1000) AS INTEGER), CAST(round(r.duration_p50_s * 1000) AS INTEGER),
       CAST(round(r.duration_p95_s * 1000) AS INTEGER), CAST(round(r.observed_s * 1000) AS INTEGER)
FROM rollup_runs_v7 r
JOIN probes p ON p.name = r.probe
JOIN texts tp ON tp.text = r.procedure
JOIN texts ts ON ts.text = r.site;
DROP TABLE rollup_runs_v7;
"#;

/// The old tables' read-only stand-ins, created once V7's conversion has
/// dropped them.
pub(super) const V7_VIEWS: &str = r#"
CREATE VIEW runs AS
SELECT r.id, p.name AS probe, l.procedure, l.site, l.target, l.location,
       r.started_at_ms - r.sched_ms AS scheduled_at_ms, r.started_at_ms,
       r.duration_ms / 1000.0 AS duration_s, r.wait_ms / 1000.0 AS politeness_wait_s,
       o.text AS outcome, re.text AS reason, fs.text AS failed_step, r.message,
       cs.text AS captcha_step, r.last_http_status, m.text AS maintenance,
       r.version_id, r.interval_ms / 1000.0 AS interval_s
FROM run_log r
JOIN probes p ON p.id = r.probe_id
JOIN labels l ON l.id = r.labels_id
JOIN texts o ON o.id = r.outcome_id
LEFT JOIN texts re ON re.id = r.reason_id
LEFT JOIN texts fs ON fs.id = r.failed_step_id
LEFT JOIN texts cs ON cs.id = r.captcha_step_id
LEFT JOIN texts m ON m.id = r.maintenance_id;
CREATE VIEW observations AS
SELECT v.run_id, v.step_idx, t.text AS name, v.value
FROM run_values v JOIN texts t ON t.id = v.name_id;
"#;

/// Bring the database to [`CURRENT_VERSION`]; refuse a newer one.
pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    migrate_to(conn, CURRENT_VERSION)?;
    Ok(found)
}

/// Apply the migrations from the database's version up to `target` (tests
/// build a database of an earlier version with it).
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, (sql, convert)) in MIGRATIONS.iter().enumerate().take(target as usize).skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if let Some(f) = convert {
            f(&tx)?;
        }
        // PRAGMA takes no parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        if i == 0 {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('database_id', ?1)",
                [uuid::Uuid::new_v4().to_string()],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}
