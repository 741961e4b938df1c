//! Service discovery for scrape jobs: static target groups, file-based and Kubernetes discovery
//! (`oxeye-kubesd`), merged by a
//! `DiscoveryManager` into one full set of target groups per job. It knows nothing about HTTP,
//! relabeling or storage: it hands `TargetSets` to whoever watches it (the scrape manager).

pub mod file;
mod manager;

pub use file::{FileDiscovery, FileSdConfig};
pub use manager::{DiscoveryManager, JobDiscovery, JobDiscoveryConfig, TargetSets};

use oxeye_model::Labels;

/// The label that holds a target's address.
pub const ADDRESS_LABEL: &str = "__address__";

/// A group of targets from one source, as in Prometheus's `targetgroup.Group`. Each target is a
/// label set holding at least `__address__`; `labels` apply to every target of the group unless
/// the target sets the same name itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`0`, `1`, ... for static configs,
    /// `<file>:<index>` for file discovery).
    pub source: String,
    pub targets: Vec<Labels>,
    pub labels: Labels,
}

impl TargetGroup {
    /// A group of plain `host:port` addresses with common labels.
    pub fn from_addresses<S: AsRef<str>>(source: impl Into<String>, addresses: &[S], labels: Labels) -> Self {
        TargetGroup {
            source: source.into(),
            targets: addresses.iter().map(|a| Labels::from_pairs([(ADDRESS_LABEL, a.as_ref())])).collect(),
            labels,
        }
    }
}
