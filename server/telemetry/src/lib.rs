//! Self-telemetry shared by the Oxeye binaries (`oxeye`, `oxeye-alertmanager`): the `process_*`
//! metrics collector, the logfmt event format and the `--log.*` flags' subscriber setup. It knows nothing about what the binaries do.

pub mod logfmt;
pub mod process_metrics;
pub mod setup;

pub use logfmt::{Logfmt, LogfmtStyle};
pub use process_metrics::ProcessCollector;
pub use setup::{LogFormat, LogLevel, init_logging};
