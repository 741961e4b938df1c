//! Alertmanager's own metrics, with its names and labels. Counters and histograms are updated
//! by the components; the `alertmanager_alerts` and `alertmanager_silences` gauges are computed
//! at scrape time from the store, marker and silences, as Alertmanager's GaugeFuncs are.
//! Alertmanager's summaries (GC/snapshot/processing durations) are exported as histograms.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::clock::Clock;
use crate::marker::{AlertState, Marker};
use crate::silence::{SilenceState, Silences};
use crate::store::AlertStore;

pub type LabelPairs = Vec<(String, String)>;
type HistogramFamily = Family<LabelPairs, Histogram, fn() -> Histogram>;

/// Integration names Alertmanager 0.25 pre-initialises its notification counters for (plus
/// msteams, which Oxeye supports).
const INTEGRATIONS: &[&str] = &[
    "email",
    "pagerduty",
    "wechat",
    "pushover",
    "slack",
    "opsgenie",
    "webhook",
    "victorops",
    "sns",
    "telegram",
    "discord",
    "webex",
    "msteams",
];

fn latency_histogram() -> Histogram {
    Histogram::new([1.0, 5.0, 10.0, 15.0, 20.0])
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 4.0, 10))
}

pub(crate) fn integration_label(name: &str) -> LabelPairs {
    vec![("integration".to_string(), name.to_string())]
}

/// All counters, gauges and histograms of the core.
#[derive(Debug)]
pub struct Metrics {
    pub alerts_received: Family<LabelPairs, Counter>,
    pub alerts_invalid: Family<LabelPairs, Counter>,
    pub notifications: Family<LabelPairs, Counter>,
    pub notifications_failed: Family<LabelPairs, Counter>,
    pub notification_requests: Family<LabelPairs, Counter>,
    pub notification_requests_failed: Family<LabelPairs, Counter>,
    pub notification_latency: HistogramFamily,
    pub nflog_gc_duration: Histogram,
    pub nflog_snapshot_duration: Histogram,
    pub nflog_snapshot_size: Gauge,
    pub nflog_queries: Counter,
    pub nflog_query_errors: Counter,
    pub nflog_query_duration: Histogram,
    pub silences_gc_duration: Histogram,
    pub silences_snapshot_duration: Histogram,
    pub silences_snapshot_size: Gauge,
    pub silences_queries: Counter,
    pub silences_query_errors: Counter,
    pub silences_query_duration: Histogram,
    pub aggregation_groups: Gauge,
    pub alert_processing_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            alerts_received: Family::default(),
            alerts_invalid: Family::default(),
            notifications: Family::default(),
            notifications_failed: Family::default(),
            notification_requests: Family::default(),
            notification_requests_failed: Family::default(),
            notification_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            nflog_gc_duration: duration_histogram(),
            nflog_snapshot_duration: duration_histogram(),
            nflog_snapshot_size: Gauge::default(),
            nflog_queries: Counter::default(),
            nflog_query_errors: Counter::default(),
            nflog_query_duration: duration_histogram(),
            silences_gc_duration: duration_histogram(),
            silences_snapshot_duration: duration_histogram(),
            silences_snapshot_size: Gauge::default(),
            silences_queries: Counter::default(),
            silences_query_errors: Counter::default(),
            silences_query_duration: duration_histogram(),
            aggregation_groups: Gauge::default(),
            alert_processing_duration: duration_histogram(),
        };
        for i in INTEGRATIONS {
            let l = integration_label(i);
            let _ = m.notifications.get_or_create(&l);
            let _ = m.notifications_failed.get_or_create(&l);
            let _ = m.notification_requests.get_or_create(&l);
            let _ = m.notification_requests_failed.get_or_create(&l);
            let _ = m.notification_latency.get_or_create(&l);
        }
        for status in ["firing", "resolved"] {
            let _ = m.alerts_received.get_or_create(&received_labels(status));
        }
        let _ = m.alerts_invalid.get_or_create(&vec![("version".to_string(), "v2".to_string())]);
        m
    }

    pub fn register(&self, r: &mut Registry) {
        r.register(
            "alertmanager_alerts_received",
            "The total number of received alerts.",
            self.alerts_received.clone(),
        );
        r.register(
            "alertmanager_alerts_invalid",
            "The total number of received alerts that were invalid.",
            self.alerts_invalid.clone(),
        );
        r.register(
            "alertmanager_notifications",
            "The total number of attempted notifications.",
            self.notifications.clone(),
        );
        r.register(
            "alertmanager_notifications_failed",
            "The total number of failed notifications.",
            self.notifications_failed.clone(),
        );
        r.register(
            "alertmanager_notification_requests",
            "The total number of attempted notification requests.",
            self.notification_requests.clone(),
        );
        r.register(
            "alertmanager_notification_requests_failed",
            "The total number of failed notification requests.",
            self.notification_requests_failed.clone(),
        );
        r.register(
            "alertmanager_notification_latency_seconds",
            "The latency of notifications in seconds.",
            self.notification_latency.clone(),
        );
        r.register(
            "alertmanager_nflog_gc_duration_seconds",
            "Duration of the last notification log garbage collection cycle.",
            self.nflog_gc_duration.clone(),
        );
        r.register(
            "alertmanager_nflog_snapshot_duration_seconds",
            "Duration of the last notification log snapshot.",
            self.nflog_snapshot_duration.clone(),
        );
        r.register(
            "alertmanager_nflog_snapshot_size_bytes",
            "Size of the last notification log snapshot in bytes.",
            self.nflog_snapshot_size.clone(),
        );
        r.register(
            "alertmanager_nflog_queries",
            "Number of notification log queries were received.",
            self.nflog_queries.clone(),
        );
        r.register(
            "alertmanager_nflog_query_errors",
            "Number notification log received queries that failed.",
            self.nflog_query_errors.clone(),
        );
        r.register(
            "alertmanager_nflog_query_duration_seconds",
            "Duration of notification log query evaluation.",
            self.nflog_query_duration.clone(),
        );
        r.register(
            "alertmanager_silences_gc_duration_seconds",
            "Duration of the last silence garbage collection cycle.",
            self.silences_gc_duration.clone(),
        );
        r.register(
            "alertmanager_silences_snapshot_duration_seconds",
            "Duration of the last silence snapshot.",
            self.silences_snapshot_duration.clone(),
        );
        r.register(
            "alertmanager_silences_snapshot_size_bytes",
            "Size of the last silence snapshot in bytes.",
            self.silences_snapshot_size.clone(),
        );
        r.register(
            "alertmanager_silences_queries",
            "How many silence queries were received.",
            self.silences_queries.clone(),
        );
        r.register(
            "alertmanager_silences_query_errors",
            "How many silence received queries did not succeed.",
            self.silences_query_errors.clone(),
        );
        r.register(
            "alertmanager_silences_query_duration_seconds",
            "Duration of silence query evaluation.",
            self.silences_query_duration.clone(),
        );
        r.register(
            "alertmanager_dispatcher_aggregation_groups",
            "Number of active aggregation groups",
            self.aggregation_groups.clone(),
        );
        r.register(
            "alertmanager_dispatcher_alert_processing_duration_seconds",
            "Summary of latencies for the processing of alerts.",
            self.alert_processing_duration.clone(),
        );
    }
}

pub(crate) fn received_labels(status: &str) -> LabelPairs {
    vec![("status".to_string(), status.to_string()), ("version".to_string(), "v2".to_string())]
}

/// Scrape-time gauges: `alertmanager_alerts{state}` (unresolved alerts by marker state) and
/// `alertmanager_silences{state}`.
#[derive(Debug)]
pub(crate) struct StateCollector {
    pub store: Arc<AlertStore>,
    pub marker: Arc<Marker>,
    pub silences: Arc<Silences>,
    pub clock: Clock,
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = self.clock.now();
        let mut counts = [0i64; 3];
        for a in self.store.list() {
            if a.resolved_at(now) {
                continue;
            }
            match self.marker.status(a.fingerprint()).state {
                AlertState::Active => counts[0] += 1,
                AlertState::Suppressed => counts[1] += 1,
                AlertState::Unprocessed => counts[2] += 1,
            }
        }
        {
            let mut fam = encoder.encode_descriptor(
                "alertmanager_alerts",
                "How many alerts by state.",
                None,
                MetricType::Gauge,
            )?;
            for (state, n) in ["active", "suppressed", "unprocessed"].iter().zip(counts) {
                let labels = vec![("state".to_string(), state.to_string())];
                ConstGauge::new(n).encode(fam.encode_family(&labels)?)?;
            }
        }
        let mut sil = [0i64; 3];
        for s in self.silences.list() {
            match s.state(now) {
                SilenceState::Active => sil[0] += 1,
                SilenceState::Pending => sil[1] += 1,
                SilenceState::Expired => sil[2] += 1,
            }
        }
        let mut fam = encoder.encode_descriptor(
            "alertmanager_silences",
            "How many silences by state.",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in ["active", "pending", "expired"].iter().zip(sil) {
            let labels = vec![("state".to_string(), state.to_string())];
            ConstGauge::new(n).encode(fam.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
