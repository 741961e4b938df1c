use std::collections::BTreeMap;
use std::sync::Arc;

use oxeye_operator_render::{NoSecrets, SecretResolver};

use super::*;
use crate::settings::{Overrides, SettingsFile};

fn settings(yaml: &str) -> Settings {
    SettingsFile::parse(yaml, "settings").unwrap().resolve(&Overrides::default(), "monitoring").unwrap()
}

fn sm(ns: &str, name: &str, labels: &str, spec: &str) -> Arc<ServiceMonitor> {
    let y = format!(
        "metadata: {{name: {name}, namespace: {ns}, uid: uid-{name}, generation: 2, labels: {labels}}}\nspec: {spec}\n"
    );
    Arc::new(serde_yaml_ng::from_str(&y).unwrap_or_else(|e| panic!("{e}: {y}")))
}

fn pm(ns: &str, name: &str, spec: &str) -> Arc<PodMonitor> {
    let y = format!("metadata: {{name: {name}, namespace: {ns}, uid: uid-{name}, generation: 1}}\nspec: {spec}\n");
    Arc::new(serde_yaml_ng::from_str(&y).unwrap_or_else(|e| panic!("{e}: {y}")))
}

fn rule(ns: &str, name: &str, spec: &str) -> Arc<PrometheusRule> {
    let y = format!("metadata: {{name: {name}, namespace: {ns}, uid: uid-{name}, generation: 5}}\nspec: {spec}\n");
    Arc::new(serde_yaml_ng::from_str(&y).unwrap_or_else(|e| panic!("{e}: {y}")))
}

const EP: &str = "{selector: {matchLabels: {app: x}}, endpoints: [{port: web}]}";
const GOOD_RULES: &str = "{groups: [{name: g, rules: [{record: 'job:up:sum', expr: 'sum by (job) (up)'}]}]}";

fn namespaces(pairs: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|(ns, labels)| (ns.to_string(), labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
        .collect()
}

fn verdicts(p: &Plan) -> Vec<(String, bool)> {
    p.outcomes.iter().map(|o| (o.key.to_string(), matches!(o.verdict, Verdict::Accepted(_)))).collect()
}

fn config(p: &Plan) -> oxeye_config::Config {
    oxeye_config::load_str(&p.files[CONFIG_FILE], "plan").unwrap_or_else(|e| panic!("{e}\n{}", p.files[CONFIG_FILE]))
}

#[test]
fn selectors_follow_prometheus_operator_semantics() {
    let snapshot = Snapshot {
        service_monitors: vec![
            sm("monitoring", "own", "{team: a}", EP),
            sm("apps", "labelled", "{team: a}", EP),
            sm("apps", "other-team", "{team: b}", EP),
            sm("dev", "in-dev", "{team: a}", EP),
        ],
        namespaces: namespaces(&[("monitoring", &[]), ("apps", &[("scrape", "yes")]), ("dev", &[])]),
        ..Snapshot::default()
    };
    // Defaults: everything everywhere.
    let p = plan(&snapshot, &settings(""), &NoSecrets);
    assert_eq!(p.outcomes.len(), 4);
    // null namespace selector: the operator's own namespace only.
    let p = plan(&snapshot, &settings("serviceMonitorNamespaceSelector: null\n"), &NoSecrets);
    assert_eq!(verdicts(&p), [("ServiceMonitor monitoring/own".to_string(), true)]);
    // Label selectors on objects and namespaces.
    let p = plan(
        &snapshot,
        &settings(
            "serviceMonitorSelector: {matchLabels: {team: a}}\nserviceMonitorNamespaceSelector: {matchLabels: {scrape: 'yes'}}\n",
        ),
        &NoSecrets,
    );
    assert_eq!(verdicts(&p), [("ServiceMonitor apps/labelled".to_string(), true)]);
    // null object selector: nothing, but the config is still valid.
    let p = plan(&snapshot, &settings("serviceMonitorSelector: null\n"), &NoSecrets);
    assert!(p.outcomes.is_empty());
    assert!(config(&p).scrape_configs.is_empty());
}

#[test]
fn a_bad_object_is_rejected_alone() {
    let snapshot = Snapshot {
        service_monitors: vec![
            sm("a", "good", "{}", EP),
            sm(
                "a",
                "bad-relabel",
                "{}",
                "{selector: {}, endpoints: [{port: web, relabelings: [{action: replace, regex: '(', targetLabel: x}]}]}",
            ),
            sm(
                "a",
                "needs-secret",
                "{}",
                "{selector: {}, endpoints: [{port: web, basicAuth: {username: {name: creds, key: user}, password: {name: creds, key: pass}}}]}",
            ),
        ],
        pod_monitors: vec![pm("b", "pods", "{selector: {}, podMetricsEndpoints: [{port: metrics}]}")],
        rules: vec![
            rule("a", "good-rules", GOOD_RULES),
            rule("a", "bad-promql", "{groups: [{name: g, rules: [{alert: Broken, expr: 'sum(up'}]}]}"),
        ],
        ..Snapshot::default()
    };
    let p = plan(&snapshot, &settings(""), &NoSecrets);
    let by_key: BTreeMap<String, &Verdict> = p.outcomes.iter().map(|o| (o.key.to_string(), &o.verdict)).collect();
    let message = |k: &str| match by_key[k] {
        Verdict::Rejected { message } => message.clone(),
        v => panic!("{k} should be rejected: {v:?}"),
    };
    assert!(
        message("ServiceMonitor a/bad-relabel").contains("relabelings[0]"),
        "{}",
        message("ServiceMonitor a/bad-relabel")
    );
    assert!(message("ServiceMonitor a/needs-secret").contains("creds"), "{}", message("ServiceMonitor a/needs-secret"));
    let promql = message("PrometheusRule a/bad-promql");
    assert!(promql.contains("spec.groups[0].rules[0]") && promql.contains("Broken"), "{promql}");

    let cfg = config(&p);
    let names: Vec<&str> = cfg.scrape_configs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(names, ["serviceMonitor/a/good/0", "podMonitor/b/pods/0"]);
    assert_eq!(cfg.rule_files, ["a-good-rules-uid-good-rules.yaml"]);
    assert!(p.files.contains_key("a-good-rules-uid-good-rules.yaml"));
    assert!(!p.files.keys().any(|f| f.contains("bad-promql")));
    match by_key["PrometheusRule a/good-rules"] {
        Verdict::Accepted(Contribution::RuleFile { groups, .. }) => assert_eq!(groups, &["g"]),
        v => panic!("{v:?}"),
    }
}

struct Creds;

impl SecretResolver for Creds {
    fn secret_key(&self, ns: &str, name: &str, key: &str) -> Result<String, String> {
        match (ns, name, key) {
            ("a", "creds", "user") => Ok("alice".into()),
            ("a", "creds", "pass") => Ok("s3cret".into()),
            _ => Err(format!("secret {ns}/{name} has no key {key:?}")),
        }
    }
}

#[test]
fn credentials_are_found_and_inlined() {
    let snapshot = Snapshot {
        service_monitors: vec![
            sm(
                "a",
                "auth",
                "{}",
                "{selector: {}, endpoints: [{port: web, basicAuth: {username: {name: creds, key: user}, password: {name: creds, key: pass}}, tlsConfig: {ca: {configMap: {name: ca, key: ca.crt}}}}]}",
            ),
            sm("b", "plain", "{}", EP),
        ],
        ..Snapshot::default()
    };
    let refs = referenced_credentials(&snapshot, &settings(""));
    let names: Vec<(bool, &str, &str)> =
        refs.iter().map(|r| (r.config_map, r.namespace.as_str(), r.name.as_str())).collect();
    assert_eq!(names, [(false, "a", "creds"), (true, "a", "ca")]);

    let plain_only = Snapshot { service_monitors: vec![snapshot.service_monitors[0].clone()], ..Snapshot::default() };
    let p = plan(&plain_only, &settings(""), &Creds);
    // The ConfigMap is unknown to this resolver: rejected with what is missing.
    assert!(matches!(&p.outcomes[0].verdict, Verdict::Rejected { message } if message.contains("ConfigMap a/ca")));

    let just_auth = sm(
        "a",
        "auth",
        "{}",
        "{selector: {}, endpoints: [{port: web, basicAuth: {username: {name: creds, key: user}, password: {name: creds, key: pass}}}]}",
    );
    let p = plan(&Snapshot { service_monitors: vec![just_auth], ..Snapshot::default() }, &settings(""), &Creds);
    let cfg = config(&p);
    let auth = cfg.scrape_configs[0].http_client.basic_auth.as_ref().expect("basic auth");
    assert_eq!(auth.username, "alice");
    assert_eq!(auth.password.expose(), "s3cret");
}

#[test]
fn output_is_deterministic() {
    let a = vec![sm("a", "one", "{}", EP), sm("b", "two", "{}", EP), sm("a", "three", "{}", EP)];
    let mut b = a.clone();
    b.reverse();
    let rules = vec![rule("a", "r1", GOOD_RULES), rule("c", "r2", GOOD_RULES)];
    let mut rules_b = rules.clone();
    rules_b.reverse();
    let s = settings("baseConfig: {global: {external_labels: {z: '1', a: '2'}}}\n");
    let p1 = plan(&Snapshot { service_monitors: a, rules, ..Snapshot::default() }, &s, &NoSecrets);
    let p2 = plan(&Snapshot { service_monitors: b, rules: rules_b, ..Snapshot::default() }, &s, &NoSecrets);
    assert_eq!(p1, p2);
    let names: Vec<String> = config(&p1).scrape_configs.iter().map(|j| j.job_name.clone()).collect();
    assert_eq!(names, ["serviceMonitor/a/one/0", "serviceMonitor/a/three/0", "serviceMonitor/b/two/0"]);
}

#[test]
fn enforcement_and_exclusions() {
    let snapshot = Snapshot {
        service_monitors: vec![sm("a", "enforced", "{}", EP), sm("b", "excluded", "{}", EP)],
        ..Snapshot::default()
    };
    let s = settings(
        "enforcedNamespaceLabel: tenant\nexcludedFromEnforcement: [{resource: servicemonitors, namespace: b}]\nenforcedSampleLimit: 100\n",
    );
    let p = plan(&snapshot, &s, &NoSecrets);
    let cfg = config(&p);
    let enforced = cfg.scrape_config("serviceMonitor/a/enforced/0").unwrap();
    let excluded = cfg.scrape_config("serviceMonitor/b/excluded/0").unwrap();
    let targets = |j: &oxeye_config::ScrapeConfig| j.relabel_configs.iter().any(|r| r.target_label == "tenant");
    assert!(targets(enforced), "the enforced label is set on a/enforced");
    assert!(!targets(excluded), "b/excluded keeps its own namespace label");
    assert_eq!(cfg.global.sample_limit, 100);
}

#[test]
fn objects_being_deleted_are_not_configured() {
    let mut gone = (*sm("a", "gone", "{}", EP)).clone();
    gone.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    let p =
        plan(&Snapshot { service_monitors: vec![Arc::new(gone)], ..Snapshot::default() }, &settings(""), &NoSecrets);
    assert!(p.outcomes.is_empty());
}
