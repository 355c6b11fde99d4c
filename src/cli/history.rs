//! Which history a reading command (`report`, `evidence`, `verify`) works
//! on: the database named by `--config` (which also gives the methodology),
//! `--db` alone, or, with neither, the demo's `var/demo.db` in this folder
//! with the embedded demo configuration, so that `vigie report` works right
//! after `vigie demo`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, Config, DiskFiles, Files, LoadOptions};

pub struct Source {
    pub db: PathBuf,
    pub config: Option<Config>,
}

/// The demo's database, relative to the folder `vigie demo` ran in.
pub const DEMO_DB: &str = "var/demo.db";

fn options() -> LoadOptions {
    LoadOptions {
        // Nothing is probed: secrets are not needed to read the history.
        secrets_optional: true,
        ..LoadOptions::default()
    }
}

fn demo_config() -> Option<Config> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.entry("VIGIE_SIM_PASSWORD".into())
        .or_insert_with(|| crate::sim::TEST_PASSWORD.into());
    let opts = LoadOptions {
        env: Some(env),
        ..options()
    };
    let files: &dyn Files = &super::embedded::FILES;
    config::load(Path::new(super::embedded::DEMO_CONFIG), files, &opts).ok()
}

/// `Err(code)`: the problem was printed, exit with `code`.
pub fn resolve(config: Option<&Path>, db: Option<&Path>) -> anyhow::Result<Result<Source, ExitCode>> {
    match (config, db) {
        (Some(path), db) => match config::load(path, &DiskFiles, &options()) {
            Ok(c) => Ok(Ok(Source {
                db: db.map(Path::to_path_buf).unwrap_or_else(|| c.store.path.clone()),
                config: Some(c),
            })),
            Err(e) => {
                super::print_config_errors(&e);
                Ok(Err(ExitCode::from(super::EXIT_CONFIG)))
            }
        },
        (None, Some(db)) => Ok(Ok(Source {
            db: db.to_path_buf(),
            config: None,
        })),
        (None, None) => {
            if Path::new(DEMO_DB).exists() {
                eprintln!(
                    "note: no --config given: using the demo's history ({DEMO_DB}) and configuration; give --config FILE for your own"
                );
                Ok(Ok(Source {
                    db: PathBuf::from(DEMO_DB),
                    config: demo_config(),
                }))
            } else {
                anyhow::bail!(
                    "which history? Give --config FILE (your daemon configuration: its `store.path` names the database) or --db FILE (e.g. var/demo.db, in the folder where `vigie demo` ran)"
                )
            }
        }
    }
}
