//! Scenarios: timelines of state patches, loaded from YAML and played in a loop.
//!
//! A scenario is a `cycle` length and a list of events at offsets from the start of each cycle.
//! Every problem is reported as `file:line:column: message`, including the semantic ones found
//! after parsing (order of events, offsets past the cycle, out-of-range patches), thanks to
//! serde-saphyr's `Spanned` values.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_saphyr::{MessageFormatter, Spanned};

use super::{SimError, SimHandle, StatePatch};

/// The embedded demo timeline (`sim/scenarios/demo.yaml` at the repository root).
const DEMO_YAML: &str = include_str!("../../sim/scenarios/demo.yaml");

/// One step of a timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioEvent {
    /// Offset from the start of the cycle.
    pub at: Duration,
    /// Back to the default state before applying `patch`.
    pub reset: bool,
    /// Free text for humans (`vigie demo` prints it).
    pub note: Option<String>,
    pub patch: Option<StatePatch>,
    /// Line of the event in its file, for messages.
    pub line: u64,
}

/// A parsed, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    cycle: Duration,
    events: Vec<ScenarioEvent>,
}

/// A duration written `500ms`, `30s`, `2m`, `1h`, or combined like `1m30s`; bare `0` is allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct YamlDuration(Duration);

impl<'de> Deserialize<'de> for YamlDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = YamlDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 500ms, 30s or 2m")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlDuration, E> {
                parse_duration(v).map(YamlDuration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlDuration, E> {
                if v == 0 {
                    Ok(YamlDuration(Duration::ZERO))
                } else {
                    Err(E::custom(format!(
                        "invalid duration `{v}`: a unit is required (ms, s, m or h), e.g. {v}s"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlDuration, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("invalid duration `{v}`: must not be negative"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `500ms`, `30s`, `2m`, `1h`, `1m30s`, or `0`.
pub(crate) fn parse_duration(src: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration `{src}`: expected a number followed by ms, s, m or h (e.g. 500ms, 30s, 2m)");
    let s = src.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else {
            return Err(err());
        };
        rest = &rest[len..];
        let ms = n.checked_mul(unit_ms).ok_or_else(err)?;
        total = total.checked_add(Duration::from_millis(ms)).ok_or_else(err)?;
    }
    Ok(total)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    cycle: Spanned<YamlDuration>,
    events: Vec<Spanned<RawEvent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    at: Spanned<YamlDuration>,
    #[serde(default)]
    reset: bool,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    patch: Option<Spanned<StatePatch>>,
}

impl Scenario {
    /// Parses and validates a scenario. `file_name` only labels error messages.
    pub fn from_yaml(src: &str, file_name: &str) -> Result<Scenario, SimError> {
        let at = |loc: serde_saphyr::Location, message: String| SimError::Scenario {
            file: file_name.to_string(),
            line: loc.line(),
            column: loc.column(),
            message,
        };
        let raw: RawScenario = serde_saphyr::from_str(src).map_err(|e| {
            let loc = e.location().unwrap_or(serde_saphyr::Location::UNKNOWN);
            let message = serde_saphyr::DefaultMessageFormatter
                .format_message(e.without_snippet())
                .into_owned();
            at(loc, message)
        })?;
        let cycle = raw.cycle.value.0;
        if cycle.is_zero() {
            return Err(at(raw.cycle.referenced, "cycle must be longer than 0".to_string()));
        }
        let mut events = Vec::with_capacity(raw.events.len());
        let mut previous = Duration::ZERO;
        for ev in raw.events {
            let ev_loc = ev.referenced;
            let ev = ev.value;
            let t = ev.at.value.0;
            if t >= cycle {
                return Err(at(
                    ev.at.referenced,
                    format!(
                        "event at {} is not within the cycle ({}): offsets must be shorter than the cycle",
                        show(t),
                        show(cycle)
                    ),
                ));
            }
            if t < previous {
                return Err(at(
                    ev.at.referenced,
                    format!("events must be sorted by `at`: {} comes after {}", show(t), show(previous)),
                ));
            }
            previous = t;
            if let Some(p) = &ev.patch {
                p.value.validate().map_err(|e| {
                    let msg = match e {
                        SimError::InvalidPatch(m) => m,
                        other => other.to_string(),
                    };
                    at(p.referenced, msg)
                })?;
            }
            events.push(ScenarioEvent {
                at: t,
                reset: ev.reset,
                note: ev.note,
                patch: ev.patch.map(|p| p.value),
                line: ev_loc.line(),
            });
        }
        Ok(Scenario { cycle, events })
    }

    /// The built-in demo timeline (see `sim/scenarios/demo.yaml`).
    pub fn demo() -> Scenario {
        match Scenario::from_yaml(DEMO_YAML, "sim/scenarios/demo.yaml") {
            Ok(s) => s,
            // The file is embedded and covered by a test, so this cannot happen in a build
            // that passed its tests; an empty one-minute timeline keeps the demo alive anyway.
            Err(e) => {
                tracing::error!(error = %e, "embedded demo scenario is invalid");
                Scenario {
                    cycle: Duration::from_secs(60),
                    events: Vec::new(),
                }
            }
        }
    }

    pub fn cycle(&self) -> Duration {
        self.cycle
    }

    pub fn events(&self) -> &[ScenarioEvent] {
        &self.events
    }
}

/// Human form of a duration for messages (`90s`, `1500ms`).
fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Plays `scenario` against the simulator forever, one cycle after another, calling `on_event`
/// after each event has been applied. Cancel by dropping the future (e.g. `select!` or aborting
/// its task). A patch that fails at run time (a port taken meanwhile) is logged and skipped.
pub async fn play(handle: SimHandle, scenario: Scenario, mut on_event: impl FnMut(&ScenarioEvent)) {
    loop {
        let start = tokio::time::Instant::now();
        for ev in &scenario.events {
            tokio::time::sleep_until(start + ev.at).await;
            if ev.reset {
                handle.reset();
            }
            if let Some(p) = &ev.patch {
                if let Err(e) = handle.apply(p) {
                    tracing::warn!(error = %e, line = ev.line, "scenario event could not be applied");
                }
            }
            on_event(ev);
        }
        tokio::time::sleep_until(start + scenario.cycle).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{FaultMode, RouteKey, Site};

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_duration("30"),
            Err("invalid duration `30`: expected a number followed by ms, s, m or h (e.g. 500ms, 30s, 2m)".to_string())
        );
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10 s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5d").is_err());
    }

    fn err(src: &str) -> String {
        match Scenario::from_yaml(src, "t.yaml") {
            Ok(_) => panic!("accepted: {src}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn invalid_scenarios_name_line_and_column() {
        let cases = [
            (
                "cycle: 10s\nevents: []\nextra: 1\n",
                "t.yaml:3:1: unknown field `extra`, expected one of cycle, events",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 5\n",
                "t.yaml:3:9: invalid duration `5`: a unit is required (ms, s, m or h), e.g. 5s",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 5x\n",
                "t.yaml:3:9: invalid duration `5x`: expected a number followed by ms, s, m or h (e.g. 500ms, 30s, 2m)",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 5s\n    patch: { routes: { hom: { mode: normal } } }\n",
                "t.yaml:4:24: unknown variant `hom`, expected one of home, login, register, app, api, status, upload, conditions, counter, slots, planning, cgu, captcha, creneau",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 5s\n    patch:\n      routes:\n        home: { mode: nope }\n",
                "t.yaml:6:23: unknown variant `nope`, expected one of normal, maintenance, error_page, server_error, bad_gateway, hang, reset, trickle, huge, bad_utf8, redirect_loop",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 5s\n  - at: 2s\n",
                "t.yaml:4:9: events must be sorted by `at`: 2s comes after 5s",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 10s\n",
                "t.yaml:3:9: event at 10s is not within the cycle (10s): offsets must be shorter than the cycle",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 1s\n    patch: { prefecture_slots: 500 }\n",
                "t.yaml:4:12: prefecture_slots: 500 is above the maximum of 100",
            ),
            (
                "cycle: 10s\nevents:\n  - at: 1s\n    notes: x\n",
                "t.yaml:4:5: unknown field `notes`, expected one of at, reset, note, patch",
            ),
            ("events: []\n", "t.yaml:1:1: missing field `cycle`"),
            ("cycle: 0s\nevents: []\n", "t.yaml:1:8: cycle must be longer than 0"),
        ];
        for (src, want) in cases {
            assert_eq!(err(src), want, "for {src:?}");
        }
    }

    #[test]
    fn valid_scenario_parses() {
        let s = Scenario::from_yaml(
            "# comment\ncycle: 1m30s\nevents:\n  - at: 0\n    reset: true\n  - at: 500ms\n    note: lent\n    patch: { routes: { home: { delay_ms: 100, mode: hang } }, sites: { rdv: { down: true } } }\n  - at: 500ms\n",
            "ok.yaml",
        )
        .unwrap();
        assert_eq!(s.cycle(), Duration::from_secs(90));
        assert_eq!(s.events().len(), 3);
        assert!(s.events()[0].reset);
        let p = s.events()[1].patch.as_ref().unwrap();
        let mut st = crate::sim::SimState::default();
        p.apply_to(&mut st);
        assert_eq!(st.route(RouteKey::Home).mode, FaultMode::Hang);
        assert_eq!(st.route(RouteKey::Home).delay_ms, 100);
        assert!(st.site(Site::Rdv).down);
        assert_eq!(s.events()[1].note.as_deref(), Some("lent"));
        assert_eq!(s.events()[1].line, 6);
    }

    /// Replays the demo timeline on a state and samples it every second: checks the promises
    /// made to `vigie demo` (each outcome class shows up, outages last at least 40 s).
    #[test]
    fn demo_timeline_keeps_its_promises() {
        let demo = Scenario::demo();
        assert_eq!(demo.cycle(), Duration::from_secs(180));
        let mut st = crate::sim::SimState::default();
        let mut next = 0;
        let mut samples = Vec::new();
        for sec in 0..180u64 {
            while next < demo.events().len() && demo.events()[next].at <= Duration::from_secs(sec) {
                let ev = &demo.events()[next];
                if ev.reset {
                    st = crate::sim::SimState::default();
                }
                if let Some(p) = &ev.patch {
                    p.apply_to(&mut st);
                }
                next += 1;
            }
            samples.push(st.clone());
        }
        let stretch = |f: &dyn Fn(&crate::sim::SimState) -> bool| {
            // Longest run of consecutive seconds where f holds.
            let (mut best, mut cur) = (0, 0);
            for s in &samples {
                cur = if f(s) { cur + 1 } else { 0 };
                best = best.max(cur);
            }
            best
        };
        assert!(stretch(&|s| s.site(Site::Portal).down) >= 40);
        assert!(stretch(&|s| s.route(RouteKey::Conditions).mode == FaultMode::Maintenance) >= 40);
        assert!(stretch(&|s| s.route(RouteKey::Register).mode == FaultMode::ErrorPage) >= 40);
        assert!(stretch(&|s| s.upload == crate::sim::UploadMode::Reject) >= 40);
        let degraded = stretch(&|s| s.route(RouteKey::Home).delay_ms > 2000);
        assert!((20..60).contains(&degraded), "{degraded}");
        let slots = stretch(&|s| s.prefecture_slots > 0);
        assert!((10..=30).contains(&slots), "{slots}");
        assert!(samples.iter().all(|s| s.prefecture_slots <= 3));
        // A healthy stretch: nothing faulted at all.
        let healthy = stretch(&|s| {
            let d = crate::sim::SimState::default();
            s.sites == d.sites && s.routes == d.routes && s.upload == d.upload
        });
        assert!(healthy >= 20, "{healthy}");
    }

    #[tokio::test]
    async fn play_applies_events_in_order_and_loops() {
        let sim = crate::sim::start(crate::sim::SimConfig::loopback_ephemeral()).await.unwrap();
        let scenario = Scenario::from_yaml(
            "cycle: 300ms\nevents:\n  - at: 0s\n    reset: true\n    note: a\n    patch: { prefecture_slots: 2 }\n  - at: 100ms\n    note: b\n    patch: { sites: { rdv: { down: true } }, routes: { home: { mode: hang } } }\n  - at: 200ms\n    reset: true\n    note: c\n",
            "t.yaml",
        )
        .unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let observer = sim.clone();
        let started = tokio::time::Instant::now();
        let run = play(sim.clone(), scenario, move |ev| {
            let st = observer.state();
            log.lock().unwrap().push((
                ev.note.clone().unwrap_or_default(),
                started.elapsed(),
                st.prefecture_slots,
                st.site(Site::Rdv).down,
                st.route(RouteKey::Home).mode,
            ));
        });
        // `vigie demo` spawns the player on its own task.
        fn spawnable<F: std::future::Future + Send + 'static>(_: &F) {}
        spawnable(&run);
        // Two full cycles and a bit: the future is dropped (cancelled) at the timeout.
        assert!(tokio::time::timeout(Duration::from_millis(650), run).await.is_err());
        let seen = seen.lock().unwrap().clone();
        let notes: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(notes, ["a", "b", "c", "a", "b", "c", "a"]);
        for (note, _, slots, rdv_down, home) in &seen {
            match note.as_str() {
                "a" => assert_eq!((*slots, *rdv_down, *home), (2, false, FaultMode::Normal)),
                "b" => assert_eq!((*slots, *rdv_down, *home), (2, true, FaultMode::Hang)),
                _ => assert_eq!((*slots, *rdv_down, *home), (0, false, FaultMode::Normal)),
            }
        }
        assert!(seen[3].1 >= Duration::from_millis(300), "second cycle starts after the first");
        assert!(seen[4].1 >= Duration::from_millis(400));
        sim.shutdown().await;
    }
}
