//! Text promtool prints, byte for byte: Go's `time.Duration` strings, `strconv.FormatFloat(v,
//! 'E', -1, 64)`, the indented alert lists and sample lists of a failed test, and (for the
//! `--diff` mode) a line diff. Nothing here evaluates anything.

use std::fmt::Write as _;

use oxeye_model::Labels;

/// Go's `time.Duration.String` for a whole number of milliseconds (`0s`, `1m30s`, `1h0m0s`,
/// `1.5s`, `500ms`); promtool prints rule evaluation times this way.
pub(crate) fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if ms < 1000 {
        let _ = write!(out, "{ms}ms");
        return out;
    }
    let (h, m, s, frac) = (ms / 3_600_000, (ms / 60_000) % 60, (ms / 1000) % 60, ms % 1000);
    if h > 0 {
        let _ = write!(out, "{h}h{m}m");
    } else if m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}");
    if frac > 0 {
        let f = format!("{frac:03}");
        let _ = write!(out, ".{}", f.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: shortest round-trip digits, `1.5E+01`.
pub(crate) fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    // Rust's `{:E}` is shortest round-trip too; only the exponent is spelled differently.
    let s = format!("{v:E}");
    let Some((mant, exp)) = s.split_once('E') else { return s };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mant}E{sign}{digits:0>2}")
}

/// Prefixes every line but the first with `indent`, as promtool's `indentLines`.
pub(crate) fn indent_lines(lines: &str, indent: &str) -> String {
    let mut out = String::with_capacity(lines.len());
    for (i, l) in lines.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(l);
    }
    out
}

/// An alert as the test compares it: labels (with `alertname`) and expanded annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AlertEntry {
    pub labels: Labels,
    pub annotations: Labels,
}

/// promtool's rendering of a list of alerts: `[]`, or numbered `Labels:`/`Annotations:` pairs.
pub(crate) fn alerts_string(alerts: &[AlertEntry]) -> String {
    if alerts.is_empty() {
        return "[]".to_string();
    }
    let mut s = String::from("[");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let body = format!("\nLabels:{}\nAnnotations:{}", a.labels, a.annotations);
        let _ = write!(s, "\n{i}:{}", indent_lines(&body, "  "));
    }
    s.push_str("\n]");
    s
}

/// A query result sample as the test compares it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SampleEntry {
    pub labels: Labels,
    pub value: f64,
}

/// promtool's rendering of a sample list: `nil`, or `{labels} 1E+00` joined by `, `.
pub(crate) fn samples_string(samples: &[SampleEntry]) -> String {
    if samples.is_empty() {
        return "nil".to_string();
    }
    samples.iter().map(|s| format!("{} {}", s.labels, go_float_e(s.value))).collect::<Vec<_>>().join(", ")
}

/// A minimal line diff (longest common subsequence) of `exp` against `got`: unchanged lines
/// start with two spaces, removed ones with `- `, added ones with `+ `.
pub(crate) fn line_diff(exp: &str, got: &str) -> String {
    let a: Vec<&str> = exp.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(90_000), "1m30s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(1_500), "1.5s");
        assert_eq!(go_duration(1_250), "1.25s");
        assert_eq!(go_duration(500), "500ms");
        assert_eq!(go_duration(-60_000), "-1m0s");
    }

    #[test]
    fn floats_like_go_format_e() {
        assert_eq!(go_float_e(0.0), "0E+00");
        assert_eq!(go_float_e(1.0), "1E+00");
        assert_eq!(go_float_e(-5.0), "-5E+00");
        assert_eq!(go_float_e(15.0), "1.5E+01");
        assert_eq!(go_float_e(0.000123), "1.23E-04");
        assert_eq!(go_float_e(1e100), "1E+100");
        assert_eq!(go_float_e(0.1 + 0.2), "3.0000000000000004E-01");
        assert_eq!(go_float_e(f64::NAN), "NaN");
        assert_eq!(go_float_e(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn alert_lists_render_like_promtool() {
        assert_eq!(alerts_string(&[]), "[]");
        let a = AlertEntry {
            labels: Labels::from_pairs([("alertname", "A"), ("job", "x")]),
            annotations: Labels::from_pairs([("summary", "s")]),
        };
        let b = AlertEntry { labels: Labels::from_pairs([("alertname", "A")]), annotations: Labels::empty() };
        let s = indent_lines(&alerts_string(&[a, b]), "            ");
        let want = "[\n            0:\n              Labels:{alertname=\"A\", job=\"x\"}\n              \
                    Annotations:{summary=\"s\"},\n            1:\n              Labels:{alertname=\"A\"}\n              \
                    Annotations:{}\n            ]";
        assert_eq!(s, want);
    }

    #[test]
    fn sample_lists_render_like_promtool() {
        assert_eq!(samples_string(&[]), "nil");
        let s = [
            SampleEntry { labels: Labels::from_pairs([("__name__", "up")]), value: 1.0 },
            SampleEntry { labels: Labels::empty(), value: 2.5 },
        ];
        assert_eq!(samples_string(&s), "{__name__=\"up\"} 1E+00, {} 2.5E+00");
    }

    #[test]
    fn diff_marks_changed_lines() {
        assert_eq!(line_diff("a\nb\nc", "a\nx\nc"), "  a\n- b\n+ x\n  c");
        assert_eq!(line_diff("", "a"), "+ a");
    }
}
