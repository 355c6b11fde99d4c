//! The period of a report: whole days in Europe/Paris (or the configured
//! time zone), turned into a UTC interval; a period reaching into today
//! stops at the current time.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from_day: NaiveDate,
    /// Last day, inclusive.
    pub to_day: NaiveDate,
    pub tz: Tz,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// True when `end` is the current time rather than the end of `to_day`.
    pub partial: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error("invalid date `{0}`: expected YYYY-MM-DD (such as 2026-11-01) or DD/MM/YYYY")]
    Date(String),
    #[error("invalid month `{0}`: expected YYYY-MM, such as 2026-11")]
    Month(String),
    #[error("the period ends ({to}) before it starts ({from})")]
    Order { from: NaiveDate, to: NaiveDate },
    #[error("the period starts in the future ({0})")]
    Future(NaiveDate),
}

/// `2026-11-01` or `01/11/2026`.
pub fn parse_day(s: &str) -> Result<NaiveDate, PeriodError> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| PeriodError::Date(s.to_string()))
}

/// `2026-11` → its first and last day.
pub fn parse_month(s: &str) -> Result<(NaiveDate, NaiveDate), PeriodError> {
    let err = || PeriodError::Month(s.to_string());
    let first = NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d").map_err(|_| err())?;
    let next = first.checked_add_months(chrono::Months::new(1)).ok_or_else(err)?;
    Ok((first, next - Duration::days(1)))
}

/// Midnight starting `day` in `tz`, in UTC (the first instant of the day
/// when a DST change makes midnight ambiguous or missing).
pub fn day_start(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // No zone France uses skips midnight; take the hour after.
        None => tz
            .from_local_datetime(&(midnight + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc()),
    }
}

impl Period {
    /// `from` and `to` inclusive, in `tz`; defaults: the last 30 days up to now.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>, tz: Tz, now: DateTime<Utc>) -> Result<Period, PeriodError> {
        Period::new_from_history(from, to, tz, now, None)
    }

    /// As [`Period::new`], but a default start is not before `first_data`
    /// (the first day of the history).
    pub fn new_from_history(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        tz: Tz,
        now: DateTime<Utc>,
        first_data: Option<NaiveDate>,
    ) -> Result<Period, PeriodError> {
        let today = now.with_timezone(&tz).date_naive();
        let to_day = to.unwrap_or(today);
        let default_from = (to_day - Duration::days(29)).max(first_data.unwrap_or(NaiveDate::MIN).min(to_day));
        let from_day = from.unwrap_or(default_from);
        if to_day < from_day {
            return Err(PeriodError::Order {
                from: from_day,
                to: to_day,
            });
        }
        if from_day > today {
            return Err(PeriodError::Future(from_day));
        }
        let start = day_start(from_day, tz);
        let full_end = day_start(to_day + Duration::days(1), tz);
        let (end, partial) = if full_end > now { (now, true) } else { (full_end, false) };
        Ok(Period {
            from_day,
            to_day,
            tz,
            start,
            end,
            partial,
        })
    }

    pub fn seconds(&self) -> f64 {
        (self.end - self.start).num_milliseconds().max(0) as f64 / 1000.0
    }

    /// Every day of the period, in order.
    pub fn days(&self) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut d = self.from_day;
        while d <= self.to_day {
            out.push(d);
            d += Duration::days(1);
        }
        out
    }

    /// First instant of each UTC hour overlapping the period.
    pub fn hours(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let first = self.start.timestamp().div_euclid(3600) * 3600;
        (0..)
            .map(move |i| DateTime::<Utc>::from_timestamp(first + i * 3600, 0).unwrap_or_default())
            .take_while(|h| *h < self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    #[test]
    fn paris_days_become_utc_intervals_across_summer_time() {
        let now = Utc.with_ymd_and_hms(2027, 1, 10, 12, 0, 0).single().expect("now");
        let (a, b) = parse_month("2026-10").expect("month");
        let p = Period::new(Some(a), Some(b), Paris, now).expect("period");
        // 1 October 00:00 CEST is 30 September 22:00 UTC; 1 November 00:00 CET is 31 October 23:00 UTC.
        assert_eq!(p.start, Utc.with_ymd_and_hms(2026, 9, 30, 22, 0, 0).single().expect("t"));
        assert_eq!(p.end, Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).single().expect("t"));
        assert_eq!(p.seconds(), (31.0 * 24.0 + 1.0) * 3600.0, "the night clocks go back has 25 hours");
        assert_eq!(p.hours().count(), 745);
        assert!(!p.partial);
        let today = Period::new(None, None, Paris, now).expect("default");
        assert_eq!(today.days().len(), 30);
        assert!(today.partial && today.end == now);
        assert_eq!(parse_day("27/11/2026"), parse_day("2026-11-27"));
        assert!(matches!(Period::new(Some(b), Some(a), Paris, now), Err(PeriodError::Order { .. })));
    }
}
