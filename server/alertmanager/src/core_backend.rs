//! [`Backend`] on top of `oxeye_am_core::AlertmanagerCore`: converts the core's alerts,
//! groups and silences into the API's views, and posted alerts and silences into the core's
//! types, wording errors as Alertmanager 0.25's API does.

use std::sync::Arc;

use oxeye_am_config::{MatchOp, Matcher, go_quote};
use oxeye_am_core::{Alert, AlertmanagerCore, Silence, zero_time};

use crate::backend::{
    AlertGroupView, AlertState, AlertView, Backend, MatcherView, NewAlert, NewSilence, SilenceError, SilenceView,
};

pub struct CoreBackend {
    core: Arc<AlertmanagerCore>,
}

impl CoreBackend {
    pub fn new(core: Arc<AlertmanagerCore>) -> Self {
        CoreBackend { core }
    }
}

fn alert_view(a: &Alert, st: &oxeye_am_core::AlertStatus, receivers: Vec<String>) -> AlertView {
    AlertView {
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        updated_at: a.updated_at,
        generator_url: a.generator_url.clone(),
        fingerprint: a.fingerprint().to_string(),
        state: match st.state {
            oxeye_am_core::AlertState::Unprocessed => AlertState::Unprocessed,
            oxeye_am_core::AlertState::Active => AlertState::Active,
            oxeye_am_core::AlertState::Suppressed => AlertState::Suppressed,
        },
        silenced_by: st.silenced_by.clone(),
        inhibited_by: st.inhibited_by.clone(),
        receivers,
    }
}

fn matcher_view(m: &Matcher) -> MatcherView {
    MatcherView {
        name: m.name.clone(),
        value: m.value.clone(),
        is_regex: m.op.is_regex(),
        is_equal: !m.op.is_negative(),
    }
}

fn silence_view(s: &Silence, now: chrono::DateTime<chrono::Utc>) -> SilenceView {
    SilenceView {
        id: s.id.clone(),
        matchers: s.matchers.iter().map(matcher_view).collect(),
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        updated_at: s.updated_at,
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
        state: s.state(now).as_str().to_string(),
    }
}

/// A posted matcher as the core's matcher; the error reads like `validateMatcher`'s.
fn to_matcher(i: usize, m: &MatcherView) -> Result<Matcher, SilenceError> {
    let op = match (m.is_equal, m.is_regex) {
        (true, false) => MatchOp::Equal,
        (false, false) => MatchOp::NotEqual,
        (true, true) => MatchOp::Regexp,
        (false, true) => MatchOp::NotRegexp,
    };
    Matcher::new(m.name.clone(), op, m.value.clone()).map_err(|e| {
        SilenceError::Invalid(format!(
            "silence invalid: invalid label matcher {i}: invalid regular expression {}: {e}",
            go_quote(&m.value)
        ))
    })
}

impl Backend for CoreBackend {
    fn alerts(&self) -> Vec<AlertView> {
        self.core.alerts().into_iter().map(|(a, st, receivers)| alert_view(&a, &st, receivers)).collect()
    }

    fn alert_groups(&self) -> Vec<AlertGroupView> {
        self.core
            .alert_groups()
            .into_iter()
            .map(|g| AlertGroupView {
                labels: g.labels,
                receiver: g.receiver,
                alerts: g.alerts.iter().map(|(a, st, rs)| alert_view(a, st, rs.clone())).collect(),
            })
            .collect()
    }

    fn put_alerts(&self, alerts: Vec<NewAlert>) -> Result<(), Vec<String>> {
        let alerts = alerts
            .into_iter()
            .map(|a| Alert {
                labels: a.labels,
                annotations: a.annotations,
                starts_at: a.starts_at.unwrap_or_else(zero_time),
                ends_at: a.ends_at.unwrap_or_else(zero_time),
                generator_url: a.generator_url,
                updated_at: zero_time(),
                timeout: false,
            })
            .collect();
        self.core.put_alerts(alerts)
    }

    fn silences(&self) -> Vec<SilenceView> {
        let now = self.core.clock().now();
        self.core.silences().list().iter().map(|s| silence_view(s, now)).collect()
    }

    fn set_silence(&self, s: NewSilence) -> Result<String, SilenceError> {
        let matchers = s.matchers.iter().enumerate().map(|(i, m)| to_matcher(i, m)).collect::<Result<Vec<_>, _>>()?;
        let sil = Silence {
            id: s.id.unwrap_or_default(),
            matchers,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            updated_at: zero_time(),
            created_by: s.created_by,
            comment: s.comment,
        };
        self.core.silences().set(sil).map_err(|e| match e {
            oxeye_am_core::SilenceError::NotFound => SilenceError::NotFound,
            oxeye_am_core::SilenceError::Invalid(m) => SilenceError::Invalid(format!("silence invalid: {m}")),
            other => SilenceError::Internal(other.to_string()),
        })
    }

    fn expire_silence(&self, id: &str) -> Result<(), SilenceError> {
        self.core.silences().expire(id).map_err(|e| match e {
            oxeye_am_core::SilenceError::NotFound => SilenceError::NotFound,
            other => SilenceError::Internal(other.to_string()),
        })
    }
}
