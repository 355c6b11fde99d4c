//! The series of one probe: a compact state (counters, gauges, the run
//! duration histogram, per step values) updated when a run is recorded, and
//! its exposition text, rendered then and kept so that a scrape only
//! concatenates. The probe's labels are stored once, not once per series.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::text::{self, F, FAMILIES, N_FAMILIES};
use crate::probe::result::{Phase, Phases};
use crate::probe::{Outcome, RunResult, StepStatus};

/// Upper bounds of `vigie_probe_duration_seconds`.
pub(super) const DURATION_BUCKETS: [f64; 12] = [0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0];

/// Room kept beyond a probe's text: its values change length by a few bytes
/// from run to run, so its buffer is seldom reallocated.
pub(super) const MARGIN: usize = 128;

/// Beyond this much unused room (after a probe lost a step), the buffer is
/// replaced by one of the text's size and [`MARGIN`].
pub(super) const MAX_SLACK: usize = 1024;

/// Which optional families a scrape shows (see `MetricsSettings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Show {
    pub duration_histogram: bool,
    pub step_phases: bool,
}

/// The rendered text of one probe: one fragment per family, back to back.
#[derive(Debug, Default)]
pub(super) struct ProbeText {
    text: String,
    /// End offset of each family's fragment in `text`.
    ends: [u32; N_FAMILIES],
}

impl ProbeText {
    pub fn fragment(&self, f: usize) -> &str {
        let start = if f == 0 { 0 } else { self.ends[f - 1] as usize };
        &self.text[start..self.ends[f] as usize]
    }

    /// The text's length (tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Where the text's bytes are (tests: a render reuses its buffer).
    #[cfg(test)]
    pub fn as_ptr(&self) -> *const u8 {
        self.text.as_ptr()
    }

    /// The bytes allocated for the text (tests: little slack is kept).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.text.capacity()
    }
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Clone)]
struct StepSeries {
    name: String,
    duration: f64,
    success: bool,
    http: Option<(u16, u64)>,
    tls_not_after: Option<f64>,
    phases: Option<Phases>,
}

/// Everything vigie exports about one probe.
#[derive(Debug, Clone)]
pub(super) struct ProbeSeries {
    /// location, probe, procedure, site.
    labels: [String; 4],
    success: Option<bool>,
    outcome: Option<Outcome>,
    runs: [u64; Outcome::ALL.len()],
    duration: Option<Histogram>,
    failures: BTreeMap<(String, &'static str), u64>,
    last_run: Option<f64>,
    captcha: BTreeMap<String, u64>,
    politeness: f64,
    skipped: u64,
    /// Sorted by name.
    steps: Vec<StepSeries>,
    observations: BTreeMap<String, f64>,
    text: Arc<ProbeText>,
}

impl ProbeSeries {
    pub fn new(location: &str, probe: &str, procedure: &str, site: &str) -> ProbeSeries {
        ProbeSeries {
            labels: [location.into(), probe.into(), procedure.into(), site.into()],
            success: None,
            outcome: None,
            runs: [0; Outcome::ALL.len()],
            duration: None,
            failures: BTreeMap::new(),
            last_run: None,
            captcha: BTreeMap::new(),
            politeness: 0.0,
            skipped: 0,
            steps: Vec::new(),
            observations: BTreeMap::new(),
            text: Arc::default(),
        }
    }

    /// Whether the labels are these (a reload may move a probe to another site).
    pub fn has_labels(&self, procedure: &str, site: &str) -> bool {
        self.labels[2] == procedure && self.labels[3] == site
    }

    pub fn text(&self) -> &Arc<ProbeText> {
        &self.text
    }

    pub fn record_skip(&mut self) {
        self.skipped += 1;
    }

    pub fn record_run(&mut self, r: &RunResult) {
        if r.outcome.is_observed() {
            // An unobserved run says nothing about the portal: the last
            // observed success stays, and its duration is not a measurement.
            self.success = Some(r.outcome.is_success());
            self.observe_duration(r.duration.as_secs_f64());
        }
        self.outcome = Some(r.outcome);
        if let Some(i) = Outcome::ALL.iter().position(|o| *o == r.outcome) {
            self.runs[i] += 1;
        }
        self.last_run = Some(r.started_at.timestamp_millis() as f64 / 1000.0);
        self.politeness += r.politeness_wait.as_secs_f64();
        if let (Some(reason), Some(step)) = (r.reason, &r.failed_step) {
            *self.failures.entry((step.clone(), reason.as_str())).or_default() += 1;
        }
        if let Some(step) = &r.captcha_step {
            *self.captcha.entry(step.clone()).or_default() += 1;
        }
        for st in r.steps.iter().filter(|s| s.status != StepStatus::Skipped) {
            let s = self.step(&st.name);
            s.duration = st.duration.as_secs_f64();
            s.success = matches!(st.status, StepStatus::Passed | StepStatus::Captcha);
            if let Some(code) = st.http_status {
                s.http = Some((code, st.response_bytes));
            }
            if let Some(t) = st.tls_not_after {
                s.tls_not_after = Some(t.timestamp() as f64);
            }
            if let Some(p) = st.phases() {
                s.phases = Some(p);
            }
            for (name, v) in &st.observations {
                self.observations.insert(name.clone(), *v);
            }
        }
    }

    fn observe_duration(&mut self, v: f64) {
        let h = self.duration.get_or_insert_with(Histogram::default);
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| v <= *b) {
            h.counts[i] += 1;
        }
        h.sum += v;
        h.count += 1;
    }

    fn step(&mut self, name: &str) -> &mut StepSeries {
        let i = match self.steps.binary_search_by(|s| s.name.as_str().cmp(name)) {
            Ok(i) => i,
            Err(i) => {
                let s = StepSeries {
                    name: name.to_string(),
                    duration: 0.0,
                    success: false,
                    http: None,
                    tls_not_after: None,
                    phases: None,
                };
                self.steps.insert(i, s);
                // A step is added once per probe: keep the list at its size
                // (doubling left 8 places for 5 steps, ~0.5 MiB at 1,000 probes).
                self.steps.shrink_to_fit();
                i
            }
        };
        &mut self.steps[i]
    }

    /// Render the text again from the state (after a run, a skip or a
    /// change of what is shown) into `scratch`, then copy it into the
    /// probe's buffer, in place: unless a scrape still holds the previous
    /// text, or the new one does not fit, the buffer is reused. A probe's
    /// text keeps its place in memory from run to run, and is only ever
    /// allocated at its size and [`MARGIN`]: rendering straight into it
    /// grew it by doubling then shrank it, which left a 9 KB free block
    /// beside each probe's text (at 1,000 probes the texts are 9.4 MB;
    /// their free neighbours were 2 MiB of the heap, `malloc_info`:
    /// BENCHMARKS.md, issue 14).
    pub fn render(&mut self, show: Show, scratch: &mut String) {
        let mut ends = [0u32; N_FAMILIES];
        scratch.clear();
        for (i, f) in FAMILIES.iter().enumerate() {
            self.render_family(scratch, family(i), f.name, show);
            ends[i] = u32::try_from(scratch.len()).unwrap_or(u32::MAX);
        }
        let mut t = Arc::get_mut(&mut self.text).map(std::mem::take).unwrap_or_default();
        let room = t.text.capacity();
        if room < scratch.len() || room > scratch.len() + MAX_SLACK {
            t.text = String::with_capacity(scratch.len() + MARGIN);
        }
        t.text.clear();
        t.text.push_str(scratch);
        t.ends = ends;
        // Back into the same `Arc` when no scrape holds it: a new one per
        // run would scatter small long-lived blocks over the heap's pages.
        match Arc::get_mut(&mut self.text) {
            Some(slot) => *slot = t,
            None => self.text = Arc::new(t),
        }
    }

    fn render_family(&self, out: &mut String, f: F, name: &str, show: Show) {
        // The crate's order: the variable labels sorted by name, then the
        // constant `location`.
        let [loc, probe, procedure, site] = self.labels.each_ref().map(String::as_str);
        let base = [("probe", probe), ("procedure", procedure), ("site", site), ("location", loc)];
        let v = |b: bool| f64::from(u8::from(b));
        match f {
            F::Success => {
                if let Some(s) = self.success {
                    text::sample(out, name, "", &base, None, v(s));
                }
            }
            F::Outcome => {
                if let Some(cur) = self.outcome {
                    for o in sorted_outcomes() {
                        let l = [("outcome", o.as_str()), base[0], base[1], base[2], base[3]];
                        text::sample(out, name, "", &l, None, v(o == cur));
                    }
                }
            }
            F::Duration => {
                if let (Some(h), true) = (&self.duration, show.duration_histogram) {
                    histogram(out, name, &base, h);
                }
            }
            F::Runs => {
                for o in sorted_outcomes() {
                    let n = Outcome::ALL.iter().position(|x| *x == o).map_or(0, |i| self.runs[i]);
                    let l = [("outcome", o.as_str()), base[0], base[1], base[2], base[3]];
                    text::sample(out, name, "", &l, None, n as f64);
                }
            }
            F::Failures => {
                for ((step, reason), n) in &self.failures {
                    let l = [base[0], base[1], ("reason", *reason), base[2], ("step", step.as_str()), base[3]];
                    text::sample(out, name, "", &l, None, *n as f64);
                }
            }
            F::LastRun => {
                if let Some(t) = self.last_run {
                    text::sample(out, name, "", &base, None, t);
                }
            }
            F::Captcha => {
                for (step, n) in &self.captcha {
                    text::sample(out, name, "", &with_step(base, step), None, *n as f64);
                }
            }
            F::Politeness => text::sample(out, name, "", &base, None, self.politeness),
            F::StepDuration | F::StepSuccess | F::StepStatus | F::StepBytes | F::TlsExpiry => self.render_steps(out, f, name, base),
            F::StepPhase => {
                if show.step_phases {
                    self.render_phases(out, name, base);
                }
            }
            F::Observation => {
                for (n, x) in &self.observations {
                    let l = [("name", n.as_str()), base[0], base[1], base[2], base[3]];
                    text::sample(out, name, "", &l, None, *x);
                }
            }
            F::Skipped => text::sample(out, name, "", &base, None, self.skipped as f64),
        }
    }

    fn render_steps(&self, out: &mut String, f: F, name: &str, base: [(&str, &str); 4]) {
        for s in &self.steps {
            let value = match f {
                F::StepDuration => Some(s.duration),
                F::StepSuccess => Some(f64::from(u8::from(s.success))),
                F::StepStatus => s.http.map(|(c, _)| f64::from(c)),
                F::StepBytes => s.http.map(|(_, b)| b as f64),
                _ => s.tls_not_after,
            };
            if let Some(x) = value {
                text::sample(out, name, "", &with_step(base, &s.name), None, x);
            }
        }
    }

    fn render_phases(&self, out: &mut String, name: &str, base: [(&str, &str); 4]) {
        for s in &self.steps {
            let Some(p) = &s.phases else { continue };
            for phase in sorted_phases() {
                let l = [
                    ("phase", phase.as_str()),
                    base[0],
                    base[1],
                    base[2],
                    ("step", s.name.as_str()),
                    base[3],
                ];
                text::sample(out, name, "", &l, None, p.get(phase).as_secs_f64());
            }
        }
    }
}

fn family(i: usize) -> F {
    const ALL: [F; N_FAMILIES] = [
        F::Success,
        F::Outcome,
        F::Duration,
        F::Runs,
        F::Failures,
        F::LastRun,
        F::Captcha,
        F::Politeness,
        F::StepDuration,
        F::StepSuccess,
        F::StepStatus,
        F::StepBytes,
        F::StepPhase,
        F::Observation,
        F::TlsExpiry,
        F::Skipped,
    ];
    ALL[i]
}

fn with_step<'a>(base: [(&'a str, &'a str); 4], step: &'a str) -> [(&'a str, &'a str); 5] {
    [base[0], base[1], base[2], ("step", step), base[3]]
}

fn histogram(out: &mut String, name: &str, base: &[(&str, &str); 4], h: &Histogram) {
    let mut cumulative = 0u64;
    let mut le = String::new();
    for (b, n) in DURATION_BUCKETS.iter().zip(h.counts) {
        cumulative += n;
        le.clear();
        text::push_value(&mut le, *b);
        text::sample(out, name, "_bucket", base, Some(&le), cumulative as f64);
    }
    text::sample(out, name, "_bucket", base, Some("+Inf"), h.count as f64);
    text::sample(out, name, "_sum", base, None, h.sum);
    text::sample(out, name, "_count", base, None, h.count as f64);
}

/// Outcomes in the order of their label value (as the crate sorts series).
fn sorted_outcomes() -> [Outcome; Outcome::ALL.len()] {
    let mut all = Outcome::ALL;
    all.sort_by_key(|o| o.as_str());
    all
}

fn sorted_phases() -> [Phase; Phase::ALL.len()] {
    let mut all = Phase::ALL;
    all.sort_by_key(|p| p.as_str());
    all
}
