//! API v2 handlers: alerts, alert groups, silences, receivers and status, with Alertmanager
//! 0.25's filters, sort orders, status codes and error bodies (a JSON string for handler
//! errors, `{"code","message"}` for schema violations).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use oxeye_model::Labels;
use regex::Regex;
use serde_json::Value;

use super::ApiState;
use super::filter::{FilterMatcher, labels_match, parse_filters, silence_matches};
use super::model::{
    AlertGroup, AlertmanagerConfig, AlertmanagerStatus, GettableAlert, GettableSilence, PostSilenceOk, Receiver,
    SchemaError, label_map,
};
use super::query::{ListParams, filters};
use crate::backend::{AlertState, AlertView, MatcherView, NewAlert, NewSilence, SilenceError};

pub fn router() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/status", get(status))
        .route("/receivers", get(receivers))
        .route("/alerts", get(get_alerts).post(post_alerts))
        .route("/alerts/groups", get(get_alert_groups))
        .route("/silences", get(get_silences).post(post_silences))
        .route("/silence/{id}", get(get_silence).delete(delete_silence))
        .layer(axum::middleware::map_response(no_store))
}

/// Alertmanager marks API answers as uncacheable.
async fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An API error as Alertmanager answers it.
#[derive(Debug)]
enum ApiError {
    /// A handler's error: a JSON string payload.
    Handler(StatusCode, String),
    /// A request violating the OpenAPI schema: go-swagger's `{"code","message"}`.
    Schema(StatusCode, u32, String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Handler(code, msg) => (code, Json(Value::String(msg))).into_response(),
            ApiError::Schema(code, swagger_code, message) => {
                (code, Json(SchemaError { code: swagger_code, message })).into_response()
            }
        }
    }
}

fn error(code: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError::Handler(code, msg.into())
}

fn schema_error(code: StatusCode, swagger_code: u32, msg: impl Into<String>) -> ApiError {
    ApiError::Schema(code, swagger_code, msg.into())
}

async fn status(State(st): State<Arc<ApiState>>) -> Json<AlertmanagerStatus> {
    Json(AlertmanagerStatus {
        cluster: st.cluster.status(),
        config: AlertmanagerConfig { original: st.config.read().original.clone() },
        uptime: st.uptime,
        version_info: st.version.clone(),
    })
}

async fn receivers(State(st): State<Arc<ApiState>>) -> Json<Vec<Receiver>> {
    Json(st.config.read().receivers.iter().map(|r| Receiver { name: r.clone() }).collect())
}

/// The filters of the alert list endpoints, parsed once per request.
struct AlertFilter {
    matchers: Vec<FilterMatcher>,
    receiver: Option<Regex>,
    params: ListParams,
}

impl AlertFilter {
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let params = ListParams::parse(query);
        let matchers = parse_filters(&params.filter).map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
        let receiver = match &params.receiver {
            Some(r) => Some(Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                error(StatusCode::BAD_REQUEST, format!("failed to parse receiver param: error parsing regexp: {e}"))
            })?),
            None => None,
        };
        Ok(AlertFilter { matchers, receiver, params })
    }

    /// Alertmanager's `alertFilter`: resolved alerts never show; then state flags, then labels.
    fn accepts(&self, a: &AlertView, now: DateTime<Utc>) -> bool {
        if a.ends_at < now {
            return false;
        }
        let p = &self.params;
        if !p.active && a.state == AlertState::Active {
            return false;
        }
        if !p.silenced && !a.silenced_by.is_empty() {
            return false;
        }
        if !p.inhibited && !a.inhibited_by.is_empty() {
            return false;
        }
        labels_match(&self.matchers, &a.labels)
    }

    fn receiver_ok(&self, receiver: &str) -> bool {
        self.receiver.as_ref().is_none_or(|re| re.is_match(receiver))
    }
}

async fn get_alerts(State(st): State<Arc<ApiState>>, RawQuery(q): RawQuery) -> Response {
    let filter = match AlertFilter::parse(q.as_deref()) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let backend = st.backend.clone();
    let alerts = match tokio::task::spawn_blocking(move || backend.alerts()).await {
        Ok(a) => a,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let now = Utc::now();
    let mut out: Vec<GettableAlert> = alerts
        .iter()
        .filter(|a| filter.receiver.is_none() || a.receivers.iter().any(|r| filter.receiver_ok(r)))
        .filter(|a| filter.accepts(a, now))
        .map(GettableAlert::from)
        .collect();
    out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    Json(out).into_response()
}

async fn get_alert_groups(State(st): State<Arc<ApiState>>, RawQuery(q): RawQuery) -> Response {
    let filter = match AlertFilter::parse(q.as_deref()) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let backend = st.backend.clone();
    let groups = match tokio::task::spawn_blocking(move || backend.alert_groups()).await {
        Ok(g) => g,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let now = Utc::now();
    let groups: Vec<_> = groups
        .into_iter()
        .filter(|g| filter.receiver_ok(&g.receiver))
        .map(|g| {
            let alerts: Vec<AlertView> = g.alerts.into_iter().filter(|a| filter.accepts(a, now)).collect();
            (g.labels, g.receiver, alerts)
        })
        .filter(|(_, _, alerts)| !alerts.is_empty())
        .collect();
    // An alert's receivers are those of the (filtered) groups it is in, as the dispatcher
    // reports them.
    let mut receivers_of: HashMap<String, Vec<String>> = HashMap::new();
    for (_, receiver, alerts) in &groups {
        for a in alerts {
            let rs = receivers_of.entry(a.fingerprint.clone()).or_default();
            if !rs.contains(receiver) {
                rs.push(receiver.clone());
            }
        }
    }
    let out: Vec<AlertGroup> = groups
        .into_iter()
        .map(|(labels, receiver, alerts)| AlertGroup {
            alerts: alerts
                .iter()
                .map(|a| {
                    let mut g = GettableAlert::from(a);
                    if let Some(rs) = receivers_of.get(&a.fingerprint) {
                        g.receivers = rs.iter().map(|r| Receiver { name: r.clone() }).collect();
                    }
                    g
                })
                .collect(),
            labels: label_map(&labels),
            receiver: Receiver { name: receiver },
        })
        .collect();
    Json(out).into_response()
}

fn parse_time(v: &Value, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => {
            let t = DateTime::parse_from_rfc3339(s)
                .map_err(|e| format!("{field} in body must be of type date-time: {s:?} ({e})"))?;
            let t = t.with_timezone(&Utc);
            // Go's zero time (0001-01-01T00:00:00Z) means "not set".
            Ok(if t.timestamp() <= -62_135_596_800 { None } else { Some(t) })
        }
        _ => Err(format!("{field} in body must be of type date-time")),
    }
}

fn parse_label_set(v: &Value, field: &str) -> Result<Labels, String> {
    let Value::Object(m) = v else {
        return Err(format!("{field} in body must be of type object"));
    };
    let mut pairs = Vec::with_capacity(m.len());
    for (k, v) in m {
        let Value::String(s) = v else {
            return Err(format!("{field}.{k} in body must be of type string"));
        };
        pairs.push((k.clone(), s.clone()));
    }
    Ok(Labels::from_pairs(pairs))
}

/// Parses the posted alert list with go-swagger's schema checks.
fn parse_postable_alerts(body: &[u8]) -> Result<Vec<NewAlert>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        schema_error(StatusCode::BAD_REQUEST, 400, format!("parsing alerts body from \"\" failed, because {e}"))
    })?;
    let Value::Array(items) = v else {
        return Err(schema_error(
            StatusCode::BAD_REQUEST,
            400,
            "parsing alerts body from \"\" failed, because json: cannot unmarshal object into Go value of type models.PostableAlerts",
        ));
    };
    let unprocessable = |m: String| schema_error(StatusCode::UNPROCESSABLE_ENTITY, 602, m);
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else {
            return Err(unprocessable(format!("{i} in body must be of type object")));
        };
        let labels = match o.get("labels") {
            None | Some(Value::Null) => return Err(unprocessable(format!("{i}.labels in body is required"))),
            Some(l) => parse_label_set(l, &format!("{i}.labels")).map_err(unprocessable)?,
        };
        let annotations = match o.get("annotations") {
            None | Some(Value::Null) => Labels::empty(),
            Some(a) => parse_label_set(a, &format!("{i}.annotations")).map_err(unprocessable)?,
        };
        let null = Value::Null;
        let starts_at =
            parse_time(o.get("startsAt").unwrap_or(&null), &format!("{i}.startsAt")).map_err(unprocessable)?;
        let ends_at = parse_time(o.get("endsAt").unwrap_or(&null), &format!("{i}.endsAt")).map_err(unprocessable)?;
        let generator_url = match o.get("generatorURL") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(_) => return Err(unprocessable(format!("{i}.generatorURL in body must be of type uri"))),
        };
        out.push(NewAlert { labels, annotations, starts_at, ends_at, generator_url });
    }
    Ok(out)
}

async fn post_alerts(State(st): State<Arc<ApiState>>, body: Bytes) -> Response {
    let alerts = match parse_postable_alerts(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let backend = st.backend.clone();
    match tokio::task::spawn_blocking(move || backend.put_alerts(alerts)).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(errs)) => {
            let msg = errs.join("; ");
            tracing::error!(path = "/api/v2/alerts", error = %msg, "failed to validate alerts");
            error(StatusCode::BAD_REQUEST, msg).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Alertmanager's silence list order: active (next to end first), pending (next to start
/// first), expired (most recently ended first).
fn sort_silences(sils: &mut [GettableSilence]) {
    fn rank(s: &str) -> u8 {
        match s {
            "active" => 1,
            "pending" => 2,
            "expired" => 3,
            _ => 4,
        }
    }
    sils.sort_by(|a, b| {
        rank(&a.status.state).cmp(&rank(&b.status.state)).then_with(|| match a.status.state.as_str() {
            "active" => a.ends_at.cmp(&b.ends_at),
            "pending" => a.starts_at.cmp(&b.starts_at),
            "expired" => b.ends_at.cmp(&a.ends_at),
            _ => std::cmp::Ordering::Equal,
        })
    });
}

async fn get_silences(State(st): State<Arc<ApiState>>, RawQuery(q): RawQuery) -> Response {
    let matchers = match parse_filters(&filters(q.as_deref())) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e).into_response(),
    };
    let backend = st.backend.clone();
    let sils = match tokio::task::spawn_blocking(move || backend.silences()).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut out: Vec<GettableSilence> =
        sils.iter().filter(|s| silence_matches(&matchers, &s.matchers)).map(GettableSilence::from).collect();
    sort_silences(&mut out);
    Json(out).into_response()
}

/// go-swagger checks the `{silenceID}` path parameter's uuid format before any handler runs.
fn check_uuid(id: &str) -> Result<(), ApiError> {
    let ok = id.len() == 36
        && id.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() });
    if ok {
        Ok(())
    } else {
        Err(schema_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            601,
            format!("silenceID in path must be of type uuid: {id:?}"),
        ))
    }
}

async fn get_silence(State(st): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
    if let Err(r) = check_uuid(&id) {
        return r.into_response();
    }
    let backend = st.backend.clone();
    let sils = match tokio::task::spawn_blocking(move || backend.silences()).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match sils.iter().find(|s| s.id == id) {
        Some(s) => Json(GettableSilence::from(s)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete_silence(State(st): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
    if let Err(r) = check_uuid(&id) {
        return r.into_response();
    }
    let backend = st.backend.clone();
    let sid = id.clone();
    match tokio::task::spawn_blocking(move || backend.expire_silence(&sid)).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        // Alertmanager 0.25 answers an unknown id with 500 and "silence not found".
        Ok(Err(e)) => {
            tracing::error!(path = "/api/v2/silence", id = %id, error = %e, "failed to expire silence");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn parse_postable_silence(body: &[u8]) -> Result<NewSilence, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        schema_error(StatusCode::BAD_REQUEST, 400, format!("parsing silence body from \"\" failed, because {e}"))
    })?;
    let Value::Object(o) = v else {
        return Err(schema_error(StatusCode::UNPROCESSABLE_ENTITY, 602, "silence in body must be of type object"));
    };
    let required = |f: &str| schema_error(StatusCode::UNPROCESSABLE_ENTITY, 602, format!("{f} in body is required"));
    let bad = |m: String| schema_error(StatusCode::UNPROCESSABLE_ENTITY, 602, m);
    let string_field = |f: &str| -> Result<String, ApiError> {
        match o.get(f) {
            None | Some(Value::Null) => Err(required(f)),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(bad(format!("{f} in body must be of type string"))),
        }
    };
    let comment = string_field("comment")?;
    let created_by = string_field("createdBy")?;
    let time_field = |f: &str| -> Result<DateTime<Utc>, ApiError> {
        match o.get(f) {
            None | Some(Value::Null) => Err(required(f)),
            Some(v) => parse_time(v, f).map_err(bad)?.ok_or_else(|| required(f)),
        }
    };
    let ends_at = time_field("endsAt")?;
    let Some(Value::Array(ms)) = o.get("matchers") else {
        return Err(required("matchers"));
    };
    if ms.is_empty() {
        return Err(schema_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            612,
            "matchers in body should have at least 1 items",
        ));
    }
    let mut matchers = Vec::with_capacity(ms.len());
    for (i, m) in ms.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(bad(format!("matchers.{i} in body must be of type object")));
        };
        let s = |f: &str| match m.get(f) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(required(&format!("matchers.{i}.{f}"))),
        };
        let b = |f: &str, default: Option<bool>| match (m.get(f), default) {
            (Some(Value::Bool(b)), _) => Ok(*b),
            (None | Some(Value::Null), Some(d)) => Ok(d),
            _ => Err(required(&format!("matchers.{i}.{f}"))),
        };
        matchers.push(MatcherView {
            name: s("name")?,
            value: s("value")?,
            is_regex: b("isRegex", None)?,
            is_equal: b("isEqual", Some(true))?,
        });
    }
    let starts_at = time_field("startsAt")?;
    let id = match o.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Ok(NewSilence { id, matchers, starts_at, ends_at, created_by, comment })
}

async fn post_silences(State(st): State<Arc<ApiState>>, body: Bytes) -> Response {
    let sil = match parse_postable_silence(&body) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    if sil.starts_at >= sil.ends_at {
        return error(StatusCode::BAD_REQUEST, "Failed to create silence: start time must be before end time")
            .into_response();
    }
    if sil.ends_at < Utc::now() {
        return error(StatusCode::BAD_REQUEST, "Failed to create silence: end time can't be in the past")
            .into_response();
    }
    let backend = st.backend.clone();
    match tokio::task::spawn_blocking(move || backend.set_silence(sil)).await {
        Ok(Ok(id)) => Json(PostSilenceOk { silence_id: id }).into_response(),
        Ok(Err(SilenceError::NotFound)) => {
            error(StatusCode::NOT_FOUND, SilenceError::NotFound.to_string()).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(path = "/api/v2/silences", error = %e, "failed to create silence");
            error(StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
