//! `vigie run`: the daemon.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{DiskFiles, LoadOptions};
use crate::daemon::{self, ConfigSource, Daemon};

pub async fn run(config: PathBuf, listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let source = ConfigSource {
        path: config,
        files: Arc::new(DiskFiles),
        options: LoadOptions::default(),
    };
    let handle = match Daemon::start(source, listen, crate::alert::sinks()).await {
        Ok(h) => h,
        Err(e) => {
            if let Some(ce) = e.downcast_ref::<crate::diag::ConfigErrors>() {
                super::print_config_errors(ce);
                return Ok(ExitCode::from(super::EXIT_CONFIG));
            }
            return Err(e);
        }
    };
    let d = handle.daemon.clone();
    daemon::wait_for_signals(move || {
        let _ = d.reload();
    })
    .await;
    handle.shutdown(Duration::from_secs(20)).await;
    Ok(ExitCode::SUCCESS)
}
