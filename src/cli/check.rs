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
        if p.is_browser() {
            println!("    kind:      browser (headless Chromium, a fresh profile per run)");
        }
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
    print_browser(&cfg);
    super::check_alerts::print(&cfg);
    Ok(ExitCode::SUCCESS)
}

/// Where Chromium is, or — when browser probes are configured and there is
/// none — a warning naming each probe file and how to install it. Not an
/// error: such runs are recorded as not observed, never as the portal down.
fn print_browser(cfg: &config::Config) {
    let browser: Vec<_> = cfg.probes.iter().filter(|p| p.is_browser() && p.enabled).collect();
    if browser.is_empty() {
        return;
    }
    match crate::browser::find_chromium(cfg.browser.executable.as_deref()) {
        Some(exe) => println!(
            "browser: {} ({} probe(s); at most {} at once, {} MiB each)\n",
            exe.display(),
            browser.len(),
            cfg.browser.max_concurrent,
            cfg.browser.max_memory / (1024 * 1024)
        ),
        None => {
            for p in &browser {
                // Point at the `kind: browser` line of the probe file.
                let line = std::fs::read_to_string(&p.file)
                    .ok()
                    .and_then(|t| t.lines().position(|l| l.trim_start().starts_with("kind:")))
                    .map_or(1, |i| i + 1);
                eprintln!(
                    "{}:{line}:1: warning: `{}` is a browser probe and no Chromium was found ({}): install it with `sudo {}`, or set browser.executable in {}; until then its runs are recorded as not observed (never as the portal down)",
                    p.file.display(),
                    p.name,
                    cfg.browser
                        .executable
                        .as_ref()
                        .map(|e| e.display().to_string())
                        .unwrap_or_else(|| crate::browser::CANDIDATES.join(", ")),
                    crate::browser::INSTALL_HINT,
                    cfg.file.display()
                );
            }
        }
    }
}
