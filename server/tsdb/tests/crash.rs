//! Kills a real writer process with SIGKILL at random moments, several rounds on the same
//! directory, and checks that every batch it reported as committed is there, intact.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxeye_model::storage::Queryable;
use oxeye_model::{MatchOp, Matcher};
use oxeye_tsdb::{Db, Options};

const SERIES: u64 = 20;

fn run_round(dir: &std::path::Path, first: u64, run_for: Duration) -> Vec<u64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxeye-tsdb-crash-writer"))
        .arg(dir)
        .arg(first.to_string())
        .arg("97")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("committed ") {
                got.push(n.parse::<u64>().expect("batch number"));
            }
        }
        got
    });
    let start = Instant::now();
    while start.elapsed() < run_for {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("writer exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    reader.join().expect("reader thread")
}

#[test]
fn sigkill_never_loses_committed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut committed: BTreeSet<u64> = BTreeSet::new();
    let mut next = 1u64;
    // A fixed-seed xorshift: varied kill moments, reproducible runs.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let ms = 150 + seed % 600;
        let got = run_round(dir.path(), next, Duration::from_millis(ms));
        assert!(!got.is_empty(), "round {round}: writer committed nothing in {ms} ms");
        next = got.iter().max().copied().unwrap_or(next) + 1;
        committed.extend(got);
    }

    // Retention off, as in the writer: the sample timestamps span weeks.
    let opts = Options { retention: None, max_bytes: None, ..Options::default() };
    let db = Db::open(dir.path(), opts).expect("reopen after the last kill");
    let series =
        db.select(i64::MIN, i64::MAX, &[Matcher::new(MatchOp::Equal, "__name__", "crash_test").unwrap()]).unwrap();
    assert_eq!(series.len() as u64, SERIES);
    let mut lost = Vec::new();
    for s in &series {
        let k: u64 = s.labels.get("series").parse().unwrap();
        let present: BTreeSet<u64> = s
            .samples
            .iter()
            .map(|x| {
                assert_eq!(x.t % 60_000, 0, "series {k}: corrupt timestamp {}", x.t);
                let n = (x.t / 60_000) as u64;
                assert_eq!(x.v, (n * 1000 + k) as f64, "series {k}: corrupt value at batch {n}");
                n
            })
            .collect();
        lost.extend(committed.difference(&present).map(|n| (k, *n)));
    }
    println!(
        "crash test: {} batches reported committed over 6 SIGKILLed rounds, {} blocks on disk",
        committed.len(),
        db.blocks().len()
    );
    assert!(lost.is_empty(), "committed samples lost: {:?}", &lost[..lost.len().min(20)]);
}
