//! oxeye-operator: turns `monitoring.coreos.com/v1` ServiceMonitors, PodMonitors and
//! PrometheusRules into the oxeye server's configuration, the way prometheus-operator does, and
//! reports back on each object.
//!
//! A library with a thin binary (`oxeye-operator`), as kube-rs's controller-rs: [`settings`]
//! (the operator's configuration), [`selection`] and [`plan`] (the pure reconcile decision),
//! [`cluster`] and [`credentials`] (what it reads), [`output`] (the Secret it writes),
//! [`readback`] and [`status`] (what it reports), [`controller`] (the loop), [`leader`],
//! [`metrics`] and [`http`]. Rendering itself lives in `oxeye-operator-render`; this crate knows
//! nothing about scrape or rule file syntax beyond asking that crate and `oxeye-config`.

pub mod cluster;
pub mod controller;
pub mod credentials;
pub mod dashboards;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod output;
pub mod plan;
pub mod provisioning;
pub mod readback;
pub mod selection;
pub mod settings;
pub mod status;
pub mod trigger;

/// What can stop a reconcile pass or the operator's start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operator's configuration is invalid (the message names the field).
    #[error("invalid operator configuration: {0}")]
    Settings(String),
    /// An API request failed.
    #[error("{0}: {1}")]
    Kube(String, #[source] kube::Error),
    /// The rendered configuration cannot be stored.
    #[error("{0}")]
    Output(String),
    /// Some status updates failed (they are retried).
    #[error("{0} status update(s) failed")]
    Status(usize),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
