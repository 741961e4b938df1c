//! `/api/v1` handlers, one module per resource, and the error envelope
//! `{"status":"error","errorType":...,"error":...}` with Prometheus's HTTP status codes.

pub mod lifecycle;
pub mod query;
pub mod rules;
pub mod series;
pub mod status;
pub mod targets;

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::params::Params;

/// Request bodies larger than this are refused (Prometheus has no explicit limit, but a query
/// form of 32 MiB is far past any real use).
const MAX_FORM_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ApiError {
    pub error_type: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        ApiError { error_type, message: message.into() }
    }
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new("bad_data", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("not_found", message)
    }

    /// Prometheus's mapping from error type to HTTP status (web/api/v1/api.go `respondError`).
    pub fn status(&self) -> StatusCode {
        match self.error_type {
            "bad_data" => StatusCode::BAD_REQUEST,
            "execution" => StatusCode::UNPROCESSABLE_ENTITY,
            "canceled" => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            "timeout" => StatusCode::SERVICE_UNAVAILABLE,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "not_found" => StatusCode::NOT_FOUND,
            "not_acceptable" => StatusCode::NOT_ACCEPTABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<oxeye_promql::QueryError> for ApiError {
    fn from(e: oxeye_promql::QueryError) -> Self {
        ApiError::new(e.error_type(), e.to_string())
    }
}

impl From<oxeye_model::StorageError> for ApiError {
    fn from(e: oxeye_model::StorageError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.error_type,
            "error": self.message,
        });
        (self.status(), [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|e| ApiError::bad_data(format!("error reading request body: {e}")))?;
        Params::from_parts(&parts.method, &parts.uri, &parts.headers, &bytes)
    }
}

/// `{"status":"success","data":<data>}` plus warnings/infos when present, from pre-encoded data.
pub fn success_raw(data_json: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut out = String::with_capacity(data_json.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data_json);
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":");
            out.push_str(&serde_json::Value::from(list.to_vec()).to_string());
        }
    }
    out.push('}');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

pub fn success(data: serde_json::Value) -> Response {
    success_raw(&data.to_string(), &[], &[])
}

pub fn success_with_warnings(data: serde_json::Value, warnings: &[String]) -> Response {
    success_raw(&data.to_string(), warnings, &[])
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("page not found")
}
