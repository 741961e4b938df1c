//! Prometheus 2.42 sends its firing alerts to oxeye-alertmanager (API v2, as Prometheus
//! defaults to): the alert, with Prometheus's labels, annotations and generator URL, shows up
//! in `/api/v2/alerts` and is routed to the configured receiver. The same check runs against
//! Alertmanager 0.25 to keep the expectations honest.

mod common;

use std::time::{Duration, Instant};

use common::{Am, Flavor, PROMETHEUS, Proc, free_port, have, wait_ready};

const AM_CONFIG: &str = "route:\n  receiver: ops\n  group_wait: 1h\nreceivers:\n- name: ops\n";

const RULES: &str = "groups:
- name: test
  interval: 1s
  rules:
  - alert: AlwaysFiring
    expr: vector(1) > 0
    labels:
      severity: page
    annotations:
      summary: 'value is {{ $value }}'
";

fn check(flavor: Flavor) {
    let dir = tempfile::tempdir().expect("tempdir");
    let am = Am::start(flavor, &dir.path().join("am"), AM_CONFIG, &[]);
    std::fs::write(dir.path().join("rules.yml"), RULES).expect("write rules");
    let prom_cfg = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{}']\n",
        am.port
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, prom_cfg).expect("write prometheus.yml");
    let port = free_port();
    let args = vec![
        format!("--config.file={}", cfg.display()),
        format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--rules.alert.resend-delay=1s".to_string(),
    ];
    let mut prom = Proc::spawn("prometheus", PROMETHEUS, &args, dir.path().join("prometheus.log"));
    wait_ready(&mut prom, &format!("http://127.0.0.1:{port}/-/ready"), Duration::from_secs(30));

    let deadline = Instant::now() + Duration::from_secs(30);
    let alert = loop {
        let alerts = am.get_json("/api/v2/alerts");
        if let Some(a) = alerts.as_array().and_then(|a| a.iter().find(|a| a["labels"]["alertname"] == "AlwaysFiring")) {
            break a.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{}: no alert from Prometheus after 30s; prometheus log:\n{}",
            flavor.name(),
            prom.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "value is 1");
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(alert["receivers"][0]["name"], "ops");
    let gen_url = alert["generatorURL"].as_str().unwrap_or_default();
    assert!(gen_url.contains("/graph?g0.expr="), "generatorURL {gen_url:?}");
    let groups = am.get_json("/api/v2/alerts/groups");
    assert_eq!(groups[0]["receiver"]["name"], "ops", "{groups}");
    println!("prometheus 2.42 -> {}: alert delivered", flavor.name());
}

#[test]
fn prometheus_delivers_alerts_to_reference() {
    if !have(PROMETHEUS) || !have(common::ALERTMANAGER) {
        eprintln!("skipping: prometheus or alertmanager not installed");
        return;
    }
    check(Flavor::Reference);
}

#[test]
fn prometheus_delivers_alerts_to_oxeye() {
    if !have(PROMETHEUS) {
        eprintln!("skipping: prometheus not installed");
        return;
    }
    check(Flavor::Oxeye);
}
