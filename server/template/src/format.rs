//! Go `fmt` / `time` output forms that templates print: `%v` and `%.4g` floats, `fmt.Sprint` of
//! lists and maps, `time.Time.String()` in UTC and `time.Duration.String()`. Pure string
//! functions; nothing here knows about templates or Prometheus data.

use gotmpl::Value;

/// Formats a float the way Go's `fmt` prints `%v` of a float64: shortest digits, `%e` form when
/// the exponent is below -4 or at least 6 (`1e+06`), and `+Inf`, `-Inf`, `NaN`.
pub fn format_float(v: f64) -> String {
    if let Some(s) = non_finite(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = split_exp(&sci);
    if !(-4..6).contains(&exp) { go_exponent(mantissa, exp) } else { format!("{v}") }
}

/// Formats a float like Go's `%.<prec>g`: `prec` significant digits, trailing zeros removed,
/// `%e` form when the exponent is below -4 or at least `prec`.
pub fn format_g(v: f64, prec: usize) -> String {
    if let Some(s) = non_finite(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = split_exp(&sci);
    if exp < -4 || exp >= prec as i32 {
        go_exponent(trim_zeros(mantissa), exp)
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

fn split_exp(sci: &str) -> (&str, i32) {
    match sci.split_once('e') {
        Some((m, e)) => (m, e.parse().unwrap_or(0)),
        None => (sci, 0),
    }
}

fn go_exponent(mantissa: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

/// `fmt.Sprint` of one value as Go would print the equivalent Go value (floats in `%v` form,
/// `[a b]` lists, `map[k:v]` maps, `<nil>`).
pub fn sprint_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::String(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, item);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `fmt.Sprint(args...)`: a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !matches!(args[i - 1], Value::String(_)) && !matches!(arg, Value::String(_)) {
            out.push(' ');
        }
        write_value(&mut out, arg);
    }
    out
}

/// `fmt.Sprintln(args...)`: operands always separated by spaces, newline appended.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(sprint_value).collect();
    let mut out = parts.join(" ");
    out.push('\n');
    out
}

/// Go's `time.Time.String()` of a UTC instant given in milliseconds since the epoch, e.g.
/// `2015-06-23 13:19:44.128 +0000 UTC`.
pub fn format_time_ms(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => {
            let frac_ms = ms.rem_euclid(1000);
            let frac = if frac_ms == 0 {
                String::new()
            } else {
                format!(".{}", format!("{frac_ms:03}").trim_end_matches('0'))
            };
            format!("{}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
        }
        None => format!("{ms}ms since epoch (out of range)"),
    }
}

/// Go's `time.Duration.String()` for a duration in nanoseconds: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn format_go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    if u < 1_000_000_000 {
        let (scaled, unit) = if u < 1_000 {
            (u.to_string(), "ns")
        } else if u < 1_000_000 {
            (fraction(u, 3), "µs")
        } else {
            (fraction(u, 6), "ms")
        };
        return format!("{sign}{scaled}{unit}");
    }
    let secs_total = u / 1_000_000_000;
    let secs = fraction(u % 60_000_000_000, 9);
    let mins = (secs_total / 60) % 60;
    let hours = secs_total / 3600;
    if hours > 0 {
        format!("{sign}{hours}h{mins}m{secs}s")
    } else if mins > 0 {
        format!("{sign}{mins}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// `v / 10^digits` printed with the fraction's trailing zeros (and a bare point) removed.
fn fraction(v: u64, digits: u32) -> String {
    let div = 10u64.pow(digits);
    let int = v / div;
    let frac = v % div;
    if frac == 0 {
        return int.to_string();
    }
    let f = format!("{frac:0width$}", width = digits as usize);
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// Parses Go's `time.Duration.String()` form back to seconds (`1m0.1s` -> 60.1), so durations
/// made by `toDuration` convert to floats as `time.Duration` values do in Prometheus.
pub fn parse_go_duration_seconds(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_v_matches_go() {
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (-2.25, "-2.25"),
            (1e21, "1e+21"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v), want, "format_float({v})");
        }
    }

    #[test]
    fn float_g4_matches_go() {
        let cases = [
            (1234.5678, "1235"),
            (12345.678, "1.235e+04"),
            (9999.6, "1e+04"),
            (0.12, "0.12"),
            (0.0001234, "0.0001234"),
            (0.00001234, "1.234e-05"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-22.222, "-22.22"),
            (0.0, "0"),
        ];
        for (v, want) in cases {
            assert_eq!(format_g(v, 4), want, "%.4g of {v}");
        }
    }

    #[test]
    fn go_duration_strings() {
        let s = 1_000_000_000i64;
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(100), "100ns");
        assert_eq!(format_go_duration(1_500), "1.5µs");
        assert_eq!(format_go_duration(1_500_000), "1.5ms");
        assert_eq!(format_go_duration(s), "1s");
        assert_eq!(format_go_duration(60 * s + s / 10), "1m0.1s");
        assert_eq!(format_go_duration(3600 * s), "1h0m0s");
        assert_eq!(format_go_duration(-(90 * s)), "-1m30s");
        assert_eq!(format_go_duration(72 * 3600 * s), "72h0m0s");
        assert_eq!(parse_go_duration_seconds("1m0.1s"), Some(60.1));
        assert_eq!(parse_go_duration_seconds("1h0m0s"), Some(3600.0));
        assert_eq!(parse_go_duration_seconds("abc"), None);
    }

    #[test]
    fn go_time_strings() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(format_time_ms(1435065584128), "2015-06-23 13:19:44.128 +0000 UTC");
        assert_eq!(format_time_ms(1435065584100), "2015-06-23 13:19:44.1 +0000 UTC");
        assert_eq!(format_time_ms(-1000), "1969-12-31 23:59:59 +0000 UTC");
    }

    #[test]
    fn sprint_spacing() {
        let args = [Value::Int(1), Value::Int(2), Value::from("a"), Value::Float(1e6)];
        assert_eq!(sprint(&args), "1 2a1e+06");
        assert_eq!(sprintln(&args), "1 2 a 1e+06\n");
    }
}
