//! Compiling the `store:`, `alerts:`, `smtp:` and `maintenance:` sections and
//! the probe files' `alerts:` sections into typed settings, with every error
//! positioned like the rest of the configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use lettre::message::Mailbox;
use serde_saphyr::Spanned;

use super::raw_alerts::{RawAlerts, RawMaintenance, RawProbeAlerts, RawSmtp, RawStore};
use super::step::{pos, valid_name};
use super::units::parse_duration;
use super::{relative_to, Files, LoadOptions};
use crate::alert::settings::{
    AlertSettings, Delivery, Language, MaintenanceWindow, OutcomeSet, Policy, ProbeAlerts, Retry, Secret, Security, SmtpSettings,
    WindowTime,
};
use crate::diag::{Diagnostics, Pos};
use crate::probe::{Outcome, Probe, Target};
use crate::store::StoreSettings;

/// Where a file's errors go.
pub(super) struct Sink<'a> {
    pub file: &'a Path,
    pub diags: &'a mut Diagnostics,
}

impl Sink<'_> {
    pub(super) fn err(&mut self, at: Pos, msg: impl Into<String>) {
        self.diags.push(self.file, at, msg);
    }
}

/// The raw sections of the daemon file that this module compiles.
pub(super) struct RawSections<'a> {
    pub store: &'a Option<Spanned<RawStore>>,
    pub alerts: &'a Option<Spanned<RawAlerts>>,
    pub smtp: &'a Option<Spanned<RawSmtp>>,
    pub maintenance: &'a [Spanned<RawMaintenance>],
}

pub(super) struct Compiled {
    pub store: StoreSettings,
    pub alerting: AlertSettings,
    pub maintenance: Vec<MaintenanceWindow>,
}

pub(super) fn compile_sections(
    path: &Path,
    raw: RawSections,
    timezone: chrono_tz::Tz,
    targets: &[std::sync::Arc<Target>],
    files: &dyn Files,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Compiled {
    let mut s = Sink { file: path, diags };
    let store = compile_store(&mut s, raw.store);
    let a = raw.alerts.as_ref().map(|a| &a.value);
    let language = match a.and_then(|a| a.language.as_ref()) {
        Some(l) => match l.value.as_str() {
            "fr" => Language::Fr,
            "en" => Language::En,
            other => {
                s.err(pos(l), format!("unknown language `{other}`: expected fr (the default) or en"));
                Language::Fr
            }
        },
        None => Language::Fr,
    };
    let mut policy = Policy::default();
    if let Some(a) = a {
        if let Some(v) = threshold(&mut s, &a.failure_threshold, "failure_threshold") {
            policy.failure_threshold = v;
        }
        if let Some(v) = threshold(&mut s, &a.success_threshold, "success_threshold") {
            policy.success_threshold = v;
        }
        if let Some(v) = outcomes(&mut s, &a.failing_outcomes) {
            policy.failing = v;
        }
        if let Some(v) = reminder(&mut s, &a.reminder_every) {
            policy.reminder_every = v;
        }
    }
    let to = a.map(|a| mailboxes(&mut s, &a.to)).unwrap_or_default();
    let operator = a.map(|a| mailboxes(&mut s, &a.operator)).unwrap_or_default();
    let mut by_procedure = BTreeMap::new();
    let mut by_site = BTreeMap::new();
    if let Some(a) = a {
        for (map, out, what) in [
            (&a.by_procedure, &mut by_procedure, "procedure"),
            (&a.by_site, &mut by_site, "site"),
        ] {
            for (k, v) in &map.0 {
                if !valid_name(&k.value) {
                    s.err(
                        pos(k),
                        format!(
                            "invalid {what} `{}`: {what} labels use lowercase letters, digits, `-` and `_`",
                            k.value
                        ),
                    );
                }
                out.insert(k.value.clone(), mailbox_list(&mut s, v));
            }
        }
    }
    let group_window = match a.and_then(|a| a.group_window.as_ref()) {
        Some(g) if g.value.0 > Duration::from_secs(3600) => {
            s.err(pos(g), "`group_window` is at most 1h: it delays every e-mail by that much");
            Duration::from_secs(3600)
        }
        Some(g) => g.value.0,
        None => Duration::from_secs(120),
    };
    let status_page_url = a
        .and_then(|a| a.status_page_url.as_ref())
        .and_then(|u| public_url(&mut s, u, "status_page_url"));
    let grafana_url = a.and_then(|a| a.grafana_url.as_ref()).and_then(|u| http_url(&mut s, u));
    let evidence_url = a.and_then(|a| a.evidence_url.as_ref()).and_then(|u| http_url(&mut s, u));
    let retry = compile_retry(&mut s, a);

    let (delivery, from) = match raw.smtp {
        Some(smtp) => {
            let (settings, from) = compile_smtp(&mut s, smtp, files, opts);
            (Delivery::Smtp(settings), from)
        }
        None => {
            if let Some(sp) = a.and_then(|a| a.spool_dir.as_ref()) {
                (Delivery::Spool(normalize(&relative_to(path, &sp.value))), default_from())
            } else {
                let dir = store
                    .path
                    .parent()
                    .map(|p| p.join("spool"))
                    .unwrap_or_else(|| PathBuf::from("spool"));
                (Delivery::Spool(dir), default_from())
            }
        }
    };
    if let (Some(smtp), Some(sp)) = (raw.smtp, a.and_then(|a| a.spool_dir.as_ref())) {
        s.err(
            pos(sp),
            format!(
                "`spool_dir` is only used without an `smtp:` section (line {}): remove one of them",
                pos(smtp).line
            ),
        );
    }

    let maintenance = raw
        .maintenance
        .iter()
        .filter_map(|m| compile_window(&mut s, m, timezone, targets))
        .collect();
    let alerting = AlertSettings {
        language,
        from,
        to,
        operator,
        by_procedure,
        by_site,
        policy,
        probes: HashMap::new(),
        group_window,
        status_page_url,
        grafana_url,
        evidence_url,
        delivery,
        retry,
        timezone,
    };
    Compiled {
        store,
        alerting,
        maintenance,
    }
}

/// The sender of spooled e-mails when no `smtp:` section gives one.
fn default_from() -> Mailbox {
    // A constant, valid address: nothing to check at run time.
    Mailbox::new(Some("vigie".into()), lettre::Address::new_dangerous("vigie", "localhost"))
}

fn compile_store(s: &mut Sink, raw: &Option<Spanned<RawStore>>) -> StoreSettings {
    let r = raw.as_ref().map(|r| &r.value);
    let path = normalize(&relative_to(
        s.file,
        r.and_then(|r| r.path.as_ref()).map(|p| p.value.as_str()).unwrap_or("var/vigie.db"),
    ));
    let mut out = StoreSettings {
        path,
        ..StoreSettings::default()
    };
    if let Some(ret) = r.and_then(|r| r.retention.as_ref()) {
        let runs = ret.value.runs.as_ref();
        if let Some(v) = runs {
            if v.value.0 < Duration::from_secs(86400) {
                s.err(pos(v), "`retention.runs` must be at least 1d: reports and e-mails read recent runs");
            } else {
                out.keep_runs = v.value.0;
            }
        }
        if let Some(v) = &ret.value.rollups {
            let runs_kept = runs.map(|r| r.value.0).unwrap_or(out.keep_runs);
            if v.value.0 < runs_kept {
                s.err(
                    pos(v),
                    format!(
                        "`retention.rollups` ({}) is shorter than `retention.runs` ({}): hourly rollups are meant to outlive raw runs",
                        days(v.value.0),
                        days(runs_kept)
                    ),
                );
            } else {
                out.keep_rollups = v.value.0;
            }
        }
    }
    if let Some(c) = r.and_then(|r| r.compact_every.as_ref()) {
        if c.value.0 < Duration::from_secs(60) || c.value.0 > Duration::from_secs(86400) {
            s.err(pos(c), "`compact_every` must be between 1m and 1d");
        } else {
            out.compact_every = c.value.0;
        }
    }
    out
}

/// Resolve `.` and `..` without touching the disk: `config/../var/demo.db`
/// must not need a `config` folder to exist (the demo's configuration is
/// embedded in the binary).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `90d`, `5y`, or `12 h 00 min` for what is not a whole number of days.
fn days(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs % 86400, secs / 86400) {
        (0, n) if n > 0 && n.is_multiple_of(365) => format!("{}y", n / 365),
        (0, n) => format!("{n}d"),
        _ => super::units::format_duration(d),
    }
}

fn compile_retry(s: &mut Sink, a: Option<&RawAlerts>) -> Retry {
    let mut retry = Retry::default();
    let Some(r) = a.and_then(|a| a.retry.as_ref()) else {
        return retry;
    };
    if let Some(m) = &r.value.min {
        retry.min = m.value.0.max(Duration::from_millis(100));
    }
    if let Some(m) = &r.value.max {
        retry.max = m.value.0;
    }
    if retry.max < retry.min {
        s.err(pos(r), "`retry.max` must not be shorter than `retry.min`");
        retry.max = retry.min;
    }
    retry
}

fn threshold(s: &mut Sink, v: &Option<Spanned<u32>>, key: &str) -> Option<u32> {
    let v = v.as_ref()?;
    if v.value == 0 || v.value > 1000 {
        s.err(pos(v), format!("`{key}` must be between 1 and 1000 (a number of consecutive runs)"));
        return None;
    }
    Some(v.value)
}

fn outcomes(s: &mut Sink, v: &Option<Spanned<Vec<Spanned<String>>>>) -> Option<OutcomeSet> {
    let v = v.as_ref()?;
    let mut set = OutcomeSet::empty();
    let mut ok = true;
    for o in &v.value {
        match Outcome::parse(&o.value) {
            Some(Outcome::Up) => {
                s.err(pos(o), "`up` cannot count as failing");
                ok = false;
            }
            Some(Outcome::Unobserved) => {
                s.err(
                    pos(o),
                    "`unobserved` cannot count as failing: vigie could not observe the portal (its own failure, or bot protection), which says nothing about the portal",
                );
                ok = false;
            }
            Some(x) => set = set.with(x),
            None => {
                s.err(
                    pos(o),
                    format!("unknown outcome `{}`: expected down, broken, no_capacity or degraded", o.value),
                );
                ok = false;
            }
        }
    }
    if ok && set == OutcomeSet::empty() {
        s.err(pos(v), "`failing_outcomes` is empty: no run would ever count as failing (to mute e-mails for a probe, set `enabled: false` under its `alerts:`)");
        return None;
    }
    ok.then_some(set)
}

/// `reminder_every: 4h` or `off`: `Some(None)` is off.
fn reminder(s: &mut Sink, v: &Option<Spanned<String>>) -> Option<Option<Duration>> {
    let v = v.as_ref()?;
    let text = v.value.trim();
    if matches!(text, "off" | "never" | "none") {
        return Some(None);
    }
    match parse_duration(text) {
        // Seconds are accepted so that a test can watch reminders go out;
        // in real use hours are the norm (each reminder is one more e-mail).
        Some(d) if d >= Duration::from_secs(1) => Some(Some(d)),
        Some(_) => {
            s.err(pos(v), "`reminder_every` must be at least 1s (or `off`)");
            None
        }
        None => {
            s.err(
                pos(v),
                format!("invalid `reminder_every` `{}`: expected a duration such as 4h, or `off`", v.value),
            );
            None
        }
    }
}

fn mailbox(s: &mut Sink, v: &Spanned<String>) -> Option<Mailbox> {
    match v.value.trim().parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(_) => {
            s.err(
                pos(v),
                format!(
                    "invalid e-mail address `{}`: expected name@domain or \"Name <name@domain>\"",
                    v.value
                ),
            );
            None
        }
    }
}

fn mailbox_list(s: &mut Sink, list: &Spanned<Vec<Spanned<String>>>) -> Vec<Mailbox> {
    list.value.iter().filter_map(|m| mailbox(s, m)).collect()
}

fn mailboxes(s: &mut Sink, v: &Option<Spanned<Vec<Spanned<String>>>>) -> Vec<Mailbox> {
    v.as_ref().map(|list| mailbox_list(s, list)).unwrap_or_default()
}

pub(super) fn http_url(s: &mut Sink, u: &Spanned<String>) -> Option<String> {
    match url::Url::parse(&u.value) {
        Ok(x) if matches!(x.scheme(), "http" | "https") => Some(u.value.clone()),
        _ => {
            s.err(
                pos(u),
                format!("invalid URL `{}`: expected an http:// or https:// address", u.value),
            );
            None
        }
    }
}

/// The SMTP password read from its file (the file's mode already checked).
fn read_password_file(s: &mut Sink, f: &Spanned<String>, file: &Path) -> (Option<Secret>, Option<String>) {
    match std::fs::read_to_string(file) {
        Ok(v) if !v.trim().is_empty() => (
            Some(Secret(v.trim_end_matches(['\r', '\n']).to_string())),
            Some(format!("file {}", file.display())),
        ),
        Ok(_) => {
            s.err(pos(f), format!("the SMTP password file {} is empty", file.display()));
            (None, None)
        }
        Err(e) => {
            s.err(pos(f), format!("cannot read the SMTP password file {}: {e}", file.display()));
            (None, None)
        }
    }
}

/// An address people who receive an e-mail or read a feed can open: http(s),
/// and not this machine (a loopback address is a dead link for them).
pub(super) fn public_url(s: &mut Sink, u: &Spanned<String>, key: &str) -> Option<String> {
    let value = http_url(s, u)?;
    let host = url::Url::parse(&value).ok().and_then(|x| x.host().map(|h| h.to_owned()));
    let local = match &host {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => false,
    };
    if local {
        s.err(
            pos(u),
            format!("`{key}` points at this machine ({value}): give the address the public uses, or leave it out (e-mails then carry no status-page link)"),
        );
        return None;
    }
    Some(value)
}

fn compile_smtp(s: &mut Sink, raw: &Spanned<RawSmtp>, files: &dyn Files, opts: &LoadOptions) -> (SmtpSettings, Mailbox) {
    let r = &raw.value;
    if let Some(p) = &r.password {
        s.err(pos(p), "the SMTP password is never written in the configuration file: use `password_env: VIGIE_SMTP_PASSWORD` (and export that variable) or `password_file: /run/secrets/smtp`");
    }
    let host = r.host.value.trim().to_string();
    if host.is_empty() || host.contains(['/', ' ', ':']) {
        s.err(
            pos(&r.host),
            format!(
                "invalid SMTP host `{}`: expected a host name or IP address such as smtp.example.org (the port goes in `port`)",
                r.host.value
            ),
        );
    }
    let security = match &r.security {
        Some(v) => match v.value.as_str() {
            "starttls" => Security::StartTls,
            "tls" => Security::Tls,
            "none" => Security::None,
            other => {
                s.err(
                    pos(v),
                    format!("unknown `security` `{other}`: expected starttls (port 587), tls (port 465) or none (a relay on this machine)"),
                );
                Security::StartTls
            }
        },
        None => Security::StartTls,
    };
    let port = match &r.port {
        Some(p) if p.value == 0 || p.value > 65535 => {
            s.err(pos(p), format!("invalid SMTP port {}: expected 1 to 65535", p.value));
            security.default_port()
        }
        Some(p) => p.value as u16,
        None => security.default_port(),
    };
    let (password, password_source) = match (&r.password_env, &r.password_file) {
        (Some(e), Some(f)) => {
            s.err(
                pos(f),
                format!("give either `password_env` (line {}) or `password_file`, not both", pos(e).line),
            );
            (None, None)
        }
        (Some(e), None) => match opts.env_var(&e.value) {
            Some(v) if !v.is_empty() => (Some(Secret(v)), Some(format!("environment variable {}", e.value))),
            _ => {
                s.err(
                    pos(e),
                    format!(
                        "environment variable `{}` (the SMTP password) is not set or empty: export it before starting vigie",
                        e.value
                    ),
                );
                (None, None)
            }
        },
        (None, Some(f)) => {
            let file = relative_to(s.file, &f.value);
            if let Some(mode) = crate::private_fs::too_open(&file) {
                s.err(
                    pos(f),
                    format!(
                        "the SMTP password file {} can be read by others (mode {mode:04o}): make it owner-only with `chmod 600 {}`",
                        file.display(),
                        file.display()
                    ),
                );
                (None, None)
            } else {
                read_password_file(s, f, &file)
            }
        }
        (None, None) => (None, None),
    };
    let has_password_source = r.password_env.is_some() || r.password_file.is_some();
    match (&r.username, has_password_source || r.password.is_some()) {
        (Some(u), false) => s.err(
            pos(u),
            "`username` is set but no password source: add `password_env: VIGIE_SMTP_PASSWORD` or `password_file: /run/secrets/smtp`",
        ),
        (None, true) => s.err(
            pos(r.password_env.as_ref().or(r.password_file.as_ref()).unwrap_or(&r.host)),
            "a password is given but no `username` to log in with",
        ),
        _ => {}
    }
    if security == Security::None && r.username.is_some() && !is_local(&host) {
        s.err(
            pos(r.security.as_ref().unwrap_or(&r.host)),
            format!("`security: none` with a login would send the SMTP password in clear text to `{host}`: use starttls or tls (plain connections are only for a relay on this machine)"),
        );
    }
    if security == Security::Tls && port == 587 {
        s.err(
            r.port.as_ref().map(pos).unwrap_or(pos(&r.host)),
            "port 587 expects `security: starttls`; implicit TLS (`security: tls`) uses port 465",
        );
    }
    if security == Security::StartTls && port == 465 {
        s.err(
            r.port.as_ref().map(pos).unwrap_or(pos(&r.host)),
            "port 465 expects `security: tls` (implicit TLS); STARTTLS uses port 587",
        );
    }
    let timeout = match &r.timeout {
        Some(t) if t.value.0 < Duration::from_secs(1) || t.value.0 > Duration::from_secs(600) => {
            s.err(pos(t), "SMTP `timeout` must be between 1s and 10m");
            Duration::from_secs(30)
        }
        Some(t) => t.value.0,
        None => Duration::from_secs(30),
    };
    let (ca_file, ca_certs) = match &r.ca_file {
        Some(f) => {
            if security == Security::None {
                s.err(
                    pos(f),
                    "`ca_file` is only used to check the server's certificate: set `security: starttls` or `tls`, or remove `ca_file`",
                );
            }
            let certs = super::compile::read_ca_file(s.file, f, files, s.diags);
            (Some(normalize(&relative_to(s.file, &f.value))), certs)
        }
        None => (None, Vec::new()),
    };
    let from = mailbox(s, &r.from).unwrap_or_else(default_from);
    let settings = SmtpSettings {
        host,
        port,
        security,
        username: r.username.as_ref().map(|u| u.value.clone()),
        password,
        password_source,
        timeout,
        hello_name: r.hello_name.as_ref().map(|h| h.value.clone()),
        ca_file,
        ca_certs,
    };
    // Building the transport checks the TLS parameters without connecting.
    if let Err(e) = crate::alert::mailer::smtp(&settings) {
        s.err(pos(&r.host), format!("cannot set up SMTP to `{}`: {e}", settings.host));
    }
    (settings, from)
}

fn is_local(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn compile_window(
    s: &mut Sink,
    raw: &Spanned<RawMaintenance>,
    tz: chrono_tz::Tz,
    targets: &[std::sync::Arc<Target>],
) -> Option<MaintenanceWindow> {
    let m = &raw.value;
    let before = s.diags.len();
    if m.name.value.trim().is_empty() {
        s.err(
            pos(&m.name),
            "a maintenance window needs a `name` (it appears in the history and reports)",
        );
    }
    let when = match (&m.from, &m.to, &m.cron, &m.duration) {
        (Some(from), Some(to), None, None) => {
            let f = local_time(s, from, tz);
            let t = local_time(s, to, tz);
            match (f, t) {
                (Some(f), Some(t)) if t <= f => {
                    s.err(pos(to), "the window ends before it starts: `to` must be after `from`");
                    None
                }
                (Some(from), Some(to)) => Some(WindowTime::Once { from, to }),
                _ => None,
            }
        }
        (None, None, Some(cron), Some(duration)) => match super::compile::parse_cron(&cron.value) {
            Ok(c) if duration.value.0.is_zero() => {
                let _ = c;
                s.err(pos(duration), "`duration` must be longer than 0s");
                None
            }
            Ok(c) => Some(WindowTime::Recurring {
                cron: Box::new(c),
                source: cron.value.clone(),
                duration: duration.value.0,
            }),
            Err(e) => {
                s.err(
                    pos(cron),
                    format!(
                        "invalid `cron` `{}`: {e}; expected a crontab line such as \"0 22 * * 0\" (Sundays at 22:00)",
                        cron.value
                    ),
                );
                None
            }
        },
        _ => {
            s.err(
                pos(raw),
                "a maintenance window is either one-off (`from` and `to`, such as \"2026-12-05 20:00\") or recurring (`cron` and `duration`, such as \"0 22 * * 0\" and 2h)",
            );
            None
        }
    };
    for t in &m.targets {
        if !targets.iter().any(|x| x.name == t.value) {
            let known: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            s.err(
                pos(t),
                format!("unknown target `{}`: the configuration defines {}", t.value, known.join(", ")),
            );
        }
    }
    let when = when?;
    (s.diags.len() == before).then(|| MaintenanceWindow {
        name: m.name.value.trim().to_string(),
        note: m.note.clone(),
        when,
        targets: m.targets.iter().map(|t| t.value.clone()).collect(),
        probes: m.probes.iter().map(|p| p.value.clone()).collect(),
        timezone: tz,
    })
}

/// A local date-time (`2026-12-05 20:00`, optional seconds, `T` allowed) in
/// `tz`, or an RFC 3339 time with its own offset.
fn local_time(s: &mut Sink, v: &Spanned<String>, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let text = v.value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok());
    let Some(naive) = naive else {
        s.err(
            pos(v),
            format!(
                "invalid date-time `{}`: expected \"YYYY-MM-DD HH:MM\" in {tz} time, such as \"2026-12-05 20:00\"",
                v.value
            ),
        );
        return None;
    };
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => Some(t.with_timezone(&Utc)),
        None => {
            s.err(
                pos(v),
                format!(
                    "`{}` does not exist in {tz} (the clocks skip that hour when summer time starts)",
                    v.value
                ),
            );
            None
        }
    }
}

/// A probe file's `alerts:` section.
pub(super) fn compile_probe_alerts(file: &Path, raw: &Spanned<RawProbeAlerts>, diags: &mut Diagnostics) -> ProbeAlerts {
    let mut s = Sink { file, diags };
    let r = &raw.value;
    ProbeAlerts {
        failure_threshold: threshold(&mut s, &r.failure_threshold, "failure_threshold"),
        success_threshold: threshold(&mut s, &r.success_threshold, "success_threshold"),
        failing: outcomes(&mut s, &r.failing_outcomes),
        reminder_every: reminder(&mut s, &r.reminder_every),
        notify: r.enabled,
        to: mailboxes(&mut s, &r.to),
    }
}

/// Checks that need every probe: maintenance windows naming probes, and
/// probes that would alert nobody while SMTP is configured.
pub(super) fn check_with_probes(
    path: &Path,
    raw: RawSections,
    alerting: &AlertSettings,
    probes: &[std::sync::Arc<Probe>],
    diags: &mut Diagnostics,
) {
    let mut s = Sink { file: path, diags };
    for m in raw.maintenance {
        for p in &m.value.probes {
            if !probes.iter().any(|x| x.name == p.value) {
                s.err(pos(p), format!("unknown probe `{}` in a maintenance window", p.value));
            }
        }
    }
    if let (Delivery::Smtp(_), Some(smtp)) = (&alerting.delivery, raw.smtp) {
        let silent: Vec<&str> = probes
            .iter()
            .filter(|p| p.enabled && alerting.policy_for(p).notify)
            .filter(|p| alerting.recipients(&p.name, &p.labels.procedure, &p.labels.site).is_empty())
            .map(|p| p.name.as_str())
            .collect();
        if !silent.is_empty() {
            s.err(
                pos(smtp),
                format!(
                    "SMTP is configured but nobody would receive the alerts of `{}`: add addresses under `alerts: {{ to: [...] }}`, `by_procedure`, `by_site` or the probe file's `alerts: {{ to: [...] }}`",
                    silent.join("`, `")
                ),
            );
        }
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
