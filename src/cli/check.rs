//! `vigie check`: validate a configuration and show what it would run.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, DiskFiles, LoadOptions};

pub fn check(path: &Path, next: usize) -> anyhow::Result<ExitCode> {
    let cfg = match config::load(path, &DiskFiles, &LoadOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            super::print_config_errors(&e);
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        }
    };
    println!(
        "{}: OK — {} probe(s), {} target(s), location \"{}\", time zone {}",
        path.display(),
        cfg.probes.len(),
        cfg.targets.len(),
        cfg.location,
        cfg.timezone
    );
    println!("User-Agent: {}\n", cfg.user_agent());
    for t in &cfg.targets {
        println!(
            "target {:<20} {}  (at most 1 request every {} and {} at a time to {})",
            t.name,
            t.base_url,
            config::units::format_duration(t.politeness.min_interval),
            t.politeness.max_concurrent,
            t.host_key
        );
    }
    println!();
    for p in &cfg.probes {
        let (words, times) = crate::schedule::describe(p, next);
        println!("{}{}  — {}", p.name, if p.enabled { "" } else { " (disabled)" }, p.title);
        println!("    file:      {}", p.file.display());
        println!(
            "    target:    {}  labels: procedure={} site={}",
            p.target.name, p.labels.procedure, p.labels.site
        );
        println!("    schedule:  \"{}\" — {} ({})", p.schedule.source, words, p.schedule.timezone);
        let times: Vec<String> = times.iter().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).collect();
        println!("    next runs: {}", times.join(", "));
        let steps: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
        println!(
            "    steps:     {}  (timeout {}{})\n",
            steps.join(" → "),
            config::units::format_duration(p.timeout),
            p.degraded_after
                .map(|d| format!(", degraded after {}", config::units::format_duration(d)))
                .unwrap_or_default()
        );
    }
    super::check_alerts::print(&cfg);
    Ok(ExitCode::SUCCESS)
}
