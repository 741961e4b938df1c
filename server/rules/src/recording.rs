//! Recording rules (Prometheus's `rules/recording.go`): evaluate an expression, rename the
//! result to the record name, apply the rule's labels. Appending and stale markers belong to
//! the group; this module only produces the samples.

use std::collections::BTreeMap;
use std::time::Duration;

use oxeye_model::{Labels, LabelsBuilder, METRIC_NAME};

use crate::group::{EvalContext, query_vector};
use crate::{RuleHealth, RuleKind, RuleStatus};

#[derive(Debug, Clone)]
pub struct RecordingRule {
    pub(crate) name: String,
    pub(crate) expr: String,
    /// The expression as Prometheus prints it (`Expr.String()`), for the API.
    pub(crate) canonical_expr: String,
    /// Group labels merged under rule labels.
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) health: RuleHealth,
    pub(crate) last_error: Option<String>,
    pub(crate) eval_time: Duration,
    pub(crate) last_eval: Option<i64>,
}

impl RecordingRule {
    pub fn new(name: impl Into<String>, expr: impl Into<String>, labels: BTreeMap<String, String>) -> Self {
        let expr = expr.into();
        let canonical_expr =
            promql_parser::parser::parse(&expr).map(|e| e.to_string()).unwrap_or_else(|_| expr.clone());
        RecordingRule {
            name: name.into(),
            expr,
            canonical_expr,
            labels,
            health: RuleHealth::Unknown,
            last_error: None,
            eval_time: Duration::ZERO,
            last_eval: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn query(&self) -> &str {
        &self.expr
    }

    pub fn labels(&self) -> Labels {
        Labels::from_pairs(self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Evaluates at `ts_ms - query_offset_ms`: the samples to append, or Prometheus's error.
    pub fn eval(
        &self,
        ctx: &EvalContext<'_>,
        ts_ms: i64,
        query_offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let t = ts_ms - query_offset_ms;
        let vector = query_vector(ctx, &self.expr, t)?;
        let mut out = Vec::with_capacity(vector.len());
        let mut seen = std::collections::HashSet::with_capacity(vector.len());
        let mut duplicate = false;
        for s in vector {
            let mut b = LabelsBuilder::new(s.labels);
            b.set(METRIC_NAME.to_string(), self.name.clone());
            for (k, v) in &self.labels {
                b.set(k.clone(), v.clone());
            }
            let l = b.labels();
            if !seen.insert(l.clone()) {
                duplicate = true;
            }
            out.push((l, s.v));
        }
        if duplicate {
            return Err("vector contains metrics with the same labelset after applying rule labels".into());
        }
        if limit > 0 && out.len() > limit {
            return Err(format!("exceeded limit of {limit} with {} series", out.len()));
        }
        Ok(out)
    }

    pub fn status(&self) -> RuleStatus {
        RuleStatus {
            kind: RuleKind::Recording,
            name: self.name.clone(),
            query: self.canonical_expr.clone(),
            labels: self.labels(),
            health: self.health.as_str(),
            last_error: self.last_error.clone(),
            evaluation_time: self.eval_time,
            last_evaluation: self.last_eval,
        }
    }
}
