//! `vigie once`: run one probe now and print what happened, step by step.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::{self, DiskFiles, LoadOptions};
use crate::probe::Outcome;
use crate::runner::{Budgets, HttpEnv, Runner};

pub async fn once(name: &str, path: &Path, json: bool, lang: super::Lang) -> anyhow::Result<ExitCode> {
    let cfg = match config::load(path, &DiskFiles, &LoadOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            super::print_config_errors(&e);
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        }
    };
    let Some(probe) = cfg.probe(name).cloned() else {
        let names: Vec<&str> = cfg.probes.iter().map(|p| p.name.as_str()).collect();
        eprintln!("error: no probe named `{name}` in {}; probes: {}", path.display(), names.join(", "));
        return Ok(ExitCode::from(super::EXIT_CONFIG));
    };
    let budgets = Arc::new(Budgets::new(cfg.default_politeness));
    budgets.configure(
        cfg.default_politeness,
        cfg.targets.iter().map(|t| (t.host_key.clone(), t.politeness)),
    );
    let browser = crate::runner::browser_env::BrowserEnv::new(cfg.browser.clone(), cfg.location.clone());
    let runner = Runner::new(HttpEnv::new(cfg.user_agent())?, budgets).with_browser(browser);
    if !json {
        println!("{}", super::trace::header(&probe, lang));
    }
    let result = runner.run(&probe, None).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        let shots = save_screenshots(&result)?;
        // Page text, extracted values and URLs come from the network: no
        // escape sequence reaches the terminal.
        print!(
            "{}",
            crate::probe::text::escape_for_terminal(&super::trace::render_with(&result, &shots, lang))
        );
    }
    Ok(if result.outcome == Outcome::Up {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Write each step's screenshot next to where `vigie once` runs, so the
/// trace can point to it: `vigie-capture-<probe>-<step>-<time>.png`.
fn save_screenshots(r: &crate::probe::RunResult) -> anyhow::Result<std::collections::HashMap<String, std::path::PathBuf>> {
    let mut out = std::collections::HashMap::new();
    for s in &r.steps {
        if let Some(shot) = &s.screenshot {
            let name = format!(
                "vigie-capture-{}-{}-{}.png",
                r.probe,
                s.name,
                shot.taken_at.format("%Y%m%dT%H%M%SZ")
            );
            let path = std::env::current_dir()?.join(name);
            std::fs::write(&path, &shot.png).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            out.insert(s.name.clone(), path);
        }
    }
    Ok(out)
}
