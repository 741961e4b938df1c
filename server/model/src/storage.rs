//! The storage interfaces between subsystems. Scraping and rule evaluation write through an
//! `Appender`; PromQL and the HTTP API read through `Queryable`. The TSDB implements both;
//! `memory::MemStorage` is a small in-memory implementation for tests.

use crate::{Labels, Matcher, Sample};

pub mod memory;

/// An opaque handle for a series, returned by `Appender::append` so that hot paths (the scrape
/// loop) can skip the label lookup on the next append. A ref that the storage no longer knows
/// (after head garbage collection) is ignored and the labels are used instead.
pub type SeriesRef = u64;

/// Why a sample was refused. Refusals are per sample: the rest of the batch still commits.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    #[error("out of order sample")]
    OutOfOrder,
    #[error("out of bounds")]
    OutOfBounds,
    #[error("duplicate sample for timestamp")]
    DuplicateSampleForTimestamp,
    #[error("label set is empty or has an empty metric name")]
    InvalidLabels,
    #[error("storage: {0}")]
    Storage(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O: {0}")]
    Io(String),
    #[error("storage corruption: {0}")]
    Corruption(String),
    #[error("{0}")]
    Other(String),
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        StorageError::Io(e.to_string())
    }
}

/// A batch of samples that becomes visible (and durable per the WAL policy) on `commit`.
pub trait Appender: Send {
    /// Adds a sample. `cached` is a ref an earlier append returned for the same labels.
    /// Same timestamp with the same value is accepted silently; with another value it is
    /// `DuplicateSampleForTimestamp`. Labels must be sorted (they are a `Labels`) and hold a
    /// metric name.
    fn append(&mut self, cached: Option<SeriesRef>, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError>;

    /// Adds a sample to the series behind `series_ref`, a ref an earlier append returned,
    /// without its labels (the scrape loop's hot path). `Ok(false)` means the storage does not
    /// know the ref (any more): the caller then appends with the labels. The default knows no
    /// refs.
    fn append_by_ref(&mut self, series_ref: SeriesRef, t: i64, v: f64) -> Result<bool, AppendError> {
        let _ = (series_ref, t, v);
        Ok(false)
    }

    /// Makes the batch visible and durable.
    fn commit(self: Box<Self>) -> Result<(), StorageError>;

    /// Discards the batch.
    fn rollback(self: Box<Self>);
}

/// Something that hands out appenders.
pub trait Appendable: Send + Sync {
    fn appender(&self) -> Box<dyn Appender + '_>;
}

/// A series with its samples inside the requested time range, ascending by timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Read access. All ranges are inclusive milliseconds `[mint, maxt]`. Results are sorted by
/// labels. Matchers are ANDed; a series lacking a label matches as if the value were "".
pub trait Queryable: Send + Sync {
    /// Series matching all matchers with their samples in `[mint, maxt]`. Series without
    /// samples in the range are left out.
    fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Series>, StorageError>;

    /// Label sets of the matching series that have samples in `[mint, maxt]`.
    fn series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Labels>, StorageError>;

    /// Sorted label names of the matching series (all series when `matchers` is empty).
    fn label_names(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Sorted values of `name` among the matching series.
    fn label_values(&self, mint: i64, maxt: i64, name: &str, matchers: &[Matcher])
    -> Result<Vec<String>, StorageError>;
}

/// Placeholder hints type kept for API symmetry with Prometheus's `SelectHints`; the range a
/// selector covers is passed explicitly to `Queryable::select`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectHints {
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub range: i64,
}
