//! Go's `time.Time` as notification templates see it: a zoned instant that prints like Go's
//! `Time.String()`, formats with Go reference layouts (`2006-01-02T15:04:05Z07:00`) and marshals
//! to JSON as RFC 3339 with nanoseconds. Knows nothing about templates or alerts.

use chrono::{DateTime, Datelike, FixedOffset, Offset, TimeZone, Timelike, Utc};
use chrono_tz::OffsetName;

/// Go's `time.RFC3339Nano`, the layout `encoding/json` uses for `time.Time`.
pub const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";
/// The layout of Go's `Time.String()`.
pub const GO_STRING_LAYOUT: &str = "2006-01-02 15:04:05.999999999 -0700 MST";

/// Where a template time is displayed: UTC, the process's local zone, or an IANA zone (`tz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Local,
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The zone's name as Go's `Location.String()` gives it.
    pub fn name(&self) -> String {
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Local => "Local".into(),
            Zone::Named(tz) => tz.name().into(),
        }
    }

    /// Parses a name given to `tz` (Go's `time.LoadLocation`): "" and "UTC" are UTC, "Local" the
    /// local zone, anything else an IANA name.
    pub fn load(name: &str) -> Result<Zone, String> {
        match name {
            "" | "UTC" => Ok(Zone::Utc),
            "Local" => Ok(Zone::Local),
            other => other.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| format!("unknown time zone {other}")),
        }
    }
}

/// A zoned instant, the template counterpart of Go's `time.Time`.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTime {
    pub instant: DateTime<Utc>,
    pub zone: Zone,
}

impl GoTime {
    pub fn utc(instant: DateTime<Utc>) -> Self {
        GoTime { instant, zone: Zone::Utc }
    }

    /// Go's zero `time.Time` (January 1, year 1, 00:00:00 UTC).
    pub fn zero_instant() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn is_zero(&self) -> bool {
        self.instant == Self::zero_instant()
    }

    /// The wall clock in the zone and the zone's abbreviation (Go's `MST` element).
    fn local(&self) -> (DateTime<FixedOffset>, String) {
        match &self.zone {
            Zone::Utc => (self.instant.fixed_offset(), "UTC".into()),
            Zone::Local => {
                let t = self.instant.with_timezone(&chrono::Local);
                let off = t.offset().fix();
                let abbr = if off.local_minus_utc() == 0 { "UTC".to_string() } else { numeric_abbr(off) };
                (t.with_timezone(&off), abbr)
            }
            Zone::Named(tz) => {
                let t = self.instant.with_timezone(tz);
                let abbr = t.offset().abbreviation().map(str::to_string);
                let off = t.offset().fix();
                (t.with_timezone(&off), abbr.unwrap_or_else(|| numeric_abbr(off)))
            }
        }
    }

    /// Formats with a Go reference layout, as `Time.Format`.
    pub fn format(&self, layout: &str) -> String {
        let (t, abbr) = self.local();
        format_layout(&t, &abbr, layout)
    }
}

impl std::fmt::Display for GoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format(GO_STRING_LAYOUT))
    }
}

/// Go names a zone without an abbreviation by its offset: "+03", "-0330".
fn numeric_abbr(off: FixedOffset) -> String {
    let secs = off.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() / 60 % 60);
    if m == 0 { format!("{sign}{h:02}") } else { format!("{sign}{h:02}{m:02}") }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Go's English month name for month 1..=12.
pub fn month_name(m: u32) -> &'static str {
    MONTHS.get(m.saturating_sub(1) as usize).copied().unwrap_or("%!Month")
}

/// Go's English weekday name, Sunday = 0.
pub fn weekday_name(d: u32) -> &'static str {
    DAYS.get(d as usize).copied().unwrap_or("%!Weekday")
}

/// One element of a Go layout.
enum Chunk {
    Std(&'static str),
    /// Fractional seconds: `.000` (fixed digits) or `.999` (trailing zeros trimmed).
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

/// The reference-time tokens Go recognises, longest first where prefixes overlap.
const TOKENS: [&str; 29] = [
    "January",
    "Jan",
    "Monday",
    "Mon",
    "MST",
    "2006",
    "002",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "_2",
    "15",
    "1",
    "2",
    "3",
    "4",
    "5",
    "PM",
    "pm",
    "-07:00:00",
    "-0700",
    "-07:00",
    "-07",
    "Z07:00:00",
    "Z0700",
    "Z07:00",
];

fn next_chunk(s: &str) -> Option<(usize, Chunk, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Fractional seconds: [.,] followed by 0s or 9s, not followed by another digit.
        if (b[i] == b'.' || b[i] == b',') && i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') {
            let d = b[i + 1];
            let mut j = i + 1;
            while j < b.len() && b[j] == d {
                j += 1;
            }
            if j >= b.len() || !b[j].is_ascii_digit() {
                let chunk = Chunk::Frac { digits: j - i - 1, trim: d == b'9', sep: b[i] as char };
                return Some((i, chunk, j));
            }
        }
        let rest = &s[i..];
        for tok in TOKENS {
            if !rest.starts_with(tok) {
                continue;
            }
            // Go: "Jan"/"Mon" only count when not followed by a lower-case letter ("Janet").
            let after = rest.as_bytes().get(tok.len()).copied();
            let lower_follows = after.is_some_and(|c| c.is_ascii_lowercase());
            if matches!(tok, "Jan" | "Mon") && lower_follows {
                continue;
            }
            // "2006" wins over "2"; "01"/"02" etc. are matched before "1"/"2" by list order.
            return Some((i, Chunk::Std(tok), i + tok.len()));
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    None
}

fn format_layout(t: &DateTime<FixedOffset>, abbr: &str, layout: &str) -> String {
    let mut out = String::new();
    let mut rest = layout;
    while let Some((start, chunk, end)) = next_chunk(rest) {
        out.push_str(&rest[..start]);
        match chunk {
            Chunk::Frac { digits, trim, sep } => {
                let ns = format!("{:09}", t.nanosecond() % 1_000_000_000);
                let mut frac = ns[..digits.min(9)].to_string();
                if trim {
                    while frac.ends_with('0') {
                        frac.pop();
                    }
                }
                if !frac.is_empty() {
                    out.push(sep);
                    out.push_str(&frac);
                }
            }
            Chunk::Std(tok) => std_token(&mut out, t, abbr, tok),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn std_token(out: &mut String, t: &DateTime<FixedOffset>, abbr: &str, tok: &str) {
    use std::fmt::Write;
    let hour12 = |h: u32| if h.is_multiple_of(12) { 12 } else { h % 12 };
    let off = t.offset().local_minus_utc();
    let zone = |out: &mut String, z: bool, colon: bool, secs: bool, minutes: bool| -> std::fmt::Result {
        if z && off == 0 {
            out.push('Z');
            return Ok(());
        }
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        let _ = write!(out, "{sign}{:02}", a / 3600);
        if minutes {
            if colon {
                out.push(':');
            }
            let _ = write!(out, "{:02}", a / 60 % 60);
        }
        if secs {
            if colon {
                out.push(':');
            }
            let _ = write!(out, "{:02}", a % 60);
        }
        Ok(())
    };
    let _ = match tok {
        "January" => write!(out, "{}", month_name(t.month())),
        "Jan" => write!(out, "{}", &month_name(t.month())[..3]),
        "Monday" => write!(out, "{}", weekday_name(t.weekday().num_days_from_sunday())),
        "Mon" => write!(out, "{}", &weekday_name(t.weekday().num_days_from_sunday())[..3]),
        "MST" => write!(out, "{abbr}"),
        "2006" => write!(out, "{:04}", t.year()),
        "06" => write!(out, "{:02}", t.year().rem_euclid(100)),
        "002" => write!(out, "{:03}", t.ordinal()),
        "01" => write!(out, "{:02}", t.month()),
        "1" => write!(out, "{}", t.month()),
        "02" => write!(out, "{:02}", t.day()),
        "_2" => write!(out, "{:>2}", t.day()),
        "2" => write!(out, "{}", t.day()),
        "15" => write!(out, "{:02}", t.hour()),
        "03" => write!(out, "{:02}", hour12(t.hour())),
        "3" => write!(out, "{}", hour12(t.hour())),
        "04" => write!(out, "{:02}", t.minute()),
        "4" => write!(out, "{}", t.minute()),
        "05" => write!(out, "{:02}", t.second()),
        "5" => write!(out, "{}", t.second()),
        "PM" => write!(out, "{}", if t.hour() >= 12 { "PM" } else { "AM" }),
        "pm" => write!(out, "{}", if t.hour() >= 12 { "pm" } else { "am" }),
        "-07:00:00" => zone(out, false, true, true, true),
        "-0700" => zone(out, false, false, false, true),
        "-07:00" => zone(out, false, true, false, true),
        "-07" => zone(out, false, false, false, false),
        "Z07:00:00" => zone(out, true, true, true, true),
        "Z0700" => zone(out, true, false, false, true),
        "Z07:00" => zone(out, true, true, false, true),
        other => write!(out, "{other}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> GoTime {
        GoTime::utc(DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default())
    }

    #[test]
    fn string_matches_go() {
        assert_eq!(t("2009-11-10T23:00:00Z").to_string(), "2009-11-10 23:00:00 +0000 UTC");
        assert_eq!(t("2009-11-10T23:00:00.5Z").to_string(), "2009-11-10 23:00:00.5 +0000 UTC");
        assert_eq!(GoTime::utc(GoTime::zero_instant()).to_string(), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn layouts() {
        let x = t("2022-03-04T05:06:07.123Z");
        assert_eq!(x.format(RFC3339_NANO), "2022-03-04T05:06:07.123Z");
        assert_eq!(x.format("2006-01-02"), "2022-03-04");
        assert_eq!(x.format("Mon Jan _2 15:04:05 2006"), "Fri Mar  4 05:06:07 2022");
        assert_eq!(x.format("3:04PM .000"), "5:06AM .123");
        assert_eq!(x.format("January 2, 2006 MST -07:00"), "March 4, 2022 UTC +00:00");
        let paris = GoTime { zone: Zone::load("Europe/Paris").unwrap_or(Zone::Utc), ..x };
        assert_eq!(paris.format("15:04 MST Z07:00"), "06:06 CET +01:00");
    }
}
