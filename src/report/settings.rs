//! Validated report settings (`reports:` in the daemon configuration),
//! built by `config::evidence`.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;

use crate::alert::settings::Language;

/// Office hours, in the configuration's time zone: whole hours, because
/// availability is computed from hourly rollups (France is UTC+1 or +2,
/// whole hours, so an hour in UTC is an hour in Paris).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours {
    /// Monday first.
    pub days: [bool; 7],
    /// First hour (0-23) and the hour they end (1-24).
    pub from_hour: u32,
    pub to_hour: u32,
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for OfficeHours {
    fn default() -> Self {
        OfficeHours {
            days: [true, true, true, true, true, false, false],
            from_hour: 9,
            to_hour: 17,
            holidays: BTreeSet::new(),
        }
    }
}

impl OfficeHours {
    /// Whether the hour starting at `t` (in `tz`) is an office hour.
    pub fn contains<T: chrono::TimeZone>(&self, t: &chrono::DateTime<T>, tz: Tz) -> bool {
        let local = t.with_timezone(&tz);
        self.days[local.weekday().num_days_from_monday() as usize]
            && (self.from_hour..self.to_hour).contains(&local.hour())
            && !self.holidays.contains(&local.date_naive())
    }

    /// "Monday to Friday, 09:00-17:00" / "du lundi au vendredi, 9 h - 17 h".
    pub fn describe(&self, lang: Language) -> String {
        const FR: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
        const EN: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
        let names = if lang == Language::Fr { FR } else { EN };
        let on: Vec<usize> = (0..7).filter(|i| self.days[*i]).collect();
        let contiguous = on.windows(2).all(|w| w[1] == w[0] + 1);
        let days = match (on.first(), on.last()) {
            (Some(a), Some(b)) if contiguous && on.len() > 2 => match lang {
                Language::Fr => format!("du {} au {}", names[*a], names[*b]),
                Language::En => format!("{} to {}", names[*a], names[*b]),
            },
            _ => on.iter().map(|i| names[*i]).collect::<Vec<_>>().join(", "),
        };
        let holidays = if self.holidays.is_empty() {
            String::new()
        } else {
            match lang {
                Language::Fr => format!(", hors {} jour(s) férié(s)", self.holidays.len()),
                Language::En => format!(", except {} public holiday(s)", self.holidays.len()),
            }
        };
        match lang {
            Language::Fr => format!("{days}, de {} h à {} h{holidays}", self.from_hour, self.to_hour),
            Language::En => format!("{days}, {:02}:00-{:02}:00{holidays}", self.from_hour, self.to_hour),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSettings {
    pub language: Language,
    pub author: Option<String>,
    pub office_hours: OfficeHours,
    pub slot_observation: String,
    pub first_free_observation: String,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            language: Language::Fr,
            author: None,
            office_hours: OfficeHours::default(),
            slot_observation: "appointment_slots".into(),
            first_free_observation: "first_free_date".into(),
        }
    }
}
