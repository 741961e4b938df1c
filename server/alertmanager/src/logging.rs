//! Logging setup: `--log.level` and `--log.format`. The logfmt output follows Alertmanager's
//! go-kit logger (`ts=... level=info msg="..." key=value`) so existing log parsing keeps working.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
        LogFormat::Logfmt => builder.event_format(GoKitLogfmt).try_init(),
    };
}

pub struct GoKitLogfmt;

#[derive(Default)]
struct Fields {
    msg: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field.name(), &format!("{value:?}"));
    }
}

impl Fields {
    fn push(&mut self, name: &str, value: &str) {
        if name == "message" {
            self.msg = value.to_string();
            return;
        }
        let _ = write!(self.rest, " {name}={}", quote(value));
    }
}

/// Quotes a logfmt value when it is empty or holds spaces, `=`, quotes or control characters.
fn quote(v: &str) -> String {
    if !v.is_empty() && !v.chars().any(|c| c == ' ' || c == '=' || c == '"' || c.is_control()) {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl<S, N> FormatEvent<S, N> for GoKitLogfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        writeln!(w, "ts={now} level={level} msg={}{}", quote(&fields.msg), fields.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote(""), "\"\"");
    }
}
