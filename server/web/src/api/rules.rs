//! `/api/v1/rules`, `/api/v1/alerts` and `/api/v1/alertmanagers`, in Prometheus 3.x's JSON shape:
//! rules in file order with their health and last evaluation, alert values in Go's `%e` form.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use oxeye_model::{Labels, Matcher};
use serde_json::{Value, json};

use super::series::labels_json;
use super::{ApiError, success};
use crate::params::Params;
use crate::state::{AlertInfo, ApiState, RuleInfo, RuleKind};

/// Go's zero `time.Time`, reported for rules not evaluated yet.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest mantissa, exponent with a sign and at
/// least two digits (`1e+00`, `2.5e-07`), as Prometheus formats alert values.
pub fn format_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() };
    }
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

/// A float64 as Go's encoding/json writes it: integral values without a fraction (`1`, not
/// `1.0`), so clients comparing JSON with Prometheus's see the same numbers.
fn go_number(v: f64) -> Value {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 { Value::from(v as i64) } else { Value::from(v) }
}

fn time_json(ms: Option<i64>) -> Value {
    match ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        None => Value::String(ZERO_TIME.to_string()),
    }
}

fn alert_json(a: &AlertInfo) -> Value {
    let mut v = json!({
        "labels": labels_json(&a.labels),
        "annotations": labels_json(&a.annotations),
        "state": a.state,
        "value": format_float_e(a.value),
    });
    if let Some(obj) = v.as_object_mut() {
        if a.active_at.is_some() {
            obj.insert("activeAt".into(), time_json(a.active_at));
        }
        if a.keep_firing_since.is_some() {
            obj.insert("keepFiringSince".into(), time_json(a.keep_firing_since));
        }
    }
    v
}

/// Which rules a `/api/v1/rules` request asks for.
struct RuleFilter {
    alerting: bool,
    recording: bool,
    names: BTreeSet<String>,
    groups: BTreeSet<String>,
    files: BTreeSet<String>,
    exclude_alerts: bool,
    matcher_sets: Vec<Vec<Matcher>>,
}

impl RuleFilter {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        let typ = p.get("type").unwrap_or("").to_lowercase();
        let (alerting, recording) = match typ.as_str() {
            "" => (true, true),
            "alert" => (true, false),
            "record" => (false, true),
            other => {
                return Err(ApiError::bad_data(format!("unsupported type {other:?}: use \"alert\" or \"record\"")));
            }
        };
        let set = |key: &str| p.all(key).into_iter().map(str::to_string).collect::<BTreeSet<_>>();
        let exclude_alerts = match p.get("exclude_alerts").unwrap_or("") {
            "" | "false" | "0" => false,
            "true" | "1" => true,
            other => {
                return Err(ApiError::bad_data(format!("invalid exclude_alerts value {other:?}: use true or false")));
            }
        };
        let mut matcher_sets = Vec::new();
        for m in p.all("match[]") {
            let set = oxeye_promql::parse_series_selector(m).map_err(|e| ApiError::bad_data(e.to_string()))?;
            matcher_sets.push(set);
        }
        Ok(RuleFilter {
            alerting,
            recording,
            names: set("rule_name[]"),
            groups: set("rule_group[]"),
            files: set("file[]"),
            exclude_alerts,
            matcher_sets,
        })
    }

    fn keeps(&self, rule: &RuleInfo) -> bool {
        let type_ok = match rule.kind {
            RuleKind::Alerting { .. } => self.alerting,
            RuleKind::Recording => self.recording,
        };
        type_ok
            && (self.names.is_empty() || self.names.contains(&rule.name))
            && (self.matcher_sets.is_empty() || self.matcher_sets.iter().any(|set| matches_all(set, &rule.labels)))
    }
}

fn matches_all(set: &[Matcher], labels: &Labels) -> bool {
    set.iter().all(|m| m.matches(labels.get(&m.name)))
}

fn rule_json(rule: &RuleInfo, exclude_alerts: bool) -> Value {
    let mut v = match &rule.kind {
        RuleKind::Alerting { state, duration_secs, keep_firing_for_secs, annotations, alerts } => {
            let mut v = json!({
                "state": state,
                "name": rule.name,
                "query": rule.query,
                "duration": go_number(*duration_secs),
                "keepFiringFor": go_number(*keep_firing_for_secs),
                "labels": labels_json(&rule.labels),
                "annotations": labels_json(annotations),
                "health": rule.health,
                "evaluationTime": go_number(rule.evaluation_time_secs),
                "lastEvaluation": time_json(rule.last_evaluation),
                "type": "alerting",
            });
            if !exclude_alerts && let Some(obj) = v.as_object_mut() {
                obj.insert("alerts".into(), Value::Array(alerts.iter().map(alert_json).collect()));
            }
            v
        }
        RuleKind::Recording => {
            let mut v = json!({
                "name": rule.name,
                "query": rule.query,
                "health": rule.health,
                "evaluationTime": go_number(rule.evaluation_time_secs),
                "lastEvaluation": time_json(rule.last_evaluation),
                "type": "recording",
            });
            // Prometheus omits a recording rule's empty labels (`omitempty`); alerting rules
            // always carry the field.
            if !rule.labels.is_empty()
                && let Some(obj) = v.as_object_mut()
            {
                obj.insert("labels".into(), labels_json(&rule.labels));
            }
            v
        }
    };
    if let (Some(err), Some(obj)) = (&rule.last_error, v.as_object_mut()) {
        obj.insert("lastError".into(), Value::String(err.clone()));
    }
    v
}

pub async fn rules(State(st): State<Arc<ApiState>>, p: Params) -> Result<Response, ApiError> {
    let filter = RuleFilter::from_params(&p)?;
    let groups = st.rules.as_ref().map(|r| r.rule_groups()).unwrap_or_default();
    let mut out = Vec::new();
    for g in groups {
        if !filter.groups.is_empty() && !filter.groups.contains(&g.name) {
            continue;
        }
        if !filter.files.is_empty() && !filter.files.contains(&g.file) {
            continue;
        }
        let rules: Vec<Value> =
            g.rules.iter().filter(|r| filter.keeps(r)).map(|r| rule_json(r, filter.exclude_alerts)).collect();
        // As in Prometheus, a group whose rules were all filtered out is left out.
        if rules.is_empty() {
            continue;
        }
        out.push(json!({
            "name": g.name,
            "file": g.file,
            "rules": rules,
            "interval": go_number(g.interval_secs),
            "limit": g.limit,
            "evaluationTime": go_number(g.evaluation_time_secs),
            "lastEvaluation": time_json(g.last_evaluation),
        }));
    }
    Ok(success(json!({ "groups": out })))
}

pub async fn alerts(State(st): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let alerts = st.rules.as_ref().map(|r| r.alerts()).unwrap_or_default();
    Ok(success(json!({ "alerts": alerts.iter().map(alert_json).collect::<Vec<_>>() })))
}

pub async fn alertmanagers(State(st): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let (active, dropped) = st.rules.as_ref().map(|r| r.alertmanagers()).unwrap_or_default();
    let urls = |v: Vec<String>| v.into_iter().map(|u| json!({ "url": u })).collect::<Vec<_>>();
    Ok(success(json!({ "activeAlertmanagers": urls(active), "droppedAlertmanagers": urls(dropped) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_floats_like_go_e() {
        assert_eq!(format_float_e(1.0), "1e+00");
        assert_eq!(format_float_e(0.0), "0e+00");
        assert_eq!(format_float_e(25.0), "2.5e+01");
        assert_eq!(format_float_e(-0.00025), "-2.5e-04");
        assert_eq!(format_float_e(1.5e300), "1.5e+300");
        assert_eq!(format_float_e(f64::NAN), "NaN");
        assert_eq!(format_float_e(f64::NEG_INFINITY), "-Inf");
    }
}
