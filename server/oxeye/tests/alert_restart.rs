//! An alert with `for: 5m` that is firing stays firing across an Oxeye restart, through
//! Prometheus's `for`-state restoration from the `ALERTS_FOR_STATE` series.
//!
//! Reaching "firing" for real takes five minutes of evaluation; the test stands in for that
//! earlier run by writing the `ALERTS_FOR_STATE` samples such a run leaves behind (active since
//! seven minutes ago, last written ten seconds ago) into the data directory before the first
//! start. From then on everything is real: the first Oxeye restores the state and fires, is
//! stopped, and the second one, reading only what the first wrote, must fire again with the
//! same `activeAt` instead of starting a new five-minute pending period.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use oxeye_model::{Appendable, Labels};
use serde_json::Value;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The single `Sustained` alert from `/api/v1/alerts`, if any.
fn sustained(base: &str) -> Option<Value> {
    let v = api_json(base, "/api/v1/alerts");
    v["data"]["alerts"].as_array()?.iter().find(|a| a["labels"]["alertname"] == "Sustained").cloned()
}

fn stop(ox: &mut Oxeye) {
    let pid = ox.guard.child.id().to_string();
    let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
    wait_for("oxeye to stop", Duration::from_secs(30), || ox.guard.child.try_wait().ok().flatten());
}

#[test]
fn firing_alert_with_for_5m_stays_firing_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start("demo_temperature_celsius{room=\"a\"} 30\n");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: restart\n    rules:\n      - alert: Sustained\n        expr: demo_temperature_celsius > 25\n        for: 5m\n        labels:\n          severity: page\n",
    )
    .unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{}']\n",
        target.address()
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, &config).unwrap();

    // What five minutes of an earlier run would have left: ALERTS_FOR_STATE every 15s.
    let active_since_s = (now_ms() - 7 * 60_000) / 1000;
    {
        let db = oxeye_tsdb::Db::open(&dir.path().join("data"), oxeye_tsdb::Options::default()).unwrap();
        let labels = Labels::from_pairs([
            ("__name__", "ALERTS_FOR_STATE"),
            ("alertname", "Sustained"),
            ("instance", target.address().as_str()),
            ("job", "demo"),
            ("room", "a"),
            ("severity", "page"),
        ]);
        let mut app = db.appender();
        let mut t = active_since_s * 1000;
        while t < now_ms() - 10_000 {
            app.append(None, &labels, t, active_since_s as f64).unwrap();
            t += 15_000;
        }
        app.commit().unwrap();
        db.close().unwrap();
    }

    let port = free_port();
    let args = ["--rules.alert.for-grace-period=1m"];
    let mut ox = Oxeye::start_with(dir.path(), &config_path, port, &args);
    let first = wait_for("the restored alert to fire", Duration::from_secs(30), || {
        sustained(&ox.base).filter(|a| a["state"] == "firing")
    });
    let active_at = first["activeAt"].as_str().unwrap().to_string();
    let expected_prefix = chrono_like_utc(active_since_s);
    assert!(active_at.starts_with(&expected_prefix), "activeAt {active_at} should be the restored {expected_prefix}");

    // Let the first run write its own ALERTS_FOR_STATE samples, then restart.
    std::thread::sleep(Duration::from_secs(2));
    stop(&mut ox);
    let ox2 = Oxeye::start_with(dir.path(), &config_path, port, &args);
    let again = wait_for("the alert to fire again after the restart", Duration::from_secs(30), || {
        sustained(&ox2.base).filter(|a| a["state"] == "firing")
    });
    assert_eq!(again["activeAt"].as_str().unwrap(), active_at, "activeAt must survive the restart");
    assert_eq!(again["labels"]["severity"], "page");
    println!("alert restart: Sustained (for: 5m) firing before and after the restart, activeAt {active_at}");
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time in UTC, the start of an RFC 3339 `activeAt`.
fn chrono_like_utc(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()).unwrap_or_default()
}
