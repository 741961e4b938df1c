//! Logging setup: `--log.level` and `--log.format`. The logfmt output follows Alertmanager's
//! go-kit logger (`ts=... level=info msg="..." key=value`, `oxeye_telemetry::LogfmtStyle::GoKit`)
//! so existing log parsing keeps working.

use oxeye_telemetry::{Logfmt, LogfmtStyle};

use crate::flags::{Flags, LogFormat, LogLevel};

pub fn init(flags: &Flags) {
    let level = match flags.log_level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OXEYE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},hyper=warn,reqwest=warn")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    let _ = match flags.log_format {
        LogFormat::Json => builder.json().with_target(false).try_init(),
        LogFormat::Logfmt => builder.event_format(Logfmt { style: LogfmtStyle::GoKit }).try_init(),
    };
}
