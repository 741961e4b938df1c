//! Self-metrics of scraping, under Prometheus's names so upstream dashboards and alerts work.
//! Prometheus exports `prometheus_target_interval_length_seconds` and
//! `prometheus_target_sync_length_seconds` as summaries with quantiles; `prometheus-client` has
//! no summary, so they are histograms here (quantiles via `histogram_quantile`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct IntervalLabels {
    pub interval: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct JobLabels {
    pub scrape_job: String,
}

fn interval_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

fn sync_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// All scrape-side counters and gauges; cheap to clone (handles share state).
#[derive(Clone)]
pub(crate) struct ScrapeMetrics {
    pub interval_length: HistFamily<IntervalLabels>,
    pub exceeded_sample_limit: Counter,
    pub exceeded_body_size_limit: Counter,
    pub exceeded_label_limits: Counter,
    pub exceeded_target_limit: Counter,
    pub out_of_order: Counter,
    pub duplicate_timestamp: Counter,
    pub out_of_bounds: Counter,
    pub pool_targets: Family<JobLabels, Gauge>,
    pub pools_total: Counter,
    pub pools_failed: Counter,
    pub pool_reloads: Counter,
    pub pool_reloads_failed: Counter,
    pub sync_length: HistFamily<JobLabels>,
    pub sync_failed: Family<JobLabels, Counter>,
    pub pool_sync: Family<JobLabels, Counter>,
    pub cache_entries: Family<JobLabels, Gauge>,
}

impl Default for ScrapeMetrics {
    fn default() -> Self {
        ScrapeMetrics {
            interval_length: Family::new_with_constructor(interval_histogram as fn() -> Histogram),
            exceeded_sample_limit: Counter::default(),
            exceeded_body_size_limit: Counter::default(),
            exceeded_label_limits: Counter::default(),
            exceeded_target_limit: Counter::default(),
            out_of_order: Counter::default(),
            duplicate_timestamp: Counter::default(),
            out_of_bounds: Counter::default(),
            pool_targets: Family::default(),
            pools_total: Counter::default(),
            pools_failed: Counter::default(),
            pool_reloads: Counter::default(),
            pool_reloads_failed: Counter::default(),
            sync_length: Family::new_with_constructor(sync_histogram as fn() -> Histogram),
            sync_failed: Family::default(),
            pool_sync: Family::default(),
            cache_entries: Family::default(),
        }
    }
}

impl ScrapeMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "prometheus_target_interval_length_seconds",
            "Actual intervals between scrapes.",
            self.interval_length.clone(),
        );
        r.register(
            "prometheus_target_scrapes_exceeded_sample_limit",
            "Total number of scrapes that hit the sample limit and were rejected.",
            self.exceeded_sample_limit.clone(),
        );
        r.register(
            "prometheus_target_scrapes_exceeded_body_size_limit",
            "Total number of scrapes that hit the body size limit",
            self.exceeded_body_size_limit.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_exceeded_label_limits",
            "Total number of times scrape pools hit the label limits, during sync or config reload.",
            self.exceeded_label_limits.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_exceeded_target_limit",
            "Total number of times scrape pools hit the target limit, during sync or config reload.",
            self.exceeded_target_limit.clone(),
        );
        r.register(
            "prometheus_target_scrapes_sample_out_of_order",
            "Total number of samples rejected due to not being out of the expected order.",
            self.out_of_order.clone(),
        );
        r.register(
            "prometheus_target_scrapes_sample_duplicate_timestamp",
            "Total number of samples rejected due to duplicate timestamps but different values.",
            self.duplicate_timestamp.clone(),
        );
        r.register(
            "prometheus_target_scrapes_sample_out_of_bounds",
            "Total number of samples rejected due to timestamp falling out of the time bounds.",
            self.out_of_bounds.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_targets",
            "Current number of targets in this scrape pool.",
            self.pool_targets.clone(),
        );
        r.register(
            "prometheus_target_scrape_pools",
            "Total number of scrape pool creation attempts.",
            self.pools_total.clone(),
        );
        r.register(
            "prometheus_target_scrape_pools_failed",
            "Total number of scrape pool creations that failed.",
            self.pools_failed.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_reloads",
            "Total number of scrape pool reloads.",
            self.pool_reloads.clone(),
        );
        r.register(
            "prometheus_target_scrape_pool_reloads_failed",
            "Total number of failed scrape pool reloads.",
            self.pool_reloads_failed.clone(),
        );
        r.register(
            "prometheus_target_sync_length_seconds",
            "Actual interval to sync the scrape pool.",
            self.sync_length.clone(),
        );
        r.register("prometheus_target_sync_failed", "Total number of target sync failures.", self.sync_failed.clone());
        r.register(
            "prometheus_target_scrape_pool_sync",
            "Total number of syncs that were executed on a scrape pool.",
            self.pool_sync.clone(),
        );
        r.register(
            "prometheus_target_metadata_cache_entries",
            "Total number of metric metadata entries in the cache",
            self.cache_entries.clone(),
        );
    }
}
