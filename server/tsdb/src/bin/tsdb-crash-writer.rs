//! Crash-test helper: opens a Db at the given directory and commits batches forever, printing
//! `committed <n>` after each commit returns. tests/crash.rs SIGKILLs it at random moments and
//! checks that every reported batch survived.
//!
//! Usage: oxeye-tsdb-crash-writer <dir> <first-batch> [compact-every]
//! Batch n writes series k=0..SERIES at t = n * 60s with value n * 1000 + k; every
//! `compact-every` batches it compacts the head (block write + WAL checkpoint) too.

use std::io::Write;
use std::time::Duration;

use oxeye_model::Labels;
use oxeye_model::storage::Appendable;
use oxeye_tsdb::{Db, Options};

const SERIES: u64 = 20;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or_else(|| anyhow::anyhow!("missing <dir>"))?;
    let first: u64 = args.next().ok_or_else(|| anyhow::anyhow!("missing <first-batch>"))?.parse()?;
    let compact_every: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    // No retention: batches are 60 s apart in sample time, so a fast machine writes weeks of
    // data in a round and time retention would (rightly) delete what the test checks.
    let opts = Options {
        wal_segment_size: 64 << 10,
        block_range: Duration::from_secs(2 * 3600),
        retention: None,
        max_bytes: None,
        ..Options::default()
    };
    let db = Db::open(std::path::Path::new(&dir), opts)?;
    let labels: Vec<Labels> =
        (0..SERIES).map(|k| Labels::from_pairs([("__name__", "crash_test"), ("series", &k.to_string())])).collect();
    let mut refs: Vec<Option<u64>> = vec![None; SERIES as usize];
    let stdout = std::io::stdout();
    let mut n = first;
    loop {
        let mut app = db.appender();
        for k in 0..SERIES {
            let t = (n as i64) * 60_000;
            let v = (n * 1000 + k) as f64;
            match app.append(refs[k as usize], &labels[k as usize], t, v) {
                Ok(r) => refs[k as usize] = Some(r),
                Err(e) => anyhow::bail!("append batch {n} series {k}: {e}"),
            }
        }
        app.commit()?;
        {
            let mut out = stdout.lock();
            writeln!(out, "committed {n}")?;
            out.flush()?;
        }
        if compact_every > 0 && n.is_multiple_of(compact_every) {
            db.compact_head_now()?;
        }
        n += 1;
    }
}
