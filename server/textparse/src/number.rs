//! Number syntax of the two formats: sample values, timestamps, and the canonical float form
//! Prometheus 3 rewrites `le` / `quantile` label values into. Pure functions over `&str`.

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Exact decimal conversion for the common short forms (`0`, `17`, `0.5`, `1.5e3`): the mantissa
/// and the power of ten are both exact in f64, so one multiply or divide rounds correctly
/// (Clinger's fast path). `None` hands the input to the general parser.
fn fast_decimal(b: &[u8]) -> Option<f64> {
    let (neg, mut i) = match b.first()? {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let mut m: u64 = 0;
    let mut exp: i32 = 0;
    let mut digits = 0usize;
    while i < b.len() && b[i].is_ascii_digit() {
        m = m * 10 + u64::from(b[i] - b'0');
        if m >= 1 << 53 {
            return None;
        }
        digits += 1;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            m = m * 10 + u64::from(b[i] - b'0');
            if m >= 1 << 53 {
                return None;
            }
            exp = exp.saturating_sub(1);
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i32 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            if e > 1000 {
                return None;
            }
            e = e * 10 + i32::from(b[i] - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        exp = exp.saturating_add(if eneg { -e } else { e });
    }
    if i != b.len() {
        return None;
    }
    let mf = m as f64;
    let v = if exp == 0 {
        mf
    } else if (1..=22).contains(&exp) {
        mf * POW10[exp as usize]
    } else if (-22..0).contains(&exp) {
        mf / POW10[(-exp) as usize]
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// True when `s` spells infinity or NaN rather than digits.
fn is_special(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    t.eq_ignore_ascii_case("inf") || t.eq_ignore_ascii_case("infinity") || t.eq_ignore_ascii_case("nan")
}

/// Go's `strconv.ParseFloat` as Prometheus's `parseFloat` wraps it: decimal floats, `inf` /
/// `infinity` with an optional sign and unsigned `nan` in any case; no `p`, `P` or `_` (so no hex
/// floats); values that overflow f64 are an error, as Go's `ErrRange` is for Prometheus.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    if let Some(v) = fast_decimal(s.as_bytes()) {
        return Some(v);
    }
    if s.bytes().any(|c| matches!(c, b'p' | b'P' | b'_' | b'x' | b'X')) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() && (s.starts_with('+') || s.starts_with('-')) {
        return None;
    }
    if v.is_infinite() && !is_special(s) {
        return None;
    }
    Some(v)
}

/// An OpenMetrics `number`: a real number, `[sign] inf|infinity` or `nan`, case-insensitive.
pub(crate) fn parse_om_number(s: &str) -> Option<f64> {
    if let Some(v) = fast_decimal(s.as_bytes()) {
        return Some(v);
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() && (s.starts_with('+') || s.starts_with('-')) {
        return None;
    }
    Some(v)
}

/// An OpenMetrics `realnumber` (timestamps): decimal digits only, never inf or NaN.
pub(crate) fn parse_om_realnumber(s: &str) -> Option<f64> {
    if let Some(v) = fast_decimal(s.as_bytes()) {
        return Some(v);
    }
    if is_special(s) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Seconds (OpenMetrics) to milliseconds, truncating toward zero like upstream's `int64(ts*1000)`.
/// Out-of-range values saturate (Go's conversion is undefined there).
pub(crate) fn seconds_to_ms(s: f64) -> i64 {
    (s * 1000.0) as i64
}

/// Prometheus 3's `formatOpenMetricsFloat`: Go's `strconv.FormatFloat(f, 'g', -1, 64)` plus a
/// trailing `.0` when the result has neither a point nor an exponent (`1` -> `1.0`).
pub(crate) fn format_openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Go's precision -1 does.
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(24);
    if f.is_sign_negative() {
        out.push('-');
    }
    // Go uses %e when exp < -4 || exp >= 6 for the shortest representation.
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
        return out;
    }
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
        return out;
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        out.push_str(&digits);
        for _ in digits.len()..int_len {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..int_len]);
        out.push('.');
        out.push_str(&digits[int_len..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_syntax() {
        for (s, v) in [
            ("0", 0.0),
            ("17", 17.0),
            ("-1.5", -1.5),
            ("1.5e3", 1500.0),
            ("1E3", 1000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("2.478268416e+09", 2478268416.0),
            ("0.013300656000000001", 0.013300656000000001),
            ("1e-400", 0.0),
        ] {
            assert_eq!(parse_go_float(s), Some(v), "{s}");
        }
        assert!(parse_go_float("NaN").is_some_and(f64::is_nan));
        assert!(parse_go_float("nan").is_some_and(f64::is_nan));
        for s in ["", "-", ".", "e5", "1e", "0x1p-3", "0x10", "1_000", "+NaN", "-nan", "1e400", "abc", "1.2.3", "1 "] {
            assert_eq!(parse_go_float(s), None, "{s:?}");
        }
    }

    #[test]
    fn fast_path_agrees_with_std() {
        for s in ["0.1", "0.3", "123.456", "9007199254740991", "1e22", "1e-22", "4.35", "-0", "0000001.2e-1"] {
            assert_eq!(fast_decimal(s.as_bytes()).map(f64::to_bits), s.parse::<f64>().ok().map(f64::to_bits), "{s}");
        }
    }

    #[test]
    fn openmetrics_numbers() {
        assert_eq!(parse_om_number("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_om_realnumber("Inf"), None);
        assert_eq!(parse_om_realnumber("NaN"), None);
        assert_eq!(parse_om_realnumber("0x1p-3"), None);
        assert_eq!(parse_om_realnumber("1.5e3"), Some(1500.0));
        assert_eq!(seconds_to_ms(1.1), 1100);
        assert_eq!(seconds_to_ms(1e30), i64::MAX);
    }

    #[test]
    fn canonical_float_format_matches_go() {
        for (v, s) in [
            (0.0, "0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.25, "0.25"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (1.1e-4, "0.00011"),
            (10.0, "10.0"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1555555.55555552, "1.55555555555552e+06"),
            (1e23, "1e+23"),
            (1e10, "1e+10"),
            (1e-11, "1e-11"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(format_openmetrics_float(v), s, "{v}");
        }
    }
}
