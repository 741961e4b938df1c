//! Behaviour of the whole database through the model's `Appendable` / `Queryable` traits:
//! append rules, queries over head and blocks, WAL replay, compaction and retention.

use std::sync::Arc;
use std::time::Duration;

use oxeye_model::storage::{Appendable, Queryable};
use oxeye_model::{AppendError, Labels, MatchOp, Matcher, STALE_NAN, Sample};
use oxeye_tsdb::{Db, Options};

const H: i64 = 3600 * 1000;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    Matcher::new(op, n, v).unwrap()
}

fn open(dir: &std::path::Path) -> Arc<Db> {
    Db::open(dir, Options::default()).unwrap()
}

fn all(db: &Db) -> Vec<oxeye_model::Series> {
    db.select(i64::MIN, i64::MAX, &[m(MatchOp::RegexMatch, "__name__", ".+")]).unwrap()
}

/// Appends `n` samples every 15s from t0 for each of `series` label sets, one commit per step.
fn fill(db: &Db, series: &[Labels], t0: i64, n: i64) {
    let mut refs = vec![None; series.len()];
    for i in 0..n {
        let mut app = db.appender();
        for (k, l) in series.iter().enumerate() {
            let t = t0 + i * 15_000;
            refs[k] = Some(app.append(refs[k], l, t, (t / 15_000 + k as i64) as f64).unwrap());
        }
        app.commit().unwrap();
    }
}

#[test]
fn append_rules_duplicates_out_of_order_bounds_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let a = ls(&[("__name__", "up"), ("job", "a")]);
    let mut app = db.appender();
    let r = app.append(None, &a, 10 * H, 1.0).unwrap();
    assert_eq!(app.append(None, &ls(&[("job", "x")]), 10 * H, 1.0), Err(AppendError::InvalidLabels));
    assert_eq!(app.append(None, &ls(&[("__name__", "")]), 10 * H, 1.0), Err(AppendError::InvalidLabels));
    app.commit().unwrap();

    let mut app = db.appender();
    assert_eq!(app.append(Some(r), &a, 10 * H, 1.0), Ok(r), "same ts and value is accepted silently");
    assert_eq!(app.append(Some(r), &a, 10 * H, 2.0), Err(AppendError::DuplicateSampleForTimestamp));
    assert_eq!(app.append(Some(r), &a, 10 * H - 1000, 2.0), Err(AppendError::OutOfOrder));
    assert_eq!(app.append(Some(r), &a, 8 * H, 2.0), Err(AppendError::OutOfBounds), "older than max - 1h");
    app.append(Some(r), &a, 10 * H + 15_000, STALE_NAN).unwrap();
    // A stale cached ref falls back to the labels.
    assert_eq!(app.append(Some(987_654), &a, 10 * H + 30_000, 3.0), Ok(r));
    app.commit().unwrap();

    // Not visible before commit.
    let mut app = db.appender();
    app.append(Some(r), &a, 10 * H + 45_000, 4.0).unwrap();
    assert_eq!(all(&db)[0].samples.len(), 3);
    app.rollback();
    assert_eq!(all(&db)[0].samples.len(), 3);

    let got = all(&db);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].labels, a);
    let s = &got[0].samples;
    assert_eq!(s.iter().map(|s| s.t).collect::<Vec<_>>(), vec![10 * H, 10 * H + 15_000, 10 * H + 30_000]);
    assert_eq!(s[1].v.to_bits(), oxeye_model::STALE_NAN_BITS, "staleness marker is bit-exact");

    let mut text = String::new();
    let mut reg = prometheus_client::registry::Registry::default();
    db.register_metrics(&mut reg);
    prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
    assert!(text.contains("prometheus_tsdb_out_of_order_samples_total{type=\"float\"} 1"), "{text}");
    assert!(text.contains("prometheus_tsdb_out_of_bound_samples_total{type=\"float\"} 1"), "{text}");
    assert!(text.contains("prometheus_tsdb_head_samples_appended_total{type=\"float\"} 3"), "{text}");
    assert!(text.contains("prometheus_tsdb_head_series 1"), "{text}");
    assert!(text.contains("prometheus_tsdb_head_series_created_total 1"), "{text}");
    for name in [
        "prometheus_tsdb_head_chunks",
        "prometheus_tsdb_compactions_total",
        "prometheus_tsdb_wal_truncations_total",
        "prometheus_tsdb_blocks_loaded",
        "prometheus_tsdb_storage_blocks_bytes",
        "prometheus_tsdb_retention_limit_bytes",
        "prometheus_tsdb_size_retentions_total",
        "prometheus_tsdb_time_retentions_total",
        "prometheus_tsdb_wal_corruptions_total",
        "prometheus_tsdb_compactions_failed_total",
        "prometheus_tsdb_head_series_removed_total",
        "prometheus_tsdb_head_min_time",
        "prometheus_tsdb_head_max_time",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
}

#[test]
fn queries_matchers_label_names_values_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let series = vec![
        ls(&[("__name__", "up"), ("job", "api"), ("env", "prod")]),
        ls(&[("__name__", "up"), ("job", "db")]),
        ls(&[("__name__", "up"), ("job", "api"), ("env", "dev")]),
        ls(&[("__name__", "http_requests_total"), ("job", "api"), ("code", "200")]),
    ];
    fill(&db, &series, 0, 10);
    let names = |ms: &[Matcher]| -> Vec<Labels> { db.series(0, H, ms).unwrap() };
    assert_eq!(
        names(&[m(MatchOp::Equal, "__name__", "up"), m(MatchOp::NotEqual, "env", "prod")]),
        vec![series[2].clone(), series[1].clone()]
    );
    assert_eq!(names(&[m(MatchOp::Equal, "env", "")]), vec![series[3].clone(), series[1].clone()]);
    assert_eq!(names(&[m(MatchOp::NotEqual, "env", "")]).len(), 2);
    assert_eq!(names(&[m(MatchOp::RegexMatch, "env", ".*")]).len(), 4);
    assert_eq!(names(&[m(MatchOp::RegexNoMatch, "job", "api|db")]).len(), 0);
    assert_eq!(names(&[m(MatchOp::RegexMatch, "job", "d.")]), vec![series[1].clone()]);
    // Time range: nothing after the data.
    assert!(db.select(10 * H, 11 * H, &[m(MatchOp::Equal, "job", "db")]).unwrap().is_empty());
    let sel = db.select(15_000, 30_000, &[m(MatchOp::Equal, "job", "db")]).unwrap();
    assert_eq!(sel[0].samples, vec![Sample::new(15_000, 2.0), Sample::new(30_000, 3.0)]);

    assert_eq!(db.label_names(0, H, &[]).unwrap(), vec!["__name__", "code", "env", "job"]);
    assert_eq!(db.label_names(0, H, &[m(MatchOp::Equal, "job", "db")]).unwrap(), vec!["__name__", "job"]);
    assert_eq!(db.label_values(0, H, "job", &[]).unwrap(), vec!["api", "db"]);
    assert_eq!(db.label_values(0, H, "env", &[m(MatchOp::Equal, "job", "api")]).unwrap(), vec!["dev", "prod"]);

    let st = db.head_stats();
    assert_eq!(st.num_series, 4);
    assert_eq!(st.chunk_count, 4);
    assert_eq!((st.min_time, st.max_time), (0, 9 * 15_000));
    assert_eq!(st.num_label_pairs, 7, "up, http_requests_total, api, db, prod, dev, 200");
    let status = db.tsdb_status(1);
    assert_eq!(status.series_count_by_metric_name, vec![("up".to_string(), 3)]);
    // __name__, env and job all have two values; ties are ordered by name.
    assert_eq!(status.label_value_count_by_label_name, vec![("__name__".to_string(), 2)]);
    assert_eq!(status.series_count_by_label_value_pair, vec![("__name__=up".to_string(), 3)]);
    assert_eq!(db.tsdb_status(10).memory_in_bytes_by_label_name.iter().find(|(n, _)| n == "job").map(|x| x.1), Some(5));
}

#[test]
fn wal_replay_after_drop_without_close_and_lock() {
    let dir = tempfile::tempdir().unwrap();
    let series: Vec<Labels> = (0..50).map(|i| ls(&[("__name__", "m"), ("i", &i.to_string())])).collect();
    let before = {
        let db = open(dir.path());
        assert!(matches!(Db::open(dir.path(), Options::default()), Err(oxeye_tsdb::Error::Locked(_))));
        fill(&db, &series, 1000, 300);
        let mut app = db.appender();
        app.append(None, &ls(&[("__name__", "stale")]), 1000 + 299 * 15_000, STALE_NAN).unwrap();
        app.commit().unwrap();
        let mut app = db.appender();
        app.append(None, &ls(&[("__name__", "never_committed")]), 1000 + 299 * 15_000, 1.0).unwrap();
        app.rollback();
        all(&db)
    };
    let db = open(dir.path());
    let after = all(&db);
    assert_eq!(after.len(), 51);
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    let stale = after.iter().find(|s| s.labels.metric_name() == "stale").unwrap();
    assert_eq!(stale.samples[0].v.to_bits(), oxeye_model::STALE_NAN_BITS);
    // Appending continues after replay, with refs that do not collide.
    fill(&db, &series[..1], 1000 + 300 * 15_000, 1);
    let mut app = db.appender();
    app.append(None, &ls(&[("__name__", "new")]), 1000 + 300 * 15_000, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(all(&db).len(), 52);
    db.close().unwrap();
    drop(db);
    assert_eq!(all(&open(dir.path())).len(), 52);
}

#[test]
fn corrupt_wal_tail_is_truncated_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let series: Vec<Labels> = (0..5).map(|i| ls(&[("__name__", "m"), ("i", &i.to_string())])).collect();
    {
        let db = open(dir.path());
        fill(&db, &series, 0, 100);
    }
    let wal = dir.path().join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal).unwrap().map(|e| e.unwrap().path()).collect();
    segs.sort();
    let last = segs.iter().rev().find(|p| std::fs::metadata(p).unwrap().len() > 0).unwrap().clone();
    let mut raw = std::fs::read(&last).unwrap();
    let n = raw.len();
    // Garble the last 20 bytes (inside the final commit's record) and add torn garbage.
    for b in &mut raw[n - 20..] {
        *b ^= 0x5a;
    }
    raw.extend_from_slice(&[2, 0xff, 0xff, 0, 0, 1, 2]);
    std::fs::write(&last, &raw).unwrap();

    let db = open(dir.path());
    let got = all(&db);
    assert_eq!(got.len(), 5);
    for s in &got {
        assert_eq!(s.samples.len(), 99, "every commit but the garbled last one survives");
        for (i, x) in s.samples.iter().enumerate() {
            assert_eq!(x.t, i as i64 * 15_000);
        }
    }
    let mut text = String::new();
    let mut reg = prometheus_client::registry::Registry::default();
    db.register_metrics(&mut reg);
    prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
    assert!(text.contains("prometheus_tsdb_wal_corruptions_total 1"), "{text}");
    assert!(std::fs::metadata(&last).unwrap().len() < n as u64, "segment truncated to its valid prefix");
}

#[test]
fn head_compaction_persists_blocks_and_queries_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let series: Vec<Labels> =
        (0..20).map(|i| ls(&[("__name__", if i % 2 == 0 { "a" } else { "b" }), ("i", &i.to_string())])).collect();
    let db = open(dir.path());
    // 5 hours of 15s samples.
    fill(&db, &series, 0, 5 * 240);
    let before = all(&db);
    let before_b = db.select(H, 3 * H, &[m(MatchOp::Equal, "__name__", "b")]).unwrap();
    db.compact_head_now().unwrap();
    let blocks = db.blocks();
    assert_eq!(
        blocks.len(),
        1,
        "head spanning 5h keeps the last 3h: one 2h block cut (Prometheus cuts until <=1.5 ranges remain)"
    );
    assert_eq!((blocks[0].min_time, blocks[0].max_time), (0, 2 * H));
    assert_eq!(blocks[0].stats.num_samples, 20 * 480);
    assert!(db.head_stats().min_time >= 2 * H);
    assert_eq!(all(&db), before);
    assert_eq!(db.select(H, 3 * H, &[m(MatchOp::Equal, "__name__", "b")]).unwrap(), before_b);
    assert_eq!(db.label_values(0, H, "i", &[]).unwrap().len(), 20);
    // Appends into the persisted range are out of bounds.
    let mut app = db.appender();
    assert_eq!(app.append(None, &series[0], H, 1.0), Err(AppendError::OutOfBounds));
    app.rollback();
    // The WAL was checkpointed; a restart sees the same data (blocks + checkpoint + segments).
    assert!(
        std::fs::read_dir(dir.path().join("wal")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("checkpoint."))
    );
    drop(db);
    let db = open(dir.path());
    assert_eq!(all(&db), before);
    assert_eq!(db.blocks().len(), 1);
}

#[test]
fn block_compaction_merges_and_retention_deletes_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let series: Vec<Labels> = (0..10).map(|i| ls(&[("__name__", "c"), ("i", &i.to_string())])).collect();
    let opts = Options { retention: Some(Duration::from_secs(30 * 24 * 3600)), ..Options::default() };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, &series, 0, 11 * 240);
    let before = all(&db);
    db.compact_head_now().unwrap();
    let blocks = db.blocks();
    let spans: Vec<(i64, i64, u32)> =
        blocks.iter().map(|b| (b.min_time / H, b.max_time / H, b.compaction.level)).collect();
    // Four 2h blocks were cut (0-8h); the first three merged into 0-6h, the newest is left alone.
    assert_eq!(spans, vec![(0, 6, 2), (6, 8, 1)]);
    assert_eq!(blocks[0].compaction.sources.len(), 3);
    assert_eq!(all(&db), before, "compaction changes no query result");
    drop(db);

    // Time retention of 1h, measured from the newest block's end (8h): the 0-6h block goes,
    // the newest block always stays.
    let db = Db::open(dir.path(), Options { retention: Some(Duration::from_secs(3600)), ..opts.clone() }).unwrap();
    db.compact_head_now().unwrap();
    let spans: Vec<(i64, i64)> = db.blocks().iter().map(|b| (b.min_time / H, b.max_time / H)).collect();
    assert_eq!(spans, vec![(6, 8)]);
    assert!(db.select(0, 5 * H, &[m(MatchOp::Equal, "__name__", "c")]).unwrap().is_empty());
    drop(db);

    // Size retention.
    let dir2 = tempfile::tempdir().unwrap();
    let db = Db::open(dir2.path(), Options { retention: None, ..opts.clone() }).unwrap();
    fill(&db, &series, 0, 11 * 240);
    db.compact_head_now().unwrap();
    assert_eq!(db.blocks().len(), 2);
    let newest = db.blocks()[1].clone();
    let newest_bytes: u64 = dir_size(&dir2.path().join(&newest.ulid));
    let wal_bytes = dir_size(&dir2.path().join("wal"));
    drop(db);
    let db =
        Db::open(dir2.path(), Options { retention: None, max_bytes: Some(newest_bytes + wal_bytes + 1000), ..opts })
            .unwrap();
    db.compact_head_now().unwrap();
    assert_eq!(db.blocks().iter().map(|b| b.ulid.clone()).collect::<Vec<_>>(), vec![newest.ulid]);
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut t = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let md = e.metadata().unwrap();
        t += if md.is_dir() { dir_size(&e.path()) } else { md.len() };
    }
    t
}

#[test]
fn concurrent_appenders_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    std::thread::scope(|s| {
        for w in 0..4 {
            let db = &db;
            s.spawn(move || {
                let series: Vec<Labels> =
                    (0..100).map(|i| ls(&[("__name__", "x"), ("w", &w.to_string()), ("i", &i.to_string())])).collect();
                fill(db, &series, 0, 200);
            });
        }
        let db = &db;
        s.spawn(move || {
            for _ in 0..50 {
                for s in db.select(0, H, &[m(MatchOp::Equal, "w", "1")]).unwrap() {
                    assert!(s.samples.windows(2).all(|w| w[0].t < w[1].t));
                }
            }
        });
    });
    let got = all(&db);
    assert_eq!(got.len(), 400);
    assert!(got.iter().all(|s| s.samples.len() == 200));
}

/// Prints bytes per sample on disk after compaction for scrape-like data and holds the target.
#[test]
fn disk_bytes_per_sample_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { retention: None, ..Options::default() }).unwrap();
    let n_series = 300usize;
    let series: Vec<Labels> = (0..n_series)
        .map(|i| {
            ls(&[
                ("__name__", &format!("metric_{}", i % 30)),
                ("instance", &format!("host-{}:9100", i / 30)),
                ("job", "node"),
            ])
        })
        .collect();
    let mut refs = vec![None; n_series];
    let mut counters = vec![0f64; n_series];
    let mut seed = 12345u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let steps = 13 * 240; // 13h of 15s scrapes: compaction cuts 2h blocks and merges them to 6h.
    for step in 0..steps {
        let t = step as i64 * 15_000;
        let mut app = db.appender();
        for (k, l) in series.iter().enumerate() {
            let v = match k % 3 {
                // Counters: increase by a small integer most scrapes.
                0 => {
                    counters[k] += (rnd() % 50) as f64;
                    counters[k]
                }
                // Gauges changing now and then (memory, queue lengths).
                1 => {
                    if rnd() % 10 == 0 {
                        counters[k] = (rnd() % 1_000_000) as f64;
                    }
                    counters[k]
                }
                // Constant-ish: up, info metrics, config values.
                _ => 1.0,
            };
            refs[k] = Some(app.append(refs[k], l, t, v).unwrap());
        }
        app.commit().unwrap();
    }
    db.compact_head_now().unwrap();
    let blocks = db.blocks();
    let samples: u64 = blocks.iter().map(|b| b.stats.num_samples).sum();
    let bytes: u64 = blocks.iter().map(|b| dir_size(&dir.path().join(&b.ulid))).sum();
    let chunk_bytes: u64 =
        blocks.iter().map(|b| std::fs::metadata(dir.path().join(&b.ulid).join("chunks/000001")).unwrap().len()).sum();
    let per = bytes as f64 / samples as f64;
    println!(
        "disk: {} blocks, {samples} samples, {bytes} bytes total ({:.3} B/sample), chunks only {:.3} B/sample",
        blocks.len(),
        per,
        chunk_bytes as f64 / samples as f64
    );
    assert!(blocks.iter().any(|b| b.compaction.level > 1));
    assert!(per <= 1.0, "{per:.3} bytes per sample on disk");
}

#[test]
fn append_by_ref_uses_known_refs_and_reports_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let l = oxeye_model::Labels::from_pairs([("__name__", "by_ref"), ("k", "v")]);
    let mut app = db.appender();
    let r = app.append(None, &l, 1_000, 1.0).unwrap();
    assert!(app.append_by_ref(r, 2_000, 2.0).unwrap(), "a ref from this appender is known");
    assert!(!app.append_by_ref(r + 1_000_000, 2_000, 2.0).unwrap(), "an unknown ref must say so");
    app.commit().unwrap();
    let mut app = db.appender();
    assert!(matches!(app.append_by_ref(r, 1_500, 9.0), Err(oxeye_model::AppendError::OutOfOrder)));
    app.rollback();
    let got =
        oxeye_model::Queryable::select(&*db, 0, 10_000, &[oxeye_model::Matcher::equal("__name__", "by_ref")]).unwrap();
    let ts: Vec<i64> = got[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, vec![1_000, 2_000]);
}
