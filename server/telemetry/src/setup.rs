//! `--log.level` / `--log.format` as both binaries take them, and the tracing subscriber they
//! install: JSON, or logfmt in the binary's upstream style. `OXEYE_LOG` (an `EnvFilter`
//! directive) overrides the level.

use clap::ValueEnum;

use crate::{Logfmt, LogfmtStyle};

/// `--log.level`: only messages with this severity or above are logged.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// `--log.format`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Logfmt,
    Json,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Installs the global subscriber writing to stderr. A second call leaves the first in place.
pub fn init_logging(level: LogLevel, format: LogFormat, style: LogfmtStyle) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OXEYE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{},hyper=warn,reqwest=warn", level.as_str())));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    let _ = match format {
        LogFormat::Json => builder.json().with_target(false).try_init(),
        LogFormat::Logfmt => builder.event_format(Logfmt { style }).try_init(),
    };
}
