//! Custom resource types that Oxeye reconciles, and the CustomResourceDefinitions generated from them.
//!
//! Owns the wire format of `monitoring.coreos.com/v1` ServiceMonitor, PodMonitor and PrometheusRule
//! (prometheus-operator's field names) and `grafana.integreatly.org/v1beta1` GrafanaDashboard
//! (grafana-operator v5), plus [`crdgen`], which turns them into the YAML under `crds/`.
//! It must not know how these objects are reconciled or rendered into configuration: that belongs
//! to the controller and renderer crates, which only read these types.

pub mod crdgen;
pub mod grafana;
pub mod monitoring;

pub use crdgen::{CrdFile, crd_files, crds};
pub use grafana::{GrafanaDashboard, GrafanaDashboardSpec, GrafanaDashboardStatus};
pub use monitoring::{
    PodMonitor, PodMonitorSpec, PrometheusRule, PrometheusRuleSpec, ServiceMonitor, ServiceMonitorSpec,
};

/// What can go wrong while generating CRDs or reading values out of the custom resources.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CRD or schema could not be turned into JSON or YAML.
    #[error("serializing CRD {crd}: {message}")]
    Serialize {
        /// The CRD's name (`<plural>.<group>`).
        crd: String,
        /// What the serializer reported.
        message: String,
    },
    /// A string field holds a value outside the set prometheus-operator accepts.
    #[error("invalid {field} {value:?}: expected one of {expected}")]
    InvalidValue {
        /// The field's name as written in the manifest (for example `action`).
        field: &'static str,
        /// The value found.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
