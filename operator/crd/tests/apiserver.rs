//! The generated CRDs on a real kube-apiserver (1.20, the oldest Oxeye supports): they install
//! and become Established, full-featured objects survive structural pruning field for field,
//! and objects with wrongly typed fields are rejected by schema validation.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use oxeye_e2e::ControlPlane;
use serde_json::{Value, json};

const NAMESPACE: &str = "oxeye-crd-e2e";

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output, what: &str) -> Output {
    assert!(out.status.success(), "{what} failed: {}", text(&out));
    out
}

/// Applies `crds/`, waits for Established and creates the test namespace, once per binary.
fn cluster() -> oxeye_e2e::Shared {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    let ready = READY.get_or_init(|| {
        let crds = repo_path("crds");
        let apply = cp.kubectl(["apply".as_ref(), "-f".as_ref(), crds.as_os_str()]);
        if !apply.status.success() {
            return Err(format!("kubectl apply -f crds/: {}\n{}", text(&apply), cp.log_tail("kube-apiserver", 20)));
        }
        for file in oxeye_crd::crd_files().map_err(|e| e.to_string())? {
            // `<group>_<plural>.yaml` -> `crd/<plural>.<group>`
            let stem = file.file_name.trim_end_matches(".yaml");
            let (group, plural) = stem.split_once('_').ok_or("file name without _")?;
            let wait =
                cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", &format!("crd/{plural}.{group}")]);
            if !wait.status.success() {
                return Err(format!("{plural}.{group} not Established: {}", text(&wait)));
            }
        }
        let ns = cp.kubectl_with_stdin(
            ["apply", "-f", "-"],
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}).to_string(),
        );
        if !ns.status.success() {
            return Err(format!("namespace: {}", text(&ns)));
        }
        Ok(())
    });
    if let Err(e) = ready {
        panic!("{e}");
    }
    cp
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let mut value: Value = serde_yaml_ng::from_str(&text).expect("fixture is YAML");
    // Every object goes to the test namespace, whatever the upstream example used.
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("namespace");
    }
    value
}

fn get(cp: &ControlPlane, kind: &str, name: &str) -> Value {
    let out = ok(cp.kubectl(["get", kind, name, "-n", NAMESPACE, "-o", "json"]), "kubectl get");
    serde_json::from_slice(&out.stdout).expect("kubectl get -o json is JSON")
}

fn fixture_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for dir in [fixture_dir(), fixture_dir().join("full")] {
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
}

#[test]
fn applied_objects_read_back_unchanged() {
    let cp = cluster();
    let paths = fixture_paths();
    assert!(paths.len() >= 10);
    for path in paths {
        let object = load(&path);
        let kind = object["kind"].as_str().expect("kind").to_owned();
        let name = object["metadata"]["name"].as_str().expect("name").to_owned();
        ok(
            cp.kubectl_with_stdin(["apply", "-n", NAMESPACE, "-f", "-"], &object.to_string()),
            &format!("apply {}", path.display()),
        );
        let back = get(&cp, &kind, &name);
        assert_eq!(
            back["spec"],
            object["spec"],
            "{}: the apiserver changed the spec (pruned or defaulted a field).\nread back: {}",
            path.display(),
            serde_json::to_string_pretty(&back["spec"]).unwrap_or_default()
        );
        for (key, value) in object["metadata"]["labels"].as_object().into_iter().flatten() {
            assert_eq!(&back["metadata"]["labels"][key], value);
        }
        // The typed view of what the apiserver returns is what the controller will see.
        let typed_back = match kind.as_str() {
            "ServiceMonitor" => serde_json::from_value::<oxeye_crd::ServiceMonitor>(back.clone()).map(|_| ()),
            "PodMonitor" => serde_json::from_value::<oxeye_crd::PodMonitor>(back.clone()).map(|_| ()),
            "PrometheusRule" => serde_json::from_value::<oxeye_crd::PrometheusRule>(back.clone()).map(|_| ()),
            "GrafanaDashboard" => serde_json::from_value::<oxeye_crd::GrafanaDashboard>(back.clone()).map(|_| ()),
            other => panic!("unexpected kind {other}"),
        };
        if let Err(e) = typed_back {
            panic!("{}: object read back does not parse as {kind}: {e}", path.display());
        }
    }
}

#[test]
fn status_subresource_keeps_oxeye_and_upstream_status_fields() {
    let cp = cluster();
    let monitor_status = json!({
        "conditions": [{
            "type": "Accepted", "status": "False", "reason": "InvalidConfiguration",
            "message": "endpoints[0].scrapeTimeout 1m is greater than interval 30s",
            "lastTransitionTime": "2025-01-02T03:04:05Z", "observedGeneration": 1
        }],
        "observedGeneration": 1,
        "targets": {"discovered": 3, "up": 2, "down": 1},
        "bindings": [{
            "group": "monitoring.coreos.com", "resource": "prometheuses", "name": "k8s",
            "namespace": "monitoring",
            "conditions": [{"type": "Accepted", "status": "True", "lastTransitionTime": "2025-01-02T03:04:05Z"}]
        }]
    });
    let dashboard_status = json!({
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Provisioned",
                        "lastTransitionTime": "2025-01-02T03:04:05Z"}],
        "lastResync": "2025-01-02T03:04:05Z", "uid": "full-dashboard_1",
        "url": "/d/full-dashboard_1/full", "hash": "abc", "NoMatchingInstances": false
    });
    let cases = [
        ("full/servicemonitor.yaml", "servicemonitor", monitor_status.clone()),
        ("full/podmonitor.yaml", "podmonitor", monitor_status),
        (
            "full/prometheusrule.yaml",
            "prometheusrule",
            json!({"conditions": [{
            "type": "Accepted", "status": "True", "lastTransitionTime": "2025-01-02T03:04:05Z"}]}),
        ),
        ("full/grafanadashboard.yaml", "grafanadashboard", dashboard_status),
    ];
    for (file, kind, status) in cases {
        let mut object = load(&fixture_dir().join(file));
        // Its own name: the round-trip test applies the same fixtures in parallel, and two
        // concurrent `kubectl apply`s of one new object race to create it.
        let renamed = format!("{}-status", object["metadata"]["name"].as_str().expect("name"));
        object["metadata"]["name"] = Value::String(renamed);
        ok(cp.kubectl_with_stdin(["apply", "-n", NAMESPACE, "-f", "-"], &object.to_string()), "apply");
        let name = object["metadata"]["name"].as_str().expect("name");
        let patch = json!({ "status": status }).to_string();
        ok(
            cp.kubectl(["patch", kind, name, "-n", NAMESPACE, "--subresource=status", "--type=merge", "-p", &patch]),
            &format!("patch {kind} status"),
        );
        let back = get(&cp, kind, name);
        assert_eq!(back["status"], status, "{kind}: status pruned or changed");
    }
}

#[test]
fn wrongly_typed_fields_are_rejected_with_the_field_named() {
    let cp = cluster();
    let sm = |endpoint: Value, extra: Value| {
        let mut spec = json!({"selector": {"matchLabels": {"app": "x"}}, "endpoints": [endpoint]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
               "metadata": {"name": "invalid"}, "spec": spec})
    };
    let cases = [
        ("sampleLimit", sm(json!({"port": "web"}), json!({"sampleLimit": "lots"}))),
        ("interval", sm(json!({"port": "web", "interval": "5 minutes"}), json!({}))),
        ("action", sm(json!({"port": "web", "relabelings": [{"action": "Explode"}]}), json!({}))),
        ("honorLabels", sm(json!({"port": "web", "honorLabels": "yes"}), json!({}))),
        (
            "selector",
            json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                            "metadata": {"name": "invalid"}, "spec": {"endpoints": []}}),
        ),
        (
            "expr",
            json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                        "metadata": {"name": "invalid"},
                        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": ["up"]}]}]}}),
        ),
        (
            "portNumber",
            json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
                              "metadata": {"name": "invalid"},
                              "spec": {"selector": {}, "podMetricsEndpoints": [{"portNumber": 70000}]}}),
        ),
        (
            "json",
            json!({"apiVersion": "grafana.integreatly.org/v1beta1", "kind": "GrafanaDashboard",
                        "metadata": {"name": "invalid"}, "spec": {"json": {"title": "object, not string"}}}),
        ),
    ];
    for (field, object) in cases {
        // --validate=false: kubectl would otherwise check the schema itself (from the apiserver's
        // OpenAPI document) and the apiserver's own validation would go untested.
        let out =
            cp.kubectl_with_stdin(["create", "--validate=false", "-n", NAMESPACE, "-f", "-"], &object.to_string());
        assert!(!out.status.success(), "{field}: invalid object was accepted: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is invalid") && stderr.contains(field),
            "{field}: rejected for another reason: {stderr}"
        );
    }
}
