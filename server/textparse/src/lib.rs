//! Scrape body parsers for the Prometheus text format 0.0.4 (and 1.0.0, parsed the same way) and
//! OpenMetrics 1.0, plus the content negotiation a scraper needs (`ACCEPT_HEADER`,
//! `format_from_content_type`). It owns bytes-to-entries only: it knows nothing about HTTP clients,
//! the scrape cache, relabeling or storage. Samples are zero-copy views into the body; labels are
//! materialized on demand.

mod error;
mod number;
mod openmetrics;
mod parser;
mod sample;

pub use error::{ErrorKind, ParseError, Result};
pub use parser::{Entry, Parser, Validation};
pub use sample::{Exemplar, LabelPairs, Sample};

/// The `Accept` header Prometheus 3 sends by default (`scrape_protocols` =
/// [OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText1.0.0, PrometheusText0.0.4], metric
/// name escaping `allow-utf-8`), as built by upstream's `scrape.acceptHeader`. Text 1.0.0 bodies are
/// parsed as 0.0.4.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
application/openmetrics-text;version=0.0.1;q=0.5,\
text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
text/plain;version=0.0.4;q=0.3,\
*/*;q=0.2";

/// An exposition format this crate parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (also used for 1.0.0).
    PrometheusText,
    /// OpenMetrics 1.0 text format.
    OpenMetrics,
}

/// Picks the parser for a response's `Content-Type`: `application/openmetrics-text` (any
/// parameters, any case) is OpenMetrics; everything else, including a missing or unparsable header,
/// falls back to the text format.
///
/// Upstream Prometheus 3 fails a scrape with a blank Content-Type unless
/// `fallback_scrape_protocol` is set; the scrape loop decides that policy, not this function.
pub fn format_from_content_type(ct: Option<&str>) -> Format {
    let Some(ct) = ct else { return Format::PrometheusText };
    let media_type = ct.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    }
}

/// The type of a metric family, as declared by `# TYPE` (or `Unknown` when undeclared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// OpenMetrics `unknown`, text format `untyped`, or no `# TYPE` line.
    #[default]
    Unknown,
}

impl MetricType {
    /// The name `/api/v1/metadata` reports, as Prometheus spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    fn from_text_format(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            _ => return None,
        })
    }

    fn from_openmetrics(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }
}

impl std::fmt::Display for MetricType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_negotiation_follows_prometheus() {
        assert_eq!(format_from_content_type(None), Format::PrometheusText);
        assert_eq!(format_from_content_type(Some("")), Format::PrometheusText);
        assert_eq!(format_from_content_type(Some("text/plain; version=0.0.4; charset=utf-8")), Format::PrometheusText);
        assert_eq!(
            format_from_content_type(Some("application/openmetrics-text; version=1.0.0; charset=utf-8")),
            Format::OpenMetrics
        );
        assert_eq!(format_from_content_type(Some("Application/OpenMetrics-Text")), Format::OpenMetrics);
        assert_eq!(
            format_from_content_type(Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily")),
            Format::PrometheusText
        );
        assert_eq!(format_from_content_type(Some("garbage;;;")), Format::PrometheusText);
    }

    #[test]
    fn accept_header_matches_prometheus_3_default() {
        assert_eq!(
            ACCEPT_HEADER,
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
    }
}
