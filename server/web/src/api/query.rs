//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/query_exemplars`, `/api/v1/format_query`.
//! Queries run on the blocking pool behind the `--query.max-concurrency` semaphore.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use oxeye_promql::{Engine, QueryResult};

use super::{ApiError, success, success_raw};
use crate::format::write_query_data;
use crate::params::{Params, parse_duration_ms};
use crate::state::ApiState;

/// Prometheus refuses range queries with more points than this per series.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The engine for this request: the shared one, or one with the request's `timeout` /
/// `lookback_delta` applied (a request can only shorten the server's timeout).
fn engine_for(st: &ApiState, p: &Params) -> Result<Option<Engine>, ApiError> {
    let mut opts = st.engine_options.clone();
    let mut changed = false;
    if let Some(t) = p.get("timeout").filter(|s| !s.is_empty()) {
        let ms = parse_duration_ms(t).map_err(|e| ApiError::bad_data(format!("invalid parameter \"timeout\": {e}")))?;
        let req = std::time::Duration::from_millis(ms.max(0) as u64);
        if req < opts.timeout {
            opts.timeout = req;
            changed = true;
        }
    }
    if let Some(l) = p.get("lookback_delta").filter(|s| !s.is_empty()) {
        let ms = parse_duration_ms(l)
            .map_err(|e| ApiError::bad_data(format!("error parsing lookback delta duration: {e}")))?;
        if ms > 0 {
            opts.lookback_delta = std::time::Duration::from_millis(ms as u64);
            changed = true;
        }
    }
    Ok(changed.then(|| Engine::new(opts)))
}

async fn run<F>(st: Arc<ApiState>, f: F) -> Result<QueryResult, ApiError>
where
    F: FnOnce(&ApiState) -> Result<QueryResult, oxeye_promql::QueryError> + Send + 'static,
{
    let _permit = st.query_slots.acquire().await.map_err(|_| ApiError::new("unavailable", "shutting down"))?;
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || f(&st2))
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?
        .map_err(ApiError::from)
}

fn respond(res: QueryResult) -> Response {
    let mut data = String::new();
    write_query_data(&mut data, &res.value);
    success_raw(&data, &res.warnings, &res.infos)
}

pub async fn instant(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let query = p.get("query").unwrap_or("").to_string();
    let ts = p.time_or("time", now_ms())?;
    let engine = engine_for(&st, &p)?;
    let res = run(st, move |st| engine.as_ref().unwrap_or(&st.engine).instant_query(&*st.storage, &query, ts)).await?;
    Ok(respond(res))
}

pub async fn range(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let start = parse_required_time(&p, "start")?;
    let end = parse_required_time(&p, "end")?;
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before start time"));
    }
    let step = parse_duration_ms(p.get("step").unwrap_or(""))
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"step\": {e}")))?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let query = p.get("query").unwrap_or("").to_string();
    let engine = engine_for(&st, &p)?;
    let res =
        run(st, move |st| engine.as_ref().unwrap_or(&st.engine).range_query(&*st.storage, &query, start, end, step))
            .await?;
    Ok(respond(res))
}

fn parse_required_time(p: &Params, key: &str) -> Result<i64, ApiError> {
    let s = p.get(key).unwrap_or("");
    crate::params::parse_time(s).map_err(|e| ApiError::bad_data(format!("invalid parameter \"{key}\": {e}")))
}

/// Oxeye keeps no exemplars; the query is still validated so clients see their errors.
pub async fn exemplars(p: Params) -> Result<Response, ApiError> {
    let query = p.get("query").unwrap_or("");
    promql_parser::parser::parse(query).map_err(ApiError::bad_data)?;
    Ok(success(serde_json::json!([])))
}

pub async fn format_query(p: Params) -> Result<Response, ApiError> {
    let query = p.get("query").unwrap_or("");
    let expr = promql_parser::parser::parse(query).map_err(ApiError::bad_data)?;
    Ok(success(serde_json::Value::String(expr.prettify())))
}
