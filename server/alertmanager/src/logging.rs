//! Logging setup: `--log.level` and `--log.format`. The logfmt output follows Alertmanager's
//! go-kit logger (`ts=... level=info msg="..." key=value`, `oxeye_telemetry::LogfmtStyle::GoKit`)
//! so existing log parsing keeps working.

use crate::flags::Flags;

pub fn init(flags: &Flags) {
    oxeye_telemetry::init_logging(flags.log_level, flags.log_format, oxeye_telemetry::LogfmtStyle::GoKit);
}
