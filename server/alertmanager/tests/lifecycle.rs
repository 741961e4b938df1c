//! The binary's lifecycle as users observe it: readiness and health (GET and HEAD), status
//! document shape, reload through `POST /-/reload` and SIGHUP (a bad file keeps the running
//! configuration and flips the reload metrics), `/metrics`, the route prefix, API v1 and the
//! refusal of `--cluster.peer`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Am, Flavor, OXEYE_AM, client};

const CONFIG_A: &str = "route:\n  receiver: first\nreceivers:\n- name: first\n";
const CONFIG_B: &str = "route:\n  receiver: second\nreceivers:\n- name: first\n- name: second\n";

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
}

fn receivers(am: &Am) -> Vec<String> {
    am.get_json("/api/v2/receivers")
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["name"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[test]
fn status_health_metrics_and_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let am = Am::start(Flavor::Oxeye, dir.path(), CONFIG_A, &[]);
    let c = client();

    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(c.get(format!("{}{path}", am.url())).send().expect("GET").status(), 200);
        assert_eq!(c.head(format!("{}{path}", am.url())).send().expect("HEAD").status(), 200);
    }

    let st = am.get_json("/api/v2/status");
    assert_eq!(st["cluster"]["status"], "disabled");
    assert_eq!(st["cluster"]["peers"], serde_json::json!([]));
    assert_eq!(st["config"]["original"], CONFIG_A);
    for k in ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(st["versionInfo"][k].is_string(), "versionInfo.{k} in {st}");
    }
    assert!(st["uptime"].as_str().is_some_and(|u| u.ends_with('Z')), "{st}");
    assert_eq!(receivers(&am), ["first"]);

    let metrics = || c.get(format!("{}/metrics", am.url())).send().expect("metrics").text().expect("text");
    let m = metrics();
    assert!(m.contains("alertmanager_build_info{"), "{m}");
    assert_eq!(metric(&m, "alertmanager_config_last_reload_successful"), Some(1.0));
    let hash_a = metric(&m, "alertmanager_config_hash").expect("config hash");
    assert_eq!(hash_a, oxeye_alertmanager::config_hash_value(CONFIG_A.as_bytes()));
    assert!(metric(&m, "process_start_time_seconds").is_some());

    // A broken file: the reload fails, the running configuration stays.
    std::fs::write(&am.config, "route:\n  receiver: nowhere\nreceivers:\n- name: first\n").expect("write");
    let r = c.post(format!("{}/-/reload", am.url())).send().expect("reload");
    assert_eq!(r.status(), 500);
    let body = r.text().unwrap_or_default();
    assert!(body.starts_with("failed to reload config:") && body.contains("nowhere"), "{body}");
    assert_eq!(receivers(&am), ["first"]);
    assert_eq!(am.get_json("/api/v2/status")["config"]["original"], CONFIG_A);
    let m = metrics();
    assert_eq!(metric(&m, "alertmanager_config_last_reload_successful"), Some(0.0));
    assert_eq!(metric(&m, "alertmanager_config_hash"), Some(hash_a));

    // A good file through SIGHUP.
    std::fs::write(&am.config, CONFIG_B).expect("write");
    am.proc.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while receivers(&am) != ["first", "second"] {
        assert!(Instant::now() < deadline, "SIGHUP reload not applied: {:?}", receivers(&am));
        std::thread::sleep(Duration::from_millis(50));
    }
    let m = metrics();
    assert_eq!(metric(&m, "alertmanager_config_last_reload_successful"), Some(1.0));
    assert_eq!(
        metric(&m, "alertmanager_config_hash"),
        Some(oxeye_alertmanager::config_hash_value(CONFIG_B.as_bytes()))
    );

    // And through HTTP.
    std::fs::write(&am.config, CONFIG_A).expect("write");
    assert_eq!(c.post(format!("{}/-/reload", am.url())).send().expect("reload").status(), 200);
    assert_eq!(receivers(&am), ["first"]);

    assert_eq!(c.get(format!("{}/api/v1/alerts", am.url())).send().expect("v1").status(), 410);
}

#[test]
fn default_cluster_address_reports_a_single_ready_peer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let am = Am::start(
        Flavor::Oxeye,
        dir.path(),
        CONFIG_A,
        &["--cluster.listen-address=0.0.0.0:9094", "--cluster.advertise-address=10.0.0.7:9094"],
    );
    let st = am.get_json("/api/v2/status");
    assert_eq!(st["cluster"]["status"], "ready", "{st}");
    let name = st["cluster"]["name"].as_str().expect("cluster name");
    assert_eq!(name.len(), 26, "a ULID: {name}");
    assert_eq!(st["cluster"]["peers"][0]["name"], name);
    assert_eq!(st["cluster"]["peers"][0]["address"], "10.0.0.7:9094");
}

#[test]
fn route_prefix_from_the_external_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let url = format!("--web.external-url=http://example.com:{port}/am/");
    let log = dir.path().join("oxeye.log");
    std::fs::write(dir.path().join("am.yml"), CONFIG_A).expect("write");
    let args = vec![
        format!("--config.file={}", dir.path().join("am.yml").display()),
        format!("--storage.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_string(),
        url,
    ];
    let mut p = common::Proc::spawn("oxeye-alertmanager", OXEYE_AM, &args, log);
    common::wait_ready(&mut p, &format!("http://127.0.0.1:{port}/am/-/ready"), Duration::from_secs(20));
    let c = client();
    let r = c.get(format!("http://127.0.0.1:{port}/am/api/v2/receivers")).send().expect("GET");
    assert_eq!(r.status(), 200);
    let r = c.get(format!("http://127.0.0.1:{port}/api/v2/receivers")).send().expect("GET");
    assert_eq!(r.status(), 404);
}

#[test]
fn cluster_peers_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("am.yml"), CONFIG_A).expect("write");
    let out = Command::new(OXEYE_AM)
        .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg("--cluster.peer=10.0.0.2:9094")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("clustering is not supported by Oxeye yet"), "{err}");
}

#[test]
fn status_config_hides_secrets_like_alertmanager() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "global:\n  smtp_auth_password: zz-global\nroute:\n  receiver: r\nreceivers:\n- name: r\n  webhook_configs:\n  - url: http://127.0.0.1:9/hook\n    http_config:\n      basic_auth: {username: u, password: zz-basic}\n  pagerduty_configs:\n  - routing_key: zz-routing\n";
    let am = Am::start(Flavor::Oxeye, dir.path(), config, &[]);
    let original = am.get_json("/api/v2/status")["config"]["original"].as_str().unwrap_or_default().to_string();
    assert!(!original.contains("zz-"), "a secret is visible in /api/v2/status:\n{original}");
    assert_eq!(original.matches("<secret>").count(), 3, "{original}");
    assert!(original.contains("http://127.0.0.1:9/hook"), "webhook URLs are not secrets in 0.25: {original}");
}
