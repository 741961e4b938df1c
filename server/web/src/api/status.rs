//! `/api/v1/status/*`: build information, the loaded config, flags, runtime and TSDB figures.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::{ApiError, success};
use crate::params::Params;
use crate::state::ApiState;

pub async fn buildinfo(State(st): State<Arc<ApiState>>) -> Response {
    success(serde_json::to_value(&st.build_info).unwrap_or_default())
}

pub async fn config(State(st): State<Arc<ApiState>>) -> Response {
    success(json!({ "yaml": st.status.config_yaml() }))
}

pub async fn flags(State(st): State<Arc<ApiState>>) -> Response {
    success(serde_json::to_value(st.status.flags()).unwrap_or_default())
}

pub async fn runtimeinfo(State(st): State<Arc<ApiState>>) -> Response {
    success(st.status.runtime_info())
}

pub async fn tsdb(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let limit = match p.get("limit") {
        None | Some("") => 10,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n > 0 => n as usize,
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        },
    };
    let st2 = st.clone();
    let data = tokio::task::spawn_blocking(move || st2.status.tsdb_status(limit))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(success(data))
}

pub async fn walreplay(State(st): State<Arc<ApiState>>) -> Response {
    success(st.status.wal_replay())
}
