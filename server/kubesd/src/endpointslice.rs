//! EndpointSlices in the two API versions discovery reads: `discovery.k8s.io/v1` (k8s-openapi's
//! type) and `discovery.k8s.io/v1beta1`, which k8s-openapi dropped with Kubernetes 1.25 but
//! which is all that 1.20 and older serve, so its type is defined here. Both are adapted into one
//! [`Slice`] that the label builder reads (Prometheus's `endpointSliceAdaptor`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::discovery::v1 as disv1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// `discovery.k8s.io/v1beta1` EndpointSlice, as served by Kubernetes 1.17 to 1.24.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSliceV1Beta1 {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub address_type: String,
    #[serde(default)]
    pub endpoints: Vec<EndpointV1Beta1>,
    #[serde(default)]
    pub ports: Option<Vec<disv1::EndpointPort>>,
}

/// One endpoint of a v1beta1 slice. `topology` became `deprecatedTopology` (plus `zone` and
/// `nodeName` fields) in v1.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointV1Beta1 {
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub conditions: Option<disv1::EndpointConditions>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub target_ref: Option<ObjectReference>,
    #[serde(default)]
    pub topology: Option<BTreeMap<String, String>>,
}

impl kube::Resource for EndpointSliceV1Beta1 {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("EndpointSlice")
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("discovery.k8s.io")
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1beta1")
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("endpointslices")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// An EndpointSlice of either version, reduced to what discovery reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Slice {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub address_type: String,
    pub endpoints: Vec<SliceEndpoint>,
    pub ports: Vec<SlicePort>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SliceEndpoint {
    pub addresses: Vec<String>,
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
    pub hostname: Option<String>,
    pub node_name: Option<String>,
    pub zone: Option<String>,
    pub target_ref: Option<ObjectReference>,
    /// v1 `deprecatedTopology`, v1beta1 `topology`.
    pub topology: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlicePort {
    pub name: Option<String>,
    pub port: Option<i32>,
    pub protocol: Option<String>,
    pub app_protocol: Option<String>,
}

impl Slice {
    /// The name of the Service the slice belongs to (label `kubernetes.io/service-name`).
    pub fn service_name(&self) -> Option<&str> {
        self.labels.get("kubernetes.io/service-name").map(String::as_str)
    }
}

fn meta_parts(m: &ObjectMeta) -> (String, String, BTreeMap<String, String>, BTreeMap<String, String>) {
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
        m.labels.clone().unwrap_or_default(),
        m.annotations.clone().unwrap_or_default(),
    )
}

fn port_of(p: &disv1::EndpointPort) -> SlicePort {
    SlicePort { name: p.name.clone(), port: p.port, protocol: p.protocol.clone(), app_protocol: p.app_protocol.clone() }
}

impl From<&disv1::EndpointSlice> for Slice {
    fn from(s: &disv1::EndpointSlice) -> Self {
        let (namespace, name, labels, annotations) = meta_parts(&s.metadata);
        Slice {
            namespace,
            name,
            labels,
            annotations,
            address_type: s.address_type.clone(),
            endpoints: s
                .endpoints
                .iter()
                .map(|e| {
                    let c = e.conditions.clone().unwrap_or_default();
                    SliceEndpoint {
                        addresses: e.addresses.clone(),
                        ready: c.ready,
                        serving: c.serving,
                        terminating: c.terminating,
                        hostname: e.hostname.clone(),
                        node_name: e.node_name.clone(),
                        zone: e.zone.clone(),
                        target_ref: e.target_ref.clone(),
                        topology: e.deprecated_topology.clone().unwrap_or_default(),
                    }
                })
                .collect(),
            ports: s.ports.iter().flatten().map(port_of).collect(),
        }
    }
}

impl From<&EndpointSliceV1Beta1> for Slice {
    fn from(s: &EndpointSliceV1Beta1) -> Self {
        let (namespace, name, labels, annotations) = meta_parts(&s.metadata);
        Slice {
            namespace,
            name,
            labels,
            annotations,
            address_type: s.address_type.clone(),
            endpoints: s
                .endpoints
                .iter()
                .map(|e| {
                    let c = e.conditions.clone().unwrap_or_default();
                    SliceEndpoint {
                        addresses: e.addresses.clone(),
                        ready: c.ready,
                        serving: c.serving,
                        terminating: c.terminating,
                        hostname: e.hostname.clone(),
                        node_name: e.node_name.clone(),
                        zone: None,
                        target_ref: e.target_ref.clone(),
                        topology: e.topology.clone().unwrap_or_default(),
                    }
                })
                .collect(),
            ports: s.ports.iter().flatten().map(port_of).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1beta1_json_round_trips_into_slice() {
        let json = serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1beta1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-abc", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{
                "addresses": ["127.0.0.2"],
                "conditions": {"ready": true},
                "topology": {"kubernetes.io/hostname": "n1"},
                "targetRef": {"kind": "Pod", "name": "p", "namespace": "ns"}
            }],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        });
        let s: EndpointSliceV1Beta1 = serde_json::from_value(json).unwrap();
        let slice = Slice::from(&s);
        assert_eq!(slice.service_name(), Some("web"));
        assert_eq!(slice.endpoints[0].topology.get("kubernetes.io/hostname").map(String::as_str), Some("n1"));
        assert_eq!(slice.endpoints[0].ready, Some(true));
        assert_eq!(slice.endpoints[0].serving, None);
        assert_eq!(slice.ports[0].port, Some(8080));
        assert_eq!(<EndpointSliceV1Beta1 as kube::Resource>::api_version(&()), "discovery.k8s.io/v1beta1");
    }
}
