//! The Prometheus text exposition format (version 0.0.4), written by hand
//! for the per-probe series: the families, their help and type, label
//! escaping and number formatting, byte for byte as the `prometheus`
//! crate's `TextEncoder` writes them (the variable labels sorted by name,
//! then the constant `location`, then `le`; values as Rust's shortest
//! round-trip decimal).

use std::fmt::Write;

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family whose series are per probe.
pub(super) struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

/// Index of each per-probe family in [`FAMILIES`] (and in a probe's cached
/// text), in the order a scrape writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum F {
    Success,
    Outcome,
    Duration,
    Runs,
    Failures,
    LastRun,
    Captcha,
    Politeness,
    StepDuration,
    StepSuccess,
    StepStatus,
    StepBytes,
    StepPhase,
    Observation,
    TlsExpiry,
    Skipped,
}

pub(super) const N_FAMILIES: usize = 16;

pub(super) const FAMILIES: [Family; N_FAMILIES] = [
    Family {
        name: "vigie_probe_success",
        help: "Whether the last run of the probe completed its procedure (1 for up or degraded, 0 otherwise).",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_probe_outcome",
        help: "Outcome of the last run: 1 on the series of the current outcome, 0 on the others.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_probe_duration_seconds",
        help: "Active duration of probe runs (requests and transfers, without politeness waits).",
        kind: Kind::Histogram,
    },
    Family {
        name: "vigie_probe_runs_total",
        help: "Probe runs by outcome.",
        kind: Kind::Counter,
    },
    Family {
        name: "vigie_probe_failures_total",
        help: "Runs that were not up, by deciding step and bounded reason.",
        kind: Kind::Counter,
    },
    Family {
        name: "vigie_probe_last_run_timestamp_seconds",
        help: "Unix time when the last run of the probe started.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_probe_captcha_reached_total",
        help: "Runs that stopped at a CAPTCHA (never solved).",
        kind: Kind::Counter,
    },
    Family {
        name: "vigie_probe_politeness_wait_seconds_total",
        help: "Time runs waited for the per-host politeness budget.",
        kind: Kind::Counter,
    },
    Family {
        name: "vigie_step_duration_seconds",
        help: "Active duration of the step in the last run that reached it.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_step_success",
        help: "Whether the step passed in the last run that reached it.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_step_http_status",
        help: "HTTP status of the step's last response.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_step_response_bytes",
        help: "Size of the step's last response body in bytes.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_step_phase_duration_seconds",
        help: "Time of each phase of the step's requests (redirects summed) in the last run that timed them: resolve, connect, tls, processing, transfer.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_observation",
        help: "Last value of a named observation (e.g. appointment_slots, first_free_date as Unix time).",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_tls_cert_expiry_timestamp_seconds",
        help: "Unix time when the TLS certificate seen by the step expires.",
        kind: Kind::Gauge,
    },
    Family {
        name: "vigie_scheduler_skipped_runs_total",
        help: "Runs not started because the previous run of the probe was still going.",
        kind: Kind::Counter,
    },
];

/// The `# HELP` and `# TYPE` lines of a family.
pub(super) fn header(out: &mut String, f: &Family) {
    out.push_str("# HELP ");
    out.push_str(f.name);
    out.push(' ');
    push_escaped(out, f.help, false);
    out.push_str("\n# TYPE ");
    out.push_str(f.name);
    out.push(' ');
    out.push_str(f.kind.as_str());
    out.push('\n');
}

/// The length of [`header`]'s lines for `f`.
pub(super) fn header_len(f: &Family) -> usize {
    let mut s = String::new();
    header(&mut s, f);
    s.len()
}

/// Escape a label value (`\`, newline and `"`) or a help text (`\` and newline).
pub(super) fn push_escaped(out: &mut String, v: &str, quote: bool) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A sample value: Rust's shortest decimal, `+Inf`, `-Inf` or `NaN`.
pub(super) fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// One sample line: `name{labels} value`, the labels in the order given
/// (the caller follows the crate's); `le`, for histogram buckets, last.
pub(super) fn sample(out: &mut String, name: &str, suffix: &str, labels: &[(&str, &str)], le: Option<&str>, value: f64) {
    out.push_str(name);
    out.push_str(suffix);
    let mut sep = '{';
    for (k, v) in labels.iter().copied().chain(le.map(|v| ("le", v))) {
        out.push(sep);
        out.push_str(k);
        out.push_str("=\"");
        push_escaped(out, v, true);
        out.push('"');
        sep = ',';
    }
    if sep == ',' {
        out.push('}');
    }
    out.push(' ');
    push_value(out, value);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_escapes_follow_the_text_format() {
        let mut s = String::new();
        sample(&mut s, "m", "_bucket", &[("a", "x\"y\\z\nw")], Some("0.5"), 3.0);
        assert_eq!(s, "m_bucket{a=\"x\\\"y\\\\z\\nw\",le=\"0.5\"} 3\n");
        let mut v = String::new();
        for x in [0.1, 1.0, 1_765_000_000.123, f64::INFINITY, f64::NAN, -2.5] {
            push_value(&mut v, x);
            v.push(' ');
        }
        assert_eq!(v, "0.1 1 1765000000.123 +Inf NaN -2.5 ");
    }
}
