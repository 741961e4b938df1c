//! The manager on a real tokio runtime with 100ms groups: evaluation, notification, reloads
//! that keep state, bad reloads that keep the running groups, removed groups going stale, and
//! metrics. Waits poll for an observable condition with a generous deadline.

use std::sync::Arc;
use std::time::Duration;

use oxeye_model::storage::memory::MemStorage;
use oxeye_model::{Matcher, Queryable, is_stale_nan};
use oxeye_promql::Engine;

use super::*;
use crate::AlertState;

struct Fixture {
    mgr: RuleManager,
    st: Arc<MemStorage>,
    sent: Arc<Mutex<Vec<Alert>>>,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let st = Arc::new(MemStorage::new());
    let sent: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = sent.clone();
    let mgr = RuleManager::new(ManagerOptions {
        engine: Arc::new(Engine::default()),
        queryable: st.clone(),
        appendable: st.clone(),
        notify: Arc::new(move |alerts| sink.lock().extend(alerts)),
        external_url: "http://o:9090".into(),
        outage_tolerance: Duration::from_secs(3600),
        for_grace_period: Duration::from_secs(600),
        resend_delay: Duration::from_secs(60),
    });
    Fixture { mgr, st, sent, dir: tempfile::tempdir().unwrap() }
}

impl Fixture {
    fn write(&self, name: &str, content: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }

    fn pattern(&self) -> Vec<String> {
        vec![self.dir.path().join("*.yml").display().to_string()]
    }

    fn update(&self) -> Result<(), RuleLoadErrors> {
        self.mgr.update(Duration::from_secs(60), &self.pattern(), Labels::empty())
    }

    fn series(&self, name: &str) -> Vec<oxeye_model::Series> {
        self.st.select(0, i64::MAX / 2, &[Matcher::equal("__name__", name)]).unwrap()
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const RULES: &str = "groups:\n- name: g\n  interval: 100ms\n  rules:\n  - alert: Always\n    expr: vector(1)\n    labels: {severity: page}\n  - record: one\n    expr: vector(1)\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluates_notifies_and_reports_status() {
    let f = fixture();
    f.write("a.yml", RULES);
    f.update().unwrap();
    wait_for("an alert to be sent", || !f.sent.lock().is_empty()).await;
    let a = f.sent.lock()[0].clone();
    assert_eq!(a.labels.get("alertname"), "Always");
    assert_eq!(a.generator_url, "http://o:9090/graph?g0.expr=vector%281%29&g0.tab=1");
    wait_for("the recording rule's series", || !f.series("one").is_empty()).await;
    let groups = f.mgr.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, "g");
    assert_eq!(groups[0].interval, Duration::from_millis(100));
    let alerts = f.mgr.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].state, AlertState::Firing);
    // ALERTS appear only once `for` state was restored, after the second evaluation.
    wait_for("ALERTS series", || !f.series("ALERTS").is_empty()).await;
    f.mgr.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reload_keeps_running_groups_and_good_reload_keeps_state() {
    let f = fixture();
    let file = f.write("a.yml", RULES);
    f.update().unwrap();
    wait_for("the alert", || !f.mgr.alerts().is_empty()).await;
    let active_at = f.mgr.alerts()[0].active_at;

    f.write("b.yml", "groups:\n- name: bad\n  rules:\n  - record: x\n    expr: sum(\n");
    let err = f.update().unwrap_err();
    assert!(err.to_string().contains("could not parse expression"), "{err}");
    assert_eq!(f.mgr.groups().iter().map(|g| g.name.clone()).collect::<Vec<_>>(), vec!["g".to_string()]);
    std::fs::remove_file(f.dir.path().join("b.yml")).unwrap();

    // A changed group takes over the alerts of the group it replaces.
    std::fs::write(&file, format!("{RULES}  - record: two\n    expr: vector(2)\n")).unwrap();
    f.update().unwrap();
    wait_for("the new rule to run", || !f.series("two").is_empty()).await;
    let alerts = f.mgr.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].active_at, active_at, "alert state survives the reload");
    assert_eq!(f.mgr.groups()[0].rules.len(), 3);
    f.mgr.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_group_gets_stale_markers_and_loses_metrics() {
    let f = fixture();
    let file = f.write("a.yml", RULES);
    let mut reg = prometheus_client::registry::Registry::default();
    f.mgr.register_metrics(&mut reg);
    f.update().unwrap();
    wait_for("the recording rule's series", || !f.series("one").is_empty()).await;
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
    let key = format!("{file};g");
    for name in [
        "prometheus_rule_evaluations_total",
        "prometheus_rule_group_iterations_total",
        "prometheus_rule_group_interval_seconds",
        "prometheus_rule_group_rules",
        "prometheus_rule_group_last_evaluation_timestamp_seconds",
    ] {
        assert!(text.contains(&format!("{name}{{rule_group=\"{key}\"}}")), "{name} missing in\n{text}");
    }
    assert!(text.contains(&format!("prometheus_rule_group_rules{{rule_group=\"{key}\"}} 2")), "{text}");

    std::fs::remove_file(&file).unwrap();
    f.update().unwrap();
    assert!(f.mgr.groups().is_empty());
    wait_for("a stale marker", || f.series("one").iter().any(|s| s.samples.last().is_some_and(|x| is_stale_nan(x.v))))
        .await;
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
    assert!(!text.contains(&key), "removed group's series remain:\n{text}");
    f.mgr.stop();
}
