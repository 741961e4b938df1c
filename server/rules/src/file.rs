//! Rule files (Prometheus's `rulefmt`): the YAML format of groups of recording and alerting
//! rules, and its validation. Errors name the file, group, rule and the line:column of the
//! offending YAML node in Prometheus's wording. This module knows nothing about evaluation.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use oxeye_model::labels::go_quote;
use serde::{Deserialize, Deserializer};

use crate::position::{self, Node, Pos};

/// How metric and label names are validated. Prometheus 3.x defaults to UTF-8 (any non-empty
/// name); Prometheus 2.x (and `promtool` 2.x) used the legacy `[a-zA-Z_:][a-zA-Z0-9_:]*` charset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    #[default]
    Utf8,
    Legacy,
}

impl NameValidation {
    pub fn is_valid_metric_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => {
                let mut chars = name.chars();
                matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            }
        }
    }

    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => {
                let mut chars = name.chars();
                matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
        }
    }
}

/// A parsed, validated rule file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleFile {
    /// Where the file came from (its path as given), used in errors and as the group's file.
    pub origin: String,
    pub groups: Vec<RuleGroup>,
}

impl RuleFile {
    /// Number of rules in all groups.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

/// One `groups:` entry.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    #[serde(default)]
    pub name: String,
    /// The group's own evaluation interval; `None` uses the global one.
    #[serde(default, deserialize_with = "opt_duration")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub query_offset: Option<Duration>,
    /// Series (recording) or alerts (alerting) a rule may produce; 0 is no limit.
    #[serde(default, deserialize_with = "limit")]
    pub limit: usize,
    #[serde(default, deserialize_with = "null_default")]
    pub rules: Vec<RuleDef>,
    /// Labels added to every rule of the group (a rule's own labels win).
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// One rule as written. Exactly one of `record` and `alert` is non-empty in a valid file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    #[serde(default)]
    pub record: String,
    #[serde(default)]
    pub alert: String,
    #[serde(default)]
    pub expr: String,
    #[serde(default, rename = "for", deserialize_with = "duration")]
    pub for_: Duration,
    #[serde(default, deserialize_with = "duration")]
    pub keep_firing_for: Duration,
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: BTreeMap<String, String>,
}

impl RuleDef {
    /// The alert name for alerting rules, the record name otherwise.
    pub fn name(&self) -> &str {
        if self.alert.is_empty() { &self.record } else { &self.alert }
    }

    pub fn is_alerting(&self) -> bool {
        !self.alert.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default, deserialize_with = "null_default")]
    groups: Vec<RuleGroup>,
}

fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    Ok(opt_duration(d)?.unwrap_or_default())
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => oxeye_model::parse_duration(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    // Go's `int`: a negative limit means no limit.
    Ok(Option::<i64>::deserialize(d)?.map(|v| v.max(0) as usize).unwrap_or(0))
}

/// One problem with a rule file, printed like Prometheus's rulefmt errors:
/// `file: line:col: group "g", rule 2, "name": message`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub file: String,
    /// Group name, for errors inside a group's rules.
    pub group: Option<String>,
    /// 1-based rule index within the group and the rule's name.
    pub rule: Option<(usize, String)>,
    /// Position of the offending node (`0:0` when the node is absent, as in Prometheus).
    pub position: Option<Pos>,
    /// A second node involved (`record` and `alert` both set).
    pub alt_position: Option<Pos>,
    pub message: String,
    /// A lint finding (duplicate rules) rather than an error that rejects the file.
    pub lint: bool,
}

impl RuleError {
    fn file_level(file: &str, position: Option<Pos>, message: String) -> Self {
        RuleError {
            file: file.to_string(),
            group: None,
            rule: None,
            position,
            alt_position: None,
            message,
            lint: false,
        }
    }

    /// The line of the offending node, when known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        if let Some(p) = self.position {
            write!(f, "{}:{}: ", p.line, p.column)?;
        }
        if let Some(p) = self.alt_position {
            write!(f, "{}:{}: ", p.line, p.column)?;
        }
        if let (Some(g), Some((idx, name))) = (&self.group, &self.rule) {
            write!(f, "group {}, rule {}, {}: ", go_quote(g), idx, go_quote(name))?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

/// Options for parsing rule files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    pub name_validation: NameValidation,
}

/// Reads and validates a rule file with Prometheus 3.x defaults (UTF-8 names).
pub fn parse_file(path: &Path) -> Result<RuleFile, Vec<RuleError>> {
    parse_file_with(path, ParseOptions::default())
}

pub fn parse_file_with(path: &Path, opts: ParseOptions) -> Result<RuleFile, Vec<RuleError>> {
    let origin = path.display().to_string();
    let src = std::fs::read_to_string(path)
        .map_err(|e| vec![RuleError::file_level(&origin, None, io_error_text(&origin, &e))])?;
    parse_str_with(&src, &origin, opts)
}

/// Go's `os.ReadFile` error shape: `open FILE: no such file or directory`.
fn io_error_text(path: &str, e: &std::io::Error) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("open {path}: {what}")
}

/// Parses and validates rule-file text; `origin` names it in errors.
pub fn parse_str(src: &str, origin: &str) -> Result<RuleFile, Vec<RuleError>> {
    parse_str_with(src, origin, ParseOptions::default())
}

pub fn parse_str_with(src: &str, origin: &str, opts: ParseOptions) -> Result<RuleFile, Vec<RuleError>> {
    let file = decode(src, origin)?;
    let root = position::parse(src);
    let errs = validate(&file, root.as_ref(), opts);
    if errs.is_empty() { Ok(file) } else { Err(errs) }
}

/// Parses without semantic validation (but with unknown-field and type checks), for callers
/// that want the lint pass on a file that has errors.
pub(crate) fn decode(src: &str, origin: &str) -> Result<RuleFile, Vec<RuleError>> {
    // An empty document (or only comments) is an empty rule file, as yaml.v3 reports io.EOF.
    let is_empty = src.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    });
    if is_empty {
        return Ok(RuleFile { origin: origin.to_string(), groups: Vec::new() });
    }
    match serde_yaml_ng::from_str::<Option<RawFile>>(src) {
        Ok(raw) => Ok(RuleFile { origin: origin.to_string(), groups: raw.map(|r| r.groups).unwrap_or_default() }),
        Err(e) => {
            let position = e.location().map(|l| Pos { line: l.line(), column: l.column() });
            let mut text = e.to_string();
            if let Some(p) = position {
                let suffix = format!(" at line {} column {}", p.line, p.column);
                if let Some(stripped) = text.strip_suffix(&suffix) {
                    text = stripped.to_string();
                }
            }
            Err(vec![RuleError::file_level(origin, position, format!("yaml: {text}"))])
        }
    }
}

fn node_pos(node: Option<&Node>) -> Pos {
    node.map(|n| n.pos).unwrap_or_default()
}

/// Checks what rulefmt's `RuleGroups.Validate` checks, in the same order.
fn validate(file: &RuleFile, root: Option<&Node>, opts: ParseOptions) -> Vec<RuleError> {
    let origin = file.origin.as_str();
    let groups_node = root.and_then(|r| r.get("groups"));
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (j, g) in file.groups.iter().enumerate() {
        let gnode = groups_node.and_then(|n| n.item(j));
        let gpos = node_pos(gnode);
        if g.name.is_empty() {
            errs.push(RuleError::file_level(origin, Some(gpos), "Groupname must not be empty".into()));
        }
        if !seen.insert(g.name.as_str()) {
            errs.push(RuleError::file_level(
                origin,
                Some(gpos),
                format!("groupname: \"{}\" is repeated in the same file", g.name),
            ));
        }
        for k in g.labels.keys() {
            if !opts.name_validation.is_valid_label_name(k) || k == oxeye_model::METRIC_NAME {
                errs.push(RuleError::file_level(origin, None, format!("invalid label name: {k}")));
            }
        }
        let rules_node = gnode.and_then(|n| n.get("rules"));
        for (i, r) in g.rules.iter().enumerate() {
            let rnode = rules_node.and_then(|n| n.item(i));
            for (message, position, alt_position) in validate_rule(r, rnode, opts) {
                errs.push(RuleError {
                    file: origin.to_string(),
                    group: Some(g.name.clone()),
                    rule: Some((i + 1, r.name().to_string())),
                    position,
                    alt_position,
                    message,
                    lint: false,
                });
            }
        }
    }
    errs
}

type RuleProblem = (String, Option<Pos>, Option<Pos>);

/// rulefmt's `Rule.Validate`: messages with the node positions they refer to.
fn validate_rule(r: &RuleDef, node: Option<&Node>, opts: ParseOptions) -> Vec<RuleProblem> {
    let field = |name: &str| node_pos(node.and_then(|n| n.get(name)));
    let mut out: Vec<RuleProblem> = Vec::new();
    if !r.record.is_empty() && !r.alert.is_empty() {
        out.push(("only one of 'record' and 'alert' must be set".into(), Some(field("record")), Some(field("alert"))));
    }
    if r.record.is_empty() && r.alert.is_empty() {
        out.push(("one of 'record' or 'alert' must be set".into(), Some(field("record")), Some(field("alert"))));
    }
    if r.expr.is_empty() {
        out.push(("field 'expr' must be set in rule".into(), Some(field("expr")), None));
    } else if let Err(e) = promql_parser::parser::parse(&r.expr) {
        out.push((format!("could not parse expression: {}", promql_error_text(&e)), Some(field("expr")), None));
    }
    if !r.record.is_empty() {
        let rec = Some(field("record"));
        if !r.annotations.is_empty() {
            out.push(("invalid field 'annotations' in recording rule".into(), rec, None));
        }
        if !r.for_.is_zero() {
            out.push(("invalid field 'for' in recording rule".into(), rec, None));
        }
        if !r.keep_firing_for.is_zero() {
            out.push(("invalid field 'keep_firing_for' in recording rule".into(), rec, None));
        }
        if !opts.name_validation.is_valid_metric_name(&r.record) {
            out.push((format!("invalid recording rule name: {}", r.record), rec, None));
        }
        // A PromQL selector pasted into the name is a common mistake.
        if r.record.contains(['{', '}']) {
            out.push((
                format!("braces present in the recording rule name; should it be in expr?: {}", r.record),
                rec,
                None,
            ));
        }
    }
    for k in r.labels.keys() {
        if !opts.name_validation.is_valid_label_name(k) || k == oxeye_model::METRIC_NAME {
            out.push((format!("invalid label name: {k}"), None, None));
        }
    }
    for k in r.annotations.keys() {
        if !opts.name_validation.is_valid_label_name(k) {
            out.push((format!("invalid annotation name: {k}"), None, None));
        }
    }
    if r.is_alerting() {
        let tmpl_name = format!("__alert_{}", r.alert);
        for (k, v) in &r.labels {
            if let Err(e) = oxeye_template::check_alert_template(&tmpl_name, v) {
                out.push((format!("label {}: {e}", go_quote(k)), None, None));
            }
        }
        for (k, v) in &r.annotations {
            if let Err(e) = oxeye_template::check_alert_template(&tmpl_name, v) {
                out.push((format!("annotation {}: {e}", go_quote(k)), None, None));
            }
        }
    }
    out
}

/// promql-parser reports errors as plain text; Prometheus prefixes `parse error: ` (and a
/// position we cannot always recover).
fn promql_error_text(e: &str) -> String {
    if e.contains("parse error") { e.to_string() } else { format!("parse error: {e}") }
}

/// A duplicate found by `promtool check rules`' lint: the same name and label set (group
/// labels merged under rule labels) more than once among a file's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateRule {
    pub metric: String,
    pub labels: oxeye_model::Labels,
}

/// promtool's `checkDuplicates`: sorted by (name, labels), each duplicate reported once.
pub fn find_duplicates(file: &RuleFile) -> Vec<DuplicateRule> {
    let mut all: Vec<DuplicateRule> = file
        .groups
        .iter()
        .flat_map(|g| {
            g.rules.iter().map(move |r| DuplicateRule {
                metric: r.name().to_string(),
                labels: merge_labels(&g.labels, &r.labels),
            })
        })
        .collect();
    let mut out: Vec<DuplicateRule> = Vec::new();
    if all.len() < 2 {
        return out;
    }
    all.sort_by(|a, b| a.metric.cmp(&b.metric).then_with(|| a.labels.cmp(&b.labels)));
    for w in all.windows(2) {
        if w[0] == w[1] && out.last() != Some(&w[1]) {
            out.push(w[1].clone());
        }
    }
    out
}

/// Group labels overridden by rule labels (Prometheus's `rules.FromMaps`).
pub fn merge_labels(group: &BTreeMap<String, String>, rule: &BTreeMap<String, String>) -> oxeye_model::Labels {
    let mut b = oxeye_model::LabelsBuilder::new(oxeye_model::Labels::empty());
    for (k, v) in group.iter().chain(rule.iter()) {
        b.set(k.clone(), v.clone());
    }
    b.labels()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(src: &str) -> Vec<String> {
        match parse_str_with(src, "f.yml", ParseOptions { name_validation: NameValidation::Legacy }) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn parses_a_valid_file() {
        let src = "groups:\n- name: a\n  interval: 30s\n  query_offset: 1m\n  limit: 3\n  labels: {team: x}\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {severity: page}\n    annotations: {summary: \"{{ $labels.job }} down\"}\n";
        let f = parse_str(src, "f.yml").unwrap();
        assert_eq!(f.rule_count(), 2);
        let g = &f.groups[0];
        assert_eq!(g.interval, Some(Duration::from_secs(30)));
        assert_eq!(g.query_offset, Some(Duration::from_secs(60)));
        assert_eq!(g.limit, 3);
        assert_eq!(g.rules[1].for_, Duration::from_secs(300));
        assert_eq!(g.rules[1].keep_firing_for, Duration::from_secs(60));
        assert!(g.rules[1].is_alerting());
    }

    #[test]
    fn empty_file_has_no_groups() {
        assert_eq!(parse_str("", "f").unwrap().groups.len(), 0);
        assert_eq!(parse_str("# nothing\n", "f").unwrap().groups.len(), 0);
        assert_eq!(parse_str("groups: []\n", "f").unwrap().groups.len(), 0);
    }

    #[test]
    fn group_errors_carry_positions() {
        let e = errs("groups:\n- name: a\n  rules: []\n- name: a\n  rules: []\n- name: \"\"\n");
        assert_eq!(
            e,
            vec![
                "f.yml: 4:3: groupname: \"a\" is repeated in the same file".to_string(),
                "f.yml: 6:3: Groupname must not be empty".to_string(),
            ]
        );
    }

    #[test]
    fn rule_errors_match_rulefmt_shape() {
        let e = errs(
            "groups:\n- name: g\n  rules:\n  - {record: \"a:b\", expr: \"sum(\"}\n  - alert: X\n    record: y\n    expr: up\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("f.yml: 4:27: group \"g\", rule 1, \"a:b\": could not parse expression: "), "{e:?}");
        assert_eq!(e[1], "f.yml: 6:13: 5:12: group \"g\", rule 2, \"X\": only one of 'record' and 'alert' must be set");
    }

    #[test]
    fn recording_rule_restrictions() {
        let e = errs(
            "groups:\n- name: g\n  rules:\n  - record: 'x{a=\"b\"}'\n    expr: up\n    for: 1m\n    annotations: {a: b}\n    labels: {__name__: x}\n",
        );
        assert!(e.iter().any(|m| m.contains("invalid field 'annotations' in recording rule")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("invalid field 'for' in recording rule")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("invalid recording rule name: x{a=\"b\"}")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("braces present")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("invalid label name: __name__")), "{e:?}");
    }

    #[test]
    fn missing_fields() {
        let e = errs("groups:\n- name: g\n  rules:\n  - expr: up\n  - record: foo\n");
        assert_eq!(
            e,
            vec![
                "f.yml: 0:0: 0:0: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set".to_string(),
                "f.yml: 0:0: group \"g\", rule 2, \"foo\": field 'expr' must be set in rule".to_string(),
            ]
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        let e = errs("groups:\n- name: g\n  foo: 1\n  rules: []\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("unknown field `foo`"), "{e:?}");
        assert!(!errs("groups:\n- name: g\n  rules:\n  - alert: a\n    expr: up\n    limit: 1\n").is_empty());
        assert!(!errs("foo: 1\n").is_empty());
        assert!(!errs("groups:\n- name: g\n  interval: 1x\n").is_empty());
    }

    #[test]
    fn utf8_names_are_valid_by_default() {
        let src = "groups:\n- name: g\n  rules:\n  - record: \"a.b c\"\n    expr: up\n    labels: {\"x.y\": z}\n";
        assert!(parse_str(src, "f").is_ok());
        assert!(!errs(src).is_empty());
    }

    #[test]
    fn duplicates_merge_group_labels() {
        let src = "groups:\n- name: g\n  labels: {a: b}\n  rules:\n  - record: x\n    expr: up\n  - record: x\n    expr: up\n    labels: {a: b}\n  - record: x\n    expr: up\n    labels: {a: c}\n";
        let f = parse_str(src, "f").unwrap();
        let d = find_duplicates(&f);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].metric, "x");
        assert_eq!(d[0].labels.get("a"), "b");
    }
}
