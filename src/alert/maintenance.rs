//! Maintenance windows: is a probe inside one at a given instant, and when is
//! the next one. Recurring windows are crontab starts in the configuration's
//! time zone (Europe/Paris by default) plus a duration, so "every Sunday from
//! 22:00 for 2 h" stays at 22:00 local time across daylight-saving changes.

use chrono::{DateTime, Utc};

use super::settings::{MaintenanceWindow, WindowTime};
use crate::probe::Probe;

/// An occurrence of a window: its start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl MaintenanceWindow {
    /// Whether the window covers this probe.
    pub fn applies_to(&self, probe_name: &str, target: &str) -> bool {
        (self.targets.is_empty() && self.probes.is_empty())
            || self.targets.iter().any(|t| t == target)
            || self.probes.iter().any(|p| p == probe_name)
    }

    /// The occurrence covering `t` (start inclusive, end exclusive), if any.
    pub fn active_at(&self, t: DateTime<Utc>) -> Option<Occurrence> {
        match &self.when {
            WindowTime::Once { from, to } => (*from <= t && t < *to).then_some(Occurrence { start: *from, end: *to }),
            WindowTime::Recurring { cron, duration, .. } => {
                let local = t.with_timezone(&self.timezone);
                let start = cron.find_previous_occurrence(&local, true).ok()?.with_timezone(&Utc);
                let end = start + chrono::Duration::from_std(*duration).ok()?;
                (t < end).then_some(Occurrence { start, end })
            }
        }
    }

    /// The occurrence in progress at `after`, or else the next one to start.
    pub fn next_occurrence(&self, after: DateTime<Utc>) -> Option<Occurrence> {
        if let Some(o) = self.active_at(after) {
            return Some(o);
        }
        match &self.when {
            WindowTime::Once { from, to } => (*from > after).then_some(Occurrence { start: *from, end: *to }),
            WindowTime::Recurring { cron, duration, .. } => {
                let local = after.with_timezone(&self.timezone);
                let start = cron.find_next_occurrence(&local, false).ok()?.with_timezone(&Utc);
                Some(Occurrence {
                    start,
                    end: start + chrono::Duration::from_std(*duration).ok()?,
                })
            }
        }
    }
}

/// The name of the first window covering `probe` at `t`.
pub fn window_at<'a>(windows: &'a [MaintenanceWindow], probe: &Probe, t: DateTime<Utc>) -> Option<&'a MaintenanceWindow> {
    windows
        .iter()
        .find(|w| w.applies_to(&probe.name, &probe.target.name) && w.active_at(t).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn recurring(cron: &str, minutes: u64) -> MaintenanceWindow {
        MaintenanceWindow {
            name: "w".into(),
            note: None,
            when: WindowTime::Recurring {
                cron: Box::new(crate::config::parse_cron(cron).expect("cron")),
                source: cron.into(),
                duration: Duration::from_secs(minutes * 60),
            },
            targets: vec![],
            probes: vec![],
            timezone: chrono_tz::Europe::Paris,
        }
    }

    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Paris
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid local time")
            .with_timezone(&Utc)
    }

    #[test]
    fn recurring_window_in_paris_time_across_dst() {
        // Sundays 22:00 for two hours, Paris time.
        let w = recurring("0 22 * * 0", 120);
        // Winter (UTC+1) and summer (UTC+2) Sundays.
        for (y, m, d) in [(2026, 1, 4), (2026, 7, 5)] {
            assert!(w.active_at(paris(y, m, d, 21, 59)).is_none());
            let o = w.active_at(paris(y, m, d, 22, 0)).expect("starts at 22:00");
            assert_eq!(o.start, paris(y, m, d, 22, 0));
            assert!(w.active_at(paris(y, m, d, 23, 59)).is_some());
            assert!(w.active_at(paris(y, m, d + 1, 0, 0)).is_none(), "end is exclusive");
        }
        // A Monday is not covered.
        assert!(w.active_at(paris(2026, 1, 5, 22, 30)).is_none());
        let next = w.next_occurrence(paris(2026, 1, 5, 12, 0)).expect("next");
        assert_eq!(next.start, paris(2026, 1, 11, 22, 0));
    }

    #[test]
    fn one_off_window_and_scope() {
        let mut w = recurring("0 22 * * 0", 1);
        w.when = WindowTime::Once {
            from: paris(2026, 12, 5, 20, 0),
            to: paris(2026, 12, 6, 8, 0),
        };
        w.targets = vec!["anef".into()];
        assert!(w.active_at(paris(2026, 12, 5, 20, 0)).is_some());
        assert!(w.active_at(paris(2026, 12, 6, 8, 0)).is_none());
        assert!(w.applies_to("anef-home", "anef"));
        assert!(!w.applies_to("prefecture-rdv", "prefecture"));
        assert_eq!(
            w.next_occurrence(paris(2026, 12, 1, 0, 0)).map(|o| o.start),
            Some(paris(2026, 12, 5, 20, 0))
        );
        assert_eq!(w.next_occurrence(paris(2026, 12, 7, 0, 0)), None);
    }
}
