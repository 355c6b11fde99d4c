//! Driving Debian's Chromium, headless, over the DevTools protocol: the
//! process (`process`), the protocol (`cdp`), a page (`page`), printing to
//! PDF (`print`) and the
//! evidence banner composed above screenshots (`banner`).
//!
//! This module knows nothing about probes, steps or outcomes: the browser
//! step driver (`runner::browser`) uses it the way the HTTP driver uses
//! reqwest.

pub mod banner;
pub mod cdp;
pub mod page;
pub mod print;
pub mod process;

use std::path::{Path, PathBuf};

/// What can go wrong with the browser itself (vigie's side) or while
/// talking to a page.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("Chromium not found at {0}")]
    NotFound(PathBuf),
    #[error("cannot start Chromium: {0}")]
    Launch(String),
    #[error("the browser closed the connection")]
    Closed,
    #[error("the page crashed (renderer gone: out of memory or killed)")]
    Crashed,
    #[error("no answer from the browser to {0} in time")]
    Timeout(String),
    #[error("the browser refused {0}: {1}")]
    Command(String, String),
    #[error("DevTools protocol: {0}")]
    Protocol(String),
    #[error("navigation failed: {0}")]
    Navigation(String),
    #[error("script error in the page: {0}")]
    Script(String),
}

/// Where Chromium is looked for when the configuration names none.
pub const CANDIDATES: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/// The command that installs Chromium on Debian and Ubuntu.
pub const INSTALL_HINT: &str = "apt-get install chromium";

/// The configured executable if given, else the first candidate that exists.
pub fn find_chromium(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = configured {
        return p.is_file().then(|| p.to_path_buf());
    }
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file())
}
