//! The notifier end to end: an in-process Alertmanager stand-in (axum on 127.0.0.1:0) records
//! every request, and the tests check what a user of Prometheus would see: the request shape,
//! batching, labels, errors, queue overflow, discovery changes, draining; and, when the Debian
//! package is installed, a round trip through a real Alertmanager 0.25.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use oxeye_model::{Alert, Labels};
use oxeye_notifier::{Notifier, NotifierOptions};
use parking_lot::Mutex;

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    content_type: String,
    authorization: String,
    body: serde_json::Value,
}

impl Recorded {
    fn alertnames(&self) -> Vec<String> {
        self.body
            .as_array()
            .map(|a| a.iter().map(|x| x["labels"]["alertname"].as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    }
}

/// An Alertmanager stand-in answering every request with `status`.
struct Receiver {
    addr: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (reqs, st) = (requests.clone(), status.clone());
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (reqs, st) = (reqs.clone(), st.clone());
            async move {
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                reqs.lock().push(Recorded {
                    method,
                    path: uri.path().to_string(),
                    content_type: header("content-type"),
                    authorization: header("authorization"),
                    body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                });
                StatusCode::from_u16(st.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, requests, status }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().clone()
    }

    /// Waits until `n` requests arrived (or 10 s passed) and returns them.
    async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        wait_until(|| self.requests.lock().len() >= n).await;
        self.requests()
    }
}

async fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

fn alert(name: &str, extra: &[(&str, &str)]) -> Alert {
    let mut pairs = vec![("alertname", name)];
    pairs.extend_from_slice(extra);
    Alert {
        labels: Labels::from_pairs(pairs),
        annotations: Labels::from_pairs([("summary", format!("{name} fired"))]),
        starts_at: 1_700_000_000_000,
        ends_at: None,
        generator_url: format!("http://oxeye/graph?g0.expr={name}"),
    }
}

fn notifier(yaml: &str, opts: NotifierOptions) -> Arc<Notifier> {
    let cfg = oxeye_config::load_str(yaml, "test.yml").unwrap();
    let n = Arc::new(Notifier::new(opts));
    n.apply_config(&cfg).unwrap();
    n
}

fn metrics_text(n: &Notifier) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    n.register_metrics(&mut registry);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
    out
}

/// The value of the series whose line starts with `series` (`name{labels}`).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_v2_json_with_auth_labels_and_relabeling() {
    let a = Receiver::start().await;
    let b = Receiver::start().await;
    let yaml = format!(
        "global:
  external_labels:
    cluster: c1
    replica: r1
alerting:
  alert_relabel_configs:
    - source_labels: [severity]
      regex: debug
      action: drop
  alertmanagers:
    - path_prefix: /am/
      basic_auth:
        username: user
        password: pass
      static_configs:
        - targets: ['{}']
    - authorization:
        credentials: tok
      alert_relabel_configs:
        - source_labels: [alertname]
          regex: B
          action: drop
      static_configs:
        - targets: ['{}']
",
        a.addr, b.addr
    );
    let n = notifier(&yaml, NotifierOptions::default());
    assert_eq!(
        n.alertmanagers(),
        (vec![format!("http://{}/am/api/v2/alerts", a.addr), format!("http://{}/api/v2/alerts", b.addr)], vec![])
    );
    let mut resolved = alert("B", &[("replica", "own")]);
    resolved.ends_at = Some(1_700_000_060_000);
    n.send(vec![alert("A", &[]), resolved, alert("Debug", &[("severity", "debug")])]);
    tokio::spawn(n.clone().run());

    let got = a.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!((r.method.clone(), r.path.as_str()), (Method::POST, "/am/api/v2/alerts"));
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.authorization, "Basic dXNlcjpwYXNz");
    assert_eq!(
        r.body,
        serde_json::json!([
            {
                "labels": {"alertname": "A", "cluster": "c1", "replica": "r1"},
                "annotations": {"summary": "A fired"},
                "startsAt": "2023-11-14T22:13:20.000Z",
                "generatorURL": "http://oxeye/graph?g0.expr=A"
            },
            {
                "labels": {"alertname": "B", "cluster": "c1", "replica": "own"},
                "annotations": {"summary": "B fired"},
                "startsAt": "2023-11-14T22:13:20.000Z",
                "endsAt": "2023-11-14T22:14:20.000Z",
                "generatorURL": "http://oxeye/graph?g0.expr=B"
            }
        ])
    );
    // The second set has its own alert relabeling, and bearer authorization.
    let got = b.wait_for(1).await;
    assert_eq!(got[0].authorization, "Bearer tok");
    assert_eq!(got[0].alertnames(), ["A"]);

    let text = metrics_text(&n);
    let sent_a = format!("prometheus_notifications_sent_total{{alertmanager=\"http://{}/am/api/v2/alerts\"}}", a.addr);
    let sent_b = format!("prometheus_notifications_sent_total{{alertmanager=\"http://{}/api/v2/alerts\"}}", b.addr);
    let both_counted = || {
        let t = metrics_text(&n);
        metric(&t, &sent_a) == Some(2.0) && metric(&t, &sent_b) == Some(1.0)
    };
    assert!(wait_until(both_counted).await, "{text}");
    let text = metrics_text(&n);
    assert_eq!(metric(&text, "prometheus_notifications_alertmanagers_discovered"), Some(2.0), "{text}");
    assert_eq!(metric(&text, "prometheus_notifications_queue_capacity"), Some(10000.0), "{text}");
    assert_eq!(metric(&text, "prometheus_notifications_dropped_total"), Some(0.0), "{text}");
    assert!(text.contains("# TYPE prometheus_notifications_latency_seconds histogram"), "{text}");
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_go_out_in_batches_of_64() {
    let a = Receiver::start().await;
    let n = notifier(
        &format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n", a.addr),
        NotifierOptions::default(),
    );
    n.send((0..150).map(|i| alert(&format!("a{i}"), &[])).collect());
    assert_eq!(n.queue_length(), 150);
    tokio::spawn(n.clone().run());
    let got = a.wait_for(3).await;
    let sizes: Vec<usize> = got.iter().map(|r| r.alertnames().len()).collect();
    assert_eq!(sizes, [64, 64, 22]);
    // Order is kept across batches.
    let names: Vec<String> = got.iter().flat_map(|r| r.alertnames()).collect();
    assert_eq!(names, (0..150).map(|i| format!("a{i}")).collect::<Vec<_>>());
    assert!(wait_until(|| n.queue_length() == 0).await);
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_alertmanagers_count_errors_and_drops() {
    let bad = Receiver::start().await;
    bad.status.store(500, Ordering::SeqCst);
    let good = Receiver::start().await;
    // Set 0 has only the failing Alertmanager; set 1 has a failing and a working one.
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{bad}']\n    - path_prefix: /two\n      static_configs:\n        - targets: ['{bad}', '{good}']\n",
        bad = bad.addr,
        good = good.addr
    );
    let n = notifier(&yaml, NotifierOptions::default());
    tokio::spawn(n.clone().run());
    n.send(vec![alert("A", &[]), alert("B", &[])]);
    bad.wait_for(2).await;
    good.wait_for(1).await;
    let url0 = format!("http://{}/api/v2/alerts", bad.addr);
    let errors0 = format!("prometheus_notifications_errors_total{{alertmanager=\"{url0}\"}}");
    // A set without any accepting Alertmanager makes the batch count as dropped.
    assert!(wait_until(|| metric(&metrics_text(&n), "prometheus_notifications_dropped_total") == Some(2.0)).await);
    let text = metrics_text(&n);
    assert_eq!(metric(&text, &errors0), Some(2.0), "{text}");
    let errors1 =
        format!("prometheus_notifications_errors_total{{alertmanager=\"http://{}/two/api/v2/alerts\"}}", bad.addr);
    assert_eq!(metric(&text, &errors1), Some(2.0), "{text}");
    let good_errors =
        format!("prometheus_notifications_errors_total{{alertmanager=\"http://{}/two/api/v2/alerts\"}}", good.addr);
    assert_eq!(metric(&text, &good_errors), Some(0.0), "{text}");
    assert_eq!(
        metric(&text, &format!("prometheus_notifications_sent_total{{alertmanager=\"{url0}\"}}")),
        Some(2.0),
        "{text}"
    );
    n.stop().await;

    // With only the mixed set, one accepting Alertmanager is enough: nothing is dropped.
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}', '{}']\n",
        bad.addr, good.addr
    );
    let n = notifier(&yaml, NotifierOptions::default());
    tokio::spawn(n.clone().run());
    n.send(vec![alert("C", &[])]);
    good.wait_for(2).await;
    let err_series = format!("prometheus_notifications_errors_total{{alertmanager=\"{url0}\"}}");
    assert!(wait_until(|| metric(&metrics_text(&n), &err_series) == Some(1.0)).await);
    assert_eq!(metric(&metrics_text(&n), "prometheus_notifications_dropped_total"), Some(0.0));
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_oldest_alerts() {
    let a = Receiver::start().await;
    let n = notifier(
        &format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n", a.addr),
        NotifierOptions { queue_capacity: 5, drain_on_shutdown: true },
    );
    n.send((0..3).map(|i| alert(&format!("a{i}"), &[])).collect());
    n.send((3..7).map(|i| alert(&format!("a{i}"), &[])).collect());
    assert_eq!(n.queue_length(), 5);
    // A single call larger than the queue keeps only its newest alerts.
    let text = metrics_text(&n);
    assert_eq!(metric(&text, "prometheus_notifications_dropped_total"), Some(2.0), "{text}");
    assert_eq!(metric(&text, "prometheus_notifications_queue_length"), Some(5.0), "{text}");
    assert_eq!(metric(&text, "prometheus_notifications_queue_capacity"), Some(5.0), "{text}");
    tokio::spawn(n.clone().run());
    let got = a.wait_for(1).await;
    assert_eq!(got[0].alertnames(), ["a2", "a3", "a4", "a5", "a6"]);
    n.stop().await;

    let n = notifier("", NotifierOptions { queue_capacity: 2, drain_on_shutdown: false });
    n.send((0..5).map(|i| alert(&format!("b{i}"), &[])).collect());
    assert_eq!(n.queue_length(), 2);
    assert_eq!(metric(&metrics_text(&n), "prometheus_notifications_dropped_total"), Some(3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_changes_are_picked_up_and_relabeling_drops_alertmanagers() {
    let first = Receiver::start().await;
    let second = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("am.json");
    let write = |addrs: &[&str]| {
        let targets: Vec<String> = addrs.iter().map(|a| format!("{a:?}")).collect();
        let tmp = dir.path().join("am.json.tmp");
        std::fs::write(&tmp, format!("[{{\"targets\": [{}], \"labels\": {{\"env\": \"prod\"}}}}]", targets.join(",")))
            .unwrap();
        std::fs::rename(&tmp, &sd).unwrap();
    };
    write(&[&first.addr, "dropped.example:9093"]);
    let yaml = format!(
        "alerting:
  alertmanagers:
    - file_sd_configs:
        - files: ['{}']
      relabel_configs:
        - source_labels: [__address__]
          regex: 'dropped.*'
          action: drop
",
        sd.display()
    );
    let n = notifier(&yaml, NotifierOptions::default());
    tokio::spawn(n.clone().run());
    let (active, dropped) = n.alertmanagers();
    assert_eq!(active, [format!("http://{}/api/v2/alerts", first.addr)]);
    assert_eq!(dropped, ["http://dropped.example:9093/api/v2/alerts"]);
    n.send(vec![alert("One", &[])]);
    assert_eq!(first.wait_for(1).await[0].alertnames(), ["One"]);

    // The same Alertmanager listed twice is sent to once.
    write(&[&second.addr, &second.addr]);
    let want = format!("http://{}/api/v2/alerts", second.addr);
    assert!(wait_until(|| n.alertmanagers().0 == [want.clone()]).await, "{:?}", n.alertmanagers());
    n.send(vec![alert("Two", &[])]);
    assert_eq!(second.wait_for(1).await[0].alertnames(), ["Two"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(first.requests().len(), 1);
    assert_eq!(second.requests().len(), 1);
    let text = metrics_text(&n);
    assert_eq!(metric(&text, "prometheus_notifications_alertmanagers_discovered"), Some(1.0), "{text}");
    // The series of the Alertmanager that went away are removed.
    assert!(!text.contains(&first.addr), "{text}");
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_the_queue() {
    let a = Receiver::start().await;
    let n = notifier(
        &format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n", a.addr),
        NotifierOptions::default(),
    );
    let handle = tokio::spawn(n.clone().run());
    tokio::time::sleep(Duration::from_millis(50)).await;
    n.send((0..200).map(|i| alert(&format!("a{i}"), &[])).collect());
    n.stop().await;
    assert!(handle.is_finished() || tokio::time::timeout(Duration::from_secs(1), handle).await.is_ok());
    let names: usize = a.requests().iter().map(|r| r.alertnames().len()).sum();
    assert_eq!(names, 200);
    assert_eq!(n.queue_length(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_reload_keeps_the_old_config() {
    let a = Receiver::start().await;
    let n = notifier(
        &format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n", a.addr),
        NotifierOptions::default(),
    );
    let before = n.alertmanagers();
    let bad = oxeye_config::load_str(
        "alerting:\n  alertmanagers:\n    - tls_config:\n        ca_file: /nonexistent/ca.pem\n      static_configs:\n        - targets: ['x:1']\n",
        "t.yml",
    )
    .unwrap();
    let err = n.apply_config(&bad).unwrap_err();
    assert!(err.to_string().contains("config-0") && err.to_string().contains("ca_file"), "{err}");
    assert_eq!(n.alertmanagers(), before);
    // Removing the block stops sending.
    n.apply_config(&oxeye_config::load_str("", "t.yml").unwrap()).unwrap();
    assert_eq!(n.alertmanagers(), (vec![], vec![]));
    assert_eq!(metric(&metrics_text(&n), "prometheus_notifications_alertmanagers_discovered"), Some(0.0));
}

/// Kills the Alertmanager process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_a_real_alertmanager() {
    let bin = std::path::Path::new("/usr/bin/prometheus-alertmanager");
    if !bin.exists() {
        println!("NOTICE: {} not found (Debian package prometheus-alertmanager); test skipped", bin.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(&cfg, "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let child = std::process::Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child);
    let http = reqwest::Client::new();
    let ready = format!("http://{addr}/-/ready");
    let mut up = false;
    for _ in 0..100 {
        if http.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "alertmanager did not become ready on {addr}");

    let n = notifier(
        &format!(
            "global:\n  external_labels:\n    cluster: c1\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{addr}']\n"
        ),
        NotifierOptions::default(),
    );
    tokio::spawn(n.clone().run());
    let now = chrono::Utc::now().timestamp_millis();
    let mut firing = alert("OxeyeFiring", &[("severity", "page")]);
    firing.starts_at = now - 60_000;
    firing.ends_at = Some(now + 3_600_000);
    n.send(vec![firing]);

    let url = format!("http://{addr}/api/v2/alerts");
    let mut found = None;
    for _ in 0..100 {
        let body = http.get(&url).send().await.unwrap().bytes().await.unwrap_or_default();
        let alerts: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        if let Some(a) = alerts.as_array().and_then(|a| a.iter().find(|x| x["labels"]["alertname"] == "OxeyeFiring")) {
            found = Some(a.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a = found.expect("alert not found in Alertmanager");
    assert_eq!(a["labels"]["cluster"], "c1");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["annotations"]["summary"], "OxeyeFiring fired");
    assert_eq!(a["generatorURL"], "http://oxeye/graph?g0.expr=OxeyeFiring");
    assert_eq!(a["status"]["state"], "active");
    let sent = format!("prometheus_notifications_sent_total{{alertmanager=\"{url}\"}}");
    assert!(wait_until(|| metric(&metrics_text(&n), &sent) == Some(1.0)).await, "{}", metrics_text(&n));
    println!("real Alertmanager 0.25 accepted the alert: {a}");
    n.stop().await;
}
