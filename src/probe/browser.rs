//! The compiled form of a browser probe's steps: one action on the page,
//! then an optional wait, then the same conditions, extractions and
//! observations as HTTP steps, evaluated on the rendered page.

use std::time::Duration;

use super::{Css, PartContent};
use crate::template::Template;

/// Browser settings of one probe.
#[derive(Debug, Clone)]
pub struct BrowserProbe {
    /// Window size in CSS pixels.
    pub viewport: (u32, u32),
    /// Hosts whose requests are refused (analytics, third-party widgets).
    pub block_hosts: Vec<String>,
    /// Refuse every host but the target's own.
    pub block_third_party: bool,
    /// Keep a screenshot of every step, not only of failing or no-slot ones.
    pub screenshot_every_step: bool,
}

impl Default for BrowserProbe {
    fn default() -> Self {
        BrowserProbe {
            viewport: (1280, 800),
            block_hosts: vec![],
            block_third_party: false,
            screenshot_every_step: false,
        }
    }
}

/// What one browser step does to the page.
#[derive(Debug, Clone)]
pub enum BrowserAction {
    /// Load a URL (a navigation, spaced by the host's budget).
    Goto(Template),
    /// A real mouse click on the first matching element.
    Click(Css),
    /// Type into a field (secrets allowed: never shown).
    Fill { css: Css, value: Template },
    /// Choose an option of a `<select>` by value or visible text.
    Select { css: Css, value: Template },
    /// Tick (or untick) a checkbox.
    Check { css: Css, checked: bool },
    /// Set a file input to a fixture or generated file.
    Upload { css: Css, content: PartContent, filename: String },
    /// No action: the step only waits and checks.
    Nothing,
}

impl BrowserAction {
    /// The word used in probe files, for traces and methodology.
    pub fn keyword(&self) -> &'static str {
        match self {
            BrowserAction::Goto(_) => "goto",
            BrowserAction::Click(_) => "click",
            BrowserAction::Fill { .. } => "fill",
            BrowserAction::Select { .. } => "select",
            BrowserAction::Check { checked: true, .. } => "check",
            BrowserAction::Check { checked: false, .. } => "uncheck",
            BrowserAction::Upload { .. } => "upload",
            BrowserAction::Nothing => "wait_for",
        }
    }
}

/// What a step waits for after its action.
#[derive(Debug, Clone)]
pub enum WaitTarget {
    Selector(Css),
    SelectorGone(Css),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct WaitFor {
    pub target: WaitTarget,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct BrowserStep {
    pub action: BrowserAction,
    pub wait_for: Option<WaitFor>,
    /// Keep a screenshot of this step whatever its result.
    pub screenshot: bool,
    pub timeout: Duration,
}
