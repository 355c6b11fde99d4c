//! Shared helpers for integration tests: a simulator on ephemeral loopback
//! ports, configurations written to a temporary folder, a runner; a real
//! Prometheus (`prometheus`) and a tiny HTTPS server (`tls`).

#![allow(dead_code)]

pub mod alerts;
pub mod ci_tools;
pub mod echo;
pub mod history;
pub mod leaky;
pub mod prometheus;
pub mod smtp;
pub mod smtp_tls;
pub mod spa;
pub mod tls;
pub mod tsa;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigie::config::{self, Config, DiskFiles, LoadOptions};
use vigie::probe::{Politeness, RunResult};
use vigie::runner::{Budgets, HttpEnv, Runner};
use vigie::sim::{self, SimConfig, SimHandle, StatePatch};

pub async fn start_sim() -> SimHandle {
    sim::start(SimConfig::loopback_ephemeral()).await.expect("start simulator")
}

pub fn patch(sim: &SimHandle, json: &str) {
    let p = StatePatch::from_json(json).expect("valid patch");
    sim.apply(&p).expect("apply patch");
}

/// A temporary folder holding `vigie.yaml` and `probes/*.yaml`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("vigie.yaml")
    }

    /// Write the daemon config with the three simulator targets (fast politeness).
    pub fn write_config(&self, sim: &SimHandle, extra: &str) -> PathBuf {
        self.write_config_with(sim, "20ms", 4, extra)
    }

    pub fn write_config_with(&self, sim: &SimHandle, min_interval: &str, max_concurrent: u32, extra: &str) -> PathBuf {
        std::fs::create_dir_all(self.dir.path().join("probes")).expect("mkdir");
        let text = format!(
            "location: test\ncontact: vigie-tests@example.org\nlisten: 127.0.0.1:0\nprobes: [\"probes/*.yaml\"]\n\
             targets:\n\
             \x20 anef-sim: {{ base_url: \"{}\", min_interval: {min_interval}, max_concurrent: {max_concurrent} }}\n\
             \x20 prefecture-sim: {{ base_url: \"{}\", min_interval: {min_interval}, max_concurrent: {max_concurrent}, vars: {{ form_id: \"4242\" }} }}\n\
             \x20 rdv-sim: {{ base_url: \"{}\", min_interval: {min_interval}, max_concurrent: {max_concurrent}, vars: {{ demarche_id: \"1234\" }} }}\n\
             {extra}",
            sim.portal_url(),
            sim.prefecture_url(),
            sim.rdv_url()
        );
        let p = self.config_path();
        std::fs::write(&p, text).expect("write config");
        p
    }

    pub fn write_probe(&self, name: &str, yaml: &str) {
        std::fs::create_dir_all(self.dir.path().join("probes")).expect("mkdir");
        std::fs::write(self.dir.path().join("probes").join(format!("{name}.yaml")), yaml).expect("write probe");
    }

    pub fn write_file(&self, rel: &str, bytes: &[u8]) {
        let p = self.dir.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(p, bytes).expect("write file");
    }

    pub fn load(&self) -> Config {
        load_with_env(&self.config_path(), HashMap::new())
    }
}

pub fn load_with_env(path: &Path, env: HashMap<String, String>) -> Config {
    match config::load(
        path,
        &DiskFiles,
        &LoadOptions {
            env: Some(env),
            ..LoadOptions::default()
        },
    ) {
        Ok(c) => c,
        Err(e) => panic!("configuration should load:\n{}", e.0),
    }
}

/// The repository's shipped demo configuration, pointed at `sim`.
pub fn shipped_demo_config(sim: &SimHandle) -> Config {
    let mut overrides = HashMap::new();
    overrides.insert("anef-sim".to_string(), sim.portal_url());
    overrides.insert("prefecture-sim".to_string(), sim.prefecture_url());
    overrides.insert("rdv-sim".to_string(), sim.rdv_url());
    let mut env = HashMap::new();
    env.insert("VIGIE_SIM_PASSWORD".to_string(), sim::TEST_PASSWORD.to_string());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.yaml");
    match config::load(
        &path,
        &DiskFiles,
        &LoadOptions {
            base_url_overrides: overrides,
            env: Some(env),
            ..LoadOptions::default()
        },
    ) {
        Ok(c) => c,
        Err(e) => panic!("the demo configuration should load:\n{}", e.0),
    }
}

pub fn runner_for(cfg: &Config) -> Runner {
    let budgets = Arc::new(Budgets::new(Politeness {
        min_interval: std::time::Duration::ZERO,
        max_concurrent: 8,
    }));
    budgets.configure(
        cfg.default_politeness,
        cfg.targets.iter().map(|t| (t.host_key.clone(), t.politeness)),
    );
    let browser = vigie::runner::browser_env::BrowserEnv::new(cfg.browser.clone(), cfg.location.clone());
    Runner::new(HttpEnv::new(cfg.user_agent()).expect("http env"), budgets).with_browser(browser)
}

pub async fn run(cfg: &Config, probe: &str) -> RunResult {
    let runner = runner_for(cfg);
    let p = cfg.probe(probe).unwrap_or_else(|| panic!("no probe {probe}"));
    runner.run(p, None).await
}

/// A short description of a run for assertion messages.
pub fn describe(r: &RunResult) -> String {
    format!(
        "{} reason={:?} step={:?} message={:?} steps={:?}",
        r.outcome,
        r.reason,
        r.failed_step,
        r.message,
        r.steps
            .iter()
            .map(|s| (s.name.as_str(), s.status, s.http_status))
            .collect::<Vec<_>>()
    )
}
