//! Relabel rules: the ones prometheus-operator generates (selector filters, meta-label copies,
//! the sharding tail), the user's `relabelings`/`metricRelabelings` in upstream's key order, and
//! their validation with Oxeye's own relabel parser so a bad regex rejects the monitor rather
//! than the whole configuration.

use std::collections::BTreeMap;

use oxeye_model::{NameValidationScheme, RelabelConfig};
use serde_yaml_ng::Value;

use crate::error::{ObjectRef, Result};
use crate::yaml::{Map, strings};

/// A user relabel rule as written in a monitor (prometheus-operator's `RelabelConfig`).
#[derive(Debug, Clone, Default)]
pub(crate) struct UserRelabel<'a> {
    pub source_labels: &'a [String],
    pub separator: Option<&'a str>,
    pub target_label: Option<&'a str>,
    pub regex: Option<&'a str>,
    pub modulus: Option<u64>,
    pub replacement: Option<&'a str>,
    pub action: Option<&'a str>,
}

/// The actions prometheus-operator's CRD accepts (case-insensitively).
const ACTIONS: [&str; 11] = [
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
];

/// `generateRelabelConfig`: keys in upstream's order, the action lower-cased; validated.
pub(crate) fn user_rule(obj: &ObjectRef, field: &str, r: &UserRelabel<'_>) -> Result<Map> {
    let mut m = Map::new();
    if !r.source_labels.is_empty() {
        m.put("source_labels", strings(r.source_labels));
    }
    if let Some(s) = r.separator {
        m.put("separator", s);
    }
    if let Some(t) = r.target_label.filter(|t| !t.is_empty()) {
        m.put("target_label", t);
    }
    if let Some(re) = r.regex.filter(|re| !re.is_empty()) {
        m.put("regex", re);
    }
    if let Some(n) = r.modulus.filter(|n| *n != 0) {
        m.put("modulus", n);
    }
    if let Some(rep) = r.replacement {
        m.put("replacement", rep);
    }
    if let Some(a) = r.action.filter(|a| !a.is_empty()) {
        let lower = a.to_ascii_lowercase();
        if !ACTIONS.contains(&lower.as_str()) {
            return Err(obj.err(
                format!("{field}.action"),
                format!("unknown relabel action {a:?}, expected one of {}", ACTIONS.join(", ")),
            ));
        }
        m.put("action", lower);
    }
    validate(obj, field, &m)?;
    Ok(m)
}

/// Parses and validates a rule the way the server will when it loads the configuration.
pub(crate) fn validate(obj: &ObjectRef, field: &str, rule: &Map) -> Result<()> {
    let mut parsed: RelabelConfig = serde_yaml_ng::from_value(Value::Mapping(rule.0.clone()))
        .map_err(|e| obj.err(field, format!("invalid relabel config: {e}")))?;
    parsed.validate(NameValidationScheme::Utf8).map_err(|e| obj.err(field, e.0))
}

/// `initRelabelings`: keep the configured job name in a meta label.
pub(crate) fn init() -> Vec<Map> {
    vec![Map::new().with("source_labels", strings(&["job"])).with("target_label", "__tmp_prometheus_job_name")]
}

/// `generateRunningFilter`: drop pods that finished.
pub(crate) fn running_filter() -> Map {
    Map::new()
        .with("action", "drop")
        .with("source_labels", strings(&["__meta_kubernetes_pod_phase"]))
        .with("regex", "(Failed|Succeeded)")
}

/// `source_labels: [src]` -> `target_label: dst`.
pub(crate) fn copy(src: &str, dst: &str) -> Map {
    Map::new().with("source_labels", strings(&[src])).with("target_label", dst)
}

/// Copies a Kubernetes label onto the target when it is non-empty (`targetLabels`,
/// `podTargetLabels`, `jobLabel`).
pub(crate) fn copy_label(meta_prefix: &str, label: &str, target: &str) -> Map {
    Map::new()
        .with("source_labels", strings(&[format!("{meta_prefix}{}", sanitize_label_name(label))]))
        .with("target_label", target)
        .with("regex", "(.+)")
        .with("replacement", "${1}")
}

/// `keep`/`drop` on one source label with a regex.
pub(crate) fn filter(action: &str, source: &str, regex: impl Into<Value>) -> Map {
    Map::new().with("action", action).with("source_labels", strings(&[source])).with("regex", regex)
}

/// prometheus-operator's `sanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub(crate) fn sanitize_label_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// A `matchExpressions` entry.
#[derive(Debug, Clone)]
pub(crate) struct Requirement<'a> {
    pub key: &'a str,
    pub operator: &'a str,
    pub values: &'a [String],
}

/// The relabelings that select targets by the labels of the Service (`kind = "service"`) or Pod
/// (`kind = "pod"`): one rule per `matchLabels` key in key order, then one per expression.
pub(crate) fn selector_rules(
    obj: &ObjectRef,
    kind: &str,
    match_labels: &BTreeMap<String, String>,
    expressions: &[Requirement<'_>],
) -> Result<Vec<Map>> {
    let label = |k: &str| format!("__meta_kubernetes_{kind}_label_{}", sanitize_label_name(k));
    let present = |k: &str| format!("__meta_kubernetes_{kind}_labelpresent_{}", sanitize_label_name(k));
    let mut out = Vec::new();
    for (k, v) in match_labels {
        let rule = Map::new()
            .with("action", "keep")
            .with("source_labels", strings(&[label(k), present(k)]))
            .with("regex", format!("({v});true"));
        validate(obj, &format!("spec.selector.matchLabels.{k}"), &rule)?;
        out.push(rule);
    }
    for (i, exp) in expressions.iter().enumerate() {
        let field = format!("spec.selector.matchExpressions[{i}]");
        let rule = match exp.operator {
            "In" | "NotIn" => Map::new()
                .with("action", if exp.operator == "In" { "keep" } else { "drop" })
                .with("source_labels", strings(&[label(exp.key), present(exp.key)]))
                .with("regex", format!("({});true", exp.values.join("|"))),
            "Exists" | "DoesNotExist" => Map::new()
                .with("action", if exp.operator == "Exists" { "keep" } else { "drop" })
                .with("source_labels", strings(&[present(exp.key)]))
                .with("regex", "true"),
            other => {
                return Err(obj.err(
                    format!("{field}.operator"),
                    format!("unknown label selector operator {other:?}, expected In, NotIn, Exists or DoesNotExist"),
                ));
            }
        };
        validate(obj, &field, &rule)?;
        out.push(rule);
    }
    Ok(out)
}

/// The label selector in Kubernetes' string form (`LabelSelectorAsSelector(...).String()`):
/// requirements sorted by key, `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
pub(crate) fn selector_string(match_labels: &BTreeMap<String, String>, expressions: &[Requirement<'_>]) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in match_labels {
        reqs.push((k.clone(), format!("{k}={v}")));
    }
    for e in expressions {
        let mut values: Vec<&str> = e.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        values.dedup();
        let s = match e.operator {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.to_string(),
            _ => format!("!{}", e.key),
        };
        reqs.push((e.key.to_string(), s));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join(",")
}

/// `appendShardingRelabelingWithAddress`: keep the targets whose address hashes to `shard`
/// unless `__tmp_disable_sharding` is set. Upstream writes `$(SHARD)` for its config reloader
/// to expand; the number is written here.
pub(crate) fn sharding(shards: u32, shard: u32) -> Vec<Map> {
    vec![
        Map::new()
            .with("source_labels", strings(&["__address__", "__tmp_hash"]))
            .with("target_label", "__tmp_hash")
            .with("regex", "(.+);")
            .with("replacement", "$1")
            .with("action", "replace"),
        Map::new()
            .with("source_labels", strings(&["__tmp_hash"]))
            .with("target_label", "__tmp_hash")
            .with("modulus", u64::from(shards.max(1)))
            .with("action", "hashmod"),
        Map::new()
            .with("source_labels", strings(&["__tmp_hash", "__tmp_disable_sharding"]))
            .with("regex", format!("{shard};|.+;.+"))
            .with("action", "keep"),
    ]
}

/// `namespacelabeler`: the rule that pins the enforced namespace label, appended after the
/// user's relabelings and metric relabelings.
pub(crate) fn enforced_namespace(label: &str, namespace: &str) -> Map {
    Map::new().with("target_label", label).with("replacement", namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj() -> ObjectRef {
        ObjectRef { kind: "ServiceMonitor", namespace: "ns".into(), name: "m".into() }
    }

    #[test]
    fn sanitizes_like_upstream() {
        assert_eq!(sanitize_label_name("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize_label_name("ok_1"), "ok_1");
    }

    #[test]
    fn selector_string_sorts_requirements() {
        let labels = BTreeMap::from([("b".to_string(), "1".to_string())]);
        let vals = vec!["z".to_string(), "a".to_string()];
        let exps = [
            Requirement { key: "c", operator: "NotIn", values: &vals },
            Requirement { key: "a", operator: "Exists", values: &[] },
            Requirement { key: "d", operator: "DoesNotExist", values: &[] },
        ];
        assert_eq!(selector_string(&labels, &exps), "a,b=1,c notin (a,z),!d");
    }

    #[test]
    fn user_rules_are_validated() {
        let src = vec!["a".to_string()];
        let bad = UserRelabel { source_labels: &src, regex: Some("(unclosed"), ..Default::default() };
        let e = user_rule(&obj(), "spec.endpoints[0].relabelings[0]", &bad).unwrap_err();
        assert_eq!(e.field, "spec.endpoints[0].relabelings[0]");
        let bad = UserRelabel { action: Some("explode"), ..Default::default() };
        let e = user_rule(&obj(), "f", &bad).unwrap_err();
        assert!(e.message.contains("unknown relabel action"), "{e}");
        let ok = UserRelabel { source_labels: &src, action: Some("Keep"), regex: Some("x.*"), ..Default::default() };
        let m = user_rule(&obj(), "f", &ok).unwrap();
        assert_eq!(m.0.get("action").and_then(Value::as_str), Some("keep"));
    }
}
