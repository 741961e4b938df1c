//! The unit-test file format (`rule_files`, `evaluation_interval`, `tests[]` ...) as promtool's
//! strict YAML decoding reads it: unknown fields are errors, `null` means the zero value, and
//! label maps accept any scalar (`code: 500` is the string "500"). It knows nothing about how
//! the tests run.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// One test file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnitTestFile {
    #[serde(default, deserialize_with = "nullable")]
    pub rule_files: Vec<String>,
    #[serde(default, deserialize_with = "duration")]
    pub evaluation_interval: Duration,
    /// Newer promtool: ignore a difference in the last bit of the mantissa.
    #[serde(default, deserialize_with = "nullable")]
    pub fuzzy_compare: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub group_eval_order: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub tests: Vec<TestGroup>,
}

/// A `<test_group>`: input series plus the alert and expression tests run against them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestGroup {
    #[serde(default, deserialize_with = "duration")]
    pub interval: Duration,
    #[serde(default, deserialize_with = "nullable")]
    pub input_series: Vec<InputSeries>,
    #[serde(default, deserialize_with = "nullable")]
    pub alert_rule_test: Vec<AlertTestCase>,
    #[serde(default, deserialize_with = "nullable")]
    pub promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_labels: BTreeMap<String, ScalarString>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_url: ScalarString,
    #[serde(default, deserialize_with = "nullable")]
    pub name: ScalarString,
}

/// One `<series>`: a series in PromQL notation and its values in the expanding notation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InputSeries {
    #[serde(default, deserialize_with = "nullable")]
    pub series: ScalarString,
    #[serde(default, deserialize_with = "nullable")]
    pub values: ScalarString,
}

/// One `<alert_test_case>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertTestCase {
    #[serde(default, deserialize_with = "duration")]
    pub eval_time: Duration,
    #[serde(default, deserialize_with = "nullable")]
    pub alertname: ScalarString,
    #[serde(default, deserialize_with = "nullable")]
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected `<alert>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpAlert {
    #[serde(default, deserialize_with = "nullable")]
    pub exp_labels: BTreeMap<String, ScalarString>,
    #[serde(default, deserialize_with = "nullable")]
    pub exp_annotations: BTreeMap<String, ScalarString>,
}

/// One `<promql_test_case>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromqlTestCase {
    #[serde(default, deserialize_with = "nullable")]
    pub expr: ScalarString,
    #[serde(default, deserialize_with = "duration")]
    pub eval_time: Duration,
    #[serde(default, deserialize_with = "nullable")]
    pub exp_samples: Vec<ExpSample>,
}

/// One expected `<sample>`: labels in series notation and a float value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpSample {
    #[serde(default, deserialize_with = "nullable")]
    pub labels: ScalarString,
    #[serde(default, deserialize_with = "nullable")]
    pub value: f64,
}

/// A string field that, like Go's yaml.v2 decoding into a `string`, also takes a number or a
/// boolean scalar and keeps its text.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ScalarString(pub String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_yaml_ng::Value::deserialize(d)?;
        match v {
            serde_yaml_ng::Value::Null => Ok(ScalarString(String::new())),
            serde_yaml_ng::Value::String(s) => Ok(ScalarString(s)),
            serde_yaml_ng::Value::Number(n) => Ok(ScalarString(n.to_string())),
            serde_yaml_ng::Value::Bool(b) => Ok(ScalarString(b.to_string())),
            other => Err(D::Error::custom(format!("cannot unmarshal {} into string", yaml_kind(&other)))),
        }
    }
}

impl std::ops::Deref for ScalarString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

fn yaml_kind(v: &serde_yaml_ng::Value) -> &'static str {
    match v {
        serde_yaml_ng::Value::Sequence(_) => "!!seq",
        serde_yaml_ng::Value::Mapping(_) => "!!map",
        serde_yaml_ng::Value::Tagged(_) => "a tagged value",
        _ => "a scalar",
    }
}

/// yaml.v2 leaves a field at its zero value when the document says `null` (`exp_alerts:`).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A Prometheus duration (`5m`, `1h30m`, `0`); `null` is zero.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    use serde::de::Error;
    let s = Option::<ScalarString>::deserialize(d)?.unwrap_or_default();
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    oxeye_model::parse_duration(&s).map_err(|_| D::Error::custom(format!("not a valid duration string: {:?}", s.0)))
}

/// Decodes a test file, rejecting unknown fields.
pub(crate) fn parse(text: &str) -> Result<UnitTestFile, serde_yaml_ng::Error> {
    // An empty document is an empty (and passing) test file, as with yaml.v2.
    if text.trim().is_empty() {
        return Ok(UnitTestFile::default());
    }
    serde_yaml_ng::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_full_file() {
        let f = parse(
            r#"
rule_files: [a.yml]
evaluation_interval: 30s
group_eval_order: [g1]
tests:
- interval: 1m
  name: t
  input_series:
  - series: 'up{job="a"}'
    values: 1+1x3
  external_labels: {cluster: c1}
  external_url: http://x
  alert_rule_test:
  - eval_time: 5m
    alertname: A
    exp_alerts:
    - exp_labels: {code: 500, ok: true}
      exp_annotations:
  promql_expr_test:
  - expr: up
    eval_time: 1h30m
    exp_samples:
    - labels: 'up{job="a"}'
      value: 4
"#,
        )
        .unwrap();
        assert_eq!(f.evaluation_interval, Duration::from_secs(30));
        let t = &f.tests[0];
        assert_eq!(t.interval, Duration::from_secs(60));
        assert_eq!(t.input_series[0].values.0, "1+1x3");
        assert_eq!(t.alert_rule_test[0].exp_alerts[0].exp_labels["code"].0, "500");
        assert_eq!(t.alert_rule_test[0].exp_alerts[0].exp_labels["ok"].0, "true");
        assert!(t.alert_rule_test[0].exp_alerts[0].exp_annotations.is_empty());
        assert_eq!(t.promql_expr_test[0].eval_time, Duration::from_secs(5400));
        assert_eq!(t.external_url.0, "http://x");
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        assert!(parse("rule_files: []\nbogus: 1\n").is_err());
        assert!(parse("tests:\n- intervall: 1m\n").is_err());
        assert!(parse("evaluation_interval: 5x\n").is_err());
        // A quoted number is a string, and promtool refuses it for a float field.
        assert!(parse("tests:\n- promql_expr_test:\n  - exp_samples:\n    - value: \"1\"\n").is_err());
    }

    #[test]
    fn empty_and_null_fields_are_zero_values() {
        let f = parse("").unwrap();
        assert!(f.tests.is_empty());
        let f = parse("rule_files:\ntests:\n- alert_rule_test:\n  - alertname: A\n    exp_alerts:\n").unwrap();
        assert!(f.rule_files.is_empty());
        assert!(f.tests[0].alert_rule_test[0].exp_alerts.is_empty());
        assert_eq!(f.evaluation_interval, Duration::ZERO);
    }
}
