//! The compaction dataset: `targets x series` series at a fixed interval over a few hours,
//! starting on a 2 h boundary a day ago, with the live targets' value shapes. Written as
//! OpenMetrics (for `promtool tsdb create-blocks-from openmetrics`) and as text format with
//! millisecond timestamps (for VictoriaMetrics' `/api/v1/import/prometheus`); handed to the
//! Oxeye TSDB library series by series.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::servers::{self, Proc};
use crate::workload::{FAMILIES, Kind, Target, push_value, with_target_labels};

pub struct Dataset {
    pub start_ms: i64,
    pub step_ms: i64,
    pub steps: usize,
    /// Scrape-like jitter added to each timestamp, ms (same for every series at one step).
    pub jitter: Vec<i64>,
    /// Per target: instance name, target (series definitions), values[step][series].
    pub targets: Vec<(String, Target, Vec<Vec<f64>>)>,
}

impl Dataset {
    pub fn generate(series: usize, step: Duration, hours: f64, jitter_ms: u64) -> Self {
        let per = series.min(1000);
        let n_targets = series.div_ceil(per);
        let step_ms = step.as_millis() as i64;
        let steps = (hours * 3_600_000.0 / step_ms as f64).round() as usize;
        let two_h = 2 * 3_600_000;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
        let start_ms = (now - 24 * 3_600_000) / two_h * two_h;
        let mut targets = Vec::with_capacity(n_targets);
        for k in 0..n_targets {
            let n = per.min(series - k * per);
            let mut t = Target::new(10_000 + k as u64, n);
            let mut m = Vec::with_capacity(steps);
            for _ in 0..steps {
                t.advance();
                m.push(t.values.clone());
            }
            targets.push((format!("host-{k:03}:9100"), t, m));
        }
        let mut rng = crate::workload::Rng::new(99);
        let jitter = (0..steps).map(|_| if jitter_ms == 0 { 0 } else { rng.below(jitter_ms + 1) as i64 }).collect();
        Dataset { start_ms, step_ms, steps, jitter, targets }
    }

    /// Timestamp of step `k`.
    pub fn ts(&self, k: usize) -> i64 {
        self.start_ms + k as i64 * self.step_ms + self.jitter[k]
    }

    pub fn num_series(&self) -> usize {
        self.targets.iter().map(|t| t.1.series.len()).sum()
    }
    pub fn num_samples(&self) -> u64 {
        (self.num_series() * self.steps) as u64
    }

    /// Every series in family order, each with all its samples: `f(metric_with_labels, values)`.
    pub fn for_each_series(&self, mut f: impl FnMut(usize, &str, &mut dyn Iterator<Item = (i64, f64)>)) {
        for fam in 0..FAMILIES.len() {
            for (inst, t, m) in &self.targets {
                for (i, s) in t.series.iter().enumerate() {
                    if s.family != fam {
                        continue;
                    }
                    let metric = with_target_labels(&s.metric, "bench", inst);
                    let mut it = (0..self.steps).map(|k| (self.ts(k), m[k][i]));
                    f(fam, &metric, &mut it);
                }
            }
        }
    }

    pub fn write_openmetrics(&self, path: &Path) -> anyhow::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let mut fam_written = usize::MAX;
        let mut line = String::new();
        let mut err = None;
        self.for_each_series(|fam, metric, samples| {
            if fam != fam_written {
                fam_written = fam;
                let f = &FAMILIES[fam];
                let ty = match f.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                    Kind::Histogram => "histogram",
                };
                line.clear();
                line.push_str(&format!("# TYPE {} {ty}\n# HELP {} {}\n", f.name, f.name, f.help));
                if let Err(e) = w.write_all(line.as_bytes()) {
                    err = Some(e);
                }
            }
            for (t, v) in samples {
                line.clear();
                line.push_str(metric);
                line.push(' ');
                push_value(&mut line, v);
                line.push_str(&format!(" {}.{:03}\n", t / 1000, t % 1000));
                if let Err(e) = w.write_all(line.as_bytes()) {
                    err = Some(e);
                }
            }
        });
        w.write_all(b"# EOF\n")?;
        w.flush()?;
        if let Some(e) = err {
            return Err(e.into());
        }
        Ok(())
    }

    pub fn write_text_ms(&self, path: &Path) -> anyhow::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let mut line = String::new();
        let mut err = None;
        self.for_each_series(|_, metric, samples| {
            for (t, v) in samples {
                line.clear();
                line.push_str(metric);
                line.push(' ');
                push_value(&mut line, v);
                line.push_str(&format!(" {t}\n"));
                if let Err(e) = w.write_all(line.as_bytes()) {
                    err = Some(e);
                }
            }
        });
        w.flush()?;
        if let Some(e) = err {
            return Err(e.into());
        }
        Ok(())
    }
}

/// What one system made of the dataset.
#[derive(Clone, Debug, Default)]
pub struct DiskResult {
    pub bytes: u64,
    pub samples: u64,
    pub blocks: usize,
    pub breakdown: Vec<(String, u64)>,
    pub note: String,
    pub seconds: f64,
}

impl DiskResult {
    pub fn bytes_per_sample(&self) -> f64 {
        self.bytes as f64 / self.samples.max(1) as f64
    }
}

/// The block directories (those with a meta.json) directly under `dir`.
pub fn block_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.join("meta.json").is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Bytes, `stats.numSamples` and block count over the block directories under `dir`, with a
/// breakdown by file kind (chunks, index, other). Anything else in `dir` (WAL, head chunks,
/// lock) is not counted.
pub fn measure_blocks(dir: &Path) -> (u64, u64, usize, Vec<(String, u64)>) {
    let dirs = block_dirs(dir);
    let mut samples = 0;
    let mut bytes = 0;
    let (mut chunks, mut index, mut other) = (0, 0, 0);
    fn walk(p: &Path, f: &mut dyn FnMut(&Path, u64)) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if let Ok(md) = e.metadata() {
                    if md.is_dir() {
                        walk(&path, f);
                    } else {
                        f(&path, md.len());
                    }
                }
            }
        }
    }
    for d in &dirs {
        if let Ok(s) = std::fs::read_to_string(d.join("meta.json"))
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&s)
        {
            samples += v["stats"]["numSamples"].as_u64().unwrap_or(0);
        }
        walk(d, &mut |p, n| {
            bytes += n;
            let s = p.to_string_lossy();
            if s.contains("/chunks/") {
                chunks += n;
            } else if s.ends_with("/index") {
                index += n;
            } else {
                other += n;
            }
        });
    }
    (bytes, samples, dirs.len(), vec![("chunks".into(), chunks), ("index".into(), index), ("other".into(), other)])
}

pub fn prometheus_blocks(promtool: &Path, om: &Path, out: &Path) -> anyhow::Result<DiskResult> {
    let t0 = Instant::now();
    let o =
        Command::new(promtool).args(["tsdb", "create-blocks-from", "openmetrics", "-q"]).arg(om).arg(out).output()?;
    if !o.status.success() {
        anyhow::bail!(
            "promtool create-blocks-from failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let (bytes, samples, blocks, breakdown) = measure_blocks(out);
    Ok(DiskResult {
        bytes,
        samples,
        blocks,
        breakdown,
        note: "promtool tsdb create-blocks-from openmetrics (2h blocks)".into(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Imports the text file into a fresh VictoriaMetrics, flushes and merges, stops it, and
/// measures its data directory.
pub fn victoriametrics(bin: &Path, text: &Path, data: &Path, logdir: &Path, expect: u64) -> anyhow::Result<DiskResult> {
    let t0 = Instant::now();
    let mut p: Proc = servers::start(servers::Kind::VictoriaMetrics, bin, None, data, logdir)?;
    let http = servers::client();
    let f = std::fs::File::open(text)?;
    let r = http
        .post(format!("{}/api/v1/import/prometheus", p.base()))
        .timeout(Duration::from_secs(900))
        .body(reqwest::blocking::Body::new(f))
        .send()?;
    if !r.status().is_success() {
        anyhow::bail!("VictoriaMetrics import: {} {}", r.status(), r.text().unwrap_or_default());
    }
    // Wait until the rows are in storage, then flush and merge everything.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut added = 0.0;
    while Instant::now() < deadline {
        let m = servers::scrape_self(&http, &p)?;
        added = servers::metric_sum(&m, "vm_rows_added_to_storage_total", None).unwrap_or(0.0);
        if added as u64 >= expect {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = http.get(format!("{}/internal/force_flush", p.base())).send();
    let start = chrono_month_prefixes();
    for prefix in start {
        let _ = http.get(format!("{}/internal/force_merge?partition_prefix={prefix}", p.base())).send();
    }
    // Merges run in the background: wait for no active merges and a stable size.
    let mut last = 0;
    let mut stable = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline && stable < 5 {
        std::thread::sleep(Duration::from_secs(1));
        let m = servers::scrape_self(&http, &p).unwrap_or_default();
        let active = servers::metric_sum(&m, "vm_active_merges", None).unwrap_or(0.0);
        let size = crate::procfs::dir_bytes(data);
        if active == 0.0 && size == last {
            stable += 1;
        } else {
            stable = 0;
        }
        last = size;
    }
    p.stop(Duration::from_secs(60));
    let breakdown = crate::procfs::dir_breakdown(data);
    let bytes: u64 = breakdown.iter().filter(|(n, _)| n == "data" || n == "indexdb").map(|(_, b)| b).sum();
    Ok(DiskResult {
        bytes,
        samples: added as u64,
        blocks: 0,
        breakdown,
        note: "/api/v1/import/prometheus, force_flush + force_merge; data/ + indexdb/".into(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// `YYYY_MM` partition names for this month and the previous one (the dataset starts a day ago).
fn chrono_month_prefixes() -> Vec<String> {
    let out = Command::new("date").args(["-u", "+%Y_%m"]).output().ok();
    let now = out.and_then(|o| String::from_utf8(o.stdout).ok()).map(|s| s.trim().to_string()).unwrap_or_default();
    let out = Command::new("date").args(["-u", "-d", "2 days ago", "+%Y_%m"]).output().ok();
    let before = out.and_then(|o| String::from_utf8(o.stdout).ok()).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut v = vec![now];
    if !v.contains(&before) {
        v.push(before);
    }
    v.retain(|s| !s.is_empty());
    v
}
