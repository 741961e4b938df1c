//! Oxeye's PromQL engine: evaluates promql-parser ASTs against a `Queryable` with Prometheus 3.x
//! float semantics (instant and range queries, subqueries, `@`, offsets, every aggregation,
//! binary operator and float function), plus the `promqltest` script runner. It knows nothing
//! about HTTP, JSON or how storage keeps its data; native histograms are out of scope.

mod aggregate;
mod engine;
mod functions;
pub mod promqltest;
mod quantile;

use std::time::Duration;

use oxeye_model::{Labels, MatchOp, Matcher, Series};

pub use engine::Engine;

/// Engine limits and defaults, named after Prometheus's `--query.*` flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// `--query.lookback-delta`: how far back an instant selector looks for a sample.
    pub lookback_delta: Duration,
    /// `--query.timeout`: checked between evaluation steps and nodes.
    pub timeout: Duration,
    /// `--query.max-samples`: samples a query may hold in memory at once.
    pub max_samples: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
        }
    }
}

/// The outcome of a query: its value plus Prometheus's annotations (warnings and infos).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// A query value with Prometheus's result types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, v: String },
    Vector(Vec<InstantSample>),
    Matrix(Vec<Series>),
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// Why a query failed. `error_type` gives the Prometheus API `errorType`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Parse(String),
    #[error("query timed out in {0}")]
    Timeout(String),
    #[error("query was canceled")]
    Canceled,
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    #[error("{0}")]
    Execution(String),
    #[error("{0}")]
    Storage(String),
}

impl QueryError {
    /// The `errorType` Prometheus's API reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) => "bad_data",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled => "canceled",
            QueryError::TooManySamples | QueryError::Execution(_) => "execution",
            QueryError::Storage(_) => "internal",
        }
    }
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// Converts one promql-parser matcher into ours (which applies Go RE2 anchoring).
pub(crate) fn convert_matcher(m: &promql_parser::label::Matcher) -> Result<Matcher> {
    use promql_parser::label::MatchOp as P;
    let op = match &m.op {
        P::Equal => MatchOp::Equal,
        P::NotEqual => MatchOp::NotEqual,
        P::Re(_) => MatchOp::RegexMatch,
        P::NotRe(_) => MatchOp::RegexNoMatch,
    };
    Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|e| QueryError::Parse(e.to_string()))
}

/// Parses a series selector as the API's `match[]` takes it (`up{job="a"}`, `{__name__=~"x.*"}`).
/// Like Prometheus, a selector whose matchers all match the empty string is rejected.
pub fn parse_series_selector(s: &str) -> Result<Vec<Matcher>> {
    let expr = promql_parser::parser::parse(s).map_err(QueryError::Parse)?;
    let vs = match expr {
        promql_parser::parser::Expr::VectorSelector(vs) => vs,
        _ => return Err(QueryError::Parse(format!("invalid series selector {s:?}: not a vector selector"))),
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err(QueryError::Parse(format!("invalid series selector {s:?}: 'or' matchers are not supported")));
    }
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(QueryError::Parse(format!("invalid series selector {s:?}: offset and @ are not allowed")));
    }
    let mut out = Vec::new();
    if let Some(name) = &vs.name {
        out.push(Matcher::equal(oxeye_model::METRIC_NAME, name.clone()));
    }
    for m in &vs.matchers.matchers {
        out.push(convert_matcher(m)?);
    }
    if out.iter().all(|m| m.matches_empty()) {
        return Err(QueryError::Parse("match[] must contain at least one non-empty matcher".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_selector_parsing() {
        let m = parse_series_selector(r#"up{job="a"}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert!(parse_series_selector(r#"{job=~".*"}"#).is_err());
        assert!(parse_series_selector("sum(up)").is_err());
        assert!(parse_series_selector("up[5m]").is_err());
    }

    #[test]
    fn engine_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
    }

    #[test]
    fn error_types() {
        assert_eq!(QueryError::Parse("x".into()).error_type(), "bad_data");
        assert_eq!(QueryError::TooManySamples.error_type(), "execution");
        assert_eq!(QueryError::Storage("x".into()).error_type(), "internal");
        assert_eq!(
            QueryError::TooManySamples.to_string(),
            "query processing would load too many samples into memory in query execution"
        );
    }
}
