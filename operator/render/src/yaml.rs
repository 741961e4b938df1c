//! Ordered YAML output. prometheus-operator builds its configuration from `yaml.MapSlice`, so
//! key order is part of its output; [`Map`] keeps insertion order the same way, and
//! [`ScrapeConfigOut`] is one rendered job with the key it is sorted by.

use serde_yaml_ng::{Mapping, Value};

/// An insertion-ordered YAML mapping under construction.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Map(pub Mapping);

impl Map {
    pub(crate) fn new() -> Self {
        Map(Mapping::new())
    }

    pub(crate) fn put(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.0.insert(Value::String(key.to_string()), value.into());
        self
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.put(key, value);
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Mapping(m.0)
    }
}

/// A list of strings as a YAML sequence.
pub(crate) fn strings<S: AsRef<str>>(items: &[S]) -> Value {
    Value::Sequence(items.iter().map(|s| Value::String(s.as_ref().to_string())).collect())
}

/// A list of mappings as a YAML sequence.
pub(crate) fn maps(items: Vec<Map>) -> Value {
    Value::Sequence(items.into_iter().map(Value::from).collect())
}

/// Serializes a value; the values built here (strings, numbers, booleans, sequences, mappings
/// with string keys) always serialize, so a failure is reported in the text rather than lost.
pub(crate) fn to_string(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_else(|e| format!("# error rendering YAML: {e}\n"))
}

/// One rendered scrape job (`scrape_configs` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeConfigOut {
    pub(crate) sort_key: (u8, String, usize),
    pub(crate) job_name: String,
    pub(crate) body: Mapping,
}

impl ScrapeConfigOut {
    pub(crate) fn new(kind_rank: u8, namespace: &str, name: &str, index: usize, body: Map) -> Self {
        let job_name = body.0.get("job_name").and_then(Value::as_str).unwrap_or_default().to_string();
        ScrapeConfigOut { sort_key: (kind_rank, format!("{namespace}/{name}"), index), job_name, body: body.0 }
    }

    /// `serviceMonitor/<ns>/<name>/<i>` or `podMonitor/<ns>/<name>/<i>`.
    pub fn job_name(&self) -> &str {
        &self.job_name
    }

    /// The job as a YAML mapping, keys in prometheus-operator's order.
    pub fn as_mapping(&self) -> &Mapping {
        &self.body
    }

    /// The job as a YAML document.
    pub fn to_yaml(&self) -> String {
        to_string(&Value::Mapping(self.body.clone()))
    }
}
