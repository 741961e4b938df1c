//! JSON encoding of query results exactly as Prometheus writes them: `[<unix seconds>, "<value>"]`
//! pairs where the timestamp has at most millisecond digits and the value uses Go's
//! `strconv.FormatFloat(v, 'f', -1, 64)` (with `+Inf`, `-Inf`, `NaN`). Written by hand because
//! result sets are large and the format is fixed.

use std::fmt::Write;

use oxeye_model::{Labels, Series};
use oxeye_promql::{InstantSample, Value};

/// Go's `FormatFloat(v, 'f', -1, 64)`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's Display for f64 is the shortest round-trip form without an exponent, which is
        // what 'f' with precision -1 produces in Go.
        format!("{v}")
    }
}

/// Appends a millisecond timestamp as Unix seconds with up to three decimals, trimmed.
pub fn write_timestamp(out: &mut String, t: i64) {
    let secs = t.div_euclid(1000);
    let ms = t.rem_euclid(1000);
    if ms == 0 {
        let _ = write!(out, "{secs}");
    } else if secs < 0 && ms != 0 {
        // -0.5 s is secs=-1, ms=500; print the real decimal value.
        let v = t as f64 / 1000.0;
        let _ = write!(out, "{v}");
    } else {
        let frac = format!("{ms:03}");
        let _ = write!(out, "{secs}.{}", frac.trim_end_matches('0'));
    }
}

pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_str(out, &l.name);
        out.push(':');
        write_json_str(out, &l.value);
    }
    out.push('}');
}

fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",\"");
    out.push_str(&format_value(v));
    out.push_str("\"]");
}

fn write_vector(out: &mut String, v: &[InstantSample]) {
    out.push('[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        write_labels(out, &s.labels);
        out.push_str(",\"value\":");
        write_point(out, s.t, s.v);
        out.push('}');
    }
    out.push(']');
}

fn write_matrix(out: &mut String, m: &[Series]) {
    out.push('[');
    for (i, s) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        write_labels(out, &s.labels);
        out.push_str(",\"values\":[");
        for (j, p) in s.samples.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_point(out, p.t, p.v);
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// The `data` object of a query response: `{"resultType":..., "result":...}`.
pub fn write_query_data(out: &mut String, value: &Value) {
    match value {
        Value::Scalar { t, v } => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":");
            write_point(out, *t, *v);
        }
        Value::String { t, v } => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            write_timestamp(out, *t);
            out.push(',');
            write_json_str(out, v);
            out.push(']');
        }
        Value::Vector(v) => {
            out.push_str("{\"resultType\":\"vector\",\"result\":");
            write_vector(out, v);
        }
        Value::Matrix(m) => {
            out.push_str("{\"resultType\":\"matrix\",\"result\":");
            write_matrix(out, m);
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_format_like_go() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(-2.5), "-2.5");
    }

    #[test]
    fn timestamps_format_like_prometheus() {
        let f = |t| {
            let mut s = String::new();
            write_timestamp(&mut s, t);
            s
        };
        assert_eq!(f(1_435_781_451_781), "1435781451.781");
        assert_eq!(f(1_435_781_451_000), "1435781451");
        assert_eq!(f(1_435_781_451_100), "1435781451.1");
        assert_eq!(f(-500), "-0.5");
        assert_eq!(f(0), "0");
    }
}
