//! Kubernetes service discovery (`kubernetes_sd_configs`): watches pods, services, endpoints,
//! endpoint slices and nodes through the API server and emits target groups with Prometheus
//! 3.x's `__meta_kubernetes_*` labels. It knows nothing about scraping or relabeling: consumers
//! read full-group updates from a channel, as from any other discovery provider.
//!
//! k8s-openapi needs exactly one Kubernetes version feature in a build. This library enables
//! `v1_33` itself rather than leaving it to binaries: every test and binary of the workspace
//! that links it then builds without repeating the choice, and the types used here (core/v1,
//! discovery/v1) are identical across the supported versions. v1beta1 EndpointSlices are our
//! own type ([`endpointslice::EndpointSliceV1Beta1`]), so older API servers still work.

pub mod client;
pub mod config;
mod discovery;
pub mod endpointslice;
pub mod meta;
mod store;

use oxeye_model::Labels;

pub use config::{AttachMetadataConfig, KubernetesSdConfig, NamespaceDiscovery, Role, SelectorConfig};
pub use discovery::KubernetesDiscovery;

/// A group of targets from one Kubernetes object, as in Prometheus's `targetgroup.Group`.
/// `source` names the object (`pod/<ns>/<name>`, `svc/<ns>/<name>`, `endpoints/<ns>/<name>`,
/// `endpointslice/<ns>/<name>`, `node/<name>`). An update with no targets removes the group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    pub source: String,
    pub targets: Vec<Labels>,
    pub labels: Labels,
}

/// Errors setting up discovery. Watch errors after start are retried, not returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes_sd_config {field}: {message}")]
    Config { field: String, message: String },
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("in-cluster configuration: {0}")]
    InCluster(String),
    #[error("kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
