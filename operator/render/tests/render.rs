//! Behaviour beyond the upstream golden files: credentials from Secrets, role selectors,
//! determinism of the whole configuration, rule files, and the errors that reject one object.

use std::collections::BTreeMap;

use oxeye_crd::{PodMonitor, PrometheusRule, ServiceMonitor};
use oxeye_operator_render::{
    BaseConfig, NoSecrets, RenderOptions, SecretResolver, render_config, render_pod_monitor, render_prometheus_rule,
    render_service_monitor,
};

struct Secrets(BTreeMap<(String, String, String), String>);

impl SecretResolver for Secrets {
    fn secret_key(&self, ns: &str, name: &str, key: &str) -> Result<String, String> {
        self.0
            .get(&(ns.into(), name.into(), key.into()))
            .cloned()
            .ok_or_else(|| format!("secret {ns}/{name} has no key {key:?}"))
    }
}

fn secrets() -> Secrets {
    let mut m = BTreeMap::new();
    for (name, key, v) in
        [("auth", "user", "bob"), ("auth", "pass", "hunter2"), ("tok", "token", "s3cr3t"), ("tls", "ca", "CA PEM")]
    {
        m.insert(("mon".to_string(), name.to_string(), key.to_string()), v.to_string());
    }
    Secrets(m)
}

fn sm(yaml: &str) -> ServiceMonitor {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn pm(yaml: &str) -> PodMonitor {
    serde_yaml_ng::from_str(yaml).unwrap()
}

const AUTH_SM: &str = "
metadata: {name: api, namespace: mon}
spec:
  selector: {matchLabels: {app: api}}
  namespaceSelector: {any: true}
  jobLabel: app.kubernetes.io/name
  endpoints:
  - port: metrics
    scheme: HTTPS
    path: /custom
    params: {format: [prometheus]}
    scrapeTimeout: 5s
    interval: 10s
    basicAuth:
      username: {name: auth, key: user}
      password: {name: auth, key: pass}
    tlsConfig:
      ca: {secret: {name: tls, key: ca}}
      insecureSkipVerify: true
  - targetPort: 8080
    authorization:
      credentials: {name: tok, key: token}
";

#[test]
fn credentials_are_resolved_inline_and_load() {
    let jobs = render_service_monitor(&sm(AUTH_SM), &RenderOptions::default(), &secrets()).unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.job_name()).collect::<Vec<_>>(),
        ["serviceMonitor/mon/api/0", "serviceMonitor/mon/api/1"]
    );
    let y = jobs[0].to_yaml();
    for want in [
        "username: bob",
        "password: hunter2",
        "ca: CA PEM",
        "insecure_skip_verify: true",
        "scheme: https",
        "metrics_path: /custom",
        "- __meta_kubernetes_endpointslice_port_name",
        "- __meta_kubernetes_service_label_app_kubernetes_io_name",
    ] {
        assert!(y.contains(want), "missing {want:?} in\n{y}");
    }
    assert!(!y.contains("namespaces:"), "any: true watches all namespaces\n{y}");
    let y1 = jobs[1].to_yaml();
    assert!(y1.contains("credentials: s3cr3t") && y1.contains("type: Bearer"), "{y1}");
    assert!(y1.contains("- __meta_kubernetes_pod_container_port_number\n  regex: 8080"), "{y1}");
    let cfg = render_config(&BaseConfig::default(), jobs, vec![]);
    let loaded = oxeye_config::load_str(&cfg, "auth").unwrap_or_else(|e| panic!("{e}\n{cfg}"));
    let job = loaded.scrape_config("serviceMonitor/mon/api/0").unwrap();
    assert_eq!(job.http_client.basic_auth.as_ref().unwrap().password.expose(), "hunter2");
    assert_eq!(job.scheme, "https");
}

#[test]
fn role_selector_mechanism_uses_sd_selectors() {
    let m = pm("
metadata: {name: p, namespace: mon}
spec:
  selectorMechanism: RoleSelector
  selector:
    matchLabels: {app: x}
    matchExpressions: [{key: tier, operator: NotIn, values: [b, a]}]
  podMetricsEndpoints: [{portNumber: 9100, filterRunning: false}]
");
    let jobs = render_pod_monitor(&m, &RenderOptions::default(), &NoSecrets).unwrap();
    let y = jobs[0].to_yaml();
    assert!(y.contains("selectors:\n  - role: pod\n    label: app=x,tier notin (a,b)"), "{y}");
    assert!(!y.contains("labelpresent"), "no relabel selection with RoleSelector\n{y}");
    assert!(!y.contains("__meta_kubernetes_pod_phase"), "filterRunning: false\n{y}");
    assert!(y.contains("regex: 9100"), "{y}");
    oxeye_config::load_str(&render_config(&BaseConfig::default(), jobs, vec![]), "rs").unwrap();
}

#[test]
fn whole_config_is_deterministic() {
    let a = sm("
metadata: {name: a, namespace: z}
spec: {selector: {}, endpoints: [{port: web}, {port: admin}]}
");
    let b = sm("
metadata: {name: b, namespace: a}
spec: {selector: {matchLabels: {y: '2', x: '1'}}, endpoints: [{port: web}]}
");
    let p = pm("
metadata: {name: a, namespace: a}
spec: {selector: {}, podMetricsEndpoints: [{port: web}]}
");
    let opts = RenderOptions::default();
    let render = |order: &[usize]| {
        let mut jobs = Vec::new();
        for &i in order {
            jobs.extend(match i {
                0 => render_service_monitor(&a, &opts, &NoSecrets).unwrap(),
                1 => render_service_monitor(&b, &opts, &NoSecrets).unwrap(),
                _ => render_pod_monitor(&p, &opts, &NoSecrets).unwrap(),
            });
        }
        render_config(&BaseConfig::default(), jobs, vec!["b.yaml".into(), "a.yaml".into()])
    };
    let first = render(&[0, 1, 2]);
    assert_eq!(first, render(&[2, 1, 0]));
    assert_eq!(first, render(&[1, 2, 0]));
    let names: Vec<&str> = first.lines().filter_map(|l| l.strip_prefix("- job_name: ")).collect();
    assert_eq!(names, ["serviceMonitor/a/b/0", "serviceMonitor/z/a/0", "serviceMonitor/z/a/1", "podMonitor/a/a/0"]);
    assert!(first.find("a.yaml").unwrap() < first.find("b.yaml").unwrap());
    // matchLabels rules come in key order whatever the manifest order.
    assert!(first.find("label_x").unwrap() < first.find("label_y").unwrap());
    oxeye_config::load_str(&first, "det").unwrap();
}

#[test]
fn sharding_writes_the_shard_number() {
    let m = sm("
metadata: {name: a, namespace: b}
spec: {selector: {}, endpoints: [{port: web}]}
");
    let opts = RenderOptions { shards: 3, shard: 2, ..RenderOptions::default() };
    let y = render_service_monitor(&m, &opts, &NoSecrets).unwrap()[0].to_yaml();
    assert!(y.contains("modulus: 3") && y.contains("regex: 2;|.+;.+"), "{y}");
}

fn sm_err(yaml: &str, secrets: &dyn SecretResolver) -> oxeye_operator_render::RenderError {
    render_service_monitor(&sm(yaml), &RenderOptions::default(), secrets).unwrap_err()
}

#[test]
fn invalid_monitors_name_object_and_field() {
    let head = "metadata: {name: bad, namespace: mon}\nspec:\n  selector: {}\n  endpoints:\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "  - {port: web, relabelings: [{sourceLabels: [a], regex: '(x', targetLabel: b}]}",
            "spec.endpoints[0].relabelings[0]",
            "",
        ),
        (
            "  - {port: web, metricRelabelings: [{action: labelmap, regex: '[', replacement: x}]}",
            "spec.endpoints[0].metricRelabelings[0]",
            "",
        ),
        (
            "  - {port: web, basicAuth: {username: {name: missing, key: u}}}",
            "spec.endpoints[0].basicAuth.username",
            "missing",
        ),
        (
            "  - {port: web, oauth2: {clientId: {secret: {name: o, key: id}}, clientSecret: {name: o, key: s}, tokenUrl: 'http://t'}}",
            "spec.endpoints[0].oauth2",
            "not supported",
        ),
        ("  - {targetPort: 70000}", "spec.endpoints[0].targetPort", "out of range"),
        ("  - {port: web, interval: 10s, scrapeTimeout: 20s}", "spec.endpoints[0].scrapeTimeout", "greater than"),
        ("  - {port: web, proxyUrl: 'http://proxy:3128'}", "spec.endpoints[0].proxyUrl", "not supported"),
        ("  - {port: web, tlsConfig: {serverName: x}}", "spec.endpoints[0].tlsConfig.serverName", "not supported"),
        ("  - {port: '(web'}", "spec.endpoints[0].port", ""),
    ];
    for (ep, field, msg) in cases {
        let e = sm_err(&format!("{head}{ep}\n"), &NoSecrets);
        assert_eq!((e.kind, e.namespace.as_str(), e.name.as_str()), ("ServiceMonitor", "mon", "bad"), "{ep}");
        assert_eq!(e.field, *field, "{ep}: {e}");
        assert!(e.message.contains(msg), "{ep}: {e}");
        assert!(e.to_string().starts_with("ServiceMonitor mon/bad: spec."), "{e}");
    }
    let e = sm_err(
        "metadata: {name: bad, namespace: mon}\nspec:\n  selector: {matchExpressions: [{key: a, operator: Near}]}\n  endpoints: [{port: web}]\n",
        &NoSecrets,
    );
    assert_eq!(e.field, "spec.selector.matchExpressions[0].operator");
    let e = render_pod_monitor(
        &pm("metadata: {name: p, namespace: mon}\nspec:\n  selector: {}\n  podMetricsEndpoints: [{portNumber: 0, targetPort: ''}]\n"),
        &RenderOptions::default(),
        &NoSecrets,
    )
    .unwrap_err();
    assert_eq!((e.kind, e.field.as_str()), ("PodMonitor", "spec.podMetricsEndpoints[0].targetPort"));
}

fn rule(yaml: &str) -> PrometheusRule {
    serde_yaml_ng::from_str(yaml).unwrap()
}

#[test]
fn prometheus_rule_file_name_and_content() {
    let pr = rule(
        "
metadata: {name: r, namespace: mon, uid: 1234-abcd}
spec:
  groups:
  - name: g
    interval: 30s
    partial_response_strategy: warn
    rules:
    - alert: Down
      expr: up == 0
      for: 5m
      labels: {severity: page}
      annotations: {summary: down}
    - record: job:up:sum
      expr: sum by (job) (up)
",
    );
    let (file, content) = render_prometheus_rule(&pr).unwrap();
    assert_eq!(file, "mon-r-1234-abcd.yaml");
    assert_eq!(
        content,
        "groups:\n- interval: 30s\n  name: g\n  rules:\n  - alert: Down\n    annotations:\n      summary: down\n    expr: up == 0\n    for: 5m\n    labels:\n      severity: page\n  - expr: sum by (job) (up)\n    record: job:up:sum\n"
    );
    let parsed = oxeye_rules::parse_str(&content, &file).unwrap();
    assert_eq!(parsed.rule_count(), 2);
}

#[test]
fn bad_promql_names_group_and_rule() {
    let pr = rule(
        "
metadata: {name: r, namespace: mon, uid: u}
spec:
  groups:
  - name: ok
    rules: [{record: a, expr: up}]
  - name: broken
    rules:
    - {record: b, expr: up}
    - {alert: Bad, expr: 'sum(up'}
",
    );
    let e = render_prometheus_rule(&pr).unwrap_err();
    assert_eq!((e.kind, e.field.as_str()), ("PrometheusRule", "spec.groups[1].rules[1]"), "{e}");
    assert!(e.message.contains("\"broken\"") && e.message.contains("\"Bad\""), "{e}");
    let no_uid = rule("metadata: {name: r, namespace: mon}\nspec: {groups: []}\n");
    assert_eq!(render_prometheus_rule(&no_uid).unwrap_err().field, "metadata");
}

#[test]
fn base_config_passthrough() {
    let base = BaseConfig {
        scrape_interval: Some("15s".into()),
        extra_global: serde_yaml_ng::from_str("{scrape_interval: 1h, scrape_protocols: [PrometheusText0.0.4]}")
            .unwrap(),
        limits: oxeye_operator_render::ScrapeLimits { sample_limit: Some(1000), ..Default::default() },
        alerting: Some(
            BaseConfig::parse_block("alertmanagers:\n- static_configs:\n  - targets: ['am:9093']\n").unwrap(),
        ),
        ..BaseConfig::default()
    };
    let cfg = render_config(&base, vec![], vec![]);
    let loaded = oxeye_config::load_str(&cfg, "base").unwrap_or_else(|e| panic!("{e}\n{cfg}"));
    assert_eq!(loaded.global.sample_limit, 1000);
    assert_eq!(loaded.global.scrape_interval, oxeye_config::PromDuration::from_secs(15), "typed field wins");
    assert!(cfg.contains("scrape_protocols:"), "{cfg}");
    assert_eq!(loaded.alerting.alertmanagers.len(), 1);
}
