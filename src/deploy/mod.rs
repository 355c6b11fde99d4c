//! Setting up an instance: `vigie init` (a working configuration written
//! into a folder, checked before anything is written) and `vigie new` (a
//! probe file made from the address a volunteer sees in their browser).
//!
//! Both build their files in memory, load them with the ordinary
//! configuration loader through [`overlay::Overlay`], and only then touch the
//! disk, never replacing an operator's file without saying so.

pub mod init;
pub mod new_probe;
pub mod overlay;
pub mod write;

use std::path::PathBuf;

/// What can go wrong while setting an instance up.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("the configuration template no longer contains `{0}`: this vigie was built from an altered config/vigie.yaml")]
    Template(String),
    #[error("{0}")]
    Invalid(String),
}
