//! Starting, probing and stopping the servers under test. Every spawned process lives in a
//! `Proc` guard whose drop sends SIGTERM, waits a bounded time, then SIGKILLs: nothing
//! outlives the bench, on success, error or panic.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Oxeye,
    Prometheus,
    VictoriaMetrics,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Oxeye => "oxeye",
            Kind::Prometheus => "prometheus",
            Kind::VictoriaMetrics => "victoriametrics",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Kind::Oxeye => "Oxeye",
            Kind::Prometheus => "Prometheus 2.42",
            Kind::VictoriaMetrics => "VictoriaMetrics 1.79",
        }
    }
    /// The server's own counter of samples written to storage.
    pub fn samples_metric(self) -> (&'static str, Option<&'static str>) {
        match self {
            Kind::Oxeye | Kind::Prometheus => ("prometheus_tsdb_head_samples_appended_total", None),
            Kind::VictoriaMetrics => ("vm_rows_added_to_storage_total", None),
        }
    }
    /// The server's own figure for active series.
    pub fn series_metric(self) -> (&'static str, Option<&'static str>) {
        match self {
            Kind::Oxeye | Kind::Prometheus => ("prometheus_tsdb_head_series", None),
            Kind::VictoriaMetrics => ("vm_cache_entries", Some("type=\"storage/hour_metric_ids\"")),
        }
    }
}

/// A child process that is stopped when dropped.
pub struct Proc {
    pub child: Child,
    pub kind: Kind,
    pub port: u16,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// SIGTERM, up to `grace` to exit, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(20));
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Starts `kind` on a fresh loopback port with `config` and `data`; waits until it is ready.
pub fn start(kind: Kind, bin: &Path, config: Option<&Path>, data: &Path, logdir: &Path) -> anyhow::Result<Proc> {
    std::fs::create_dir_all(data)?;
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bin);
    match kind {
        Kind::Oxeye | Kind::Prometheus => {
            if let Some(c) = config {
                cmd.arg(format!("--config.file={}", c.display()));
            }
            cmd.arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address={listen}"))
                .arg("--storage.tsdb.retention.time=2d");
        }
        Kind::VictoriaMetrics => {
            if let Some(c) = config {
                cmd.arg(format!("-promscrape.config={}", c.display()));
            }
            cmd.arg(format!("-storageDataPath={}", data.display()))
                .arg(format!("-httpListenAddr={listen}"))
                .arg("-retentionPeriod=100y")
                .arg("-search.latencyOffset=0s");
        }
    }
    let log = logdir.join(format!("{}-{}.log", kind.name(), port));
    let f = std::fs::File::create(&log)?;
    cmd.stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
    // Do not hand the servers the bench's own GOMAXPROCS or similar tweaks; only the PATH.
    let child = cmd.spawn().map_err(|e| anyhow::anyhow!("cannot start {}: {e}", bin.display()))?;
    let mut p = Proc { child, kind, port, log };
    let ready = match kind {
        Kind::VictoriaMetrics => "/health",
        _ => "/-/ready",
    };
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if !p.alive() {
            anyhow::bail!("{} exited during start-up; log: {}", kind.name(), tail(&p.log));
        }
        if let Ok(r) = http.get(format!("{}{ready}", p.base())).send()
            && r.status().is_success()
        {
            return Ok(p);
        }
        if Instant::now() > deadline {
            anyhow::bail!("{} not ready after 60 s; log: {}", kind.name(), tail(&p.log));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn tail(log: &Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    let t = lines[lines.len().saturating_sub(4)..].join("\n");
    let n = t.chars().count();
    t.chars().skip(n.saturating_sub(800)).collect()
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).no_proxy().build().expect("http client")
}

/// Sum of every sample of `name` (optionally only those whose label text contains `filter`)
/// in a text exposition.
pub fn metric_sum(text: &str, name: &str, filter: Option<&str>) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else { continue };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        if let Some(f) = filter
            && !rest.contains(f)
        {
            continue;
        }
        let (labels_end, value_part) = if rest.starts_with('{') {
            match rest.find('}') {
                Some(p) => (p + 1, &rest[p + 1..]),
                None => continue,
            }
        } else {
            (0, rest)
        };
        let _ = labels_end;
        if let Some(v) = value_part.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

pub fn scrape_self(http: &reqwest::blocking::Client, p: &Proc) -> anyhow::Result<String> {
    Ok(http.get(format!("{}/metrics", p.base())).send()?.error_for_status()?.text()?)
}
