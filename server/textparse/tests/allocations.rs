//! The hot path allocates nothing per sample: a counting global allocator watches a whole parse.
// `GlobalAlloc` is an unsafe trait by definition; this allocator only counts and forwards to the
// system allocator, and exists only in this test binary.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use oxeye_textparse::{Entry, Format, Parser};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

fn body(om: bool, families: usize, series: usize) -> String {
    let mut b = String::new();
    for f in 0..families {
        let fam = format!("node_metric_{f}");
        let (typ, sample) = if om { ("counter", format!("{fam}_total")) } else { ("counter", fam.clone()) };
        b.push_str(&format!("# HELP {fam} Some help text.\n# TYPE {fam} {typ}\n"));
        for s in 0..series {
            b.push_str(&format!("{sample}{{cpu=\"{s}\",mode=\"idle\"}} {}.5\n", s * 1000 + f));
        }
    }
    if om {
        b.push_str("# EOF\n");
    }
    b
}

/// Parses the body once and returns (allocations during the parse loop, samples).
fn parse_counting(body: &str, format: Format) -> (u64, u64) {
    let mut p = Parser::new(body.as_bytes(), format);
    let before = allocs();
    let mut n = 0;
    while let Some(e) = p.next().expect("parses") {
        if let Entry::Sample(s) = e {
            n += 1;
            std::hint::black_box((s.series, s.value));
        }
    }
    (allocs() - before, n)
}

#[test]
fn text_format_parse_allocates_nothing() {
    let body = body(false, 50, 40);
    let (a, n) = parse_counting(&body, Format::PrometheusText);
    assert_eq!(n, 2000);
    assert_eq!(a, 0, "allocations while parsing {n} text-format samples");
}

#[test]
fn openmetrics_allocates_per_family_not_per_sample() {
    let body = body(true, 50, 40);
    let (a, n) = parse_counting(&body, Format::OpenMetrics);
    assert_eq!(n, 2000);
    // Strict mode remembers each family's names (a few strings per family) and its groups
    // (a hash set whose growth is amortized); nothing scales with samples beyond that.
    assert!(a <= 50 * 4 + 40, "{a} allocations for {n} samples in 50 families");
}
