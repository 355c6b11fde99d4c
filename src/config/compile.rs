//! Second stage of configuration loading: from the raw YAML structs to a
//! validated [`Config`] with compiled probes. Collects every error.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use serde_saphyr::Spanned;

use super::alerts;
use super::raw::{RawConfig, RawProbe, RawStep};
use super::step::{compile_broken_when, compile_step, pos, valid_name, FileCtx, StepDefaults};
use super::{yaml, Config, Files, LoadOptions, Section, DEFAULT_LISTEN};
use crate::alert::settings::ProbeAlerts;
use crate::diag::{ConfigErrors, Diagnostics, Pos};
use crate::evidence::settings::ProbeEvidence;
use crate::probe::{Labels, Politeness, Probe, ProbeKind, Schedule, Target};

/// Load and validate the daemon configuration at `path` and every probe file
/// it names. Returns all problems at once.
pub fn load(path: &Path, files: &dyn Files, opts: &LoadOptions) -> Result<Config, ConfigErrors> {
    let mut diags = Diagnostics::new();
    let src = match files.read_string(path) {
        Ok(s) => s,
        Err(e) => {
            diags.push(path, Pos::UNKNOWN, format!("cannot read the configuration file: {e}"));
            return Err(ConfigErrors(diags));
        }
    };
    let raw: RawConfig = match yaml::parse(&src, path) {
        Ok(r) => r,
        Err(d) => {
            diags.push(&d.file, d.pos, d.message);
            return Err(ConfigErrors(diags));
        }
    };
    let config = compile_config(path, &src, raw, files, opts, &mut diags);
    if diags.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(diags))
    }
}

/// Only the steps of a probe file, read in one pass with the whole document (the other keys
/// are checked by `RawProbe`).
#[derive(serde::Deserialize)]
struct AllSteps {
    #[serde(default)]
    steps: Vec<RawStep>,
}

/// Gives every probe the secrets of all probes (see `Probe::config_secrets`).
fn share_secrets(mut probes: Vec<Probe>) -> Vec<Arc<Probe>> {
    let mut all: Vec<String> = probes.iter().flat_map(|p| p.env.iter().map(|(_, v)| v.clone())).collect();
    all.sort();
    all.dedup();
    let all = Arc::new(all);
    // One compiled schedule per distinct line: croner holds ~5 KB per
    // schedule (a bit per possible year), 5 MiB at 1,000 probes (issue 14).
    let mut schedules: HashMap<String, Arc<croner::Cron>> = HashMap::new();
    for p in &mut probes {
        p.config_secrets = all.clone();
        let shared = schedules
            .entry(p.schedule.source.clone())
            .or_insert_with(|| p.schedule.cron.clone());
        p.schedule.cron = shared.clone();
    }
    // Not `collect()`: it would reuse the `Vec<Probe>`'s buffer (400 bytes
    // a probe) for the 8-byte `Arc`s and keep all of it.
    let mut shared = Vec::with_capacity(probes.len());
    shared.extend(probes.into_iter().map(Arc::new));
    shared
}

fn compile_config(path: &Path, _src: &str, raw: RawConfig, files: &dyn Files, opts: &LoadOptions, diags: &mut Diagnostics) -> Config {
    let location = raw.location.value.clone();
    if !valid_name(&location) {
        diags.push(path, pos(&raw.location), format!("invalid location `{location}`: use lowercase letters, digits, `-` and `_` (it becomes a metric label), such as paris-bureau"));
    }
    let contact = raw.contact.value.trim().to_string();
    if !(contact.contains('@') || contact.starts_with("http://") || contact.starts_with("https://")) {
        diags.push(path, pos(&raw.contact), "`contact` must be an e-mail address or a URL: it goes into the User-Agent so the portal's operators can reach whoever runs this probe");
    }
    let timezone = match &raw.timezone {
        Some(tz) => parse_tz(&tz.value).unwrap_or_else(|| {
            diags.push(
                path,
                pos(tz),
                format!("unknown time zone `{}`: expected an IANA name such as Europe/Paris", tz.value),
            );
            chrono_tz::Europe::Paris
        }),
        None => chrono_tz::Europe::Paris,
    };
    let listen = match &raw.listen {
        Some(l) => l.value.parse::<SocketAddr>().unwrap_or_else(|_| {
            diags.push(
                path,
                pos(l),
                format!("invalid listen address `{}`: expected IP:PORT such as 127.0.0.1:9898", l.value),
            );
            default_listen()
        }),
        None => default_listen(),
    };
    let concurrency = match &raw.concurrency {
        Some(c) if c.value == 0 => {
            diags.push(path, pos(c), "`concurrency` must be at least 1");
            1
        }
        Some(c) => c.value as usize,
        None => 16,
    };
    let mut default_politeness = Politeness::default();
    if let Some(p) = &raw.default_politeness {
        if let Some(i) = &p.min_interval {
            default_politeness.min_interval = i.value.0;
        }
        if let Some(m) = &p.max_concurrent {
            default_politeness.max_concurrent = check_concurrent(path, m, diags);
        }
    }

    let global_vars: Vec<(String, String)> = raw.vars.0.iter().map(|(k, v)| (k.value.clone(), v.value.clone())).collect();
    let mut targets = Vec::new();
    for (name, t) in &raw.targets.0 {
        if !valid_name(&name.value) {
            diags.push(
                path,
                pos(name),
                format!("invalid target name `{}`: use lowercase letters, digits, `-` and `_`", name.value),
            );
        }
        let base = opts
            .base_url_overrides
            .get(&name.value)
            .cloned()
            .unwrap_or_else(|| t.base_url.value.trim_end_matches('/').to_string());
        let host_key = match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                format!("{}:{}", u.host_str().unwrap_or_default(), u.port_or_known_default().unwrap_or(0))
            }
            _ => {
                diags.push(
                    path,
                    pos(&t.base_url),
                    format!(
                        "invalid base_url `{}`: expected an http:// or https:// URL such as https://www.rdv-prefecture.interieur.gouv.fr",
                        t.base_url.value
                    ),
                );
                String::new()
            }
        };
        let mut politeness = default_politeness;
        if let Some(i) = &t.min_interval {
            politeness.min_interval = i.value.0;
        }
        if let Some(m) = &t.max_concurrent {
            politeness.max_concurrent = check_concurrent(path, m, diags);
        }
        let mut vars = global_vars.clone();
        vars.extend(t.vars.0.iter().map(|(k, v)| (k.value.clone(), v.value.clone())));
        let ca_certs = match &t.ca_file {
            Some(f) => read_ca_file(path, f, files, diags),
            None => vec![],
        };
        targets.push(Arc::new(Target {
            name: name.value.clone(),
            base_url: base,
            host_key,
            politeness,
            vars,
            ca_certs,
        }));
    }

    let alert_sections = || alerts::RawSections {
        store: &raw.store,
        alerts: &raw.alerts,
        smtp: &raw.smtp,
        maintenance: &raw.maintenance,
    };
    let alerts::Compiled {
        store,
        mut alerting,
        maintenance,
    } = alerts::compile_sections(path, alert_sections(), timezone, &targets, files, opts, diags);

    let mut evidence = super::evidence::compile_evidence(path, &raw.evidence, diags);
    let reports = super::evidence::compile_reports(path, &raw.reports, diags);
    let browser = super::browser_step::compile_browser_settings(path, &raw.browser, diags);
    let publish = super::publish::compile_publish(path, &raw.publish, diags);
    // E-mails link to the public observatory unless told otherwise; with
    // neither, they carry no link (never a loopback address).
    if alerting.status_page_url.is_none() {
        alerting.status_page_url = publish.public_url.clone();
    }
    let mut sections = HashMap::new();
    let raw_sections: [(&'static str, &Option<Spanned<serde_json::Value>>); 1] = [("status_page", &raw.status_page)];
    for (key, v) in raw_sections {
        if let Some(v) = v {
            sections.insert(
                key,
                Section {
                    file: path.to_path_buf(),
                    pos: pos(v),
                    value: v.value.clone(),
                },
            );
        }
    }

    // Probe files, by pattern.
    let mut probe_files: Vec<(PathBuf, Pos, String)> = Vec::new();
    for pattern in &raw.probes {
        let full = super::relative_to(path, &pattern.value);
        match files.glob(&full) {
            Ok(found) if found.is_empty() => diags.push(
                path,
                pos(pattern),
                format!(
                    "`{}` matches no probe file (patterns are relative to this file's folder; `*` matches within a file name)",
                    pattern.value
                ),
            ),
            Ok(found) => probe_files.extend(found.into_iter().map(|f| {
                let shown = match f.file_name() {
                    Some(n) if pattern.value.contains('*') => format!("{} ({})", pattern.value, n.to_string_lossy()),
                    _ => pattern.value.clone(),
                };
                (f, pos(pattern), shown)
            })),
            Err(e) => diags.push(path, pos(pattern), format!("cannot list `{}`: {e}", pattern.value)),
        }
    }
    probe_files.dedup_by(|a, b| a.0 == b.0);

    let mut probes = Vec::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for (pf, listed_at, shown) in probe_files {
        let Some(src) = read_probe_file(path, (listed_at, &shown), &pf, files, diags) else {
            continue;
        };
        let Some((probe, probe_evidence, name_pos, probe_alerts)) = load_probe(&pf, &src, files, &targets, timezone, opts, diags) else {
            continue;
        };
        if let Some(first) = names.get(&probe.name) {
            diags.push(
                &pf,
                name_pos,
                format!("duplicate probe name `{}`: already used in {}", probe.name, first.display()),
            );
            continue;
        }
        names.insert(probe.name.clone(), pf.clone());
        if let Some(e) = probe_evidence {
            evidence.probes.insert(probe.name.clone(), e);
        }
        if let Some(a) = probe_alerts {
            alerting.probes.insert(probe.name.clone(), a);
        }
        probes.push(probe);
    }
    let probes = share_secrets(probes);

    alerts::check_with_probes(path, alert_sections(), &alerting, &probes, diags);

    Config {
        file: path.to_path_buf(),
        location,
        contact,
        timezone,
        listen,
        concurrency,
        default_politeness,
        targets,
        probes,
        store,
        alerting,
        maintenance,
        evidence,
        reports,
        browser,
        publish,
        metrics: compile_metrics(&raw.metrics),
        sections,
    }
}

/// `metrics:`: both optional families on unless turned off.
fn compile_metrics(raw: &Option<super::raw::S<super::raw::RawMetrics>>) -> crate::metrics::MetricsSettings {
    let mut m = crate::metrics::MetricsSettings::default();
    if let Some(r) = raw {
        m.duration_histogram = r.value.duration_histogram.unwrap_or(m.duration_histogram);
        m.step_phases = r.value.step_phases.unwrap_or(m.step_phases);
    }
    m
}

/// Read a PEM bundle of certificate authorities (a target's or SMTP's
/// `ca_file`); every certificate in it is trusted.
pub(super) fn read_ca_file(config: &Path, f: &Spanned<String>, files: &dyn Files, diags: &mut Diagnostics) -> Vec<Vec<u8>> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let file = super::relative_to(config, &f.value);
    let bytes = match files.read(&file) {
        Ok(b) => b,
        Err(e) => {
            diags.push(
                config,
                pos(f),
                format!("cannot read ca_file `{}` (relative to this file's folder): {e}", f.value),
            );
            return vec![];
        }
    };
    let certs: Result<Vec<Vec<u8>>, _> = CertificateDer::pem_slice_iter(&bytes).map(|c| c.map(|c| c.to_vec())).collect();
    match certs {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            diags.push(
                config,
                pos(f),
                format!(
                    "ca_file `{}` holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
                    f.value
                ),
            );
            vec![]
        }
        Err(e) => {
            diags.push(config, pos(f), format!("ca_file `{}` is not valid PEM: {e}", f.value));
            vec![]
        }
    }
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9898)))
}

fn check_concurrent(path: &Path, m: &Spanned<u32>, diags: &mut Diagnostics) -> usize {
    if m.value == 0 {
        diags.push(path, pos(m), "`max_concurrent` must be at least 1");
        1
    } else {
        m.value as usize
    }
}

pub fn parse_tz(s: &str) -> Option<chrono_tz::Tz> {
    s.parse::<chrono_tz::Tz>().ok()
}

/// Parse a schedule: crontab (5 fields, `1-5` = Monday to Friday, 0 or 7 =
/// Sunday) with an optional leading seconds field.
pub fn parse_cron(s: &str) -> Result<croner::Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(s)
        .map_err(|e| e.to_string().trim_end_matches('.').to_string())
}

/// A compiled probe, its `evidence:` section, the position of its name, and
/// its `alerts:` section.
type LoadedProbe = (Probe, Option<ProbeEvidence>, Pos, Option<ProbeAlerts>);

/// A probe file's text. A file that cannot be read is reported at the line
/// of the configuration that lists it; a file that is not UTF-8 text at the
/// line and column of its first invalid byte.
fn read_probe_file(
    config: &Path,
    (listed_at, shown): (Pos, &str),
    path: &Path,
    files: &dyn Files,
    diags: &mut Diagnostics,
) -> Option<String> {
    let bytes = match files.read(path) {
        Ok(b) => b,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::IsADirectory => "it is a folder, not a probe file (list its files, e.g. `folder/*.yaml`)".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied (vigie's user must be able to read it)".to_string(),
                _ => e.to_string(),
            };
            diags.push(config, listed_at, format!("cannot read the probe file `{shown}`: {why}"));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(s) if s.contains('\0') => {
            let at = text_pos(s.as_bytes(), s.find('\0').unwrap_or(0));
            diags.push(
                path,
                at,
                "this is not a text file (it holds a NUL byte): expected a YAML probe file",
            );
            None
        }
        Ok(s) => Some(s),
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let byte = bytes.get(bad).copied().unwrap_or(0);
            diags.push(
                path,
                text_pos(&bytes, bad),
                format!("not UTF-8 text (byte 0x{byte:02X}): save the probe file as UTF-8"),
            );
            None
        }
    }
}

/// Line and column (in characters, 1-based) of byte `offset` of `bytes`.
fn text_pos(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() as u64 + 1;
    Pos { line, column }
}

fn load_probe(
    path: &Path,
    src: &str,
    files: &dyn Files,
    targets: &[Arc<Target>],
    default_tz: chrono_tz::Tz,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Option<LoadedProbe> {
    let raw: RawProbe = match yaml::parse(src, path) {
        Ok(r) => r,
        Err(d) => {
            diags.push(&d.file, d.pos, d.message);
            return None;
        }
    };
    let before = diags.len();
    let mut ctx = FileCtx {
        file: path.to_path_buf(),
        src,
        line_starts: super::step::line_starts(src),
        diags,
        files,
        scope: HashSet::new(),
        env_refs: Vec::new(),
    };

    let name = raw.name.value.clone();
    if !valid_name(&name) {
        ctx.err(
            pos(&raw.name),
            format!("invalid probe name `{name}`: use lowercase letters, digits, `-` and `_` (it becomes a metric label)"),
        );
    }
    if raw.title.value.trim().is_empty() {
        ctx.err(pos(&raw.title), "`title` is empty: it is what e-mails and reports show");
    }
    let target = match targets.iter().find(|t| t.name == raw.target.value) {
        Some(t) => t.clone(),
        None => {
            let known: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            ctx.err(
                pos(&raw.target),
                format!(
                    "unknown target `{}`: the configuration defines {}",
                    raw.target.value,
                    if known.is_empty() {
                        "no target".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            Arc::new(Target {
                name: raw.target.value.clone(),
                base_url: String::new(),
                host_key: String::new(),
                politeness: Politeness::default(),
                vars: vec![],
                ca_certs: vec![],
            })
        }
    };
    let labels = {
        let l = raw.labels.as_ref();
        let procedure = l.and_then(|l| l.procedure.as_ref());
        let site = l.and_then(|l| l.site.as_ref());
        for v in [procedure, site].into_iter().flatten() {
            if !valid_name(&v.value) {
                ctx.err(
                    pos(v),
                    format!(
                        "invalid label value `{}`: use lowercase letters, digits, `-` and `_`, at most 64 characters",
                        v.value
                    ),
                );
            }
        }
        Labels {
            procedure: procedure.map(|p| p.value.clone()).unwrap_or_else(|| name.clone()),
            site: site.map(|s| s.value.clone()).unwrap_or_else(|| target.name.clone()),
        }
    };
    let timezone = match &raw.timezone {
        Some(tz) => parse_tz(&tz.value).unwrap_or_else(|| {
            ctx.err(
                pos(tz),
                format!("unknown time zone `{}`: expected an IANA name such as Europe/Paris", tz.value),
            );
            default_tz
        }),
        None => default_tz,
    };
    let cron = match parse_cron(&raw.schedule.value) {
        Ok(c) if c.find_next_occurrence(&chrono::Utc::now().with_timezone(&timezone), false).is_err() => {
            ctx.err(
                pos(&raw.schedule),
                format!(
                    "the schedule `{}` never fires (no date matches it, such as the 31st of February): the probe would never run",
                    raw.schedule.value
                ),
            );
            None
        }
        Ok(c) => Some(c),
        Err(e) => {
            ctx.err(pos(&raw.schedule), format!("invalid schedule `{}`: {e}; expected a crontab line such as \"*/15 * * * *\" (minute hour day month weekday, 1-5 = Monday to Friday) with an optional leading seconds field", raw.schedule.value));
            None
        }
    };
    let timeout = raw.timeout.as_ref().map(|t| t.value.0).unwrap_or(Duration::from_secs(60));
    for t in [&raw.timeout, &raw.defaults.as_ref().and_then(|d| d.timeout.clone())]
        .into_iter()
        .flatten()
    {
        if t.value.0.is_zero() {
            ctx.err(
                pos(t),
                "a timeout of 0 would fail every run at once: expected a duration such as 30s",
            );
        }
    }
    let degraded_after = raw.degraded_after.as_ref().map(|d| d.value.0);
    if let (Some(d), Some(spanned)) = (degraded_after, &raw.degraded_after) {
        if d >= timeout {
            ctx.err(pos(spanned), "`degraded_after` must be shorter than the probe's `timeout`");
        }
    }

    // Scope: what templates may read before any step ran.
    ctx.scope.insert("base_url".into());
    ctx.scope.insert("probe_name".into());
    for (k, _) in &target.vars {
        ctx.scope.insert(k.clone());
    }
    let mut vars = Vec::new();
    for (k, v) in &raw.vars.0 {
        let t = ctx.template(v);
        ctx.scope.insert(k.value.clone());
        vars.push((k.value.clone(), t));
    }

    let d = raw.defaults.as_ref();
    let mut defaults = StepDefaults {
        timeout: d
            .and_then(|d| d.timeout.as_ref())
            .map(|t| t.value.0)
            .unwrap_or(Duration::from_secs(30))
            .min(timeout),
        max_body: d.and_then(|d| d.max_body.as_ref()).map(|m| m.value.0).unwrap_or(5 * 1024 * 1024),
        follow_redirects: d.and_then(|d| d.follow_redirects).unwrap_or(true),
        headers: vec![],
    };
    if let Some(d) = d {
        for (k, v) in &d.headers.0 {
            let t = ctx.template(v);
            defaults.headers.push((k.value.clone(), t));
        }
    }
    let broken_when = compile_broken_when(&mut ctx, &raw.broken_when);
    let blocked_when = raw
        .blocked_when
        .iter()
        .map(|m| super::step::compile_match(&mut ctx, m, false).0)
        .collect();
    let kind = super::browser_step::compile_kind(&mut ctx, &raw.kind, &raw.browser);
    let browser = matches!(kind, ProbeKind::Browser(_));

    if raw.steps.is_empty() {
        ctx.err(pos(&raw.name), "a probe needs at least one step under `steps:`");
    }
    // Exactly as many as the file has: a step is ~1.3 KB, and pushing 5
    // into an empty Vec leaves room for 8 (4 MiB at 1,000 probes, issue 14).
    let mut steps = Vec::with_capacity(raw.steps.len());
    let mut seen = HashSet::new();
    // A file whose steps all read well is read once (linear in its size); only a file
    // with a broken step is re-read step by step, so that each broken step says why.
    let all_steps = yaml::parse::<AllSteps>(src, path)
        .ok()
        .map(|a| a.steps)
        .filter(|v| v.len() == raw.steps.len());
    match all_steps {
        Some(all) => {
            for (s, rs) in raw.steps.iter().zip(all) {
                let at = Pos::from_location(&s.referenced);
                steps.push(compile_step(&mut ctx, &rs, at, &defaults, &mut seen, browser));
            }
        }
        None => {
            for s in &raw.steps {
                let at = Pos::from_location(&s.referenced);
                match yaml::reparse_node::<RawStep>(src, path, at) {
                    Ok(rs) => steps.push(compile_step(&mut ctx, &rs, at, &defaults, &mut seen, browser)),
                    Err(d) => ctx.err(d.pos, d.message),
                }
            }
        }
    }

    // Environment values are read now: a missing secret is a load error, not a 3 a.m. failure.
    let enabled = raw.enabled.unwrap_or(true) && !(browser && opts.disable_browser_probes);
    let mut env = Vec::new();
    let mut env_seen = HashSet::new();
    for (var, at) in std::mem::take(&mut ctx.env_refs) {
        if !env_seen.insert(var.clone()) {
            continue;
        }
        match opts.env_var(&var) {
            Some(v) if v.chars().count() < crate::runner::redact::MIN_SECRET_LEN => ctx.err(
                at,
                format!(
                    "environment variable `{var}` holds {} characters: a secret must have at least {} (a shorter one could not be told apart from ordinary text, so it could not be redacted)",
                    v.chars().count(),
                    crate::runner::redact::MIN_SECRET_LEN
                ),
            ),
            Some(v) => env.push((var, v)),
            None if enabled && !opts.secrets_optional => ctx.err(at, format!("environment variable `{var}` is not set (read as env.{var}); export it before starting vigie, or set `enabled: false` on this probe")),
            None => {}
        }
    }

    let probe_alerts = raw.alerts.as_ref().map(|a| alerts::compile_probe_alerts(path, a, ctx.diags));
    let probe_evidence = raw
        .evidence
        .as_ref()
        .map(|e| super::evidence::compile_probe_evidence(path, e, ctx.diags));

    let name_pos = pos(&raw.name);
    let ok = ctx.diags.len() == before;
    let cron = cron?;
    if !ok {
        return None;
    }
    let probe = Probe {
        name,
        title: raw.title.value.trim().to_string(),
        description: raw.description.clone(),
        file: path.to_path_buf(),
        enabled,
        target,
        labels,
        schedule: Schedule {
            source: raw.schedule.value.clone(),
            cron: Arc::new(cron),
            timezone,
        },
        timeout,
        degraded_after,
        vars,
        env,
        config_secrets: Default::default(),
        broken_when,
        blocked_when,
        kind,
        steps,
    };
    Some((probe, probe_evidence, name_pos, probe_alerts))
}
