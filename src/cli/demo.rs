//! `vigie demo`: the simulator, a scenario of failures, and the daemon
//! probing it, with everything a new user needs printed on the terminal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::embedded;
use crate::config::{DiskFiles, Files, LoadOptions};
use crate::daemon::{self, ConfigSource, Daemon, ResultSink, SinkFactory};
use crate::probe::{Outcome, Probe, RunResult};
use crate::sim::{self, scenario::Scenario, SimConfig};

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub config: Option<PathBuf>,
    pub sim_base_port: u16,
    pub quiet: bool,
}

/// Prints one line per finished run: the demo's live view.
struct RunPrinter;

impl ResultSink for RunPrinter {
    fn on_result(&self, probe: &Arc<Probe>, r: &RunResult) {
        let t = r.started_at.with_timezone(&chrono_tz::Europe::Paris).format("%H:%M:%S");
        let mark = match r.outcome {
            Outcome::Up => "✓",
            Outcome::Degraded => "~",
            Outcome::NoCapacity => "∅",
            Outcome::Broken => "✗",
            Outcome::Down => "✗",
            Outcome::Unobserved => "?",
        };
        let detail = match (r.reason, &r.failed_step) {
            (Some(reason), Some(step)) => format!("{} (étape {step}, {reason})", reason.label_fr()),
            (Some(reason), None) => reason.label_fr().to_string(),
            _ if r.captcha_step.is_some() => "arrêt au CAPTCHA (jamais résolu)".to_string(),
            _ => String::new(),
        };
        let obs: Vec<String> = r
            .observations()
            .filter(|(n, _)| *n == "appointment_slots")
            .map(|(_, v)| format!("créneaux={v}"))
            .collect();
        println!(
            "{t}  {mark} {:<26} {:<12} {:>6} ms  {detail} {}",
            probe.name,
            r.outcome.as_str(),
            r.duration.as_millis(),
            obs.join(" ")
        );
    }
}

async fn start_sim(base: u16) -> anyhow::Result<(sim::SimHandle, bool)> {
    let at = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    if base != 0 {
        match sim::start(SimConfig {
            portal: at(base),
            prefecture: at(base + 1),
            rdv: at(base + 2),
        })
        .await
        {
            Ok(h) => return Ok((h, false)),
            Err(e) => eprintln!(
                "note: ports {base}-{} are not free ({e}); the simulator takes free ports instead",
                base + 2
            ),
        }
    }
    Ok((sim::start(SimConfig::loopback_ephemeral()).await?, base != 0))
}

pub async fn demo(opts: DemoOptions) -> anyhow::Result<ExitCode> {
    let (handle, _moved) = start_sim(opts.sim_base_port).await?;
    let mut overrides = HashMap::new();
    overrides.insert("anef-sim".to_string(), handle.portal_url());
    overrides.insert("prefecture-sim".to_string(), handle.prefecture_url());
    overrides.insert("rdv-sim".to_string(), handle.rdv_url());
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.entry("VIGIE_SIM_PASSWORD".to_string())
        .or_insert_with(|| sim::TEST_PASSWORD.to_string());
    let no_chromium = crate::browser::find_chromium(None).is_none();
    if no_chromium {
        println!(
            "note: Chromium n'est pas installé : les sondes navigateur de la démonstration sont désactivées, tout le reste fonctionne.\n      Pour les voir (captures d'écran datées comprises) : sudo {}\n",
            crate::browser::INSTALL_HINT
        );
    }
    let options = LoadOptions {
        base_url_overrides: overrides,
        env: Some(env),
        disable_browser_probes: no_chromium,
        ..LoadOptions::default()
    };
    let (path, files): (PathBuf, Arc<dyn Files>) = match &opts.config {
        Some(p) => (p.clone(), Arc::new(DiskFiles)),
        None => (PathBuf::from(embedded::DEMO_CONFIG), Arc::new(embedded::FILES)),
    };
    let source = ConfigSource { path, files, options };
    let quiet = opts.quiet;
    let sinks: SinkFactory = Box::new(move |cfg, metrics| {
        let mut v: Vec<Arc<dyn ResultSink>> = Vec::new();
        if !quiet {
            v.push(Arc::new(RunPrinter));
        }
        // History and alerts, as in `vigie run`.
        v.extend(crate::alert::sinks()(cfg, metrics)?);
        Ok(v)
    });
    let daemon = match Daemon::start(source, Some(opts.listen), sinks).await {
        Ok(d) => d,
        Err(e) => {
            if let Some(ce) = e.downcast_ref::<crate::diag::ConfigErrors>() {
                super::print_config_errors(ce);
                return Ok(ExitCode::from(super::EXIT_CONFIG));
            }
            handle.shutdown().await;
            return Err(e);
        }
    };
    let scenario = Scenario::demo();
    let cfg = daemon.daemon.config();
    println!("vigie demo — the monitoring daemon against a local imitation of the ANEF portal and a prefecture booking module");
    println!("  status page (FR):  http://{}/", daemon.listen);
    println!(
        "  observatory:       http://{}/observatoire/ (the public page, refreshed every minute; ?lang=en)",
        daemon.listen
    );
    println!("  metrics:           http://{}/metrics", daemon.listen);
    println!(
        "  simulator:         {}/particuliers/ · {}/booking/create/4242/0 · {}/rdvpref/reservation/demarche/1234/cgu/",
        handle.portal_url(),
        handle.prefecture_url(),
        handle.rdv_url()
    );
    let (browser, http): (Vec<_>, Vec<_>) = cfg.probes.iter().partition(|p| p.is_browser());
    let names = |ps: &[&std::sync::Arc<crate::probe::Probe>]| ps.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
    println!(
        "  probes:            {} over HTTP, every 10 s ({}); {} in Chromium, every 20 s to every minute ({})",
        http.len(),
        names(&http),
        browser.len(),
        names(&browser)
    );
    println!(
        "  scenario:          a {} s cycle of slow pages, « erreur technique », rejected uploads, an outage and rare slots",
        scenario.cycle().as_secs()
    );
    println!("  history:           {}", cfg.store.path.display());
    println!("  e-mails:           {}", crate::alert::describe_for_people(&cfg.alerting.delivery));
    println!("  outbox:            vigie outbox --db {} --all", cfg.store.path.display());
    println!("  evidence:          pages of failing and no-slot runs, chained by SHA-256 in the same database");
    println!("  afterwards:        vigie report (a French HTML report) · vigie evidence export · vigie evidence verify FILE.zip · vigie publish --output site");
    println!("  Ctrl-C to stop.\n");
    let player = tokio::spawn(sim::scenario::play(handle.clone(), scenario, move |e| {
        let t = Utc::now().with_timezone(&chrono_tz::Europe::Paris).format("%H:%M:%S");
        println!("{t}  ── scénario +{}s : {}", e.at.as_secs(), e.note.as_deref().unwrap_or(""));
    }));
    let d = daemon.daemon.clone();
    daemon::wait_for_signals(move || {
        let _ = d.reload();
    })
    .await;
    player.abort();
    daemon.shutdown(Duration::from_secs(5)).await;
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
