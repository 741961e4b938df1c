//! The configuration types, defined (with their parsing and Prometheus's validation) in
//! `oxeye-config` so that crate stays free of Kubernetes client code.

pub use oxeye_config::{
    AttachMetadataConfig, KubernetesRole as Role, KubernetesSdConfig, NamespaceDiscovery, SelectorConfig,
};
