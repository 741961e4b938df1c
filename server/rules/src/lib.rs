//! Oxeye's rules subsystem, after Prometheus's `rules` and `rulefmt` packages: rule files
//! (parsing, validation, `promtool check rules`), recording and alerting rule evaluation with
//! alert state, groups with stale-marker bookkeeping, and the `RuleManager` that runs groups on
//! tokio and reloads them. It reads and writes samples only through the storage traits and
//! hands alerts to a caller-supplied function; it knows nothing about HTTP or Alertmanager.

pub mod alerting;
pub mod check;
pub mod file;
pub mod group;
pub mod manager;
mod metrics;
mod position;
pub mod recording;

use std::time::Duration;

use oxeye_model::Labels;

pub use alerting::{AlertState, AlertingRule};
pub use check::{CheckOptions, CheckReport, check_rules_report, check_rules_report_with};
pub use file::{NameValidation, ParseOptions, RuleDef, RuleError, RuleFile, RuleGroup, parse_file, parse_str};
pub use group::{EvalContext, Group, GroupLoadOptions, Rule, load_groups};
pub use manager::{ManagerOptions, NotifyFn, RuleManager};
pub use oxeye_model::Alert;
pub use recording::RecordingRule;

/// How a rule's last evaluation went, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleHealth {
    #[default]
    Unknown,
    Ok,
    Err,
}

impl RuleHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// Every error found while loading rule files; `Display` lists them one per line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleLoadErrors(pub Vec<RuleError>);

impl std::fmt::Display for RuleLoadErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleLoadErrors {}

/// An active (pending or firing) alert, or a resolved one still retained, for the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlertStatus {
    pub labels: Labels,
    pub annotations: Labels,
    pub state: AlertState,
    /// Milliseconds since the epoch.
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub keep_firing_since: Option<i64>,
    pub value: f64,
}

/// What kind of rule a `RuleStatus` describes.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    Recording,
    Alerting {
        /// "inactive", "pending" or "firing": the most advanced state among its alerts.
        state: AlertState,
        /// The rule's `for`.
        duration: Duration,
        keep_firing_for: Duration,
        annotations: Labels,
        alerts: Vec<ActiveAlertStatus>,
    },
}

/// One rule for `/api/v1/rules`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleStatus {
    pub kind: RuleKind,
    pub name: String,
    /// The expression as Prometheus prints it back (`Expr.String()`), not as written.
    pub query: String,
    /// The rule's labels (group labels merged under rule labels), unexpanded.
    pub labels: Labels,
    /// "ok", "err" or "unknown".
    pub health: &'static str,
    pub last_error: Option<String>,
    pub evaluation_time: Duration,
    /// Wall-clock milliseconds of the last evaluation.
    pub last_evaluation: Option<i64>,
}

/// One group for `/api/v1/rules`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStatus {
    pub name: String,
    pub file: String,
    pub interval: Duration,
    pub limit: usize,
    pub query_offset: Option<Duration>,
    pub rules: Vec<RuleStatus>,
    pub evaluation_time: Duration,
    /// Wall-clock milliseconds of the last evaluation.
    pub last_evaluation: Option<i64>,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub(crate) fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
