//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use oxeye_model::{Labels, Matcher};

use super::{ApiError, success_with_warnings};
use crate::params::{MAX_TIME_MS, MIN_TIME_MS, Params};
use crate::state::ApiState;

const TRUNCATED: &str = "results truncated due to limit";

fn matcher_sets(p: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|s| oxeye_promql::parse_series_selector(s).map_err(|e| ApiError::bad_data(e.to_string())))
        .collect()
}

fn range(p: &Params) -> Result<(i64, i64), ApiError> {
    Ok((p.time_or("start", MIN_TIME_MS)?, p.time_or("end", MAX_TIME_MS)?))
}

async fn blocking<T: Send + 'static>(
    st: Arc<ApiState>,
    f: impl FnOnce(&ApiState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || f(&st)).await.map_err(|e| ApiError::internal(format!("task failed: {e}")))?
}

pub async fn series(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let sets = matcher_sets(&p)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = range(&p)?;
    let limit = p.limit()?;
    let mut all: Vec<Labels> = blocking(st, move |st| {
        let mut out = Vec::new();
        for m in &sets {
            out.extend(st.storage.series(start, end, m)?);
        }
        Ok(out)
    })
    .await?;
    all.sort();
    all.dedup();
    let mut warnings = Vec::new();
    if limit > 0 && all.len() > limit {
        all.truncate(limit);
        warnings.push(TRUNCATED.to_string());
    }
    let data: Vec<serde_json::Value> = all.iter().map(labels_json).collect();
    Ok(success_with_warnings(serde_json::Value::Array(data), &warnings))
}

pub fn labels_json(l: &Labels) -> serde_json::Value {
    serde_json::Value::Object(l.iter().map(|x| (x.name.clone(), serde_json::Value::String(x.value.clone()))).collect())
}

fn finish_strings(mut v: Vec<String>, limit: usize) -> Response {
    v.sort();
    v.dedup();
    let mut warnings = Vec::new();
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        warnings.push(TRUNCATED.to_string());
    }
    success_with_warnings(serde_json::Value::from(v), &warnings)
}

pub async fn label_names(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let sets = matcher_sets(&p)?;
    let (start, end) = range(&p)?;
    let limit = p.limit()?;
    let names = blocking(st, move |st| {
        if sets.is_empty() {
            return Ok(st.storage.label_names(start, end, &[])?);
        }
        let mut out = Vec::new();
        for m in &sets {
            out.extend(st.storage.label_names(start, end, m)?);
        }
        Ok(out)
    })
    .await?;
    Ok(finish_strings(names, limit))
}

pub async fn label_values(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    use axum::extract::FromRequest;
    let p = Params::from_request(req, &()).await?;
    // Prometheus accepts `U__` escaped UTF-8 names in the path (3.x); plain names otherwise.
    let name = unescape_label_name(&name);
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let sets = matcher_sets(&p)?;
    let (start, end) = range(&p)?;
    let limit = p.limit()?;
    let values = blocking(st, move |st| {
        if sets.is_empty() {
            return Ok(st.storage.label_values(start, end, &name, &[])?);
        }
        let mut out = Vec::new();
        for m in &sets {
            out.extend(st.storage.label_values(start, end, &name, m)?);
        }
        Ok(out)
    })
    .await?;
    Ok(finish_strings(values, limit))
}

/// Decodes Prometheus's `U__` value-encoding of label names (`U__a_2e_b` is `a.b`); other names
/// pass through.
fn unescape_label_name(s: &str) -> String {
    let Some(rest) = s.strip_prefix("U__") else { return s.to_string() };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|c| *c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return s.to_string(),
        }
    }
    out
}
