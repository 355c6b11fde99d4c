//! Every file in tests/fixtures/invalid/ must fail to load with exactly the
//! diagnostics written in its `.expected` sidecar (one per line, as
//! `file-name:line:column: message`). Probe fixtures are loaded through a
//! generated daemon config; `config-*.yaml` fixtures are daemon configs.
//!
//! To (re)write the sidecars after a deliberate message change, run with
//! VIGIE_BLESS=1, then review the diff: the point is that a person checked
//! each message once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vigie::config::{self, DiskFiles, LoadOptions};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn options() -> LoadOptions {
    // A fixed environment: fixtures must not depend on the machine.
    LoadOptions {
        env: Some(HashMap::from([("VIGIE_FIXTURE_SHORT_PASSWORD".to_string(), "abc1234".to_string())])),
        ..LoadOptions::default()
    }
}

fn diagnostics_for(file: &Path, tmp: &Path) -> Vec<String> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let config_path = if name.starts_with("config-") {
        file.to_path_buf()
    } else {
        let cfg = tmp.join(format!("{name}.config.yaml"));
        let text = format!(
            "location: test\ncontact: vigie-tests@example.org\nprobes: [\"{}\"]\ntargets:\n  demo-target:\n    base_url: \"http://127.0.0.1:9\"\n    vars: {{ form_id: \"4242\" }}\n",
            file.display()
        );
        std::fs::write(&cfg, text).expect("write temp config");
        cfg
    };
    match config::load(&config_path, &DiskFiles, &options()) {
        Ok(_) => vec!["(loaded without error)".to_string()],
        Err(e) => {
            e.0.sorted()
                .into_iter()
                .map(|d| {
                    let f = d.file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                    format!("{f}:{}:{}: {}", d.pos.line, d.pos.column, d.message)
                })
                .collect()
        }
    }
}

#[test]
fn each_invalid_fixture_gives_its_exact_errors() {
    let dir = fixtures().join("invalid");
    let tmp = tempfile::tempdir().expect("tempdir");
    let bless = std::env::var_os("VIGIE_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "the issue asks for at least 20 invalid fixtures, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let got = diagnostics_for(f, tmp.path());
        let expected_path = f.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, got.join("\n") + "\n").expect("bless");
            continue;
        }
        let expected: Vec<String> = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.to_string())
            .collect();
        if got != expected {
            failures.push(format!(
                "{}:\n  expected:\n    {}\n  got:\n    {}",
                f.display(),
                expected.join("\n    "),
                got.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_minimal_valid_probe_loads() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let got = diagnostics_for(&fixtures().join("valid/minimal.yaml"), tmp.path());
    assert_eq!(got, vec!["(loaded without error)".to_string()]);
}

/// Memory at 1,000 probes (issue 14): probes of the same schedule line share
/// one compiled schedule, and the probe list holds no leftover buffer.
#[test]
fn probes_of_one_schedule_share_it_and_the_probe_list_is_tight() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probe = |name: &str, schedule: &str| {
        format!("name: {name}\ntitle: {name}\ntarget: t\nschedule: \"{schedule}\"\nsteps:\n  - name: s\n    request: {{ url: \"{{{{ base_url }}}}/\" }}\n")
    };
    let schedules = [
        "*/5 * * * *",
        "*/5 * * * *",
        "7 * * * * *",
        "*/5 * * * *",
        "7 * * * * *",
        "0 3 * * *",
    ];
    for (i, s) in schedules.iter().enumerate() {
        std::fs::write(tmp.path().join(format!("p{i}.yaml")), probe(&format!("p{i}"), s)).expect("write");
    }
    let cfg = tmp.path().join("vigie.yaml");
    std::fs::write(
        &cfg,
        "location: test\ncontact: vigie-tests@example.org\nprobes: [\"p*.yaml\"]\ntargets:\n  t: { base_url: \"http://127.0.0.1:9\" }\n",
    )
    .expect("write");
    let c = config::load(&cfg, &DiskFiles, &options()).expect("loads");
    assert_eq!(c.probes.len(), schedules.len());
    for a in &c.probes {
        for b in &c.probes {
            let same_line = a.schedule.source == b.schedule.source;
            assert_eq!(
                std::sync::Arc::ptr_eq(&a.schedule.cron, &b.schedule.cron),
                same_line,
                "{} ({}) and {} ({})",
                a.name,
                a.schedule.source,
                b.name,
                b.schedule.source
            );
        }
    }
    let next = c.probes[2].schedule.next_times(chrono::Utc::now(), 1);
    assert_eq!(
        next.first().map(chrono::Timelike::second),
        Some(7),
        "the shared schedule still runs"
    );
    // A `collect()` in place would keep the compile-time `Vec<Probe>`'s
    // buffer: a capacity of thousands of `Arc`s for six probes.
    assert!(c.probes.capacity() <= 2 * c.probes.len(), "capacity {}", c.probes.capacity());
}
