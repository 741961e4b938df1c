//! The data model every Oxeye subsystem shares: label sets, samples, label matchers with Go RE2
//! anchoring, Prometheus durations, relabeling, the alert handed from rules to notifier, and the
//! storage traits (`Appender`, `Queryable`) that decouple scraping and PromQL from the TSDB. It
//! knows nothing about disks, HTTP or PromQL syntax.

pub mod alert;
pub mod duration;
pub mod labels;
pub mod matcher;
pub mod relabel;
pub mod sample;
pub mod storage;

pub use alert::Alert;
pub use duration::{DurationError, format_duration, parse_duration};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME, PackedLabels};
pub use matcher::{AnchoredRegex, MatchOp, Matcher, MatcherError};
pub use relabel::{Action, NameValidationScheme, RelabelConfig, RelabelError, RelabelRegex, process, process_builder};
pub use sample::{STALE_NAN, STALE_NAN_BITS, Sample, is_stale_nan};
pub use storage::{AppendError, Appendable, Appender, Queryable, SelectHints, Series, SeriesRef, StorageError};
