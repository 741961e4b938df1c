//! The Helm chart (`charts/oxeye`) with a real helm (v4) and the real apiserver:
//! `helm lint`, `helm template | kubectl apply --dry-run=server`, `helm install` (CRDs included)
//! creating every object, capability gating, the generated Grafana password surviving an
//! upgrade; then oxeye and oxeye-operator run as local processes with the chart's
//! ServiceAccounts (so the chart's RBAC is what they get) and the chart's operator settings, and
//! the chart's own ServiceMonitors, PrometheusRule and dashboard are reconciled: rules active in
//! oxeye, dashboard and data sources posted to the Grafana API double.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{LogsOnPanic, kubectl_ok, repo_root, start_oxeye, wait_condition};
use oxeye_e2e::ControlPlane;
use oxeye_e2e::fixtures::{ApiClient, decode_base64_str, get_json, service_account_kubeconfig, wait_for};
use oxeye_e2e::grafana::GrafanaDouble;
use serde_json::Value;

const NS: &str = "oxeye";
const RELEASE: &str = "oxeye";

fn helm_ok(cp: &ControlPlane, args: &[&str]) -> String {
    let out = cp.helm(args);
    assert!(
        out.status.success(),
        "helm {args:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kind namespace/name` of every object in a multi-document manifest.
fn objects(manifest: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(manifest) {
        let v: Value = match serde::Deserialize::deserialize(doc) {
            Ok(v) => v,
            Err(e) => panic!("the rendered chart is not YAML: {e}"),
        };
        if v.is_null() {
            continue;
        }
        let kind = v["kind"].as_str().unwrap_or_default().to_string();
        let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let ns = v["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        out.push((kind, ns, name));
    }
    out
}

#[test]
fn chart_installs_and_its_resources_are_reconciled() {
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    let chart = repo_root().join("charts/oxeye").display().to_string();
    let toggles = ["--set", "nodeExporter.enabled=true", "--set", "kubeStateMetrics.enabled=true"];

    // Lint, with and without the optional parts.
    helm_ok(&cp, &["lint", &chart]);
    let mut args = vec!["lint", chart.as_str()];
    args.extend(toggles);
    helm_ok(&cp, &args);
    // values.schema.json refuses a wrong type.
    let bad = cp.helm(["lint", &chart, "--set", "server.retention=soon"]);
    assert!(!bad.status.success(), "a retention of 'soon' passed the schema");

    // Objects that need newer APIs are gated on the apiserver's capabilities.
    let with_pdb = helm_ok(
        &cp,
        &["template", "x", &chart, "--set", "operator.replicas=2", "--api-versions", "policy/v1/PodDisruptionBudget"],
    );
    assert!(with_pdb.contains("kind: PodDisruptionBudget"));
    let without = helm_ok(&cp, &["template", "x", &chart, "--set", "operator.replicas=2"]);
    assert!(!without.contains("kind: PodDisruptionBudget"), "policy/v1 is not served by Kubernetes 1.20");

    // Install: the CRDs come from the chart, then every object is created.
    let mut args = vec!["install", RELEASE, chart.as_str(), "-n", NS, "--create-namespace"];
    args.extend(toggles);
    helm_ok(&cp, &args);
    for crd in [
        "servicemonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "grafanadashboards.grafana.integreatly.org",
    ] {
        kubectl_ok(&cp, &["wait", "--for=condition=Established", "--timeout=60s", &format!("crd/{crd}")], None);
    }
    let manifest = helm_ok(&cp, &["get", "manifest", RELEASE, "-n", NS]);
    let installed = objects(&manifest);
    assert!(installed.len() >= 35, "only {} objects installed", installed.len());
    for (kind, ns, name) in &installed {
        let mut args = vec!["get", kind.as_str(), name.as_str(), "-o", "name"];
        if !ns.is_empty() {
            args.extend(["-n", ns.as_str()]);
        }
        kubectl_ok(&cp, &args, None);
    }
    let kinds: BTreeSet<&str> = installed.iter().map(|(k, _, _)| k.as_str()).collect();
    for k in [
        "StatefulSet",
        "Deployment",
        "DaemonSet",
        "ServiceMonitor",
        "PrometheusRule",
        "GrafanaDashboard",
        "ClusterRole",
        "Secret",
    ] {
        assert!(kinds.contains(k), "no {k} installed");
    }
    // The server and Alertmanager keep their data on PersistentVolumeClaims sized from values.
    let sts = kubectl_ok(&cp, &["get", "statefulset", "oxeye-server", "-n", NS, "-o", "json"], None);
    let sts: Value = serde_json::from_str(&sts).expect("statefulset JSON");
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "20Gi");

    // Another release rendered against the live apiserver: every object is accepted.
    let mut args = vec!["template", "second", chart.as_str(), "-n", "oxeye-second"];
    args.extend(toggles);
    let rendered = helm_ok(&cp, &args);
    let _ = cp.kubectl(["create", "namespace", "oxeye-second"]);
    let dry = kubectl_ok(&cp, &["apply", "--dry-run=server", "-f", "-"], Some(&rendered));
    assert_eq!(dry.lines().count(), objects(&rendered).len(), "{dry}");
    // A second release installs next to the first: the CRDs, present now, are skipped.
    helm_ok(&cp, &["install", "second", &chart, "-n", "oxeye-second", "--set", "grafana.enabled=false"]);
    let second = objects(&helm_ok(&cp, &["get", "manifest", "second", "-n", "oxeye-second"]));
    assert!(second.iter().all(|(k, _, _)| k != "GrafanaDashboard" && k != "CustomResourceDefinition"));

    // The generated Grafana password stays across an upgrade.
    let password = || {
        let s = kubectl_ok(
            &cp,
            &["get", "secret", "oxeye-grafana", "-n", NS, "-o", "jsonpath={.data.admin-password}"],
            None,
        );
        decode_base64_str(&s).expect("base64 password")
    };
    let first = password();
    assert_eq!(first.len(), 32);
    helm_ok(&cp, &["upgrade", RELEASE, &chart, "-n", NS, "--reuse-values"]);
    assert_eq!(password(), first, "helm upgrade changed the Grafana admin password");

    // Run the installed stack's processes locally, as the chart's ServiceAccounts.
    let dir = tempfile::tempdir().expect("tempdir");
    let _logs = LogsOnPanic(dir.path().to_path_buf());
    let grafana = GrafanaDouble::start("admin", &first);
    let server_kc = dir.path().join("server.kubeconfig");
    let operator_kc = dir.path().join("operator.kubeconfig");
    service_account_kubeconfig(&cp, NS, "oxeye-server", &server_kc);
    service_account_kubeconfig(&cp, NS, "oxeye-operator", &operator_kc);
    let (mut oxeye, ox) = start_oxeye(dir.path(), &server_kc, &format!("{NS}/oxeye-server-config"));
    let settings = kubectl_ok(
        &cp,
        &["get", "configmap", "oxeye-operator", "-n", NS, "-o", "jsonpath={.data.operator\\.yaml}"],
        None,
    );
    // The chart's settings name in-cluster Services; the local processes are reached through
    // the flags that override them.
    let (mut operator, _) = common::start_operator_with_flags(
        dir.path(),
        "operator-chart",
        &operator_kc,
        &settings,
        &[&format!("--server.url={ox}"), &format!("--grafana.url={}", grafana.url)],
    );

    let api = ApiClient::new(&cp);
    // The chart's PrometheusRule is active in oxeye.
    wait_for("the chart's rule groups in oxeye", Duration::from_secs(30), || {
        let v = get_json(&format!("{ox}/api/v1/rules"));
        let groups: BTreeSet<String> =
            v["data"]["groups"].as_array()?.iter().filter_map(|g| g["name"].as_str().map(str::to_string)).collect();
        ["oxeye-server", "oxeye-operator", "oxeye-alertmanager"].iter().all(|g| groups.contains(*g)).then_some(())
    });
    wait_condition(
        &api,
        &format!("/apis/monitoring.coreos.com/v1/namespaces/{NS}/prometheusrules/oxeye-self"),
        "Reconciled",
        "True",
    );
    // Every chart ServiceMonitor is accepted and its job runs.
    let monitors: Vec<String> =
        installed.iter().filter(|(k, _, _)| k == "ServiceMonitor").map(|(_, _, n)| n.clone()).collect();
    assert_eq!(monitors.len(), 6, "{monitors:?}");
    for m in &monitors {
        wait_condition(
            &api,
            &format!("/apis/monitoring.coreos.com/v1/namespaces/{NS}/servicemonitors/{m}"),
            "Reconciled",
            "True",
        );
    }
    let pools = get_json(&format!("{ox}/api/v1/scrape_pools"));
    for m in &monitors {
        let job = format!("serviceMonitor/{NS}/{m}/0");
        assert!(
            pools["data"]["scrapePools"].as_array().is_some_and(|p| p.iter().any(|x| *x == job.as_str())),
            "{job} missing: {pools}"
        );
    }
    // The chart's dashboard and data sources are in Grafana.
    wait_condition(
        &api,
        &format!("/apis/grafana.integreatly.org/v1beta1/namespaces/{NS}/grafanadashboards/oxeye-overview"),
        "DashboardSynchronized",
        "True",
    );
    let (model, folder) = grafana.dashboards().get("oxeye-overview").cloned().expect("the Oxeye dashboard in Grafana");
    assert_eq!(grafana.folders().get(&folder).map(String::as_str), Some("Oxeye"));
    assert_eq!(model["panels"][0]["datasource"], "Prometheus", "DS_PROMETHEUS is mapped");
    let ds = grafana.datasources();
    assert_eq!(ds["prometheus"]["url"], "http://oxeye-server.oxeye.svc:9090");
    assert_eq!(ds["alertmanager"]["url"], "http://oxeye-alertmanager.oxeye.svc:9093");
    assert!(grafana.violations().is_empty(), "{:?}", grafana.violations());
    println!(
        "helm chart: {} objects installed, {} ServiceMonitors and 3 rule groups reconciled, dashboard provisioned",
        installed.len(),
        monitors.len()
    );
    operator.assert_running();
    oxeye.assert_running();
}
