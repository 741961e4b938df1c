//! The rule manager's self-monitoring metrics under Prometheus's names. prometheus-client has
//! no summaries, so the two duration summaries of Prometheus
//! (`prometheus_rule_evaluation_duration_seconds`, `prometheus_rule_group_duration_seconds`)
//! are histograms here.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type GroupLabels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

#[derive(Clone)]
pub(crate) struct RuleMetrics {
    eval_duration: Histogram,
    group_duration: Histogram,
    evaluations: Family<GroupLabels, Counter>,
    failures: Family<GroupLabels, Counter>,
    missed: Family<GroupLabels, Counter>,
    iterations: Family<GroupLabels, Counter>,
    interval: Family<GroupLabels, FloatGauge>,
    last_duration: Family<GroupLabels, FloatGauge>,
    last_timestamp: Family<GroupLabels, FloatGauge>,
    last_samples: Family<GroupLabels, Gauge>,
    rules: Family<GroupLabels, Gauge>,
}

impl Default for RuleMetrics {
    fn default() -> Self {
        RuleMetrics {
            eval_duration: duration_histogram(),
            group_duration: duration_histogram(),
            evaluations: Family::default(),
            failures: Family::default(),
            missed: Family::default(),
            iterations: Family::default(),
            interval: Family::default(),
            last_duration: Family::default(),
            last_timestamp: Family::default(),
            last_samples: Family::default(),
            rules: Family::default(),
        }
    }
}

fn labels(key: &str) -> GroupLabels {
    vec![("rule_group".to_string(), key.to_string())]
}

impl RuleMetrics {
    pub fn register(&self, registry: &mut Registry) {
        // prometheus-client appends `_total` to counter names itself.
        registry.register(
            "prometheus_rule_evaluation_duration_seconds",
            "The duration for a rule to execute.",
            self.eval_duration.clone(),
        );
        registry.register(
            "prometheus_rule_group_duration_seconds",
            "The duration of rule group evaluations.",
            self.group_duration.clone(),
        );
        registry.register(
            "prometheus_rule_evaluations",
            "The total number of rule evaluations.",
            self.evaluations.clone(),
        );
        registry.register(
            "prometheus_rule_evaluation_failures",
            "The total number of rule evaluation failures.",
            self.failures.clone(),
        );
        registry.register(
            "prometheus_rule_group_iterations_missed",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            self.missed.clone(),
        );
        registry.register(
            "prometheus_rule_group_iterations",
            "The total number of scheduled rule group evaluations, whether executed or missed.",
            self.iterations.clone(),
        );
        registry.register(
            "prometheus_rule_group_interval_seconds",
            "The interval of a rule group.",
            self.interval.clone(),
        );
        registry.register(
            "prometheus_rule_group_last_duration_seconds",
            "The duration of the last rule group evaluation.",
            self.last_duration.clone(),
        );
        registry.register(
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "The timestamp of the last rule group evaluation in seconds.",
            self.last_timestamp.clone(),
        );
        registry.register(
            "prometheus_rule_group_last_evaluation_samples",
            "The number of samples returned during the last rule group evaluation.",
            self.last_samples.clone(),
        );
        registry.register("prometheus_rule_group_rules", "The number of rules.", self.rules.clone());
    }

    /// The handles of one group's series, created now.
    pub fn for_group(&self, key: &str, interval: Duration, rules: usize) -> GroupMetrics {
        let l = labels(key);
        let m = GroupMetrics {
            eval_duration: self.eval_duration.clone(),
            group_duration: self.group_duration.clone(),
            evaluations: self.evaluations.get_or_create_owned(&l),
            failures: self.failures.get_or_create_owned(&l),
            missed: self.missed.get_or_create_owned(&l),
            iterations: self.iterations.get_or_create_owned(&l),
            last_duration: self.last_duration.get_or_create_owned(&l),
            last_timestamp: self.last_timestamp.get_or_create_owned(&l),
            last_samples: self.last_samples.get_or_create_owned(&l),
        };
        self.interval.get_or_create_owned(&l).set(interval.as_secs_f64());
        self.rules.get_or_create_owned(&l).set(rules as i64);
        m
    }

    /// Drops a removed group's series.
    pub fn remove_group(&self, key: &str) {
        let l = labels(key);
        self.evaluations.remove(&l);
        self.failures.remove(&l);
        self.missed.remove(&l);
        self.iterations.remove(&l);
        self.interval.remove(&l);
        self.last_duration.remove(&l);
        self.last_timestamp.remove(&l);
        self.last_samples.remove(&l);
        self.rules.remove(&l);
    }
}

/// One group's metric handles (sharing storage with the registered families).
#[derive(Debug)]
pub(crate) struct GroupMetrics {
    eval_duration: Histogram,
    group_duration: Histogram,
    pub evaluations: Counter,
    pub failures: Counter,
    pub missed: Counter,
    pub iterations: Counter,
    pub last_duration: FloatGauge,
    pub last_timestamp: FloatGauge,
    pub last_samples: Gauge,
}

impl GroupMetrics {
    pub fn observe_rule(&self, took: Duration) {
        self.eval_duration.observe(took.as_secs_f64());
    }

    pub fn observe_group(&self, took: Duration, eval_ts_ms: i64) {
        self.group_duration.observe(took.as_secs_f64());
        self.last_duration.set(took.as_secs_f64());
        self.last_timestamp.set(eval_ts_ms as f64 / 1000.0);
    }
}
