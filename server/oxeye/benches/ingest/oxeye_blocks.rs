//! Disk per sample after compaction for Oxeye: the dataset appended through the `oxeye-tsdb`
//! library in time order (as scrapes would), one commit per timestamp, then
//! `compact_head_now`, then the block directories measured. The head keeps its last 1.5
//! block ranges in memory, as Prometheus's does, so only the blocks cut so far are measured
//! (bytes and samples both from the blocks).

use std::path::Path;
use std::time::Instant;

use std::collections::HashMap;

use oxeye_model::storage::{Appendable, Queryable};
use oxeye_model::{Label, Labels, MatchOp, Matcher, SeriesRef};
use oxeye_tsdb::{Db, Options};

use crate::dataset::{Dataset, DiskResult, measure_blocks};

/// `name{a="b",...}` (no escapes: the generator writes none) to labels.
fn parse(metric: &str) -> Labels {
    let (name, rest) = metric.split_once('{').unwrap_or((metric, "}"));
    let mut v = vec![Label::new("__name__", name)];
    for pair in rest.trim_end_matches('}').split("\",").filter(|p| !p.is_empty()) {
        if let Some((k, val)) = pair.split_once("=\"") {
            v.push(Label::new(k, val.trim_end_matches('"')));
        }
    }
    Labels::from_pairs(v.into_iter().map(|l| (l.name, l.value)))
}

pub fn build(ds: &Dataset, dir: &Path) -> anyhow::Result<DiskResult> {
    let t0 = Instant::now();
    let db = Db::open(dir, Options { retention: None, ..Options::default() })?;
    // All series with their labels and values, in the dataset's order.
    let mut series: Vec<(Labels, &[Vec<f64>], usize)> = Vec::with_capacity(ds.num_series());
    for (inst, t, m) in &ds.targets {
        for (i, s) in t.series.iter().enumerate() {
            series.push((parse(&crate::workload::with_target_labels(&s.metric, "bench", inst)), m.as_slice(), i));
        }
    }
    let mut refs: Vec<Option<SeriesRef>> = vec![None; series.len()];
    let mut appended = 0u64;
    for k in 0..ds.steps {
        let t = ds.ts(k);
        let mut app = db.appender();
        for (j, (ls, m, i)) in series.iter().enumerate() {
            let r = app.append(refs[j], ls, t, m[k][*i]).map_err(|e| anyhow::anyhow!("append at step {k}: {e:?}"))?;
            refs[j] = Some(r);
            appended += 1;
        }
        app.commit().map_err(|e| anyhow::anyhow!("commit at step {k}: {e:?}"))?;
    }
    db.compact_head_now()?;
    let blocks = db.blocks();
    // Read the compacted range back: every sample must come back bit for bit.
    let block_end = blocks.iter().map(|b| b.max_time).max().unwrap_or(i64::MIN);
    let want: HashMap<&Labels, (&[Vec<f64>], usize)> = series.iter().map(|(l, m, i)| (l, (*m, *i))).collect();
    let all = Matcher::new(MatchOp::RegexMatch, "__name__", "bench_.+").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let got = db.select(ds.start_ms, block_end - 1, &[all]).map_err(|e| anyhow::anyhow!("select: {e:?}"))?;
    let (mut checked, mut bad) = (0u64, 0u64);
    let expected: usize = (0..ds.steps).filter(|&k| ds.ts(k) < block_end).count();
    anyhow::ensure!(got.len() == series.len(), "read back {} series of {}", got.len(), series.len());
    for s in &got {
        let Some((m, i)) = want.get(&s.labels) else { anyhow::bail!("unknown series read back: {:?}", s.labels) };
        if s.samples.len() != expected {
            bad += 1;
        }
        for (k, smp) in s.samples.iter().enumerate() {
            checked += 1;
            if smp.t != ds.ts(k) || smp.v.to_bits() != m[k][*i].to_bits() {
                bad += 1;
            }
        }
    }
    anyhow::ensure!(bad == 0, "read-back mismatch: {bad} of {checked} samples differ or are missing");
    db.close()?;
    drop(db);
    let (bytes, samples, nblocks, breakdown) = measure_blocks(dir);
    anyhow::ensure!(nblocks > 0, "no block was cut from the head ({appended} samples appended)");
    Ok(DiskResult {
        bytes,
        samples,
        blocks: nblocks,
        breakdown,
        note: format!(
            "oxeye-tsdb: {appended} samples appended in time order, compact_head_now; {} block(s) of {:?} min measured (the rest stays in the head); {checked} samples read back bit-exact",
            blocks.len(),
            blocks.iter().map(|b| (b.max_time - b.min_time) / 60_000).collect::<Vec<_>>()
        ),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
