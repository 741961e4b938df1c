//! Oxeye's time series database: an in-memory head of XOR-compressed chunks with a postings
//! index, a write-ahead log with checkpoints, persisted blocks with a denser chunk encoding,
//! leveled compaction and time/size retention. It implements the `Appendable` and `Queryable`
//! traits of `oxeye-model` and knows nothing about PromQL, scraping or HTTP.
//! The on-disk format is specified in `docs/tsdb-format.md`.

mod block;
pub mod blockenc;
pub mod chunkenc;
mod db;
mod encoding;
mod error;
mod head;
mod metrics;
pub mod postings;
mod symbols;
mod wal;

pub use block::{BlockCompaction, BlockMeta, BlockStats};
pub use db::{Db, Options};
pub use error::{Error, Result};
pub use head::{HeadStats, TsdbStatus};
