//! The notifier's metrics under Prometheus's names. The latency is a histogram (buckets of
//! upstream's `latency_histogram_seconds`: 10ms, 100ms, 1s, 10s) under the summary's name
//! `prometheus_notifications_latency_seconds`: the metrics library has no summaries.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct AmLabel {
    pub alertmanager: String,
}

type HistogramFamily = Family<AmLabel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new([0.01, 0.1, 1.0, 10.0])
}

#[derive(Clone)]
pub(crate) struct Metrics {
    pub latency: HistogramFamily,
    pub errors: Family<AmLabel, Counter>,
    pub sent: Family<AmLabel, Counter>,
    pub dropped: Counter,
    pub queue_length: Gauge,
    pub queue_capacity: Gauge,
    pub alertmanagers_discovered: Gauge,
}

impl Metrics {
    pub fn new(capacity: usize) -> Self {
        let m = Metrics {
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            errors: Family::default(),
            sent: Family::default(),
            dropped: Counter::default(),
            queue_length: Gauge::default(),
            queue_capacity: Gauge::default(),
            alertmanagers_discovered: Gauge::default(),
        };
        m.queue_capacity.set(i64::try_from(capacity).unwrap_or(i64::MAX));
        m
    }

    pub fn register(&self, r: &mut Registry) {
        r.register(
            "prometheus_notifications_latency_seconds",
            "Latency of sending alert notifications.",
            self.latency.clone(),
        );
        r.register(
            "prometheus_notifications_errors",
            "Total number of sent alerts affected by errors.",
            self.errors.clone(),
        );
        r.register("prometheus_notifications_sent", "Total number of alerts sent.", self.sent.clone());
        r.register(
            "prometheus_notifications_dropped",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            self.dropped.clone(),
        );
        r.register(
            "prometheus_notifications_queue_length",
            "The number of alert notifications in the queue.",
            self.queue_length.clone(),
        );
        r.register(
            "prometheus_notifications_queue_capacity",
            "The capacity of the alert notifications queue.",
            self.queue_capacity.clone(),
        );
        r.register(
            "prometheus_notifications_alertmanagers_discovered",
            "The number of alertmanagers discovered and active.",
            self.alertmanagers_discovered.clone(),
        );
    }

    /// Creates the per-Alertmanager series of a newly discovered Alertmanager (so they show 0).
    pub fn add_alertmanager(&self, url: &str) {
        let l = label(url);
        let _ = self.sent.get_or_create(&l);
        let _ = self.errors.get_or_create(&l);
    }

    /// Removes the series of an Alertmanager that is gone.
    pub fn remove_alertmanager(&self, url: &str) {
        let l = label(url);
        self.latency.remove(&l);
        self.sent.remove(&l);
        self.errors.remove(&l);
    }
}

pub(crate) fn label(url: &str) -> AmLabel {
    AmLabel { alertmanager: url.to_string() }
}
