//! Shared parts of the end-to-end alerting tests: the SMTP sections of a
//! configuration, waiting, store and metric readers. The SMTP server is in
//! `smtp.rs`; the portal is the simulator (`super::start_sim`).

use std::path::Path;
use std::time::{Duration, Instant};

/// The `alerts:` and `smtp:` sections for a smtp-sink on `port`.
pub fn smtp_sections(port: u16, group_window: &str) -> String {
    format!(
        r#"alerts:
  to: ["Veille <veille@asso.example>"]
  failure_threshold: 2
  success_threshold: 2
  group_window: {group_window}
  retry: {{ min: 200ms, max: 1s }}
smtp:
  host: 127.0.0.1
  port: {port}
  security: none
  from: "vigie <vigie@asso.example>"
  timeout: 5s
"#
    )
}

/// Poll `f` until it returns Some, or fail with `what`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub async fn wait_until_async<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh read connection on the test's store (the daemon keeps writing).
pub fn store(dir: &Path) -> vigie::store::Store {
    vigie::store::Store::open_existing(&dir.join("var/vigie.db")).expect("open store")
}

/// The value of one series in a Prometheus text exposition.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}
