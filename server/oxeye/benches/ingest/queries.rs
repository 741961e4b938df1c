//! The dashboard query mix, timed through `/api/v1/query_range` as Grafana would call it.

use std::time::{Duration, Instant};

use crate::servers::{Kind, Proc};

pub struct Query {
    pub name: &'static str,
    pub expr: String,
}

/// The dashboard mix, plus `OXEYE_BENCH_EXTRA_QUERIES` ("name=expr;name=expr", for digging
/// into one figure without touching the mix).
pub fn mix(first_instance: &str) -> Vec<Query> {
    let mut v = vec![
        Query { name: "sum by rate", expr: "sum by (code) (rate(bench_http_requests_total[1m]))".into() },
        Query {
            name: "histogram_quantile",
            expr: "histogram_quantile(0.9, sum by (le, method) (rate(bench_http_request_duration_seconds_bucket[1m])))"
                .into(),
        },
        Query { name: "topk", expr: "topk(10, rate(bench_cpu_seconds_total[1m]))".into() },
        Query { name: "selector", expr: format!("bench_memory_bytes{{instance=\"{first_instance}\"}}") },
    ];
    if let Ok(extra) = std::env::var("OXEYE_BENCH_EXTRA_QUERIES") {
        for q in extra.split(';').filter(|q| !q.trim().is_empty()) {
            let (name, expr) = q.split_once('=').unwrap_or((q, q));
            v.push(Query { name: Box::leak(name.trim().to_string().into_boxed_str()), expr: expr.trim().to_string() });
        }
    }
    v
}

#[derive(Clone, Debug, Default)]
pub struct QueryResult {
    pub name: &'static str,
    pub expr: String,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub series: usize,
    pub points: usize,
    pub error: Option<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Where and how often to run the mix: [start, end] in unix seconds at `step` seconds, each
/// query `warmup` times untimed, then `runs` times timed.
#[derive(Clone, Copy)]
pub struct Plan {
    pub start: f64,
    pub end: f64,
    pub step: f64,
    pub warmup: usize,
    pub runs: usize,
}

pub fn run(http: &reqwest::blocking::Client, p: &Proc, queries: &[Query], plan: &Plan) -> Vec<QueryResult> {
    let Plan { start, end, step, warmup, runs } = *plan;
    let mut out = Vec::new();
    for q in queries {
        let mut r = QueryResult { name: q.name, expr: q.expr.clone(), ..Default::default() };
        let mut form = vec![
            ("query", q.expr.clone()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{step}")),
        ];
        if p.kind == Kind::VictoriaMetrics {
            // No rollup result cache: every run computes.
            form.push(("nocache", "1".into()));
        }
        let url = format!("{}/api/v1/query_range", p.base());
        let mut times = Vec::with_capacity(runs);
        for i in 0..warmup + runs {
            let t0 = Instant::now();
            let resp = http.post(&url).form(&form).send().and_then(|r| r.text());
            let el = t0.elapsed();
            match resp {
                Ok(body) => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    if v["status"] != "success" {
                        r.error = Some(body.chars().take(300).collect());
                        break;
                    }
                    if i == 0 {
                        let res = v["data"]["result"].as_array().cloned().unwrap_or_default();
                        r.series = res.len();
                        r.points = res.iter().map(|s| s["values"].as_array().map_or(0, |a| a.len())).sum();
                    }
                }
                Err(e) => {
                    r.error = Some(e.to_string());
                    break;
                }
            }
            if i >= warmup {
                times.push(el.as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        r.median_ms = percentile(&times, 0.5);
        r.p90_ms = percentile(&times, 0.9);
        out.push(r);
    }
    out
}

/// An instant query's vector result as (labels, value) pairs, for sanity checks.
pub fn instant(http: &reqwest::blocking::Client, p: &Proc, expr: &str) -> anyhow::Result<Vec<f64>> {
    let body = http
        .post(format!("{}/api/v1/query", p.base()))
        .form(&[("query", expr)])
        .timeout(Duration::from_secs(60))
        .send()?
        .text()?;
    let v: serde_json::Value = serde_json::from_str(&body)?;
    if v["status"] != "success" {
        anyhow::bail!("{expr}: {body}");
    }
    Ok(v["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["value"][1].as_str().and_then(|x| x.parse().ok()))
        .collect())
}
