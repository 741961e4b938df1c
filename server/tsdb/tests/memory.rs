//! Measures heap bytes per active head series with a counting global allocator (this test
//! binary only): 100k series with 20 samples each at a 15s interval.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use oxeye_model::Labels;
use oxeye_model::storage::Appendable;
use oxeye_tsdb::{Db, Options};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged and only adds bookkeeping
// of the requested sizes; no memory is touched.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn bytes_per_active_series() {
    const N: usize = 100_000;
    const SAMPLES: i64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    // Label sets like node-exporter targets: 100 metric names x 1000 instances.
    let labels: Vec<Labels> = (0..N)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("node_metric_{}_total", i % 100)),
                ("instance", format!("10.0.{}.{}:9100", i / 100 / 250, (i / 100) % 250)),
                ("job", "node".to_string()),
                ("cpu", format!("{}", i % 8)),
            ])
        })
        .collect();
    let base = LIVE.load(Ordering::Relaxed);
    let mut refs = vec![None; N];
    let mut started = std::time::Instant::now();
    for step in 0..SAMPLES {
        if step == 1 {
            // Steady state from here: series exist, refs are cached (the scrape loop's path).
            started = std::time::Instant::now();
        }
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            let v = (step * 3 + (i as i64 % 17)) as f64;
            refs[i] = Some(app.append(refs[i], l, step * 15_000 + (i as i64 % 1000), v).unwrap());
        }
        app.commit().unwrap();
    }
    let elapsed = started.elapsed();
    // refs vector itself is the test's, not the database's.
    let used = LIVE.load(Ordering::Relaxed) - base - (N * std::mem::size_of::<Option<u64>>()) as isize;
    let per_series = used as f64 / N as f64;
    println!(
        "memory: {N} series x {SAMPLES} samples: {:.0} bytes per series in the heap ({} MiB); append+commit+WAL with cached refs {:.0} ns/sample",
        per_series,
        used >> 20,
        elapsed.as_nanos() as f64 / (N as f64 * (SAMPLES - 1) as f64)
    );
    assert_eq!(db.head_stats().num_series, N as u64);
    assert!(per_series < 750.0, "{per_series:.0} bytes per series");
}
