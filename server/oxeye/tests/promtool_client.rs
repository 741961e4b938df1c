//! Drives a running oxeye with Debian's `promtool query instant|range|series|labels`, a real
//! Prometheus API client, and checks what it prints.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const BODY: &str = "# HELP demo_requests_total Requests served.
# TYPE demo_requests_total counter
demo_requests_total{code=\"200\",method=\"get\"} 10
demo_requests_total{code=\"500\",method=\"get\"} 2
# HELP demo_temperature_celsius Room temperature.
# TYPE demo_temperature_celsius gauge
demo_temperature_celsius{room=\"a\"} 21.5
";

fn promtool(args: &[&str]) -> (bool, String) {
    let bin = require_binary("/usr/bin/promtool");
    let out = Command::new(bin).args(args).output().expect("run promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn promtool_queries_a_running_oxeye() {
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start(BODY);
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{}']\n",
        target.address()
    );
    let ox = Oxeye::start(dir.path(), &cfg, &[]);
    wait_for("first scrape of the demo target", Duration::from_secs(20), || {
        let r = ox.query("demo_temperature_celsius");
        (r["data"]["result"].as_array().is_some_and(|a| !a.is_empty())).then_some(())
    });
    let url = ox.base.as_str();

    let (ok, out) = promtool(&["query", "instant", url, "demo_temperature_celsius"]);
    assert!(ok, "promtool query instant failed: {out}");
    assert!(out.contains("demo_temperature_celsius{"), "{out}");
    assert!(out.contains(&format!("instance=\"{}\"", target.address())), "{out}");
    assert!(out.contains("=> 21.5 @["), "{out}");

    let (ok, out) = promtool(&["query", "instant", url, "sum by (method) (demo_requests_total)"]);
    assert!(ok, "{out}");
    assert!(out.contains("{method=\"get\"} => 12 @["), "{out}");

    // The range must end after the first scrape; `now` is truncated to whole seconds.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let now = chrono_now_secs();
    let (ok, out) = promtool(&[
        "query",
        "range",
        &format!("--start={}", now - 30),
        &format!("--end={now}"),
        "--step=1s",
        url,
        "sum(demo_requests_total)",
    ]);
    assert!(ok, "promtool query range failed: {out}");
    assert!(out.contains("{} =>"), "{out}");
    assert!(out.contains("12 @["), "{out}");

    let (ok, out) = promtool(&["query", "series", "--match=demo_requests_total", url]);
    assert!(ok, "promtool query series failed: {out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("demo_requests_total")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(out.contains("code=\"500\""), "{out}");

    let (ok, out) = promtool(&["query", "labels", url, "job"]);
    assert!(ok, "promtool query labels failed: {out}");
    assert!(out.lines().any(|l| l.trim() == "demo"), "{out}");

    let (ok, out) = promtool(&["query", "instant", url, "sum(("]);
    assert!(!ok, "a bad query must fail: {out}");
    assert!(out.contains("bad_data") || out.contains("parse error"), "{out}");
}

fn chrono_now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
