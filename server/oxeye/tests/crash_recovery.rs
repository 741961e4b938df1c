//! Server-level crash safety: oxeye is killed with SIGKILL while it ingests, restarted on the same
//! data directory, and every sample a query had already returned before the kill is still there.

mod common;

use std::time::Duration;

use common::*;

fn count_up_samples(ox: &Oxeye) -> Option<u64> {
    let v = ox.query("count_over_time(up{job=\"crash\"}[1h])");
    v["data"]["result"].as_array()?.first()?["value"][1].as_str()?.parse().ok()
}

#[test]
fn samples_survive_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let target = StaticTarget::start(&(0..500).map(|i| format!("crash_metric{{i=\"{i}\"}} {i}\n")).collect::<String>());
    let cfg = format!(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: crash\n    static_configs:\n      - targets: ['{}']\n",
        target.address()
    );
    let mut ox = Oxeye::start(dir.path(), &cfg, &[]);
    let port = ox.port;
    let mut seen = 0;
    for round in 0..3 {
        // Let it ingest, read what is committed, then kill it mid-ingestion.
        let target_count = seen + 5;
        seen = wait_for("samples to be committed", Duration::from_secs(30), || {
            count_up_samples(&ox).filter(|n| *n >= target_count)
        });
        std::thread::sleep(Duration::from_millis(137 * (round + 1)));
        ox.guard.kill9();
        ox = Oxeye::start_with(dir.path(), &ox.config_path.clone(), port, &[]);
        let after = count_up_samples(&ox).unwrap_or(0);
        assert!(after >= seen, "round {round}: {seen} samples were visible before kill -9, {after} after restart");
        let v = ox.query("count(crash_metric)");
        assert_eq!(v["data"]["result"][0]["value"][1], "500", "round {round}: series lost: {v}");
    }
}
