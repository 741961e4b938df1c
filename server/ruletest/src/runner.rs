//! Runs one test file the way promtool's `ruleUnitTest` does: input series are appended lazily
//! (only samples at or before the current evaluation step are visible), every rule group is
//! evaluated at each `evaluation_interval` step from 0 to the largest `eval_time`, firing
//! alerts are compared right after the step whose window `[ts, ts+interval)` holds the alert
//! test's `eval_time`, and PromQL expressions are queried once all steps have run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oxeye_model::labels::go_quote;
use oxeye_model::storage::memory::MemStorage;
use oxeye_model::{Appendable, Label, Labels, format_duration};
use oxeye_promql::{Engine, EngineOptions, Value};
use oxeye_rules::group::engine_query_fn;
use oxeye_rules::{AlertState, EvalContext, Group, GroupLoadOptions};

use crate::file::{self, ScalarString, TestGroup, UnitTestFile};
use crate::format::{AlertEntry, SampleEntry, alerts_string, go_duration, indent_lines, line_diff, samples_string};
use crate::{FileReport, RunOptions};

/// promtool's default `evaluation_interval`.
const DEFAULT_EVAL_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) fn run_file(path: &Path, opts: &RunOptions, report: &mut FileReport) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(format!("open {}: {e}", path.display()));
            return;
        }
    };
    let utf = match file::parse(&text) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(e.to_string());
            return;
        }
    };
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    let rule_files = match resolve_rule_files(base, &utf.rule_files, &mut report.warnings) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(e);
            return;
        }
    };
    report.errors = run_suite(&utf, &rule_files, opts);
}

/// Joins relative rule-file paths to the test file's directory and expands globs; a pattern
/// that matches nothing is a warning, not an error (as in promtool).
fn resolve_rule_files(base: &Path, patterns: &[String], warnings: &mut Vec<String>) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in patterns {
        let full = if p.is_empty() || Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
        let pattern = full.to_string_lossy().into_owned();
        let paths = glob::glob(&pattern).map_err(|e| format!("rule file pattern {pattern:?}: {e}"))?;
        let matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        if matched.is_empty() {
            warnings.push(format!("  WARNING: no file match pattern {pattern}"));
        }
        out.extend(matched);
    }
    Ok(out)
}

fn run_suite(utf: &UnitTestFile, rule_files: &[PathBuf], opts: &RunOptions) -> Vec<String> {
    let eval_interval = if utf.evaluation_interval.is_zero() { DEFAULT_EVAL_INTERVAL } else { utf.evaluation_interval };
    // Groups named in group_eval_order run in that order; the others keep file order. (Go's
    // promtool gives unnamed groups rank 0 and sorts a map unstably; this is one of its orders.)
    let mut order: HashMap<&str, usize> = HashMap::new();
    for (i, name) in utf.group_eval_order.iter().enumerate() {
        if order.insert(name.as_str(), i).is_some() {
            return vec![format!("group name repeated in evaluation order: {name}")];
        }
    }
    let mut errs = Vec::new();
    for tg in &utf.tests {
        if let Some(run) = &opts.run
            && !run.is_match(&tg.name)
        {
            continue;
        }
        let cfg = GroupRun { eval_interval, order: &order, rule_files, fuzzy: utf.fuzzy_compare, diff: opts.diff };
        errs.extend(cfg.run(tg));
    }
    errs
}

/// The file-level settings one test group runs with.
struct GroupRun<'a> {
    eval_interval: Duration,
    order: &'a HashMap<&'a str, usize>,
    rule_files: &'a [PathBuf],
    fuzzy: bool,
    diff: bool,
}

/// One input sample waiting to be appended.
struct PendingSample {
    t: i64,
    labels: Labels,
    v: f64,
}

impl GroupRun<'_> {
    fn run(&self, tg: &TestGroup) -> Vec<String> {
        // Newer promtool defaults the series interval to evaluation_interval; 2.42 loaded
        // every sample at t=0 instead, which no test can have wanted.
        let interval = if tg.interval.is_zero() { self.eval_interval } else { tg.interval };
        let pending = match load_series(tg, ms(interval)) {
            Ok(p) => p,
            Err(e) => return vec![e],
        };

        let external_labels = Labels::from_pairs(tg.external_labels.iter().map(|(k, v)| (k.clone(), v.0.clone())));
        let load_opts =
            GroupLoadOptions { default_interval: interval, external_labels, external_url: tg.external_url.0.clone() };
        let mut groups = match oxeye_rules::load_groups(self.rule_files, &load_opts) {
            Ok(g) => g,
            Err(e) => return vec![e.to_string()],
        };
        groups.sort_by_key(|g| self.order.get(g.name()).copied().unwrap_or(0));

        let group_suffix = if tg.name.is_empty() { String::new() } else { format!(" (in TestGroup {})", tg.name.0) };
        let mut alert_tests: BTreeMap<i64, Vec<&file::AlertTestCase>> = BTreeMap::new();
        for a in &tg.alert_rule_test {
            if a.alertname.is_empty() {
                return vec![format!(
                    "an item under alert_rule_test misses required attribute alertname at eval_time {}{group_suffix}",
                    format_duration(a.eval_time)
                )];
            }
            alert_tests.entry(ms(a.eval_time)).or_default().push(a);
        }
        let max_t = tg
            .alert_rule_test
            .iter()
            .map(|a| ms(a.eval_time))
            .chain(tg.promql_expr_test.iter().map(|p| ms(p.eval_time)))
            .max()
            .unwrap_or(0);

        let storage = Arc::new(MemStorage::new());
        let engine = Arc::new(Engine::new(EngineOptions::default()));
        // Alert templates may call `query`, which runs against the same storage and engine.
        let ctx = EvalContext::new(&engine, storage.as_ref(), storage.as_ref())
            .with_template_query(engine_query_fn(engine.clone(), storage.clone()));
        let step = ms(self.eval_interval).max(1);
        let mut errs = Vec::new();
        let mut next_sample = 0;
        let mut alert_times = alert_tests.iter().peekable();
        let mut ts = 0i64;
        while ts <= max_t {
            match append_until(&storage, &pending, &mut next_sample, ts) {
                Err(e) => errs.push(e),
                Ok(()) => {
                    let mut eval_errs = Vec::new();
                    for g in &mut groups {
                        g.eval(&ctx, ts);
                        for (rule, err) in rule_errors(g) {
                            eval_errs.push(format!("    rule: {rule}, time: {}, err: {err}", go_duration(ts)));
                        }
                    }
                    // Evaluation errors end the test group; earlier test failures stay reported.
                    if !eval_errs.is_empty() {
                        errs.extend(eval_errs);
                        return errs;
                    }
                }
            }
            while let Some(&(&t, cases)) = alert_times.peek() {
                if !(ts <= t && t < ts + step) {
                    break;
                }
                self.check_alerts(tg, &groups, cases, &mut errs);
                alert_times.next();
            }
            ts += step;
        }

        for tc in &tg.promql_expr_test {
            if let Some(e) = self.check_expr(&engine, &storage, tc) {
                errs.push(e);
            }
        }
        errs
    }

    /// Compares the firing alerts of every rule named in `cases` with what the cases expect.
    fn check_alerts(&self, tg: &TestGroup, groups: &[Group], cases: &[&file::AlertTestCase], errs: &mut Vec<String>) {
        let names: HashSet<&str> = cases.iter().map(|c| c.alertname.0.as_str()).collect();
        // The same alert name may be used by several rules, in several groups: take them all.
        let mut got: HashMap<String, Vec<AlertEntry>> = HashMap::new();
        for g in groups {
            for rule in g.alerting_rules() {
                if !names.contains(rule.name()) {
                    continue;
                }
                let entry = got.entry(rule.name().to_string()).or_default();
                for a in rule.active_alerts() {
                    if a.state == AlertState::Firing {
                        entry.push(AlertEntry { labels: a.labels, annotations: a.annotations });
                    }
                }
            }
        }
        for case in cases {
            let mut got_alerts = got.get(case.alertname.0.as_str()).cloned().unwrap_or_default();
            let mut exp_alerts: Vec<AlertEntry> = case
                .exp_alerts
                .iter()
                .map(|a| {
                    let mut labels = a.exp_labels.clone();
                    // Users list the rule's and the series' labels; Prometheus adds alertname.
                    labels.insert("alertname".to_string(), case.alertname.clone());
                    AlertEntry { labels: labels_from_map(&labels), annotations: labels_from_map(&a.exp_annotations) }
                })
                .collect();
            got_alerts.sort();
            exp_alerts.sort();
            if got_alerts == exp_alerts {
                continue;
            }
            let test_name = if tg.name.is_empty() { String::new() } else { format!("    name: {},\n", tg.name.0) };
            let exp = indent_lines(&alerts_string(&exp_alerts), "            ");
            let got = indent_lines(&alerts_string(&got_alerts), "            ");
            let mut msg = format!(
                "{test_name}    alertname: {}, time: {}, \n        exp:{exp}, \n        got:{got}",
                case.alertname.0,
                format_duration(case.eval_time)
            );
            if self.diff {
                let d = line_diff(&alerts_string(&exp_alerts), &alerts_string(&got_alerts));
                msg.push_str("\n        diff:\n            ");
                msg.push_str(&indent_lines(&d, "            "));
            }
            errs.push(msg);
        }
    }

    /// Runs one `promql_expr_test`; `Some(message)` when it fails.
    fn check_expr(&self, engine: &Engine, storage: &MemStorage, tc: &file::PromqlTestCase) -> Option<String> {
        let head = format!("    expr: {}, time: {}", go_quote(&tc.expr), format_duration(tc.eval_time));
        let mut got = match query(engine, storage, &tc.expr, ms(tc.eval_time)) {
            Ok(g) => g,
            Err(e) => return Some(format!("{head}, err: {e}")),
        };
        let mut exp = Vec::with_capacity(tc.exp_samples.len());
        for s in &tc.exp_samples {
            match parse_metric(&s.labels) {
                Ok(labels) => exp.push(SampleEntry { labels, value: s.value }),
                Err(e) => return Some(format!("{head}, err: labels {}: {e}", go_quote(&s.labels))),
            }
        }
        exp.sort_by(|a, b| a.labels.cmp(&b.labels));
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        let same = exp.len() == got.len()
            && exp.iter().zip(&got).all(|(e, g)| e.labels == g.labels && values_equal(e.value, g.value, self.fuzzy));
        if same {
            return None;
        }
        Some(format!("{head},\n        exp: {}\n        got: {}", samples_string(&exp), samples_string(&got)))
    }
}

/// Expands every input series into samples at `i * interval`, ordered by time.
fn load_series(tg: &TestGroup, interval_ms: i64) -> Result<Vec<PendingSample>, String> {
    let mut out = Vec::new();
    for s in &tg.input_series {
        let line = format!("{} {}", s.series.trim(), s.values.0);
        let (labels, values) = oxeye_promql::promqltest::parse_series_notation(&line)
            .map_err(|e| format!("input series {:?} with values {:?}: {e}", s.series.0, s.values.0))?;
        for (i, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                out.push(PendingSample { t: i as i64 * interval_ms, labels: labels.clone(), v });
            }
        }
    }
    out.sort_by_key(|s| s.t);
    Ok(out)
}

/// Appends the pending samples at or before `ts` (promtool's lazy loader: a query never sees
/// input samples later than the last evaluation step).
fn append_until(storage: &MemStorage, pending: &[PendingSample], next: &mut usize, ts: i64) -> Result<(), String> {
    let mut app = storage.appender();
    let mut first_err = None;
    while let Some(s) = pending.get(*next) {
        if s.t > ts {
            break;
        }
        *next += 1;
        if let Err(e) = app.append(None, &s.labels, s.t, s.v)
            && first_err.is_none()
        {
            first_err = Some(format!("{} at {}: {e}", s.labels, go_duration(s.t)));
        }
    }
    app.commit().map_err(|e| e.to_string())?;
    first_err.map_or(Ok(()), Err)
}

/// The rules of `g` whose last evaluation failed, with the error text.
fn rule_errors(g: &Group) -> Vec<(String, String)> {
    g.rules().iter().filter_map(|r| r.last_error().map(|e| (r.name().to_string(), e.to_string()))).collect()
}

/// Evaluates `expr` at `t`; a scalar becomes one sample without labels.
fn query(engine: &Engine, storage: &MemStorage, expr: &str, t: i64) -> Result<Vec<SampleEntry>, String> {
    let res = engine.instant_query(storage, expr, t).map_err(|e| e.to_string())?;
    match res.value {
        Value::Vector(v) => Ok(v.into_iter().map(|s| SampleEntry { labels: s.labels, value: s.v }).collect()),
        Value::Scalar { v, .. } => Ok(vec![SampleEntry { labels: Labels::empty(), value: v }]),
        _ => Err("rule result is not a vector or scalar".to_string()),
    }
}

/// Parses `metric{a="b"}` (either part optional) as an expected sample's labels.
fn parse_metric(s: &str) -> Result<Labels, String> {
    let (labels, values) = oxeye_promql::promqltest::parse_series_notation(s.trim())?;
    if !values.is_empty() {
        return Err(format!("unexpected text after the series in {s:?}"));
    }
    Ok(labels)
}

/// A label set from a YAML map, keeping empty values as Go's `labels.FromMap` does.
fn labels_from_map(m: &BTreeMap<String, ScalarString>) -> Labels {
    Labels::from_sorted(m.iter().map(|(k, v)| Label::new(k.clone(), v.0.clone())).collect())
}

/// Exact float equality as promtool 2.x's `reflect.DeepEqual` (NaN never equals), or with
/// `fuzzy_compare` a difference in the last mantissa bit tolerated.
pub(crate) fn values_equal(exp: f64, got: f64, fuzzy: bool) -> bool {
    if exp == got {
        return true;
    }
    if !fuzzy || exp.is_nan() || got.is_nan() || exp.is_sign_negative() != got.is_sign_negative() {
        return false;
    }
    exp.to_bits().abs_diff(got.to_bits()) <= 1
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_comparison_is_exact_unless_fuzzy() {
        assert!(values_equal(1.0, 1.0, false));
        assert!(values_equal(0.0, -0.0, false));
        assert!(!values_equal(f64::NAN, f64::NAN, false));
        let next = f64::from_bits(0.3f64.to_bits() + 1);
        assert!(!values_equal(0.3, next, false));
        assert!(values_equal(0.3, next, true));
        assert!(!values_equal(0.3, f64::from_bits(0.3f64.to_bits() + 2), true));
    }

    #[test]
    fn series_are_expanded_at_interval_steps() {
        let tg: TestGroup = serde_yaml_ng::from_str(
            "input_series:\n- series: 'm{a=\"b\"}'\n  values: '1+1x2 _ stale -2-1x1'\n- series: n\n  values: 7\n",
        )
        .unwrap();
        let p = load_series(&tg, 30_000).unwrap();
        let got: Vec<(i64, String, String)> =
            p.iter().map(|s| (s.t, s.labels.metric_name().to_string(), format!("{:?}", s.v))).collect();
        assert_eq!(got.len(), 7);
        assert_eq!(got[0], (0, "m".to_string(), "1.0".to_string()));
        assert_eq!(got[1], (0, "n".to_string(), "7.0".to_string()));
        let m: Vec<(i64, f64)> = p.iter().filter(|s| s.labels.metric_name() == "m").map(|s| (s.t, s.v)).collect();
        assert_eq!(m[2], (60_000, 3.0));
        // `_` at 90s leaves a gap; `stale` at 120s is a staleness marker.
        assert_eq!(m[3].0, 120_000);
        assert!(oxeye_model::is_stale_nan(m[3].1));
        assert_eq!(&m[4..], &[(150_000, -2.0), (180_000, -3.0)]);
    }

    #[test]
    fn bad_series_notation_is_an_error() {
        for values in ["1 1xx2", "a+b", "1+1xq"] {
            let tg: TestGroup =
                serde_yaml_ng::from_str(&format!("input_series:\n- series: m\n  values: '{values}'\n")).unwrap();
            assert!(load_series(&tg, 60_000).is_err(), "{values:?} should not parse");
        }
    }

    #[test]
    fn expected_labels_parse_like_parse_metric() {
        assert_eq!(parse_metric("").unwrap(), Labels::empty());
        assert_eq!(parse_metric("{}").unwrap(), Labels::empty());
        assert_eq!(parse_metric(r#"up{job="a"}"#).unwrap().to_string(), r#"{__name__="up", job="a"}"#);
        assert!(parse_metric("up{").is_err());
        assert!(parse_metric("up 1").is_err());
    }

    #[test]
    fn expected_labels_keep_empty_values() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), ScalarString(String::new()));
        m.insert("a".to_string(), ScalarString("x".into()));
        assert_eq!(labels_from_map(&m).to_string(), r#"{a="x", b=""}"#);
    }
}
