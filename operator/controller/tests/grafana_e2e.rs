//! Grafana provisioning by oxeye-operator on the real apiserver, against the Grafana API double
//! (`oxeye_e2e::grafana`: Grafana cannot run here). The operator runs as its ServiceAccount with
//! `examples/rbac/` only. Covered: data sources; GrafanaDashboards from `json`, `gzipJson`,
//! `configMapRef` and `url` with data source inputs, folders by title, uid and the root,
//! `instanceSelector` and `allowCrossNamespaceImport`; ConfigMaps labelled
//! `grafana_dashboard: "1"` with a folder annotation; status and events; unchanged dashboards
//! not rewritten (also across an operator restart); Grafana down and back; deletion through the
//! finalizer and of ConfigMaps. The double must see no request outside Grafana's API contract.

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::time::Duration;

use common::{LogsOnPanic, condition, kubectl_ok, prepare_cluster, start_operator, wait_condition};
use oxeye_e2e::ControlPlane;
use oxeye_e2e::fixtures::{ApiClient, LoopbackServer, service_account_kubeconfig, wait_for};
use oxeye_e2e::grafana::GrafanaDouble;
use serde_json::{Value, json};

const DASHBOARDS: &str = "/apis/grafana.integreatly.org/v1beta1/namespaces";

/// The tests run operators that act cluster-wide: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn dashboard(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "grafana.integreatly.org/v1beta1", "kind": "GrafanaDashboard", "metadata": {"name": name}, "spec": spec})
}

fn model(title: &str, uid: Option<&str>) -> String {
    let mut m = json!({"title": title, "schemaVersion": 39, "panels": [{"type": "timeseries", "title": "up",
        "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, "targets": [{"expr": "up"}]}]});
    if let Some(u) = uid {
        m["uid"] = json!(u);
    }
    m.to_string()
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).expect("gzip");
    e.finish().expect("gzip")
}

fn stored(g: &GrafanaDouble, uid: &str) -> Option<(Value, String)> {
    g.dashboards().get(uid).cloned()
}

#[test]
fn dashboards_and_data_sources_reach_grafana() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    prepare_cluster(&cp);
    let _ = cp.kubectl(["create", "namespace", "dash-apps"]);
    let api = ApiClient::new(&cp);
    let dir = tempfile::tempdir().expect("tempdir");
    let _logs = LogsOnPanic(dir.path().to_path_buf());

    let grafana = GrafanaDouble::start("admin", "grafana-admin-pw");
    api.create(
        "/api/v1/namespaces/monitoring/secrets",
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "grafana-admin"},
                "stringData": {"admin-user": "admin", "admin-password": "grafana-admin-pw"}}),
    );
    let kc = dir.path().join("operator.kubeconfig");
    service_account_kubeconfig(&cp, "monitoring", "oxeye-operator", &kc);
    let settings = format!(
        "namespace: monitoring\nsecretName: oxeye-config\nstatusInterval: 1s\n\
         grafana:\n  url: {}\n  externalURL: https://grafana.example.com\n\
         \x20 auth: {{basicAuth: {{username: {{name: grafana-admin, key: admin-user}}, password: {{name: grafana-admin, key: admin-password}}}}}}\n\
         \x20 instanceLabels: {{dashboards: oxeye}}\n  resyncPeriod: 1h\n  checkInterval: 1s\n\
         \x20 datasources:\n    prometheus: {{url: 'http://oxeye.monitoring.svc:9090'}}\n    alertmanager: {{url: 'http://oxeye-alertmanager.monitoring.svc:9093'}}\n",
        grafana.url
    );
    let (mut operator, _) = start_operator(dir.path(), "operator-g", &kc, &settings);

    // Data sources as kube-prometheus-stack provisions them.
    wait_for("both data sources", Duration::from_secs(20), || (grafana.datasources().len() == 2).then_some(()));
    let ds = grafana.datasources();
    assert_eq!(ds["prometheus"]["type"], "prometheus");
    assert_eq!(ds["prometheus"]["url"], "http://oxeye.monitoring.svc:9090");
    assert_eq!(ds["prometheus"]["jsonData"]["httpMethod"], "POST");
    assert_eq!(ds["prometheus"]["isDefault"], true);
    assert_eq!(ds["alertmanager"]["type"], "alertmanager");
    assert_eq!(ds["alertmanager"]["jsonData"]["implementation"], "prometheus");

    // Every model source.
    let inputs = json!([{"inputName": "DS_PROMETHEUS", "datasourceName": "Prometheus"}]);
    let selector = json!({"matchLabels": {"dashboards": "oxeye"}});
    api.create(
        &format!("{DASHBOARDS}/monitoring/grafanadashboards"),
        &dashboard("inline", json!({"instanceSelector": selector, "folder": "Team A", "json": model("Inline", Some("inline-uid")), "datasources": inputs})),
    );
    api.create(
        &format!("{DASHBOARDS}/dash-apps/grafanadashboards"),
        &dashboard("gzipped", json!({"allowCrossNamespaceImport": true, "gzipJson": oxeye_e2e::fixtures::encode_base64(&gzip(&model("Gzipped", None)))})),
    );
    api.create(
        "/api/v1/namespaces/monitoring/configmaps",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "referenced"}, "data": {"board.json": model("From ConfigMap", Some("cm-ref"))}}),
    );
    api.create(
        &format!("{DASHBOARDS}/monitoring/grafanadashboards"),
        &dashboard("by-ref", json!({"folder": "General", "configMapRef": {"name": "referenced", "key": "board.json"}})),
    );
    let web = LoopbackServer::bind(Ipv4Addr::new(127, 0, 2, 1), 0, &model("From URL", Some("url-uid"))).expect("bind");
    api.create(
        &format!("{DASHBOARDS}/monitoring/grafanadashboards"),
        &dashboard("by-url", json!({"url": format!("http://{}/dashboard.json", web.address()), "folder": "Team A"})),
    );
    // Not for this Grafana: another namespace without allowCrossNamespaceImport.
    api.create(
        &format!("{DASHBOARDS}/dash-apps/grafanadashboards"),
        &dashboard("elsewhere", json!({"json": model("Elsewhere", Some("elsewhere"))})),
    );
    // Broken model: rejected with a condition and an event.
    api.create(
        &format!("{DASHBOARDS}/monitoring/grafanadashboards"),
        &dashboard("broken", json!({"json": "{\"panels\": []}"})),
    );
    // kube-prometheus-stack's convention.
    api.create(
        "/api/v1/namespaces/monitoring/configmaps",
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "k8s-dashboards", "labels": {"grafana_dashboard": "1"}, "annotations": {"grafana_folder": "Kubernetes"}},
                "data": {"pods.json": model("Pods", Some("k8s-pods")), "notes.txt": "not a dashboard"}}),
    );

    let inline_path = format!("{DASHBOARDS}/monitoring/grafanadashboards/inline");
    let synced = wait_condition(&api, &inline_path, "DashboardSynchronized", "True");
    assert_eq!(synced.1, "ApplySuccessful");
    let inline = api.get(&inline_path).expect("inline");
    assert_eq!(inline["status"]["uid"], "inline-uid");
    assert_eq!(inline["status"]["url"], "https://grafana.example.com/d/inline-uid/inline");
    assert_eq!(inline["status"]["hash"].as_str().map(str::len), Some(64));
    assert!(
        inline["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "operator.grafana.com/finalizer"))
    );
    for name in ["by-ref", "by-url"] {
        wait_condition(
            &api,
            &format!("{DASHBOARDS}/monitoring/grafanadashboards/{name}"),
            "DashboardSynchronized",
            "True",
        );
    }
    wait_condition(&api, &format!("{DASHBOARDS}/dash-apps/grafanadashboards/gzipped"), "DashboardSynchronized", "True");
    wait_for("the ConfigMap dashboard", Duration::from_secs(20), || stored(&grafana, "k8s-pods"));

    let folders = grafana.folders();
    let folder_uid = |title: &str| folders.iter().find(|(_, t)| *t == title).map(|(u, _)| u.clone());
    let team_a = folder_uid("Team A").expect("folder Team A created");
    let (m, f) = stored(&grafana, "inline-uid").expect("inline stored");
    assert_eq!(f, team_a);
    assert_eq!(m["panels"][0]["datasource"]["uid"], "Prometheus", "the DS_PROMETHEUS input is mapped");
    assert_eq!(stored(&grafana, "url-uid").expect("url dashboard").1, team_a);
    assert_eq!(stored(&grafana, "cm-ref").expect("configMapRef dashboard").1, "", "General is the root");
    assert_eq!(stored(&grafana, "k8s-pods").expect("pods").1, folder_uid("Kubernetes").expect("Kubernetes folder"));
    let gz_uid =
        api.get(&format!("{DASHBOARDS}/dash-apps/grafanadashboards/gzipped")).expect("gzipped")["status"]["uid"]
            .as_str()
            .expect("uid")
            .to_string();
    assert_eq!(
        stored(&grafana, &gz_uid).expect("gzipped dashboard").1,
        folder_uid("dash-apps").expect("namespace folder")
    );
    assert!(web.requests().iter().any(|r| r.path == "/dashboard.json"));
    let by_url = api.get(&format!("{DASHBOARDS}/monitoring/grafanadashboards/by-url")).expect("by-url");
    assert!(by_url["status"]["contentCache"].is_string() && by_url["status"]["contentUrl"].is_string(), "{by_url}");

    let elsewhere = wait_for("elsewhere: no matching instance", Duration::from_secs(20), || {
        let o = api.get(&format!("{DASHBOARDS}/dash-apps/grafanadashboards/elsewhere"))?;
        (o["status"]["NoMatchingInstances"] == true).then_some(o)
    });
    assert_eq!(condition(&elsewhere, "DashboardSynchronized").map(|c| c.1), Some("NoMatchingInstance".into()));
    assert!(stored(&grafana, "elsewhere").is_none());
    let broken = wait_condition(
        &api,
        &format!("{DASHBOARDS}/monitoring/grafanadashboards/broken"),
        "DashboardSynchronized",
        "False",
    );
    assert_eq!(broken.1, "InvalidSpec");
    assert!(broken.2.contains("no title"), "{}", broken.2);
    wait_for("a Warning event on broken", Duration::from_secs(20), || {
        let list = api.get("/apis/events.k8s.io/v1/namespaces/monitoring/events")?;
        list["items"]
            .as_array()?
            .iter()
            .any(|e| e["regarding"]["name"] == "broken" && e["type"] == "Warning")
            .then_some(())
    });

    // Unchanged dashboards are not written again: not on an unrelated change, not after a restart.
    let writes = || grafana.successes("POST", "/api/dashboards/db");
    let before = writes();
    kubectl_ok(&cp, &["label", "grafanadashboard", "inline", "-n", "monitoring", "touched=yes"], None);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(writes(), before, "an unchanged dashboard was written again");
    assert!(operator.terminate(Duration::from_secs(10)), "the operator did not stop:\n{}", operator.log_tail(20));
    let (mut operator, _) = start_operator(dir.path(), "operator-g", &kc, &settings);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(writes(), before, "a restart rewrote unchanged dashboards");

    // A changed ConfigMap (configMapRef) updates its dashboard.
    api.merge_patch(
        "/api/v1/namespaces/monitoring/configmaps/referenced",
        &json!({"data": {"board.json": model("From ConfigMap, edited", Some("cm-ref"))}}),
    );
    wait_for("the edited configMapRef dashboard", Duration::from_secs(20), || {
        (stored(&grafana, "cm-ref")?.0["title"] == "From ConfigMap, edited").then_some(())
    });

    // Grafana down: the condition says so, nothing crashes, and it recovers by itself.
    grafana.set_down(true);
    api.merge_patch(&inline_path, &json!({"spec": {"json": model("Inline v2", Some("inline-uid"))}}));
    let failed = wait_condition(&api, &inline_path, "DashboardSynchronized", "False");
    assert_eq!(failed.1, "ApplyFailed");
    assert!(failed.2.contains("503"), "{}", failed.2);
    grafana.set_down(false);
    wait_condition(&api, &inline_path, "DashboardSynchronized", "True");
    assert_eq!(stored(&grafana, "inline-uid").expect("inline").0["title"], "Inline v2");
    operator.assert_running();

    // A Grafana that lost its state (restarted on empty storage) gets everything back.
    let before_reset = grafana.dashboards().len();
    grafana.reset();
    wait_for("Grafana's state to be restored", Duration::from_secs(20), || {
        (grafana.dashboards().len() == before_reset && grafana.datasources().len() == 2).then_some(())
    });
    assert_eq!(stored(&grafana, "inline-uid").expect("inline restored").0["title"], "Inline v2");

    // Deletion: the finalizer removes the dashboard (and the folder it leaves empty); a deleted
    // ConfigMap's dashboard goes too.
    api.delete(&format!("{DASHBOARDS}/monitoring/grafanadashboards/by-url"));
    api.delete(&inline_path);
    wait_for("inline and by-url to be deleted", Duration::from_secs(20), || {
        (api.get(&inline_path).is_none()
            && api.get(&format!("{DASHBOARDS}/monitoring/grafanadashboards/by-url")).is_none())
        .then_some(())
    });
    assert!(stored(&grafana, "inline-uid").is_none() && stored(&grafana, "url-uid").is_none());
    assert!(!grafana.folders().contains_key(&team_a), "the emptied folder Team A remains");
    api.delete("/api/v1/namespaces/monitoring/configmaps/k8s-dashboards");
    wait_for("the ConfigMap's dashboard to go", Duration::from_secs(20), || {
        stored(&grafana, "k8s-pods").is_none().then_some(())
    });
    assert!(grafana.violations().is_empty(), "requests outside Grafana's API contract: {:?}", grafana.violations());
    println!(
        "grafana e2e: {} dashboards saved, {} requests, 0 contract violations",
        grafana.successes("POST", "/api/dashboards/db"),
        grafana.requests().len()
    );
    operator.assert_running();
}

#[test]
fn service_account_token_auth() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    prepare_cluster(&cp);
    let _ = cp.kubectl(["create", "namespace", "grafana-token"]);
    let api = ApiClient::new(&cp);
    let dir = tempfile::tempdir().expect("tempdir");
    let _logs = LogsOnPanic(dir.path().to_path_buf());
    let grafana = GrafanaDouble::start("admin", "unused");
    grafana.add_token("glsa_e2e_token");
    api.create(
        "/api/v1/namespaces/grafana-token/secrets",
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "grafana-sa"}, "stringData": {"token": "glsa_e2e_token\n"}}),
    );
    let settings = format!(
        "namespace: grafana-token\nsecretName: token-config\nleaderElection: {{enabled: false}}\n\
         serviceMonitorSelector: null\npodMonitorSelector: null\nruleSelector: null\n\
         grafana:\n  url: {}\n  auth: {{token: {{name: grafana-sa, key: token}}}}\n  instanceLabels: {{dashboards: token}}\n\
         \x20 configMapDashboards: {{enabled: false}}\n  datasources: {{prometheus: {{url: 'http://oxeye:9090'}}}}\n",
        grafana.url
    );
    let (mut operator, _) = start_operator(dir.path(), "operator-token", cp.kubeconfig_path(), &settings);
    api.create(
        &format!("{DASHBOARDS}/grafana-token/grafanadashboards"),
        &dashboard("with-token", json!({"instanceSelector": {"matchLabels": {"dashboards": "token"}}, "json": model("Token", Some("token-uid"))})),
    );
    wait_condition(
        &api,
        &format!("{DASHBOARDS}/grafana-token/grafanadashboards/with-token"),
        "DashboardSynchronized",
        "True",
    );
    assert!(stored(&grafana, "token-uid").is_some());
    assert_eq!(grafana.datasources().len(), 1);
    // Every request carried the token (the double answers 401 otherwise).
    assert!(grafana.requests().iter().all(|r| r.status != 401), "{:?}", grafana.requests());
    assert!(grafana.violations().is_empty(), "{:?}", grafana.violations());
    api.delete(&format!("{DASHBOARDS}/grafana-token/grafanadashboards/with-token"));
    wait_for("with-token to be deleted", Duration::from_secs(20), || {
        api.get(&format!("{DASHBOARDS}/grafana-token/grafanadashboards/with-token")).is_none().then_some(())
    });
    operator.assert_running();
}
