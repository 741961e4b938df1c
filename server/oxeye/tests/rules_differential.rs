//! Differential end-to-end test of rules and alert delivery: Debian's Prometheus 2.42 and Oxeye
//! scrape the same target with the same rule file, and each delivers its alerts to its own
//! Debian Alertmanager 0.25. The recording-rule series, the `ALERTS` series, `/api/v1/alerts`
//! (labels, expanded annotations, state, value), the rule health in `/api/v1/rules` and the
//! alerts read back from each Alertmanager with `amtool alert query` must all agree, while
//! firing and after one alert resolves.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const RULES: &str = r#"groups:
  - name: demo-recording
    rules:
      - record: room:demo_temperature_celsius:max
        expr: max by (room) (demo_temperature_celsius)
      - record: job:demo_rooms:count
        expr: count   by(job)(demo_temperature_celsius{room=~"a|b|c"})
        labels:
          source: rules
  - name: demo-alerts
    interval: 1s
    rules:
      - alert: RoomTooHot
        expr: demo_temperature_celsius > 25
        labels:
          severity: warning
          room_copy: "room-{{ $labels.room }}"
        annotations:
          summary: "Room {{ $labels.room }} is at {{ $value | humanize }} degrees"
          description: >-
            {{ $labels.instance }} of job {{ $labels.job }} in {{ $externalLabels.cluster }};
            {{ humanizeDuration 90061 }} {{ humanizePercentage 0.256 }} {{ 1536 | humanize1024 }}
            {{ toUpper "shout" }} {{ reReplaceAll "(a+)" "<$1>" "caaat" }} {{ title "hello world" }}
      - alert: RoomTooHotSustained
        expr: demo_temperature_celsius > 25
        for: 3s
        annotations:
          summary: "{{ $labels.room }} hot for 3s ({{ printf \"%.1f\" $value }})"
      - alert: RoomCount
        expr: job:demo_rooms:count > 1
        annotations:
          rooms: '{{ with query "count(demo_temperature_celsius)" }}{{ . | first | value }}{{ end }}'
          hottest: '{{ range query "topk(1, demo_temperature_celsius)" }}{{ .Labels.room }}={{ .Value }}{{ end }}'
          link: '{{ $externalURL }}'
      - alert: NeverFires
        expr: demo_temperature_celsius > 1000
        for: 1m
"#;

const BODY_HOT: &str = "# TYPE demo_temperature_celsius gauge\n\
demo_temperature_celsius{room=\"a\"} 30\n\
demo_temperature_celsius{room=\"b\"} 20.5\n\
demo_temperature_celsius{room=\"c\"} 27.25\n";

const BODY_A_COOLED: &str = "# TYPE demo_temperature_celsius gauge\n\
demo_temperature_celsius{room=\"a\"} 20\n\
demo_temperature_celsius{room=\"b\"} 20.5\n\
demo_temperature_celsius{room=\"c\"} 27.25\n";

const EXTERNAL_URL: &str = "http://monitoring.example:9090/";

struct Alertmanager {
    _guard: ProcessGuard,
    url: String,
    port: u16,
}

fn start_alertmanager(dir: &Path) -> Alertmanager {
    let bin = require_binary("/usr/bin/prometheus-alertmanager");
    std::fs::create_dir_all(dir).unwrap();
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("alertmanager.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start alertmanager");
    let url = format!("http://127.0.0.1:{port}");
    let am = Alertmanager { _guard: ProcessGuard { child, name: "alertmanager".into() }, url: url.clone(), port };
    wait_for("alertmanager to become ready", Duration::from_secs(30), || {
        http_get(&format!("{url}/-/ready")).ok().filter(|(c, _)| *c == 200)
    });
    am
}

fn server_config(target: &str, am_port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels:\n    cluster: diff\n\
rule_files:\n  - rules/*.yml\n\
alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
scrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{target}']\n        labels:\n          env: test\n"
    )
}

fn write_server_dir(dir: &Path, config: &str) {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/demo.yml"), RULES).unwrap();
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
}

/// `/api/v1/alerts` as a comparable set: labels, annotations, state and value of each alert.
fn api_alerts(base: &str) -> BTreeSet<String> {
    let v = api_json(base, "/api/v1/alerts");
    v["data"]["alerts"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|a| format!("{} {} state={} value={}", a["labels"], a["annotations"], a["state"], a["value"]))
        .collect()
}

/// An instant query's result as `labels => value` lines.
fn query_set(base: &str, expr: &str) -> BTreeSet<String> {
    let v = api_json(base, &format!("/api/v1/query?query={}", url_encode(expr)));
    v["data"]["result"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|s| format!("{} => {}", s["metric"], s["value"][1]))
        .collect()
}

/// Label sets only (for series whose values are timestamps).
fn query_labels(base: &str, expr: &str) -> BTreeSet<String> {
    let v = api_json(base, &format!("/api/v1/query?query={}", url_encode(expr)));
    v["data"]["result"].as_array().unwrap_or(&Vec::new()).iter().map(|s| s["metric"].to_string()).collect()
}

/// Each rule's group, name, query, type, health, state and alert count from `/api/v1/rules`.
fn api_rules(base: &str) -> BTreeSet<String> {
    let v = api_json(base, "/api/v1/rules");
    let mut out = BTreeSet::new();
    for g in v["data"]["groups"].as_array().unwrap_or(&Vec::new()) {
        for r in g["rules"].as_array().unwrap_or(&Vec::new()) {
            out.insert(format!(
                "{}/{} query={} type={} health={} state={} labels={} alerts={} interval={}",
                g["name"],
                r["name"],
                r["query"],
                r["type"],
                r["health"],
                r.get("state").unwrap_or(&Value::Null),
                r["labels"],
                r.get("alerts").and_then(Value::as_array).map_or(0, Vec::len),
                g["interval"],
            ));
        }
    }
    out
}

/// The alerts an Alertmanager holds, read with Debian's amtool: labels, annotations and the
/// generator URL.
fn amtool_alerts(am: &Alertmanager) -> BTreeSet<String> {
    let out = Command::new(require_binary("/usr/bin/amtool"))
        .args(["alert", "query", "-o", "json", &format!("--alertmanager.url={}", am.url)])
        .output()
        .expect("run amtool");
    assert!(out.status.success(), "amtool failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("amtool JSON");
    v.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|a| format!("{} {} {}", a["labels"], a["annotations"], a["generatorURL"]))
        .collect()
}

fn assert_same(what: &str, reference: &BTreeSet<String>, ours: &BTreeSet<String>) {
    let missing: Vec<_> = reference.difference(ours).collect();
    let extra: Vec<_> = ours.difference(reference).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what} differ\nonly in prometheus: {missing:#?}\nonly in oxeye: {extra:#?}"
    );
}

fn alert_count(set: &BTreeSet<String>, needle: &str) -> usize {
    set.iter().filter(|s| s.contains(needle)).count()
}

#[test]
fn prometheus_and_oxeye_agree_on_rules_and_alerts() {
    let prometheus = require_binary("/usr/bin/prometheus");
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start(BODY_HOT);
    let am_prom = start_alertmanager(&dir.path().join("am-prometheus"));
    let am_ox = start_alertmanager(&dir.path().join("am-oxeye"));

    let prom_dir = dir.path().join("prometheus");
    write_server_dir(&prom_dir, &server_config(&target.address(), am_prom.port));
    let prom_port = free_port();
    let prom_log = std::fs::File::create(prom_dir.join("prometheus.log")).unwrap();
    let _prom = ProcessGuard {
        child: Command::new(prometheus)
            .arg(format!("--config.file={}", prom_dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", prom_dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg(format!("--web.external-url={EXTERNAL_URL}"))
            .stdout(Stdio::null())
            .stderr(prom_log)
            .spawn()
            .expect("start prometheus"),
        name: "prometheus".into(),
    };
    let prom = format!("http://127.0.0.1:{prom_port}");

    let ox_dir = dir.path().join("oxeye");
    write_server_dir(&ox_dir, &server_config(&target.address(), am_ox.port));
    let ox = Oxeye::start_with(
        &ox_dir,
        &ox_dir.join("prometheus.yml"),
        free_port(),
        &[&format!("--web.external-url={EXTERNAL_URL}")],
    );
    wait_for("prometheus to become ready", Duration::from_secs(60), || {
        http_get(&format!("{prom}/-/ready")).ok().filter(|(c, _)| *c == 200)
    });

    // Phase 1: rooms a and c are hot. Wait until both servers fire the sustained alert for both
    // rooms (it needs `for: 3s`) and both Alertmanagers hold every firing alert.
    for (name, base) in [("prometheus", &prom), ("oxeye", &ox.base)] {
        wait_for(&format!("{name} to fire every alert"), Duration::from_secs(60), || {
            let a = api_alerts(base);
            (alert_count(&a, "\"RoomTooHotSustained\"") == 2
                && alert_count(&a, "state=\"firing\"") == 5
                && a.len() == 5)
                .then_some(())
        });
    }
    assert_same("/api/v1/alerts", &api_alerts(&prom), &api_alerts(&ox.base));
    for expr in ["room:demo_temperature_celsius:max", "job:demo_rooms:count", "ALERTS"] {
        assert_same(&format!("query {expr}"), &query_set(&prom, expr), &query_set(&ox.base, expr));
    }
    assert_same(
        "ALERTS_FOR_STATE series",
        &query_labels(&prom, "ALERTS_FOR_STATE"),
        &query_labels(&ox.base, "ALERTS_FOR_STATE"),
    );
    assert_same("/api/v1/rules", &api_rules(&prom), &api_rules(&ox.base));
    for (name, am) in [("prometheus", &am_prom), ("oxeye", &am_ox)] {
        wait_for(&format!("{name}'s alertmanager to hold 5 alerts"), Duration::from_secs(30), || {
            (amtool_alerts(am).len() == 5).then_some(())
        });
    }
    let reference = amtool_alerts(&am_prom);
    assert_same("alerts in alertmanager", &reference, &amtool_alerts(&am_ox));
    println!("rules differential: {} alerts agree in /api/v1/alerts and in alertmanager", reference.len());

    // Phase 2: room a cools down. Its two alerts resolve on both servers; the resolved
    // notifications end them in both Alertmanagers.
    target.set_body(BODY_A_COOLED);
    for (name, base) in [("prometheus", &prom), ("oxeye", &ox.base)] {
        wait_for(&format!("{name} to resolve room a"), Duration::from_secs(30), || {
            (api_alerts(base).len() == 3).then_some(())
        });
    }
    assert_same("/api/v1/alerts after resolution", &api_alerts(&prom), &api_alerts(&ox.base));
    for (name, am) in [("prometheus", &am_prom), ("oxeye", &am_ox)] {
        wait_for(&format!("{name}'s alertmanager to end room a's alerts"), Duration::from_secs(30), || {
            (amtool_alerts(am).len() == 3).then_some(())
        });
    }
    assert_same("alerts in alertmanager after resolution", &amtool_alerts(&am_prom), &amtool_alerts(&am_ox));
    // The recording group runs on its own phase in each server, so one may still hold room a's
    // old maximum for up to an evaluation interval: compare once both have evaluated since.
    for expr in ["room:demo_temperature_celsius:max", "ALERTS"] {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while query_set(&prom, expr) != query_set(&ox.base, expr) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_same(&format!("query {expr} after resolution"), &query_set(&prom, expr), &query_set(&ox.base, expr));
    }
    println!("rules differential: resolution agrees (3 alerts left in both)");
}
