//! `monitoring.coreos.com/v1` PrometheusRule: recording and alerting rule groups.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Duration;
use super::status::RuleStatus;

/// The content of a Prometheus rule file: a list of rule groups.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "PrometheusRule",
    plural = "prometheusrules",
    shortname = "promrule",
    category = "prometheus-operator",
    namespaced,
    status = "RuleStatus",
    doc = "PrometheusRule defines recording and alerting rules evaluated by Oxeye (or Prometheus).",
    printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    crates(
        kube_core = "::kube_core",
        k8s_openapi = "::k8s_openapi",
        schemars = "::schemars",
        serde = "::serde",
        serde_json = "::serde_json"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRuleSpec {
    /// Rule groups, as in a Prometheus rule file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<RuleGroup>,
}

/// Rules evaluated together, in order, at one interval.
///
/// Field names follow the Prometheus rule file where prometheus-operator does
/// (`query_offset`, `partial_response_strategy`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleGroup {
    /// Group name, unique within the object.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Labels added to (or overwritten on) every rule's result; rule labels take precedence.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Evaluation interval; the global one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Shift evaluation timestamps this far into the past.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_offset: Option<Duration>,
    /// Alerting and recording rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Thanos Ruler only (`abort` or `warn`); ignored by Oxeye as by Prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^(?i)(abort|warn)?$"))]
    pub partial_response_strategy: Option<String>,
    /// Limit on alerts an alerting rule and series a recording rule may produce; 0 means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// A recording rule (`record`) or an alerting rule (`alert`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rule {
    /// Name of the series a recording rule writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Name of the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// PromQL expression. An integer or a string, as upstream (`expr: 1` is valid YAML here).
    pub expr: IntOrString,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    /// How long the alert keeps firing after the condition clears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<Duration>,
    /// Labels added to or overwritten on the result.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the alert (alerting rules only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The expression as PromQL text (an integer `expr` becomes its decimal form).
    pub fn expr_text(&self) -> String {
        match &self.expr {
            IntOrString::Int(i) => i.to_string(),
            IntOrString::String(s) => s.clone(),
        }
    }
}
