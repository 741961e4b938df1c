//! What the HTTP API needs from the alert router, as plain views. The API layer (filters, JSON
//! shapes, status codes) is written against this trait so it can be tested without the router;
//! `core_backend` implements it on top of `oxeye_am_core`.

use chrono::{DateTime, Utc};
use oxeye_model::Labels;

/// An alert's state as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Unprocessed,
    Active,
    Suppressed,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unprocessed => "unprocessed",
            AlertState::Active => "active",
            AlertState::Suppressed => "suppressed",
        }
    }
}

/// One stored alert with its current marker status and the receivers its labels route to.
#[derive(Debug, Clone)]
pub struct AlertView {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub generator_url: String,
    /// `%016x` of the label set's fingerprint.
    pub fingerprint: String,
    pub state: AlertState,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
    pub receivers: Vec<String>,
}

/// One aggregation group of the dispatcher.
#[derive(Debug, Clone)]
pub struct AlertGroupView {
    pub labels: Labels,
    pub receiver: String,
    pub alerts: Vec<AlertView>,
}

/// A silence matcher as the API spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatcherView {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    pub is_equal: bool,
}

#[derive(Debug, Clone)]
pub struct SilenceView {
    pub id: String,
    pub matchers: Vec<MatcherView>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
    /// "active", "pending" or "expired".
    pub state: String,
}

/// An alert as posted to the API; missing times stay `None` (the router fills them in).
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: String,
}

/// A silence as posted to the API: without id it is created, with one it replaces that silence.
#[derive(Debug, Clone)]
pub struct NewSilence {
    pub id: Option<String>,
    pub matchers: Vec<MatcherView>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SilenceError {
    #[error("silence not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
}

/// The alert router as the API sees it.
pub trait Backend: Send + Sync {
    /// Every stored alert (resolved ones included; the API filters them), with fresh status.
    fn alerts(&self) -> Vec<AlertView>;
    /// The dispatcher's aggregation groups.
    fn alert_groups(&self) -> Vec<AlertGroupView>;
    /// Validates and stores posted alerts; Err holds one message per rejected alert.
    fn put_alerts(&self, alerts: Vec<NewAlert>) -> Result<(), Vec<String>>;
    fn silences(&self) -> Vec<SilenceView>;
    fn set_silence(&self, s: NewSilence) -> Result<String, SilenceError>;
    fn expire_silence(&self, id: &str) -> Result<(), SilenceError>;
}
