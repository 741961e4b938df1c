//! The synthetic workload: one "target" is a fixed set of series in a few metric families
//! (counters, gauges, a histogram), each series with 3-4 labels of its own (plus `job` and
//! `instance` added by the scraper or by the dataset writer). Every `advance` moves all
//! values one step: counters increase, gauges wander, histogram buckets fill cumulatively.
//! The same generator feeds the live scrape targets and the compaction dataset, so both see
//! the same value shapes.

use std::fmt::Write as _;

/// Histogram upper bounds; `+Inf` is appended.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Series per histogram label combination: buckets + `+Inf` + `_sum` + `_count`.
const HIST_SERIES: usize = BUCKETS.len() + 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

pub struct Family {
    /// Base name: `bench_http_requests` for a counter whose samples are `..._total`.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

pub const FAMILIES: [Family; 5] = [
    Family { name: "bench_http_requests", help: "Requests handled.", kind: Kind::Counter },
    Family { name: "bench_http_request_duration_seconds", help: "Request latency.", kind: Kind::Histogram },
    Family { name: "bench_cpu_seconds", help: "CPU time spent.", kind: Kind::Counter },
    Family { name: "bench_memory_bytes", help: "Memory in use.", kind: Kind::Gauge },
    Family { name: "bench_queue_length", help: "Items waiting.", kind: Kind::Gauge },
];

/// Small, fast, deterministic PRNG (xorshift64*).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One series of a target: its family, its sample name plus labels, and how its value moves.
pub struct SeriesDef {
    pub family: usize,
    /// `name{l="v",...}` without job/instance.
    pub metric: String,
    /// Per-series rate or scale parameter.
    param: f64,
}

/// A target's series and their current values.
pub struct Target {
    pub series: Vec<SeriesDef>,
    pub values: Vec<f64>,
    rng: Rng,
    pub step: u64,
}

fn split_counts(n: usize) -> [usize; 5] {
    // Shares: requests 25%, histogram 42% (whole combinations), cpu 13%, memory 10%, queue rest.
    let hist = (n * 42 / 100) / HIST_SERIES * HIST_SERIES;
    let req = n * 25 / 100;
    let cpu = n * 13 / 100;
    let mem = n * 10 / 100;
    let queue = n - hist - req - cpu - mem;
    [req, hist, cpu, mem, queue]
}

fn labels(pairs: &[(&str, String)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s.push('}');
    s
}

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const CODES: [&str; 5] = ["200", "201", "404", "500", "503"];
const MODES: [&str; 8] = ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"];
const AREAS: [&str; 2] = ["heap", "nonheap"];
const POOLS: [&str; 5] = ["eden", "survivor", "old", "metaspace", "codecache"];
const PRIOS: [&str; 3] = ["high", "normal", "low"];

impl Target {
    /// `n` series for target number `id` (the seed); values start at a plausible state.
    pub fn new(id: u64, n: usize) -> Self {
        let mut rng = Rng::new(id + 1);
        let counts = split_counts(n);
        let mut series = Vec::with_capacity(n);
        // requests: method x code x handler
        for i in 0..counts[0] {
            let l = labels(&[
                ("code", CODES[(i / 4) % 5].to_string()),
                ("handler", format!("/api/v1/resource{}", i / 20)),
                ("method", METHODS[i % 4].to_string()),
            ]);
            series.push(SeriesDef {
                family: 0,
                metric: format!("bench_http_requests_total{l}"),
                param: 1.0 + rng.below(40) as f64,
            });
        }
        // histogram: method x handler combos
        for c in 0..counts[1] / HIST_SERIES {
            let method = METHODS[c % 4];
            let handler = format!("/api/v1/resource{}", c / 4);
            let les = BUCKETS.iter().map(|b| b.to_string()).chain(std::iter::once("+Inf".to_string()));
            for le in les {
                let l = labels(&[("handler", handler.clone()), ("le", le), ("method", method.into())]);
                series.push(SeriesDef {
                    family: 1,
                    metric: format!("bench_http_request_duration_seconds_bucket{l}"),
                    param: 0.0,
                });
            }
            let l = labels(&[("handler", handler.clone()), ("method", method.into())]);
            series.push(SeriesDef {
                family: 1,
                metric: format!("bench_http_request_duration_seconds_sum{l}"),
                param: 0.0,
            });
            series.push(SeriesDef {
                family: 1,
                metric: format!("bench_http_request_duration_seconds_count{l}"),
                param: 0.0,
            });
        }
        // cpu: cpu x mode
        for i in 0..counts[2] {
            let l = labels(&[("cpu", (i / 8).to_string()), ("mode", MODES[i % 8].to_string())]);
            series.push(SeriesDef {
                family: 2,
                metric: format!("bench_cpu_seconds_total{l}"),
                param: 0.05 + rng.unit() * 2.0,
            });
        }
        // memory: area x pool x zone
        for i in 0..counts[3] {
            let l = labels(&[
                ("area", AREAS[i % 2].to_string()),
                ("pool", POOLS[(i / 2) % 5].to_string()),
                ("zone", format!("z{}", i / 10)),
            ]);
            series.push(SeriesDef {
                family: 3,
                metric: format!("bench_memory_bytes{l}"),
                param: (1u64 << (20 + rng.below(10))) as f64,
            });
        }
        // queue: queue x priority x shard x tenant
        for i in 0..counts[4] {
            let l = labels(&[
                ("priority", PRIOS[i % 3].to_string()),
                ("queue", format!("q{}", (i / 3) % 4)),
                ("shard", ((i / 12) % 4).to_string()),
                ("tenant", format!("t{}", i / 48)),
            ]);
            series.push(SeriesDef {
                family: 4,
                metric: format!("bench_queue_length{l}"),
                param: 5.0 + rng.below(200) as f64,
            });
        }
        let mut values = vec![0.0; series.len()];
        for (v, s) in values.iter_mut().zip(&series) {
            *v = match s.family {
                0 => rng.below(1_000_000) as f64,
                2 => (rng.below(10_000_000) as f64) / 100.0,
                3 => s.param,
                4 => rng.below(s.param as u64) as f64,
                _ => 0.0,
            };
        }
        let mut t = Target { series, values, rng, step: 0 };
        // Histograms start from some history.
        for _ in 0..3 {
            t.advance();
        }
        t.step = 0;
        t
    }

    /// Moves every value one scrape interval forward.
    pub fn advance(&mut self) {
        self.step += 1;
        let rng = &mut self.rng;
        let mut i = 0;
        while i < self.series.len() {
            let s = &self.series[i];
            match s.family {
                0 => {
                    self.values[i] += rng.below(s.param as u64 + 1) as f64;
                    i += 1;
                }
                1 => {
                    // One histogram combination: buckets, +Inf, sum, count.
                    let n = rng.below(20);
                    for _ in 0..n {
                        // Log-uniform latency between 1 ms and 20 s.
                        let obs = 0.001 * (20_000f64).powf(rng.unit() * rng.unit());
                        let first = BUCKETS.iter().position(|&b| obs <= b).unwrap_or(BUCKETS.len());
                        for b in first..=BUCKETS.len() {
                            self.values[i + b] += 1.0;
                        }
                        self.values[i + BUCKETS.len() + 1] += obs;
                        self.values[i + BUCKETS.len() + 2] += 1.0;
                    }
                    i += HIST_SERIES;
                }
                2 => {
                    let inc = (s.param * rng.unit() * 500.0).round() / 100.0;
                    self.values[i] = ((self.values[i] + inc) * 100.0).round() / 100.0;
                    i += 1;
                }
                3 => {
                    // Page-granular wander around the base size.
                    let base = s.param;
                    let delta = (rng.below(257) as f64 - 128.0) * 4096.0;
                    let v = (self.values[i] + delta).clamp(base * 0.5, base * 1.5);
                    self.values[i] = v;
                    i += 1;
                }
                _ => {
                    let v = self.values[i] + rng.below(11) as f64 - 5.0;
                    self.values[i] = v.clamp(0.0, s.param);
                    i += 1;
                }
            }
        }
    }

    /// Text format 0.0.4 exposition of the current values.
    pub fn render(&self, out: &mut String) {
        out.clear();
        let mut fam = usize::MAX;
        for (s, v) in self.series.iter().zip(&self.values) {
            if s.family != fam {
                fam = s.family;
                let f = &FAMILIES[fam];
                let full = if f.kind == Kind::Counter { format!("{}_total", f.name) } else { f.name.to_string() };
                let ty = match f.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                    Kind::Histogram => "histogram",
                };
                let _ = writeln!(out, "# HELP {full} {}\n# TYPE {full} {ty}", f.help);
            }
            out.push_str(&s.metric);
            out.push(' ');
            push_value(out, *v);
            out.push('\n');
        }
    }
}

/// Formats a value the way exporters do: integers without a fraction.
pub fn push_value(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Inserts `job` and `instance` into a `name{...}` metric string (label order is irrelevant
/// to every consumer, but keep it tidy: they go first).
pub fn with_target_labels(metric: &str, job: &str, instance: &str) -> String {
    match metric.find('{') {
        Some(p) => format!("{}{{instance=\"{instance}\",job=\"{job}\",{}", &metric[..p], &metric[p + 1..]),
        None => format!("{metric}{{instance=\"{instance}\",job=\"{job}\"}}"),
    }
}
