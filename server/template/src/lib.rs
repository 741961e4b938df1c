//! Oxeye's template expansion: Go text/template (via the `gotmpl` crate) with Prometheus 3.x's
//! template functions (`query`, `humanize`, `toTime`, ...) and alert-template data (`$labels`,
//! `$externalLabels`, `$externalURL`, `$value`), printing and failing the way Prometheus does.
//! It owns the function map, Go-compatible value printing and error wording; it must not know
//! about rule evaluation, storage or PromQL: queries arrive through the [`QueryFn`] callback.

mod expander;
mod format;
mod functions;
mod humanize;
mod structure;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use expander::{Expander, MissingKey};
pub use format::{format_float, format_g, format_go_duration, format_time_ms};
pub use functions::{
    FuncContext, convert_to_float, engine_funcs, graph_link, prometheus_funcs, sample_to_value, strip_domain,
    strip_port, table_link, title,
};
pub use gotmpl;
pub use gotmpl::{FuncMap, Value};
pub use humanize::{humanize, humanize_1024, humanize_duration, humanize_percentage, humanize_timestamp};
pub use oxeye_model::Labels;

/// One element of a `query` result as templates see it (.Labels, .Value).
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: Labels,
    pub value: f64,
}

/// Runs a PromQL instant query at `ts_ms` for the `query` template function.
pub type QueryFn = Arc<dyn Fn(&str, i64) -> Result<Vec<QuerySample>, String> + Send + Sync>;

/// The data an alerting rule's label and annotation templates see.
pub struct AlertTemplateData<'a> {
    pub labels: &'a Labels,
    pub external_labels: &'a Labels,
    pub external_url: &'a str,
    pub value: f64,
}

/// A template that failed to parse or execute; the message is worded like Prometheus's.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// Definitions Prometheus prepends to every alert label and annotation template.
pub const ALERT_TEMPLATE_DEFS: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// A label set as a template map (Go's `map[string]string`).
pub fn labels_to_value(labels: &Labels) -> Value {
    let m: BTreeMap<Arc<str>, Value> =
        labels.iter().map(|l| (Arc::<str>::from(l.name.as_str()), Value::from(l.value.as_str()))).collect();
    Value::Map(Arc::new(m))
}

impl AlertTemplateData<'_> {
    /// The template data value: `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`.
    pub fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert(Arc::<str>::from("Labels"), labels_to_value(self.labels));
        m.insert(Arc::<str>::from("ExternalLabels"), labels_to_value(self.external_labels));
        m.insert(Arc::<str>::from("ExternalURL"), Value::from(self.external_url));
        m.insert(Arc::<str>::from("Value"), Value::Float(self.value));
        Value::Map(Arc::new(m))
    }
}

/// The template name Prometheus gives an alerting rule's templates: `__alert_<alertname>`.
/// A name that already carries the prefix is used as is.
pub fn alert_template_name(name: &str) -> String {
    if name.starts_with("__alert_") { name.to_string() } else { format!("__alert_{name}") }
}

/// Expands one label or annotation template of an alerting rule exactly as Prometheus does:
/// prepends "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}",
/// template name "__alert_<alertname>" (name argument), `query` function backed by `query` (None => query returns an error), evaluation time ts_ms for humanizeTimestamp/now etc.
pub fn expand_alert_template(
    name: &str,
    text: &str,
    data: &AlertTemplateData<'_>,
    ts_ms: i64,
    query: Option<QueryFn>,
) -> Result<String, TemplateError> {
    let ctx = FuncContext { timestamp_ms: ts_ms, query, external_url: data.external_url.to_string() };
    Expander::new(
        alert_template_name(name),
        format!("{ALERT_TEMPLATE_DEFS}{text}"),
        data.to_value(),
        prometheus_funcs(&ctx),
    )
    .expand()
}

/// Parses a template (with the same prepended definitions and function names) without executing it, as `promtool check rules` does; errors read like Prometheus's.
pub fn check_alert_template(name: &str, text: &str) -> Result<(), TemplateError> {
    let empty = Labels::empty();
    let data = AlertTemplateData { labels: &empty, external_labels: &empty, external_url: "", value: 0.0 };
    Expander::new(
        alert_template_name(name),
        format!("{ALERT_TEMPLATE_DEFS}{text}"),
        data.to_value(),
        prometheus_funcs(&FuncContext::default()),
    )
    .parse_test()
}
