//! Compiling the action of a browser step (`goto`, `click`, `fill`,
//! `select`, `check`, `uncheck`, `upload`, `wait_for`, `screenshot`) and
//! refusing those keys in HTTP probes, with the probe language's words.

use std::time::Duration;

use serde_saphyr::Spanned;

use super::raw::{RawPart, RawStep, RawUpload, RawWait};
use super::step::{compile_part, pos, FileCtx};
use crate::diag::Pos;
use crate::probe::browser::{BrowserAction, BrowserStep, WaitFor, WaitTarget};
use crate::probe::PartContent;

/// The action keys a browser step may have, one at most.
const ACTIONS: &str = "goto, click, fill, select, check, uncheck, upload";

/// Default time a `wait_for` waits.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

fn given(raw: &RawStep) -> Vec<(&'static str, Pos)> {
    let mut out = Vec::new();
    let mut add = |k: &'static str, p: Option<Pos>| {
        if let Some(p) = p {
            out.push((k, p));
        }
    };
    add("goto", raw.goto.as_ref().map(pos));
    add("click", raw.click.as_ref().map(pos));
    add("fill", raw.fill.as_ref().map(pos));
    add("select", raw.select.as_ref().map(pos));
    add("check", raw.check.as_ref().map(pos));
    add("uncheck", raw.uncheck.as_ref().map(pos));
    add("upload", raw.upload.as_ref().map(pos));
    out
}

/// In an HTTP probe, browser keys are mistakes: say how to make it a browser probe.
pub fn refuse_browser_keys(ctx: &mut FileCtx, raw: &RawStep) {
    let mut keys = given(raw);
    if let Some(w) = &raw.wait_for {
        keys.push(("wait_for", pos(w)));
    }
    for (k, p) in keys {
        ctx.err(
            p,
            format!("`{k}` is a browser action: this probe sends HTTP requests (add `kind: browser` to the probe to drive a real browser)"),
        );
    }
    if raw.screenshot.is_some() {
        ctx.err(
            pos(&raw.name),
            "`screenshot` needs a browser probe (`kind: browser`); HTTP steps keep the page as received",
        );
    }
}

/// Compile the browser part of a step. `default_timeout` is the probe's
/// step timeout (`defaults.timeout`, 30 s unless set).
pub fn compile(ctx: &mut FileCtx, raw: &RawStep, at: Pos, default_timeout: Duration) -> BrowserStep {
    if let Some(r) = &raw.request {
        ctx.err(
            pos(r),
            format!("a browser step acts on the page instead of sending a request: use one of {ACTIONS} (or wait_for alone)"),
        );
    }
    let keys = given(raw);
    if keys.len() > 1 {
        let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        ctx.err(
            keys[1].1,
            format!(
                "a browser step does one action, this one has {}: split it into several steps",
                names.join(" and ")
            ),
        );
    }
    if keys.is_empty() && raw.wait_for.is_none() && raw.request.is_none() {
        ctx.err(
            at,
            format!("step `{}` does nothing: give it one of {ACTIONS}, or a `wait_for`", raw.name.value),
        );
    }
    let action = action(ctx, raw);
    let wait_for = raw.wait_for.as_ref().and_then(|w| wait(ctx, w, default_timeout));
    let timeout = raw.timeout.as_ref().map(|t| t.value.0).unwrap_or(default_timeout);
    if let Some(t) = raw.timeout.as_ref().filter(|t| t.value.0.is_zero()) {
        ctx.err(
            pos(t),
            "a timeout of 0 would fail every run at once: expected a duration such as 10s",
        );
    }
    BrowserStep {
        action,
        wait_for,
        screenshot: raw.screenshot.unwrap_or(false),
        timeout,
    }
}

fn css(ctx: &mut FileCtx, s: &Spanned<String>) -> Option<crate::probe::Css> {
    ctx.css(&s.value, pos(s))
}

fn action(ctx: &mut FileCtx, raw: &RawStep) -> BrowserAction {
    let found = if let Some(u) = &raw.goto {
        if !(u.value.contains("{{") || u.value.starts_with("http://") || u.value.starts_with("https://")) {
            ctx.err(
                pos(u),
                format!(
                    "invalid URL `{}`: expected http:// or https://, usually \"{{{{ base_url }}}}/path\"",
                    u.value
                ),
            );
        }
        Some(BrowserAction::Goto(ctx.template(u)))
    } else if let Some(c) = &raw.click {
        css(ctx, c).map(BrowserAction::Click)
    } else if let Some(f) = &raw.fill {
        let value = ctx.template(&f.value.value);
        css(ctx, &f.value.selector).map(|css| BrowserAction::Fill { css, value })
    } else if let Some(f) = &raw.select {
        let value = ctx.template(&f.value.value);
        css(ctx, &f.value.selector).map(|css| BrowserAction::Select { css, value })
    } else if let Some(c) = &raw.check {
        css(ctx, c).map(|css| BrowserAction::Check { css, checked: true })
    } else if let Some(c) = &raw.uncheck {
        css(ctx, c).map(|css| BrowserAction::Check { css, checked: false })
    } else if let Some(u) = &raw.upload {
        upload(ctx, u)
    } else {
        Some(BrowserAction::Nothing)
    };
    found.unwrap_or(BrowserAction::Nothing)
}

fn upload(ctx: &mut FileCtx, u: &Spanned<RawUpload>) -> Option<BrowserAction> {
    let r = &u.value;
    if r.file.is_some() == r.generate.is_some() {
        ctx.err(
            pos(u),
            "`upload` needs exactly one of file (a fixture, relative to this probe file) or generate (e.g. { size: 100KiB, kind: pdf })",
        );
        return None;
    }
    // The same rules as a multipart part: exactly one of file, generate.
    let part = Spanned {
        value: RawPart {
            name: r.selector.clone(),
            value: None,
            file: r.file.clone(),
            generate: r.generate.clone(),
            filename: r.filename.clone(),
            content_type: None,
        },
        referenced: u.referenced,
        defined: u.defined,
    };
    let compiled = compile_part(ctx, &part);
    let css = css(ctx, &r.selector)?;
    let p = compiled?;
    if matches!(p.content, PartContent::Text(_)) {
        return None;
    }
    Some(BrowserAction::Upload {
        css,
        content: p.content,
        filename: p.filename.unwrap_or_else(|| "vigie-test.bin".into()),
    })
}

fn wait(ctx: &mut FileCtx, w: &Spanned<RawWait>, default_timeout: Duration) -> Option<WaitFor> {
    let r = &w.value;
    let n = [r.selector.is_some(), r.selector_gone.is_some(), r.text.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if n != 1 {
        ctx.err(pos(w), "`wait_for` needs exactly one of selector, selector_gone, text");
        return None;
    }
    let timeout = r.timeout.as_ref().map(|t| t.value.0).unwrap_or(DEFAULT_WAIT.min(default_timeout));
    if let Some(t) = &r.timeout {
        if t.value.0.is_zero() {
            ctx.err(
                pos(t),
                "a `wait_for` timeout of 0 would never see anything: give it a few seconds, e.g. 10s",
            );
        }
    }
    let target = if let Some(s) = &r.selector {
        WaitTarget::Selector(css(ctx, s)?)
    } else if let Some(s) = &r.selector_gone {
        WaitTarget::SelectorGone(css(ctx, s)?)
    } else {
        let t = r.text.as_ref()?;
        if t.value.trim().is_empty() {
            ctx.err(pos(t), "`wait_for: text` is empty: give the words to wait for");
            return None;
        }
        WaitTarget::Text(t.value.clone())
    };
    Some(WaitFor { target, timeout })
}

/// `kind:` and `browser:` of a probe file.
pub fn compile_kind(
    ctx: &mut FileCtx,
    kind: &Option<Spanned<String>>,
    browser: &Option<Spanned<super::raw::RawBrowserProbe>>,
) -> crate::probe::ProbeKind {
    use crate::probe::browser::BrowserProbe;
    use crate::probe::ProbeKind;
    let is_browser = match kind {
        None => false,
        Some(k) if k.value == "http" => false,
        Some(k) if k.value == "browser" => true,
        Some(k) => {
            ctx.err(
                pos(k),
                format!("unknown probe kind `{}`: expected http (the default) or browser", k.value),
            );
            false
        }
    };
    let Some(b) = browser else {
        return if is_browser {
            ProbeKind::Browser(BrowserProbe::default())
        } else {
            ProbeKind::Http
        };
    };
    if !is_browser {
        ctx.err(pos(b), "`browser:` settings need `kind: browser` on this probe");
        return ProbeKind::Http;
    }
    let mut out = BrowserProbe::default();
    if let Some(v) = &b.value.viewport {
        match v
            .value
            .split_once(['x', '×'])
            .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        {
            Some((w, h)) if (320..=3840).contains(&w) && (240..=4000).contains(&h) => out.viewport = (w, h),
            _ => ctx.err(
                pos(v),
                format!(
                    "invalid viewport `{}`: expected WIDTHxHEIGHT in pixels, e.g. 1280x800 (width 320 to 3840)",
                    v.value
                ),
            ),
        }
    }
    for h in &b.value.block_hosts {
        let host = h.value.trim().to_ascii_lowercase();
        if host.is_empty() || host.contains('/') || host.contains(' ') {
            ctx.err(
                pos(h),
                format!(
                    "invalid host `{}`: expected a host name such as www.google-analytics.com (no scheme, no path)",
                    h.value
                ),
            );
        } else {
            out.block_hosts.push(host);
        }
    }
    out.block_third_party = b.value.block_third_party.unwrap_or(false);
    if let Some(s) = &b.value.screenshots {
        match s.value.as_str() {
            "failures" => out.screenshot_every_step = false,
            "every_step" => out.screenshot_every_step = true,
            other => ctx.err(
                pos(s),
                format!("invalid `screenshots: {other}`: expected failures (the default: failing and no-slot runs) or every_step"),
            ),
        }
    }
    ProbeKind::Browser(out)
}

/// The daemon's `browser:` section.
pub fn compile_browser_settings(
    path: &std::path::Path,
    raw: &Option<Spanned<super::raw::RawBrowser>>,
    diags: &mut crate::diag::Diagnostics,
) -> crate::runner::browser_env::BrowserSettings {
    let mut out = crate::runner::browser_env::BrowserSettings::default();
    let Some(b) = raw else {
        return out;
    };
    let b = &b.value;
    if let Some(e) = &b.executable {
        out.executable = Some(super::relative_to(path, &e.value));
    }
    if let Some(n) = &b.max_concurrent {
        if n.value == 0 || n.value > 16 {
            diags.push(
                path,
                pos(n),
                "`max_concurrent` must be between 1 and 16 (each browser needs about 400 MiB)",
            );
        } else {
            out.max_concurrent = n.value as usize;
        }
    }
    if let Some(n) = &b.per_host {
        if n.value == 0 {
            diags.push(path, pos(n), "`per_host` must be at least 1 (browser journeys at once per host)");
        } else {
            out.per_host = n.value as usize;
        }
    }
    if let Some(m) = &b.max_memory {
        if m.value.0 < 128 * 1024 * 1024 {
            diags.push(
                path,
                pos(m),
                "`max_memory` below 128MiB would stop every browser run: Chromium needs about 400 MiB for a page",
            );
        } else {
            out.max_memory = m.value.0;
        }
    }
    if let Some(d) = &b.profile_dir {
        // Absolute: Chromium's command line names it, and the sweep of
        // stale profiles must find the same folder whatever the cwd.
        let root = super::relative_to(path, &d.value);
        out.profile_root = std::path::absolute(&root).unwrap_or(root);
    }
    out
}
