//! `/-/healthy`, `/-/ready`, `/-/reload`, `/-/quit` and `/metrics`. Reload and quit answer 403
//! unless the server runs with `--web.enable-lifecycle`, as Prometheus does.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::ApiState;

pub async fn healthy() -> &'static str {
    "Prometheus Server is Healthy.\n"
}

pub async fn ready(State(st): State<Arc<ApiState>>) -> Response {
    if st.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "Prometheus Server is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

const LIFECYCLE_DISABLED: &str = "Lifecycle API is not enabled.";

pub async fn reload(State(st): State<Arc<ApiState>>) -> Response {
    let Some(lc) = st.lifecycle.clone() else {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED).into_response();
    };
    match tokio::task::spawn_blocking(move || lc.reload()).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}")).into_response(),
    }
}

pub async fn quit(State(st): State<Arc<ApiState>>) -> Response {
    let Some(lc) = st.lifecycle.clone() else {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED).into_response();
    };
    lc.quit();
    (StatusCode::OK, "Requesting termination... Goodbye!").into_response()
}

pub async fn metrics(State(st): State<Arc<ApiState>>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], st.status.metrics_text())
        .into_response()
}
