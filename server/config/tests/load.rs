//! Loading `prometheus.yml`: defaults, inheritance, path resolution, round trips, and every
//! error class with its message, file, line and job.

use std::path::Path;
use std::time::Duration;

use oxeye_config::{ConfigError, ErrorKind, PromDuration, check, load_file, load_str};

fn err(yaml: &str) -> ConfigError {
    match load_str(yaml, "t.yml") {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e,
    }
}

/// Asserts the rendered error: `t.yml:LINE:COL: MESSAGE (job "J")`.
fn assert_err(yaml: &str, line: usize, message: &str, job: Option<&str>) {
    let e = err(yaml);
    assert_eq!(e.line(), Some(line), "line of {e}");
    assert_eq!(e.message(), message, "message of {e}");
    assert_eq!(e.job.as_deref(), job, "job of {e}");
    let text = e.to_string();
    assert!(text.starts_with(&format!("t.yml:{line}:")), "{text}");
    if let Some(j) = job {
        assert!(text.ends_with(&format!("(job {j:?})")), "{text}");
    }
}

fn secs(s: u64) -> PromDuration {
    PromDuration(Duration::from_secs(s))
}

#[test]
fn empty_config_gets_prometheus_defaults() {
    for src in ["", "# nothing\n", "global:\n", "global: {}\nscrape_configs:\n"] {
        let c = load_str(src, "t.yml").unwrap();
        assert_eq!(c.global.scrape_interval, secs(60), "{src:?}");
        assert_eq!(c.global.scrape_timeout, secs(10));
        assert_eq!(c.global.evaluation_interval, secs(60));
        assert_eq!(c.global.metric_name_validation_scheme, "utf8");
        assert!(c.scrape_configs.is_empty());
    }
}

#[test]
fn scrape_config_defaults_and_inheritance() {
    let c = load_str(
        "
global:
  scrape_interval: 20s
  scrape_timeout: 15s
  sample_limit: 100
  body_size_limit: 1MB
scrape_configs:
  - job_name: a
  - job_name: b
    scrape_interval: 5s
    sample_limit: 7
  - job_name: c
    scrape_interval: 1m
    scrape_timeout: 30s
",
        "t.yml",
    )
    .unwrap();
    let a = c.scrape_config("a").unwrap();
    assert_eq!((a.scrape_interval, a.scrape_timeout), (secs(20), secs(15)));
    assert_eq!(a.metrics_path, "/metrics");
    assert_eq!(a.scheme, "http");
    assert!(a.honor_timestamps && !a.honor_labels && !a.track_timestamps_staleness);
    assert!(a.enable_compression && a.http_client.follow_redirects && a.http_client.enable_http2);
    assert_eq!(a.sample_limit, 100);
    assert_eq!(a.body_size_limit.0, 1 << 20);
    assert_eq!(
        a.scrape_protocols,
        ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"]
    );
    assert_eq!(a.metric_name_validation_scheme, "utf8");
    assert_eq!(a.metric_name_escaping_scheme, "allow-utf-8");
    // The inherited timeout is capped at the job's interval.
    let b = c.scrape_config("b").unwrap();
    assert_eq!((b.scrape_interval, b.scrape_timeout, b.sample_limit), (secs(5), secs(5), 7));
    let cc = c.scrape_config("c").unwrap();
    assert_eq!((cc.scrape_interval, cc.scrape_timeout), (secs(60), secs(30)));
}

#[test]
fn global_timeout_defaults_to_at_most_the_interval() {
    let c = load_str("global:\n  scrape_interval: 5s\n", "t.yml").unwrap();
    assert_eq!(c.global.scrape_timeout, secs(5));
}

#[test]
fn bearer_token_becomes_authorization_and_yaml11_booleans_parse() {
    let c = load_str(
        "scrape_configs:\n  - job_name: a\n    bearer_token: tok\n    honor_labels: yes\n    enable_http2: off\n",
        "t.yml",
    )
    .unwrap();
    let a = &c.scrape_configs[0];
    let auth = a.http_client.authorization.as_ref().unwrap();
    assert_eq!((auth.kind.as_str(), auth.credentials.expose()), ("Bearer", "tok"));
    assert!(a.http_client.bearer_token.is_empty());
    assert!(a.honor_labels && !a.http_client.enable_http2);
}

#[test]
fn external_labels_expand_environment_variables() {
    // `set_var` is unsafe in edition 2024 and the workspace denies unsafe code, so read a
    // variable every test environment defines.
    let home = std::env::var("PATH").unwrap_or_default();
    let c = load_str(
        "global:\n  external_labels:\n    p: '${PATH}'\n    d: '$$x'\n    m: 'a-${OXEYE_SURELY_UNSET_VAR}'\n",
        "t.yml",
    )
    .unwrap();
    assert_eq!(c.global.external_labels["p"], home);
    assert_eq!(c.global.external_labels["d"], "$x");
    assert_eq!(c.global.external_labels["m"], "a-");
}

#[test]
fn unknown_fields_name_the_field_and_line() {
    assert_err("foo: 1\n", 1, "field foo not found in the top level", None);
    assert_err("global:\n  scrape_intervl: 1m\n", 2, "field scrape_intervl not found in global", None);
    let e = err("scrape_configs:\n  - job_name: a\n    honour_labels: true\n");
    assert!(matches!(&e.kind, ErrorKind::UnknownField { field, .. } if field == "honour_labels"), "{e:?}");
    assert_err(
        "scrape_configs:\n  - job_name: a\n    honour_labels: true\n",
        3,
        "field honour_labels not found in scrape_configs[0]",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: []\n        label: {}\n",
        5,
        "field label not found in scrape_configs[0].static_configs[0]",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - target: x\n",
        4,
        "field target not found in scrape_configs[0].relabel_configs[0]",
        Some("a"),
    );
}

#[test]
fn unsupported_fields_are_reported_as_such() {
    let yaml = "scrape_configs:\n  - job_name: ok\n  - job_name: dns\n    dns_sd_configs:\n      - names: [x]\n";
    let e = err(yaml);
    assert!(matches!(&e.kind, ErrorKind::Unsupported { field, .. } if field == "dns_sd_configs"), "{e:?}");
    assert_eq!(
        e.to_string(),
        "t.yml:4:5: field dns_sd_configs (in scrape_configs[1]) is not supported by Oxeye yet (job \"dns\")"
    );
    assert_err(
        "global:\n  scrape_interval: 1m\nremote_write:\n  - url: http://x\n",
        3,
        "field remote_write (in the top level) is not supported by Oxeye yet",
        None,
    );
    assert_err("storage:\n  tsdb: {}\n", 1, "field storage (in the top level) is not supported by Oxeye yet", None);
    assert_err(
        "scrape_configs:\n  - job_name: a\n    tls_config:\n      server_name: x\n",
        4,
        "field server_name (in scrape_configs[0].tls_config) is not supported by Oxeye yet",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    oauth2:\n      client_id: x\n",
        3,
        "field oauth2 (in scrape_configs[0]) is not supported by Oxeye yet",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    tls_config:\n      ca_ref: x\n",
        4,
        "field ca_ref (in scrape_configs[0].tls_config) is not supported by Oxeye yet",
        Some("a"),
    );
    assert_err(
        "global:\n  scrape_native_histograms: true\n",
        2,
        "field scrape_native_histograms (in global) is not supported by Oxeye yet",
        None,
    );
    for sd in ["consul_sd_configs", "dns_sd_configs", "ec2_sd_configs", "http_sd_configs", "proxy_url"] {
        let e = err(&format!("scrape_configs:\n  - job_name: a\n    {sd}: []\n"));
        assert!(e.message().ends_with("is not supported by Oxeye yet"), "{e}");
        assert_eq!(e.line(), Some(3));
    }
}

#[test]
fn interval_and_timeout_errors() {
    assert_err(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
        4,
        "scrape timeout greater than scrape interval for scrape config with job name \"a\"",
        Some("a"),
    );
    assert_err(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
        3,
        "global scrape timeout greater than scrape interval",
        None,
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5x\n",
        3,
        "not a valid duration string: \"5x\"",
        Some("a"),
    );
}

#[test]
fn job_name_errors() {
    assert_err(
        "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
        4,
        "found multiple scrape configs with job name \"a\"",
        Some("a"),
    );
    assert_err("scrape_configs:\n  - job_name: ''\n", 2, "job_name is empty", None);
    assert_err("scrape_configs:\n  - scrape_interval: 1m\n", 2, "missing field `job_name`", None);
}

#[test]
fn label_errors() {
    assert_err("global:\n  external_labels:\n    '': x\n", 3, "\"\" is not a valid label name", None);
    assert_err(
        "global:\n  metric_name_validation_scheme: legacy\n  external_labels:\n    not-valid: x\n",
        4,
        "\"not-valid\" is not a valid label name",
        None,
    );
    // Prometheus 3 validates names as UTF-8 by default.
    load_str("global:\n  external_labels:\n    not-valid: x\n", "t.yml").unwrap();
    assert_err(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x]\n        labels:\n          '': v\n",
        5,
        "\"\" is not a valid label name",
        Some("a"),
    );
}

#[test]
fn target_and_discovery_errors() {
    assert_err(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets:\n          - ok:9100\n          - http://bad:9100\n",
        6,
        "\"http://bad:9100\" is not a valid hostname",
        Some("a"),
    );
    // With relabeling, URLs are allowed (the blackbox exporter pattern).
    load_str(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [http://x/]\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n",
        "t.yml",
    )
    .unwrap();
    assert_err(
        "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [a.json, targets.txt]\n",
        4,
        "path name \"targets.txt\" is not valid for file discovery",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - refresh_interval: 1m\n",
        4,
        "file service discovery config must contain at least one path name",
        Some("a"),
    );
    assert_err("scrape_configs:\n  - job_name: a\n    scheme: ftp\n", 3, "invalid scheme: \"ftp\"", Some("a"));
    let c = load_str("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [t/*.json]\n", "t.yml")
        .unwrap();
    assert_eq!(c.scrape_configs[0].file_sd_configs[0].refresh_interval, secs(300));
}

#[test]
fn relabel_errors_point_at_the_rule() {
    assert_err(
        "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - target_label: x\n      - action: hashmod\n        target_label: y\n",
        5,
        "relabel configuration for hashmod requires non-zero modulus",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - source_labels: [a]\n",
        4,
        "relabel configuration for replace action requires 'target_label' value",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - action: labelkeep\n        source_labels: [a]\n",
        4,
        "labelkeep action requires only 'regex', and no other fields",
        Some("a"),
    );
    let e = err("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: '(['\n        action: drop\n");
    assert_eq!(e.line(), Some(4), "{e}");
    assert!(e.message().contains("invalid regular expression"), "{e}");
    assert_err(
        "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: rename\n",
        4,
        "unknown relabel action \"rename\"",
        Some("a"),
    );
    // The job's legacy scheme applies to its relabel rules.
    assert_err(
        "scrape_configs:\n  - job_name: a\n    metric_name_validation_scheme: legacy\n    relabel_configs:\n      - target_label: a-b\n",
        5,
        "\"a-b\" is invalid 'target_label' for replace action",
        Some("a"),
    );
}

#[test]
fn http_client_errors() {
    assert_err(
        "scrape_configs:\n  - job_name: a\n    bearer_token: x\n    bearer_token_file: y\n",
        3,
        "at most one of bearer_token & bearer_token_file must be configured",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: p\n      password_file: f\n",
        3,
        "at most one of basic_auth password, password_file & password_ref must be configured",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u}\n    authorization: {credentials: c}\n",
        4,
        "at most one of basic_auth, oauth2 & authorization must be configured",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    authorization:\n      type: Basic\n",
        4,
        "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    tls_config:\n      cert_file: c.pem\n",
        3,
        "exactly one of key or key_file must be configured when a client certificate is configured",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    tls_config:\n      min_version: TLS9\n",
        4,
        "unknown variant `TLS9`, expected one of `TLS10`, `TLS11`, `TLS12`, `TLS13`",
        Some("a"),
    );
}

#[test]
fn value_errors() {
    assert_err(
        "scrape_configs:\n  - job_name: a\n    body_size_limit: 1000\n",
        3,
        "units: unknown unit  in 1000",
        Some("a"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    sample_limit: -1\n",
        3,
        "invalid type: integer `-1`, expected u64",
        Some("a"),
    );
    assert_err("rule_files:\n  - ok.yml\n  - '*/bad.yml'\n", 3, "invalid rule file path \"*/bad.yml\"", None);
    assert_err(
        "scrape_configs:\n  - job_name: a\n    scrape_protocols: [PrometheusText0.0.4, Nope]\n",
        3,
        "scrape_protocols: unknown scrape protocol Nope, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0] for scrape config with job name \"a\"",
        Some("a"),
    );
    let e = err("scrape_configs:\n  - job_name: a\n    static_configs: [\n");
    assert!(matches!(e.kind, ErrorKind::Syntax(_)), "{e:?}");
    assert!(e.line().is_some(), "{e}");
}

#[test]
fn missing_file_is_an_io_error_naming_the_file() {
    let e = load_file(Path::new("/nonexistent/prometheus.yml")).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Io(_)));
    assert!(e.to_string().starts_with("/nonexistent/prometheus.yml: "), "{e}");
}

fn realistic() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata/realistic/prometheus.yml"))
}

#[test]
fn realistic_config_loads_with_paths_resolved() {
    let c = load_file(realistic()).unwrap();
    let dir = realistic().parent().unwrap();
    let under = |p: &str| dir.join(p).to_string_lossy().into_owned();
    assert_eq!(c.scrape_configs.len(), 6);
    assert_eq!(c.global.external_labels["cluster"], "prod-eu-1");
    assert_eq!(c.global.query_log_file, under("logs/queries.log"));
    assert_eq!(c.rule_files, [under("rules/*.yml"), under("rules/recording.yml")]);
    let node = c.scrape_config("node").unwrap();
    assert_eq!(node.file_sd_configs[0].files, [under("targets/node-*.json"), under("targets/extra.yml")]);
    assert_eq!(node.scrape_timeout, secs(10));
    let api = c.scrape_config("api-servers").unwrap();
    let auth = api.http_client.authorization.as_ref().unwrap();
    assert_eq!(auth.credentials_file, under("secrets/api-token"));
    assert_eq!(api.http_client.tls_config.ca_file, under("secrets/ca.pem"));
    assert_eq!(api.http_client.tls_config.key_file, under("secrets/client-key.pem"));
    assert_eq!(api.scrape_protocols, ["PrometheusText0.0.4", "OpenMetricsText1.0.0"]);
    assert_eq!(api.metric_relabel_configs[0].modulus, 4);
    let pg = c.scrape_config("pushgateway").unwrap();
    assert_eq!(pg.http_client.basic_auth.as_ref().unwrap().password_file, under("secrets/pushgateway-password"));
    let bb = c.scrape_config("blackbox-http").unwrap();
    assert_eq!(bb.params["module"], ["http_2xx"]);
    assert_eq!(bb.scrape_timeout, secs(5));
}

#[test]
fn serialized_config_hides_secrets_and_round_trips() {
    let c = load_file(realistic()).unwrap();
    let yaml = c.to_yaml();
    assert!(!yaml.contains("s3cr3t-t0ken"), "{yaml}");
    assert!(yaml.contains("credentials: <secret>"), "{yaml}");
    assert!(yaml.contains("job_name: api-servers"));
    assert!(yaml.contains("scrape_interval: 30s"));
    // Loading the rendered config gives the same config, secrets aside, and renders the same.
    let again = load_str(&yaml, "rendered").unwrap();
    assert_eq!(again.to_yaml(), yaml);
    let mut without_secret = c.clone();
    without_secret.scrape_configs.retain(|s| s.job_name != "legacy-bearer");
    let again = load_str(&without_secret.to_yaml(), "rendered").unwrap();
    assert_eq!(again, without_secret);
}

#[test]
fn configs_compare_for_reload() {
    let a = load_str("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p1}\n", "t").unwrap();
    let b = load_str("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p2}\n", "t").unwrap();
    let a2 =
        load_str("scrape_configs:\n- job_name: a\n  basic_auth:\n    username: u\n    password: p1\n", "t").unwrap();
    assert_ne!(a, b, "a changed password is a changed job");
    assert_eq!(a, a2);
}

#[test]
fn check_mirrors_promtool_output() {
    let r = check(realistic());
    assert!(r.is_success(), "{:?}", r.stderr);
    assert_eq!(r.exit_code(), 0);
    let file = realistic().display().to_string();
    assert_eq!(r.stdout[0], format!("Checking {file}"));
    // `rules/*.yml` and `rules/recording.yml` overlap; promtool counts both matches too.
    assert_eq!(r.stdout[1], "  SUCCESS: 3 rule files found");
    assert_eq!(r.stdout[2], format!(" SUCCESS: {file} is valid prometheus config file syntax"));
}

#[test]
fn check_reports_missing_referenced_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("p.yml");
    std::fs::write(&cfg, "rule_files: [missing.yml]\n").unwrap();
    let r = check(&cfg);
    assert_eq!(r.exit_code(), 1);
    let missing = dir.path().join("missing.yml").display().to_string();
    assert_eq!(r.stderr, [format!("  FAILED: {missing:?} does not point to an existing file")]);

    std::fs::write(&cfg, "scrape_configs:\n  - job_name: a\n    bearer_token_file: tok\n").unwrap();
    let r = check(&cfg);
    assert!(!r.is_success());
    assert!(r.stderr[0].contains("error checking authorization credentials or bearer token file"), "{:?}", r.stderr);
    std::fs::write(dir.path().join("tok"), "t").unwrap();
    assert!(check(&cfg).is_success());

    std::fs::write(&cfg, "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['*.json']\n")
        .unwrap();
    std::fs::write(dir.path().join("bad.json"), "{\"targets\": 1}").unwrap();
    let r = check(&cfg);
    assert!(r.stderr[0].contains("checking SD file"), "{:?}", r.stderr);

    let r = check(&dir.path().join("absent.yml"));
    assert!(r.stderr[0].starts_with("  FAILED: "), "{:?}", r.stderr);
}

#[test]
fn no_input_panics_truncated_or_mangled() {
    let src = std::fs::read_to_string(realistic()).unwrap();
    let mut errors = 0;
    for (i, _) in src.char_indices().step_by(3) {
        for variant in [src[..i].to_string(), format!("{}\t{}", &src[..i], &src[i..]), src[i..].to_string()] {
            if load_str(&variant, "t.yml").is_err() {
                errors += 1;
            }
        }
    }
    assert!(errors > 0, "some mangled inputs must be rejected");
}

#[test]
fn alerting_defaults() {
    let c = load_str("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['am:9093']\n", "t.yml")
        .unwrap();
    let am = &c.alerting.alertmanagers[0];
    assert_eq!(am.scheme, "http");
    assert_eq!(am.api_version, "v2");
    assert_eq!(am.path_prefix, "");
    assert_eq!(am.timeout, secs(10));
    assert!(am.http_client.follow_redirects && am.http_client.enable_http2);
    assert_eq!(am.static_configs[0].targets, ["am:9093"]);
    // Empty and absent blocks mean no Alertmanagers.
    for src in ["", "alerting:\n", "alerting: {}\n", "alerting:\n  alertmanagers:\n"] {
        assert!(load_str(src, "t.yml").unwrap().alerting.is_empty(), "{src:?}");
    }
}

#[test]
fn alerting_relabel_rules_and_per_alertmanager_alert_relabeling() {
    let c = load_str(
        "global:\n  metric_name_validation_scheme: legacy\nalerting:\n  alert_relabel_configs:\n    - regex: replica\n      action: labeldrop\n  alertmanagers:\n    - bearer_token: t\n      alert_relabel_configs:\n        - source_labels: [severity]\n          regex: debug\n          action: drop\n      relabel_configs:\n        - target_label: __alerts_path__\n          replacement: /x\n",
        "t.yml",
    )
    .unwrap();
    assert_eq!(c.alerting.alert_relabel_configs.len(), 1);
    let am = &c.alerting.alertmanagers[0];
    assert_eq!(am.alert_relabel_configs[0].source_labels, ["severity"]);
    assert_eq!(am.relabel_configs[0].target_label, "__alerts_path__");
    // bearer_token moves into authorization, as for scrape configs.
    assert_eq!(am.http_client.authorization.as_ref().unwrap().credentials.expose(), "t");
    // The global legacy scheme applies to alerting relabel rules.
    assert_err(
        "global:\n  metric_name_validation_scheme: legacy\nalerting:\n  alert_relabel_configs:\n    - target_label: a-b\n",
        5,
        "\"a-b\" is invalid 'target_label' for replace action",
        None,
    );
    assert_err(
        "alerting:\n  alertmanagers:\n    - alert_relabel_configs:\n        - action: hashmod\n          target_label: x\n",
        4,
        "relabel configuration for hashmod requires non-zero modulus",
        None,
    );
}

#[test]
fn alerting_errors_name_the_field_and_line() {
    // Prometheus 3.x removed the v1 API; its message lists the supported versions.
    assert_err(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [a]\n      api_version: v1\n",
        5,
        "expected Alertmanager api version to be one of [v2] but got v1",
        None,
    );
    assert_err(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['http://am:9093']\n",
        4,
        "\"http://am:9093\" is not a valid hostname",
        None,
    );
    assert_err("alerting:\n  alertmanagers:\n    - scheme: ftp\n", 3, "invalid scheme: \"ftp\"", None);
    assert_err(
        "alerting:\n  alertmanagers:\n    - timout: 1s\n",
        3,
        "field timout not found in alerting.alertmanagers[0]",
        None,
    );
    assert_err("alerting:\n  alert_relabels: []\n", 2, "field alert_relabels not found in alerting", None);
    assert_err(
        "alerting:\n  alertmanagers:\n    - file_sd_configs:\n        - files: [am.txt]\n",
        4,
        "path name \"am.txt\" is not valid for file discovery",
        None,
    );
    assert_err(
        "alerting:\n  alertmanagers:\n    - basic_auth: {username: u}\n      authorization: {credentials: c}\n",
        4,
        "at most one of basic_auth, oauth2 & authorization must be configured",
        None,
    );
    assert_err("alerting:\n  alertmanagers:\n    - timeout: 5x\n", 3, "not a valid duration string: \"5x\"", None);
}

#[test]
fn alerting_unsupported_fields_are_reported_as_such() {
    for (field, line) in [
        ("http_sd_configs: []", 4),
        ("dns_sd_configs: []", 4),
        ("consul_sd_configs: []", 4),
        ("sigv4: {region: x}", 4),
        ("proxy_url: http://p", 4),
        ("oauth2: {client_id: x}", 4),
    ] {
        let name = field.split(':').next().unwrap();
        assert_err(
            &format!("alerting:\n  alertmanagers:\n    - static_configs: []\n    - {field}\n"),
            line,
            &format!("field {name} (in alerting.alertmanagers[1]) is not supported by Oxeye yet"),
            None,
        );
    }
    assert_err(
        "alerting:\n  alertmanagers:\n    - tls_config:\n        ca_ref: x\n",
        4,
        "field ca_ref (in alerting.alertmanagers[0].tls_config) is not supported by Oxeye yet",
        None,
    );
}

#[test]
fn alerting_paths_resolve_and_round_trip() {
    let c = load_file(realistic()).unwrap();
    let dir = realistic().parent().unwrap();
    let under = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let ams = &c.alerting.alertmanagers;
    assert_eq!(ams.len(), 2);
    assert_eq!((ams[0].scheme.as_str(), ams[0].path_prefix.as_str(), ams[0].timeout), ("https", "/am", secs(5)));
    let ba = ams[0].http_client.basic_auth.as_ref().unwrap();
    assert_eq!(ba.password_file, under("secrets/pushgateway-password"));
    assert_eq!(ams[0].http_client.tls_config.ca_file, under("secrets/ca.pem"));
    assert_eq!(ams[1].file_sd_configs[0].files, [under("targets/alertmanagers-*.json")]);
    assert_eq!(ams[1].file_sd_configs[0].refresh_interval, secs(300));
    assert_eq!(ams[1].alert_relabel_configs.len(), 1);
    let yaml = c.to_yaml();
    assert!(yaml.contains("alerting:\n  alert_relabel_configs:"), "{yaml}");
    assert!(yaml.contains("api_version: v2"), "{yaml}");
    assert!(yaml.contains("path_prefix: /am"), "{yaml}");
    let again = load_str(&yaml, "rendered").unwrap();
    assert_eq!(again.alerting, c.alerting);
}

#[test]
fn check_reads_alertmanager_sd_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("p.yml");
    std::fs::write(&cfg, "alerting:\n  alertmanagers:\n    - file_sd_configs:\n        - files: ['am/*.json']\n")
        .unwrap();
    std::fs::create_dir(dir.path().join("am")).unwrap();
    std::fs::write(dir.path().join("am/good.json"), r#"[{"targets": ["am:9093"]}]"#).unwrap();
    assert!(check(&cfg).is_success());
    std::fs::write(dir.path().join("am/bad.json"), r#"[{"targets": ["http://am:9093/"]}]"#).unwrap();
    let r = check(&cfg);
    assert!(r.stderr[0].contains("checking SD file") && r.stderr[0].contains("alertmanagers[0]"), "{:?}", r.stderr);
}

#[test]
fn kubernetes_sd_configs_load_and_errors_name_their_line() {
    let c = oxeye_config::load_str(
        "scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - role: endpointslice\n        api_server: https://127.0.0.1:6443\n        bearer_token_file: tok\n        namespaces: {names: [a]}\n",
        "t.yml",
    )
    .unwrap();
    let k = &c.scrape_configs[0].kubernetes_sd_configs[0];
    assert_eq!(k.role, oxeye_config::KubernetesRole::EndpointSlice);
    assert_eq!(k.namespaces.names, ["a"]);
    assert_eq!(k.http_client.authorization.as_ref().map(|a| a.credentials_file.as_str()), Some("tok"));
    assert_err(
        "scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - role: pod\n        selectors:\n          - role: service\n",
        6,
        "pod role supports only pod, node selectors",
        Some("k8s"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: http://a\n        kubeconfig_file: k\n",
        5,
        "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
        Some("k8s"),
    );
    assert_err(
        "scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - role: deployment\n",
        4,
        "unknown Kubernetes SD role \"deployment\"",
        Some("k8s"),
    );
}

#[test]
fn alertmanager_kubernetes_sd_configs_load_validate_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("p.yml");
    std::fs::write(
        &cfg,
        "alerting:\n  alertmanagers:\n    - kubernetes_sd_configs:\n        - role: pod\n          kubeconfig_file: kube/config\n          namespaces: {names: [monitoring]}\n          selectors: [{role: pod, label: 'app=alertmanager'}]\n      relabel_configs:\n        - source_labels: [__meta_kubernetes_pod_container_port_name]\n          regex: web\n          action: keep\n",
    )
    .unwrap();
    let c = load_file(&cfg).unwrap();
    let k = &c.alerting.alertmanagers[0].kubernetes_sd_configs[0];
    assert_eq!(k.role, oxeye_config::KubernetesRole::Pod);
    assert_eq!(k.namespaces.names, ["monitoring"]);
    assert_eq!(k.selector(oxeye_config::KubernetesRole::Pod).map(|s| s.label.as_str()), Some("app=alertmanager"));
    // Relative kubeconfig paths resolve against the config file's directory, as for scrape jobs.
    assert_eq!(k.kubeconfig_file, dir.path().join("kube/config").to_string_lossy());
    let yaml = c.to_yaml();
    assert!(yaml.contains("kubernetes_sd_configs:"), "{yaml}");
    assert_eq!(load_str(&yaml, "rendered").unwrap().alerting, c.alerting);

    // Prometheus's SD validation applies under alertmanagers too.
    assert_err(
        "alerting:\n  alertmanagers:\n    - kubernetes_sd_configs:\n        - role: service\n          selectors: [{role: pod}]\n",
        5,
        "service role supports only service selectors",
        None,
    );
    assert_err(
        "alerting:\n  alertmanagers:\n    - kubernetes_sd_configs:\n        - role: pod\n          bearer_token: t\n",
        4,
        "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
        None,
    );
    assert_err(
        "alerting:\n  alertmanagers:\n    - kubernetes_sd_configs:\n        - {}\n",
        3,
        "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
        None,
    );
}
