//! `vigie new <URL>`: a probe file from the address seen in the browser,
//! checked with the configuration it joins (or a minimal one) before it is
//! written; with `--config`, the target it needs is added to the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, LoadOptions};
use crate::deploy::new_probe::{self, NewProbe};
use crate::deploy::overlay::Overlay;
use crate::deploy::write::{self, Planned};

use super::Lang;

/// What `vigie new` was given.
pub struct Options {
    pub url: String,
    pub config: Option<PathBuf>,
    pub dir: Option<PathBuf>,
    pub planning: Option<String>,
    pub force: bool,
    pub lang: Lang,
}

fn probe_path(o: &Options, name: &str) -> PathBuf {
    let dir = match (&o.dir, &o.config) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => c.parent().unwrap_or(Path::new(".")).join("probes"),
        (None, None) => PathBuf::from("."),
    };
    dir.join(format!("{name}.yaml"))
}

/// The configuration text with the target added, if it lacked it.
fn config_change(config: &Path, p: &NewProbe) -> anyhow::Result<Option<String>> {
    let text = std::fs::read_to_string(config).map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;
    Ok(new_probe::add_target(&text, &p.target, &p.target_entry)?)
}

/// A configuration of one target and this probe, to check it alone.
fn minimal_config(p: &NewProbe, file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(
        "location: verification\ncontact: \"vigie-new@example.org\"\nprobes: [\"{name}\"]\ntargets:\n{}",
        p.target_entry
    )
}

/// Load what the configuration would be; `Ok(false)` when the probe file is
/// not among those its `probes:` patterns match.
fn check(o: &Options, p: &NewProbe, file: &Path, change: &Option<String>) -> Result<bool, crate::diag::ConfigErrors> {
    let opts = LoadOptions {
        secrets_optional: true,
        ..LoadOptions::default()
    };
    let (main, files) = match &o.config {
        Some(c) => {
            let mut files = Overlay::over_disk();
            if let Some(text) = change {
                files.insert(c, text.clone().into_bytes());
            }
            (c.clone(), files)
        }
        None => {
            let mut files = Overlay::memory_only();
            let main = file.with_file_name("vigie-new-check.yaml");
            files.insert(&main, minimal_config(p, file).into_bytes());
            (main, files)
        }
    };
    let mut files = files;
    files.insert(file, p.yaml.clone().into_bytes());
    let cfg = config::load(&main, &files, &opts)?;
    Ok(cfg.probes.iter().any(|q| q.name == p.name))
}

pub fn new(o: Options) -> anyhow::Result<ExitCode> {
    let recognized = match new_probe::recognize(&o.url) {
        Ok(r) => r,
        Err(e) => {
            eprint!("vigie new: {}", e.with_known());
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        }
    };
    let p = new_probe::render(&recognized, o.url.trim(), o.planning.as_deref())?;
    let file = probe_path(&o, &p.name);
    let change = match &o.config {
        Some(c) => config_change(c, &p)?,
        None => None,
    };
    let covered = match check(&o, &p, &file, &change) {
        Ok(covered) => covered,
        Err(e) => {
            super::print_config_errors(&e);
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        }
    };
    let plan = [Planned {
        path: file.clone(),
        bytes: p.yaml.clone().into_bytes(),
        pristine: None,
    }];
    if !write::conflicts(&plan).is_empty() && !o.force {
        eprintln!(
            "{}",
            o.lang.pick(
                &format!("vigie new: {} existe déjà avec un autre contenu ; rien n'a été écrit (--force le remplace, l'ancien gardé en .avant-init)", file.display()),
                &format!("vigie new: {} exists with other content; nothing was written (--force replaces it, keeping the old one as .avant-init)", file.display())
            )
        );
        return Ok(ExitCode::from(super::EXIT_CONFIG));
    }
    write::write_all(&plan)?;
    report(&o, &p, &file, &change, covered)?;
    Ok(ExitCode::SUCCESS)
}

fn report(o: &Options, p: &NewProbe, file: &Path, change: &Option<String>, covered: bool) -> anyhow::Result<()> {
    let l = o.lang;
    println!(
        "{}",
        l.pick(
            &format!("sonde écrite : {} (nom {})", file.display(), p.name),
            &format!("probe written: {} (name {})", file.display(), p.name)
        )
    );
    match (&o.config, change) {
        (Some(c), Some(text)) => {
            write::write_atomically(c, text.as_bytes())?;
            println!(
                "{}",
                l.pick(
                    &format!("cible « {} » ajoutée à {} :", p.target, c.display()),
                    &format!("target `{}` added to {}:", p.target, c.display())
                )
            );
            print!("{}", p.target_entry);
        }
        (Some(c), None) => println!(
            "{}",
            l.pick(
                &format!("cible « {} » : déjà dans {}", p.target, c.display()),
                &format!("target `{}`: already in {}", p.target, c.display())
            )
        ),
        (None, _) => {
            println!(
                "{}",
                l.pick(
                    "à ajouter sous `targets:` dans vigie.yaml (si elle n'y est pas) :",
                    "add under `targets:` in vigie.yaml (unless it is there):"
                )
            );
            print!("{}", p.target_entry);
        }
    }
    if o.config.is_some() && !covered {
        println!(
            "{}",
            l.pick(
                &format!(
                    "attention : {} n'est couvert par aucun motif de `probes:` ; ajoutez son dossier",
                    file.display()
                ),
                &format!("warning: no `probes:` pattern matches {}; add its folder", file.display())
            )
        );
    }
    for t in &p.todo {
        println!("{} {t}", l.pick("à faire :", "to do:"));
    }
    let cfg = o
        .config
        .as_ref()
        .map(|c| c.display().to_string())
        .unwrap_or_else(|| "vigie.yaml".into());
    println!(
        "{}",
        l.pick(
            &format!(
                "ensuite : ajuster le titre, puis  vigie check --config {cfg}  et  vigie once {} --config {cfg}",
                p.name
            ),
            &format!(
                "then: adjust the title, then  vigie check --config {cfg}  and  vigie once {} --config {cfg}",
                p.name
            ),
        )
    );
    Ok(())
}
