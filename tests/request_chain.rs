//! The requests a step really sent, against the simulator: the prefecture's
//! forms answer a POST with 302 and the browser (and vigie) follows with a
//! GET. The run records both hops; the alert e-mail and the evidence
//! bundle name the chain, never a « POST » to the page that was fetched
//! with GET.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use rusqlite::OptionalExtension;
use support::history;
use support::smtp::Received;
use support::{patch, start_sim, Workspace};
use vigie::evidence::bundle::{self, ExportRequest, Selection};
use vigie::probe::{Hop, Outcome};
use vigie::store::Store;

const PROBE: &str = include_str!("../probes/sim/sim-prefecture-rdv.yaml");

fn hops(chain: &[Hop]) -> Vec<(String, String, Option<u16>)> {
    chain.iter().map(|h| (h.method.clone(), h.url.clone(), h.status)).collect()
}

fn read_zip(path: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        let mut b = Vec::new();
        f.read_to_end(&mut b).expect("read");
        out.insert(f.name().expect("name").to_string(), b);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_answered_by_a_redirect_is_recorded_and_shown_as_both_requests() {
    let sim = start_sim().await;
    patch(&sim, r#"{"routes":{"slots":{"mode":"server_error"}}}"#);
    let ws = Workspace::new();
    ws.write_probe("sim-prefecture-rdv", PROBE);
    ws.write_config(
        &sim,
        "store: { path: var/vigie.db }\nalerts: { to: [equipe@asso.example], group_window: 0s, failure_threshold: 1, spool_dir: var/spool }\n",
    );
    let config = ws.load();
    let probe = config.probe("sim-prefecture-rdv").expect("probe").clone();
    let run = support::run(&config, "sim-prefecture-rdv").await;
    assert_eq!(run.outcome, Outcome::Down, "{}", support::describe(&run));
    assert_eq!(run.failed_step.as_deref(), Some("creneaux"));

    let base = format!("{}/booking/create/4242", sim.prefecture_url());
    let step = |name: &str| {
        run.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    };
    assert_eq!(
        hops(&step("accepter").chain),
        vec![
            ("POST".into(), format!("{base}/0"), Some(302)),
            ("GET".into(), format!("{base}/1"), Some(200)),
        ]
    );
    assert_eq!(
        hops(&step("creneaux").chain),
        vec![
            ("POST".into(), format!("{base}/1"), Some(302)),
            ("GET".into(), format!("{base}/3"), Some(500)),
        ]
    );
    assert!(step("conditions").chain.is_empty(), "a single request keeps no chain");

    // Through the daemon's history sink: store, evidence, alert e-mail.
    history::write(&config, vec![(Arc::clone(&probe), run.clone())]).await;
    let store = Store::open_existing(&config.store.path).expect("store");
    let steps = vigie::store::runs::steps(store.conn(), 1).expect("steps");
    assert_eq!(steps[2].chain, step("creneaux").chain, "the store keeps the chain");
    let stored: Option<String> = store
        .conn()
        .query_row("SELECT chain FROM step_details WHERE run_id = 1 AND idx = 0", [], |r| r.get(0))
        .optional()
        .expect("row")
        .flatten();
    assert_eq!(stored, None, "nothing stored for a single request");

    let raw: Vec<u8> = store
        .conn()
        .query_row("SELECT raw FROM outbox ORDER BY id LIMIT 1", [], |r| r.get(0))
        .expect("an outage e-mail in the outbox");
    let mail = Received {
        file: Default::default(),
        rcpt: vec![],
        headers: vec![],
        raw: String::from_utf8_lossy(&raw).replace("\r\n", "\n"),
    };
    let text = mail.text();
    let expected = format!("POST {base}/1 → 302 → GET {base}/3 → 500");
    assert!(text.contains(&expected), "the e-mail lacks {expected:?}:\n{text}");
    assert!(
        !text.contains(&format!("POST {base}/3")),
        "the e-mail names a request never sent:\n{text}"
    );

    let out = ws.path().join("preuves.zip");
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let req = ExportRequest {
        from: run.started_at - chrono::Duration::hours(1),
        to: run.started_at + chrono::Duration::hours(1),
        selection: Selection {
            from: today,
            to: today,
            timezone: "Europe/Paris".into(),
            probes: vec![],
            language: "fr".into(),
        },
        tsa_ca: None,
        context: None,
    };
    bundle::export(store.conn(), &req, &out, chrono::Utc::now()).expect("export");
    let files = read_zip(&out);
    let day = files
        .iter()
        .find(|(name, _)| name.starts_with("days/"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("a day page");
    let shown = format!("Requêtes envoyées</dt><dd><code>POST {base}/1 → 302 → GET {base}/3 → 500</code>");
    assert!(day.contains(&shown), "the capture page lacks the chain:\n{day}");
    let chain = String::from_utf8_lossy(&files["chain.jsonl"]).into_owned();
    assert!(
        chain.contains(r#""chain":[{"method":"POST""#),
        "the record keeps the chain: {chain}"
    );
    // The address the page came from, as the connection reported it.
    let host = sim.prefecture_url().trim_start_matches("http://").to_string();
    assert!(
        chain.contains(&format!(r#""remote_addr":"{host}""#)),
        "the record keeps the address connected to ({host}): {chain}"
    );
    let shown = format!("Adresse contactée</dt><dd><code>{host}</code>");
    assert!(day.contains(&shown), "the capture page lacks the address:\n{day}");
    let warc = ws.path().join("preuves.warc.gz");
    vigie::evidence::warc_export::export(store.conn(), &req, &warc, chrono::Utc::now(), &[]).expect("WARC export");
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&warc).expect("open")),
        &mut plain,
    )
    .expect("gunzip");
    let ip = host.split(':').next().unwrap_or_default();
    assert!(
        plain.contains(&format!("WARC-IP-Address: {ip}\r\n")),
        "the WARC response record names the address"
    );

    // `vigie once` traces the same chain.
    let cfg = ws.config_path();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["once", "sim-prefecture-rdv", "--config"])
            .arg(&cfg)
            .output()
            .expect("run vigie once")
    })
    .await
    .expect("join");
    let trace = String::from_utf8_lossy(&out.stdout);
    let expected = format!("POST {base}/1 → 302 → GET {base}/3 → 500");
    assert!(trace.contains(&expected), "the trace lacks {expected:?}:\n{trace}");
    sim.shutdown().await;
}
