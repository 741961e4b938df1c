//! Oxeye's HTTP surface: the Prometheus `/api/v1` JSON API (query, series, labels, targets,
//! metadata, rules, alerts, status), the lifecycle endpoints (`/-/healthy`, `/-/ready`, `/-/reload`, `/-/quit`),
//! `/metrics` and a small query UI. It reaches the rest of the server only through the traits in
//! [`state`], so handlers are tested in process without scraping or a TSDB on disk.

pub mod api;
pub mod format;
pub mod params;
pub mod state;
mod ui;

pub use api::ApiError;
pub use state::{
    ActiveTarget, AlertInfo, ApiState, DroppedTarget, Lifecycle, MetricMetadata, RuleGroupInfo, RuleInfo, RuleKind,
    RulesView, StatusView, TargetMetadata, TargetsView,
};

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

/// Builds the whole router: API, lifecycle, metrics and UI, at the root.
pub fn router(state: Arc<ApiState>) -> Router {
    build(state, None)
}

/// The router under a route prefix such as `/prom` (from `--web.external-url`), as Prometheus
/// serves it: everything under the prefix, the UI at `<prefix>/`, and both `/` and `<prefix>`
/// redirecting there so the UI's relative API calls resolve.
pub fn router_under(state: Arc<ApiState>, prefix: &str) -> Router {
    let home = format!("{prefix}/");
    let redirect = {
        let home = home.clone();
        move || async move { axum::response::Redirect::to(&home) }
    };
    Router::new().nest(prefix, build(state, Some(home.clone()))).route(&home, get(ui::index)).route("/", get(redirect))
}

fn build(state: Arc<ApiState>, home: Option<String>) -> Router {
    let api = Router::new()
        .route("/query", get(api::query::instant).post(api::query::instant))
        .route("/query_range", get(api::query::range).post(api::query::range))
        .route("/query_exemplars", get(api::query::exemplars).post(api::query::exemplars))
        .route("/format_query", get(api::query::format_query).post(api::query::format_query))
        .route("/series", get(api::series::series).post(api::series::series))
        .route("/labels", get(api::series::label_names).post(api::series::label_names))
        .route("/label/{name}/values", get(api::series::label_values))
        .route("/targets", get(api::targets::targets))
        .route("/targets/metadata", get(api::targets::targets_metadata))
        .route("/scrape_pools", get(api::targets::scrape_pools))
        .route("/metadata", get(api::targets::metadata))
        .route("/rules", get(api::rules::rules))
        .route("/alerts", get(api::rules::alerts))
        .route("/alertmanagers", get(api::rules::alertmanagers))
        .route("/status/buildinfo", get(api::status::buildinfo))
        .route("/status/config", get(api::status::config))
        .route("/status/flags", get(api::status::flags))
        .route("/status/runtimeinfo", get(api::status::runtimeinfo))
        .route("/status/tsdb", get(api::status::tsdb))
        .route("/status/walreplay", get(api::status::walreplay))
        .fallback(api::not_found);

    Router::new()
        .nest("/api/v1", api)
        .route("/-/healthy", get(api::lifecycle::healthy).head(api::lifecycle::healthy))
        .route("/-/ready", get(api::lifecycle::ready).head(api::lifecycle::ready))
        .route("/-/reload", post(api::lifecycle::reload).put(api::lifecycle::reload))
        .route("/-/quit", post(api::lifecycle::quit).put(api::lifecycle::quit))
        .route("/metrics", get(api::lifecycle::metrics))
        .route(
            "/",
            match home {
                None => get(ui::index),
                Some(home) => get(move || async move { axum::response::Redirect::to(&home) }),
            },
        )
        .route("/query", get(ui::index))
        .route("/graph", get(ui::index))
        .with_state(state)
}
