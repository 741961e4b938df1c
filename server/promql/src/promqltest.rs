//! The Prometheus PromQL test-script runner (`promql/promqltest` format): `load` blocks with the
//! expanding value notation, `clear`, and `eval`/`eval_fail`/`eval_warn`/`eval_info`/
//! `eval_ordered` commands checked against `MemStorage`. Each command's primary evaluation is
//! counted in `evals_*`; like upstream, instant evals are also re-run as a range query ending at
//! the same instant, counted separately in `range_checks_*` (shifted `@` re-runs are not done).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use oxeye_model::storage::memory::MemStorage;
use oxeye_model::{Appendable, Labels, METRIC_NAME, STALE_NAN, Series, is_stale_nan};

use crate::quantile::almost_equal;
use crate::{Engine, EngineOptions, QueryResult, Value};

/// Relative tolerance for sample values, as upstream's `defaultEpsilon`.
const EPSILON: f64 = 1e-6;

/// The outcome of one test file.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub evals_total: usize,
    pub evals_passed: usize,
    /// One entry per failed eval: `line N: <expr>: <what differed>`.
    pub failures: Vec<String>,
    /// Instant evals re-run in range mode (last step compared with the instant result).
    pub range_checks_total: usize,
    pub range_checks_passed: usize,
    pub range_check_failures: Vec<String>,
}

/// Runs one `.test` file. An unreadable file is reported as a single failure.
pub fn run_file(path: &Path) -> FileReport {
    match std::fs::read_to_string(path) {
        Ok(s) => run_script(&s),
        Err(e) => {
            FileReport { evals_total: 1, failures: vec![format!("{}: {e}", path.display())], ..FileReport::default() }
        }
    }
}

/// Runs every `*.test` file in `dir`, sorted by name.
pub fn run_dir(dir: &Path) -> Vec<(String, FileReport)> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => {
            rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "test")).collect()
        }
        Err(_) => Vec::new(),
    };
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name, run_file(&p))
        })
        .collect()
}

/// One value of a series description: a sample or a gap.
#[derive(Debug, Clone, Copy)]
enum SeqValue {
    Omitted,
    Value(f64),
}

/// Runs a whole script given as text.
pub fn run_script(input: &str) -> FileReport {
    let lines: Vec<String> = input
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { String::new() } else { l.to_string() }
        })
        .collect();
    let engine = Engine::new(EngineOptions::default());
    let mut storage = MemStorage::new();
    let mut report = FileReport::default();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if line.is_empty() {
            i += 1;
            continue;
        }
        let word = line.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        let lineno = i + 1;
        if word == "clear" {
            storage = MemStorage::new();
            i += 1;
        } else if word.starts_with("load") {
            let mut block = Vec::new();
            let mut j = i + 1;
            while j < lines.len() && !lines[j].is_empty() {
                block.push(lines[j].as_str());
                j += 1;
            }
            if let Err(e) = load(&storage, line, &block) {
                report.failures.push(format!("line {lineno}: load failed: {e}"));
            }
            i = j;
        } else if word.starts_with("eval") {
            let mut block = Vec::new();
            let mut j = i + 1;
            while j < lines.len() && !lines[j].is_empty() {
                block.push(lines[j].as_str());
                j += 1;
            }
            report.evals_total += 1;
            match run_eval(&engine, &storage, line, &block) {
                Ok(check) => {
                    report.evals_passed += 1;
                    if let Some(check) = check {
                        report.range_checks_total += 1;
                        match check {
                            Ok(()) => report.range_checks_passed += 1,
                            Err(e) => report.range_check_failures.push(format!("line {lineno}: {line}: {e}")),
                        }
                    }
                }
                Err(e) => report.failures.push(format!("line {lineno}: {line}: {e}")),
            }
            i = j;
        } else {
            report.failures.push(format!("line {lineno}: unknown command {line:?}"));
            i += 1;
        }
    }
    report
}

fn load(storage: &MemStorage, header: &str, block: &[&str]) -> Result<(), String> {
    let step_s = header.split_whitespace().nth(1).ok_or("load without a step")?;
    let step = oxeye_model::parse_duration(step_s).map_err(|e| e.to_string())?.as_millis() as i64;
    let mut app = storage.appender();
    for l in block {
        let (labels, vals) = parse_series_line(l)?;
        for (k, v) in vals.iter().enumerate() {
            if let SeqValue::Value(v) = v {
                app.append(None, &labels, k as i64 * step, *v).map_err(|e| e.to_string())?;
            }
        }
    }
    app.commit().map_err(|e| e.to_string())
}

/// Parses one line of the expanding series notation (`metric{a="b"} 1+2x3 _ stale`), as
/// `load` blocks and `promtool test rules` input series write it. `None` is an omitted value
/// (`_`); `stale` comes back as `Some(STALE_NAN)`.
pub fn parse_series_notation(line: &str) -> Result<(Labels, Vec<Option<f64>>), String> {
    let (labels, vals) = parse_series_line(line)?;
    let vals = vals
        .into_iter()
        .map(|v| match v {
            SeqValue::Omitted => None,
            SeqValue::Value(v) => Some(v),
        })
        .collect();
    Ok((labels, vals))
}

/// Parses `metric{a="b"} v1 v2 ...` (metric name and braces optional) into labels and values.
fn parse_series_line(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let (labels, mut rest) = parse_metric(line)?;
    let mut vals = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(h) = rest.strip_prefix("{{") {
            // A native histogram sample (`{{schema:0 ...}}`, maybe `xN`). Histograms are out of
            // scope; float evaluation ignores them, and a histogram sample also hides older
            // float samples from lookback, so it is loaded as a staleness marker.
            let close = h.find("}}").ok_or_else(|| format!("unterminated histogram in {line:?}"))?;
            let after = &h[close + 2..];
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let times = match after[..end].strip_prefix('x') {
                Some(n) => n.parse::<usize>().map_err(|_| format!("invalid repeat in {line:?}"))? + 1,
                None => 1,
            };
            vals.extend(std::iter::repeat_n(SeqValue::Value(STALE_NAN), times));
            rest = &after[end..];
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        expand_value(&rest[..end], &mut vals)?;
        rest = &rest[end..];
    }
    Ok((labels, vals))
}

fn parse_metric(line: &str) -> Result<(Labels, &str), String> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
        i += 1;
    }
    let name = &line[..i];
    let mut pairs: Vec<(String, String)> = Vec::new();
    if !name.is_empty() {
        pairs.push((METRIC_NAME.to_string(), name.to_string()));
    }
    if i < bytes.len() && bytes[i] == b'{' && !line[i..].starts_with("{{") {
        i += 1;
        loop {
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b',' || bytes[i] == b'\t') {
                i += 1;
            }
            if i >= bytes.len() {
                return Err(format!("unterminated label set in {line:?}"));
            }
            if bytes[i] == b'}' {
                i += 1;
                break;
            }
            let ns = i;
            let lname = if bytes[i] == b'"' {
                let (s, n) = parse_quoted(&line[i..])?;
                i += n;
                s
            } else {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                line[ns..i].to_string()
            };
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] != b'=' {
                // A bare quoted string in braces is a metric name (`{"name"}`).
                if line[ns..].starts_with('"') {
                    pairs.push((METRIC_NAME.to_string(), lname));
                    continue;
                }
                return Err(format!("expected '=' in {line:?}"));
            }
            i += 1;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let (v, n) = parse_quoted(&line[i..])?;
            i += n;
            pairs.push((lname, v));
        }
    }
    Ok((Labels::from_pairs(pairs), &line[i..]))
}

/// Parses a Go-style quoted string (double, single or back quotes); returns it and bytes used.
fn parse_quoted(s: &str) -> Result<(String, usize), String> {
    let mut chars = s.char_indices();
    let q = match chars.next() {
        Some((_, c)) if c == '"' || c == '\'' || c == '`' => c,
        _ => return Err(format!("expected a quoted string at {s:?}")),
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((out, i + c.len_utf8()));
        }
        if c == '\\' && q != '`' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, c)) => out.push(c),
                None => break,
            }
        } else {
            out.push(c);
        }
    }
    Err(format!("unterminated string in {s:?}"))
}

fn parse_number(s: &str) -> Result<f64, String> {
    match s.to_ascii_lowercase().as_str() {
        "stale" => return Ok(STALE_NAN),
        "inf" | "+inf" => return Ok(f64::INFINITY),
        "-inf" => return Ok(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => return Ok(f64::NAN),
        _ => {}
    }
    s.parse::<f64>().map_err(|_| format!("invalid number {s:?}"))
}

/// Expands one token of the series notation: `_`, `_xN`, `v`, `vxN`, `a+bxN`, `a-bxN`.
fn expand_value(tok: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if tok.starts_with("{{") {
        return Err("native histogram samples are not supported".into());
    }
    if tok == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("invalid repeat in {tok:?}"))?;
        out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
        return Ok(());
    }
    let (body, times) = match tok.rfind('x') {
        Some(p) if tok[p + 1..].chars().all(|c| c.is_ascii_digit()) && p + 1 < tok.len() => {
            (&tok[..p], Some(tok[p + 1..].parse::<usize>().map_err(|_| format!("invalid repeat in {tok:?}"))?))
        }
        _ => (tok, None),
    };
    let Some(times) = times else {
        out.push(SeqValue::Value(parse_number(body)?));
        return Ok(());
    };
    // Split `a+b` / `a-b` at an operator that is not a leading sign or an exponent sign.
    let b = body.as_bytes();
    let mut split = None;
    for k in 1..b.len() {
        if (b[k] == b'+' || b[k] == b'-') && !matches!(b[k - 1], b'e' | b'E') {
            split = Some(k);
            break;
        }
    }
    let (base, inc) = match split {
        Some(k) => (parse_number(&body[..k])?, parse_number(&body[k..])?),
        None => (parse_number(body)?, 0.0),
    };
    let mut v = base;
    for _ in 0..=times {
        out.push(SeqValue::Value(v));
        if !is_stale_nan(v) {
            v += inc;
        }
    }
    Ok(())
}

fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n * 1000);
    }
    oxeye_model::parse_duration(s).map(|d| d.as_millis() as i64).map_err(|e| e.to_string())
}

struct Expected {
    labels: Option<Labels>,
    vals: Vec<SeqValue>,
}

enum EvalKind {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

/// Runs one eval. On success, returns the outcome of the range-mode re-check when one applies.
fn run_eval(
    engine: &Engine,
    storage: &MemStorage,
    line: &str,
    block: &[&str],
) -> Result<Option<Result<(), String>>, String> {
    let (head, rest) = line.split_once(char::is_whitespace).ok_or("malformed eval")?;
    let modifier = head.strip_prefix("eval").unwrap_or("").trim_start_matches('_');
    let (fail, warn, info, ordered) =
        (modifier == "fail", modifier == "warn", modifier == "info", modifier == "ordered");
    let rest = rest.trim_start();
    let (kind, expr) = if let Some(r) = rest.strip_prefix("instant") {
        let r = r.trim_start();
        match r.strip_prefix("at") {
            Some(r) => {
                let r = r.trim_start();
                let (t, e) = r.split_once(char::is_whitespace).ok_or("missing expression")?;
                (EvalKind::Instant(parse_time(t)?), e.trim())
            }
            None => (EvalKind::Instant(0), r),
        }
    } else if let Some(r) = rest.strip_prefix("range") {
        let r = r.trim_start().strip_prefix("from").ok_or("expected 'from'")?.trim_start();
        let (start, r) = r.split_once(" to ").ok_or("expected 'to'")?;
        let (end, r) = r.trim_start().split_once(" step ").ok_or("expected 'step'")?;
        let (step, e) = r.trim_start().split_once(char::is_whitespace).ok_or("missing expression")?;
        let step = parse_time_step(step)?;
        (EvalKind::Range { start: parse_time(start)?, end: parse_time(end)?, step }, e.trim())
    } else {
        return Err("expected 'instant' or 'range'".into());
    };

    let mut expected = Vec::new();
    let mut fail_msg = None;
    let mut fail_re = None;
    for l in block {
        if let Some(m) = l.strip_prefix("expected_fail_message") {
            fail_msg = Some(m.trim().to_string());
            continue;
        }
        if let Some(m) = l.strip_prefix("expected_fail_regexp") {
            fail_re = Some(m.trim().to_string());
            continue;
        }
        if let Ok(v) = parse_number(l.trim()) {
            expected.push(Expected { labels: None, vals: vec![SeqValue::Value(v)] });
            continue;
        }
        if l.starts_with('"') || l.starts_with('\'') || l.starts_with('`') {
            expected.push(Expected { labels: None, vals: Vec::new() });
            continue;
        }
        let (labels, vals) = parse_series_line(l)?;
        expected.push(Expected { labels: Some(labels), vals });
    }

    let res = match kind {
        EvalKind::Instant(t) => engine.instant_query(storage, expr, t),
        EvalKind::Range { start, end, step } => engine.range_query(storage, expr, start, end, step),
    };
    let res = match res {
        Err(e) => {
            if !fail {
                return Err(format!("unexpected error: {e}"));
            }
            if let Some(m) = fail_msg
                && e.to_string() != m
            {
                return Err(format!("expected error {m:?}, got {:?}", e.to_string()));
            }
            if let Some(r) = fail_re {
                let re = regex::Regex::new(&r).map_err(|e| e.to_string())?;
                if !re.is_match(&e.to_string()) {
                    return Err(format!("error {:?} does not match {r:?}", e.to_string()));
                }
            }
            return Ok(None);
        }
        Ok(r) => r,
    };
    if fail {
        return Err("expected an error, got none".into());
    }
    check_annotations(&res, warn, info)?;
    match kind {
        EvalKind::Instant(t) => {
            compare_instant(&res.value, &expected, ordered)?;
            Ok(range_recheck(engine, storage, expr, t, &res.value))
        }
        EvalKind::Range { start, step, .. } => compare_range(&res.value, &expected, start, step).map(|()| None),
    }
}

/// Upstream's consistency check: an instant vector result must equal the last step of a range
/// query over `[t - 1m, t]` with a 1m step.
fn range_recheck(
    engine: &Engine,
    storage: &MemStorage,
    expr: &str,
    t: i64,
    instant: &Value,
) -> Option<Result<(), String>> {
    let Value::Vector(samples) = instant else { return None };
    let res = match engine.range_query(storage, expr, t - 60_000, t, 60_000) {
        Ok(r) => r,
        Err(e) => return Some(Err(format!("range mode failed: {e}"))),
    };
    let Value::Matrix(series) = res.value else { return Some(Err("range mode did not return a matrix".into())) };
    let last: HashMap<&Labels, f64> =
        series.iter().filter_map(|s| s.samples.last().filter(|x| x.t == t).map(|x| (&s.labels, x.v))).collect();
    if last.len() != samples.len() {
        return Some(Err(format!("range mode returned {} series at t, instant {}", last.len(), samples.len())));
    }
    for s in samples {
        match last.get(&s.labels) {
            Some(v) if values_equal(*v, s.v) => {}
            other => return Some(Err(format!("{}: instant {} vs range {other:?}", s.labels, s.v))),
        }
    }
    Some(Ok(()))
}

fn parse_time_step(s: &str) -> Result<i64, String> {
    oxeye_model::parse_duration(s).map(|d| d.as_millis() as i64).map_err(|e| e.to_string())
}

fn check_annotations(res: &QueryResult, warn: bool, info: bool) -> Result<(), String> {
    if warn && res.warnings.is_empty() {
        return Err("expected warnings, got none".into());
    }
    if !warn && !res.warnings.is_empty() {
        return Err(format!("unexpected warnings: {:?}", res.warnings));
    }
    if info && res.infos.is_empty() {
        return Err("expected info annotations, got none".into());
    }
    Ok(())
}

fn values_equal(exp: f64, got: f64) -> bool {
    if is_stale_nan(exp) || is_stale_nan(got) {
        return is_stale_nan(exp) == is_stale_nan(got);
    }
    almost_equal(exp, got, EPSILON)
}

fn compare_instant(value: &Value, expected: &[Expected], ordered: bool) -> Result<(), String> {
    match value {
        Value::Scalar { v, .. } => {
            let [e] = expected else {
                return Err(format!("expected {} elements, got scalar {v}", expected.len()));
            };
            match e.vals.as_slice() {
                [SeqValue::Value(x)] if e.labels.is_none() && values_equal(*x, *v) => Ok(()),
                _ => Err(format!("scalar {v} does not match expectation")),
            }
        }
        Value::String { v, .. } => {
            if expected.len() == 1 {
                Ok(())
            } else {
                Err(format!("got string {v:?}, expected {} elements", expected.len()))
            }
        }
        Value::Vector(samples) => {
            if samples.len() != expected.len() {
                return Err(format!(
                    "expected {} samples, got {}: {}",
                    expected.len(),
                    samples.len(),
                    describe_vector(samples)
                ));
            }
            let index: HashMap<&Labels, (usize, f64)> = expected
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let v = match e.vals.first() {
                        Some(SeqValue::Value(v)) => *v,
                        _ => return None,
                    };
                    e.labels.as_ref().map(|l| (l, (i, v)))
                })
                .collect();
            for (pos, s) in samples.iter().enumerate() {
                let Some(&(i, v)) = index.get(&s.labels) else {
                    return Err(format!("unexpected sample {} {}", s.labels, s.v));
                };
                if ordered && i != pos {
                    return Err(format!("sample {} at position {pos}, expected {i}", s.labels));
                }
                if !values_equal(v, s.v) {
                    return Err(format!("{}: expected {v}, got {}", s.labels, s.v));
                }
            }
            Ok(())
        }
        Value::Matrix(series) => compare_series(series, expected, None),
    }
}

fn describe_vector(samples: &[crate::InstantSample]) -> String {
    let mut s = String::new();
    for x in samples.iter().take(10) {
        let _ = write!(s, "{} {}; ", x.labels, x.v);
    }
    s
}

fn compare_range(value: &Value, expected: &[Expected], start: i64, step: i64) -> Result<(), String> {
    match value {
        Value::Matrix(series) => compare_series(series, expected, Some((start, step))),
        _ => Err("range query did not return a matrix".into()),
    }
}

/// Compares matrix series to expectations; with `grid`, expected values sit on the step grid
/// (omitted values mean no sample), otherwise only the value sequence is compared.
fn compare_series(series: &[Series], expected: &[Expected], grid: Option<(i64, i64)>) -> Result<(), String> {
    if series.len() != expected.len() {
        let got: Vec<String> = series.iter().take(10).map(|s| s.labels.to_string()).collect();
        return Err(format!("expected {} series, got {}: {got:?}", expected.len(), series.len()));
    }
    let index: HashMap<&Labels, &Expected> =
        expected.iter().filter_map(|e| e.labels.as_ref().map(|l| (l, e))).collect();
    for s in series {
        let Some(e) = index.get(&s.labels) else {
            return Err(format!("unexpected series {}", s.labels));
        };
        let want: Vec<(Option<i64>, f64)> = e
            .vals
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                SeqValue::Value(v) => Some((grid.map(|(st, sp)| st + i as i64 * sp), *v)),
                SeqValue::Omitted => None,
            })
            .collect();
        if want.len() != s.samples.len() {
            return Err(format!(
                "{}: expected {} points, got {}: {:?}",
                s.labels,
                want.len(),
                s.samples.len(),
                s.samples.iter().map(|x| (x.t, x.v)).collect::<Vec<_>>()
            ));
        }
        for ((t, v), got) in want.iter().zip(s.samples.iter()) {
            if t.is_some_and(|t| t != got.t) || !values_equal(*v, got.v) {
                return Err(format!("{}: expected {v} at {t:?}, got {} at {}", s.labels, got.v, got.t));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_notation() {
        let (l, v) = parse_series_line(r#"m{a="b"} 1+2x2 _ _x2 stale -1-1x1 5x1"#).unwrap();
        assert_eq!(l.to_string(), r#"{__name__="m", a="b"}"#);
        let got: Vec<String> = v
            .iter()
            .map(|x| match x {
                SeqValue::Omitted => "_".into(),
                SeqValue::Value(v) if is_stale_nan(*v) => "stale".into(),
                SeqValue::Value(v) => v.to_string(),
            })
            .collect();
        assert_eq!(got, ["1", "3", "5", "_", "_", "_", "stale", "-1", "-2", "5", "5"]);
    }

    #[test]
    fn runs_a_small_script() {
        let r = run_script(
            "load 1m\n  up{job=\"a\"} 1 2 3\n\neval instant at 2m up\n  up{job=\"a\"} 3\n\neval instant at 2m up\n  up{job=\"a\"} 4\n",
        );
        assert_eq!(r.evals_total, 2);
        assert_eq!(r.evals_passed, 1, "{:?}", r.failures);
    }
}
