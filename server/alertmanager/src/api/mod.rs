//! The HTTP surface of oxeye-alertmanager: Alertmanager's API v2 (`/api/v2/...`), the lifecycle
//! endpoints (`/-/healthy`, `/-/ready`, `/-/reload`) and `/metrics`, all under the route prefix.
//! It knows the router only through [`Backend`] and the server only through [`ServerHooks`].

pub mod filter;
pub mod model;
mod query;
mod v2;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::backend::Backend;
use model::{ClusterStatus, VersionInfo};

/// What the API shows of the running configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfigView {
    /// `config.original` of `/api/v2/status`: the YAML amtool parses for `config routes`.
    pub original: String,
    /// Receiver names in configuration order.
    pub receivers: Vec<String>,
}

/// Server-side operations the API triggers.
pub trait ServerHooks: Send + Sync {
    /// Reloads the configuration file; Err keeps the running configuration.
    fn reload(&self) -> Result<(), String>;
    /// The Prometheus text exposition of every registered metric.
    fn metrics_text(&self) -> String;
}

pub struct ApiState {
    pub backend: Arc<dyn Backend>,
    pub hooks: Arc<dyn ServerHooks>,
    pub config: RwLock<ConfigView>,
    pub cluster: ClusterStatusSource,
    pub uptime: DateTime<Utc>,
    pub version: VersionInfo,
    pub ready: AtomicBool,
}

/// `/api/v2/status` cluster section for a single instance.
#[derive(Debug, Clone)]
pub enum ClusterStatusSource {
    /// `--cluster.listen-address=""`: Alertmanager reports `"disabled"` and no peers.
    Disabled,
    /// The default listen address without peers: Alertmanager runs a one-member cluster and
    /// reports itself as the only peer, `"ready"` once settled.
    SingleMember { name: String, address: String },
}

impl ClusterStatusSource {
    pub fn status(&self) -> ClusterStatus {
        match self {
            ClusterStatusSource::Disabled => {
                ClusterStatus { name: String::new(), peers: vec![], status: "disabled".into() }
            }
            ClusterStatusSource::SingleMember { name, address } => ClusterStatus {
                name: name.clone(),
                peers: vec![model::PeerStatus { address: address.clone(), name: name.clone() }],
                status: "ready".into(),
            },
        }
    }
}

/// Builds the router at `prefix` ("/" or "/path" without trailing slash).
pub fn router(state: Arc<ApiState>, prefix: &str) -> Router {
    let app = Router::new()
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/ready", get(ready).head(ready))
        .route("/-/reload", axum::routing::post(reload).put(reload))
        .route("/metrics", get(metrics))
        .nest("/api/v2", v2::router())
        .route("/api/v1/{*rest}", any(v1_gone))
        .route("/", get(index))
        .fallback(not_found)
        .with_state(state);
    if prefix == "/" || prefix.is_empty() {
        app
    } else {
        Router::new().nest(prefix, app).route("/", get(redirect_to_prefix(prefix)))
    }
}

fn redirect_to_prefix(prefix: &str) -> impl Fn() -> std::future::Ready<Response> + Clone + Send + 'static {
    let target = format!("{prefix}/");
    move || std::future::ready(axum::response::Redirect::to(&target).into_response())
}

async fn healthy() -> &'static str {
    "OK"
}

async fn ready(State(st): State<Arc<ApiState>>) -> Response {
    if st.ready.load(Ordering::Acquire) {
        "OK".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

async fn reload(State(st): State<Arc<ApiState>>) -> Response {
    let hooks = st.hooks.clone();
    match tokio::task::spawn_blocking(move || hooks.reload()).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n")).into_response(),
    }
}

async fn metrics(State(st): State<Arc<ApiState>>) -> Response {
    let hooks = st.hooks.clone();
    let text = tokio::task::spawn_blocking(move || hooks.metrics_text()).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

/// Alertmanager serves its web UI here; Oxeye has none and points at the API instead.
async fn index() -> Response {
    let body = "<!DOCTYPE html><html><head><title>Oxeye Alertmanager</title></head><body>\
        <h1>oxeye-alertmanager</h1><p>An Alertmanager-compatible alert router. It has no web UI; use \
        <a href=\"api/v2/status\">API v2</a>, <code>amtool</code>, or Grafana.</p></body></html>";
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body).into_response()
}

/// API v1 was deprecated in Alertmanager 0.25 and is not served by Oxeye: answer like
/// Alertmanager 0.27+ does once it was removed.
async fn v1_gone() -> Response {
    let body = serde_json::json!({
        "status": "deprecated",
        "error": "The Alertmanager v1 API was deprecated in version 0.16.0 and is not served by oxeye-alertmanager. Please use the v2 API (/api/v2/...) instead.",
    });
    (StatusCode::GONE, axum::Json(body)).into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let body = model::SchemaError { code: 404, message: format!("path {} was not found", uri.path()) };
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}
