//! Self-metrics with Prometheus's names and meanings, so upstream TSDB dashboards and alerts
//! work unchanged. Handles live in the `Db`; `register` hands clones to a registry.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type TypeFamily = Family<Vec<(String, String)>, Counter>;

fn float_label() -> Vec<(String, String)> {
    vec![("type".to_string(), "float".to_string())]
}

#[derive(Default)]
pub(crate) struct Metrics {
    pub(crate) head_series: Gauge,
    pub(crate) head_chunks: Gauge,
    pub(crate) head_min_time: Gauge,
    pub(crate) head_max_time: Gauge,
    samples_appended_family: TypeFamily,
    out_of_order_family: TypeFamily,
    out_of_bound_family: TypeFamily,
    pub(crate) samples_appended: Counter,
    pub(crate) out_of_order: Counter,
    pub(crate) out_of_bound: Counter,
    pub(crate) series_created: Counter,
    pub(crate) series_removed: Counter,
    pub(crate) compactions: Counter,
    pub(crate) compactions_failed: Counter,
    pub(crate) blocks_loaded: Gauge,
    pub(crate) blocks_bytes: Gauge,
    pub(crate) wal_corruptions: Counter,
    pub(crate) wal_truncations: Counter,
    pub(crate) retention_limit_bytes: Gauge,
    pub(crate) size_retentions: Counter,
    pub(crate) time_retentions: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut m = Metrics::default();
        // Upstream labels these by sample type; keep a handle on the float child for the hot path.
        m.samples_appended = m.samples_appended_family.get_or_create(&float_label()).clone();
        m.out_of_order = m.out_of_order_family.get_or_create(&float_label()).clone();
        m.out_of_bound = m.out_of_bound_family.get_or_create(&float_label()).clone();
        m
    }

    /// Registers every metric. prometheus-client appends `_total` to counters itself.
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "prometheus_tsdb_head_series",
            "Total number of series in the head block.",
            self.head_series.clone(),
        );
        r.register(
            "prometheus_tsdb_head_chunks",
            "Total number of chunks in the head block.",
            self.head_chunks.clone(),
        );
        r.register(
            "prometheus_tsdb_head_min_time",
            "Minimum time bound of the head block. The unit is decided by the library consumer.",
            self.head_min_time.clone(),
        );
        r.register(
            "prometheus_tsdb_head_max_time",
            "Maximum timestamp of the head block. The unit is decided by the library consumer.",
            self.head_max_time.clone(),
        );
        r.register(
            "prometheus_tsdb_head_samples_appended",
            "Total number of appended samples.",
            self.samples_appended_family.clone(),
        );
        r.register(
            "prometheus_tsdb_out_of_order_samples",
            "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
            self.out_of_order_family.clone(),
        );
        r.register(
            "prometheus_tsdb_out_of_bound_samples",
            "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
            self.out_of_bound_family.clone(),
        );
        r.register(
            "prometheus_tsdb_head_series_created",
            "Total number of series created in the head",
            self.series_created.clone(),
        );
        r.register(
            "prometheus_tsdb_head_series_removed",
            "Total number of series removed in the head",
            self.series_removed.clone(),
        );
        r.register(
            "prometheus_tsdb_compactions",
            "Total number of compactions that were executed for the partition.",
            self.compactions.clone(),
        );
        r.register(
            "prometheus_tsdb_compactions_failed",
            "Total number of compactions that failed for the partition.",
            self.compactions_failed.clone(),
        );
        r.register(
            "prometheus_tsdb_blocks_loaded",
            "Number of currently loaded data blocks",
            self.blocks_loaded.clone(),
        );
        r.register(
            "prometheus_tsdb_storage_blocks_bytes",
            "The number of bytes that are currently used for local storage by all blocks.",
            self.blocks_bytes.clone(),
        );
        r.register("prometheus_tsdb_wal_corruptions", "Total number of WAL corruptions.", self.wal_corruptions.clone());
        r.register(
            "prometheus_tsdb_wal_truncations",
            "Total number of write log truncations attempted.",
            self.wal_truncations.clone(),
        );
        r.register(
            "prometheus_tsdb_retention_limit_bytes",
            "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
            self.retention_limit_bytes.clone(),
        );
        r.register(
            "prometheus_tsdb_size_retentions",
            "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
            self.size_retentions.clone(),
        );
        r.register(
            "prometheus_tsdb_time_retentions",
            "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            self.time_retentions.clone(),
        );
    }
}
