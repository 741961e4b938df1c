//! Alerting rules (Prometheus's `rules/alerting.go`): the per-label-set alert state machine
//! (inactive -> pending -> firing, `keep_firing_for`, 15 minutes of resolved retention),
//! template expansion of labels and annotations, the `ALERTS` / `ALERTS_FOR_STATE` series, the
//! resend policy and `for`-state restoration. Appending and scheduling belong to the group.

use std::collections::BTreeMap;
use std::time::Duration;

use oxeye_model::{Alert, Label, Labels, LabelsBuilder, METRIC_NAME};

use crate::group::{EvalContext, query_vector};
use crate::{ActiveAlertStatus, RuleHealth, RuleKind, RuleStatus, dur_ms};

/// How long a resolved alert is kept (and resent) after it resolved.
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);
pub const ALERT_METRIC_NAME: &str = "ALERTS";
pub const ALERT_FOR_STATE_METRIC_NAME: &str = "ALERTS_FOR_STATE";
pub const ALERT_NAME_LABEL: &str = "alertname";
pub const ALERT_STATE_LABEL: &str = "alertstate";

/// The state of one alert (and, for a rule, the most advanced state among its alerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AlertState {
    #[default]
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

impl std::fmt::Display for AlertState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert of a rule: Prometheus's `rules.Alert`. Times are milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub state: AlertState,
    pub value: f64,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub valid_until: i64,
    pub keep_firing_since: Option<i64>,
}

impl RuleAlert {
    /// Prometheus's `needsSending`: never pending alerts; resolved-since-last-send ones at once;
    /// otherwise once the resend delay has passed.
    fn needs_sending(&self, ts: i64, resend_delay: Duration) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at;
        if let Some(r) = self.resolved_at
            && last.is_none_or(|l| r > l)
        {
            return true;
        }
        match last {
            None => true,
            Some(l) => l + dur_ms(resend_delay) < ts,
        }
    }

    fn status(&self) -> ActiveAlertStatus {
        ActiveAlertStatus {
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            state: self.state,
            active_at: self.active_at,
            fired_at: self.fired_at,
            resolved_at: self.resolved_at,
            keep_firing_since: self.keep_firing_since,
            value: self.value,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub(crate) name: String,
    pub(crate) expr: String,
    /// The expression as Prometheus prints it, for generator URLs.
    pub(crate) canonical_expr: String,
    pub(crate) hold: Duration,
    pub(crate) keep_firing_for: Duration,
    /// Group labels merged under rule labels; values are templates.
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) external_labels: Labels,
    pub(crate) external_url: String,
    /// Alerts by their label set (Prometheus keys them by the label hash).
    pub(crate) active: BTreeMap<Labels, RuleAlert>,
    /// Whether `ALERTS` series are written: false until `for` state was restored after a start.
    pub(crate) restored: bool,
    pub(crate) health: RuleHealth,
    pub(crate) last_error: Option<String>,
    pub(crate) eval_time: Duration,
    pub(crate) last_eval: Option<i64>,
}

impl AlertingRule {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: impl Into<String>,
        expr: impl Into<String>,
        hold: Duration,
        keep_firing_for: Duration,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
        external_labels: Labels,
        external_url: impl Into<String>,
        restored: bool,
    ) -> Self {
        let expr = expr.into();
        let canonical_expr =
            promql_parser::parser::parse(&expr).map(|e| e.to_string()).unwrap_or_else(|_| expr.clone());
        AlertingRule {
            name: name.into(),
            expr,
            canonical_expr,
            hold,
            keep_firing_for,
            labels,
            annotations,
            external_labels,
            external_url: external_url.into(),
            active: BTreeMap::new(),
            restored,
            health: RuleHealth::Unknown,
            last_error: None,
            eval_time: Duration::ZERO,
            last_eval: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn query(&self) -> &str {
        &self.expr
    }

    /// The rule's `for`.
    pub fn hold_duration(&self) -> Duration {
        self.hold
    }

    pub fn keep_firing_for(&self) -> Duration {
        self.keep_firing_for
    }

    pub fn labels(&self) -> Labels {
        Labels::from_pairs(self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    pub fn annotations(&self) -> Labels {
        Labels::from_sorted(self.annotations.iter().map(|(k, v)| Label::new(k.clone(), v.clone())).collect())
    }

    /// Pending and firing alerts (Prometheus's `ActiveAlerts`): resolved ones are left out.
    pub fn active_alerts(&self) -> Vec<ActiveAlertStatus> {
        self.active.values().filter(|a| a.resolved_at.is_none()).map(RuleAlert::status).collect()
    }

    /// The most advanced state among the rule's alerts.
    pub fn state(&self) -> AlertState {
        self.active.values().map(|a| a.state).max().unwrap_or(AlertState::Inactive)
    }

    /// `external_url/graph?g0.expr=...&g0.tab=1`, Prometheus's `TableLinkForExpression`.
    pub fn generator_url(&self) -> String {
        format!("{}/graph?g0.expr={}&g0.tab=1", self.external_url, query_escape(&self.canonical_expr))
    }

    /// Evaluates at `ts_ms` (querying at `ts_ms - query_offset_ms`), advances the alert states
    /// and returns the `ALERTS` / `ALERTS_FOR_STATE` samples to append.
    pub fn eval(
        &mut self,
        ctx: &EvalContext<'_>,
        ts_ms: i64,
        query_offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let sample_ts = ts_ms - query_offset_ms;
        let res = query_vector(ctx, &self.expr, sample_ts)?;
        let tmpl_name = format!("__alert_{}", self.name);
        let mut fresh: BTreeMap<Labels, RuleAlert> = BTreeMap::new();
        for smpl in res {
            let data = oxeye_template::AlertTemplateData {
                labels: &smpl.labels,
                external_labels: &self.external_labels,
                external_url: &self.external_url,
                value: smpl.v,
            };
            let expand = |text: &str| -> String { expand_template(ctx, &tmpl_name, text, &data, ts_ms) };
            let mut lb = LabelsBuilder::new(smpl.labels.clone());
            lb.del(METRIC_NAME);
            for (k, v) in &self.labels {
                lb.set(k.clone(), expand(v));
            }
            lb.set(ALERT_NAME_LABEL.to_string(), self.name.clone());
            let annotations =
                Labels::from_sorted(self.annotations.iter().map(|(k, v)| Label::new(k.clone(), expand(v))).collect());
            let labels = lb.labels();
            if fresh.contains_key(&labels) {
                return Err("vector contains metrics with the same labelset after applying alert labels".into());
            }
            fresh.insert(
                labels.clone(),
                RuleAlert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value: smpl.v,
                    active_at: ts_ms,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: 0,
                    keep_firing_since: None,
                },
            );
        }

        let returned: std::collections::HashSet<Labels> = fresh.keys().cloned().collect();
        for (k, a) in fresh {
            match self.active.get_mut(&k) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = a.value;
                    existing.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(k, a);
                }
            }
        }

        let hold = dur_ms(self.hold);
        let keep_for = dur_ms(self.keep_firing_for);
        let retention = dur_ms(RESOLVED_RETENTION);
        let mut out = Vec::new();
        let mut num_active = 0usize;
        let mut remove = Vec::new();
        for (k, a) in self.active.iter_mut() {
            if !returned.contains(k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts_ms);
                    keep_firing = ts_ms - since < keep_for;
                }
                // Resolved alerts stay (and are resent) for the retention period, so a lost
                // notification or an Alertmanager restart does not lose the resolution.
                if a.state == AlertState::Pending || a.resolved_at.is_some_and(|r| ts_ms - r > retention) {
                    remove.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts_ms);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            num_active += 1;
            if a.state == AlertState::Pending && ts_ms - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts_ms);
            }
            if self.restored {
                out.push((alert_sample_labels(a), 1.0));
                out.push((for_state_labels(&a.labels), (a.active_at / 1000) as f64));
            }
        }
        for k in remove {
            self.active.remove(&k);
        }
        if limit > 0 && num_active > limit {
            self.active.clear();
            return Err(format!("exceeded limit of {limit} with {num_active} alerts"));
        }
        Ok(out)
    }

    /// Prometheus's `sendAlerts`: the alerts due for (re)sending at `ts_ms`, with `EndsAt` set
    /// to the resolution time or to `ValidUntil` (four resend periods ahead).
    pub fn alerts_to_send(&mut self, ts_ms: i64, resend_delay: Duration, interval: Duration) -> Vec<Alert> {
        let delta = dur_ms(resend_delay.max(interval));
        let url = self.generator_url();
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if !a.needs_sending(ts_ms, resend_delay) {
                continue;
            }
            a.last_sent_at = Some(ts_ms);
            a.valid_until = ts_ms + 4 * delta;
            out.push(Alert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: a.fired_at.unwrap_or(a.active_at),
                ends_at: Some(a.resolved_at.unwrap_or(a.valid_until)),
                generator_url: url.clone(),
            });
        }
        out
    }

    /// Prometheus's `RestoreForState` for this rule: moves `active_at` of the current alerts
    /// from the `ALERTS_FOR_STATE` series found in `[ts - outage_tolerance, ts]`.
    pub(crate) fn restore_for_state(&mut self, ctx: &EvalContext<'_>, ts_ms: i64) {
        if self.hold < ctx.for_grace_period {
            // The alert would fire within the grace period anyway: nothing to restore.
            self.restored = true;
            return;
        }
        let mint = ts_ms - dur_ms(ctx.outage_tolerance);
        let mut matchers = vec![
            oxeye_model::Matcher::equal(METRIC_NAME, ALERT_FOR_STATE_METRIC_NAME),
            oxeye_model::Matcher::equal(ALERT_NAME_LABEL, self.name.clone()),
        ];
        // Templated label values cannot be matched before expansion; they are compared per alert.
        for (k, v) in &self.labels {
            if !v.contains("{{") && !v.is_empty() {
                matchers.push(oxeye_model::Matcher::equal(k.clone(), v.clone()));
            }
        }
        let series = match ctx.queryable.select(mint, ts_ms, &matchers) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(alert = %self.name, err = %e, "Failed to restore 'for' state");
                return;
            }
        };
        let by_labels: std::collections::HashMap<Labels, oxeye_model::Sample> = series
            .into_iter()
            .filter_map(|s| {
                let last = *s.samples.last()?;
                Some((s.labels.without_metric_name(), last))
            })
            .collect();
        let hold = dur_ms(self.hold);
        let grace = dur_ms(ctx.for_grace_period);
        for a in self.active.values_mut() {
            let Some(last) = by_labels.get(&a.labels) else { continue };
            if oxeye_model::is_stale_nan(last.v) {
                continue;
            }
            // Prometheus truncates both to whole seconds.
            let down_at = last.t.div_euclid(1000) * 1000;
            let mut restored_active_at = (last.v as i64) * 1000;
            let remaining = hold - (down_at - restored_active_at);
            if remaining <= 0 {
                // It was firing when we went down; the next evaluation fires it again.
            } else if remaining < grace {
                restored_active_at = ts_ms + grace - hold;
            } else {
                restored_active_at += ts_ms - down_at;
            }
            tracing::debug!(alert = %self.name, labels = %a.labels, active_at = restored_active_at, "'for' state restored");
            a.active_at = restored_active_at;
        }
        self.restored = true;
    }

    pub fn status(&self) -> RuleStatus {
        RuleStatus {
            kind: RuleKind::Alerting {
                state: self.state(),
                duration: self.hold,
                keep_firing_for: self.keep_firing_for,
                annotations: self.annotations(),
                alerts: self.active_alerts(),
            },
            name: self.name.clone(),
            query: self.canonical_expr.clone(),
            labels: self.labels(),
            health: self.health.as_str(),
            last_error: self.last_error.clone(),
            evaluation_time: self.eval_time,
            last_evaluation: self.last_eval,
        }
    }
}

fn alert_sample_labels(a: &RuleAlert) -> Labels {
    let mut b = LabelsBuilder::new(a.labels.clone());
    b.set(METRIC_NAME.to_string(), ALERT_METRIC_NAME.to_string());
    b.set(ALERT_STATE_LABEL.to_string(), a.state.as_str().to_string());
    b.labels()
}

fn for_state_labels(labels: &Labels) -> Labels {
    let mut b = LabelsBuilder::new(labels.clone());
    b.set(METRIC_NAME.to_string(), ALERT_FOR_STATE_METRIC_NAME.to_string());
    b.labels()
}

/// Expands one label or annotation template. Like Prometheus, a failure becomes the value
/// `<error expanding template: ...>` and a warning, never an evaluation error.
fn expand_template(
    ctx: &EvalContext<'_>,
    name: &str,
    text: &str,
    data: &oxeye_template::AlertTemplateData<'_>,
    ts_ms: i64,
) -> String {
    match oxeye_template::expand_alert_template(name, text, data, ts_ms, ctx.template_query.clone()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(template = name, err = %e, labels = %data.labels, "Expanding alert template failed");
            format!("<error expanding template: {e}>")
        }
    }
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape(r#"up{job="a b"} > 0.5"#), "up%7Bjob%3D%22a+b%22%7D+%3E+0.5");
    }
}
