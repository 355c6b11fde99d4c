//! `vigie once`: run one probe now and print what happened, step by step.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::{self, DiskFiles, LoadOptions};
use crate::probe::Outcome;
use crate::runner::{Budgets, HttpEnv, Runner};

pub async fn once(name: &str, path: &Path, json: bool) -> anyhow::Result<ExitCode> {
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
    let runner = Runner::new(HttpEnv::new(cfg.user_agent())?, budgets);
    if !json {
        println!("{}", super::trace::header(&probe));
    }
    let result = runner.run(&probe, None).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", super::trace::render(&result));
    }
    Ok(if result.outcome == Outcome::Up {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
