//! Serde round trips: upstream-style manifests parse into the typed resources and serialize back
//! to the same document, so nothing a user writes is lost or respelled by Oxeye.

use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use oxeye_crd::monitoring::ActionKind;
use oxeye_crd::{GrafanaDashboard, PodMonitor, PrometheusRule, ServiceMonitor};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    for sub in [dir.clone(), dir.join("full")] {
        for entry in std::fs::read_dir(&sub).expect("fixtures dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10, "fixtures missing: {files:?}");
    files
}

fn read(path: &Path) -> (String, Value) {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let value: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    (text, value)
}

/// Parses the manifest as `T` and checks that serializing gives the manifest back.
fn round_trip<T: Serialize + DeserializeOwned>(path: &Path, text: &str, expected: &Value) -> T {
    let typed: T = serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{}: does not parse: {e}", path.display()));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(
        &back,
        expected,
        "{}: round trip changed the object.\nback:     {}\nexpected: {}",
        path.display(),
        serde_json::to_string_pretty(&back).unwrap_or_default(),
        serde_json::to_string_pretty(expected).unwrap_or_default(),
    );
    typed
}

#[test]
fn every_fixture_round_trips_unchanged() {
    for path in fixtures() {
        let (text, value) = read(&path);
        match value["kind"].as_str() {
            Some("ServiceMonitor") => drop(round_trip::<ServiceMonitor>(&path, &text, &value)),
            Some("PodMonitor") => drop(round_trip::<PodMonitor>(&path, &text, &value)),
            Some("PrometheusRule") => drop(round_trip::<PrometheusRule>(&path, &text, &value)),
            Some("GrafanaDashboard") => drop(round_trip::<GrafanaDashboard>(&path, &text, &value)),
            other => panic!("{}: unexpected kind {other:?}", path.display()),
        }
    }
}

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).expect("read fixture");
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn kubelet_service_monitor_reads_as_prometheus_operator_means_it() {
    let sm: ServiceMonitor = fixture("servicemonitor-kubelet.yaml");
    assert_eq!(sm.metadata.namespace.as_deref(), Some("kube-system"));
    let ep = &sm.spec.endpoints[0];
    assert_eq!(ep.port.as_deref(), Some("https-metrics"));
    let scheme = ep.scheme.as_ref().expect("scheme");
    assert_eq!(scheme.as_str(), "HTTPS", "spelling is kept");
    assert!(scheme.is_https());
    assert_eq!(scheme.normalized().expect("valid"), "https");
    assert_eq!(ep.interval.as_ref().map(|d| d.as_str()), Some("10s"));
    let actions: Vec<_> = ep
        .metric_relabelings
        .iter()
        .map(|r| r.action.as_ref().expect("action").kind().expect("known action"))
        .collect();
    assert_eq!(actions, [ActionKind::Drop, ActionKind::LabelDrop]);
    assert_eq!(
        ep.tls_config.as_ref().and_then(|t| t.ca_file.as_deref()),
        Some("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
    );
    assert_eq!(sm.spec.attach_metadata.as_ref().and_then(|a| a.node), Some(false));
}

#[test]
fn relabel_without_action_means_replace_to_the_renderer_not_to_serde() {
    let pm: PodMonitor = fixture("podmonitor-envoy.yaml");
    let last = pm.spec.pod_metrics_endpoints[0].relabelings.last().expect("relabelings");
    assert!(last.action.is_none(), "no action was written, none is invented");
    assert_eq!(pm.spec.namespace_selector.as_ref().and_then(|n| n.any), Some(true));
}

#[test]
fn rule_expr_is_int_or_string_like_upstream() {
    let rule: PrometheusRule = fixture("prometheusrule-kube-prometheus-stack.yaml");
    let general = &rule.spec.groups[0];
    let always_one = general.rules.iter().find(|r| r.alert.as_deref() == Some("AlwaysOne")).expect("AlwaysOne");
    assert_eq!(always_one.expr, IntOrString::Int(1));
    assert_eq!(always_one.expr_text(), "1");
    assert_eq!(always_one.keep_firing_for.as_ref().map(|d| d.as_str()), Some("5m"));
    let k8s = &rule.spec.groups[2];
    assert_eq!(k8s.query_offset.as_ref().map(|d| d.as_str()), Some("1m"));
    assert_eq!(k8s.limit, Some(1000));
    assert!(k8s.rules[0].record.is_some());
}

#[test]
fn unknown_relabel_action_is_an_error_naming_the_value() {
    let action = oxeye_crd::monitoring::RelabelAction::from("explode");
    let err = action.kind().expect_err("not an action");
    assert!(err.to_string().contains("\"explode\""), "{err}");
}

#[test]
fn gzip_json_is_decoded_from_base64() {
    let dash: GrafanaDashboard = fixture("full/grafanadashboard.yaml");
    let gz = dash.spec.gzip_json.as_ref().expect("gzipJson");
    assert_eq!(&gz.0[..2], &[0x1f, 0x8b], "gzip magic after base64 decoding");
    assert_eq!(dash.spec.folder_uid.as_deref(), Some("node-exporter"));
    assert_eq!(dash.spec.datasources[0].input_name, "DS_PROMETHEUS");
}
