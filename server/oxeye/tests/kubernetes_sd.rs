//! Kubernetes service discovery against a real kube-apiserver (the `oxeye-e2e` control plane:
//! etcd, kube-apiserver 1.20 and kube-controller-manager on loopback, no kubelet).
//!
//! - `matches_victoria_metrics_and_follows_changes`: a fixture of namespaces, a node, pods,
//!   services, Endpoints and `discovery.k8s.io/v1beta1` EndpointSlices; Debian's
//!   victoria-metrics 1.79 and oxeye run the same `kubernetes_sd_configs` jobs and their
//!   `/api/v1/targets` discoveredLabels must be equal, after normalising the labels where VM
//!   departs from Prometheus's documentation (each normalisation names the difference). Pods
//!   whose status points at HTTP servers on 127.0.0.x are scraped, and a label and a readiness
//!   change are timed until oxeye's targets show them.
//! - `survives_apiserver_restart`: the apiserver restarts under a running oxeye; objects changed
//!   and deleted afterwards are reflected with no stale or duplicate targets.
//! - `alertmanagers_discovered_through_kubernetes_sd`: `alerting.alertmanagers` with
//!   `kubernetes_sd_configs` finds an "Alertmanager" pod and delivers a firing alert to it.
//!
//! There is no kubelet: the tests play it by patching pod status (phase, IPs, Ready condition,
//! container statuses). Core Endpoints reject loopback addresses, so the Endpoints object uses
//! TEST-NET-1 addresses (192.0.2.0/24); every job rewrites non-loopback `__address__`es to a
//! closed loopback port before scraping, so no traffic leaves the machine.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Oxeye, ProcessGuard, StaticTarget, api_json, free_port, http_get, require_binary, wait_for};
use oxeye_e2e::ControlPlane;
use oxeye_e2e::fixtures::{ApiClient, LoopbackServer};
use serde_json::{Value, json};

const VM_BIN: &str = "/usr/bin/victoria-metrics";

type LabelMap = BTreeMap<String, String>;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Servers on every address of `ips`, all on one port number (so one EndpointSlice port fits
/// every pod). Retries with other ports when one address has the port taken.
fn servers_on_one_port(ips: &[Ipv4Addr], body: &str) -> Vec<LoopbackServer> {
    for _ in 0..20 {
        let first = LoopbackServer::bind(ips[0], 0, body)
            .unwrap_or_else(|e| panic!("binding {}:0 failed ({e}): this machine must route 127.0.0.0/8 to lo", ips[0]));
        let port = first.port;
        let mut all = vec![first];
        for ip in &ips[1..] {
            match LoopbackServer::bind(*ip, port, body) {
                Ok(s) => all.push(s),
                Err(_) => break,
            }
        }
        if all.len() == ips.len() {
            return all;
        }
    }
    panic!("no port free on all of {ips:?}");
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn kubectl_ok(cp: &ControlPlane, args: &[&str], stdin: Option<&str>) -> String {
    let out = match stdin {
        Some(s) => cp.kubectl_with_stdin(args, s),
        None => cp.kubectl(args),
    };
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}\n{}\napiserver log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        cp.log_tail("kube-apiserver", 20)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates objects from a list of JSON manifests (`kubectl create`, so no last-applied
/// annotation shows up as a meta label).
fn create(cp: &ControlPlane, objects: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    kubectl_ok(cp, &["create", "-f", "-"], Some(&list.to_string()));
}

/// Plays the kubelet: merges `status` into the pod's status subresource.
fn set_pod_status(cp: &ControlPlane, ns: &str, name: &str, status: Value) {
    let patch = json!({ "status": status }).to_string();
    kubectl_ok(cp, &["patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p", &patch], None);
}

fn running(pod_ip: &str, ready: bool) -> Value {
    json!({
        "phase": "Running",
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "hostIP": "127.0.0.1",
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    })
}

fn start_victoria_metrics(dir: &Path, config: &Path) -> (ProcessGuard, String) {
    require_binary(VM_BIN);
    let port = free_port();
    let data = dir.join("vm-data");
    let log = std::fs::File::create(dir.join("victoria-metrics.log")).expect("vm log");
    let child = Command::new(VM_BIN)
        .arg(format!("-promscrape.config={}", config.display()))
        .arg("-promscrape.dropOriginalLabels=false")
        .arg("-promscrape.kubernetesSDCheckInterval=1s")
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!("-storageDataPath={}", data.display()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn victoria-metrics");
    let guard = ProcessGuard { child, name: "victoria-metrics".into() };
    let base = format!("http://127.0.0.1:{port}");
    wait_for("victoria-metrics to answer", Duration::from_secs(30), || match http_get(&format!("{base}/health")) {
        Ok((200, _)) => Some(()),
        _ => None,
    });
    (guard, base)
}

// ---------------------------------------------------------------------------------------------
// Scrape configuration

/// Every job keeps the discovered `__address__` in `orig_address` and sends non-loopback
/// addresses (service DNS names, TEST-NET Endpoints) to a closed loopback port.
const RELABEL: &str = r#"
  relabel_configs:
  - {source_labels: [__address__], target_label: orig_address}
  - {source_labels: [__address__], regex: '127\.[0-9]+\.[0-9]+\.[0-9]+(:[0-9]+)?', target_label: __tmp_loopback, replacement: 'yes'}
  - {source_labels: [__tmp_loopback], regex: '', target_label: __address__, replacement: '127.0.0.1:9'}
"#;

fn job(name: &str, sd: &str) -> String {
    format!("- job_name: {name}\n  kubernetes_sd_configs:\n  - {sd}\n{RELABEL}")
}

fn kube_sd(role: &str, kubeconfig: &Path, namespaces: &[&str], extra: &str) -> String {
    let mut s = format!("{{role: {role}, kubeconfig_file: '{}'", kubeconfig.display());
    if !namespaces.is_empty() {
        s.push_str(&format!(", namespaces: {{names: [{}]}}", namespaces.join(", ")));
    }
    if !extra.is_empty() {
        s.push_str(", ");
        s.push_str(extra);
    }
    s.push('}');
    s
}

fn config(jobs: &[String]) -> String {
    format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n{}", jobs.concat())
}

// ---------------------------------------------------------------------------------------------
// Comparing /api/v1/targets

/// The discoveredLabels of every active and dropped target, by job.
fn discovered(base: &str) -> BTreeMap<String, Vec<LabelMap>> {
    let v = api_json(base, "/api/v1/targets");
    let mut out: BTreeMap<String, Vec<LabelMap>> = BTreeMap::new();
    for list in ["activeTargets", "droppedTargets"] {
        for t in v["data"][list].as_array().into_iter().flatten() {
            let labels: LabelMap = t["discoveredLabels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            let job = labels.get("job").cloned().unwrap_or_default();
            out.entry(job).or_default().push(labels);
        }
    }
    out
}

fn active_labels(base: &str) -> Vec<LabelMap> {
    let v = api_json(base, "/api/v1/targets?state=active");
    v["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            t["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Vm,
    Oxeye,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Node,
}

const META: &str = "__meta_kubernetes_";

/// Slice endpoints of the fixture that have no `conditions.ready`.
const READY_UNSET: [&str; 1] = ["127.0.0.6"];

/// Brings one target's discoveredLabels to what both servers are compared on. Returns false
/// for a target that is not compared. Each step names where VM 1.79 departs from Prometheus's
/// documentation (https://prometheus.io/docs/prometheus/latest/configuration/configuration/#kubernetes_sd_config)
/// and source; oxeye's values for the labels removed here are checked on their own.
fn normalise(side: Side, role: Role, t: &mut LabelMap) -> bool {
    // VM keeps meta labels with empty values (e.g. an unnamed port's
    // `__meta_kubernetes_pod_container_port_name=""`); Prometheus 3.x builds discovered labels
    // with a label builder, which drops empty values, and so does oxeye.
    t.retain(|_, v| !v.is_empty());
    let is_extra = t.contains_key(&format!("{META}pod_name"))
        && match role {
            Role::Endpoints => !t.contains_key(&format!("{META}endpoint_ready")),
            Role::EndpointSlice => !t.contains_key(&format!("{META}endpointslice_address_target_kind")),
            _ => false,
        };
    if side == Side::Oxeye {
        // VM 1.79 has neither `__meta_kubernetes_pod_container_image` nor
        // `__meta_kubernetes_pod_container_id` (both documented for role pod; the image is
        // also attached to pod-backed endpoints and endpoint slice targets).
        t.remove(&format!("{META}pod_container_image"));
        t.remove(&format!("{META}pod_container_id"));
        // VM 1.79 has no `__meta_kubernetes_service_port_number` (documented for role service).
        t.remove(&format!("{META}service_port_number"));
    }
    if matches!(role, Role::Endpoints | Role::EndpointSlice) {
        if side == Side::Oxeye {
            // VM 1.79 ignores init containers behind endpoints and slices: Prometheus also
            // targets their unbound ports ("all additional container ports of the pod").
            if is_extra && t.get(&format!("{META}pod_container_init")).map(String::as_str) == Some("true") {
                return false;
            }
            // ... and does not set `__meta_kubernetes_pod_container_init` on these targets.
            t.remove(&format!("{META}pod_container_init"));
            let by_node_ref =
                t.get(&format!("{META}endpointslice_address_target_kind")).map(String::as_str) == Some("Node");
            if role == Role::EndpointSlice && by_node_ref {
                // With `attach_metadata.node`, Prometheus attaches the node a slice endpoint's
                // Node target reference names; VM 1.79 does not (checked on its own below).
                t.retain(|k, _| !k.starts_with(&format!("{META}node_")));
            }
            if is_extra {
                // VM 1.79 leaves the Endpoints / EndpointSlice object's own labels off the
                // targets of a pod's unbound container ports; in Prometheus they are group
                // labels, so every target of the object carries them.
                let object = if role == Role::Endpoints { "endpoints_" } else { "endpointslice_" };
                t.retain(|k, _| !k.starts_with(&format!("{META}{object}")));
            }
        } else {
            // VM 1.79 adds the service role's per-port labels (`service_type`,
            // `service_cluster_ip`, ...) to endpoints and endpoint slice targets; Prometheus
            // attaches only the service's name, namespace, labels and annotations there.
            for l in ["service_type", "service_cluster_ip", "service_external_name", "service_loadbalancer_ip"] {
                t.remove(&format!("{META}{l}"));
            }
            if is_extra {
                // With `attach_metadata.node`, VM 1.79 also puts node labels on the targets of
                // a pod's unbound ports; Prometheus attaches node metadata to the endpoint
                // targets only.
                t.retain(|k, _| !k.starts_with(&format!("{META}node_")));
            }
            if role == Role::EndpointSlice {
                let by_node_ref =
                    t.get(&format!("{META}endpointslice_address_target_kind")).map(String::as_str) == Some("Node");
                if !by_node_ref && !t.contains_key(&format!("{META}endpointslice_endpoint_node_name")) {
                    // VM 1.79 attaches the node of the endpoint's pod when the endpoint has no
                    // `nodeName`; Prometheus looks up the endpoint's `nodeName` (or a Node
                    // target reference) only. (Kubernetes 1.20 drops v1beta1 `nodeName`.)
                    t.retain(|k, _| !k.starts_with(&format!("{META}node_")));
                }
                let addr = t.get("__address__").map(String::as_str).unwrap_or_default();
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                if READY_UNSET.contains(&host) {
                    // VM 1.79 reports `endpoint_conditions_ready="false"` for an endpoint with
                    // no ready condition; Prometheus sets the label only when the condition is
                    // present.
                    t.remove(&format!("{META}endpointslice_endpoint_conditions_ready"));
                }
            }
        }
    }
    true
}

fn compare_job(vm: &[LabelMap], ox: &[LabelMap], role: Role) -> Result<usize, String> {
    let norm = |side, list: &[LabelMap]| -> BTreeSet<LabelMap> {
        list.iter()
            .filter_map(|t| {
                let mut t = t.clone();
                normalise(side, role, &mut t).then_some(t)
            })
            .collect()
    };
    let (a, b) = (norm(Side::Vm, vm), norm(Side::Oxeye, ox));
    if a == b {
        return Ok(a.len());
    }
    let mut msg = format!("{} VM targets, {} oxeye targets\n", a.len(), b.len());
    for t in a.difference(&b) {
        let addr = t.get("__address__").cloned().unwrap_or_default();
        match b.difference(&a).find(|o| o.get("__address__") == Some(&addr)) {
            Some(o) => {
                msg.push_str(&format!("  {addr}:\n"));
                for k in t.keys().chain(o.keys()).collect::<BTreeSet<_>>() {
                    if t.get(k) != o.get(k) {
                        msg.push_str(&format!("    {k}: vm={:?} oxeye={:?}\n", t.get(k), o.get(k)));
                    }
                }
            }
            None => msg.push_str(&format!("  only in VM: {t:?}\n")),
        }
    }
    for o in b.difference(&a) {
        let addr = o.get("__address__").cloned().unwrap_or_default();
        if !a.difference(&b).any(|t| t.get("__address__") == Some(&addr)) {
            msg.push_str(&format!("  only in oxeye: {o:?}\n"));
        }
    }
    Err(msg)
}

/// Compares every job of `jobs` (job name, role); Ok holds the per-job target counts.
fn compare_all(vm: &str, ox: &str, jobs: &[(&str, Role)]) -> Result<Vec<(String, Role, usize)>, String> {
    let (v, o) = (discovered(vm), discovered(ox));
    let mut counts = Vec::new();
    let mut errors = String::new();
    for (job, role) in jobs {
        let empty = Vec::new();
        match compare_job(v.get(*job).unwrap_or(&empty), o.get(*job).unwrap_or(&empty), *role) {
            Ok(n) if n > 0 => counts.push((job.to_string(), *role, n)),
            Ok(_) => errors.push_str(&format!("job {job}: no targets on either side\n")),
            Err(e) => errors.push_str(&format!("job {job} ({role:?}):\n{e}")),
        }
    }
    if errors.is_empty() { Ok(counts) } else { Err(errors) }
}

/// Waits until VM and oxeye agree on every job (VM re-reads the apiserver every second).
fn converge(vm: &str, ox: &str, jobs: &[(&str, Role)], timeout: Duration) -> Vec<(String, Role, usize)> {
    let start = Instant::now();
    loop {
        match compare_all(vm, ox, jobs) {
            Ok(counts) => return counts,
            Err(e) if start.elapsed() > timeout => panic!("VM and oxeye disagree after {timeout:?}:\n{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn find_target<'a>(targets: &'a [LabelMap], pod: &str, container_port: &str) -> Option<&'a LabelMap> {
    targets.iter().find(|t| {
        t.get(&format!("{META}pod_name")).map(String::as_str) == Some(pod)
            && t.get(&format!("{META}pod_container_port_number")).map(String::as_str) == Some(container_port)
    })
}

/// Polls oxeye's targets every 20 ms until `check` holds for job `job`; returns the time taken.
fn time_until(ox: &str, job: &str, what: &str, check: impl Fn(&[LabelMap]) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let all = discovered(ox);
        if check(all.get(job).map(Vec::as_slice).unwrap_or_default()) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "oxeye did not reflect {what} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// The differential test

#[test]
fn matches_victoria_metrics_and_follows_changes() {
    require_binary(VM_BIN);
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");

    // Processes the pods "run": web-0, web-1 and api-0 serve metrics on one port number.
    let servers = servers_on_one_port(&[ip(2), ip(3), ip(5)], "k8s_demo_up 1\n");
    let port = servers[0].port;
    let kubelet = StaticTarget::start("kubelet_up 1\n");

    // Namespaces, a node, services, pods.
    create(
        &cp,
        &[
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ksd-a",
                "labels": {"team": "alpha", "example.com/env": "test"}, "annotations": {"owner": "sre@example.com"}}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ksd-b", "labels": {"team": "beta"}}}),
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1",
                "labels": {"kubernetes.io/hostname": "node-1", "topology.kubernetes.io/zone": "zone-a", "role": "worker"},
                "annotations": {"node.example.com/rack": "r1"}}, "spec": {"providerID": "fake://node-1"}}),
        ],
    );
    kubectl_ok(
        &cp,
        &[
            "patch",
            "node",
            "node-1",
            "--subresource=status",
            "--type=merge",
            "-p",
            &json!({"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": "node-1"},
                              {"type": "ExternalIP", "address": "192.0.2.50"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}}}})
            .to_string(),
        ],
        None,
    );
    // The pod's controller: an object no controller acts on (a ReplicaSet would delete or
    // release the pod), which the garbage collector finds, so the pod is kept.
    create(
        &cp,
        &[json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-owner", "namespace": "ksd-a"}})],
    );
    let owner_uid =
        kubectl_ok(&cp, &["get", "configmap", "web-owner", "-n", "ksd-a", "-o", "jsonpath={.metadata.uid}"], None);
    create(
        &cp,
        &[
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ksd-a",
                    "labels": {"app": "web", "app.kubernetes.io/part-of": "shop"}, "annotations": {"prometheus.io/scrape": "true"}},
                "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "targetPort": port, "protocol": "TCP"},
                                                       {"name": "stats", "port": 9100, "protocol": "UDP"}]}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "ksd-b",
                    "annotations": {"note": "unnamed-port"}}, "spec": {"ports": [{"port": 8443}]}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "ksd-b", "labels": {"kind": "external"}},
                "spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": [{"name": "pg", "port": 5432}]}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "legacy", "namespace": "ksd-b"},
                "spec": {"clusterIP": "None", "ports": [{"name": "metrics", "port": 9000}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "ksd-a",
                    "labels": {"app": "web", "app.kubernetes.io/name": "web", "tier": "frontend"},
                    "annotations": {"prometheus.io/scrape": "true", "example.com/note": "hello world"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "web-owner", "uid": owner_uid, "controller": true}]},
                "spec": {"nodeName": "node-1",
                    "initContainers": [{"name": "init", "image": "busybox:1.36", "ports": [{"name": "init-metrics", "containerPort": 9200}]}],
                    "containers": [
                        {"name": "app", "image": "example.com/web:1.0",
                         "ports": [{"name": "http", "containerPort": port}, {"containerPort": 9100, "protocol": "UDP"}]},
                        {"name": "sidecar", "image": "example.com/sidecar:2"}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "ksd-a", "labels": {"app": "web"}},
                "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "example.com/web:1.0",
                    "ports": [{"name": "http", "containerPort": port}, {"name": "debug", "containerPort": 6060}]}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job-x", "namespace": "ksd-a", "labels": {"app": "batch"}},
                "spec": {"containers": [{"name": "run", "image": "example.com/job:1", "ports": [{"containerPort": port}]}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending-0", "namespace": "ksd-a"},
                "spec": {"containers": [{"name": "c", "image": "example.com/c:1", "ports": [{"containerPort": port}]}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-0", "namespace": "ksd-b",
                    "labels": {"app": "api"}, "annotations": {"example.com/x": "y"}},
                "spec": {"nodeName": "node-1", "containers": [{"name": "api", "image": "example.com/api:3",
                    "ports": [{"name": "metrics", "containerPort": port}]}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "legacy-0", "namespace": "ksd-b", "labels": {"app": "legacy"}},
                "spec": {"nodeName": "node-1",
                    "initContainers": [{"name": "setup", "image": "example.com/setup:1", "ports": [{"name": "setup", "containerPort": 9002}]}],
                    "containers": [{"name": "main", "image": "example.com/legacy:7",
                        "ports": [{"name": "metrics", "containerPort": 9000, "protocol": "TCP"}, {"name": "admin", "containerPort": 9001}]}]}}),
        ],
    );

    // Play the kubelet.
    let mut web0 = running("127.0.0.2", true);
    web0["containerStatuses"] = json!([{"name": "app", "containerID": "containerd://web0-app", "image": "example.com/web:1.0",
        "imageID": "", "ready": true, "restartCount": 0}]);
    web0["initContainerStatuses"] = json!([{"name": "init", "containerID": "containerd://web0-init", "image": "busybox:1.36",
        "imageID": "", "ready": true, "restartCount": 0}]);
    set_pod_status(&cp, "ksd-a", "web-0", web0);
    set_pod_status(&cp, "ksd-a", "web-1", running("127.0.0.3", false));
    set_pod_status(
        &cp,
        "ksd-a",
        "job-x",
        json!({"phase": "Succeeded", "podIP": "127.0.0.4", "podIPs": [{"ip": "127.0.0.4"}],
               "conditions": [{"type": "Ready", "status": "False"}]}),
    );
    set_pod_status(&cp, "ksd-b", "api-0", running("127.0.0.5", true));
    set_pod_status(&cp, "ksd-b", "legacy-0", running("192.0.2.10", true));

    // Endpoints and slices after the pods they point at (VM 1.79 does not revisit a slice when
    // a pod it references appears later; Prometheus does not depend on the order).
    create(
        &cp,
        &[
            json!({"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
                "metadata": {"name": "web-abc", "namespace": "ksd-a",
                    "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "oxeye-test"},
                    "annotations": {"example.com/slice": "one"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": port, "protocol": "TCP", "appProtocol": "http"},
                          {"name": "stats", "port": 9100, "protocol": "UDP"}],
                "endpoints": [
                    // serving, terminating and nodeName are alpha in 1.20 (feature gates off):
                    // the apiserver drops them, as it would for any 1.20 client.
                    {"addresses": ["127.0.0.2"], "conditions": {"ready": true, "serving": true, "terminating": false},
                     "hostname": "web-0", "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "ksd-a"},
                     "topology": {"kubernetes.io/hostname": "node-1", "topology.kubernetes.io/zone": "zone-a"}},
                    {"addresses": ["127.0.0.3"], "conditions": {"ready": false},
                     "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "ksd-a"}}]}),
            json!({"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
                "metadata": {"name": "api-xyz", "namespace": "ksd-b", "labels": {"kubernetes.io/service-name": "api"}},
                "addressType": "IPv4",
                "ports": [{"port": port}],
                "endpoints": [
                    {"addresses": ["127.0.0.5"], "conditions": {"ready": true},
                     "targetRef": {"kind": "Pod", "name": "api-0", "namespace": "ksd-b"}},
                    {"addresses": ["127.0.0.6"], "hostname": "outside"},
                    {"addresses": ["127.0.0.11"], "conditions": {"ready": true}, "targetRef": {"kind": "Node", "name": "node-1"}}]}),
            json!({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "legacy", "namespace": "ksd-b", "annotations": {"example.com/eps": "x"},
                    // Keeps the mirroring controller from copying it into a slice.
                    "labels": {"endpointslice.kubernetes.io/skip-mirror": "true", "app": "legacy"}},
                "subsets": [{
                    "addresses": [{"ip": "192.0.2.10", "hostname": "legacy-0", "nodeName": "node-1",
                                   "targetRef": {"kind": "Pod", "name": "legacy-0", "namespace": "ksd-b"}}],
                    "notReadyAddresses": [{"ip": "192.0.2.11"}],
                    "ports": [{"name": "metrics", "port": 9000, "protocol": "TCP", "appProtocol": "http"}]}]}),
        ],
    );

    // The same jobs on both servers, and oxeye-only jobs for what VM 1.79 cannot do.
    let kc = cp.kubeconfig_path();
    let ns = ["ksd-a", "ksd-b"];
    let shared_jobs: Vec<(&str, Role, String)> = vec![
        ("k8s-pod", Role::Pod, kube_sd("pod", kc, &ns, "")),
        ("k8s-pod-attach", Role::Pod, kube_sd("pod", kc, &ns, "attach_metadata: {node: true}")),
        (
            "k8s-pod-selector",
            Role::Pod,
            kube_sd("pod", kc, &ns, "selectors: [{role: pod, label: 'app in (web, api)'}]"),
        ),
        ("k8s-service", Role::Service, kube_sd("service", kc, &ns, "")),
        ("k8s-endpoints", Role::Endpoints, kube_sd("endpoints", kc, &ns, "")),
        ("k8s-endpoints-attach", Role::Endpoints, kube_sd("endpoints", kc, &ns, "attach_metadata: {node: true}")),
        ("k8s-endpointslice", Role::EndpointSlice, kube_sd("endpointslice", kc, &ns, "")),
        (
            "k8s-endpointslice-attach",
            Role::EndpointSlice,
            kube_sd("endpointslice", kc, &ns, "attach_metadata: {node: true}"),
        ),
        ("k8s-node", Role::Node, kube_sd("node", kc, &[], "")),
    ];
    let vm_config = dir.path().join("vm.yml");
    std::fs::write(&vm_config, config(&shared_jobs.iter().map(|(n, _, sd)| job(n, sd)).collect::<Vec<_>>()))
        .expect("write vm config");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, cp.token()).expect("write token");
    let mut ox_jobs: Vec<String> = shared_jobs.iter().map(|(n, _, sd)| job(n, sd)).collect();
    // Namespace metadata: VM 1.79 rejects `attach_metadata.namespace`.
    ox_jobs.push(job("ox-pod-namespace", &kube_sd("pod", kc, &ns, "attach_metadata: {namespace: true}")));
    // api_server with a bearer token file and the cluster CA instead of a kubeconfig.
    ox_jobs.push(job(
        "ox-pod-api-server",
        &format!(
            "{{role: pod, api_server: '{}', bearer_token_file: '{}', tls_config: {{ca_file: '{}'}}, namespaces: {{names: [ksd-a, ksd-b]}}}}",
            cp.apiserver_url(),
            token_file.display(),
            cp.ca_cert_path().display()
        ),
    ));
    let (_vm, vm) = start_victoria_metrics(dir.path(), &vm_config);
    let oxeye = Oxeye::start(dir.path(), &config(&ox_jobs), &[]);
    let ox = oxeye.base.clone();

    let compared: Vec<(&str, Role)> = shared_jobs.iter().map(|(n, r, _)| (*n, *r)).collect();
    let counts = converge(&vm, &ox, &compared, Duration::from_secs(60));
    let summary: Vec<String> =
        counts.iter().map(|(job, role, n)| format!("{job} (role {role:?}) {n} targets identical")).collect();
    println!("kubernetes_sd differential vs victoria-metrics 1.79: {}", summary.join(", "));

    // Oxeye's values for the labels VM lacks.
    let all = discovered(&ox);
    let images = [
        ("web-0", "app", "example.com/web:1.0"),
        ("web-0", "sidecar", "example.com/sidecar:2"),
        ("web-0", "init", "busybox:1.36"),
        ("web-1", "app", "example.com/web:1.0"),
        ("job-x", "run", "example.com/job:1"),
        ("api-0", "api", "example.com/api:3"),
        ("legacy-0", "main", "example.com/legacy:7"),
        ("legacy-0", "setup", "example.com/setup:1"),
    ];
    let ids = [("web-0", "app", "containerd://web0-app"), ("web-0", "init", "containerd://web0-init")];
    for (job, role, _) in &shared_jobs {
        for t in &all[*job] {
            let get = |l: &str| t.get(&format!("{META}{l}")).map(String::as_str);
            if let (Some(pod), Some(c)) = (get("pod_name"), get("pod_container_name")) {
                let want = images.iter().find(|(p, n, _)| *p == pod && *n == c).map(|x| x.2);
                assert_eq!(get("pod_container_image"), want, "{job}: image of {pod}/{c}: {t:?}");
                if *role == Role::Pod {
                    let want = ids.iter().find(|(p, n, _)| *p == pod && *n == c).map(|x| x.2);
                    assert_eq!(get("pod_container_id"), want, "{job}: container id of {pod}/{c}");
                    assert!(get("pod_container_init").is_some(), "{job}: container_init of {pod}/{c}");
                }
            }
            if *role == Role::Service {
                let port = t["__address__"].rsplit(':').next();
                assert_eq!(get("service_port_number"), port, "{job}: {t:?}");
            }
        }
    }
    // The init container's unbound port behind the web slice (VM skips it).
    let init_extra = find_target(&all["k8s-endpointslice"], "web-0", "9200").expect("init container port target");
    assert_eq!(init_extra.get(&format!("{META}pod_container_init")).map(String::as_str), Some("true"));
    assert_eq!(init_extra.get(&format!("{META}endpointslice_name")).map(String::as_str), Some("web-abc"));
    let node_ref = all["k8s-endpointslice-attach"]
        .iter()
        .find(|t| t.get("__address__").is_some_and(|a| a.starts_with("127.0.0.11:")))
        .expect("the slice endpoint referring to node-1");
    assert_eq!(node_ref.get(&format!("{META}node_name")).map(String::as_str), Some("node-1"), "{node_ref:?}");
    assert_eq!(node_ref.get(&format!("{META}node_label_role")).map(String::as_str), Some("worker"));

    // attach_metadata.namespace: the pod targets plus their namespace's labels and annotations.
    let ns_labels = |ns: &str| -> LabelMap {
        let pairs: &[(&str, &str)] = match ns {
            "ksd-a" => &[
                ("namespace_label_team", "alpha"),
                ("namespace_labelpresent_team", "true"),
                ("namespace_label_example_com_env", "test"),
                ("namespace_labelpresent_example_com_env", "true"),
                ("namespace_annotation_owner", "sre@example.com"),
                ("namespace_annotationpresent_owner", "true"),
            ],
            _ => &[("namespace_label_team", "beta"), ("namespace_labelpresent_team", "true")],
        };
        pairs.iter().map(|(k, v)| (format!("{META}{k}"), v.to_string())).collect()
    };
    let strip_job = |t: &LabelMap| -> LabelMap {
        t.iter().filter(|(k, _)| *k != "job").map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let want: BTreeSet<LabelMap> = all["k8s-pod"]
        .iter()
        .map(|t| {
            let mut t = strip_job(t);
            let ns = t[&format!("{META}namespace")].clone();
            t.extend(ns_labels(&ns));
            t
        })
        .collect();
    let got: BTreeSet<LabelMap> = all["ox-pod-namespace"].iter().map(strip_job).collect();
    assert_eq!(got, want, "attach_metadata.namespace");
    let want: BTreeSet<LabelMap> = all["k8s-pod"].iter().map(strip_job).collect();
    let got: BTreeSet<LabelMap> = all["ox-pod-api-server"].iter().map(strip_job).collect();
    assert_eq!(got, want, "api_server + bearer_token_file + tls_config.ca_file finds what kubeconfig_file finds");
    println!(
        "kubernetes_sd oxeye-only: ox-pod-namespace {} targets with namespace metadata, ox-pod-api-server {} targets",
        all["ox-pod-namespace"].len(),
        all["ox-pod-api-server"].len()
    );

    // Pods whose status points at processes on 127.0.0.x are scraped.
    for s in &servers {
        let inst = s.address();
        wait_for(&format!("up{{job=\"k8s-pod\",instance=\"{inst}\"}} == 1"), Duration::from_secs(20), || {
            let r = oxeye.query(&format!("up{{job=\"k8s-pod\",instance=\"{inst}\"}}"));
            (r["data"]["result"][0]["value"][1] == "1").then_some(())
        });
        assert!(s.hits("GET /metrics") > 0, "{inst} was not scraped");
    }
    let node_inst = "node-1";
    wait_for("the node target to be up", Duration::from_secs(20), || {
        let r = oxeye.query(&format!("up{{job=\"k8s-node\",instance=\"{node_inst}\"}}"));
        (r["data"]["result"][0]["value"][1] == "1").then_some(())
    });
    let r = oxeye.query("k8s_demo_up{job=\"k8s-pod\"}");
    assert_eq!(r["data"]["result"].as_array().map(Vec::len), Some(3), "samples from the three pods: {r}");

    // Latency: a label change and a readiness change, from the apiserver's answer to the
    // change until oxeye's /api/v1/targets shows it (polled every 20 ms).
    let api = ApiClient::new(&cp);
    api.merge_patch("/api/v1/namespaces/ksd-a/pods/web-0", &json!({"metadata": {"labels": {"tier": "backend"}}}));
    let label_latency = time_until(&ox, "k8s-pod", "web-0's new label", |ts| {
        find_target(ts, "web-0", &port.to_string())
            .is_some_and(|t| t.get(&format!("{META}pod_label_tier")).map(String::as_str) == Some("backend"))
    });
    api.merge_patch(
        "/api/v1/namespaces/ksd-a/pods/web-1/status",
        &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    let ready_latency = time_until(&ox, "k8s-pod", "web-1 becoming ready", |ts| {
        find_target(ts, "web-1", &port.to_string())
            .is_some_and(|t| t.get(&format!("{META}pod_ready")).map(String::as_str) == Some("true"))
    });
    // The slice role follows pod changes too (pod labels are attached to slice targets).
    let slice_latency = time_until(&ox, "k8s-endpointslice", "web-1's readiness behind the slice", |ts| {
        ts.iter().any(|t| {
            t.get(&format!("{META}pod_name")).map(String::as_str) == Some("web-1")
                && t.get(&format!("{META}endpointslice_port_name")).map(String::as_str) == Some("http")
                && t.get(&format!("{META}pod_ready")).map(String::as_str) == Some("true")
        })
    });
    println!(
        "kubernetes_sd latency: pod label change {} ms, pod readiness change {} ms (role pod), {} ms later on role endpointslice",
        label_latency.as_millis(),
        ready_latency.as_millis(),
        slice_latency.as_millis()
    );
}

// ---------------------------------------------------------------------------------------------
// Apiserver restart

#[test]
fn survives_apiserver_restart() {
    require_binary(VM_BIN);
    let cp = ControlPlane::shared_exclusive().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let servers = servers_on_one_port(&[ip(7), ip(8), ip(9)], "k8s_restart_up 1\n");
    let port = servers[0].port;

    let pod = |name: &str, version: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ksd-r",
                "labels": {"app": "r", "version": version}},
            "spec": {"containers": [{"name": "app", "image": "example.com/r:1", "ports": [{"name": "http", "containerPort": port}]}]}})
    };
    let slice = |name: &str, pods: &[(&str, &str)]| {
        json!({"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "ksd-r", "labels": {"kubernetes.io/service-name": "r-svc"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": pods.iter().map(|(p, a)| json!({"addresses": [a], "conditions": {"ready": true},
                "targetRef": {"kind": "Pod", "name": p, "namespace": "ksd-r"}})).collect::<Vec<_>>()})
    };
    create(
        &cp,
        &[
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ksd-r"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "r-svc", "namespace": "ksd-r", "labels": {"gen": "1"}},
                "spec": {"ports": [{"name": "http", "port": 80}]}}),
            pod("r-0", "1"),
            pod("r-1", "1"),
        ],
    );
    set_pod_status(&cp, "ksd-r", "r-0", running("127.0.0.7", true));
    set_pod_status(&cp, "ksd-r", "r-1", running("127.0.0.8", true));
    create(&cp, &[slice("r-svc-1", &[("r-0", "127.0.0.7"), ("r-1", "127.0.0.8")])]);

    let kc = cp.kubeconfig_path();
    let jobs: Vec<(&str, Role, String)> = vec![
        ("r-pod", Role::Pod, kube_sd("pod", kc, &["ksd-r"], "")),
        ("r-endpointslice", Role::EndpointSlice, kube_sd("endpointslice", kc, &["ksd-r"], "")),
        ("r-service", Role::Service, kube_sd("service", kc, &["ksd-r"], "")),
    ];
    let cfg = config(&jobs.iter().map(|(n, _, sd)| job(n, sd)).collect::<Vec<_>>());
    let oxeye = Oxeye::start(dir.path(), &cfg, &[]);
    let ox = oxeye.base.clone();
    let pods_in = |job: &str| -> BTreeSet<String> {
        discovered(&ox)
            .get(job)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get(&format!("{META}pod_name")).cloned())
            .collect()
    };
    let both: BTreeSet<String> = ["r-0", "r-1"].map(String::from).into();
    wait_for("oxeye to discover r-0 and r-1", Duration::from_secs(30), || {
        (pods_in("r-pod") == both && pods_in("r-endpointslice") == both).then_some(())
    });

    let down = Instant::now();
    cp.restart_apiserver_after(Duration::from_secs(2)).unwrap_or_else(|e| panic!("{e}"));
    println!("kubernetes_sd restart: apiserver back after {} ms", down.elapsed().as_millis());
    assert_eq!(pods_in("r-pod"), both, "targets are kept while the apiserver is away");

    // Changes after it is back: a label, a deletion, a new pod, a replaced slice, a service label.
    let changed = Instant::now();
    kubectl_ok(&cp, &["label", "pod", "r-0", "-n", "ksd-r", "version=2", "--overwrite"], None);
    kubectl_ok(&cp, &["delete", "pod", "r-1", "-n", "ksd-r", "--grace-period=0", "--force"], None);
    create(&cp, &[pod("r-2", "1")]);
    set_pod_status(&cp, "ksd-r", "r-2", running("127.0.0.9", true));
    kubectl_ok(&cp, &["delete", "endpointslice", "r-svc-1", "-n", "ksd-r"], None);
    create(&cp, &[slice("r-svc-2", &[("r-0", "127.0.0.7"), ("r-2", "127.0.0.9")])]);
    kubectl_ok(&cp, &["label", "service", "r-svc", "-n", "ksd-r", "gen=2", "--overwrite"], None);

    let after: BTreeSet<String> = ["r-0", "r-2"].map(String::from).into();
    wait_for("oxeye to follow the changes made after the restart", Duration::from_secs(60), || {
        let all = discovered(&ox);
        let version_2 = all.get("r-pod").into_iter().flatten().any(|t| {
            t.get(&format!("{META}pod_name")).map(String::as_str) == Some("r-0")
                && t.get(&format!("{META}pod_label_version")).map(String::as_str) == Some("2")
        });
        let gen_2 = all
            .get("r-service")
            .into_iter()
            .flatten()
            .all(|t| t.get(&format!("{META}service_label_gen")).map(String::as_str) == Some("2"));
        (pods_in("r-pod") == after && pods_in("r-endpointslice") == after && version_2 && gen_2).then_some(())
    });
    println!("kubernetes_sd restart: changes after the restart reflected in {} ms", changed.elapsed().as_millis());

    // No duplicates: every active target's label set is unique, and one target per pod port.
    let active = active_labels(&ox);
    let unique: BTreeSet<&LabelMap> = active.iter().collect();
    assert_eq!(unique.len(), active.len(), "duplicate active targets: {active:?}");
    let all = discovered(&ox);
    assert_eq!(all["r-pod"].len(), 2, "{:?}", all["r-pod"]);
    assert_eq!(all["r-endpointslice"].len(), 2, "{:?}", all["r-endpointslice"]);
    assert!(
        all["r-endpointslice"]
            .iter()
            .all(|t| t.get(&format!("{META}endpointslice_name")).map(String::as_str) == Some("r-svc-2")),
        "no target of the deleted slice: {:?}",
        all["r-endpointslice"]
    );

    // And a fresh VM, which lists everything anew, sees exactly what oxeye sees.
    let vm_config = dir.path().join("vm.yml");
    std::fs::write(&vm_config, &cfg).expect("write vm config");
    let (_vm, vm) = start_victoria_metrics(dir.path(), &vm_config);
    let compared: Vec<(&str, Role)> = jobs.iter().map(|(n, r, _)| (*n, *r)).collect();
    let counts = converge(&vm, &ox, &compared, Duration::from_secs(30));
    println!(
        "kubernetes_sd restart: after the restart oxeye matches a fresh victoria-metrics: {}",
        counts.iter().map(|(j, _, n)| format!("{j} {n} targets")).collect::<Vec<_>>().join(", ")
    );
    drop(oxeye);
    drop(cp);
}

// ---------------------------------------------------------------------------------------------
// Alertmanagers from kubernetes_sd_configs

#[test]
fn alertmanagers_discovered_through_kubernetes_sd() {
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let am = LoopbackServer::bind(ip(10), 0, "").unwrap_or_else(|e| panic!("binding 127.0.0.10: {e}"));
    create(
        &cp,
        &[
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ksd-am"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "alertmanager-0", "namespace": "ksd-am",
                    "labels": {"app": "alertmanager"}},
                "spec": {"containers": [{"name": "am", "image": "prom/alertmanager", "ports": [
                    {"name": "web", "containerPort": am.port}, {"name": "cluster", "containerPort": 9094}]}]}}),
        ],
    );
    set_pod_status(&cp, "ksd-am", "alertmanager-0", running("127.0.0.10", true));
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n",
    )
    .expect("rules");
    let cfg = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n  - kubernetes_sd_configs:\n    - {{role: pod, kubeconfig_file: '{}', namespaces: {{names: [ksd-am]}}, selectors: [{{role: pod, label: 'app=alertmanager'}}]}}\n    relabel_configs:\n    - {{source_labels: [__meta_kubernetes_pod_container_port_name], regex: web, action: keep}}\n",
        cp.kubeconfig_path().display()
    );
    let oxeye = Oxeye::start(dir.path(), &cfg, &[]);
    let url = format!("http://{}/api/v2/alerts", am.address());
    wait_for("the Alertmanager pod to be discovered", Duration::from_secs(30), || {
        let v = api_json(&oxeye.base, "/api/v1/alertmanagers");
        let active: Vec<&str> = v["data"]["activeAlertmanagers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["url"].as_str())
            .collect();
        (active == [url.as_str()]).then_some(())
    });
    let v = api_json(&oxeye.base, "/api/v1/alertmanagers");
    let dropped = v["data"]["droppedAlertmanagers"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(dropped, 1, "the cluster port is relabeled away: {v}");
    wait_for("an alert delivered to the discovered Alertmanager", Duration::from_secs(30), || {
        (am.hits("POST /api/v2/alerts") > 0).then_some(())
    });
    println!("kubernetes_sd alertmanagers: discovered {url}, alerts delivered");
}
