//! PrometheusRule -> a rule file, as prometheus-operator's `PrometheusRuleSelector` writes it:
//! named `<namespace>-<name>-<uid>.yaml`, the spec marshalled with sorted keys, empty durations
//! and Thanos' `partial_response_strategy` dropped, and validated like `rulefmt` (PromQL
//! included) so one bad rule rejects its own object only.

use oxeye_crd::PrometheusRule;
use oxeye_crd::monitoring::{Rule, RuleGroup};
use serde_yaml_ng::Value;

use crate::error::{ObjectRef, Result};
use crate::yaml::{Map, maps, to_string};

/// `<namespace>-<name>-<uid>.yaml`: the UID keeps `a-b/c` and `a/b-c` apart.
pub fn rule_file_name(pr: &PrometheusRule) -> Result<String> {
    let obj = object(pr);
    let uid = pr.metadata.uid.as_deref().unwrap_or_default();
    if obj.namespace.is_empty() || obj.name.is_empty() || uid.is_empty() {
        return Err(obj.err("metadata", "namespace, name and uid are required to name the rule file"));
    }
    Ok(format!("{}-{}-{uid}.yaml", obj.namespace, obj.name))
}

fn object(pr: &PrometheusRule) -> ObjectRef {
    ObjectRef {
        kind: "PrometheusRule",
        namespace: pr.metadata.namespace.clone().unwrap_or_default(),
        name: pr.metadata.name.clone().unwrap_or_default(),
    }
}

/// The rule file's name and content. Content that `oxeye_rules` rejects (bad PromQL, duplicate
/// or missing names, invalid durations or labels) is an error naming the group and rule.
pub fn render_prometheus_rule(pr: &PrometheusRule) -> Result<(String, String)> {
    let obj = object(pr);
    let file = rule_file_name(pr)?;
    let groups: Vec<Map> = pr.spec.groups.iter().map(group).collect();
    let content = to_string(&Map::new().with("groups", maps(groups)).into());
    if let Err(errs) = oxeye_rules::parse_str(&content, &file) {
        let Some(first) = errs.iter().find(|e| !e.lint) else {
            return Ok((file, content));
        };
        let gi = first.group.as_ref().and_then(|g| pr.spec.groups.iter().position(|x| &x.name == g));
        let field = match (gi, &first.rule) {
            (Some(g), Some((r, _))) => format!("spec.groups[{g}].rules[{}]", r.saturating_sub(1)),
            (Some(g), None) => format!("spec.groups[{g}]"),
            _ => "spec.groups".to_string(),
        };
        let mut message = String::new();
        if let Some(g) = &first.group {
            message.push_str(&format!("group {g:?}"));
        }
        if let Some((_, name)) = &first.rule {
            message.push_str(&format!(", rule {name:?}"));
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&first.message);
        return Err(obj.err(field, message));
    }
    Ok((file, content))
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn string_map(m: &std::collections::BTreeMap<String, String>) -> Value {
    let mut out = Map::new();
    for (k, v) in m {
        out.put(k, v.as_str());
    }
    out.into()
}

/// Keys in alphabetical order, as sigs.k8s.io/yaml (JSON then YAML) writes them.
fn group(g: &RuleGroup) -> Map {
    let mut m = Map::new();
    if let Some(i) = non_empty(g.interval.as_ref().map(|d| d.as_str())) {
        m.put("interval", i);
    }
    if !g.labels.is_empty() {
        m.put("labels", string_map(&g.labels));
    }
    if let Some(l) = g.limit.filter(|l| *l != 0) {
        m.put("limit", l);
    }
    m.put("name", g.name.as_str());
    if let Some(q) = non_empty(g.query_offset.as_ref().map(|d| d.as_str())) {
        m.put("query_offset", q);
    }
    m.put("rules", maps(g.rules.iter().map(rule).collect()));
    m
}

fn rule(r: &Rule) -> Map {
    let mut m = Map::new();
    if let Some(a) = non_empty(r.alert.as_deref()) {
        m.put("alert", a);
    }
    if !r.annotations.is_empty() {
        m.put("annotations", string_map(&r.annotations));
    }
    // Upstream's `expr` is an IntOrString; a number is written as its text so every rule file
    // parser reads it as a PromQL string.
    m.put("expr", r.expr_text());
    if let Some(f) = non_empty(r.for_.as_ref().map(|d| d.as_str())) {
        m.put("for", f);
    }
    if let Some(k) = non_empty(r.keep_firing_for.as_ref().map(|d| d.as_str())) {
        m.put("keep_firing_for", k);
    }
    if !r.labels.is_empty() {
        m.put("labels", string_map(&r.labels));
    }
    if let Some(rec) = non_empty(r.record.as_deref()) {
        m.put("record", rec);
    }
    m
}
