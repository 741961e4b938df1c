//! The operator's own metrics. Where the meaning is the same they carry prometheus-operator's
//! names and labels (`prometheus_operator_*{controller="prometheus"}`), so the upstream mixin's
//! alerts (reconcile errors, list/watch errors, rejected resources, not ready) work unchanged.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::plan::{Kind, Plan};

/// prometheus-operator's label for the controller that reconciles Prometheus configuration.
pub const CONTROLLER: &str = "prometheus";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    pub controller: String,
    pub resource: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    pub controller: String,
    pub status: String,
}

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric the operator exports; handles are cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    pub reconcile_operations: Family<ControllerLabels, Counter>,
    pub reconcile_errors: Family<ControllerLabels, Counter>,
    pub reconcile_duration: HistFamily<ControllerLabels>,
    pub list_operations: Family<ControllerLabels, Counter>,
    pub list_failed: Family<ControllerLabels, Counter>,
    pub watch_operations: Family<ControllerLabels, Counter>,
    pub watch_failed: Family<ControllerLabels, Counter>,
    pub status_updates: Family<ControllerLabels, Counter>,
    pub status_update_errors: Family<ControllerLabels, Counter>,
    pub managed_resources: Family<ResourceLabels, Gauge>,
    pub syncs: Family<SyncLabels, Gauge>,
    pub ready: Family<ControllerLabels, Gauge>,
    pub secret_writes: Counter,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            reconcile_operations: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            list_operations: Family::default(),
            list_failed: Family::default(),
            watch_operations: Family::default(),
            watch_failed: Family::default(),
            status_updates: Family::default(),
            status_update_errors: Family::default(),
            managed_resources: Family::default(),
            syncs: Family::default(),
            ready: Family::default(),
            secret_writes: Counter::default(),
            leader: Gauge::default(),
        }
    }
}

pub fn controller() -> ControllerLabels {
    ControllerLabels { controller: CONTROLLER.into() }
}

impl Metrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "prometheus_operator_reconcile_operations",
            "Total number of reconciliations",
            self.reconcile_operations.clone(),
        );
        r.register(
            "prometheus_operator_reconcile_errors",
            "Number of errors that occurred during reconcile operations",
            self.reconcile_errors.clone(),
        );
        r.register(
            "prometheus_operator_reconcile_duration_seconds",
            "Histogram of reconcile operations",
            self.reconcile_duration.clone(),
        );
        r.register(
            "prometheus_operator_list_operations",
            "Total number of list operations",
            self.list_operations.clone(),
        );
        r.register(
            "prometheus_operator_list_operations_failed",
            "Total number of list operations that failed",
            self.list_failed.clone(),
        );
        r.register(
            "prometheus_operator_watch_operations",
            "Total number of watch operations",
            self.watch_operations.clone(),
        );
        r.register(
            "prometheus_operator_watch_operations_failed",
            "Total number of watch operations that failed",
            self.watch_failed.clone(),
        );
        r.register(
            "prometheus_operator_status_update_operations",
            "Total number of status update operations",
            self.status_updates.clone(),
        );
        r.register(
            "prometheus_operator_status_update_errors",
            "Number of errors that occurred during status update operations",
            self.status_update_errors.clone(),
        );
        r.register(
            "prometheus_operator_managed_resources",
            "Number of resources managed by the operator's controller per state (selected/rejected)",
            self.managed_resources.clone(),
        );
        r.register("prometheus_operator_syncs", "Number of objects per sync status (ok/failed)", self.syncs.clone());
        r.register(
            "prometheus_operator_ready",
            "1 when the controller is ready to reconcile resources, 0 otherwise",
            self.ready.clone(),
        );
        r.register(
            "oxeye_operator_secret_writes",
            "Writes of the server's configuration Secret (only changed content is written)",
            self.secret_writes.clone(),
        );
        r.register(
            "oxeye_operator_leader",
            "1 while this replica holds the leader lease and reconciles, 0 otherwise",
            self.leader.clone(),
        );
        r.register_collector(Box::new(oxeye_telemetry::ProcessCollector::new()));
    }

    /// Runs one reconcile pass of `controller`, counting it, its duration and its failure.
    pub async fn time_pass<T, E>(
        &self,
        controller: &ControllerLabels,
        pass: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> std::result::Result<T, E> {
        let started = std::time::Instant::now();
        self.reconcile_operations.get_or_create(controller).inc();
        let result = pass.await;
        self.reconcile_duration.get_or_create(controller).observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.reconcile_errors.get_or_create(controller).inc();
        }
        result
    }

    /// `prometheus_operator_managed_resources` from the latest plan.
    pub fn record_plan(&self, plan: &Plan) {
        for kind in Kind::ALL {
            for (state, n) in [("selected", plan.accepted(kind)), ("rejected", plan.rejected(kind))] {
                let labels = ResourceLabels {
                    controller: CONTROLLER.into(),
                    resource: kind.as_str().into(),
                    state: state.into(),
                };
                self.managed_resources.get_or_create(&labels).set(n as i64);
            }
        }
    }

    /// `prometheus_operator_syncs`: the one configuration this operator manages is ok or failed.
    pub fn record_sync(&self, ok: bool) {
        for (status, v) in [("ok", ok), ("failed", !ok)] {
            self.syncs
                .get_or_create(&SyncLabels { controller: CONTROLLER.into(), status: status.into() })
                .set(i64::from(v));
        }
    }
}
