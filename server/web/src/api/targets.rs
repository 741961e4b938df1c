//! `/api/v1/targets`, `/api/v1/targets/metadata`, `/api/v1/metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::series::labels_json;
use super::{ApiError, success};
use crate::params::Params;
use crate::state::{ApiState, MetricMetadata};

/// Go's zero `time.Time`, which Prometheus reports for targets not scraped yet.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub async fn targets(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let state = p.get("state").unwrap_or("").to_lowercase();
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let pool = p.get("scrapePool").filter(|s| !s.is_empty());

    let mut active = Vec::new();
    if show_active {
        let mut ts = st.targets.active_targets();
        ts.retain(|t| pool.is_none_or(|p| t.scrape_pool == p));
        ts.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool).then_with(|| a.labels.cmp(&b.labels)));
        for t in ts {
            active.push(json!({
                "discoveredLabels": labels_json(&t.discovered_labels),
                "labels": labels_json(&t.labels),
                "scrapePool": t.scrape_pool,
                "scrapeUrl": t.scrape_url,
                "globalUrl": t.global_url,
                "lastError": t.last_error,
                "lastScrape": t.last_scrape.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    .unwrap_or_else(|| ZERO_TIME.to_string()),
                "lastScrapeDuration": t.last_scrape_duration_secs,
                "health": t.health,
                "scrapeInterval": t.scrape_interval,
                "scrapeTimeout": t.scrape_timeout,
            }));
        }
    }
    let mut dropped = Vec::new();
    let mut dropped_counts: BTreeMap<String, u64> = BTreeMap::new();
    if show_dropped {
        for t in st.targets.dropped_targets() {
            if pool.is_some_and(|p| t.scrape_pool != p) {
                continue;
            }
            *dropped_counts.entry(t.scrape_pool.clone()).or_default() += 1;
            dropped.push(json!({ "discoveredLabels": labels_json(&t.discovered_labels), "scrapePool": t.scrape_pool }));
        }
    }
    Ok(success(json!({
        "activeTargets": active,
        "droppedTargets": dropped,
        "droppedTargetCounts": dropped_counts,
    })))
}

/// `/api/v1/scrape_pools` (Prometheus 2.42+): the configured scrape pools, sorted.
pub async fn scrape_pools(State(st): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let mut pools = st.targets.scrape_pools();
    pools.sort();
    Ok(success(json!({ "scrapePools": pools })))
}

pub async fn targets_metadata(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let limit = p.limit()?;
    let matchers = match p.get("match_target").filter(|s| !s.is_empty()) {
        Some(s) => oxeye_promql::parse_series_selector(s).map_err(|e| ApiError::bad_data(e.to_string()))?,
        None => Vec::new(),
    };
    let metric = p.get("metric").filter(|s| !s.is_empty());
    let mut out: Vec<Value> = Vec::new();
    for tm in st.targets.targets_metadata() {
        if limit > 0 && out.len() >= limit {
            break;
        }
        if !matchers.iter().all(|m| m.matches(tm.target.get(&m.name))) {
            continue;
        }
        if metric.is_some_and(|m| tm.metadata.metric != m) {
            continue;
        }
        let mut obj = json!({
            "target": labels_json(&tm.target),
            "type": tm.metadata.typ,
            "help": tm.metadata.help,
            "unit": tm.metadata.unit,
        });
        if metric.is_none()
            && let Some(o) = obj.as_object_mut()
        {
            o.insert("metric".to_string(), Value::String(tm.metadata.metric.clone()));
        }
        out.push(obj);
    }
    Ok(success(Value::Array(out)))
}

pub async fn metadata(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let limit = parse_signed(&p, "limit")?;
    let per_metric = parse_signed(&p, "limit_per_metric")?;
    let metric = p.get("metric").filter(|s| !s.is_empty());
    let mut by_metric: BTreeMap<String, BTreeSet<MetricMetadata>> = BTreeMap::new();
    for tm in st.targets.targets_metadata() {
        if metric.is_some_and(|m| tm.metadata.metric != m) {
            continue;
        }
        by_metric.entry(tm.metadata.metric.clone()).or_default().insert(tm.metadata);
    }
    let mut out = serde_json::Map::new();
    for (name, set) in by_metric {
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        let entries: Vec<Value> = set
            .into_iter()
            .take(if per_metric >= 0 { per_metric as usize } else { usize::MAX })
            .map(|m| json!({"type": m.typ, "help": m.help, "unit": m.unit}))
            .collect();
        out.insert(name, Value::Array(entries));
    }
    Ok(success(Value::Object(out)))
}

/// Prometheus's metadata limits: absent or negative means unlimited.
fn parse_signed(p: &Params, key: &str) -> Result<i64, ApiError> {
    match p.get(key) {
        None | Some("") => Ok(-1),
        Some(s) => s.parse::<i64>().map_err(|_| ApiError::bad_data(format!("{key} must be a number"))),
    }
}
