//! Validated `publish:` settings, built by `config::publish`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSettings {
    /// Where the daemon rewrites the static site; None: it does not publish.
    pub output: Option<PathBuf>,
    /// How often the daemon rewrites it.
    pub every: Duration,
    /// Where the public reads the site (e-mails and the feed link there).
    pub public_url: Option<String>,
    /// The page's heading, instead of « Observatoire des démarches en ligne ».
    pub title: Option<String>,
    /// Titles of the sites (`labels.site` → title people read).
    pub sites: BTreeMap<String, String>,
}

impl Default for PublishSettings {
    fn default() -> Self {
        PublishSettings {
            output: None,
            every: Duration::from_secs(300),
            public_url: None,
            title: None,
            sites: BTreeMap::new(),
        }
    }
}
