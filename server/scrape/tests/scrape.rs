//! End-to-end tests of scraping: real HTTP on 127.0.0.1 against a small fixed-response server,
//! `MemStorage` as the storage.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use oxeye_model::relabel::RelabelConfig;
use oxeye_model::storage::memory::MemStorage;
use oxeye_model::storage::{Appendable, Queryable};
use oxeye_model::{Labels, Matcher, Sample, is_stale_nan};
use oxeye_scrape::{
    BasicAuth, DiscoveryManager, FileSdConfig, Health, JobDiscovery, ScrapeJob, ScrapeManager, ScrapeOptions, Secret,
    TargetGroup,
};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
    gzip_if_accepted: bool,
    delay: Duration,
}

impl Reply {
    fn text(body: &str) -> Self {
        Reply {
            status: 200,
            content_type: Some("text/plain; version=0.0.4".into()),
            body: body.as_bytes().to_vec(),
            gzip_if_accepted: false,
            delay: Duration::ZERO,
        }
    }
}

struct Server {
    addr: String,
    reply: Arc<Mutex<Reply>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start(reply: Reply) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let reply = Arc::new(Mutex::new(reply));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (r, q) = (reply.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let (r, q) = (r.clone(), q.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    q.lock().push(head.clone());
                    let rep = r.lock().clone();
                    tokio::time::sleep(rep.delay).await;
                    let mut body = rep.body.clone();
                    let mut extra = String::new();
                    if rep.gzip_if_accepted && head.to_ascii_lowercase().contains("accept-encoding: gzip") {
                        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                        enc.write_all(&body).unwrap();
                        body = enc.finish().unwrap();
                        extra.push_str("Content-Encoding: gzip\r\n");
                    }
                    if let Some(ct) = &rep.content_type {
                        extra.push_str(&format!("Content-Type: {ct}\r\n"));
                    }
                    let head = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
                        rep.status,
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Server { addr, reply, requests }
    }

    fn set(&self, f: impl FnOnce(&mut Reply)) {
        f(&mut self.reply.lock());
    }
}

fn job(name: &str, addrs: &[&str]) -> ScrapeJob {
    let mut j = ScrapeJob::new(name);
    j.scrape_interval = Duration::from_millis(200);
    j.scrape_timeout = Duration::from_millis(150);
    j.discovery =
        JobDiscovery { static_groups: vec![TargetGroup::from_addresses("0", addrs, Labels::empty())], file_sd: vec![] };
    j
}

fn relabel(yaml: &str) -> Vec<RelabelConfig> {
    let mut v: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).unwrap();
    for c in &mut v {
        c.validate(Default::default()).unwrap();
    }
    v
}

struct Harness {
    storage: Arc<MemStorage>,
    manager: Arc<ScrapeManager>,
    discovery: Arc<DiscoveryManager>,
}

impl Harness {
    fn new() -> Harness {
        let storage = Arc::new(MemStorage::new());
        let dynamic: Arc<dyn Appendable> = storage.clone();
        let manager = Arc::new(ScrapeManager::new(dynamic, ScrapeOptions::default()));
        let discovery = Arc::new(DiscoveryManager::with_poll_interval(Duration::from_millis(250)));
        let (m, rx) = (manager.clone(), discovery.subscribe());
        tokio::spawn(async move { m.run(rx).await });
        Harness { storage, manager, discovery }
    }

    async fn apply(&self, jobs: Vec<ScrapeJob>) {
        self.discovery.apply_config(oxeye_scrape::config::discovery_config(&jobs)).unwrap();
        self.manager.apply_config(jobs).await.unwrap();
    }

    fn series(&self, matchers: &[(&str, &str)]) -> Vec<(Labels, Vec<Sample>)> {
        let m: Vec<Matcher> = matchers.iter().map(|(n, v)| Matcher::equal(*n, *v)).collect();
        self.storage.select(i64::MIN, i64::MAX, &m).unwrap().into_iter().map(|s| (s.labels, s.samples)).collect()
    }

    fn last(&self, name: &str) -> Option<f64> {
        self.series(&[("__name__", name)]).first().and_then(|s| s.1.last().map(|x| x.v))
    }

    async fn wait_for(&self, what: &str, mut f: impl FnMut(&Harness) -> bool) {
        // Generous: CI machines are loaded; a wait that ends early costs nothing.
        for _ in 0..800 {
            if f(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("timed out waiting for {what}; targets: {:?}", self.manager.targets().0);
    }

    fn health(&self) -> Vec<(Health, String)> {
        self.manager.targets().0.into_iter().map(|t| (t.health, t.last_error)).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_series_and_target_labels() {
    let srv = Server::start(Reply::text("# HELP a The a.\n# TYPE a gauge\na 1\nb{x=\"y\"} 2\n")).await;
    let h = Harness::new();
    h.apply(vec![job("test", &[&srv.addr])]).await;
    h.wait_for("up", |h| h.last("up") == Some(1.0)).await;
    let a = h.series(&[("__name__", "a")]);
    assert_eq!(a[0].0.to_string(), format!(r#"{{__name__="a", instance="{}", job="test"}}"#, srv.addr));
    let up = h.series(&[("__name__", "up")]);
    assert_eq!(up[0].0.get("instance"), srv.addr);
    // Report samples carry the scrape's timestamp.
    assert_eq!(up[0].1[0].t, a[0].1[0].t);
    assert_eq!(h.series(&[("__name__", "scrape_samples_scraped")])[0].1[0].v, 2.0);
    assert_eq!(h.series(&[("__name__", "scrape_samples_post_metric_relabeling")])[0].1[0].v, 2.0);
    assert_eq!(h.series(&[("__name__", "scrape_series_added")])[0].1[0].v, 2.0);
    assert!(h.last("scrape_duration_seconds").is_some());
    // Second scrape: nothing new.
    h.wait_for("second scrape", |h| h.series(&[("__name__", "scrape_series_added")])[0].1.len() >= 2).await;
    assert_eq!(h.series(&[("__name__", "scrape_series_added")])[0].1[1].v, 0.0);

    let (active, dropped) = h.manager.targets();
    assert!(dropped.is_empty());
    let t = &active[0];
    assert_eq!(t.health, Health::Up);
    assert_eq!(t.scrape_url, format!("http://{}/metrics", srv.addr));
    assert_eq!(t.scrape_pool, "test");
    assert_eq!(t.scrape_interval, "200ms");
    assert_eq!(t.discovered_labels.get("__address__"), srv.addr);
    assert!(t.last_scrape.is_some());

    let md = h.manager.targets_metadata(&[], Some("a"));
    assert_eq!(md.len(), 1);
    assert_eq!(md[0].metadata.help, "The a.");
    assert_eq!(md[0].metadata.metric_type.as_str(), "gauge");
    assert!(h.manager.metadata(None).contains_key("a"));

    let req = srv.requests.lock()[0].to_ascii_lowercase();
    assert!(req.contains("x-prometheus-scrape-timeout-seconds: 0.15"), "{req}");
    assert!(req.contains("accept: application/openmetrics-text;version=1.0.0"), "{req}");
    assert!(req.contains("accept-encoding: gzip"), "{req}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_series_and_failed_scrapes_get_staleness_markers() {
    let srv = Server::start(Reply::text("a 1\nb 2\n")).await;
    let h = Harness::new();
    h.apply(vec![job("test", &[&srv.addr])]).await;
    h.wait_for("b", |h| h.last("b") == Some(2.0)).await;
    srv.set(|r| r.body = b"a 1\n".to_vec());
    h.wait_for("b stale", |h| h.last("b").is_some_and(is_stale_nan)).await;
    assert_eq!(h.last("a"), Some(1.0));
    // A failing scrape marks the previous scrape's series stale and reports up=0.
    srv.set(|r| r.status = 500);
    h.wait_for("a stale", |h| h.last("a").is_some_and(is_stale_nan)).await;
    h.wait_for("down", |h| h.last("up") == Some(0.0)).await;
    let (health, err) = h.health().remove(0);
    assert_eq!(health, Health::Down);
    assert!(err.contains("server returned HTTP status 500"), "{err}");
    // Recovery.
    srv.set(|r| r.status = 200);
    h.wait_for("a back", |h| h.last("a") == Some(1.0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_target_gets_staleness_markers() {
    let s1 = Server::start(Reply::text("a 1\n")).await;
    let s2 = Server::start(Reply::text("other 1\n")).await;
    let h = Harness::new();
    h.apply(vec![job("test", &[&s1.addr, &s2.addr])]).await;
    h.wait_for("a", |h| h.last("a") == Some(1.0) && h.last("other") == Some(1.0)).await;
    h.apply(vec![job("test", &[&s2.addr])]).await;
    // The new target set reaches the pool through discovery, asynchronously as in Prometheus.
    h.wait_for("one target left", |h| h.manager.targets().0.len() == 1).await;
    // Markers come when the next two scrapes would have happened (+10%), like Prometheus.
    h.wait_for("a stale", |h| h.last("a").is_some_and(is_stale_nan)).await;
    let up = h.series(&[("__name__", "up"), ("instance", &s1.addr)]);
    assert!(up[0].1.last().is_some_and(|s| is_stale_nan(s.v)));
    assert_eq!(h.last("other"), Some(1.0));
    // Removing the whole job stops it and marks its series stale too.
    h.apply(vec![]).await;
    assert!(h.manager.targets().0.is_empty());
    h.wait_for("other stale", |h| h.last("other").is_some_and(is_stale_nan)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_labels_and_exported_prefix() {
    let srv = Server::start(Reply::text("m{job=\"scraped\",instance=\"i\",exported_job=\"e\"} 1\n")).await;
    let h = Harness::new();
    h.apply(vec![job("test", &[&srv.addr])]).await;
    h.wait_for("m", |h| h.last("m").is_some()).await;
    let l = &h.series(&[("__name__", "m")])[0].0;
    assert_eq!(l.get("job"), "test");
    assert_eq!(l.get("instance"), srv.addr);
    assert_eq!(l.get("exported_instance"), "i");
    assert_eq!(l.get("exported_job"), "e");
    // exported_job was taken, so the prefix repeats.
    assert_eq!(l.get("exported_exported_job"), "scraped");

    let h2 = Harness::new();
    let mut j = job("test", &[&srv.addr]);
    j.honor_labels = true;
    h2.apply(vec![j]).await;
    h2.wait_for("m", |h| h.last("m").is_some()).await;
    let l = &h2.series(&[("__name__", "m")])[0].0;
    assert_eq!(l.get("job"), "scraped");
    assert_eq!(l.get("instance"), "i");
    assert!(!l.has("exported_job") || l.get("exported_job") == "e");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_fail_the_scrape() {
    let srv = Server::start(Reply::text("a 1\nb 2\nc 3\n")).await;
    let h = Harness::new();
    let mut j = job("test", &[&srv.addr]);
    j.sample_limit = 2;
    h.apply(vec![j]).await;
    h.wait_for("down", |h| h.last("up") == Some(0.0)).await;
    assert_eq!(h.health()[0].1, "sample limit exceeded");
    assert!(h.series(&[("__name__", "a")]).is_empty(), "a rejected scrape appends nothing");
    assert_eq!(h.last("scrape_samples_scraped"), Some(3.0));

    let h = Harness::new();
    let mut j = job("test", &[&srv.addr]);
    j.body_size_limit = 5;
    h.apply(vec![j]).await;
    h.wait_for("down", |h| h.last("up") == Some(0.0)).await;
    assert_eq!(h.health()[0].1, "body size limit exceeded");
    assert!(h.series(&[("__name__", "a")]).is_empty());

    let h = Harness::new();
    let mut j = job("test", &[&srv.addr]);
    j.label_limit = 2;
    h.apply(vec![j]).await;
    h.wait_for("down", |h| h.last("up") == Some(0.0)).await;
    assert!(h.health()[0].1.starts_with("label_limit exceeded (metric: a, number of labels: 3, limit: 2)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_timeout_and_basic_auth() {
    let mut rep = Reply::text("a 1\n");
    rep.gzip_if_accepted = true;
    let srv = Server::start(rep).await;
    let h = Harness::new();
    let mut j = job("test", &[&srv.addr]);
    j.basic_auth = Some(BasicAuth { username: "user".into(), password: Some(Secret::Inline("pass".into())) });
    h.apply(vec![j]).await;
    h.wait_for("a", |h| h.last("a") == Some(1.0)).await;
    let req = srv.requests.lock()[0].to_ascii_lowercase();
    assert!(req.contains("authorization: basic dxnlcjpwyxnz"), "{req}");

    // Too slow: the scrape times out.
    srv.set(|r| r.delay = Duration::from_millis(400));
    h.wait_for("down", |h| h.last("up") == Some(0.0)).await;
    assert_eq!(h.health()[0].1, "context deadline exceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_content_type_needs_a_fallback() {
    let mut rep = Reply::text("a 1\n");
    rep.content_type = None;
    let srv = Server::start(rep).await;
    let h = Harness::new();
    h.apply(vec![job("test", &[&srv.addr])]).await;
    h.wait_for("down", |h| h.last("up") == Some(0.0)).await;
    assert!(h.health()[0].1.contains("blank Content-Type"));
    let mut j = job("test", &[&srv.addr]);
    j.fallback_format = Some(oxeye_textparse::Format::PrometheusText);
    h.apply(vec![j]).await;
    h.wait_for("a", |h| h.last("a") == Some(1.0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relabeling_drops_keeps_and_lists_dropped_targets() {
    let s1 = Server::start(Reply::text("a 1\nb 1\n")).await;
    let s2 = Server::start(Reply::text("a 2\n")).await;
    let h = Harness::new();
    let mut j = job("test", &[&s1.addr, &s2.addr]);
    j.relabel_configs = relabel(&format!(
        "- source_labels: [__address__]\n  regex: '{}'\n  action: drop\n- target_label: env\n  replacement: prod\n",
        regex::escape(&s2.addr)
    ));
    j.metric_relabel_configs = relabel("- source_labels: [__name__]\n  regex: b\n  action: drop\n");
    h.apply(vec![j]).await;
    h.wait_for("a", |h| h.last("a").is_some()).await;
    let (active, dropped) = h.manager.targets();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].labels.get("env"), "prod");
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].discovered_labels.get("__address__"), s2.addr);
    let a = h.series(&[("__name__", "a")]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].0.get("env"), "prod");
    assert!(h.series(&[("__name__", "b")]).is_empty());
    assert_eq!(h.last("scrape_samples_scraped"), Some(2.0));
    assert_eq!(h.last("scrape_samples_post_metric_relabeling"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_changes_are_picked_up_and_broken_files_keep_targets() {
    let s1 = Server::start(Reply::text("a 1\n")).await;
    let s2 = Server::start(Reply::text("a 2\n")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(&file, format!(r#"[{{"targets": ["{}"], "labels": {{"team": "x"}}}}]"#, s1.addr)).unwrap();
    let h = Harness::new();
    let mut j = job("fsd", &[]);
    j.discovery = JobDiscovery {
        static_groups: vec![],
        file_sd: vec![FileSdConfig::new(vec![dir.path().join("*.json").to_string_lossy().into_owned()])],
    };
    h.apply(vec![j]).await;
    h.wait_for("s1 scraped", |h| h.last("a") == Some(1.0)).await;
    let t = h.manager.targets().0;
    assert_eq!(t[0].labels.get("team"), "x");
    assert_eq!(t[0].discovered_labels.get("__meta_filepath"), file.to_string_lossy());

    let changed = std::time::Instant::now();
    std::fs::write(&file, format!(r#"[{{"targets": ["{}"]}}]"#, s2.addr)).unwrap();
    h.wait_for("s2 target", |h| h.manager.targets().0.first().is_some_and(|t| t.scrape_url.contains(&s2.addr))).await;
    assert!(changed.elapsed() < Duration::from_secs(2), "took {:?}", changed.elapsed());

    std::fs::write(&file, "[{ broken").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let t = h.manager.targets().0;
    assert_eq!(t.len(), 1);
    assert!(t[0].scrape_url.contains(&s2.addr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_loops_and_restarts_changed_ones() {
    let s1 = Server::start(Reply::text("a 1\n")).await;
    let s2 = Server::start(Reply::text("b 1\n")).await;
    let h = Harness::new();
    h.apply(vec![job("one", &[&s1.addr]), job("two", &[&s2.addr])]).await;
    h.wait_for("scraped", |h| h.last("a").is_some() && h.last("b").is_some()).await;
    let ids = |h: &Harness| {
        let mut v: Vec<(String, u64)> = h.manager.targets().0.into_iter().map(|t| (t.scrape_pool, t.loop_id)).collect();
        v.sort();
        v
    };
    let before = ids(&h);
    let mut two = job("two", &[&s2.addr]);
    two.sample_limit = 100;
    h.apply(vec![job("one", &[&s1.addr]), two]).await;
    let after = ids(&h);
    assert_eq!(before[0], after[0], "unchanged job keeps its loop");
    assert_eq!(before[1].0, after[1].0);
    assert_ne!(before[1].1, after[1].1, "changed job gets a new loop");
    // The handed-over series keep going without a staleness marker.
    let n = h.series(&[("__name__", "b")])[0].1.len();
    h.wait_for("b again", |h| h.series(&[("__name__", "b")])[0].1.len() > n + 1).await;
    assert!(h.series(&[("__name__", "b")])[0].1.iter().all(|s| !is_stale_nan(s.v)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limit_fails_every_scrape_of_the_pool() {
    let s1 = Server::start(Reply::text("a 1\n")).await;
    let s2 = Server::start(Reply::text("a 2\n")).await;
    let h = Harness::new();
    let mut j = job("test", &[&s1.addr, &s2.addr]);
    j.target_limit = 1;
    h.apply(vec![j]).await;
    h.wait_for("both down", |h| h.health().iter().filter(|(s, _)| *s == Health::Down).count() == 2).await;
    assert_eq!(h.health()[0].1, "target_limit exceeded (number of targets: 2, limit: 1)");
    assert!(h.series(&[("__name__", "a")]).is_empty());
    assert!(s1.requests.lock().is_empty(), "no request is sent");
}
