//! oxeye-operator and oxeye on a real kube-apiserver (the `oxeye-e2e` control plane), each
//! running as its own ServiceAccount with exactly the RBAC of `examples/rbac/`:
//!
//! - `monitors_and_rules_reach_the_server`: ServiceMonitor and PodMonitor apply-to-first-scrape
//!   (10 runs each, median and max printed; the median must be under 2 s), prometheus-operator's
//!   target labels, status with conditions and target counts, PrometheusRules active in
//!   `/api/v1/rules`, bad objects rejected alone with a condition and a Warning event, Secrets
//!   referenced by monitors, deletion, and an operator restart that changes nothing.
//! - `leader_election_hands_over`: two replicas, one writes; the leader's shutdown releases the
//!   lease and the other takes over.
//!
//! No kubelet: the test plays it by patching pod status; pods point at HTTP servers on
//! 127.0.0.x. Core Endpoints reject loopback addresses, so Services are backed by
//! `discovery.k8s.io/v1beta1` EndpointSlices (Kubernetes 1.20) written by the test.

use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;

use common::{
    LogsOnPanic, condition, kubectl_ok, metric_value, prepare_cluster, start_operator, start_oxeye, wait_condition,
};
use oxeye_e2e::ControlPlane;
use oxeye_e2e::fixtures::{ApiClient, LoopbackServer, get_json, http_get, service_account_kubeconfig, wait_for};
use serde_json::{Value, json};

/// The tests share one control plane and watch cluster-wide: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const METRICS_BODY: &str = "# TYPE demo_requests_total counter\ndemo_requests_total 7\n";
const RUNS: usize = 10;

/// A Service (no selector), a running Pod on `ip` and the EndpointSlice joining them.
fn create_app(api: &ApiClient, ns: &str, i: usize, ip: Ipv4Addr, port: u16) {
    let app = format!("demo-{i}");
    api.create(
        &format!("/api/v1/namespaces/{ns}/services"),
        &json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc-{i}"), "labels": {"app": app, "team": "web"}},
            "spec": {"ports": [{"name": "web", "port": 80, "targetPort": port}]},
        }),
    );
    let pod = api.create(
        &format!("/api/v1/namespaces/{ns}/pods"),
        &json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{i}"), "labels": {"app": app, "tier": "backend"}},
            "spec": {"containers": [{"name": "app", "image": "example/app", "ports": [{"name": "web", "containerPort": port}]}]},
        }),
    );
    api.merge_patch(
        &format!("/api/v1/namespaces/{ns}/pods/pod-{i}/status"),
        &json!({"status": {
            "phase": "Running", "podIP": ip.to_string(), "podIPs": [{"ip": ip.to_string()}], "hostIP": "127.0.0.1",
            "conditions": [{"type": "Ready", "status": "True"}],
        }}),
    );
    api.create(
        &format!("/apis/discovery.k8s.io/v1beta1/namespaces/{ns}/endpointslices"),
        &json!({
            "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
            "metadata": {"name": format!("svc-{i}-slice"), "labels": {"kubernetes.io/service-name": format!("svc-{i}")}},
            "addressType": "IPv4",
            "endpoints": [{
                "addresses": [ip.to_string()], "conditions": {"ready": true},
                "targetRef": {"kind": "Pod", "namespace": ns, "name": format!("pod-{i}"), "uid": pod["metadata"]["uid"]},
            }],
            "ports": [{"name": "web", "port": port, "protocol": "TCP"}],
        }),
    );
}

fn service_monitor(name: &str, app: &str, extra_endpoint: Value) -> Value {
    let mut endpoint = json!({"port": "web"});
    if let (Some(e), Some(x)) = (endpoint.as_object_mut(), extra_endpoint.as_object()) {
        e.extend(x.clone());
    }
    json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": app}}, "targetLabels": ["team"], "podTargetLabels": ["tier"], "endpoints": [endpoint]},
    })
}

fn active_targets(base: &str, pool: &str) -> Vec<Value> {
    let v = get_json(&format!("{base}/api/v1/targets?state=active"));
    v["data"]["activeTargets"].as_array().into_iter().flatten().filter(|t| t["scrapePool"] == pool).cloned().collect()
}

/// Milliseconds from now until a target of `pool` has been scraped successfully.
fn time_to_first_scrape(base: &str, pool: &str, started: Instant) -> Duration {
    wait_for(&format!("a scraped target in {pool}"), Duration::from_secs(60), || {
        active_targets(base, pool).iter().any(|t| t["health"] == "up").then_some(())
    });
    started.elapsed()
}

fn summary(label: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let median = samples[samples.len() / 2];
    let max = samples[samples.len() - 1];
    let ms: Vec<String> = samples.iter().map(|d| format!("{}", d.as_millis())).collect();
    println!(
        "operator e2e: {label} apply-to-first-scrape over {} runs: median {} ms, max {} ms (all, ms: {})",
        samples.len(),
        median.as_millis(),
        max.as_millis(),
        ms.join(" ")
    );
    median
}

fn labels(t: &Value) -> Vec<(String, String)> {
    t["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn rule_groups(base: &str) -> Vec<(String, String)> {
    let v = get_json(&format!("{base}/api/v1/rules"));
    v["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            (g["file"].as_str().unwrap_or_default().to_string(), g["name"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn secret_version(api: &ApiClient, ns: &str, name: &str) -> Option<String> {
    api.get(&format!("/api/v1/namespaces/{ns}/secrets/{name}"))
        .and_then(|s| s["metadata"]["resourceVersion"].as_str().map(str::to_string))
}

#[test]
fn monitors_and_rules_reach_the_server() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    prepare_cluster(&cp);
    let api = ApiClient::new(&cp);
    let dir = tempfile::tempdir().expect("tempdir");
    let _logs = LogsOnPanic(dir.path().to_path_buf());

    // Each component authenticates as its own ServiceAccount, with examples/rbac/ only.
    let oxeye_kc = dir.path().join("oxeye.kubeconfig");
    let operator_kc = dir.path().join("operator.kubeconfig");
    service_account_kubeconfig(&cp, "monitoring", "oxeye", &oxeye_kc);
    service_account_kubeconfig(&cp, "monitoring", "oxeye-operator", &operator_kc);

    let (mut oxeye, ox) = start_oxeye(dir.path(), &oxeye_kc, "monitoring/oxeye-config");
    let settings = format!(
        "namespace: monitoring\nsecretName: oxeye-config\nserverURL: {ox}\nstatusInterval: 1s\n\
         serviceMonitorNamespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: apps}}}}\n\
         podMonitorNamespaceSelector: {{}}\nruleNamespaceSelector: {{}}\n\
         baseConfig:\n  global:\n    external_labels: {{cluster: e2e}}\n"
    );
    // Kubernetes 1.20 does not label namespaces with their name yet; do what 1.21+ does.
    kubectl_ok(&cp, &["label", "namespace", "apps", "kubernetes.io/metadata.name=apps", "--overwrite"], None);
    let (mut operator, op) = start_operator(dir.path(), "operator-1", &operator_kc, &settings);

    // --- ServiceMonitor: apply to first scrape, 10 runs.
    let servers: Vec<LoopbackServer> = (0..RUNS)
        .map(|i| {
            let ip = Ipv4Addr::new(127, 0, 1, 10 + i as u8);
            LoopbackServer::bind(ip, 0, METRICS_BODY)
                .unwrap_or_else(|e| panic!("binding {ip}: {e} (127.0.0.0/8 must route to lo)"))
        })
        .collect();
    for (i, s) in servers.iter().enumerate() {
        create_app(&api, "apps", i, s.ip, s.port);
    }
    let mut sm_times = Vec::new();
    for i in 0..RUNS {
        let pool = format!("serviceMonitor/apps/sm-{i}/0");
        let started = Instant::now();
        api.create(
            "/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors",
            &service_monitor(&format!("sm-{i}"), &format!("demo-{i}"), json!({})),
        );
        sm_times.push(time_to_first_scrape(&ox, &pool, started));
    }
    let sm_median = summary("ServiceMonitor", sm_times);

    // prometheus-operator's labels on the target.
    let t = active_targets(&ox, "serviceMonitor/apps/sm-0/0").remove(0);
    let got = labels(&t);
    let instance = servers[0].address();
    let want = [
        ("container", "app"),
        ("endpoint", "web"),
        ("instance", instance.as_str()),
        ("job", "svc-0"),
        ("namespace", "apps"),
        ("pod", "pod-0"),
        ("service", "svc-0"),
        ("team", "web"),
        ("tier", "backend"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(got, want, "target labels of serviceMonitor/apps/sm-0/0");
    let up = get_json(&format!("{ox}/api/v1/query?query=up%7Bjob%3D%22svc-0%22%7D"));
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    assert!(servers[0].requests().iter().any(|r| r.path == "/metrics"));

    // Status with conditions and target counts.
    let sm0 = wait_for("sm-0 status with target counts", Duration::from_secs(20), || {
        let o = api.get("/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors/sm-0")?;
        let reconciled = condition(&o, "Reconciled")?;
        (condition(&o, "Accepted")?.0 == "True" && reconciled.0 == "True" && o["status"]["targets"]["up"] == 1)
            .then_some(o)
    });
    assert_eq!(sm0["status"]["targets"], json!({"discovered": 1, "up": 1, "down": 0}));
    assert_eq!(sm0["status"]["observedGeneration"], sm0["metadata"]["generation"]);
    let printed = kubectl_ok(&cp, &["get", "servicemonitors", "-n", "apps", "sm-0"], None);
    assert!(printed.contains("True") && printed.contains("ACCEPTED"), "{printed}");

    // --- PodMonitor: apply to first scrape, 10 runs (same pods, pod role).
    let mut pm_times = Vec::new();
    for i in 0..RUNS {
        let pool = format!("podMonitor/apps/pm-{i}/0");
        let started = Instant::now();
        api.create(
            "/apis/monitoring.coreos.com/v1/namespaces/apps/podmonitors",
            &json!({
                "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
                "metadata": {"name": format!("pm-{i}")},
                "spec": {"selector": {"matchLabels": {"app": format!("demo-{i}")}}, "podMetricsEndpoints": [{"port": "web"}]},
            }),
        );
        pm_times.push(time_to_first_scrape(&ox, &pool, started));
    }
    let pm_median = summary("PodMonitor", pm_times);
    let t = active_targets(&ox, "podMonitor/apps/pm-0/0").remove(0);
    let got: std::collections::BTreeMap<String, String> = labels(&t).into_iter().collect();
    assert_eq!(got["job"], "apps/pm-0");
    assert_eq!((got["namespace"].as_str(), got["pod"].as_str(), got["container"].as_str()), ("apps", "pod-0", "app"));
    assert_eq!(got["endpoint"], "web");

    // --- PrometheusRule: active within 2 s.
    let started = Instant::now();
    api.create(
        "/apis/monitoring.coreos.com/v1/namespaces/apps/prometheusrules",
        &json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "good-rules"},
            "spec": {"groups": [{"name": "e2e-good", "interval": "1s", "rules": [
                {"record": "e2e:up:sum", "expr": "sum(up)"},
                {"alert": "E2EAlwaysFiring", "expr": "vector(1)", "labels": {"severity": "none"}},
            ]}]},
        }),
    );
    wait_for("group e2e-good in /api/v1/rules", Duration::from_secs(20), || {
        rule_groups(&ox).iter().any(|(_, g)| g == "e2e-good").then_some(())
    });
    let rule_latency = started.elapsed();
    println!("operator e2e: PrometheusRule apply-to-active: {} ms", rule_latency.as_millis());
    let loaded = wait_condition(
        &api,
        "/apis/monitoring.coreos.com/v1/namespaces/apps/prometheusrules/good-rules",
        "Reconciled",
        "True",
    );
    assert_eq!(loaded.1, "Loaded");

    // --- A bad PrometheusRule and a bad ServiceMonitor are rejected alone.
    api.create(
        "/apis/monitoring.coreos.com/v1/namespaces/apps/prometheusrules",
        &json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "bad-rules"},
            "spec": {"groups": [{"name": "e2e-bad", "rules": [{"alert": "Broken", "expr": "sum(up"}]}]},
        }),
    );
    api.create(
        "/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors",
        &service_monitor(
            "sm-bad",
            "demo-1",
            json!({"relabelings": [{"action": "replace", "regex": "(", "targetLabel": "x"}]}),
        ),
    );
    api.create(
        "/apis/monitoring.coreos.com/v1/namespaces/apps/prometheusrules",
        &json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "more-rules"},
            "spec": {"groups": [{"name": "e2e-more", "rules": [{"record": "e2e:one", "expr": "1"}]}]},
        }),
    );
    let bad = wait_condition(
        &api,
        "/apis/monitoring.coreos.com/v1/namespaces/apps/prometheusrules/bad-rules",
        "Accepted",
        "False",
    );
    assert_eq!(bad.1, "InvalidConfiguration");
    assert!(bad.2.contains("spec.groups[0].rules[0]") && bad.2.contains("Broken"), "{}", bad.2);
    let bad_sm = wait_condition(
        &api,
        "/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors/sm-bad",
        "Accepted",
        "False",
    );
    assert!(bad_sm.2.contains("relabelings[0]"), "{}", bad_sm.2);
    wait_for("group e2e-more loaded next to the rejected rule", Duration::from_secs(20), || {
        let groups = rule_groups(&ox);
        (groups.iter().any(|(_, g)| g == "e2e-more") && groups.iter().any(|(_, g)| g == "e2e-good")).then_some(())
    });
    assert!(!rule_groups(&ox).iter().any(|(_, g)| g == "e2e-bad"));
    let events = wait_for("a Warning event on bad-rules", Duration::from_secs(20), || {
        let list = api.get("/apis/events.k8s.io/v1/namespaces/apps/events")?;
        let found: Vec<Value> = list["items"]
            .as_array()?
            .iter()
            .filter(|e| e["regarding"]["name"] == "bad-rules" && e["type"] == "Warning")
            .cloned()
            .collect();
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(events[0]["reason"], "InvalidConfiguration");
    assert_eq!(events[0]["regarding"]["kind"], "PrometheusRule");
    assert!(events[0]["note"].as_str().unwrap_or_default().contains("Broken"), "{}", events[0]);

    // --- Credentials from a Secret: rejected while it is missing, scraped with it once created.
    api.create(
        "/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors",
        &service_monitor(
            "sm-auth",
            "demo-2",
            json!({"basicAuth": {"username": {"name": "scrape-creds", "key": "user"}, "password": {"name": "scrape-creds", "key": "pass"}}}),
        ),
    );
    let missing = wait_condition(
        &api,
        "/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors/sm-auth",
        "Accepted",
        "False",
    );
    assert!(missing.2.contains("apps/scrape-creds"), "{}", missing.2);
    api.create(
        "/api/v1/namespaces/apps/secrets",
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "scrape-creds"},
                "stringData": {"user": "scraper", "pass": "s3cret"}}),
    );
    wait_condition(&api, "/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors/sm-auth", "Accepted", "True");
    wait_for("sm-auth scraped with basic auth", Duration::from_secs(20), || {
        active_targets(&ox, "serviceMonitor/apps/sm-auth/0").iter().any(|t| t["health"] == "up").then_some(())
    });
    // "scraper:s3cret" in base64.
    assert!(
        servers[2].requests().iter().any(|r| r.authorization.as_deref() == Some("Basic c2NyYXBlcjpzM2NyZXQ=")),
        "{:?}",
        servers[2].requests()
    );

    // The server reports the Secret version it runs; it is the latest.
    let rv = secret_version(&api, "monitoring", "oxeye-config").expect("the config Secret exists");
    wait_for("oxeye to run the latest Secret version", Duration::from_secs(10), || {
        let info = get_json(&format!("{ox}/api/v1/status/runtimeinfo"));
        (info["data"]["configSecret"]["loadedResourceVersion"] == rv.as_str()).then_some(())
    });

    // --- Deletion removes targets and rules.
    api.delete("/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors/sm-0");
    api.delete("/apis/monitoring.coreos.com/v1/namespaces/apps/prometheusrules/good-rules");
    wait_for("sm-0's pool and good-rules' group to go", Duration::from_secs(20), || {
        let pools = get_json(&format!("{ox}/api/v1/scrape_pools"));
        let pool_gone = !pools["data"]["scrapePools"].as_array()?.iter().any(|p| p == "serviceMonitor/apps/sm-0/0");
        let group_gone = !rule_groups(&ox).iter().any(|(_, g)| g == "e2e-good");
        (pool_gone && group_gone && active_targets(&ox, "serviceMonitor/apps/sm-0/0").is_empty()).then_some(())
    });

    // --- Operator metrics, prometheus-operator names.
    let (_, text) = http_get(&format!("{op}/metrics")).expect("operator metrics");
    assert_eq!(
        metric_value(
            &text,
            "prometheus_operator_managed_resources{controller=\"prometheus\",resource=\"PrometheusRule\",state=\"rejected\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        metric_value(&text, "prometheus_operator_reconcile_operations_total{controller=\"prometheus\"}").unwrap_or(0.0)
            > 0.0
    );
    assert_eq!(metric_value(&text, "oxeye_operator_leader"), Some(1.0), "{text}");

    // --- A restart of the operator writes nothing.
    std::thread::sleep(Duration::from_secs(2));
    let before_secret = secret_version(&api, "monitoring", "oxeye-config");
    // Every monitor's and rule's resourceVersion: any status write would change one.
    let versions = || {
        kubectl_ok(
            &cp,
            &[
                "get",
                "servicemonitors,podmonitors,prometheusrules",
                "-A",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}",
            ],
            None,
        )
    };
    let monitors_before = versions();
    assert!(
        operator.terminate(Duration::from_secs(10)),
        "the operator did not stop on SIGTERM:\n{}",
        operator.log_tail(20)
    );
    let (mut operator, op) = start_operator(dir.path(), "operator-1", &operator_kc, &settings);
    wait_for("the restarted operator to lead", Duration::from_secs(30), || {
        let (_, text) = http_get(&format!("{op}/metrics")).ok()?;
        (metric_value(&text, "oxeye_operator_leader") == Some(1.0)).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let monitors_after = versions();
    assert_eq!(secret_version(&api, "monitoring", "oxeye-config"), before_secret, "the restart rewrote the Secret");
    assert_eq!(monitors_after, monitors_before, "the restart rewrote statuses");
    let (_, text) = http_get(&format!("{op}/metrics")).expect("operator metrics");
    assert_eq!(metric_value(&text, "oxeye_operator_secret_writes_total"), Some(0.0), "{text}");

    operator.assert_running();
    oxeye.assert_running();
    assert!(sm_median < Duration::from_secs(2), "ServiceMonitor median {sm_median:?} is not under 2 s");
    assert!(pm_median < Duration::from_secs(2), "PodMonitor median {pm_median:?} is not under 2 s");
    assert!(rule_latency < Duration::from_secs(2), "PrometheusRule took {rule_latency:?}");
}

#[test]
fn leader_election_hands_over() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cp = ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"));
    prepare_cluster(&cp);
    let api = ApiClient::new(&cp);
    let dir = tempfile::tempdir().expect("tempdir");
    let _logs = LogsOnPanic(dir.path().to_path_buf());
    for ns in ["ha", "ha-apps"] {
        let _ = cp.kubectl(["create", "namespace", ns]);
    }
    kubectl_ok(&cp, &["label", "namespace", "ha-apps", "oxeye-e2e=ha", "--overwrite"], None);
    let settings = "namespace: ha\nsecretName: ha-config\n\
        serviceMonitorNamespaceSelector: {matchLabels: {oxeye-e2e: ha}}\n\
        podMonitorSelector: null\nruleSelector: null\n\
        leaderElection: {leaseName: ha-lease, leaseDurationSeconds: 4, renewGraceSeconds: 1}\n";
    // The admin kubeconfig: these names are not the ones examples/rbac/ grants.
    let kc = cp.kubeconfig_path().to_path_buf();
    let mut a = Some(start_operator(dir.path(), "replica-a", &kc, settings));
    let mut b = Some(start_operator(dir.path(), "replica-b", &kc, settings));
    let leader_of = |base: &str| {
        http_get(&format!("{base}/metrics")).ok().and_then(|(_, t)| metric_value(&t, "oxeye_operator_leader"))
    };
    let a_leads = wait_for("exactly one leader", Duration::from_secs(30), || {
        let la = leader_of(&a.as_ref()?.1)?;
        let lb = leader_of(&b.as_ref()?.1)?;
        match (la, lb) {
            (x, y) if x == 1.0 && y == 0.0 => Some(true),
            (x, y) if x == 0.0 && y == 1.0 => Some(false),
            _ => None,
        }
    });
    let holder = api.get("/apis/coordination.k8s.io/v1/namespaces/ha/leases/ha-lease").expect("the Lease exists");
    let expected = if a_leads { "replica-a" } else { "replica-b" };
    assert!(holder["spec"]["holderIdentity"].as_str().unwrap_or_default().starts_with(expected), "{holder}");

    let secret_jobs = || -> String {
        api.get("/api/v1/namespaces/ha/secrets/ha-config")
            .and_then(|s| s["data"]["prometheus.yml"].as_str().map(str::to_string))
            .and_then(|b64| oxeye_e2e::fixtures::decode_base64_str(&b64))
            .unwrap_or_default()
    };
    api.create(
        "/apis/monitoring.coreos.com/v1/namespaces/ha-apps/servicemonitors",
        &service_monitor("first", "x", json!({})),
    );
    wait_for("the leader to render `first`", Duration::from_secs(20), || {
        secret_jobs().contains("serviceMonitor/ha-apps/first/0").then_some(())
    });

    // The leader stops gracefully and releases the lease; the other replica takes over.
    let (leader, follower) = if a_leads { (&mut a, &mut b) } else { (&mut b, &mut a) };
    let (mut guard, _) = leader.take().expect("leader");
    let stopped = Instant::now();
    assert!(guard.terminate(Duration::from_secs(10)), "the leader did not stop on SIGTERM:\n{}", guard.log_tail(20));
    let follower_url = follower.as_ref().expect("follower").1.clone();
    wait_for("the follower to take over", Duration::from_secs(30), || {
        (leader_of(&follower_url) == Some(1.0)).then_some(())
    });
    println!("operator e2e: leader hand-over after SIGTERM: {} ms", stopped.elapsed().as_millis());
    api.create(
        "/apis/monitoring.coreos.com/v1/namespaces/ha-apps/servicemonitors",
        &service_monitor("second", "y", json!({})),
    );
    wait_for("the new leader to render `second`", Duration::from_secs(20), || {
        let jobs = secret_jobs();
        (jobs.contains("serviceMonitor/ha-apps/second/0") && jobs.contains("serviceMonitor/ha-apps/first/0"))
            .then_some(())
    });
    follower.as_mut().expect("follower").0.assert_running();
}
