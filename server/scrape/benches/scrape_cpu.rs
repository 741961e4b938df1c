//! CPU per scraped sample, end to end through the public API: 100 targets x 1,000 series served
//! over real HTTP on 127.0.0.1, scraped every second for 20 s into a storage that only counts
//! appends (so the figure is scrape + parse + cache + relabel bookkeeping, not TSDB or WAL).
//! Process CPU time (user + system, from /proc/self/stat) divided by samples appended.
//! Run: `cargo bench -p oxeye-scrape --bench scrape_cpu`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oxeye_model::Labels;
use oxeye_model::storage::{AppendError, Appendable, Appender, SeriesRef, StorageError};
use oxeye_scrape::{JobDiscovery, ScrapeJob, ScrapeManager, ScrapeOptions, TargetGroup};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TARGETS: usize = 100;
const SERIES: usize = 1000;
const RUN: Duration = Duration::from_secs(20);

#[derive(Default)]
struct CountingStorage {
    samples: AtomicU64,
}

struct CountingAppender<'a> {
    storage: &'a CountingStorage,
    n: u64,
}

impl Appender for CountingAppender<'_> {
    fn append(&mut self, cached: Option<SeriesRef>, l: &Labels, _t: i64, _v: f64) -> Result<SeriesRef, AppendError> {
        self.n += 1;
        Ok(cached.unwrap_or_else(|| l.hash()))
    }
    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.storage.samples.fetch_add(self.n, Ordering::Relaxed);
        Ok(())
    }
    fn rollback(self: Box<Self>) {}
}

impl Appendable for CountingStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(CountingAppender { storage: self, n: 0 })
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is field 14, stime 15.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn body() -> Vec<u8> {
    let mut s = String::from("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n");
    for i in 0..SERIES {
        s.push_str(&format!(
            "http_requests_total{{method=\"GET\",handler=\"/api/v1/item/{i}\",code=\"200\"}} {}\n",
            i * 7
        ));
    }
    s.into_bytes()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let body = Arc::new(body());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut req = Vec::new();
                    loop {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                        if req.windows(4).any(|w| w == b"\r\n\r\n") {
                            req.clear();
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            );
                            if sock.write_all(head.as_bytes()).await.is_err() || sock.write_all(&body).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        let storage = Arc::new(CountingStorage::default());
        let dynamic: Arc<dyn Appendable> = storage.clone();
        let manager = ScrapeManager::new(dynamic, ScrapeOptions::default());
        let mut job = ScrapeJob::new("bench");
        job.scrape_interval = Duration::from_secs(1);
        job.scrape_timeout = Duration::from_secs(1);
        job.enable_compression = false;
        let targets: Vec<Labels> =
            (0..TARGETS).map(|i| Labels::from_pairs([("__address__", addr.clone()), ("shard", i.to_string())])).collect();
        job.discovery = JobDiscovery {
            static_groups: vec![TargetGroup { source: "0".into(), targets, labels: Labels::empty() }],
            file_sd: vec![],
        };
        let groups = job.discovery.static_groups.clone();
        manager.apply_config(vec![job]).await.expect("apply");
        manager.sync(Arc::new([("bench".to_string(), groups)].into_iter().collect())).await;
        // Warm up: the first scrape of each target fills the caches.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (s0, c0, t0) = (storage.samples.load(Ordering::Relaxed), cpu_seconds(), Instant::now());
        tokio::time::sleep(RUN).await;
        let (s1, c1, wall) = (storage.samples.load(Ordering::Relaxed), cpu_seconds(), t0.elapsed());
        manager.stop().await;
        let samples = (s1 - s0) as f64;
        let cpu = c1 - c0;
        println!("targets={TARGETS} series/target={SERIES} interval=1s wall={:.1}s", wall.as_secs_f64());
        println!("samples appended: {samples:.0} ({:.0}/s)", samples / wall.as_secs_f64());
        println!("process CPU: {cpu:.2}s (includes the in-process HTTP server)");
        println!("CPU per sample: {:.3} us (Prometheus 2.42 reference: 2.2 us incl. TSDB)", cpu / samples * 1e6);
    });
}
