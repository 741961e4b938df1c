//! The results table (markdown, printed and written to target/bench-ingest.md).

use std::fmt::Write as _;

use crate::run::{DiskRun, ServerResult, Settings};
use crate::servers::Kind;

fn get(rs: &[(Kind, ServerResult)], k: Kind) -> Option<&ServerResult> {
    rs.iter().find(|(kk, r)| *kk == k && r.error.is_none()).map(|(_, r)| r)
}

fn fmt(v: Option<f64>, prec: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.prec$}"),
        _ => "-".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() && b != 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

pub fn markdown(st: &Settings, rs: &[(Kind, ServerResult)], disk: &[DiskRun]) -> String {
    let ox = get(rs, Kind::Oxeye);
    let pr = get(rs, Kind::Prometheus);
    let vm = get(rs, Kind::VictoriaMetrics);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Ingest: {} targets x {} series, scrape_interval {} s, warm-up {} s, measured {} s; {} query runs each.\n",
        st.targets, st.series, st.interval, st.warmup, st.seconds, st.query_runs
    );
    let _ = writeln!(
        s,
        "| figure | Oxeye | Prometheus 2.42 | VictoriaMetrics 1.79 | Oxeye/Prometheus | Oxeye/VM | target |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    let mut row = |name: &str, f: &dyn Fn(&ServerResult) -> f64, prec: usize, target: &str| {
        let o = ox.map(f);
        let p = pr.map(f);
        let v = vm.map(f);
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {target} |",
            fmt(o, prec),
            fmt(p, prec),
            fmt(v, prec),
            ratio(o, p),
            ratio(o, v)
        );
    };
    row("CPU per ingested sample, us (= CPU s per 1M samples)", &|r| r.us_per_sample(), 3, "<= 0.5x Prometheus");
    row("CPU seconds in window", &|r| r.cpu_s, 1, "");
    row("samples ingested in window (server's counter)", &|r| r.samples, 0, "");
    row("samples expected (targets x (series+5) x scrapes)", &|r| r.expected_samples, 0, "");
    row("targets up at end", &|r| r.targets_up, 0, "");
    row("active series (server's figure)", &|r| r.active_series, 0, "");
    row("RSS at end, MiB", &|r| r.rss_end as f64 / 1048576.0, 1, "");
    row("RSS max during window, MiB", &|r| r.rss_hwm as f64 / 1048576.0, 1, "");
    row("RSS per active series, bytes", &|r| r.rss_per_series(), 0, "<= VictoriaMetrics");
    row("data dir at end, MiB (WAL-dominated)", &|r| r.disk_end as f64 / 1048576.0, 1, "");
    row("data dir per sample ingested so far, bytes", &|r| r.disk_per_sample(), 2, "");
    row("measured window, s", &|r| r.window_s, 1, "");
    row("scrapes served by the targets in window", &|r| r.scrapes_served as f64, 0, "");
    row("bench process CPU in window (targets), s", &|r| r.bench_cpu_s, 1, "");
    row("machine load average (1 min) at window start", &|r| r.load_start, 2, "");
    row("machine load average (1 min) at window end", &|r| r.load_end, 2, "");
    let names: Vec<&'static str> = rs
        .iter()
        .find(|(_, r)| !r.queries.is_empty())
        .map(|(_, r)| r.queries.iter().map(|q| q.name).collect())
        .unwrap_or_default();
    for n in &names {
        let qf = |r: &ServerResult, med: bool| -> f64 {
            r.queries
                .iter()
                .find(|q| q.name == *n && q.error.is_none())
                .map(|q| if med { q.median_ms } else { q.p90_ms })
                .unwrap_or(f64::NAN)
        };
        row(&format!("query `{n}` median, ms"), &|r| qf(r, true), 2, "<= 0.5x Prometheus");
        row(&format!("query `{n}` p90, ms"), &|r| qf(r, false), 2, "");
    }
    // Disk after compaction.
    for run in disk {
        let dget = |k: Kind| -> Option<f64> {
            run.results.iter().find(|(kk, _)| *kk == k).and_then(|(_, r)| r.as_ref().ok()).map(|d| d.bytes_per_sample())
        };
        let (o, p, v) = (dget(Kind::Oxeye), dget(Kind::Prometheus), dget(Kind::VictoriaMetrics));
        let _ = writeln!(
            s,
            "| disk per sample after compaction, bytes (timestamps +0-{} ms jitter) | {} | {} | {} | {} | {} | <= 1.0 byte |",
            run.jitter_ms,
            fmt(o, 3),
            fmt(p, 3),
            fmt(v, 3),
            ratio(o, p),
            ratio(o, v)
        );
    }
    let _ = writeln!(s);
    // Query details.
    if !names.is_empty() {
        let _ = writeln!(s, "Queries (`/api/v1/query_range`, step 10 s, over everything ingested):\n");
        let _ = writeln!(s, "| query | expression | result series (Oxeye / Prometheus / VM) |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for n in &names {
            let e = rs
                .iter()
                .flat_map(|(_, r)| r.queries.iter())
                .find(|q| q.name == *n)
                .map(|q| q.expr.clone())
                .unwrap_or_default();
            let cnt = |r: Option<&ServerResult>| {
                r.and_then(|r| r.queries.iter().find(|q| q.name == *n))
                    .map(|q| {
                        if q.error.is_some() {
                            "error".to_string()
                        } else {
                            format!("{} ({} points)", q.series, q.points)
                        }
                    })
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(s, "| {n} | `{e}` | {} / {} / {} |", cnt(ox), cnt(pr), cnt(vm));
        }
        let _ = writeln!(s);
    }
    for run in disk {
        let _ = writeln!(s, "Compaction dataset: {}.\n", run.desc);
        for (k, r) in &run.results {
            match r {
                Ok(d) => {
                    let _ = writeln!(
                        s,
                        "- {}: {} bytes for {} samples = {:.3} B/sample; {}; blocks {}; {:?}",
                        k.title(),
                        d.bytes,
                        d.samples,
                        d.bytes_per_sample(),
                        d.note,
                        d.blocks,
                        d.breakdown
                    );
                }
                Err(e) => {
                    let _ = writeln!(s, "- {}: not measured: {}", k.title(), e);
                }
            }
        }
        let _ = writeln!(s);
    }
    for (k, r) in rs {
        if let Some(e) = &r.error {
            let _ = writeln!(s, "- {} run failed: {}", k.title(), e.replace('\n', " / "));
        }
        for q in &r.queries {
            if let Some(e) = &q.error {
                let _ = writeln!(s, "- {} query `{}` failed: {}", k.title(), q.name, e.replace('\n', " "));
            }
        }
    }
    s
}
