//! What the Oxeye binaries (`oxeye`, `oxeye-alertmanager`, `oxeye-operator`) share about running
//! as a process: the `process_*` metrics collector, the logfmt event format, the `--log.*` flags'
//! subscriber setup and the termination signals. It knows nothing about what the binaries do.

pub mod logfmt;
pub mod process_metrics;
pub mod setup;
pub mod signals;

pub use logfmt::{Logfmt, LogfmtStyle};
pub use process_metrics::ProcessCollector;
pub use setup::{LogFormat, LogLevel, init_logging};
pub use signals::{Termination, terminated};
