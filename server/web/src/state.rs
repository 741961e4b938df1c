//! What the HTTP layer needs from the rest of the server, as traits and plain data. The server
//! binary implements them over the scrape manager, the TSDB and its reload machinery.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use oxeye_model::{Labels, Queryable};
use oxeye_promql::{Engine, EngineOptions};
use tokio::sync::Semaphore;

/// A target being scraped, as `/api/v1/targets` reports it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub discovered_labels: Labels,
    pub labels: Labels,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    pub last_error: String,
    /// Wall-clock time of the last scrape start, RFC 3339; None before the first scrape.
    pub last_scrape: Option<chrono::DateTime<chrono::Utc>>,
    pub last_scrape_duration_secs: f64,
    /// "up", "down" or "unknown".
    pub health: String,
    pub scrape_interval: String,
    pub scrape_timeout: String,
}

/// A target that relabeling dropped.
#[derive(Debug, Clone)]
pub struct DroppedTarget {
    pub discovered_labels: Labels,
    pub scrape_pool: String,
}

/// Metadata of one metric family as a target exposed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricMetadata {
    pub metric: String,
    /// counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown.
    pub typ: String,
    pub help: String,
    pub unit: String,
}

/// Metadata together with the target that exposed it.
#[derive(Debug, Clone)]
pub struct TargetMetadata {
    pub target: Labels,
    pub metadata: MetricMetadata,
}

pub trait TargetsView: Send + Sync {
    fn active_targets(&self) -> Vec<ActiveTarget>;
    fn dropped_targets(&self) -> Vec<DroppedTarget>;
    /// Metadata of every active target.
    fn targets_metadata(&self) -> Vec<TargetMetadata>;
    /// Names of the configured scrape pools (jobs), whether or not they have targets.
    fn scrape_pools(&self) -> Vec<String>;
}

/// Server-wide status for the `/api/v1/status/*` endpoints.
pub trait StatusView: Send + Sync {
    /// The loaded configuration as YAML.
    fn config_yaml(&self) -> String;
    /// Every flag and its value, as `/api/v1/status/flags`.
    fn flags(&self) -> BTreeMap<String, String>;
    /// `/api/v1/status/runtimeinfo` data object.
    fn runtime_info(&self) -> serde_json::Value;
    /// `/api/v1/status/tsdb` data object for the given top-N limit.
    fn tsdb_status(&self, limit: usize) -> serde_json::Value;
    /// `/api/v1/status/walreplay` data object.
    fn wal_replay(&self) -> serde_json::Value;
    /// The server's own metrics in the text exposition format.
    fn metrics_text(&self) -> String;
}

/// The state of one alert as `/api/v1/alerts` and `/api/v1/rules` report it.
#[derive(Debug, Clone)]
pub struct AlertInfo {
    pub labels: Labels,
    pub annotations: Labels,
    /// "pending" or "firing".
    pub state: String,
    /// Milliseconds since the epoch.
    pub active_at: Option<i64>,
    pub keep_firing_since: Option<i64>,
    pub value: f64,
}

/// What distinguishes an alerting rule from a recording rule in `/api/v1/rules`.
#[derive(Debug, Clone)]
pub enum RuleKind {
    Recording,
    Alerting {
        /// "inactive", "pending" or "firing".
        state: String,
        /// The rule's `for`, in seconds.
        duration_secs: f64,
        keep_firing_for_secs: f64,
        annotations: Labels,
        alerts: Vec<AlertInfo>,
    },
}

/// One rule of a group, with its last evaluation.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    pub name: String,
    pub query: String,
    pub labels: Labels,
    /// "ok", "err" or "unknown".
    pub health: String,
    pub last_error: Option<String>,
    pub evaluation_time_secs: f64,
    /// Milliseconds since the epoch; None before the first evaluation.
    pub last_evaluation: Option<i64>,
    pub kind: RuleKind,
}

/// One rule group, as `/api/v1/rules` reports it.
#[derive(Debug, Clone)]
pub struct RuleGroupInfo {
    pub name: String,
    pub file: String,
    pub interval_secs: f64,
    pub limit: usize,
    pub rules: Vec<RuleInfo>,
    pub evaluation_time_secs: f64,
    pub last_evaluation: Option<i64>,
}

/// Rules, alerts and the Alertmanagers alerts go to.
pub trait RulesView: Send + Sync {
    fn rule_groups(&self) -> Vec<RuleGroupInfo>;
    /// Every pending or firing alert.
    fn alerts(&self) -> Vec<AlertInfo>;
    /// URLs of the active and the dropped Alertmanagers.
    fn alertmanagers(&self) -> (Vec<String>, Vec<String>);
}

/// Reload and shutdown, reachable over HTTP only with `--web.enable-lifecycle`.
pub trait Lifecycle: Send + Sync {
    /// Reloads the configuration; the error says why the new one was refused.
    fn reload(&self) -> Result<(), String>;
    fn quit(&self);
}

/// Build information for `/api/v1/status/buildinfo`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub version: String,
    pub revision: String,
    pub branch: String,
    pub build_user: String,
    pub build_date: String,
    pub go_version: String,
}

pub struct ApiState {
    pub storage: Arc<dyn Queryable>,
    pub engine_options: EngineOptions,
    pub engine: Engine,
    /// `--query.max-concurrency`: queries beyond it wait for a slot.
    pub query_slots: Semaphore,
    pub targets: Arc<dyn TargetsView>,
    pub status: Arc<dyn StatusView>,
    /// Rules and alerts; None serves empty lists (as a server without rule files would).
    pub rules: Option<Arc<dyn RulesView>>,
    /// Present only with `--web.enable-lifecycle`.
    pub lifecycle: Option<Arc<dyn Lifecycle>>,
    pub ready: Arc<AtomicBool>,
    pub build_info: BuildInfo,
}

impl ApiState {
    pub fn new(
        storage: Arc<dyn Queryable>,
        engine_options: EngineOptions,
        max_concurrency: usize,
        targets: Arc<dyn TargetsView>,
        status: Arc<dyn StatusView>,
        lifecycle: Option<Arc<dyn Lifecycle>>,
        ready: Arc<AtomicBool>,
    ) -> Self {
        ApiState {
            storage,
            engine: Engine::new(engine_options.clone()),
            engine_options,
            query_slots: Semaphore::new(max_concurrency.max(1)),
            targets,
            status,
            rules: None,
            lifecycle,
            ready,
            build_info: BuildInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                revision: option_env!("OXEYE_GIT_REVISION").unwrap_or("unknown").to_string(),
                branch: option_env!("OXEYE_GIT_BRANCH").unwrap_or("unknown").to_string(),
                build_user: "oxeye".to_string(),
                build_date: option_env!("OXEYE_BUILD_DATE").unwrap_or("unknown").to_string(),
                go_version: format!("rust{}", option_env!("CARGO_PKG_RUST_VERSION").unwrap_or("")),
            },
        }
    }

    /// Attaches the rule manager's view.
    pub fn with_rules(mut self, rules: Arc<dyn RulesView>) -> Self {
        self.rules = Some(rules);
        self
    }
}
