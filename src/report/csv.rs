//! The report as one CSV table in long form, with the same numbers as the
//! JSON: `section,probe,procedure,step,date,item,metric,value`. One value
//! per row, so a spreadsheet's pivot table or `pandas.pivot` gives back any
//! view; ratios are between 0 and 1, durations in seconds, times RFC 3339.

use std::fmt::Write as _;

use super::model::{ProbeReport, Ratio, Report};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

struct Out(String);

impl Out {
    #[allow(clippy::too_many_arguments)]
    fn row(&mut self, section: &str, probe: &str, procedure: &str, step: &str, date: &str, item: &str, metric: &str, value: impl ToString) {
        let _ = writeln!(
            self.0,
            "{},{},{},{},{},{},{},{}",
            field(section),
            field(probe),
            field(procedure),
            field(step),
            field(date),
            field(item),
            field(metric),
            field(&value.to_string())
        );
    }

    fn opt(v: Option<f64>) -> String {
        v.map(|x| x.to_string()).unwrap_or_default()
    }

    fn ratio(&mut self, section: &str, probe: &str, procedure: &str, date: &str, suffix: &str, r: &Ratio) {
        self.row(section, probe, procedure, "", date, "", &format!("runs{suffix}"), r.runs);
        self.row(section, probe, procedure, "", date, "", &format!("failed{suffix}"), r.failed);
        self.row(
            section,
            probe,
            procedure,
            "",
            date,
            "",
            &format!("availability{suffix}"),
            Self::opt(r.availability),
        );
    }

    fn probe(&mut self, p: &ProbeReport) {
        let (n, pr) = (p.probe.as_str(), p.procedure.as_str());
        let a = &p.availability;
        for (m, v) in [
            ("up", a.up),
            ("degraded", a.degraded),
            ("no_capacity", a.no_capacity),
            ("broken", a.broken),
            ("down", a.down),
            ("captcha", a.captcha),
            ("maintenance_runs", a.maintenance_runs),
        ] {
            self.row("availability", n, pr, "", "", "", m, v);
        }
        for (m, v) in [
            ("observed_s", p.observed_s),
            ("period_s", p.period_s),
            ("not_observed_s", p.not_observed_s),
        ] {
            self.row("availability", n, pr, "", "", "", m, v);
        }
        self.row("availability", n, pr, "", "", "", "not_observed_stretches", p.not_observed_count);
        self.ratio("availability", n, pr, "", "", &a.all);
        self.ratio("availability", n, pr, "", "_excluding_maintenance", &a.excluding_maintenance);
        self.ratio("availability", n, pr, "", "_office_hours", &a.office_hours);
        let i = &p.incidents;
        self.row("incidents", n, pr, "", "", "", "count", i.count);
        self.row("incidents", n, pr, "", "", "", "started_in_period", i.started_in_period);
        self.row("incidents", n, pr, "", "", "", "still_open", i.still_open);
        self.row("incidents", n, pr, "", "", "", "total_s", i.total_s);
        self.row("incidents", n, pr, "", "", "", "office_hours_lost_s", i.office_hours_lost_s);
        self.row("incidents", n, pr, "", "", "", "longest_s", Self::opt(i.longest_s));
        self.row("incidents", n, pr, "", "", "", "mttr_s", Self::opt(i.mttr_s));
        self.row("incidents", n, pr, "", "", "", "mtbf_s", Self::opt(i.mtbf_s));
        if let Some(s) = &p.slots {
            self.row("slots", n, pr, "", "", &s.observation, "checks", s.checks);
            self.row("slots", n, pr, "", "", &s.observation, "with_slot", s.with_slot);
            self.row(
                "slots",
                n,
                pr,
                "",
                "",
                &s.observation,
                "share_with_slot",
                Self::opt(s.share_with_slot),
            );
            self.row("slots", n, pr, "", "", &s.observation, "captcha_stops", s.captcha_stops);
            if let Some(x) = &s.longest_without {
                self.row("slots", n, pr, "", "", "longest_without", "from", x.from.to_rfc3339());
                self.row("slots", n, pr, "", "", "longest_without", "to", x.to.to_rfc3339());
                self.row("slots", n, pr, "", "", "longest_without", "duration_s", x.duration_s);
                self.row("slots", n, pr, "", "", "longest_without", "checks", x.checks);
                self.row("slots", n, pr, "", "", "longest_without", "ongoing", x.ongoing);
                self.row("slots", n, pr, "", "", "longest_without", "approximate", x.approximate);
            }
            if let Some(f) = &s.first_free {
                self.row("slots", n, pr, "", "", "first_free", "observations", f.observations);
                self.row("slots", n, pr, "", "", "first_free", "min_days", f.min_days);
                self.row("slots", n, pr, "", "", "first_free", "mean_days", f.mean_days);
                self.row("slots", n, pr, "", "", "first_free", "max_days", f.max_days);
            }
        }
        for l in &p.latency {
            let step = if l.step.is_empty() { "(run)" } else { l.step.as_str() };
            self.row("latency", n, pr, step, "", "", "count", l.count);
            for (m, v) in [
                ("mean_s", l.mean_s),
                ("p50_s", l.p50_s),
                ("p95_s", l.p95_s),
                ("p99_s", l.p99_s),
                ("max_s", l.max_s),
            ] {
                self.row("latency", n, pr, step, "", "", m, Self::opt(v));
            }
        }
        for row in &p.phases {
            for ph in &row.phases {
                for (m, v) in [("p50_s", ph.p50_s), ("p95_s", ph.p95_s)] {
                    self.row("phase", n, pr, &row.step, "", &ph.phase, m, Self::opt(v));
                }
            }
        }
        for f in &p.failures {
            self.row("failures", n, pr, &f.step, "", &f.reason, "runs", f.runs);
        }
        for d in &p.daily {
            let date = d.date.to_string();
            self.ratio("daily", n, pr, &date, "", &d.ratio);
            if p.slots.is_some() {
                self.row("daily", n, pr, "", &date, "", "slot_checks", d.slot_checks);
                self.row("daily", n, pr, "", &date, "", "slot_with", d.slot_with);
            }
        }
    }
}

pub fn render(r: &Report) -> String {
    let mut o = Out(String::from("section,probe,procedure,step,date,item,metric,value\n"));
    o.row("report", "", "", "", "", "", "from", r.period.from);
    o.row("report", "", "", "", "", "", "to", r.period.to);
    o.row("report", "", "", "", "", "", "start", r.period.start.to_rfc3339());
    o.row("report", "", "", "", "", "", "end", r.period.end.to_rfc3339());
    o.row("report", "", "", "", "", "", "timezone", &r.period.timezone);
    o.row("report", "", "", "", "", "", "generated_at", r.generated_at.to_rfc3339());
    o.row("report", "", "", "", "", "", "vigie_version", &r.vigie_version);
    for p in &r.procedures {
        o.ratio("procedure", "", &p.procedure, "", "", &p.all);
        o.ratio(
            "procedure",
            "",
            &p.procedure,
            "",
            "_excluding_maintenance",
            &p.excluding_maintenance,
        );
        o.ratio("procedure", "", &p.procedure, "", "_office_hours", &p.office_hours);
        o.row("procedure", "", &p.procedure, "", "", "", "incidents", p.incidents);
        o.row("procedure", "", &p.procedure, "", "", "", "outage_s", p.outage_s);
    }
    for p in &r.probes {
        o.probe(p);
    }
    for i in &r.incidents {
        let id = i.id.to_string();
        o.row(
            "incident",
            &i.probe,
            "",
            i.failed_step.as_deref().unwrap_or(""),
            "",
            &id,
            "started_at",
            i.started_at.to_rfc3339(),
        );
        o.row(
            "incident",
            &i.probe,
            "",
            "",
            "",
            &id,
            "ended_at",
            i.ended_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        );
        o.row("incident", &i.probe, "", "", "", &id, "duration_s", i.duration_s);
        o.row("incident", &i.probe, "", "", "", &id, "ongoing", i.ongoing);
        o.row("incident", &i.probe, "", "", "", &id, "outcome", &i.outcome);
        o.row("incident", &i.probe, "", "", "", &id, "reason", i.reason.as_deref().unwrap_or(""));
        o.row(
            "incident",
            &i.probe,
            "",
            "",
            "",
            &id,
            "http_status",
            i.last_http_status.map(|s| s.to_string()).unwrap_or_default(),
        );
    }
    for (d, row) in r.failure_pattern.iter().enumerate() {
        for (h, c) in row.iter().enumerate().filter(|(_, c)| c.runs > 0) {
            let item = format!("{}-{h:02}", d + 1);
            o.row("failure_pattern", "", "", "", "", &item, "runs", c.runs);
            o.row("failure_pattern", "", "", "", "", &item, "failed", c.failed);
        }
    }
    o.row("evidence", "", "", "", "", "", "captures", r.evidence.captures);
    o.row("evidence", "", "", "", "", "", "days_covered", r.evidence.days_covered);
    o.row(
        "evidence",
        "",
        "",
        "",
        "",
        "",
        "register_head",
        r.evidence.register_head.as_deref().unwrap_or(""),
    );
    o.0
}
