//! Evaluation behaviour against an in-memory storage: recording results and stale markers,
//! the alert state machine, ALERTS series, templates, resending, restoration, state copy.

use oxeye_model::storage::memory::MemStorage;
use oxeye_model::{Appendable, Matcher, Queryable, is_stale_nan};
use oxeye_promql::Engine;

use super::*;
use crate::AlertState;

const MIN: i64 = 60_000;

struct Env {
    engine: Engine,
    st: MemStorage,
}

impl Env {
    fn new() -> Self {
        Env { engine: Engine::default(), st: MemStorage::new() }
    }

    fn ctx(&self) -> EvalContext<'_> {
        EvalContext::new(&self.engine, &self.st, &self.st)
    }

    fn add(&self, pairs: &[(&str, &str)], t: i64, v: f64) {
        let mut a = self.st.appender();
        a.append(None, &Labels::from_pairs(pairs.iter().copied()), t, v).unwrap();
        a.commit().unwrap();
    }

    /// Samples of the series with exactly these labels.
    fn samples(&self, pairs: &[(&str, &str)]) -> Vec<(i64, f64)> {
        let want = Labels::from_pairs(pairs.iter().copied());
        let m: Vec<Matcher> = pairs.iter().map(|(k, v)| Matcher::equal(*k, *v)).collect();
        self.st
            .select(i64::MIN / 2, i64::MAX / 2, &m)
            .unwrap()
            .into_iter()
            .filter(|s| s.labels == want)
            .flat_map(|s| s.samples.into_iter().map(|x| (x.t, x.v)))
            .collect()
    }
}

fn group(src: &str) -> Group {
    let f = crate::file::parse_str(src, "rules.yml").unwrap();
    let opts = GroupLoadOptions {
        default_interval: Duration::from_secs(60),
        external_labels: Labels::from_pairs([("cluster", "c1")]),
        external_url: "http://prom:9090".into(),
    };
    build_groups(&[f], &opts, true, false).remove(0)
}

fn alert_states(g: &Group) -> Vec<(String, AlertState)> {
    g.alerting_rules()[0].active_alerts().into_iter().map(|a| (a.labels.to_string(), a.state)).collect()
}

#[test]
fn recording_rule_appends_renamed_series_and_stale_markers() {
    let env = Env::new();
    for t in [0, MIN, 2 * MIN] {
        env.add(&[("__name__", "up"), ("job", "a")], t, 1.0);
        env.add(&[("__name__", "up"), ("job", "b")], t, if t < 2 * MIN { 1.0 } else { 0.0 });
    }
    let mut g = group("groups:\n- name: g\n  rules:\n  - record: job:up\n    expr: up == 1\n    labels: {x: y}\n");
    assert!(g.eval(&env.ctx(), MIN).is_empty());
    assert_eq!(g.rules()[0].health(), RuleHealth::Ok);
    let a = [("__name__", "job:up"), ("job", "a"), ("x", "y")];
    let b = [("__name__", "job:up"), ("job", "b"), ("x", "y")];
    assert_eq!(env.samples(&a), vec![(MIN, 1.0)]);
    assert_eq!(env.samples(&b), vec![(MIN, 1.0)]);
    g.eval(&env.ctx(), 2 * MIN);
    assert_eq!(env.samples(&a), vec![(MIN, 1.0), (2 * MIN, 1.0)]);
    let bs = env.samples(&b);
    assert_eq!(bs.len(), 2);
    assert_eq!(bs[1].0, 2 * MIN);
    assert!(is_stale_nan(bs[1].1), "vanished series gets a stale marker: {bs:?}");
    // Only once: the next evaluation does not mark it again.
    g.eval(&env.ctx(), 3 * MIN);
    assert_eq!(env.samples(&b).len(), 2);
}

#[test]
fn recording_rule_errors_set_health() {
    let env = Env::new();
    env.add(&[("__name__", "up"), ("job", "a")], 0, 1.0);
    env.add(&[("__name__", "down"), ("job", "a")], 0, 1.0);
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: '{job=\"a\"}'\n  - record: y\n    expr: 'label_replace({job=\"a\"}, \"n\", \"$1\", \"__name__\", \"(.*)\")'\n    labels: {n: z}\n  - record: s\n    expr: '1 + 1'\n",
    );
    g.eval(&env.ctx(), 10_000);
    let r = g.rules();
    assert_eq!(r[0].health(), RuleHealth::Err);
    assert_eq!(r[0].last_error(), Some("vector contains metrics with the same labelset after applying rule labels"));
    assert_eq!(r[1].last_error(), Some("vector contains metrics with the same labelset after applying rule labels"));
    // A scalar result becomes one series without labels.
    assert_eq!(r[2].health(), RuleHealth::Ok);
    assert_eq!(env.samples(&[("__name__", "s")]), vec![(10_000, 2.0)]);
    let status = g.status();
    assert_eq!(status.rules[0].health, "err");
    assert_eq!(status.rules[2].health, "ok");

    let mut lim = group(
        "groups:\n- name: g\n  limit: 1\n  rules:\n  - record: x\n    expr: 'label_replace({job=\"a\"}, \"n\", \"$1\", \"__name__\", \"(.*)\")'\n",
    );
    lim.eval(&env.ctx(), 10_000);
    assert_eq!(lim.rules()[0].last_error(), Some("exceeded limit of 1 with 2 series"));
    assert!(env.samples(&[("__name__", "x"), ("job", "a"), ("n", "up")]).is_empty(), "nothing appended");
}

#[test]
fn query_offset_shifts_query_and_sample_time() {
    let env = Env::new();
    env.add(&[("__name__", "m")], 0, 5.0);
    env.add(&[("__name__", "m")], 2 * MIN, 7.0);
    let mut g = group("groups:\n- name: g\n  query_offset: 1m\n  rules:\n  - record: r\n    expr: m\n");
    g.eval(&env.ctx(), 2 * MIN);
    assert_eq!(env.samples(&[("__name__", "r")]), vec![(MIN, 5.0)]);
}

const ALERT: &str = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels: {severity: page}\n    annotations: {summary: '{{ $labels.job }} down, value {{ $value }}'}\n";

#[test]
fn alert_goes_pending_then_firing_and_resolves() {
    let env = Env::new();
    for i in 0..=20 {
        env.add(&[("__name__", "up"), ("job", "a")], i * MIN, if i < 5 { 0.0 } else { 1.0 });
    }
    let mut g = group(ALERT);
    let ctx = env.ctx();
    let pending =
        [("__name__", "ALERTS"), ("alertname", "Down"), ("alertstate", "pending"), ("job", "a"), ("severity", "page")];
    let firing =
        [("__name__", "ALERTS"), ("alertname", "Down"), ("alertstate", "firing"), ("job", "a"), ("severity", "page")];
    let for_state = [("__name__", "ALERTS_FOR_STATE"), ("alertname", "Down"), ("job", "a"), ("severity", "page")];

    assert!(g.eval(&ctx, 0).is_empty(), "pending alerts are not sent");
    assert_eq!(
        alert_states(&g),
        vec![("{alertname=\"Down\", job=\"a\", severity=\"page\"}".to_string(), AlertState::Pending)]
    );
    assert_eq!(g.alerting_rules()[0].state(), AlertState::Pending);
    assert!(g.eval(&ctx, MIN).is_empty());
    let sent = g.eval(&ctx, 2 * MIN);
    assert_eq!(alert_states(&g)[0].1, AlertState::Firing);
    assert_eq!(sent.len(), 1);
    let a = &sent[0];
    assert_eq!(a.starts_at, 2 * MIN);
    assert_eq!(a.ends_at, Some(2 * MIN + 4 * MIN), "ValidUntil = ts + 4 * max(interval, resend delay)");
    assert_eq!(a.annotations.get("summary"), "a down, value 0");
    assert_eq!(a.labels.get("alertname"), "Down");
    assert_eq!(a.generator_url, "http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");

    assert_eq!(env.samples(&pending).len(), 3, "pending at 0 and 1m, stale at 2m");
    assert!(is_stale_nan(env.samples(&pending)[2].1));
    assert_eq!(env.samples(&firing), vec![(2 * MIN, 1.0)]);
    assert_eq!(env.samples(&for_state), vec![(0, 0.0), (MIN, 0.0), (2 * MIN, 0.0)]);

    assert!(g.eval(&ctx, 3 * MIN).is_empty(), "resend delay not yet passed");
    assert_eq!(g.eval(&ctx, 4 * MIN).len(), 1, "resent after the resend delay");

    // up == 1 from 5m on: resolved, sent at once with EndsAt = resolution time.
    let sent = g.eval(&ctx, 5 * MIN);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at, Some(5 * MIN));
    assert!(g.alerting_rules()[0].active_alerts().is_empty(), "resolved alerts are not active");
    assert_eq!(g.alerting_rules()[0].state(), AlertState::Inactive);
    let fs = env.samples(&firing);
    let last = *fs.last().unwrap();
    assert!(is_stale_nan(last.1) && last.0 == 5 * MIN, "{fs:?}");
    // Kept and resent during the retention period, then dropped.
    assert!(g.eval(&ctx, 6 * MIN).is_empty());
    assert_eq!(g.eval(&ctx, 7 * MIN).len(), 1);
    assert_eq!(g.eval(&ctx, 20 * MIN).len(), 1);
    assert_eq!(g.alerting_rules()[0].active.len(), 1);
    assert!(g.eval(&ctx, 20 * MIN + 1000).is_empty());
    assert_eq!(g.alerting_rules()[0].active.len(), 0, "dropped after 15m of retention");
}

#[test]
fn keep_firing_for_holds_a_vanished_alert() {
    let env = Env::new();
    env.add(&[("__name__", "up"), ("job", "a")], 0, 0.0);
    for i in 1..=5 {
        env.add(&[("__name__", "up"), ("job", "a")], i * MIN, 1.0);
    }
    let mut g = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    keep_firing_for: 2m\n");
    let ctx = env.ctx();
    assert_eq!(g.eval(&ctx, 0).len(), 1, "for: 0 fires at once");
    g.eval(&ctx, MIN);
    let a = &g.alerting_rules()[0].active_alerts()[0];
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.keep_firing_since, Some(MIN));
    g.eval(&ctx, 2 * MIN);
    assert_eq!(alert_states(&g)[0].1, AlertState::Firing);
    let sent = g.eval(&ctx, 3 * MIN);
    assert!(alert_states(&g).is_empty(), "resolved once keep_firing_for has passed");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at, Some(3 * MIN));
}

#[test]
fn pending_alert_that_vanishes_is_dropped() {
    let env = Env::new();
    env.add(&[("__name__", "up"), ("job", "a")], 0, 0.0);
    env.add(&[("__name__", "up"), ("job", "a")], MIN, 1.0);
    let mut g = group(ALERT);
    g.eval(&env.ctx(), 0);
    assert_eq!(alert_states(&g).len(), 1);
    assert!(g.eval(&env.ctx(), MIN).is_empty());
    assert!(g.alerting_rules()[0].active.is_empty());
}

#[test]
fn template_errors_and_queries() {
    let st = Arc::new(MemStorage::new());
    let engine = Arc::new(Engine::default());
    let mut a = st.appender();
    a.append(None, &Labels::from_pairs([("__name__", "up"), ("job", "a")]), 0, 0.0).unwrap();
    a.append(None, &Labels::from_pairs([("__name__", "other")]), 0, 42.0).unwrap();
    a.commit().unwrap();
    let src = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    labels: {l: '{{ $labels.job }}-{{ $externalLabels.cluster }}'}\n    annotations:\n      q: '{{ with query \"other\" }}{{ . | first | value }}{{ end }}'\n      bad: '{{ humanizeTimestamp \"x\" }}'\n      url: '{{ $externalURL }}'\n";
    let mut g = group(src);
    let ctx = EvalContext::new(&engine, st.as_ref(), st.as_ref())
        .with_template_query(engine_query_fn(engine.clone(), st.clone()));
    let sent = g.eval(&ctx, 1000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].labels.get("l"), "a-c1");
    assert_eq!(sent[0].annotations.get("q"), "42");
    assert_eq!(sent[0].annotations.get("url"), "http://prom:9090");
    assert!(sent[0].annotations.get("bad").starts_with("<error expanding template: "), "{:?}", sent[0].annotations);
    assert_eq!(g.rules()[0].health(), RuleHealth::Ok, "template errors do not fail the rule");
}

#[test]
fn alert_duplicate_labelsets_and_limit() {
    let env = Env::new();
    env.add(&[("__name__", "up"), ("job", "a")], 0, 0.0);
    env.add(&[("__name__", "down"), ("job", "a")], 0, 0.0);
    let mut g = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: '{job=\"a\"} == 0'\n");
    g.eval(&env.ctx(), 0);
    assert_eq!(
        g.rules()[0].last_error(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
    let mut g = group(
        "groups:\n- name: g\n  limit: 1\n  rules:\n  - alert: A\n    expr: '{job=\"a\"} == 0'\n    labels: {n: '{{ $labels.__name__ }}'}\n",
    );
    g.eval(&env.ctx(), 0);
    assert_eq!(g.rules()[0].last_error(), Some("exceeded limit of 1 with 2 alerts"));
    assert!(g.alerting_rules()[0].active.is_empty());
}

#[test]
fn restores_for_state_after_restart() {
    let env = Env::new();
    let for_state = [("__name__", "ALERTS_FOR_STATE"), ("alertname", "A"), ("job", "a")];
    // Before the restart: active since 0, last written at 10m.
    for i in 0..=10 {
        env.add(&for_state, i * MIN, 0.0);
    }
    for i in 0..=40 {
        env.add(&[("__name__", "up"), ("job", "a")], i * MIN, 0.0);
    }
    let src = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 30m\n";
    let f = crate::file::parse_str(src, "r.yml").unwrap();
    let opts = GroupLoadOptions { default_interval: Duration::from_secs(60), ..Default::default() };
    let mut g = build_groups(std::slice::from_ref(&f), &opts, false, true).remove(0);
    assert!(g.should_restore);
    let ctx = env.ctx();
    g.eval(&ctx, 20 * MIN);
    assert_eq!(env.samples(&for_state).len(), 11, "no ALERTS series before restoration");
    g.restore_for_state(&ctx, 20 * MIN);
    // 10m were spent pending; 20m remain (more than the grace period): active_at moves by
    // the 10m of downtime.
    assert_eq!(g.alerting_rules()[0].active_alerts()[0].active_at, 10 * MIN);
    g.eval(&ctx, 21 * MIN);
    assert_eq!(env.samples(&for_state).last(), Some(&(21 * MIN, (10 * 60) as f64)));
    assert_eq!(alert_states(&g)[0].1, AlertState::Pending);
    g.eval(&ctx, 40 * MIN);
    assert_eq!(alert_states(&g)[0].1, AlertState::Firing);

    // Down at 25m with 5m left (< grace 10m): fires a grace period after restart.
    let env = Env::new();
    for i in 0..=25 {
        env.add(&for_state, i * MIN, 0.0);
    }
    env.add(&[("__name__", "up"), ("job", "a")], 30 * MIN, 0.0);
    let mut g = build_groups(std::slice::from_ref(&f), &opts, false, true).remove(0);
    let ctx = env.ctx();
    g.eval(&ctx, 30 * MIN);
    g.restore_for_state(&ctx, 30 * MIN);
    assert_eq!(g.alerting_rules()[0].active_alerts()[0].active_at, 30 * MIN + 10 * MIN - 30 * MIN);

    // Outside the outage tolerance nothing is restored.
    let env = Env::new();
    env.add(&for_state, 0, 0.0);
    env.add(&[("__name__", "up"), ("job", "a")], 3 * 60 * MIN, 0.0);
    let mut g = build_groups(std::slice::from_ref(&f), &opts, false, true).remove(0);
    let ctx = env.ctx();
    g.eval(&ctx, 3 * 60 * MIN);
    g.restore_for_state(&ctx, 3 * 60 * MIN);
    assert_eq!(g.alerting_rules()[0].active_alerts()[0].active_at, 3 * 60 * MIN);
}

#[test]
fn eval_timestamp_is_slotted_and_spread() {
    let g = group("groups:\n- name: g\n  rules: []\n");
    let now = 1_700_000_123_456;
    let t = g.eval_timestamp(now);
    assert!(t <= now && t > now - MIN, "{t} vs {now}");
    assert_eq!(g.eval_timestamp(t + MIN), t + MIN);
    assert_eq!(g.eval_timestamp(t + MIN - 1), t);
    let other = group("groups:\n- name: other\n  rules: []\n");
    assert_ne!(other.eval_timestamp(now), t, "groups are spread over the interval");
}

#[test]
fn copy_state_keeps_alerts_and_stales_removed_rules() {
    let env = Env::new();
    env.add(&[("__name__", "up"), ("job", "a")], 0, 0.0);
    let mut old = group(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n  - record: r\n    expr: up\n",
    );
    old.eval(&env.ctx(), 0);
    let mut new = group(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n  - record: r2\n    expr: up\n",
    );
    new.copy_state(&mut old);
    assert_eq!(new.alerting_rules()[0].active_alerts()[0].active_at, 0);
    new.eval(&env.ctx(), MIN);
    let r = env.samples(&[("__name__", "r"), ("job", "a")]);
    assert_eq!(r.len(), 2);
    assert!(is_stale_nan(r[1].1), "series of the removed rule get a stale marker: {r:?}");
    assert_eq!(env.samples(&[("__name__", "r2"), ("job", "a")]), vec![(MIN, 0.0)]);
}

#[test]
fn load_groups_reports_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yml");
    let b = dir.path().join("b.yml");
    std::fs::write(
        &a,
        "groups:\n- name: x\n  rules:\n  - record: r\n    expr: up\n- name: y\n  interval: 10s\n  rules: []\n",
    )
    .unwrap();
    std::fs::write(&b, "groups:\n- name: z\n  rules:\n  - record: r\n    expr: sum(\n").unwrap();
    let opts = GroupLoadOptions { default_interval: Duration::from_secs(60), ..Default::default() };
    let groups = load_groups(std::slice::from_ref(&a), &opts).unwrap();
    assert_eq!(groups.iter().map(|g| g.name()).collect::<Vec<_>>(), vec!["x", "y"]);
    assert_eq!(groups[0].interval(), Duration::from_secs(60));
    assert_eq!(groups[1].interval(), Duration::from_secs(10));
    let err = load_groups(&[a, b.clone()], &opts).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: 5:11: group \"z\", rule 1, \"r\": could not parse expression", b.display())),
        "{err}"
    );
}
