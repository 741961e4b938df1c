//! Time intervals (`time_intervals`, legacy `mute_time_intervals`) with Alertmanager 0.25's
//! syntax and semantics: `times` (`HH:MM` ranges, end exclusive, `24:00` allowed), `weekdays`,
//! `days_of_month` (negative counts from the month's end), `months`, `years` (all inclusive
//! ranges) and an IANA `location`. A spec matches when every field it sets matches; an interval
//! matches when any of its specs does.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::Deserialize;

pub use chrono_tz::Tz;

use crate::values::ScalarString;

/// A named time interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeInterval {
    pub name: String,
    pub intervals: Vec<TimeIntervalSpec>,
}

impl TimeInterval {
    /// Whether `t` falls within any of the interval's specs (`timeinterval.TimeInterval.ContainsTime`
    /// over the list, as the muting stage does).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.intervals.iter().any(|s| s.contains(t))
    }
}

/// A span of minutes of the day, `start_minute` inclusive, `end_minute` exclusive (0..=1440).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// An inclusive range of integers: weekdays (0 = Sunday), days of month (negative from the
/// end), months (1 = January) or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    pub begin: i32,
    pub end: i32,
}

/// One entry of a time interval. Empty lists place no constraint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeIntervalSpec {
    pub times: Vec<TimeRange>,
    pub weekdays: Vec<InclusiveRange>,
    pub days_of_month: Vec<InclusiveRange>,
    pub months: Vec<InclusiveRange>,
    pub years: Vec<InclusiveRange>,
    /// The zone the other fields are read in; `None` is UTC.
    pub location: Option<Tz>,
}

impl TimeIntervalSpec {
    /// `timeinterval.TimeInterval.ContainsTime`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let tz = self.location.unwrap_or(Tz::UTC);
        let t = t.with_timezone(&tz);
        if !self.times.is_empty() {
            let minute = t.hour() * 60 + t.minute();
            if !self.times.iter().any(|r| minute >= r.start_minute && minute < r.end_minute) {
                return false;
            }
        }
        if !self.days_of_month.is_empty() {
            let days = days_in_month(t.year(), t.month()) as i32;
            let day = t.day() as i32;
            let matched = self.days_of_month.iter().any(|r| {
                let begin = if r.begin < 0 { days + r.begin + 1 } else { r.begin };
                let end = if r.end < 0 { days + r.end + 1 } else { r.end };
                // A range starting after the end of a short month does not spill into the next.
                if begin > days {
                    return false;
                }
                let begin = begin.clamp(-days, days);
                let end = end.clamp(-days, days);
                day >= begin && day <= end
            });
            if !matched {
                return false;
            }
        }
        let within =
            |ranges: &[InclusiveRange], v: i32| ranges.is_empty() || ranges.iter().any(|r| v >= r.begin && v <= r.end);
        within(&self.months, t.month() as i32)
            && within(&self.weekdays, t.weekday().num_days_from_sunday() as i32)
            && within(&self.years, t.year())
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    match (NaiveDate::from_ymd_opt(year, month, 1), NaiveDate::from_ymd_opt(ny, nm, 1)) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 31,
    }
}

/// The YAML form of a time interval.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTimeInterval {
    pub name: String,
    pub time_intervals: Vec<RawSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSpec {
    times: Vec<RawTimeRange>,
    weekdays: Vec<ScalarString>,
    days_of_month: Vec<ScalarString>,
    months: Vec<ScalarString>,
    years: Vec<ScalarString>,
    location: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTimeRange {
    start_time: String,
    end_time: String,
}

impl RawSpec {
    /// Parses and validates one spec; errors carry the field (relative path) they concern.
    pub(crate) fn parse(&self) -> Result<TimeIntervalSpec, (String, String)> {
        let mut spec = TimeIntervalSpec::default();
        for (i, t) in self.times.iter().enumerate() {
            spec.times.push(parse_time_range(t).map_err(|e| (format!("times[{i}]"), e))?);
        }
        for (i, w) in self.weekdays.iter().enumerate() {
            spec.weekdays.push(parse_weekday_range(&w.0).map_err(|e| (format!("weekdays[{i}]"), e))?);
        }
        for (i, d) in self.days_of_month.iter().enumerate() {
            spec.days_of_month.push(parse_day_of_month_range(&d.0).map_err(|e| (format!("days_of_month[{i}]"), e))?);
        }
        for (i, m) in self.months.iter().enumerate() {
            spec.months.push(parse_month_range(&m.0).map_err(|e| (format!("months[{i}]"), e))?);
        }
        for (i, y) in self.years.iter().enumerate() {
            spec.years.push(parse_year_range(&y.0).map_err(|e| (format!("years[{i}]"), e))?);
        }
        if let Some(loc) = &self.location {
            spec.location = Some(parse_location(loc).map_err(|e| ("location".to_string(), e))?);
        }
        Ok(spec)
    }
}

/// `time.LoadLocation`: `""` and `UTC` are UTC; `Local` is the machine's zone, which is UTC on
/// the machines Oxeye targets (containers without `/etc/localtime`).
pub fn parse_location(s: &str) -> Result<Tz, String> {
    match s {
        "" | "UTC" | "Local" => Ok(Tz::UTC),
        _ => s.parse::<Tz>().map_err(|_| format!("unknown time zone {s}")),
    }
}

/// `HH:MM`, `00:00` to `23:59`, or `24:00`; returns minutes since midnight.
fn parse_time(s: &str) -> Result<u32, String> {
    let bad = || format!("couldn't parse timestamp {s}, invalid format");
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
        return Err(bad());
    }
    let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_time_range(t: &RawTimeRange) -> Result<TimeRange, String> {
    if t.start_time.is_empty() || t.end_time.is_empty() {
        return Err("both start and end times must be provided".to_string());
    }
    let start = parse_time(&t.start_time)?;
    let end = parse_time(&t.end_time)?;
    if start >= end {
        return Err("start time cannot be equal or greater than end time".to_string());
    }
    Ok(TimeRange { start_minute: start, end_minute: end })
}

/// Splits `a:b` (or a single `a`) after lower-casing, as `stringableRangeFromString`.
fn split_range(s: &str) -> Result<(String, String), String> {
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split(':').collect();
    match parts.as_slice() {
        [one] => Ok((one.to_string(), one.to_string())),
        [a, b] => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("couldn't parse range {lower:?}, invalid format")),
    }
}

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn parse_weekday_range(s: &str) -> Result<InclusiveRange, String> {
    let (a, b) = split_range(s)?;
    let day = |d: &str| {
        WEEKDAYS.iter().position(|w| *w == d).map(|i| i as i32).ok_or_else(|| format!("{d} is not a valid weekday"))
    };
    let r = InclusiveRange { begin: day(&a)?, end: day(&b)? };
    if r.begin > r.end {
        return Err("start day cannot be before end day".to_string());
    }
    Ok(r)
}

fn parse_day_of_month_range(s: &str) -> Result<InclusiveRange, String> {
    let (a, b) = split_range(s)?;
    let num = |d: &str| d.parse::<i32>().map_err(|_| format!("{d} is not a valid day of the month"));
    let r = InclusiveRange { begin: num(&a)?, end: num(&b)? };
    for d in [r.begin, r.end] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(format!("{d} is not a valid day of the month: out of range"));
        }
    }
    if r.begin < 0 && r.end > 0 {
        return Err("end day must be negative if start day is negative".to_string());
    }
    // Negative days are checked against the shortest month, so ranges that are always empty
    // are caught.
    let check = |d: i32| if d < 0 { 28 + d } else { d };
    if check(r.begin) > check(r.end) {
        return Err(format!("end day {} is always before start day {}", r.end, r.begin));
    }
    Ok(r)
}

fn parse_month_range(s: &str) -> Result<InclusiveRange, String> {
    let (a, b) = split_range(s)?;
    let month = |m: &str| -> Result<i32, String> {
        if let Some(i) = MONTHS.iter().position(|n| *n == m) {
            return Ok(i as i32 + 1);
        }
        // Alertmanager 0.25 takes any integer here, even outside 1..=12 (such a range never
        // matches); accepting it keeps configs amtool accepts loadable.
        m.parse::<i32>().map_err(|_| format!("{m} is not a valid month"))
    };
    let r = InclusiveRange { begin: month(&a)?, end: month(&b)? };
    if r.begin > r.end {
        return Err(format!("end month {} is before start month {}", b, a));
    }
    Ok(r)
}

fn parse_year_range(s: &str) -> Result<InclusiveRange, String> {
    let (a, b) = split_range(s)?;
    let year = |y: &str| y.parse::<i32>().map_err(|_| format!("{y} is not a valid year"));
    let r = InclusiveRange { begin: year(&a)?, end: year(&b)? };
    if r.begin > r.end {
        return Err(format!("end year {} is before start year {}", r.end, r.begin));
    }
    Ok(r)
}

/// A UTC instant from a date and time in `tz`.
#[cfg(test)]
fn instant_in(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0).single().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Result<TimeIntervalSpec, String> {
        let raw: RawSpec = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
        raw.parse().map_err(|(_, e)| e)
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        instant_in(Tz::UTC, y, mo, d, h, mi).unwrap()
    }

    #[test]
    fn times_are_end_exclusive() {
        let s = spec("times: [{start_time: '09:00', end_time: '17:00'}, {start_time: '23:00', end_time: '24:00'}]")
            .unwrap();
        assert!(s.contains(utc(2024, 1, 1, 9, 0)));
        assert!(s.contains(utc(2024, 1, 1, 16, 59)));
        assert!(!s.contains(utc(2024, 1, 1, 17, 0)));
        assert!(!s.contains(utc(2024, 1, 1, 8, 59)));
        assert!(s.contains(utc(2024, 1, 1, 23, 59)));
    }

    #[test]
    fn weekdays_months_years() {
        let s = spec("weekdays: ['monday:friday']\nmonths: ['January', '3:april']\nyears: ['2024:2025']").unwrap();
        // 2024-01-01 was a Monday, 2024-01-06 a Saturday.
        assert!(s.contains(utc(2024, 1, 1, 12, 0)));
        assert!(!s.contains(utc(2024, 1, 6, 12, 0)));
        assert!(!s.contains(utc(2024, 2, 1, 12, 0)));
        assert!(s.contains(utc(2024, 4, 1, 12, 0)));
        assert!(!s.contains(utc(2026, 1, 5, 12, 0)));
    }

    #[test]
    fn negative_days_of_month_count_from_the_end() {
        let s = spec("days_of_month: ['-3:-1']").unwrap();
        assert!(s.contains(utc(2023, 2, 26, 0, 0)));
        assert!(!s.contains(utc(2023, 2, 25, 0, 0)));
        assert!(s.contains(utc(2024, 1, 29, 0, 0)));
        assert!(!s.contains(utc(2024, 1, 28, 0, 0)));
        let s = spec("days_of_month: ['30:31', 7]").unwrap();
        assert!(!s.contains(utc(2023, 2, 28, 0, 0)));
        assert!(s.contains(utc(2023, 3, 31, 0, 0)));
        assert!(s.contains(utc(2023, 3, 7, 0, 0)));
    }

    #[test]
    fn location_shifts_the_clock() {
        let s = spec("times: [{start_time: '09:00', end_time: '10:00'}]\nlocation: Australia/Sydney").unwrap();
        // 09:30 in Sydney on 2024-06-03 (AEST, UTC+10) is 23:30 UTC the day before.
        assert!(s.contains(utc(2024, 6, 2, 23, 30)));
        assert!(!s.contains(utc(2024, 6, 3, 9, 30)));
    }

    #[test]
    fn invalid_specs() {
        for (yaml, want) in [
            (
                "times: [{start_time: '10:00', end_time: '09:00'}]",
                "start time cannot be equal or greater than end time",
            ),
            ("times: [{start_time: '10:00'}]", "both start and end times must be provided"),
            ("times: [{start_time: '1:00', end_time: '09:00'}]", "couldn't parse timestamp 1:00, invalid format"),
            ("times: [{start_time: '00:00', end_time: '24:01'}]", "couldn't parse timestamp 24:01, invalid format"),
            ("weekdays: [funday]", "funday is not a valid weekday"),
            ("weekdays: ['friday:monday']", "start day cannot be before end day"),
            ("days_of_month: [0]", "0 is not a valid day of the month: out of range"),
            ("days_of_month: ['-1:5']", "end day must be negative if start day is negative"),
            ("days_of_month: ['10:2']", "end day 2 is always before start day 10"),
            ("months: [smarch]", "smarch is not a valid month"),
            ("location: Mars/Olympus", "unknown time zone Mars/Olympus"),
        ] {
            assert_eq!(spec(yaml).unwrap_err(), want, "{yaml}");
        }
    }
}
