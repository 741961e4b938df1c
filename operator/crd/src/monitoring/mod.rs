//! `monitoring.coreos.com/v1` kinds with prometheus-operator's field names: ServiceMonitor,
//! PodMonitor, PrometheusRule, the field types they share and their status.
//!
//! Fields are typed as upstream types them; what Oxeye does with each is the renderer's business
//! (see docs/crds.md for what it honours).

pub mod common;
pub mod pod_monitor;
pub mod prometheus_rule;
pub mod service_monitor;
pub mod status;

pub use common::*;
pub use pod_monitor::{PodMetricsEndpoint, PodMonitor, PodMonitorSpec};
pub use prometheus_rule::{PrometheusRule, PrometheusRuleSpec, Rule, RuleGroup};
pub use service_monitor::{Endpoint, ServiceMonitor, ServiceMonitorSpec};
pub use status::{Condition, ConditionStatus, MonitorStatus, RuleStatus, TargetCounts, WorkloadBinding};

/// prometheus-operator's `ByteSize` pattern (`512MB`, `1GiB`, ...).
pub const BYTE_SIZE_PATTERN: &str = "(^0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$";
