//! Golden tests: each fixture is a monitor from prometheus-operator's `promcfg_test.go` and the
//! upstream golden file it produced (`pkg/prometheus/testdata/*.golden`, copied verbatim). The
//! rendered job must equal upstream's job key for key, in order, after two documented
//! normalisations applied to both sides:
//!
//! 1. the sharding tail (the trailing rules on `__tmp_hash`) is cut off: upstream changed its
//!    shape over releases and writes `$(SHARD)` for its config reloader; ours is checked
//!    separately against the current upstream shape with the shard number filled in;
//! 2. an empty `metric_relabel_configs: []` (older upstream releases) is dropped;
//! 3. two upstream fixtures feed a `replace` rule without `targetLabel`, which Prometheus and
//!    prometheus-operator's own admission validation reject. The renderer rejects it too
//!    (asserted); the comparison then adds the same `targetLabel` on both sides.

use oxeye_crd::{PodMonitor, ServiceMonitor};
use oxeye_operator_render::{
    BaseConfig, EndpointRole, NoSecrets, RenderOptions, ScrapeConfigOut, render_config, render_pod_monitor,
    render_service_monitor,
};
use serde_yaml_ng::{Mapping, Value};

struct Case {
    name: &'static str,
    opts: fn() -> RenderOptions,
}

/// Upstream's default: `endpoints` role (Oxeye defaults to `endpointslice`).
fn upstream() -> RenderOptions {
    RenderOptions { service_discovery_role: EndpointRole::Endpoints, ..RenderOptions::default() }
}

const CASES: &[Case] = &[
    Case { name: "match_expressions", opts: upstream },
    Case { name: "no_enforced_namespace_label", opts: upstream },
    Case {
        name: "endpointslice_enforced_namespace_label",
        opts: || RenderOptions {
            service_discovery_role: EndpointRole::EndpointSlice,
            enforced_namespace_label: Some("ns-key".into()),
            ..upstream()
        },
    },
    Case {
        name: "enforced_namespace_label_pod_monitor",
        opts: || RenderOptions { enforced_namespace_label: Some("ns-key".into()), ..upstream() },
    },
    Case { name: "honor_timestamps_service_monitor", opts: upstream },
    Case { name: "honor_timestamps_pod_monitor", opts: upstream },
    Case { name: "track_timestamps_staleness_service_monitor", opts: upstream },
    Case { name: "scrape_protocols_pod_monitor", opts: upstream },
    Case { name: "empty_endpoint_ports", opts: upstream },
    Case { name: "honor_labels_overriding", opts: || RenderOptions { override_honor_labels: true, ..upstream() } },
    Case { name: "keep_dropped_targets", opts: upstream },
    Case {
        name: "label_limits",
        opts: || {
            let mut o = upstream();
            o.enforced_limits.label_limit = Some(1000);
            o
        },
    },
];

fn raw_fixture(name: &str, ext: &str) -> String {
    let path = format!("{}/tests/golden/{name}.{ext}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture with normalisation 3 applied.
fn fixture(name: &str, ext: &str) -> String {
    let (from, to) = if ext == "yaml" { NO_TARGET_INPUT } else { NO_TARGET_GOLDEN };
    raw_fixture(name, ext).replace(from, to)
}

/// Normalisation 3: input and upstream output with the missing target label added.
const NO_TARGET_INPUT: (&str, &str) = (
    "sourceLabels: [__meta_kubernetes_pod_ready]}",
    "sourceLabels: [__meta_kubernetes_pod_ready], targetLabel: ready}",
);
const NO_TARGET_GOLDEN: (&str, &str) = (
    "    - __meta_kubernetes_pod_ready\n    regex: (.*)\n",
    "    - __meta_kubernetes_pod_ready\n    target_label: ready\n    regex: (.*)\n",
);

fn render(input: &str, opts: &RenderOptions) -> Vec<ScrapeConfigOut> {
    try_render(input, opts).unwrap()
}

fn try_render(input: &str, opts: &RenderOptions) -> Result<Vec<ScrapeConfigOut>, oxeye_operator_render::RenderError> {
    let kind = serde_yaml_ng::from_str::<Value>(input).unwrap()["kind"].as_str().unwrap().to_string();
    match kind.as_str() {
        "ServiceMonitor" => {
            let sm: ServiceMonitor = serde_yaml_ng::from_str(input).unwrap();
            render_service_monitor(&sm, opts, &NoSecrets)
        }
        "PodMonitor" => {
            let pm: PodMonitor = serde_yaml_ng::from_str(input).unwrap();
            render_pod_monitor(&pm, opts, &NoSecrets)
        }
        other => panic!("unknown kind {other}"),
    }
}

fn key(k: &str) -> Value {
    Value::String(k.to_string())
}

/// Applies the documented normalisations; returns the job and the cut sharding tail.
fn normalise(mut job: Mapping) -> (Mapping, Vec<Value>) {
    let mut tail = Vec::new();
    if let Some(Value::Sequence(rules)) = job.get_mut(key("relabel_configs")) {
        while rules.last().is_some_and(|r| serde_yaml_ng::to_string(r).unwrap().contains("__tmp_hash")) {
            tail.insert(0, rules.pop().unwrap());
        }
    }
    if job.get(key("metric_relabel_configs")).is_some_and(|v| v.as_sequence().is_some_and(Vec::is_empty)) {
        job.remove(key("metric_relabel_configs"));
    }
    (job, tail)
}

fn upstream_jobs(golden: &str) -> Vec<Mapping> {
    let v: Value = serde_yaml_ng::from_str(golden).unwrap();
    v["scrape_configs"].as_sequence().unwrap().iter().map(|j| j.as_mapping().unwrap().clone()).collect()
}

const CURRENT_SHARDING_TAIL: &str = "\
- source_labels:
  - __address__
  - __tmp_hash
  target_label: __tmp_hash
  regex: (.+);
  replacement: $1
  action: replace
- source_labels:
  - __tmp_hash
  target_label: __tmp_hash
  modulus: 1
  action: hashmod
- source_labels:
  - __tmp_hash
  - __tmp_disable_sharding
  regex: 0;|.+;.+
  action: keep
";

#[test]
fn golden_cases_match_prometheus_operator() {
    let mut agree = 0;
    let mut failures = Vec::new();
    for case in CASES {
        let opts = (case.opts)();
        let raw = raw_fixture(case.name, "yaml");
        if raw.contains(NO_TARGET_INPUT.0) {
            let e = try_render(&raw, &opts).unwrap_err();
            assert!(e.field.ends_with(".relabelings[0]") && e.message.contains("target_label"), "{}: {e}", case.name);
        }
        let ours = render(&fixture(case.name, "yaml"), &opts);
        let theirs = upstream_jobs(&fixture(case.name, "golden"));
        assert_eq!(ours.len(), theirs.len(), "{}: job count", case.name);
        let mut ok = true;
        for (o, t) in ours.iter().zip(theirs) {
            let (o, tail) = normalise(o.as_mapping().clone());
            let (t, _) = normalise(t);
            let (os, ts) = (
                serde_yaml_ng::to_string(&Value::Mapping(o)).unwrap(),
                serde_yaml_ng::to_string(&Value::Mapping(t)).unwrap(),
            );
            if os != ts {
                ok = false;
                failures.push(format!("{}:\n--- ours\n{os}\n--- upstream\n{ts}", case.name));
            }
            assert_eq!(serde_yaml_ng::to_string(&tail).unwrap(), CURRENT_SHARDING_TAIL, "{}: sharding tail", case.name);
        }
        if ok {
            agree += 1;
        }
    }
    println!("golden agreement: {agree}/{} prometheus-operator cases", CASES.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_golden_case_loads_in_oxeye() {
    let mut all = Vec::new();
    for case in CASES {
        let jobs = render(&fixture(case.name, "yaml"), &(case.opts)());
        let cfg = render_config(&BaseConfig::default(), jobs.clone(), vec![]);
        oxeye_config::load_str(&cfg, case.name).unwrap_or_else(|e| panic!("{}: {e}\n{cfg}", case.name));
        all.extend(jobs);
    }
    // Together too: job names are unique across fixtures.
    let base = BaseConfig {
        scrape_interval: Some("30s".into()),
        evaluation_interval: Some("30s".into()),
        external_labels: [("prometheus".to_string(), "default/test".to_string())].into(),
        ..BaseConfig::default()
    };
    let cfg = render_config(&base, all, vec!["/etc/oxeye/rules/*.yaml".into()]);
    let loaded = oxeye_config::load_str(&cfg, "all").unwrap_or_else(|e| panic!("{e}\n{cfg}"));
    assert!(loaded.scrape_config("serviceMonitor/default/test/0").is_some());
    assert_eq!(loaded.rule_files, ["/etc/oxeye/rules/*.yaml"]);
}
