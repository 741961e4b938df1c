//! Self-telemetry shared by the Oxeye binaries (`oxeye`, `oxeye-alertmanager`): the `process_*`
//! metrics collector and the logfmt event format. It knows nothing about what the binaries do.

pub mod logfmt;
pub mod process_metrics;

pub use logfmt::{Logfmt, LogfmtStyle};
pub use process_metrics::ProcessCollector;
