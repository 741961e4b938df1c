//! The orchestration: targets up, then each server in turn (never two at once), then the
//! compaction dataset, then the report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::dataset::{self, Dataset, DiskResult};
use crate::procfs;
use crate::queries::{self, QueryResult};
use crate::servers::{self, Kind};
use crate::targets::Targets;

pub struct BenchEnv {
    pub oxeye_bin: Option<PathBuf>,
    pub workspace_target: PathBuf,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub targets: usize,
    pub series: usize,
    pub interval: u64,
    pub warmup: u64,
    pub seconds: u64,
    pub query_runs: usize,
    pub servers: Vec<Kind>,
    pub disk: bool,
    pub disk_series: usize,
    pub disk_hours: f64,
    pub disk_step: u64,
    pub disk_jitter_ms: Vec<u64>,
}

impl Settings {
    fn from_env() -> Self {
        let servers =
            std::env::var("OXEYE_BENCH_SERVERS").unwrap_or_else(|_| "oxeye,prometheus,victoriametrics".into());
        let servers = servers
            .split(',')
            .filter_map(|s| match s.trim() {
                "oxeye" => Some(Kind::Oxeye),
                "prometheus" => Some(Kind::Prometheus),
                "victoriametrics" | "vm" => Some(Kind::VictoriaMetrics),
                _ => None,
            })
            .collect();
        Settings {
            targets: env_num("OXEYE_BENCH_TARGETS", 100),
            series: env_num("OXEYE_BENCH_SERIES", 1000),
            interval: env_num("OXEYE_BENCH_INTERVAL", 5),
            warmup: env_num("OXEYE_BENCH_WARMUP", 30),
            seconds: env_num("OXEYE_BENCH_SECONDS", 180),
            query_runs: env_num("OXEYE_BENCH_QUERY_RUNS", 20),
            servers,
            disk: env_num("OXEYE_BENCH_DISK", 1u8) != 0,
            disk_series: env_num("OXEYE_BENCH_DISK_SERIES", 10_000),
            disk_hours: env_num("OXEYE_BENCH_DISK_HOURS", 4.0),
            disk_step: env_num("OXEYE_BENCH_DISK_STEP", 15),
            disk_jitter_ms: std::env::var("OXEYE_BENCH_DISK_JITTER_MS")
                .unwrap_or_else(|_| "0,4".into())
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ServerResult {
    pub cpu_s: f64,
    pub window_s: f64,
    pub samples: f64,
    pub expected_samples: f64,
    pub rss_end: u64,
    pub rss_hwm: u64,
    pub active_series: f64,
    pub disk_end: u64,
    pub samples_total: f64,
    pub targets_up: f64,
    pub scrapes_served: u64,
    pub bench_cpu_s: f64,
    pub load_start: f64,
    pub load_end: f64,
    pub queries: Vec<QueryResult>,
    pub error: Option<String>,
}

impl ServerResult {
    pub fn us_per_sample(&self) -> f64 {
        self.cpu_s / self.samples * 1e6
    }
    pub fn rss_per_series(&self) -> f64 {
        self.rss_end as f64 / self.active_series
    }
    pub fn disk_per_sample(&self) -> f64 {
        self.disk_end as f64 / self.samples_total
    }
}

fn find_bin(var: &str, default: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(default);
    p.exists().then_some(p)
}

fn write_config(path: &Path, targets: &Targets, interval: u64) -> anyhow::Result<()> {
    let mut s = String::new();
    writeln!(s, "global:\n  scrape_interval: {interval}s\n  scrape_timeout: {}s", interval.max(2) - 1)?;
    writeln!(s, "scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets:")?;
    for a in &targets.addrs {
        writeln!(s, "          - '{a}'")?;
    }
    std::fs::write(path, s)?;
    Ok(())
}

fn measure(
    kind: Kind,
    bin: &Path,
    cfg: &Path,
    work: &Path,
    targets: &Targets,
    st: &Settings,
    tck: f64,
) -> anyhow::Result<ServerResult> {
    let data = work.join(format!("data-{}", kind.name()));
    let logs = work.join("logs");
    let http = servers::client();
    eprintln!("[{}] starting {}", kind.name(), bin.display());
    let t_start = Instant::now();
    let mut p = servers::start(kind, bin, Some(cfg), &data, &logs)?;
    let unix_now =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    let first_unix = unix_now();
    eprintln!("[{}] ready in {:.1} s; warm-up {} s", kind.name(), t_start.elapsed().as_secs_f64(), st.warmup);
    std::thread::sleep(Duration::from_secs(st.warmup));
    anyhow::ensure!(p.alive(), "{} died during warm-up: {}", kind.name(), servers::tail(&p.log));

    let (sname, sfilter) = kind.samples_metric();
    let m0 = servers::scrape_self(&http, &p)?;
    let c0 = procfs::cpu_seconds(p.pid(), tck)?;
    let b0 = procfs::cpu_seconds(procfs::self_pid(), tck)?;
    // A counter with labels appears only once something was appended: absent means 0.
    let s0 = servers::metric_sum(&m0, sname, sfilter).unwrap_or(0.0);
    let scr0 = targets.scrapes();
    let load_start = procfs::loadavg1();
    let w0 = Instant::now();
    eprintln!("[{}] measuring for {} s", kind.name(), st.seconds);
    let mut hwm = 0;
    while w0.elapsed() < Duration::from_secs(st.seconds) {
        std::thread::sleep(Duration::from_secs(1).min(Duration::from_secs(st.seconds).saturating_sub(w0.elapsed())));
        anyhow::ensure!(p.alive(), "{} died during the measurement: {}", kind.name(), servers::tail(&p.log));
        hwm = hwm.max(procfs::status_bytes(p.pid(), "VmRSS").unwrap_or(0));
    }
    let c1 = procfs::cpu_seconds(p.pid(), tck)?;
    let b1 = procfs::cpu_seconds(procfs::self_pid(), tck)?;
    let window_s = w0.elapsed().as_secs_f64();
    let scr1 = targets.scrapes();
    let m1 = servers::scrape_self(&http, &p)?;
    let s1 = servers::metric_sum(&m1, sname, sfilter).unwrap_or(f64::NAN);
    let rss_end = procfs::status_bytes(p.pid(), "VmRSS")?;
    let (aname, afilter) = kind.series_metric();
    let active = servers::metric_sum(&m1, aname, afilter).unwrap_or(f64::NAN);
    let end_unix = unix_now();

    let mut r = ServerResult {
        cpu_s: c1 - c0,
        window_s,
        samples: s1 - s0,
        expected_samples: (targets.addrs.len() * (targets.series_per_target + 5)) as f64 * window_s
            / st.interval as f64,
        rss_end,
        rss_hwm: hwm.max(rss_end),
        active_series: active,
        disk_end: 0,
        samples_total: s1,
        targets_up: f64::NAN,
        scrapes_served: scr1 - scr0,
        bench_cpu_s: b1 - b0,
        load_start,
        load_end: procfs::loadavg1(),
        queries: Vec::new(),
        error: None,
    };
    if let Ok(v) = queries::instant(&http, &p, "sum(up)") {
        r.targets_up = v.first().copied().unwrap_or(0.0);
    }
    eprintln!(
        "[{}] cpu {:.1} s, samples {:.0} (expected ~{:.0}), {:.2} us/sample, rss {} MiB, series {:.0}, up {}",
        kind.name(),
        r.cpu_s,
        r.samples,
        r.expected_samples,
        r.us_per_sample(),
        r.rss_end >> 20,
        r.active_series,
        r.targets_up
    );

    // Queries over everything ingested so far.
    let first = targets.addrs[0].to_string();
    let mix = queries::mix(&first);
    let start = (first_unix + st.interval as f64).floor();
    let end = end_unix.floor();
    eprintln!("[{}] queries: {} runs each over {:.0} s", kind.name(), st.query_runs, end - start);
    r.queries =
        queries::run(&http, &p, &mix, &queries::Plan { start, end, step: 10.0, warmup: 2, runs: st.query_runs });
    for q in &r.queries {
        eprintln!(
            "[{}]   {:<20} median {:>8.2} ms  p90 {:>8.2} ms  series {:>4} points {:>5} {}",
            kind.name(),
            q.name,
            q.median_ms,
            q.p90_ms,
            q.series,
            q.points,
            q.error.as_deref().unwrap_or("")
        );
    }
    p.stop(Duration::from_secs(30));
    r.disk_end = procfs::dir_bytes(&data);
    eprintln!("[{}] data dir after shutdown {} MiB: {:?}", kind.name(), r.disk_end >> 20, procfs::dir_breakdown(&data));
    Ok(r)
}

/// One compaction-dataset pass: the same samples into each system, bytes per sample after.
pub struct DiskRun {
    pub jitter_ms: u64,
    pub desc: String,
    pub results: Vec<(Kind, Result<DiskResult, String>)>,
}

fn disk_phase(st: &Settings, jitter: u64, work: &Path, promtool: Option<&Path>, vm: Option<&Path>) -> DiskRun {
    let t0 = Instant::now();
    let ds = Dataset::generate(st.disk_series, Duration::from_secs(st.disk_step), st.disk_hours, jitter);
    let desc = format!(
        "{} series x {} samples ({} s apart + 0-{} ms jitter, {} h) = {} samples",
        ds.num_series(),
        ds.steps,
        st.disk_step,
        jitter,
        st.disk_hours,
        ds.num_samples()
    );
    eprintln!("dataset: {desc}; generated in {:.1} s", t0.elapsed().as_secs_f64());
    let mut results = Vec::new();
    for &kind in &st.servers {
        let sub = work.join(format!("disk-{}-j{jitter}", kind.name()));
        let r: anyhow::Result<DiskResult> = match kind {
            Kind::Prometheus => match promtool {
                Some(pt) => (|| {
                    let om = work.join("dataset.om.txt");
                    ds.write_openmetrics(&om)?;
                    let r = dataset::prometheus_blocks(pt, &om, &sub);
                    let _ = std::fs::remove_file(&om);
                    r
                })(),
                None => Err(anyhow::anyhow!("promtool not found")),
            },
            Kind::VictoriaMetrics => match vm {
                Some(bin) => (|| {
                    let txt = work.join("dataset.prom.txt");
                    ds.write_text_ms(&txt)?;
                    let r = dataset::victoriametrics(bin, &txt, &sub, &work.join("logs"), ds.num_samples());
                    let _ = std::fs::remove_file(&txt);
                    r
                })(),
                None => Err(anyhow::anyhow!("victoria-metrics not found")),
            },
            Kind::Oxeye => crate::oxeye_blocks::build(&ds, &sub),
        };
        match &r {
            Ok(d) => eprintln!(
                "[{}] disk after compaction (jitter {jitter} ms): {} bytes / {} samples = {:.3} B/sample ({:?}) in {:.1} s",
                kind.name(),
                d.bytes,
                d.samples,
                d.bytes_per_sample(),
                d.breakdown,
                d.seconds
            ),
            Err(e) => eprintln!("[{}] disk after compaction FAILED: {e:#}", kind.name()),
        }
        // Disk is plentiful but not endless: keep only the figures.
        if std::env::var("OXEYE_BENCH_KEEP").is_err() {
            let _ = std::fs::remove_dir_all(&sub);
        }
        results.push((kind, r.map_err(|e| format!("{e:#}"))));
    }
    DiskRun { jitter_ms: jitter, desc, results }
}

pub fn main(env: BenchEnv) -> anyhow::Result<()> {
    // `cargo bench` passes --bench; nothing to parse.
    let st = Settings::from_env();
    let tck = procfs::clk_tck();
    let keep = std::env::var("OXEYE_BENCH_KEEP").is_ok();
    let tmp = tempfile::Builder::new().prefix("oxeye-bench-").tempdir()?;
    let work = tmp.path().to_path_buf();
    std::fs::create_dir_all(work.join("logs"))?;
    eprintln!("work dir {}", work.display());

    let prometheus = find_bin("PROMETHEUS_BIN", "/usr/bin/prometheus");
    let promtool = find_bin("PROMTOOL_BIN", "/usr/bin/promtool");
    let vm = find_bin("VICTORIA_METRICS_BIN", "/usr/bin/victoria-metrics");
    let oxeye = std::env::var("OXEYE_BIN").ok().map(PathBuf::from).or(env.oxeye_bin.clone());

    let mut results: Vec<(Kind, ServerResult)> = Vec::new();
    let interval = Duration::from_secs(st.interval);
    {
        let targets = Targets::start(st.targets, st.series, interval)?;
        eprintln!(
            "{} targets x {} series on 127.0.0.1 ({} bytes per body uncompressed)",
            st.targets, targets.series_per_target, targets.body_bytes
        );
        let cfg = work.join("prometheus.yml");
        write_config(&cfg, &targets, st.interval)?;
        for &kind in &st.servers {
            let bin = match kind {
                Kind::Oxeye => oxeye.clone(),
                Kind::Prometheus => prometheus.clone(),
                Kind::VictoriaMetrics => vm.clone(),
            };
            let Some(bin) = bin else {
                eprintln!("[{}] binary not found: skipped", kind.name());
                results.push((kind, ServerResult { error: Some("binary not found".into()), ..Default::default() }));
                continue;
            };
            let r = measure(kind, &bin, &cfg, &work, &targets, &st, tck).unwrap_or_else(|e| {
                eprintln!("[{}] FAILED: {e:#}", kind.name());
                ServerResult { error: Some(format!("{e:#}")), ..Default::default() }
            });
            results.push((kind, r));
            // Let the machine settle between servers.
            std::thread::sleep(Duration::from_secs(3));
        }
    }

    let mut disk: Vec<DiskRun> = Vec::new();
    if st.disk {
        for &jitter in &st.disk_jitter_ms {
            disk.push(disk_phase(&st, jitter, &work, promtool.as_deref(), vm.as_deref()));
        }
    }

    let md = crate::report::markdown(&st, &results, &disk);
    println!("\n{md}");
    let out = env.workspace_target.join("bench-ingest.md");
    if let Err(e) = std::fs::create_dir_all(&env.workspace_target).and_then(|_| std::fs::write(&out, &md)) {
        eprintln!("cannot write {}: {e}", out.display());
    } else {
        eprintln!("wrote {}", out.display());
    }
    // Keep the server logs next to the report.
    let logdir = env.workspace_target.join("bench-ingest-logs");
    let _ = std::fs::create_dir_all(&logdir);
    if let Ok(rd) = std::fs::read_dir(work.join("logs")) {
        for e in rd.flatten() {
            let _ = std::fs::copy(e.path(), logdir.join(e.file_name()));
        }
    }
    if keep {
        let p = tmp.keep();
        eprintln!("kept {}", p.display());
    }
    Ok(())
}
