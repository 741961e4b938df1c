//! Differential test: Debian's prometheus-node-exporter is scraped by Prometheus 2.42 and by
//! oxeye with the same config; both must store the same series (name + labels) with the same
//! values. The node exporter's output is captured once (in both exposition formats) and served
//! to both servers, so that "the same scrape" has one well-defined content even though the two
//! servers scrape at different instants. A second job does the same with an OpenMetrics body
//! (Prometheus 2.42's own /metrics, since node exporter 1.5 only speaks the text format).

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn fetch(url: &str, accept: &str) -> (String, String) {
    let resp = reqwest::blocking::Client::new()
        .get(url)
        .header("Accept", accept)
        .timeout(Duration::from_secs(10))
        .send()
        .expect("scrape node exporter");
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (ct, resp.text().expect("node exporter body"))
}

/// Every series of `job` with its current value, keyed by the canonical label set. Prometheus
/// 3.x normalizes `le` / `quantile` values to float form on ingestion (`1` -> `1.0`) and 2.42
/// does not; the reference side is normalized the same way (docs/compatibility.md).
fn snapshot(base: &str, job: &str, normalize: bool) -> BTreeMap<String, String> {
    let v = api_json(base, &format!("/api/v1/query?query={}", url_encode(&format!("{{job=\"{job}\"}}"))));
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().expect("vector") {
        let mut labels: Vec<(String, String)> = s["metric"]
            .as_object()
            .expect("metric")
            .iter()
            .map(|(k, v)| {
                let mut val = v.as_str().unwrap_or("").to_string();
                if normalize && (k == "le" || k == "quantile") {
                    val = normalize_float_label(&val);
                }
                (k.clone(), val)
            })
            .collect();
        labels.sort();
        let key = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",");
        out.insert(key, s["value"][1].as_str().unwrap_or("").to_string());
    }
    out
}

/// Converts a text-format body to OpenMetrics 1.0: counter families are named without the
/// `_total` suffix their samples carry, counters whose samples lack it become `unknown`,
/// `untyped` becomes `unknown`, and the body ends with `# EOF`.
fn to_openmetrics(text: &str) -> String {
    let mut types = BTreeMap::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            if let (Some(n), Some(t)) = (it.next(), it.next()) {
                types.insert(n.to_string(), t.to_string());
            }
        }
    }
    let mut out = String::new();
    for l in text.lines() {
        if l.trim().is_empty() {
            continue;
        }
        for prefix in ["# HELP ", "# TYPE "] {
            if let Some(rest) = l.strip_prefix(prefix) {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let typ = types.get(name).map(String::as_str).unwrap_or("untyped");
                let (name, typ) = match typ {
                    "counter" => match name.strip_suffix("_total") {
                        Some(base) => (base, "counter"),
                        None => (name, "unknown"),
                    },
                    "untyped" => (name, "unknown"),
                    t => (name, t),
                };
                let tail = if prefix == "# TYPE " { typ } else { tail };
                out.push_str(&format!("{prefix}{name} {tail}\n"));
            }
        }
        if !l.starts_with('#') {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("# EOF\n");
    out
}

fn normalize_float_label(v: &str) -> String {
    match v.parse::<f64>() {
        Ok(f) if f.is_infinite() => {
            if f > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            }
        }
        Ok(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        Ok(f) => format!("{f}"),
        Err(_) => v.to_string(),
    }
}

#[test]
fn oxeye_and_prometheus_store_the_same_node_exporter_series() {
    let node_exporter = require_binary("/usr/bin/prometheus-node-exporter");
    let prometheus = require_binary("/usr/bin/prometheus");
    let dir = tempfile::tempdir().unwrap();

    let ne_port = free_port();
    let _ne = ProcessGuard {
        child: Command::new(node_exporter)
            .arg(format!("--web.listen-address=127.0.0.1:{ne_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node exporter"),
        name: "node-exporter".into(),
    };
    let ne_url = format!("http://127.0.0.1:{ne_port}/metrics");
    wait_for("node exporter", Duration::from_secs(20), || http_get(&ne_url).ok().filter(|(c, _)| *c == 200));

    let (text_ct, text_body) = fetch(&ne_url, "text/plain;version=0.0.4");
    assert!(text_body.lines().count() > 300, "node exporter exposed too little: {}", text_body.len());
    let text_target = StaticTarget::start(&text_body);
    *text_target.content_type.lock().unwrap() = text_ct;
    // Node exporter 1.5 (and Debian's Prometheus 2.42) only speak the text format, so the
    // OpenMetrics job serves the same snapshot converted to OpenMetrics 1.0.
    let om_target = StaticTarget::start(&to_openmetrics(&text_body));
    *om_target.content_type.lock().unwrap() = "application/openmetrics-text; version=1.0.0; charset=utf-8".into();

    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{}']\n  - job_name: node_om\n    static_configs:\n      - targets: ['{}']\n",
        text_target.address(),
        om_target.address()
    );
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    std::fs::write(prom_dir.join("prometheus.yml"), &cfg).unwrap();
    let prom_port = free_port();
    let _prom = ProcessGuard {
        child: Command::new(prometheus)
            .arg(format!("--config.file={}", prom_dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", prom_dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
        name: "prometheus".into(),
    };
    let prom_base = format!("http://127.0.0.1:{prom_port}");
    // Prometheus may still be opening its TSDB when Oxeye is ready; queries wait for it.
    wait_for("prometheus to become ready", Duration::from_secs(60), || {
        http_get(&format!("{prom_base}/-/ready")).ok().filter(|(c, _)| *c == 200)
    });
    let ox_dir = dir.path().join("oxeye");
    std::fs::create_dir_all(&ox_dir).unwrap();
    let ox = Oxeye::start(&ox_dir, &cfg, &[]);

    for job in ["node", "node_om"] {
        let ready = |base: &str| {
            let v =
                api_json(base, &format!("/api/v1/query?query={}", url_encode(&format!("up{{job=\"{job}\"}} == 1"))));
            v["data"]["result"].as_array().is_some_and(|a| a.len() == 1)
        };
        wait_for("both servers to scrape", Duration::from_secs(60), || {
            (ready(&prom_base) && ready(&ox.base)).then_some(())
        });
    }
    // Two more scrape rounds so both hold a settled latest sample.
    std::thread::sleep(Duration::from_millis(2500));

    for job in ["node", "node_om"] {
        let mut reference = snapshot(&prom_base, job, true);
        let mut ours = snapshot(&ox.base, job, false);
        // Per-scrape timing series legitimately differ between two servers.
        for m in [&mut reference, &mut ours] {
            m.retain(|k, _| !k.contains("__name__=\"scrape_duration_seconds\""));
            m.retain(|k, _| !k.contains("__name__=\"scrape_series_added\""));
        }
        let ref_keys: Vec<&String> = reference.keys().collect();
        let our_keys: Vec<&String> = ours.keys().collect();
        let missing: Vec<_> = ref_keys.iter().filter(|k| !ours.contains_key(**k)).take(10).collect();
        let extra: Vec<_> = our_keys.iter().filter(|k| !reference.contains_key(**k)).take(10).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "job {job}: series differ ({} reference, {} oxeye)\nmissing in oxeye: {missing:#?}\nonly in oxeye: {extra:#?}",
            reference.len(),
            ours.len()
        );
        let mut diffs = Vec::new();
        for (k, v) in &reference {
            let o = &ours[k];
            let same = v == o || v.parse::<f64>().ok().zip(o.parse::<f64>().ok()).is_some_and(|(a, b)| a == b);
            if !same {
                diffs.push(format!("{k}: prometheus {v} oxeye {o}"));
            }
        }
        assert!(
            diffs.is_empty(),
            "job {job}: {} values differ, first: {:#?}",
            diffs.len(),
            &diffs[..diffs.len().min(10)]
        );
        println!("node exporter differential ({job}): {} series identical in name, labels and value", reference.len());
    }
}
