//! The alert a rule engine hands to a notifier, as Prometheus's `notifier.Alert` carries it:
//! labels, annotations, the active interval and the link back to the generating expression.
//! Times are int64 milliseconds since the epoch; serialization to Alertmanager's API lives
//! with the notifier.

use crate::Labels;

/// One alert, firing (`ends_at` in the future or unset) or resolved (`ends_at` in the past).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub labels: Labels,
    pub annotations: Labels,
    /// When the alert became active (Prometheus sends `FiredAt` here), milliseconds.
    pub starts_at: i64,
    /// When the alert stops being valid, milliseconds; `None` leaves it to the receiver.
    pub ends_at: Option<i64>,
    /// A link to the expression that generated the alert.
    pub generator_url: String,
}

impl Alert {
    /// The alert's `alertname` label.
    pub fn name(&self) -> &str {
        self.labels.get("alertname")
    }

    /// Whether the alert is resolved at `now_ms` (an `ends_at` at or before now).
    pub fn resolved_at(&self, now_ms: i64) -> bool {
        matches!(self.ends_at, Some(end) if end <= now_ms)
    }
}
