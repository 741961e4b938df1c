//! Status subresource shapes for the monitoring.coreos.com kinds.
//!
//! Oxeye writes top-level `conditions` (so `kubectl wait --for=condition=Accepted` works) and,
//! for monitors, target counts. `bindings` has prometheus-operator's newer shape
//! (`status.bindings[].conditions`) so objects carrying an upstream status stay valid and tools
//! that read it keep working.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition status, as in prometheus-operator (`Degraded` is used by workloads only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
    Degraded,
}

/// One observation about the object, with the generation it was made for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type. Oxeye sets `Accepted` (the object was rendered into the server's
    /// configuration; `False` with the reason and message when it was rejected) and
    /// `Reconciled` (the server runs a configuration that includes it).
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// When the status last changed.
    pub last_transition_time: Time,
    /// Machine-readable reason for the last transition (CamelCase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details, for example the field that was rejected and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `.metadata.generation` the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// prometheus-operator's link from a configuration resource to a workload that selected it.
///
/// Oxeye does not restrict `group` and `resource` to prometheus-operator's workload kinds, so a
/// binding may name the Oxeye server that loaded the object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadBinding {
    /// API group of the workload (`monitoring.coreos.com` upstream).
    pub group: String,
    /// Resource of the workload (`prometheuses`, `prometheusagents`, `thanosrulers` upstream).
    pub resource: String,
    /// Name of the workload.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Namespace of the workload.
    #[schemars(length(min = 1))]
    pub namespace: String,
    /// State of this object as seen by that workload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Counts of the targets a monitor produced, as last seen by the Oxeye server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetCounts {
    /// Active targets after relabeling.
    pub discovered: u32,
    /// Targets whose last scrape succeeded.
    pub up: u32,
    /// Targets whose last scrape failed.
    pub down: u32,
}

/// Status of a ServiceMonitor or PodMonitor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitorStatus {
    /// Oxeye's conditions (`Accepted`, `Reconciled`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Targets discovered from this monitor and how many are up (Oxeye extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetCounts>,
    /// prometheus-operator's per-workload status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<WorkloadBinding>,
}

/// Status of a PrometheusRule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleStatus {
    /// Oxeye's conditions (`Accepted`: the rule groups parsed; `Reconciled`: the server loaded
    /// them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// prometheus-operator's per-workload status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<WorkloadBinding>,
}
