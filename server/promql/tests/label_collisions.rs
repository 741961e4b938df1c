//! Range functions drop `__name__`, so two input series can map to one output label set. That
//! is an error only at steps where both have a value (Prometheus's per-step check), which the
//! series-at-a-time evaluation must reproduce.

use oxeye_model::storage::memory::MemStorage;
use oxeye_model::{Appendable, Labels};
use oxeye_promql::{Engine, EngineOptions, Value};

fn storage(a_times: std::ops::Range<i64>, b_times: std::ops::Range<i64>) -> MemStorage {
    let s = MemStorage::new();
    let mut app = s.appender();
    let a = Labels::from_pairs([("__name__", "a_total"), ("x", "1")]);
    let b = Labels::from_pairs([("__name__", "b_total"), ("x", "1")]);
    for t in a_times {
        app.append(None, &a, t * 10_000, t as f64).unwrap();
    }
    for t in b_times {
        app.append(None, &b, t * 10_000, t as f64).unwrap();
    }
    app.commit().unwrap();
    s
}

#[test]
fn overlapping_series_with_the_same_output_labels_fail() {
    let s = storage(0..30, 0..30);
    let e = Engine::new(EngineOptions::default());
    let err = e.range_query(&s, "rate({__name__=~\"a_total|b_total\"}[1m])", 60_000, 200_000, 10_000).unwrap_err();
    assert!(err.to_string().contains("vector cannot contain metrics with the same labelset"), "{err}");
}

#[test]
fn disjoint_series_with_the_same_output_labels_merge() {
    // a has data up to 100 s, b from 200 s: with a 30 s window they never meet at one step.
    let s = storage(0..11, 20..40);
    let e = Engine::new(EngineOptions::default());
    let r = e.range_query(&s, "rate({__name__=~\"a_total|b_total\"}[30s])", 30_000, 390_000, 10_000).unwrap();
    let Value::Matrix(m) = r.value else { panic!("matrix expected") };
    assert_eq!(m.len(), 1, "{m:?}");
    let ts: Vec<i64> = m[0].samples.iter().map(|p| p.t).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "points out of order: {ts:?}");
    assert!(ts.contains(&100_000) && ts.contains(&300_000), "{ts:?}");
    assert_eq!(m[0].labels, Labels::from_pairs([("x", "1")]));
}
