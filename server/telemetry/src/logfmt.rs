//! The `--log.format=logfmt` output in two dialects: Prometheus 3.x's slog handler
//! (`time=2026-01-02T03:04:05.678Z level=INFO msg="..." key=value`) and Alertmanager 0.25's
//! go-kit logger (`ts=... level=info msg="..."`), values quoted when needed, so existing log
//! parsing keeps working.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Which upstream's line shape to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogfmtStyle {
    /// Prometheus 3.x: `time=` and upper-case levels.
    #[default]
    Prometheus,
    /// Alertmanager 0.25 (go-kit): `ts=` and lower-case levels.
    GoKit,
}

/// A `tracing_subscriber` event format writing logfmt lines in the chosen style.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logfmt {
    pub style: LogfmtStyle,
}

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

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let level = event.metadata().level().as_str();
        match self.style {
            LogfmtStyle::Prometheus => {
                writeln!(w, "time={now} level={level} msg={}{}", quote(&fields.msg), fields.rest)
            }
            LogfmtStyle::GoKit => {
                let level = level.to_ascii_lowercase();
                writeln!(w, "ts={now} level={level} msg={}{}", quote(&fields.msg), fields.rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{Logfmt, LogfmtStyle, quote};

    /// Formats one event in `style` and returns the line.
    fn line(style: LogfmtStyle) -> String {
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buf.clone();
        let subscriber =
            tracing_subscriber::fmt().event_format(Logfmt { style }).with_writer(move || Sink(sink.clone())).finish();
        tracing::subscriber::with_default(subscriber, || tracing::info!(job = "a b", "reload done"));
        buf.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(b);
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn styles_follow_prometheus_and_alertmanager() {
        let p = line(LogfmtStyle::Prometheus);
        assert!(p.starts_with("time=") && p.contains(" level=INFO msg=\"reload done\" job=\"a b\""), "{p}");
        let g = line(LogfmtStyle::GoKit);
        assert!(g.starts_with("ts=") && g.contains(" level=info msg=\"reload done\" job=\"a b\""), "{g}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a=\"b\""), "\"a=\\\"b\\\"\"");
    }
}
