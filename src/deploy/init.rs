//! `vigie init`: the annotated configuration (config/vigie.yaml) and the
//! live probes (probes/live/), compiled into the binary, rendered with the
//! operator's vantage point, contact and recipients into a folder:
//!
//! ```text
//! <dir>/vigie.yaml        the daemon configuration
//! <dir>/probes/*.yaml     the live probes
//! ```
//!
//! The Debian package ships the same rendering with placeholder values
//! ([`Settings::package`]) as its configuration files, so `vigie init` on a
//! packaged machine replaces them when the operator has not edited them.

use std::path::{Path, PathBuf};

use super::overlay::Overlay;
use super::write::Planned;
use super::DeployError;
use crate::config::{self, Config, LoadOptions};
use crate::diag::ConfigErrors;

/// The annotated configuration, as in the repository.
pub const CONFIG_TEMPLATE: &str = include_str!("../../config/vigie.yaml");

/// The live probes, as in the repository (a test checks the list).
pub const LIVE_PROBES: &[(&str, &str)] = &[
    ("anef-accueil.yaml", include_str!("../../probes/live/anef-accueil.yaml")),
    (
        "anef-creation-compte-navigateur.yaml",
        include_str!("../../probes/live/anef-creation-compte-navigateur.yaml"),
    ),
    (
        "anef-creation-compte.yaml",
        include_str!("../../probes/live/anef-creation-compte.yaml"),
    ),
    (
        "anef-depot-document-navigateur.yaml",
        include_str!("../../probes/live/anef-depot-document-navigateur.yaml"),
    ),
    (
        "anef-depot-document.yaml",
        include_str!("../../probes/live/anef-depot-document.yaml"),
    ),
    ("anef-navigateur.yaml", include_str!("../../probes/live/anef-navigateur.yaml")),
    (
        "prefecture-rdv-exemple.yaml",
        include_str!("../../probes/live/prefecture-rdv-exemple.yaml"),
    ),
    (
        "prefecture-rdv-navigateur.yaml",
        include_str!("../../probes/live/prefecture-rdv-navigateur.yaml"),
    ),
    (
        "rdv-prefecture-navigateur.yaml",
        include_str!("../../probes/live/rdv-prefecture-navigateur.yaml"),
    ),
    ("rdv-prefecture.yaml", include_str!("../../probes/live/rdv-prefecture.yaml")),
];

/// Where the packaged daemon keeps its history (systemd's StateDirectory=vigie).
pub const PACKAGE_STORE: &str = "/var/lib/vigie/vigie.db";
/// Where the package puts its configuration (ConfigurationDirectory=vigie).
pub const PACKAGE_DIR: &str = "/etc/vigie";

/// What makes one instance different from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The vantage point (`location`, a metric label).
    pub location: String,
    /// Put in the User-Agent so the portal's operators can reach the team.
    pub contact: String,
    /// Where outage e-mails go.
    pub alert_to: Vec<String>,
    /// `store.path`, absolute or relative to the configuration file.
    pub store: String,
}

impl Settings {
    /// The placeholders the package ships (they pass `vigie check`).
    pub fn package() -> Settings {
        Settings {
            location: "a-renseigner".into(),
            contact: "vigie@association.example".into(),
            alert_to: vec!["Équipe de veille <veille@association.example>".into()],
            store: PACKAGE_STORE.into(),
        }
    }
}

/// The folder `vigie init` writes to when none is given: the package's
/// `/etc/vigie` for root on a machine with the package, else `./vigie`.
pub fn default_dir(is_root: bool, package_installed: bool) -> PathBuf {
    if is_root && package_installed {
        PathBuf::from(PACKAGE_DIR)
    } else {
        PathBuf::from("vigie")
    }
}

/// The store path for a folder: the package's state directory for
/// `/etc/vigie`, else `var/vigie.db` inside the folder.
pub fn default_store(dir: &Path) -> String {
    if dir == Path::new(PACKAGE_DIR) {
        PACKAGE_STORE.into()
    } else {
        "var/vigie.db".into()
    }
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn replace_once(text: &str, needle: &str, with: &str) -> Result<String, DeployError> {
    if text.matches(needle).count() != 1 {
        return Err(DeployError::Template(needle.trim().to_string()));
    }
    Ok(text.replacen(needle, with, 1))
}

/// The configuration file for these settings.
pub fn render_config(s: &Settings) -> Result<String, DeployError> {
    if s.alert_to.is_empty() {
        return Err(DeployError::Invalid(
            "at least one address for alert e-mails is needed (--alert-to)".into(),
        ));
    }
    let to: Vec<String> = s.alert_to.iter().map(|a| quoted(a)).collect();
    let mut t = CONFIG_TEMPLATE.to_string();
    t = replace_once(&t, "\nlocation: paris-bureau\n", &format!("\nlocation: {}\n", quoted(&s.location)))?;
    t = replace_once(
        &t,
        "\ncontact: \"vigie@association.example\"\n",
        &format!("\ncontact: {}\n", quoted(&s.contact)),
    )?;
    t = replace_once(
        &t,
        "\n  to: [\"Équipe de veille <veille@association.example>\"]\n",
        &format!("\n  to: [{}]\n", to.join(", ")),
    )?;
    t = replace_once(&t, "\n  - ../probes/live/*.yaml\n", "\n  - probes/*.yaml\n")?;
    t = replace_once(
        &t,
        "\n  path: ../var/vigie.db         # relative to this file\n",
        &format!("\n  path: {}    # relative to this file\n", quoted(&s.store)),
    )?;
    t = t.replace("--config config/vigie.yaml", "--config vigie.yaml");
    Ok(t)
}

/// Every file `vigie init` writes into `dir`, with the package's content
/// for each (a file still as shipped may be replaced).
pub fn plan(dir: &Path, s: &Settings) -> Result<Vec<Planned>, DeployError> {
    let pristine = render_config(&Settings {
        store: s.store.clone(),
        ..Settings::package()
    })?;
    let mut out = vec![Planned {
        path: dir.join("vigie.yaml"),
        bytes: render_config(s)?.into_bytes(),
        pristine: Some(pristine.into_bytes()),
    }];
    for (name, text) in LIVE_PROBES {
        out.push(Planned {
            path: dir.join("probes").join(name),
            bytes: text.as_bytes().to_vec(),
            pristine: None,
        });
    }
    Ok(out)
}

/// Load the planned files as the daemon would, without writing them:
/// problems are named at their future paths.
pub fn check(plan: &[Planned], opts: &LoadOptions) -> Result<Config, ConfigErrors> {
    let mut files = Overlay::memory_only();
    for p in plan {
        files.insert(&p.path, p.bytes.clone());
    }
    let main = plan.first().map(|p| p.path.clone()).unwrap_or_default();
    config::load(&main, &files, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            location: "lyon-local".into(),
            contact: "veille@exemple.org".into(),
            alert_to: vec!["a@exemple.org".into(), "Équipe \"B\" <b@exemple.org>".into()],
            store: "var/vigie.db".into(),
        }
    }

    #[test]
    fn the_rendering_loads_with_the_settings() {
        let dir = Path::new("/nonexistent/vigie");
        let plan = plan(dir, &settings()).unwrap();
        let cfg = check(&plan, &LoadOptions::default()).unwrap();
        assert_eq!(cfg.location, "lyon-local");
        assert!(cfg.user_agent().contains("veille@exemple.org"));
        assert_eq!(cfg.probes.len(), LIVE_PROBES.len());
        assert_eq!(cfg.store.path, Path::new("/nonexistent/vigie/var/vigie.db"));
        let text = String::from_utf8(plan[0].bytes.clone()).unwrap();
        assert!(text.contains(r#"to: ["a@exemple.org", "Équipe \"B\" <b@exemple.org>"]"#), "{text}");
    }

    #[test]
    fn a_bad_location_is_named_at_its_future_path() {
        let s = Settings {
            location: "Lyon Local".into(),
            ..settings()
        };
        let plan = plan(Path::new("/x/vigie"), &s).unwrap();
        let e = check(&plan, &LoadOptions::default()).unwrap_err();
        let text = e.0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
        assert!(text.contains("/x/vigie/vigie.yaml:13:"), "{text}");
        assert!(text.contains("invalid location"), "{text}");
    }

    #[test]
    fn the_package_placeholders_pass_and_defaults_follow_the_package() {
        let plan = plan(Path::new(PACKAGE_DIR), &Settings::package()).unwrap();
        let cfg = check(&plan, &LoadOptions::default()).unwrap();
        assert_eq!(cfg.store.path, Path::new(PACKAGE_STORE));
        assert_eq!(plan[0].pristine.as_ref(), Some(&plan[0].bytes));
        assert_eq!(default_dir(true, true), Path::new("/etc/vigie"));
        assert_eq!(default_dir(false, true), Path::new("vigie"));
        assert_eq!(default_dir(true, false), Path::new("vigie"));
        assert_eq!(default_store(Path::new("/etc/vigie")), PACKAGE_STORE);
        assert_eq!(default_store(Path::new("vigie")), "var/vigie.db");
    }

    #[test]
    fn every_live_probe_is_embedded() {
        let mut on_disk: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/probes/live"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = LIVE_PROBES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(embedded, on_disk, "src/deploy/init.rs must list every live probe");
    }
}
