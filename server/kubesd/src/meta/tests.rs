use super::*;
use serde_json::json;

#[derive(Default)]
struct Objects {
    pods: Vec<Pod>,
    services: Vec<Service>,
    nodes: Vec<Node>,
    namespaces: Vec<Namespace>,
}

fn named<'a, T>(v: &'a [T], meta: impl Fn(&T) -> &ObjectMeta, ns: &str, name: &str) -> Option<&'a T> {
    v.iter().find(|o| {
        let m = meta(o);
        m.namespace.as_deref().unwrap_or_default() == ns && m.name.as_deref() == Some(name)
    })
}

impl Lookup for Objects {
    fn pod(&self, ns: &str, name: &str) -> Option<&Pod> {
        named(&self.pods, |p| &p.metadata, ns, name)
    }
    fn service(&self, ns: &str, name: &str) -> Option<&Service> {
        named(&self.services, |p| &p.metadata, ns, name)
    }
    fn node(&self, name: &str) -> Option<&Node> {
        named(&self.nodes, |p| &p.metadata, "", name)
    }
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        named(&self.namespaces, |p| &p.metadata, "", name)
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// A target's full label set: group labels with the target's own on top, as the scrape layer
/// merges them.
fn merged(g: &TargetGroup, i: usize) -> Labels {
    let mut all: Vec<(String, String)> = g.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    all.extend(g.targets[i].iter().map(|l| (l.name.clone(), l.value.clone())));
    Labels::from_pairs(all)
}

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web-0", "namespace": "shop", "uid": "u-1",
            "labels": {"app.kubernetes.io/name": "web"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Other", "name": "o", "uid": "x"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "y", "controller": true}
            ]
        },
        "spec": {
            "nodeName": "n1",
            "containers": [
                {"name": "app", "image": "web:1", "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
                ]},
                {"name": "sidecar", "image": "side:2"}
            ],
            "initContainers": [{"name": "init", "image": "init:3", "ports": [{"containerPort": 7000, "protocol": "UDP"}]}]
        },
        "status": {
            "phase": "Running", "podIP": "127.0.0.5", "hostIP": "10.1.1.1",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "containerID": "containerd://abc", "image": "web:1", "imageID": "", "ready": true, "restartCount": 0}]
        }
    }))
    .unwrap()
}

#[test]
fn pod_role_labels() {
    let g = pod_group(&pod(), &Objects::default(), Attach::default());
    assert_eq!(g.source, "pod/shop/web-0");
    assert_eq!(
        g.labels,
        labels(&[
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_pod_name", "web-0"),
            ("__meta_kubernetes_pod_ip", "127.0.0.5"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_node_name", "n1"),
            ("__meta_kubernetes_pod_host_ip", "10.1.1.1"),
            ("__meta_kubernetes_pod_uid", "u-1"),
            ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"),
            ("__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name", "true"),
            ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
            ("__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape", "true"),
            ("__meta_kubernetes_pod_controller_kind", "StatefulSet"),
            ("__meta_kubernetes_pod_controller_name", "web"),
        ])
    );
    assert_eq!(g.targets.len(), 4, "{:#?}", g.targets);
    assert_eq!(
        g.targets[0],
        labels(&[
            ("__address__", "127.0.0.5:8080"),
            ("__meta_kubernetes_pod_container_name", "app"),
            ("__meta_kubernetes_pod_container_id", "containerd://abc"),
            ("__meta_kubernetes_pod_container_image", "web:1"),
            ("__meta_kubernetes_pod_container_port_name", "http"),
            ("__meta_kubernetes_pod_container_port_number", "8080"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_container_init", "false"),
        ])
    );
    assert_eq!(g.targets[1].get("__address__"), "127.0.0.5:9090");
    // A container without ports is one port-less target.
    assert_eq!(
        g.targets[2],
        labels(&[
            ("__address__", "127.0.0.5"),
            ("__meta_kubernetes_pod_container_name", "sidecar"),
            ("__meta_kubernetes_pod_container_image", "side:2"),
            ("__meta_kubernetes_pod_container_init", "false"),
        ])
    );
    assert_eq!(g.targets[3].get("__meta_kubernetes_pod_container_init"), "true");
    assert_eq!(g.targets[3].get("__address__"), "127.0.0.5:7000");
    assert_eq!(g.targets[3].get("__meta_kubernetes_pod_container_port_protocol"), "UDP");
}

#[test]
fn pod_without_ip_is_an_empty_group_and_ready_defaults_to_unknown() {
    let mut p = pod();
    p.status.as_mut().unwrap().pod_ip = None;
    let g = pod_group(&p, &Objects::default(), Attach::default());
    assert_eq!(g, TargetGroup { source: "pod/shop/web-0".into(), ..TargetGroup::default() });

    let mut p = pod();
    p.status.as_mut().unwrap().conditions = None;
    let g = pod_group(&p, &Objects::default(), Attach::default());
    assert_eq!(g.labels.get("__meta_kubernetes_pod_ready"), "unknown");
}

#[test]
fn pod_attach_node_and_namespace_metadata() {
    let objects = Objects {
        nodes: vec![
            serde_json::from_value(
                json!({"metadata": {"name": "n1", "labels": {"zone": "z1"}, "annotations": {"a/b": "c"}}}),
            )
            .unwrap(),
        ],
        namespaces: vec![
            serde_json::from_value(json!({"metadata": {"name": "shop", "labels": {"team": "t"}}})).unwrap(),
        ],
        ..Objects::default()
    };
    let g = pod_group(&pod(), &objects, Attach { node: true, namespace: true });
    assert_eq!(g.labels.get("__meta_kubernetes_node_name"), "n1");
    assert_eq!(g.labels.get("__meta_kubernetes_node_label_zone"), "z1");
    assert_eq!(g.labels.get("__meta_kubernetes_node_labelpresent_zone"), "true");
    assert_eq!(g.labels.get("__meta_kubernetes_node_annotation_a_b"), "c");
    assert_eq!(g.labels.get("__meta_kubernetes_namespace_label_team"), "t");
    assert_eq!(g.labels.get("__meta_kubernetes_namespace_labelpresent_team"), "true");
    let plain = pod_group(&pod(), &objects, Attach::default());
    assert!(!plain.labels.has("__meta_kubernetes_node_name"));
}

fn service(kind: &str) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "front"}, "annotations": {"x.io/y": "z"}},
        "spec": {
            "type": kind, "clusterIP": "10.0.0.7", "externalName": "db.example.org", "loadBalancerIP": "1.2.3.4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}],
            "selector": {"app": "web"}
        }
    }))
    .unwrap()
}

#[test]
fn service_role_labels() {
    let g = service_group(&service("ClusterIP"), &Objects::default(), Attach::default());
    assert_eq!(g.source, "svc/shop/web");
    assert_eq!(
        merged(&g, 0),
        labels(&[
            ("__address__", "web.shop.svc:80"),
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_service_name", "web"),
            ("__meta_kubernetes_service_label_tier", "front"),
            ("__meta_kubernetes_service_labelpresent_tier", "true"),
            ("__meta_kubernetes_service_annotation_x_io_y", "z"),
            ("__meta_kubernetes_service_annotationpresent_x_io_y", "true"),
            ("__meta_kubernetes_service_port_name", "http"),
            ("__meta_kubernetes_service_port_number", "80"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.7"),
        ])
    );
    assert_eq!(g.targets[1].get("__address__"), "web.shop.svc:443");
    assert!(!g.targets[1].has("__meta_kubernetes_service_port_name"));

    let ext = service_group(&service("ExternalName"), &Objects::default(), Attach::default());
    assert_eq!(ext.targets[0].get("__meta_kubernetes_service_external_name"), "db.example.org");
    assert!(!ext.targets[0].has("__meta_kubernetes_service_cluster_ip"));
    let lb = service_group(&service("LoadBalancer"), &Objects::default(), Attach::default());
    assert_eq!(lb.targets[0].get("__meta_kubernetes_service_loadbalancer_ip"), "1.2.3.4");
    assert_eq!(lb.targets[0].get("__meta_kubernetes_service_cluster_ip"), "10.0.0.7");
}

fn v1beta1_slice() -> Slice {
    let s: crate::endpointslice::EndpointSliceV1Beta1 = serde_json::from_value(json!({
        "metadata": {"name": "web-abc", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["127.0.0.5"], "conditions": {"ready": true}, "hostname": "web-0",
             "topology": {"kubernetes.io/hostname": "n1"},
             "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "shop"}},
            {"addresses": ["127.0.0.9"], "conditions": {"ready": false}}
        ],
        "ports": [{"name": "web", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
    }))
    .unwrap();
    Slice::from(&s)
}

#[test]
fn endpointslice_role_labels_with_pod_and_service() {
    let objects = Objects { pods: vec![pod()], services: vec![service("ClusterIP")], ..Objects::default() };
    let g = endpointslice_group(&v1beta1_slice(), &objects, Attach::default());
    assert_eq!(g.source, "endpointslice/shop/web-abc");
    assert_eq!(
        g.labels,
        labels(&[
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_endpointslice_name", "web-abc"),
            ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
            ("__meta_kubernetes_endpointslice_label_kubernetes_io_service_name", "web"),
            ("__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name", "true"),
            ("__meta_kubernetes_service_name", "web"),
            ("__meta_kubernetes_service_label_tier", "front"),
            ("__meta_kubernetes_service_labelpresent_tier", "true"),
            ("__meta_kubernetes_service_annotation_x_io_y", "z"),
            ("__meta_kubernetes_service_annotationpresent_x_io_y", "true"),
        ])
    );
    // Endpoint port targets first: the pod-backed one, then the other address.
    let t = &g.targets[0];
    assert_eq!(t.get("__address__"), "127.0.0.5:8080");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_port"), "8080");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_port_name"), "web");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_port_protocol"), "TCP");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_port_app_protocol"), "http");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_endpoint_conditions_ready"), "true");
    assert!(!t.has("__meta_kubernetes_endpointslice_endpoint_conditions_serving"));
    assert_eq!(t.get("__meta_kubernetes_endpointslice_endpoint_hostname"), "web-0");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_endpoint_topology_kubernetes_io_hostname"), "n1");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_endpoint_topology_present_kubernetes_io_hostname"), "true");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_address_target_kind"), "Pod");
    assert_eq!(t.get("__meta_kubernetes_endpointslice_address_target_name"), "web-0");
    assert_eq!(t.get("__meta_kubernetes_pod_name"), "web-0");
    assert_eq!(t.get("__meta_kubernetes_pod_container_name"), "app");
    assert_eq!(t.get("__meta_kubernetes_pod_container_port_name"), "http");
    assert!(!t.has("__meta_kubernetes_pod_container_id"), "endpoint-matched ports carry no container id");
    let other = &g.targets[1];
    assert_eq!(other.get("__address__"), "127.0.0.9:8080");
    assert_eq!(other.get("__meta_kubernetes_endpointslice_endpoint_conditions_ready"), "false");
    assert!(!other.has("__meta_kubernetes_pod_name"));
    // The pod's other container ports (9090, and 7000 of the init container) follow.
    let extra: Vec<&str> = g.targets[2..].iter().map(|t| t.get("__address__")).collect();
    assert_eq!(extra, ["127.0.0.5:9090", "127.0.0.5:7000"]);
    assert_eq!(g.targets[2].get("__meta_kubernetes_pod_container_port_name"), "metrics");
    assert!(!g.targets[2].has("__meta_kubernetes_endpointslice_port"));
    assert_eq!(g.targets.len(), 4);
}

#[test]
fn endpoints_role_labels() {
    let eps: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "labels": {"l": "v"}},
        "subsets": [{
            "addresses": [{"ip": "10.2.0.5", "hostname": "h", "nodeName": "n1",
                           "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "shop"}}],
            "notReadyAddresses": [{"ip": "10.2.0.6"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "h2c"}]
        }]
    }))
    .unwrap();
    let objects = Objects { pods: vec![pod()], services: vec![service("ClusterIP")], ..Objects::default() };
    let g = endpoints_group(&eps, &objects, Attach::default());
    assert_eq!(g.source, "endpoints/shop/web");
    assert_eq!(g.labels.get("__meta_kubernetes_endpoints_name"), "web");
    assert_eq!(g.labels.get("__meta_kubernetes_endpoints_label_l"), "v");
    assert_eq!(g.labels.get("__meta_kubernetes_service_name"), "web");
    let t = &g.targets[0];
    assert_eq!(t.get("__address__"), "10.2.0.5:8080");
    assert_eq!(t.get("__meta_kubernetes_endpoint_ready"), "true");
    assert_eq!(t.get("__meta_kubernetes_endpoint_hostname"), "h");
    assert_eq!(t.get("__meta_kubernetes_endpoint_node_name"), "n1");
    assert_eq!(t.get("__meta_kubernetes_endpoint_port_name"), "http");
    assert_eq!(t.get("__meta_kubernetes_endpoint_port_protocol"), "TCP");
    assert!(!t.has("__meta_kubernetes_endpoint_port_app_protocol"), "not a Prometheus label");
    assert_eq!(t.get("__meta_kubernetes_endpoint_address_target_kind"), "Pod");
    assert_eq!(t.get("__meta_kubernetes_pod_container_port_number"), "8080");
    assert_eq!(g.targets[1].get("__address__"), "10.2.0.6:8080");
    assert_eq!(g.targets[1].get("__meta_kubernetes_endpoint_ready"), "false");
    assert_eq!(g.targets.len(), 4, "two endpoint targets and the pod's two unlisted ports");
}

#[test]
fn node_role_prefers_internal_ip() {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}},
        "spec": {"providerID": "aws:///i-1"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "n1.local"},
                {"type": "ExternalIP", "address": "1.1.1.1"},
                {"type": "InternalIP", "address": "10.0.0.1"},
                {"type": "InternalIP", "address": "10.0.0.2"}
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }
    }))
    .unwrap();
    let g = node_group(&node);
    assert_eq!(g.source, "node/n1");
    assert_eq!(
        merged(&g, 0),
        labels(&[
            ("__address__", "10.0.0.1:10250"),
            ("instance", "n1"),
            ("__meta_kubernetes_node_name", "n1"),
            ("__meta_kubernetes_node_provider_id", "aws:///i-1"),
            ("__meta_kubernetes_node_label_kubernetes_io_os", "linux"),
            ("__meta_kubernetes_node_labelpresent_kubernetes_io_os", "true"),
            ("__meta_kubernetes_node_address_Hostname", "n1.local"),
            ("__meta_kubernetes_node_address_ExternalIP", "1.1.1.1"),
            ("__meta_kubernetes_node_address_InternalIP", "10.0.0.1"),
        ])
    );
}

#[test]
fn sanitizes_label_names_and_brackets_ipv6() {
    assert_eq!(sanitize_label_name("app.kubernetes.io/name-x"), "app_kubernetes_io_name_x");
    assert_eq!(join_host_port("::1", 80), "[::1]:80");
    assert_eq!(join_host_port("127.0.0.1", 80), "127.0.0.1:80");
}
