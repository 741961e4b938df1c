//! Prometheus's humanizing number formatters (`humanize`, `humanize1024`, `humanizeDuration`,
//! `humanizePercentage`, `humanizeTimestamp`) as plain Rust functions over `f64`. Output matches
//! Prometheus 3.x byte for byte; nothing here knows about templates.

use crate::format::{format_g, format_time_ms};

const BIG_SI: [&str; 8] = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
const SMALL_SI: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];
const BIG_IEC: [&str; 8] = ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];

/// Scales `v` below 1000 (or up to at least 1) with an SI prefix, 4 significant digits:
/// `1234567` -> `1.235M`, `0.12` -> `120m`.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g(v, 4);
    }
    let (v, prefix) = if v.abs() >= 1.0 { scale_down(v, 1000.0, &BIG_SI) } else { scale_up(v) };
    format!("{}{prefix}", format_g(v, 4))
}

/// Like [`humanize`] with base 1024 and IEC prefixes: `1048576` -> `1Mi`. Values of magnitude at
/// most 1 are printed unscaled.
pub fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_g(v, 4);
    }
    let (v, prefix) = scale_down(v, 1024.0, &BIG_IEC);
    format!("{}{prefix}", format_g(v, 4))
}

fn scale_down(mut v: f64, base: f64, prefixes: &[&'static str]) -> (f64, &'static str) {
    let mut prefix = "";
    for p in prefixes {
        if v.abs() < base {
            break;
        }
        prefix = p;
        v /= base;
    }
    (v, prefix)
}

fn scale_up(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in SMALL_SI {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

/// Seconds as `1d 2h 3m 4s`, `1h 0m 0s`, `1m 0s`, `12.35s`, `123.5ms`, `100us`, `0s`.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return format_g(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", format_g(v, 4));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        // Go converts with int64(v); `as` saturates where Go's result is unspecified.
        let total = v as i64;
        let seconds = total % 60;
        let minutes = (total / 60) % 60;
        let hours = (total / 3600) % 24;
        let days = total / 86400;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", format_g(v, 4));
    }
    let (v, prefix) = scale_up(v);
    format!("{}{prefix}s", format_g(v, 4))
}

/// A ratio as a percentage with 4 significant digits: `0.1234567` -> `12.35%`.
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", format_g(v * 100.0, 4))
}

/// Unix seconds as Go prints a UTC `time.Time` (`2015-06-23 13:19:44.128 +0000 UTC`), at
/// millisecond precision like Prometheus's `model.Time`. NaN and infinities print as numbers.
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Ok(format_g(v, 4));
    }
    Ok(format_time_ms(seconds_to_millis(v)?))
}

/// Converts Unix seconds to milliseconds the way Prometheus does (`v*1e9` nanoseconds, truncated
/// to milliseconds), failing where the nanoseconds overflow int64.
pub fn seconds_to_millis(v: f64) -> Result<i64, String> {
    if !v.is_finite() {
        return Err(format!("cannot convert {} to time", crate::format::format_float(v)));
    }
    let ns = v * 1e9;
    // i64::MAX as f64 rounds up to 2^63, so `>=` is the faithful overflow check.
    if ns >= i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            crate::format::format_float(v)
        ));
    }
    Ok((ns as i64) / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_table() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (1234567.0, "1.235M"),
            (0.12, "120m"),
            (-1234.0, "-1.234k"),
            (1e-9, "1n"),
            (1e27, "1000Y"),
            (999.9999, "1000"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(humanize(v), want, "humanize({v})");
        }
    }

    #[test]
    fn humanize_1024_table() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (1048576.0, "1Mi"),
            (0.12, "0.12"),
            (1024.0, "1ki"),
            (1536.0, "1.5ki"),
            (-2048.0, "-2ki"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(humanize_1024(v), want, "humanize1024({v})");
        }
    }

    #[test]
    fn humanize_duration_table() {
        let cases = [
            (0.0, "0s"),
            (1.0, "1s"),
            (60.0, "1m 0s"),
            (3600.0, "1h 0m 0s"),
            (86400.0, "1d 0h 0m 0s"),
            (86400.0 + 3600.0, "1d 1h 0m 0s"),
            (-(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), "-2d 3h 4m 5s"),
            (899.99, "14m 59s"),
            (0.1, "100ms"),
            (0.0001, "100us"),
            (0.12345, "123.5ms"),
            (60.1, "1m 0s"),
            (60.5, "1m 0s"),
            (1.2345, "1.234s"),
            (12.345, "12.35s"),
            (-1.0, "-1s"),
            (1234567.0, "14d 6h 56m 7s"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(humanize_duration(v), want, "humanizeDuration({v})");
        }
    }

    #[test]
    fn humanize_percentage_table() {
        let cases = [(-0.22222, "-22.22%"), (0.0, "0%"), (0.1234567, "12.35%"), (1.23456, "123.5%")];
        for (v, want) in cases {
            assert_eq!(humanize_percentage(v), want, "humanizePercentage({v})");
        }
    }

    #[test]
    fn humanize_timestamp_table() {
        let cases = [
            (0.0, "1970-01-01 00:00:00 +0000 UTC"),
            (-1.0, "1969-12-31 23:59:59 +0000 UTC"),
            (1.0, "1970-01-01 00:00:01 +0000 UTC"),
            (1234567.0, "1970-01-15 06:56:07 +0000 UTC"),
            (9223372036.0, "2262-04-11 23:47:16 +0000 UTC"),
            (1435065584.128, "2015-06-23 13:19:44.128 +0000 UTC"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(humanize_timestamp(v).as_deref(), Ok(want), "humanizeTimestamp({v})");
        }
        assert!(humanize_timestamp(i64::MAX as f64).is_err());
    }
}
