//! `vigie init`: a working configuration for a new instance, from flags or
//! answers, checked before it is written, never replacing an edited file
//! without `--force` (which keeps the old one beside), then `vigie check`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::LoadOptions;
use crate::deploy::init::{self, Settings};
use crate::deploy::write::{self, Action};

use super::Lang;

/// What `vigie init` was given.
pub struct Options {
    pub dir: Option<PathBuf>,
    pub location: Option<String>,
    pub contact: Option<String>,
    pub alert_to: Vec<String>,
    pub store: Option<String>,
    pub force: bool,
    pub non_interactive: bool,
    pub lang: Lang,
    /// Write the package's copy and stop (packaging/build-deb.sh).
    pub template: bool,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Ask on standard error, read one line; `None` at end of input.
fn ask(question: &str, input: &mut dyn BufRead) -> Option<String> {
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()).filter(|s| !s.is_empty()),
    }
}

/// The settings, from flags first, then questions (unless non-interactive).
fn settings(o: &Options, dir: &Path) -> Result<Settings, String> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut missing = Vec::new();
    let mut get = |value: &Option<String>, flag: &str, fr: &str, en: &str| -> String {
        if let Some(v) = value {
            return v.clone();
        }
        let answer = if o.non_interactive {
            None
        } else {
            ask(&o.lang.pick(fr, en), &mut input)
        };
        answer.unwrap_or_else(|| {
            missing.push(flag.to_string());
            String::new()
        })
    };
    let location = get(
        &o.location,
        "--location",
        "Point d'observation (location, ex. paris-bureau) :",
        "Vantage point (location, e.g. paris-bureau):",
    );
    let contact = get(
        &o.contact,
        "--contact",
        "Adresse de contact mise dans le User-Agent (e-mail ou URL) :",
        "Contact put in the User-Agent (e-mail or URL):",
    );
    let to = if o.alert_to.is_empty() {
        let one = get(
            &None,
            "--alert-to",
            "Destinataire des e-mails d'alerte :",
            "Where alert e-mails go:",
        );
        vec![one]
    } else {
        o.alert_to.clone()
    };
    if !missing.is_empty() {
        return Err(o.lang.pick(
            &format!("il manque {} (à donner en option, ou en réponse aux questions)", missing.join(", ")),
            &format!("missing {} (give them as flags, or answer the questions)", missing.join(", ")),
        ));
    }
    Ok(Settings {
        location,
        contact,
        alert_to: to,
        store: o.store.clone().unwrap_or_else(|| init::default_store(dir)),
    })
}

pub fn init(o: Options) -> anyhow::Result<ExitCode> {
    let dir = o
        .dir
        .clone()
        .unwrap_or_else(|| init::default_dir(is_root(), Path::new("/usr/share/vigie").is_dir()));
    if o.template {
        write::write_all(&init::plan(&dir, &Settings::package())?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = match settings(&o, &dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vigie init: {e}");
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        }
    };
    let plan = init::plan(&dir, &s)?;
    if let Err(e) = init::check(
        &plan,
        &LoadOptions {
            secrets_optional: true,
            ..LoadOptions::default()
        },
    ) {
        super::print_config_errors(&e);
        eprintln!("{}", o.lang.pick("Rien n'a été écrit.", "Nothing was written."));
        return Ok(ExitCode::from(super::EXIT_CONFIG));
    }
    let conflicts = write::conflicts(&plan);
    if !conflicts.is_empty() && !o.force {
        for c in &conflicts {
            eprintln!(
                "{}",
                o.lang.pick(
                    &format!("{} existe déjà et a été modifié", c.display()),
                    &format!("{} exists and was edited", c.display())
                )
            );
        }
        eprintln!(
            "{}",
            o.lang.pick(
                "Rien n'a été écrit. Relancez avec --force pour remplacer ces fichiers (l'ancien est gardé à côté, en .avant-init), ou choisissez un autre dossier (--dir).",
                "Nothing was written. Run again with --force to replace these files (the old one is kept beside, as .avant-init), or choose another folder (--dir)."
            )
        );
        return Ok(ExitCode::from(super::EXIT_CONFIG));
    }
    let done = write::write_all(&plan)?;
    print_actions(&done, o.lang);
    let config = dir.join("vigie.yaml");
    println!();
    let code = super::check::check(&config, 1)?;
    print_next_steps(&config, o.lang);
    Ok(code)
}

fn print_actions(done: &[(PathBuf, Action)], lang: Lang) {
    for (path, action) in done {
        let p = path.display();
        let line = match action {
            Action::Created => lang.pick(&format!("créé       {p}"), &format!("created    {p}")),
            Action::Unchanged => lang.pick(&format!("inchangé   {p}"), &format!("unchanged  {p}")),
            Action::ReplacedPristine => lang.pick(
                &format!("remplacé   {p} (copie d'origine du paquet, jamais modifiée)"),
                &format!("replaced   {p} (the package's copy, never edited)"),
            ),
            Action::Replaced { backup } => lang.pick(
                &format!("remplacé   {p} (l'ancien est gardé dans {})", backup.display()),
                &format!("replaced   {p} (the old one is kept as {})", backup.display()),
            ),
        };
        println!("{line}");
    }
}

fn print_next_steps(config: &Path, lang: Lang) {
    let c = config.display();
    let packaged = config.starts_with(init::PACKAGE_DIR);
    let start = if packaged {
        "systemctl enable --now vigie && systemctl status vigie".to_string()
    } else {
        format!("vigie run --config {c}")
    };
    println!(
        "{}",
        lang.pick(
            &format!(
                "Prochaines étapes :\n  1. relire {c} (cibles, e-mails : la section smtp, sinon les e-mails sont écrits en fichiers .eml)\n  2. ajouter la sonde de votre préfecture depuis l'adresse vue dans le navigateur :\n       vigie new 'https://www.<département>.gouv.fr/booking/create/<id>/0' --config {c}\n  3. essayer une sonde maintenant : vigie once anef-accueil --config {c}\n  4. démarrer : {start}\n  Déploiement, sauvegarde, mise à jour : docs/deploy.md (paquet : /usr/share/doc/vigie/deploy.md)"
            ),
            &format!(
                "Next steps:\n  1. read {c} (targets, e-mails: the smtp section, else e-mails are written as .eml files)\n  2. add your prefecture's probe from the address seen in the browser:\n       vigie new 'https://www.<département>.gouv.fr/booking/create/<id>/0' --config {c}\n  3. try a probe now: vigie once anef-accueil --config {c}\n  4. start: {start}\n  Deployment, backups, upgrades: docs/deploy.md (package: /usr/share/doc/vigie/deploy.md)"
            )
        )
    );
    if crate::browser::find_chromium(None).is_none() {
        println!(
            "{}",
            lang.pick(
                &format!(
                    "  Les sondes navigateur (kind: browser) ont besoin de Chromium, absent ici : sudo {}",
                    crate::browser::INSTALL_HINT
                ),
                &format!(
                    "  Browser probes (kind: browser) need Chromium, missing here: sudo {}",
                    crate::browser::INSTALL_HINT
                )
            )
        );
    }
}
