//! Timeline tests of the dispatcher and pipeline under paused tokio time, with a recording
//! fake integration: what is notified, when, to whom, with which group key.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oxeye_am_config::{MatchOp, Matcher};
use oxeye_am_core::{
    Alert, AlertState, AlertmanagerCore, Clock, CoreOptions, Integration, IntegrationFactory, NotifyContext,
    NotifyError, Silence, zero_time,
};
use oxeye_model::Labels;
use parking_lot::Mutex;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
struct Sent {
    at: u64,
    receiver: String,
    group_key: String,
    alerts: Vec<String>,
}

#[derive(Default)]
struct Shared {
    sent: Mutex<Vec<Sent>>,
    attempts: Mutex<Vec<u64>>,
    /// Outcomes for the next attempts (None = success); empty = success.
    plan: Mutex<VecDeque<Option<NotifyError>>>,
}

struct Fake {
    start: Instant,
    receiver: String,
    index: usize,
    send_resolved: bool,
    shared: Arc<Shared>,
}

impl Integration for Fake {
    fn name(&self) -> &str {
        "webhook"
    }
    fn index(&self) -> usize {
        self.index
    }
    fn send_resolved(&self) -> bool {
        self.send_resolved
    }
    fn notify<'a>(
        &'a self,
        ctx: &'a NotifyContext,
        alerts: &'a [Alert],
    ) -> futures::future::BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let at = self.start.elapsed().as_secs();
            self.shared.attempts.lock().push(at);
            if let Some(Some(e)) = self.shared.plan.lock().pop_front() {
                return Err(e);
            }
            let alerts = alerts
                .iter()
                .map(|a| {
                    let id = match a.labels.get("instance") {
                        "" => a.labels.get("alertname").to_string(),
                        i => format!("{}/{}", a.labels.get("alertname"), i),
                    };
                    format!("{id}:{}", a.status(ctx.now))
                })
                .collect();
            self.shared.sent.lock().push(Sent {
                at,
                receiver: self.receiver.clone(),
                group_key: ctx.group_key.clone(),
                alerts,
            });
            Ok(())
        })
    }
}

struct Harness {
    core: Arc<AlertmanagerCore>,
    shared: Arc<Shared>,
    dir: tempfile::TempDir,
    start: Instant,
}

fn factory(shared: Arc<Shared>, start: Instant) -> IntegrationFactory {
    Arc::new(move |r: &oxeye_am_config::Receiver| {
        let v: Vec<Arc<dyn Integration>> = r
            .webhook_configs
            .iter()
            .enumerate()
            .map(|(i, w)| {
                Arc::new(Fake {
                    start,
                    receiver: r.name.clone(),
                    index: i,
                    send_resolved: w.send_resolved,
                    shared: shared.clone(),
                }) as Arc<dyn Integration>
            })
            .collect();
        Ok(v)
    })
}

fn open(dir: &std::path::Path, shared: Arc<Shared>, start: Instant, clock: Clock) -> Arc<AlertmanagerCore> {
    let opts = CoreOptions {
        storage_path: dir.to_path_buf(),
        data_retention: Duration::from_secs(120 * 3600),
        gc_interval: Duration::from_secs(1800),
        external_url: "http://am.example".into(),
        integrations: factory(shared, start),
    };
    let core = Arc::new(AlertmanagerCore::with_clock(opts, clock).unwrap());
    tokio::spawn(core.clone().run());
    core
}

fn harness(yaml: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared::default());
    let start = Instant::now();
    let core = open(dir.path(), shared.clone(), start, Clock::tokio());
    core.apply_config(Arc::new(oxeye_am_config::load_str(yaml, "test.yml").unwrap())).unwrap();
    Harness { core, shared, dir, start }
}

impl Harness {
    fn now(&self) -> DateTime<Utc> {
        self.core.clock().now()
    }

    /// Sleeps (auto-advancing paused time) until `secs` after the start.
    async fn until(&self, secs: u64) {
        tokio::time::sleep_until(self.start + Duration::from_secs(secs)).await;
        // Let tasks woken at exactly this instant run.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    fn put(&self, alerts: Vec<Alert>) {
        self.core.put_alerts(alerts).unwrap();
    }

    fn sent(&self) -> Vec<Sent> {
        self.shared.sent.lock().clone()
    }

    fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.shared.sent.lock())
    }
}

/// An alert firing for a day (explicit end, so resolve_timeout does not apply).
fn firing(h: &Harness, pairs: &[(&str, &str)]) -> Alert {
    Alert {
        labels: Labels::from_pairs(pairs.iter().copied()),
        starts_at: h.now(),
        ends_at: h.now() + chrono::Duration::days(1),
        ..Alert::default()
    }
}

fn resolved(h: &Harness, pairs: &[(&str, &str)]) -> Alert {
    Alert {
        labels: Labels::from_pairs(pairs.iter().copied()),
        starts_at: zero_time(),
        ends_at: h.now(),
        ..Alert::default()
    }
}

fn sent(at: u64, receiver: &str, group_key: &str, alerts: &[&str]) -> Sent {
    Sent {
        at,
        receiver: receiver.into(),
        group_key: group_key.into(),
        alerts: alerts.iter().map(|s| s.to_string()).collect(),
    }
}

const BASIC: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: http://example/hook
        send_resolved: true
"#;

#[tokio::test(start_paused = true)]
async fn group_wait_interval_repeat_and_resolve() {
    let h = harness(BASIC);
    let gk = r#"{}:{alertname="A"}"#;
    h.put(vec![firing(&h, &[("alertname", "A"), ("instance", "1")])]);
    h.until(29).await;
    assert!(h.sent().is_empty(), "nothing before group_wait");
    h.until(30).await;
    assert_eq!(h.take(), vec![sent(30, "team", gk, &["A/1:firing"])]);

    // A second alert joins; it waits for the next group_interval tick (30 + 300).
    h.until(60).await;
    h.put(vec![firing(&h, &[("alertname", "A"), ("instance", "2")])]);
    h.until(329).await;
    assert!(h.sent().is_empty());
    h.until(330).await;
    assert_eq!(h.take(), vec![sent(330, "team", gk, &["A/1:firing", "A/2:firing"])]);

    // Unchanged: silent until repeat_interval has strictly elapsed since 330: flushes at 630..3930
    // are deduplicated, 4230 repeats.
    h.until(3930).await;
    assert!(h.sent().is_empty(), "{:?}", h.sent());
    h.until(4230).await;
    assert_eq!(h.take(), vec![sent(4230, "team", gk, &["A/1:firing", "A/2:firing"])]);

    // Resolving one alert: with send_resolved the next flush reports it, then it leaves the group.
    h.until(4300).await;
    h.put(vec![resolved(&h, &[("alertname", "A"), ("instance", "1")])]);
    h.until(4530).await;
    // AlertSlice order: by instance, whatever the status.
    assert_eq!(h.take(), vec![sent(4530, "team", gk, &["A/1:resolved", "A/2:firing"])]);
    h.until(4830).await;
    assert!(h.sent().is_empty());

    // Resolving the last one notifies once more, then the group is empty and deleted by maintenance.
    h.put(vec![resolved(&h, &[("alertname", "A"), ("instance", "2")])]);
    h.until(5130).await;
    assert_eq!(h.take(), vec![sent(5130, "team", gk, &["A/2:resolved"])]);
    h.until(5200).await;
    assert_eq!(h.core.aggregation_group_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn send_resolved_false_only_firing_is_sent() {
    let h = harness(&BASIC.replace("send_resolved: true", "send_resolved: false"));
    let gk = r#"{}:{alertname="A"}"#;
    h.put(vec![
        firing(&h, &[("alertname", "A"), ("instance", "1")]),
        firing(&h, &[("alertname", "A"), ("instance", "2")]),
    ]);
    h.until(30).await;
    assert_eq!(h.take(), vec![sent(30, "team", gk, &["A/1:firing", "A/2:firing"])]);
    h.put(vec![resolved(&h, &[("alertname", "A"), ("instance", "1")])]);
    // Firing set shrank, resolved grew: no notification without send_resolved.
    h.until(330).await;
    assert!(h.sent().is_empty(), "{:?}", h.sent());
    // Repeat: only the firing alert is sent.
    h.until(3930).await;
    assert_eq!(h.take(), vec![sent(3930, "team", gk, &["A/2:firing"])]);
    // All resolved: nothing is sent, but the log records the resolution.
    h.put(vec![resolved(&h, &[("alertname", "A"), ("instance", "2")])]);
    h.until(4230).await;
    assert!(h.sent().is_empty());
    let entries = h.core.notification_log().entries();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].firing_alerts.is_empty());
    assert_eq!(entries[0].resolved_alerts.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn old_alert_flushes_immediately() {
    let h = harness(BASIC);
    let mut a = firing(&h, &[("alertname", "Old")]);
    a.starts_at = h.now() - chrono::Duration::minutes(10);
    h.put(vec![a]);
    h.until(0).await;
    assert_eq!(h.take(), vec![sent(0, "team", r#"{}:{alertname="Old"}"#, &["Old:firing"])]);
    // Later alerts of the same group wait for group_interval.
    h.put(vec![{
        let mut b = firing(&h, &[("alertname", "Old"), ("instance", "x")]);
        b.starts_at = h.now() - chrono::Duration::minutes(10);
        b
    }]);
    h.until(299).await;
    assert!(h.sent().is_empty());
    h.until(300).await;
    assert_eq!(h.take().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn resolve_timeout_resolves_unrefreshed_alerts() {
    let h = harness(&BASIC.replace("receivers:", "global:\n  resolve_timeout: 2m\nreceivers:"));
    let mut a = firing(&h, &[("alertname", "T")]);
    a.ends_at = zero_time();
    h.put(vec![a]);
    let stored = h.core.alerts();
    assert!(stored[0].0.timeout);
    assert_eq!(stored[0].0.ends_at, h.now() + chrono::Duration::minutes(2));
    h.until(30).await;
    assert_eq!(h.take()[0].alerts, vec!["T:firing"]);
    h.until(330).await;
    assert_eq!(h.take()[0].alerts, vec!["T:resolved"]);
    assert!(h.core.alerts().is_empty(), "resolved alerts are not listed");
}

const ROUTES: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
  routes:
    - matchers: ['team="a"']
      receiver: team-a
      continue: true
    - matchers: ['severity=~"critical|page"']
      receiver: pager
      group_by: ['...']
      group_wait: 5s
receivers:
  - name: default
    webhook_configs: [{url: "http://x/1"}]
  - name: team-a
    webhook_configs: [{url: "http://x/2"}]
  - name: pager
    webhook_configs: [{url: "http://x/3"}]
"#;

#[tokio::test(start_paused = true)]
async fn continue_routes_group_keys_and_group_by_all() {
    let h = harness(ROUTES);
    let both = [("alertname", "X"), ("team", "a"), ("severity", "critical")];
    assert_eq!(h.core.routes_for(&Labels::from_pairs(both)), vec!["team-a", "pager"]);
    assert_eq!(h.core.routes_for(&Labels::from_pairs([("alertname", "X")])), vec!["default"]);
    h.put(vec![firing(&h, &both), firing(&h, &[("alertname", "Y")])]);
    h.until(5).await;
    assert_eq!(
        h.take(),
        vec![sent(
            5,
            "pager",
            r#"{}/{severity=~"critical|page"}:{alertname="X", severity="critical", team="a"}"#,
            &["X:firing"]
        )]
    );
    h.until(10).await;
    let mut got = h.take();
    got.sort_by(|a, b| a.receiver.cmp(&b.receiver));
    assert_eq!(
        got,
        vec![
            sent(10, "default", r#"{}:{alertname="Y"}"#, &["Y:firing"]),
            sent(10, "team-a", r#"{}/{team="a"}:{alertname="X"}"#, &["X:firing"]),
        ]
    );
    // The API view: receivers per alert, groups sorted by labels then receiver.
    let alerts = h.core.alerts();
    let x = alerts.iter().find(|(a, _, _)| a.labels.get("alertname") == "X").unwrap();
    assert_eq!(x.2, vec!["team-a", "pager"]);
    assert_eq!(x.1.state, AlertState::Active);
    let groups = h.core.alert_groups();
    let summary: Vec<(String, String)> =
        groups.iter().map(|g| (g.receiver.clone(), oxeye_am_core::alert::label_set_string(&g.labels))).collect();
    assert_eq!(
        summary,
        vec![
            ("team-a".to_string(), r#"{alertname="X"}"#.to_string()),
            ("default".to_string(), r#"{alertname="Y"}"#.to_string()),
            ("pager".to_string(), r#"{alertname="X", severity="critical", team="a"}"#.to_string()),
        ]
    );
    assert_eq!(groups[0].alerts[0].2, vec!["pager", "team-a"]);
}

#[tokio::test(start_paused = true)]
async fn silences_filter_and_mark() {
    let h = harness(BASIC);
    let id = h
        .core
        .silences()
        .set(Silence {
            id: String::new(),
            matchers: vec![Matcher::new("instance", MatchOp::Equal, "2").unwrap()],
            starts_at: h.now(),
            ends_at: h.now() + chrono::Duration::hours(1),
            updated_at: h.now(),
            created_by: "t".into(),
            comment: "maintenance".into(),
        })
        .unwrap();
    h.put(vec![
        firing(&h, &[("alertname", "A"), ("instance", "1")]),
        firing(&h, &[("alertname", "A"), ("instance", "2")]),
    ]);
    h.until(30).await;
    assert_eq!(h.take()[0].alerts, vec!["A/1:firing"]);
    let st: Vec<_> = h.core.alerts().into_iter().map(|(a, s, _)| (a.labels.get("instance").to_string(), s)).collect();
    assert_eq!(st[0].1.state, AlertState::Active);
    let silenced = st.iter().find(|(i, _)| i == "2").unwrap();
    assert_eq!(silenced.1.state, AlertState::Suppressed);
    assert_eq!(silenced.1.silenced_by, vec![id.clone()]);
    // Expiring the silence lets the alert through at the next flush.
    h.until(100).await;
    h.core.silences().expire(&id).unwrap();
    h.until(330).await;
    assert_eq!(h.take()[0].alerts, vec!["A/1:firing", "A/2:firing"]);
}

#[tokio::test(start_paused = true)]
async fn inhibition_with_equal_labels() {
    let yaml = format!(
        "{BASIC}\ninhibit_rules:\n  - source_matchers: [severity=critical]\n    target_matchers: [severity=warning]\n    equal: [cluster]\n"
    );
    let h = harness(&yaml.replace("group_by: [alertname]", "group_by: ['...']"));
    let src = firing(&h, &[("alertname", "Down"), ("severity", "critical"), ("cluster", "c1")]);
    h.put(vec![
        src.clone(),
        firing(&h, &[("alertname", "Slow"), ("severity", "warning"), ("cluster", "c1")]),
        firing(&h, &[("alertname", "Slow"), ("severity", "warning"), ("cluster", "c2")]),
    ]);
    h.until(30).await;
    let mut names: Vec<String> = h.take().into_iter().map(|s| s.group_key).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            r#"{}:{alertname="Down", cluster="c1", severity="critical"}"#.to_string(),
            r#"{}:{alertname="Slow", cluster="c2", severity="warning"}"#.to_string(),
        ]
    );
    let inhibited = h
        .core
        .alerts()
        .into_iter()
        .find(|(a, _, _)| a.labels.get("cluster") == "c1" && a.labels.get("alertname") == "Slow")
        .unwrap();
    assert_eq!(inhibited.1.inhibited_by, vec![src.fingerprint().to_string()]);
    // Once the source resolves, the target is notified at its group's next flush.
    h.put(vec![resolved(&h, &[("alertname", "Down"), ("severity", "critical"), ("cluster", "c1")])]);
    h.until(330).await;
    let got: Vec<Vec<String>> = h.take().into_iter().map(|s| s.alerts).collect();
    assert!(got.contains(&vec!["Slow:firing".to_string()]), "{got:?}");
    assert!(got.contains(&vec!["Down:resolved".to_string()]), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn time_intervals_mute_and_activate() {
    let always = "time_intervals:\n  - name: always\n    time_intervals:\n      - times: [{start_time: '00:00', end_time: '24:00'}]\n  - name: never\n    time_intervals:\n      - years: ['1999']\n";
    // The root route may not carry time intervals; a catch-all child does.
    let child = |field: &str, name: &str| {
        format!(
            "{}\n{always}",
            BASIC.replace(
                "repeat_interval: 1h",
                &format!(
                    "repeat_interval: 1h\n  routes:\n    - matchers: ['alertname=~\".+\"']\n      {field}: [{name}]"
                ),
            )
        )
    };
    let muted = harness(&child("mute_time_intervals", "always"));
    muted.put(vec![firing(&muted, &[("alertname", "A")])]);
    muted.until(700).await;
    assert!(muted.sent().is_empty(), "muted by mute_time_intervals");

    let inactive = harness(&child("active_time_intervals", "never"));
    inactive.put(vec![firing(&inactive, &[("alertname", "A")])]);
    inactive.until(700).await;
    assert!(inactive.sent().is_empty(), "outside active_time_intervals");

    let active = harness(&child("active_time_intervals", "always"));
    active.put(vec![firing(&active, &[("alertname", "A")])]);
    active.until(30).await;
    assert_eq!(active.take().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_until_success_and_stops_on_permanent_error() {
    let h = harness(BASIC);
    h.shared.plan.lock().extend([Some(NotifyError::retryable("503")), Some(NotifyError::retryable("503")), None]);
    h.put(vec![firing(&h, &[("alertname", "A")])]);
    h.until(60).await;
    assert_eq!(h.shared.attempts.lock().len(), 3, "two failures then success");
    assert_eq!(h.take().len(), 1);
    assert_eq!(h.shared.attempts.lock()[0], 30);

    // A permanent error: a single attempt; nothing logged, so the next flush tries again.
    h.shared.attempts.lock().clear();
    h.shared.plan.lock().push_back(Some(NotifyError::permanent("400")));
    h.put(vec![firing(&h, &[("alertname", "A"), ("instance", "new")])]);
    h.until(330).await;
    assert_eq!(*h.shared.attempts.lock(), vec![330]);
    assert!(h.sent().is_empty());
    h.until(630).await;
    // Alerts with an `instance` label sort first.
    assert_eq!(h.take()[0].alerts, vec!["A/new:firing", "A:firing"]);
}

#[tokio::test(start_paused = true)]
async fn retries_give_up_at_the_flush_deadline() {
    let h = harness(&BASIC.replace("group_interval: 5m", "group_interval: 20s"));
    h.shared.plan.lock().extend(std::iter::repeat_n(Some(NotifyError::retryable("503")), 1000));
    h.put(vec![firing(&h, &[("alertname", "A")])]);
    h.until(49).await;
    let attempts = h.shared.attempts.lock().clone();
    // Backoff 0.5s, x1.5 with jitter: several attempts, all before the deadline (30 + 20s).
    assert!(attempts.len() >= 4, "{attempts:?}");
    assert!(attempts.iter().all(|&t| (30..50).contains(&t)), "{attempts:?}");
    // At 50 the first flush gives up and the next one starts.
    h.until(50).await;
    let mut reg = prometheus_client::registry::Registry::default();
    h.core.register_metrics(&mut reg);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
    assert!(text.contains("alertmanager_notifications_failed_total{integration=\"webhook\"} 1"), "{text}");
    assert!(text.contains("alertmanager_notifications_total{integration=\"webhook\"} 2"), "{text}");
    assert!(text.contains("alertmanager_notification_requests_failed_total{integration=\"webhook\"} "));
    assert!(h.sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn reload_keeps_alerts_and_does_not_renotify() {
    let h = harness(BASIC);
    h.put(vec![firing(&h, &[("alertname", "A")])]);
    h.until(30).await;
    assert_eq!(h.take().len(), 1);
    h.until(100).await;
    h.core.apply_config(Arc::new(oxeye_am_config::load_str(BASIC, "test.yml").unwrap())).unwrap();
    // The re-created group flushes at once (the alert is older than group_wait) but dedups.
    h.until(101).await;
    assert!(h.sent().is_empty());
    assert_eq!(h.core.aggregation_group_count(), 1);
    // A new receiver name changes the nflog key: the same group is notified again.
    let renamed = BASIC.replace("receiver: team", "receiver: ops").replace("- name: team", "- name: ops");
    h.core.apply_config(Arc::new(oxeye_am_config::load_str(&renamed, "test.yml").unwrap())).unwrap();
    h.until(102).await;
    assert_eq!(h.take(), vec![sent(101, "ops", r#"{}:{alertname="A"}"#, &["A:firing"])]);
    assert_eq!(h.core.receivers(), vec!["ops"]);
}

#[tokio::test(start_paused = true)]
async fn silences_and_nflog_survive_restart() {
    let h = harness(BASIC);
    let sid = h
        .core
        .silences()
        .set(Silence {
            id: String::new(),
            matchers: vec![Matcher::new("alertname", MatchOp::Equal, "Quiet").unwrap()],
            starts_at: h.now(),
            ends_at: h.now() + chrono::Duration::hours(2),
            updated_at: h.now(),
            created_by: "t".into(),
            comment: "c".into(),
        })
        .unwrap();
    h.put(vec![firing(&h, &[("alertname", "A")]), firing(&h, &[("alertname", "Quiet")])]);
    h.until(30).await;
    assert_eq!(h.take().len(), 1);
    // Simulate kill -9: no stop(), just open a second core over the same directory.
    let shared2 = Arc::new(Shared::default());
    let core2 = open(h.dir.path(), shared2.clone(), h.start, h.core.clock().clone());
    core2.apply_config(Arc::new(oxeye_am_config::load_str(BASIC, "test.yml").unwrap())).unwrap();
    assert_eq!(core2.silences().get(&sid).map(|s| s.comment), Some("c".to_string()));
    assert_eq!(core2.notification_log().entries().len(), 1);
    // Prometheus re-sends the alerts; the restored log suppresses a duplicate notification and the
    // restored silence still mutes.
    let mut a = firing(&h, &[("alertname", "A")]);
    a.starts_at = h.now() - chrono::Duration::seconds(60);
    let mut q = firing(&h, &[("alertname", "Quiet")]);
    q.starts_at = h.now() - chrono::Duration::seconds(60);
    core2.put_alerts(vec![a, q]).unwrap();
    h.until(400).await;
    assert!(shared2.sent.lock().is_empty(), "{:?}", shared2.sent.lock());
    h.core.stop().await;
    core2.stop().await;
}

#[tokio::test(start_paused = true)]
async fn put_alerts_validation_and_defaults() {
    let h = harness(BASIC);
    let now = h.now();
    let only_end = Alert {
        labels: Labels::from_pairs([("alertname", "E")]),
        ends_at: now + chrono::Duration::minutes(1),
        ..Alert::default()
    };
    let bad_name = Alert { labels: Labels::from_pairs([("bad-name", "x")]), ..Alert::default() };
    let empty = Alert { labels: Labels::from_pairs([("a", "")]), ..Alert::default() };
    let mut backwards = firing(&h, &[("alertname", "B")]);
    backwards.ends_at = backwards.starts_at - chrono::Duration::seconds(1);
    let with_empty_value = Alert {
        labels: Labels::from_sorted(vec![oxeye_model::Label::new("alertname", "V"), oxeye_model::Label::new("z", "")]),
        ..Alert::default()
    };
    let errs = h.core.put_alerts(vec![only_end, bad_name, empty, backwards, with_empty_value]).unwrap_err();
    assert_eq!(
        errs,
        vec![
            "invalid label set: invalid name \"bad-name\"".to_string(),
            "at least one label pair required".to_string(),
            "start time must be before end time".to_string(),
        ]
    );
    let alerts = h.core.alerts();
    assert_eq!(alerts.len(), 2);
    let e = alerts.iter().find(|(a, _, _)| a.labels.get("alertname") == "E").unwrap();
    assert_eq!(e.0.starts_at, e.0.ends_at, "startsAt defaults to endsAt when only that is given");
    assert!(!e.0.timeout);
    let v = alerts.iter().find(|(a, _, _)| a.labels.get("alertname") == "V").unwrap();
    assert_eq!(v.0.labels.len(), 1, "empty-valued label dropped");
    assert!(v.0.timeout);
    assert_eq!(v.0.starts_at, now);
    let mut reg = prometheus_client::registry::Registry::default();
    h.core.register_metrics(&mut reg);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
    assert!(text.contains("alertmanager_alerts_invalid_total{version=\"v2\"} 3"), "{text}");
    assert!(text.contains("alertmanager_alerts_received_total{status=\"firing\",version=\"v2\"} 4"), "{text}");
    assert!(text.contains("alertmanager_alerts_received_total{status=\"resolved\",version=\"v2\"} 1"), "{text}");
    assert!(text.contains("alertmanager_alerts{state=\"active\"} 2"), "{text}");
    assert!(text.contains("alertmanager_silences{state=\"active\"} 0"), "{text}");
    assert!(text.contains("alertmanager_dispatcher_aggregation_groups 2"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn gc_removes_resolved_alerts_and_markers() {
    let h = harness(BASIC);
    h.put(vec![firing(&h, &[("alertname", "A")])]);
    h.until(30).await;
    h.put(vec![resolved(&h, &[("alertname", "A")])]);
    let fp = Labels::from_pairs([("alertname", "A")]);
    let fp = oxeye_am_core::Fingerprint::of(&fp);
    assert!(h.core.alert(fp).is_some());
    h.until(1801).await;
    assert!(h.core.alert(fp).is_none(), "collected at the first GC tick (30m)");
    assert_eq!(h.core.marker().status(fp).state, AlertState::Unprocessed);
}
