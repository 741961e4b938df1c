//! Scraping for Oxeye, with Prometheus 3.x behaviour: target discovery (static and file),
//! target labels and `relabel_configs`, one scrape pool per job and one scrape loop per target
//! (HTTP, parsing through `oxeye-textparse`, `metric_relabel_configs`, limits, staleness, report
//! series), and the target and metadata views the HTTP API serves. It writes samples only
//! through `oxeye_model::storage::Appendable` and knows nothing about the TSDB or PromQL.

mod cache;
mod client;
pub mod config;
pub mod discovery;
mod error;
pub mod job;
mod manager;
pub mod metadata;
mod metrics;
mod pool;
mod scrape_loop;
pub mod target;

pub use client::{BODY_SIZE_LIMIT_ERROR, build_client};
pub use discovery::{DiscoveryManager, FileSdConfig, JobDiscovery, JobDiscoveryConfig, TargetGroup, TargetSets};
pub use error::{Error, Result};
pub use job::{Authorization, BasicAuth, ScrapeJob, Secret, TlsSettings};
pub use manager::{ActiveTarget, DroppedTarget, ScrapeManager, ScrapeOptions, TargetMetadata};
pub use metadata::{MetricMetadata, MetricType};
pub use scrape_loop::{SAMPLE_LIMIT_ERROR, mutate_sample_labels, verify_label_limits};
pub use target::Health;
