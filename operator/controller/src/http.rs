//! The operator's HTTP endpoints: `/metrics` (Prometheus text format), `/healthz` (the process
//! serves) and `/readyz` (every watch has listed once, so decisions are made on a full view).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use parking_lot::RwLock;
use prometheus_client::registry::Registry;

/// What the handlers read.
pub struct Endpoints {
    pub registry: RwLock<Registry>,
    pub ready: AtomicBool,
}

pub fn router(state: Arc<Endpoints>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(st): State<Arc<Endpoints>>) -> impl IntoResponse {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &st.registry.read()) {
        tracing::error!(error = %e, "encoding metrics failed");
        return (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain")], e.to_string());
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out)
}

async fn readyz(State(st): State<Arc<Endpoints>>) -> impl IntoResponse {
    if st.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches are not synced yet")
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn readiness_follows_the_flag_and_metrics_encode() {
        let mut registry = Registry::default();
        let metrics = crate::metrics::Metrics::default();
        metrics.register(&mut registry);
        metrics.reconcile_operations.get_or_create(&crate::metrics::controller()).inc();
        let st = Arc::new(Endpoints { registry: RwLock::new(registry), ready: AtomicBool::new(false) });
        let get = |p: &str| Request::get(p).body(Body::empty()).unwrap();
        let r = router(st.clone()).oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        st.ready.store(true, Ordering::Release);
        let r = router(st.clone()).oneshot(get("/readyz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = router(st.clone()).oneshot(get("/healthz")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = router(st).oneshot(get("/metrics")).await.unwrap();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("prometheus_operator_reconcile_operations_total"), "{text}");
    }
}
