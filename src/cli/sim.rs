//! `vigie sim`: the portal simulator on its own, optionally playing a scenario.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::sim::{self, scenario::Scenario, SimConfig};

pub async fn sim(
    portal: SocketAddr,
    prefecture: SocketAddr,
    rdv: SocketAddr,
    scenario: Option<PathBuf>,
    demo_scenario: bool,
) -> anyhow::Result<ExitCode> {
    let scenario = match (scenario, demo_scenario) {
        (Some(path), _) => {
            let src = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            match Scenario::from_yaml(&src, &path.display().to_string()) {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(super::EXIT_CONFIG));
                }
            }
        }
        (None, true) => Some(Scenario::demo()),
        (None, false) => None,
    };
    let handle = sim::start(SimConfig { portal, prefecture, rdv }).await.map_err(|e| {
        anyhow::anyhow!("cannot start the simulator: {e} (is something already listening there? pass --portal/--prefecture/--rdv)")
    })?;
    println!("vigie simulator — a local imitation of the ANEF portal and prefecture booking systems");
    println!("  ANEF portal and login:  {}/particuliers/", handle.portal_url());
    println!("  prefecture booking:     {}/booking/create/4242/0", handle.prefecture_url());
    println!(
        "  RDV-Préfecture:         {}/rdvpref/reservation/demarche/1234/cgu/",
        handle.rdv_url()
    );
    println!(
        "  admin API (loopback):   {}/__sim/state   (see docs/simulator.md)",
        handle.portal_url()
    );
    println!("  test account:           {} / {}", sim::TEST_USERNAME, sim::TEST_PASSWORD);
    let player = scenario.map(|s| {
        println!("  scenario:               {} s cycle, playing in a loop", s.cycle().as_secs());
        tokio::spawn(sim::scenario::play(handle.clone(), s, |e| {
            println!("scenario +{:>3}s: {}", e.at.as_secs(), e.note.as_deref().unwrap_or("(no note)"));
        }))
    });
    println!("Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    if let Some(p) = player {
        p.abort();
    }
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
