//! Configuration reload (SIGHUP and `POST /-/reload`), the lifecycle flag, the reload metrics,
//! and `oxeye check config`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn config_for(job: &str, target: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

fn active_jobs(base: &str) -> Vec<String> {
    let v = api_json(base, "/api/v1/targets?state=active");
    let mut jobs: Vec<String> = v["data"]["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .map(|t| t["labels"]["job"].as_str().unwrap_or("").to_string())
        .collect();
    jobs.sort();
    jobs
}

fn metric_value(base: &str, name: &str) -> Option<f64> {
    let (_, body) = http_get(&format!("{base}/metrics")).ok()?;
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn reload_applies_good_configs_and_keeps_the_running_one_on_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start("m 1\n");
    let ox = Oxeye::start(dir.path(), &config_for("first", &target.address()), &["--web.enable-lifecycle"]);
    assert_eq!(active_jobs(&ox.base), vec!["first"]);
    assert_eq!(metric_value(&ox.base, "prometheus_config_last_reload_successful"), Some(1.0));

    std::fs::write(&ox.config_path, config_for("second", &target.address())).unwrap();
    let (code, body) = http_post(&format!("{}/-/reload", ox.base)).unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(active_jobs(&ox.base), vec!["second"]);

    // An unknown field: refused with file and line, the running config stays.
    std::fs::write(&ox.config_path, "global:\n  scrape_intervl: 1s\n").unwrap();
    let (code, body) = http_post(&format!("{}/-/reload", ox.base)).unwrap();
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("scrape_intervl"), "error must name the field: {body}");
    assert!(body.contains("prometheus.yml:2:"), "error must give file and line: {body}");
    assert_eq!(active_jobs(&ox.base), vec!["second"]);
    assert_eq!(metric_value(&ox.base, "prometheus_config_last_reload_successful"), Some(0.0));
    let v = api_json(&ox.base, "/api/v1/status/runtimeinfo");
    assert_eq!(v["data"]["reloadConfigSuccess"], serde_json::Value::Bool(false));

    // SIGHUP with a good config recovers.
    std::fs::write(&ox.config_path, config_for("third", &target.address())).unwrap();
    let pid = ox.guard.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_for("SIGHUP reload", Duration::from_secs(10), || (active_jobs(&ox.base) == vec!["third"]).then_some(()));
    wait_for("reload metric", Duration::from_secs(5), || {
        (metric_value(&ox.base, "prometheus_config_last_reload_successful") == Some(1.0)).then_some(())
    });
    let ts = metric_value(&ox.base, "prometheus_config_last_reload_success_timestamp_seconds").unwrap_or(0.0);
    assert!(ts > 1.6e9, "success timestamp is unix seconds: {ts}");
}

#[test]
fn lifecycle_endpoints_need_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start("m 1\n");
    let ox = Oxeye::start(dir.path(), &config_for("only", &target.address()), &[]);
    let (code, body) = http_post(&format!("{}/-/reload", ox.base)).unwrap();
    assert_eq!(code, 403, "{body}");
    let (code, _) = http_get(&format!("{}/-/healthy", ox.base)).unwrap();
    assert_eq!(code, 200);
    let v = api_json(&ox.base, "/api/v1/status/flags");
    assert_eq!(v["data"]["web.enable-lifecycle"], "false");
    let v = api_json(&ox.base, "/api/v1/status/buildinfo");
    assert!(v["data"]["version"].is_string());
}

#[test]
fn check_config_accepts_good_and_rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, config_for("a", "localhost:9100")).unwrap();
    let out = Command::new(oxeye_bin()).args(["check", "config"]).arg(&good).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n")
        .unwrap();
    let out = Command::new(oxeye_bin()).args(["check", "config"]).arg(&bad).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("scrape timeout"), "{text}");
}

#[test]
fn external_url_path_becomes_the_route_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start("m 1\n");
    let ox = Oxeye::start(
        dir.path(),
        &config_for("p", &target.address()),
        &["--web.external-url=http://example:9090/prom/"],
    );
    let v = api_json(&ox.base, "/prom/api/v1/query?query=1");
    assert_eq!(v["data"]["resultType"], "scalar");
    let (code, _) = http_get(&format!("{}/api/v1/query?query=1", ox.base)).unwrap();
    assert_eq!(code, 404, "routes live under the prefix only");
    let (code, body) = http_get(&format!("{}/prom/", ox.base)).unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("<title>Oxeye</title>"));
}

fn rule_names(base: &str) -> Vec<String> {
    let v = api_json(base, "/api/v1/rules");
    let mut names: Vec<String> = v["data"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn reload_with_a_bad_rule_file_keeps_the_running_rules() {
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start("m 1\n");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - record: m:sum\n        expr: sum(m)\n",
    )
    .unwrap();
    let config = format!("rule_files: ['rules.yml']\n{}", config_for("j", &target.address()));
    let ox = Oxeye::start(dir.path(), &config, &["--web.enable-lifecycle"]);
    assert_eq!(rule_names(&ox.base), vec!["m:sum"]);
    wait_for("the recording rule to write its series", Duration::from_secs(20), || {
        ox.query("m:sum")["data"]["result"].as_array().filter(|r| r.len() == 1).map(|_| ())
    });

    // A rule file with a PromQL error: the reload fails naming file, group and rule, and the
    // running rules keep evaluating.
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - record: m:sum\n        expr: sum(m\n      - record: other\n        expr: m\n",
    )
    .unwrap();
    let (code, body) = http_post(&format!("{}/-/reload", ox.base)).unwrap();
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("rules.yml") && body.contains("group \"g\"") && body.contains("m:sum"), "{body}");
    assert_eq!(rule_names(&ox.base), vec!["m:sum"]);
    assert_eq!(metric_value(&ox.base, "prometheus_config_last_reload_successful"), Some(0.0));
    let before = iterations(&ox.base).unwrap_or(0.0);
    wait_for("the old group to keep evaluating", Duration::from_secs(10), || {
        (iterations(&ox.base).unwrap_or(0.0) > before).then_some(())
    });

    // Fixed file: the new rules replace the old ones.
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - record: other\n        expr: m\n",
    )
    .unwrap();
    let (code, body) = http_post(&format!("{}/-/reload", ox.base)).unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(rule_names(&ox.base), vec!["other"]);
}

/// `prometheus_rule_group_iterations_total` of the only group.
fn iterations(base: &str) -> Option<f64> {
    let (_, body) = http_get(&format!("{base}/metrics")).ok()?;
    body.lines().find(|l| l.starts_with("prometheus_rule_group_iterations_total{"))?.rsplit(' ').next()?.parse().ok()
}
