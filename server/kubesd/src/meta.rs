//! Target groups from Kubernetes objects, with Prometheus 3.x's `__meta_kubernetes_*` labels.
//! Pure functions of (object, the related objects it can look up): no client, no watching, so
//! every label rule is tested on constructed objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Endpoints, Namespace, Node, ObjectReference, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use oxeye_model::Labels;

use crate::TargetGroup;
use crate::endpointslice::{Slice, SliceEndpoint, SlicePort};

pub const META_PREFIX: &str = "__meta_kubernetes_";
pub const NAMESPACE_LABEL: &str = "__meta_kubernetes_namespace";
const ADDRESS: &str = "__address__";
const INSTANCE: &str = "instance";
const PRESENT: &str = "true";

/// A label set under construction. Empty values are kept here and dropped when the set becomes
/// [`Labels`], as Prometheus's label builder drops them.
type LabelSet = BTreeMap<String, String>;

/// The related objects a builder may attach: the watched caches implement this.
pub trait Lookup {
    fn pod(&self, namespace: &str, name: &str) -> Option<&Pod>;
    fn service(&self, namespace: &str, name: &str) -> Option<&Service>;
    fn node(&self, name: &str) -> Option<&Node>;
    fn namespace(&self, name: &str) -> Option<&Namespace>;
}

/// Which extra metadata to attach (`attach_metadata`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attach {
    pub node: bool,
    pub namespace: bool,
}

pub fn pod_source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}
pub fn service_source(namespace: &str, name: &str) -> String {
    format!("svc/{namespace}/{name}")
}
pub fn endpoints_source(namespace: &str, name: &str) -> String {
    format!("endpoints/{namespace}/{name}")
}
pub fn endpointslice_source(namespace: &str, name: &str) -> String {
    format!("endpointslice/{namespace}/{name}")
}
pub fn node_source(name: &str) -> String {
    format!("node/{name}")
}

/// Prometheus's `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_label_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

fn set(ls: &mut LabelSet, name: impl Into<String>, value: impl Into<String>) {
    ls.insert(name.into(), value.into());
}

/// `<role>_name`, `<role>_label_*`, `<role>_labelpresent_*`, `<role>_annotation_*`,
/// `<role>_annotationpresent_*` (Prometheus's `addObjectMetaLabels`).
fn add_object_meta_labels(ls: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    set(ls, format!("{META_PREFIX}{role}_name"), meta.name.clone().unwrap_or_default());
    add_label_maps(ls, meta, role);
}

fn add_label_maps(ls: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    for (k, v) in meta.labels.iter().flatten() {
        let n = sanitize_label_name(k);
        set(ls, format!("{META_PREFIX}{role}_label_{n}"), v.clone());
        set(ls, format!("{META_PREFIX}{role}_labelpresent_{n}"), PRESENT);
    }
    for (k, v) in meta.annotations.iter().flatten() {
        let n = sanitize_label_name(k);
        set(ls, format!("{META_PREFIX}{role}_annotation_{n}"), v.clone());
        set(ls, format!("{META_PREFIX}{role}_annotationpresent_{n}"), PRESENT);
    }
}

/// Node name, labels and annotations of the node `name` (`attach_metadata.node`).
fn add_node_labels(ls: &mut LabelSet, lookup: &dyn Lookup, name: Option<&str>) {
    if let Some(node) = name.and_then(|n| lookup.node(n)) {
        add_object_meta_labels(ls, &node.metadata, "node");
    }
}

/// Namespace labels and annotations (`attach_metadata.namespace`).
fn add_namespace_labels(ls: &mut LabelSet, lookup: &dyn Lookup, namespace: &str) {
    if let Some(ns) = lookup.namespace(namespace) {
        add_label_maps(ls, &ns.metadata, "namespace");
    }
}

fn into_labels(ls: LabelSet) -> Labels {
    Labels::from_pairs(ls)
}

fn group(source: String, labels: LabelSet, targets: Vec<LabelSet>) -> TargetGroup {
    TargetGroup { source, targets: targets.into_iter().map(into_labels).collect(), labels: into_labels(labels) }
}

fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn ns_name(meta: &ObjectMeta) -> (&str, &str) {
    (meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// pod

/// The labels every target of a pod carries (Prometheus's `podLabels`).
fn pod_labels(pod: &Pod) -> LabelSet {
    let mut ls = LabelSet::new();
    let status = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.as_ref();
    set(&mut ls, format!("{META_PREFIX}pod_ip"), status.pod_ip.clone().unwrap_or_default());
    set(&mut ls, format!("{META_PREFIX}pod_ready"), pod_ready(pod));
    set(&mut ls, format!("{META_PREFIX}pod_phase"), status.phase.clone().unwrap_or_default());
    set(&mut ls, format!("{META_PREFIX}pod_node_name"), spec.and_then(|s| s.node_name.clone()).unwrap_or_default());
    set(&mut ls, format!("{META_PREFIX}pod_host_ip"), status.host_ip.clone().unwrap_or_default());
    set(&mut ls, format!("{META_PREFIX}pod_uid"), pod.metadata.uid.clone().unwrap_or_default());
    add_object_meta_labels(&mut ls, &pod.metadata, "pod");
    let controller = pod.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true));
    if let Some(c) = controller {
        if !c.kind.is_empty() {
            set(&mut ls, format!("{META_PREFIX}pod_controller_kind"), c.kind.clone());
        }
        if !c.name.is_empty() {
            set(&mut ls, format!("{META_PREFIX}pod_controller_name"), c.name.clone());
        }
    }
    ls
}

fn pod_ready(pod: &Pod) -> String {
    let conds = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conds
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Regular containers first, then init containers, with their "is init" flag.
fn pod_containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let spec = pod.spec.as_ref();
    let regular = spec.map(|s| s.containers.iter()).into_iter().flatten().map(|c| (c, false));
    let init = spec.and_then(|s| s.init_containers.as_ref()).into_iter().flatten().map(|c| (c, true));
    regular.chain(init)
}

fn container_id(pod: &Pod, name: &str, init: bool) -> String {
    let status = pod.status.as_ref();
    let statuses = if init {
        status.and_then(|s| s.init_container_statuses.as_ref())
    } else {
        status.and_then(|s| s.container_statuses.as_ref())
    };
    statuses.into_iter().flatten().find(|s| s.name == name).and_then(|s| s.container_id.clone()).unwrap_or_default()
}

fn container_port_labels(
    ls: &mut LabelSet,
    c: &Container,
    port: &k8s_openapi::api::core::v1::ContainerPort,
    init: bool,
) {
    set(ls, format!("{META_PREFIX}pod_container_name"), c.name.clone());
    set(ls, format!("{META_PREFIX}pod_container_image"), c.image.clone().unwrap_or_default());
    set(ls, format!("{META_PREFIX}pod_container_port_name"), port.name.clone().unwrap_or_default());
    set(ls, format!("{META_PREFIX}pod_container_port_number"), port.container_port.to_string());
    set(ls, format!("{META_PREFIX}pod_container_port_protocol"), port.protocol.clone().unwrap_or_default());
    set(ls, format!("{META_PREFIX}pod_container_init"), init.to_string());
}

/// Role `pod`: one target per declared container port, or one port-less target per container
/// without ports. A pod without an IP yields an empty group.
pub fn pod_group(pod: &Pod, lookup: &dyn Lookup, attach: Attach) -> TargetGroup {
    let (ns, name) = ns_name(&pod.metadata);
    let source = pod_source(ns, name);
    let pod_ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
    if pod_ip.is_empty() {
        return TargetGroup { source, ..TargetGroup::default() };
    }
    let mut labels = pod_labels(pod);
    set(&mut labels, NAMESPACE_LABEL, ns);
    if attach.node {
        add_node_labels(&mut labels, lookup, pod.spec.as_ref().and_then(|s| s.node_name.as_deref()));
    }
    if attach.namespace {
        add_namespace_labels(&mut labels, lookup, ns);
    }
    let mut targets = Vec::new();
    for (c, init) in pod_containers(pod) {
        let cid = container_id(pod, &c.name, init);
        let ports = c.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            let mut t = LabelSet::new();
            set(&mut t, ADDRESS, pod_ip.clone());
            set(&mut t, format!("{META_PREFIX}pod_container_name"), c.name.clone());
            set(&mut t, format!("{META_PREFIX}pod_container_id"), cid.clone());
            set(&mut t, format!("{META_PREFIX}pod_container_image"), c.image.clone().unwrap_or_default());
            set(&mut t, format!("{META_PREFIX}pod_container_init"), init.to_string());
            targets.push(t);
            continue;
        }
        for port in ports {
            let mut t = LabelSet::new();
            set(&mut t, ADDRESS, join_host_port(&pod_ip, port.container_port));
            container_port_labels(&mut t, c, port, init);
            set(&mut t, format!("{META_PREFIX}pod_container_id"), cid.clone());
            targets.push(t);
        }
    }
    group(source, labels, targets)
}

// ---------------------------------------------------------------------------------------------
// service

/// The labels of a service attached to its own targets and to endpoints of it.
fn service_labels(svc: &Service) -> LabelSet {
    let mut ls = LabelSet::new();
    set(&mut ls, NAMESPACE_LABEL, svc.metadata.namespace.clone().unwrap_or_default());
    add_object_meta_labels(&mut ls, &svc.metadata, "service");
    ls
}

/// Role `service`: one target per service port, addressed by the service's DNS name.
pub fn service_group(svc: &Service, lookup: &dyn Lookup, attach: Attach) -> TargetGroup {
    let (ns, name) = ns_name(&svc.metadata);
    let mut labels = service_labels(svc);
    if attach.namespace {
        add_namespace_labels(&mut labels, lookup, ns);
    }
    let spec = svc.spec.clone().unwrap_or_default();
    let svc_type = spec.type_.clone().unwrap_or_default();
    let mut targets = Vec::new();
    for port in spec.ports.iter().flatten() {
        let mut t = LabelSet::new();
        set(&mut t, ADDRESS, join_host_port(&format!("{name}.{ns}.svc"), port.port));
        set(&mut t, format!("{META_PREFIX}service_port_name"), port.name.clone().unwrap_or_default());
        set(&mut t, format!("{META_PREFIX}service_port_number"), port.port.to_string());
        set(&mut t, format!("{META_PREFIX}service_port_protocol"), port.protocol.clone().unwrap_or_default());
        set(&mut t, format!("{META_PREFIX}service_type"), svc_type.clone());
        if svc_type == "ExternalName" {
            set(&mut t, format!("{META_PREFIX}service_external_name"), spec.external_name.clone().unwrap_or_default());
        } else {
            set(&mut t, format!("{META_PREFIX}service_cluster_ip"), spec.cluster_ip.clone().unwrap_or_default());
        }
        if svc_type == "LoadBalancer" {
            set(
                &mut t,
                format!("{META_PREFIX}service_loadbalancer_ip"),
                spec.load_balancer_ip.clone().unwrap_or_default(),
            );
        }
        targets.push(t);
    }
    group(service_source(ns, name), labels, targets)
}

// ---------------------------------------------------------------------------------------------
// endpoints and endpoint slices share the pod handling

/// The pods seen behind an endpoints object or slice, with the ports already targeted.
#[derive(Default)]
struct SeenPods<'a> {
    pods: Vec<(&'a Pod, Vec<i32>)>,
}

impl<'a> SeenPods<'a> {
    fn note(&mut self, pod: &'a Pod, port: Option<i32>) {
        let key = ns_name(&pod.metadata);
        let i = match self.pods.iter().position(|(p, _)| ns_name(&p.metadata) == key) {
            Some(i) => i,
            None => {
                self.pods.push((pod, Vec::new()));
                self.pods.len() - 1
            }
        };
        if let Some(p) = port {
            self.pods[i].1.push(p);
        }
    }

    /// Targets for every container port of the seen pods that no endpoint port covered.
    fn extra_targets(&self, targets: &mut Vec<LabelSet>) {
        for (pod, seen) in &self.pods {
            let pod_ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
            if pod_ip.is_empty() {
                continue;
            }
            for (c, init) in pod_containers(pod) {
                for cport in c.ports.iter().flatten() {
                    if seen.contains(&cport.container_port) {
                        continue;
                    }
                    let mut t = LabelSet::new();
                    set(&mut t, ADDRESS, join_host_port(&pod_ip, cport.container_port));
                    container_port_labels(&mut t, c, cport, init);
                    let mut merged = pod_labels(pod);
                    merged.append(&mut t);
                    targets.push(merged);
                }
            }
        }
    }
}

fn resolve_pod<'a>(lookup: &'a dyn Lookup, r: Option<&ObjectReference>) -> Option<&'a Pod> {
    let r = r?;
    if r.kind.as_deref() != Some("Pod") {
        return None;
    }
    lookup.pod(r.namespace.as_deref().unwrap_or_default(), r.name.as_deref().unwrap_or_default())
}

/// Pod labels plus the labels of the container port matching `port`, merged into `target`
/// (pod labels win on conflicts, as Prometheus's `LabelSet.Merge` does).
fn attach_pod(target: &mut LabelSet, pod: &Pod, port: Option<i32>) {
    target.append(&mut pod_labels(pod));
    let Some(port) = port else { return };
    'containers: for (c, init) in pod_containers(pod) {
        for cport in c.ports.iter().flatten() {
            if cport.container_port == port {
                container_port_labels(target, c, cport, init);
                break 'containers;
            }
        }
    }
}

/// Role `endpoints`: one target per address and port of a core/v1 Endpoints object, plus the
/// unlisted container ports of the pods behind it.
pub fn endpoints_group(eps: &Endpoints, lookup: &dyn Lookup, attach: Attach) -> TargetGroup {
    let (ns, name) = ns_name(&eps.metadata);
    let mut labels = LabelSet::new();
    set(&mut labels, NAMESPACE_LABEL, ns);
    add_object_meta_labels(&mut labels, &eps.metadata, "endpoints");
    if let Some(svc) = lookup.service(ns, name) {
        labels.append(&mut service_labels(svc));
    }
    if attach.namespace {
        add_namespace_labels(&mut labels, lookup, ns);
    }
    let mut targets = Vec::new();
    let mut seen = SeenPods::default();
    for subset in eps.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            let addrs = subset.addresses.iter().flatten().map(|a| (a, true));
            let not_ready = subset.not_ready_addresses.iter().flatten().map(|a| (a, false));
            for (addr, ready) in addrs.chain(not_ready) {
                let mut t = LabelSet::new();
                set(&mut t, ADDRESS, join_host_port(&addr.ip, port.port));
                set(&mut t, format!("{META_PREFIX}endpoint_port_name"), port.name.clone().unwrap_or_default());
                set(&mut t, format!("{META_PREFIX}endpoint_port_protocol"), port.protocol.clone().unwrap_or_default());
                set(&mut t, format!("{META_PREFIX}endpoint_ready"), ready.to_string());
                if let Some(h) = addr.hostname.as_ref().filter(|h| !h.is_empty()) {
                    set(&mut t, format!("{META_PREFIX}endpoint_hostname"), h.clone());
                }
                if let Some(n) = &addr.node_name {
                    set(&mut t, format!("{META_PREFIX}endpoint_node_name"), n.clone());
                }
                if let Some(r) = &addr.target_ref {
                    set(
                        &mut t,
                        format!("{META_PREFIX}endpoint_address_target_kind"),
                        r.kind.clone().unwrap_or_default(),
                    );
                    set(
                        &mut t,
                        format!("{META_PREFIX}endpoint_address_target_name"),
                        r.name.clone().unwrap_or_default(),
                    );
                }
                // No `endpoint_port_app_protocol`: neither Prometheus's documentation nor its
                // endpoints role has one (only endpoint slices carry `port_app_protocol`).
                if attach.node {
                    // Prometheus's endpoints role prefers the address's nodeName and falls back
                    // to a Node target reference (the endpointslice role does the opposite).
                    let node = match (&addr.node_name, &addr.target_ref) {
                        (Some(n), _) => Some(n.as_str()),
                        (None, Some(r)) if r.kind.as_deref() == Some("Node") => r.name.as_deref(),
                        _ => None,
                    };
                    add_node_labels(&mut t, lookup, node);
                }
                if let Some(pod) = resolve_pod(lookup, addr.target_ref.as_ref()) {
                    seen.note(pod, Some(port.port));
                    attach_pod(&mut t, pod, Some(port.port));
                }
                targets.push(t);
            }
        }
    }
    seen.extra_targets(&mut targets);
    group(endpoints_source(ns, name), labels, targets)
}

fn slice_target(addr: &str, ep: &SliceEndpoint, port: &SlicePort, lookup: &dyn Lookup, attach: Attach) -> LabelSet {
    let mut t = LabelSet::new();
    let address = match port.port {
        Some(p) => join_host_port(addr, p),
        None => addr.to_string(),
    };
    set(&mut t, ADDRESS, address);
    let p = |s: &str| format!("{META_PREFIX}endpointslice_{s}");
    if let Some(v) = &port.name {
        set(&mut t, p("port_name"), v.clone());
    }
    if let Some(v) = &port.protocol {
        set(&mut t, p("port_protocol"), v.clone());
    }
    if let Some(v) = port.port {
        set(&mut t, p("port"), v.to_string());
    }
    if let Some(v) = &port.app_protocol {
        set(&mut t, p("port_app_protocol"), v.clone());
    }
    if let Some(v) = ep.ready {
        set(&mut t, p("endpoint_conditions_ready"), v.to_string());
    }
    if let Some(v) = ep.serving {
        set(&mut t, p("endpoint_conditions_serving"), v.to_string());
    }
    if let Some(v) = ep.terminating {
        set(&mut t, p("endpoint_conditions_terminating"), v.to_string());
    }
    if let Some(v) = &ep.hostname {
        set(&mut t, p("endpoint_hostname"), v.clone());
    }
    if let Some(r) = &ep.target_ref {
        set(&mut t, p("address_target_kind"), r.kind.clone().unwrap_or_default());
        set(&mut t, p("address_target_name"), r.name.clone().unwrap_or_default());
    }
    if let Some(v) = &ep.node_name {
        set(&mut t, p("endpoint_node_name"), v.clone());
    }
    if let Some(v) = &ep.zone {
        set(&mut t, p("endpoint_zone"), v.clone());
    }
    for (k, v) in &ep.topology {
        let n = sanitize_label_name(k);
        set(&mut t, p(&format!("endpoint_topology_{n}")), v.clone());
        set(&mut t, p(&format!("endpoint_topology_present_{n}")), PRESENT);
    }
    if attach.node {
        let node = match &ep.target_ref {
            Some(r) if r.kind.as_deref() == Some("Node") => r.name.as_deref(),
            _ => ep.node_name.as_deref(),
        };
        add_node_labels(&mut t, lookup, node);
    }
    t
}

/// Role `endpointslice`: one target per endpoint address and port of a slice, plus the
/// unlisted container ports of the pods behind it.
pub fn endpointslice_group(slice: &Slice, lookup: &dyn Lookup, attach: Attach) -> TargetGroup {
    let mut labels = LabelSet::new();
    set(&mut labels, NAMESPACE_LABEL, slice.namespace.clone());
    set(&mut labels, format!("{META_PREFIX}endpointslice_address_type"), slice.address_type.clone());
    let meta = ObjectMeta {
        name: Some(slice.name.clone()),
        labels: Some(slice.labels.clone()),
        annotations: Some(slice.annotations.clone()),
        ..ObjectMeta::default()
    };
    add_object_meta_labels(&mut labels, &meta, "endpointslice");
    if let Some(svc) = slice.service_name().and_then(|s| lookup.service(&slice.namespace, s)) {
        labels.append(&mut service_labels(svc));
    }
    if attach.namespace {
        add_namespace_labels(&mut labels, lookup, &slice.namespace);
    }
    let mut targets = Vec::new();
    let mut seen = SeenPods::default();
    for ep in &slice.endpoints {
        for port in &slice.ports {
            for addr in &ep.addresses {
                let mut t = slice_target(addr, ep, port, lookup, attach);
                if let Some(pod) = resolve_pod(lookup, ep.target_ref.as_ref()) {
                    seen.note(pod, port.port);
                    attach_pod(&mut t, pod, port.port);
                }
                targets.push(t);
            }
        }
    }
    seen.extra_targets(&mut targets);
    group(endpointslice_source(&slice.namespace, &slice.name), labels, targets)
}

// ---------------------------------------------------------------------------------------------
// node

/// The address types in the order Prometheus prefers them for `__address__`.
const NODE_ADDRESS_ORDER: [&str; 6] =
    ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"];

/// Role `node`: one target per node at its preferred address and the kubelet port. A node
/// without any address yields an empty group.
pub fn node_group(node: &Node) -> TargetGroup {
    let name = node.metadata.name.clone().unwrap_or_default();
    let source = node_source(&name);
    let mut labels = LabelSet::new();
    add_object_meta_labels(&mut labels, &node.metadata, "node");
    set(
        &mut labels,
        format!("{META_PREFIX}node_provider_id"),
        node.spec.as_ref().and_then(|s| s.provider_id.clone()).unwrap_or_default(),
    );
    let status = node.status.clone().unwrap_or_default();
    let mut by_type: BTreeMap<String, String> = BTreeMap::new();
    for a in status.addresses.iter().flatten() {
        by_type.entry(a.type_.clone()).or_insert_with(|| a.address.clone());
    }
    let Some(addr) = NODE_ADDRESS_ORDER.iter().find_map(|t| by_type.get(*t)) else {
        tracing::warn!(node = %name, "node has no address; no target");
        return TargetGroup { source, ..TargetGroup::default() };
    };
    let port = status.daemon_endpoints.and_then(|d| d.kubelet_endpoint).map(|k| k.port).unwrap_or_default();
    let mut t = LabelSet::new();
    set(&mut t, ADDRESS, join_host_port(addr, port));
    set(&mut t, INSTANCE, name.clone());
    for (ty, a) in &by_type {
        set(&mut t, sanitize_label_name(&format!("{META_PREFIX}node_address_{ty}")), a.clone());
    }
    group(source, labels, vec![t])
}

#[cfg(test)]
mod tests;
