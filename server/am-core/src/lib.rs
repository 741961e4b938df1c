//! oxeye-am-core: Alertmanager 0.25's alert-handling core. Alerts are fingerprinted, stored and
//! merged; routed to aggregation groups; flushed through inhibition, time-interval muting,
//! silences, dedup against the notification log and retrying integrations. Silences and the
//! notification log persist under the storage path. HTTP, config parsing and the integrations
//! themselves live in the other alertmanager crates.

pub mod alert;
pub mod clock;
mod core;
pub mod dispatch;
pub mod fingerprint;
pub mod inhibit;
pub mod marker;
pub mod metrics;
pub mod nflog;
pub mod notify;
mod persist;
pub mod route;
pub mod silence;
pub mod store;

pub use crate::alert::{Alert, zero_time};
pub use crate::clock::Clock;
pub use crate::core::{AlertGroupView, AlertView, AlertmanagerCore, CoreOptions, DATA_MAINTENANCE_INTERVAL};
pub use crate::fingerprint::Fingerprint;
pub use crate::marker::{AlertState, AlertStatus};
pub use crate::notify::{BoxFuture, Integration, IntegrationFactory, NotifyContext, NotifyError};
pub use crate::silence::{Silence, SilenceError, SilenceQuery, SilenceState, Silences};

/// Errors of the core (storage and configuration); alert and silence validation errors are
/// returned by the respective operations.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Io(String),
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
    #[error("the alertmanager core needs a tokio runtime to dispatch alerts")]
    NoRuntime,
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
