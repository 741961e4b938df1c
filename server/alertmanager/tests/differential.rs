//! Differential test against Debian's Alertmanager 0.25: each scenario runs the same config and
//! the same timeline of alerts, silences and restarts against both implementations, each
//! notifying its own webhook recorder, then compares the notifications (payload fields and
//! arrival times within a tolerance). Prints a summary line with the agreement counts.
//!
//! Set `OXEYE_AM_DIFF_SELF=1` to run the reference against itself (checks the harness).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use common::{Am, Flavor, Recorded, WebhookRecorder, have, rfc3339};

/// Arrival times of the same notification may differ by this much.
const TOLERANCE: Duration = Duration::from_millis(500);

/// One alert of a timeline step; times are seconds relative to the scenario start.
#[derive(Clone)]
struct A {
    labels: Vec<(&'static str, &'static str)>,
    annotations: Vec<(&'static str, &'static str)>,
    starts: f64,
    ends: Option<f64>,
}

fn firing(labels: &[(&'static str, &'static str)]) -> A {
    A { labels: labels.to_vec(), annotations: vec![("summary", "test alert")], starts: 0.0, ends: None }
}

fn resolved(labels: &[(&'static str, &'static str)], at: f64) -> A {
    A { ends: Some(at), ..firing(labels) }
}

#[derive(Clone)]
enum Step {
    Alerts(Vec<A>),
    /// A silence known by `key`, with (name, value, isRegex, isEqual) matchers, ending `until`
    /// seconds after the scenario start.
    Silence {
        key: &'static str,
        matchers: Vec<(&'static str, &'static str, bool, bool)>,
        until: f64,
    },
    Expire(&'static str),
    /// Graceful stop and start of both processes (same storage).
    Restart,
}

struct Scenario {
    name: &'static str,
    /// alertmanager.yml with `HOOK` standing for the recorder's base URL.
    config: String,
    steps: Vec<(f64, Step)>,
    /// Seconds to wait after the start before comparing.
    duration: f64,
    /// The number of notifications the reference is expected to send (guards the scenario).
    expect_min: usize,
}

fn hook_receivers(names: &[&str], extra: &str) -> String {
    let mut s = String::from("receivers:\n");
    for n in names {
        s.push_str(&format!("- name: {n}\n  webhook_configs:\n  - url: HOOK/{n}\n{extra}"));
    }
    s
}

const TIMING: &str = "  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 3s\n";

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "grouping by labels",
            config: format!(
                "route:\n  receiver: team\n  group_by: [alertname]\n{TIMING}{}",
                hook_receivers(&["team"], "")
            ),
            steps: vec![
                (
                    0.0,
                    Step::Alerts(vec![
                        firing(&[("alertname", "A"), ("instance", "1")]),
                        firing(&[("alertname", "A"), ("instance", "2")]),
                        firing(&[("alertname", "B"), ("instance", "1")]),
                    ]),
                ),
                (1.6, Step::Alerts(vec![firing(&[("alertname", "A"), ("instance", "3")])])),
            ],
            duration: 4.0,
            expect_min: 3,
        },
        Scenario {
            name: "group_wait, group_interval and repeat_interval",
            config: format!("route:\n  receiver: r\n  group_by: [alertname]\n{TIMING}{}", hook_receivers(&["r"], "")),
            steps: vec![(0.0, Step::Alerts(vec![firing(&[("alertname", "Repeat")])]))],
            duration: 8.0,
            expect_min: 2,
        },
        Scenario {
            name: "resolution with send_resolved true and false",
            config: format!(
                "route:\n  receiver: res\n  group_by: [alertname]\n{TIMING}  routes:\n  - receiver: nores\n    matchers: [kind=\"nores\"]\n\
                 receivers:\n- name: res\n  webhook_configs:\n  - url: HOOK/res\n    send_resolved: true\n\
                 - name: nores\n  webhook_configs:\n  - url: HOOK/nores\n    send_resolved: false\n"
            ),
            steps: vec![
                (
                    0.0,
                    Step::Alerts(vec![
                        firing(&[("alertname", "R"), ("kind", "res")]),
                        firing(&[("alertname", "N"), ("kind", "nores")]),
                        firing(&[("alertname", "N"), ("kind", "nores"), ("i", "2")]),
                    ]),
                ),
                (
                    1.5,
                    Step::Alerts(vec![
                        resolved(&[("alertname", "R"), ("kind", "res")], 1.5),
                        resolved(&[("alertname", "N"), ("kind", "nores")], 1.5),
                    ]),
                ),
                (3.5, Step::Alerts(vec![resolved(&[("alertname", "N"), ("kind", "nores"), ("i", "2")], 3.5)])),
            ],
            duration: 7.5,
            expect_min: 3,
        },
        Scenario {
            name: "inhibition",
            config: format!(
                "route:\n  receiver: r\n  group_by: [alertname, severity]\n{TIMING}{}\
                 inhibit_rules:\n- source_matchers: [severity=\"critical\"]\n  target_matchers: [severity=\"warning\"]\n  equal: [alertname]\n",
                hook_receivers(&["r"], "")
            ),
            steps: vec![
                (0.0, Step::Alerts(vec![firing(&[("alertname", "Disk"), ("severity", "critical")])])),
                (
                    0.2,
                    Step::Alerts(vec![
                        firing(&[("alertname", "Disk"), ("severity", "warning")]),
                        firing(&[("alertname", "Cpu"), ("severity", "warning")]),
                    ]),
                ),
                (1.6, Step::Alerts(vec![resolved(&[("alertname", "Disk"), ("severity", "critical")], 1.6)])),
            ],
            duration: 5.0,
            expect_min: 4,
        },
        Scenario {
            name: "silences",
            config: format!("route:\n  receiver: r\n  group_by: [alertname]\n{TIMING}{}", hook_receivers(&["r"], "")),
            steps: vec![
                (0.0, Step::Silence { key: "s", matchers: vec![("alertname", "Silenced", false, true)], until: 600.0 }),
                (0.0, Step::Silence { key: "re", matchers: vec![("alertname", "Re.*", true, true)], until: 600.0 }),
                (
                    0.3,
                    Step::Alerts(vec![
                        firing(&[("alertname", "Silenced")]),
                        firing(&[("alertname", "Regexed")]),
                        firing(&[("alertname", "Loud")]),
                    ]),
                ),
                (2.0, Step::Expire("s")),
            ],
            duration: 5.0,
            expect_min: 2,
        },
        Scenario {
            name: "continue routes",
            config: format!(
                "route:\n  receiver: default\n  group_by: [alertname]\n{TIMING}  routes:\n  - receiver: a\n    matchers: [team=\"x\"]\n    continue: true\n\
                 \x20 - receiver: b\n    matchers: [team=~\"x|y\"]\n  - receiver: c\n    matchers: [team=\"x\"]\n{}",
                hook_receivers(&["default", "a", "b", "c"], "")
            ),
            steps: vec![(
                0.0,
                Step::Alerts(vec![
                    firing(&[("alertname", "X"), ("team", "x")]),
                    firing(&[("alertname", "Y"), ("team", "y")]),
                    firing(&[("alertname", "Z"), ("team", "z")]),
                ]),
            )],
            duration: 3.0,
            expect_min: 4,
        },
        Scenario {
            name: "'...' grouping and max_alerts",
            config: format!(
                "route:\n  receiver: all\n  group_by: ['...']\n{TIMING}  routes:\n  - receiver: few\n    matchers: [dest=\"few\"]\n    group_by: [dest]\n\
                 receivers:\n- name: all\n  webhook_configs:\n  - url: HOOK/all\n- name: few\n  webhook_configs:\n  - url: HOOK/few\n    max_alerts: 2\n"
            ),
            steps: vec![(
                0.0,
                Step::Alerts(vec![
                    firing(&[("alertname", "G"), ("i", "1")]),
                    firing(&[("alertname", "G"), ("i", "2")]),
                    firing(&[("alertname", "H"), ("i", "1")]),
                    firing(&[("alertname", "T"), ("dest", "few"), ("i", "1")]),
                    firing(&[("alertname", "T"), ("dest", "few"), ("i", "2")]),
                    firing(&[("alertname", "T"), ("dest", "few"), ("i", "3")]),
                ]),
            )],
            duration: 3.0,
            expect_min: 4,
        },
        Scenario {
            name: "time intervals",
            config: format!(
                "route:\n  receiver: plain\n  group_by: [alertname]\n{TIMING}  routes:\n\
                 \x20 - receiver: muted\n    matchers: [r=\"muted\"]\n    mute_time_intervals: [always]\n\
                 \x20 - receiver: inactive\n    matchers: [r=\"inactive\"]\n    active_time_intervals: [never]\n\
                 \x20 - receiver: active\n    matchers: [r=\"active\"]\n    active_time_intervals: [always]\n    mute_time_intervals: [never]\n\
                 time_intervals:\n- name: always\n  time_intervals:\n  - times: [{{start_time: '00:00', end_time: '24:00'}}]\n\
                 - name: never\n  time_intervals:\n  - years: ['1999']\n{}",
                hook_receivers(&["plain", "muted", "inactive", "active"], "")
            ),
            steps: vec![(
                0.0,
                Step::Alerts(vec![
                    firing(&[("alertname", "P"), ("r", "plain")]),
                    firing(&[("alertname", "M"), ("r", "muted")]),
                    firing(&[("alertname", "I"), ("r", "inactive")]),
                    firing(&[("alertname", "Ac"), ("r", "active")]),
                ]),
            )],
            duration: 3.0,
            expect_min: 2,
        },
        Scenario {
            name: "restart keeps silences and the notification log",
            config: format!(
                "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n{}",
                hook_receivers(&["r"], "")
            ),
            steps: vec![
                (0.0, Step::Silence { key: "s", matchers: vec![("alertname", "Quiet", false, true)], until: 600.0 }),
                (0.1, Step::Alerts(vec![firing(&[("alertname", "Once")]), firing(&[("alertname", "Quiet")])])),
                (2.0, Step::Restart),
                // Alerts live in memory only; senders re-post them after a restart.
                (2.5, Step::Alerts(vec![firing(&[("alertname", "Once")]), firing(&[("alertname", "Quiet")])])),
            ],
            duration: 6.0,
            expect_min: 1,
        },
    ]
}

fn alert_json(a: &A, t0: DateTime<Utc>) -> Value {
    let at = |s: f64| rfc3339(t0 + chrono::Duration::milliseconds((s * 1000.0) as i64));
    let labels: BTreeMap<_, _> = a.labels.iter().cloned().collect();
    let annotations: BTreeMap<_, _> = a.annotations.iter().cloned().collect();
    let mut v = json!({"labels": labels, "annotations": annotations, "startsAt": at(a.starts),
        "generatorURL": "http://prometheus.example/graph"});
    if let Some(e) = a.ends {
        v["endsAt"] = json!(at(e));
    }
    v
}

/// One side of a scenario: a process, its recorder and its silence ids.
struct Side {
    am: Am,
    hook: WebhookRecorder,
    silences: BTreeMap<&'static str, String>,
}

impl Side {
    fn start(flavor: Flavor, dir: &std::path::Path, config: &str) -> Side {
        let hook = WebhookRecorder::start();
        let cfg = config.replace("HOOK", &format!("http://127.0.0.1:{}", hook.port));
        let am = Am::start(flavor, dir, &cfg, &[]);
        Side { am, hook, silences: BTreeMap::new() }
    }

    fn apply(&mut self, step: &Step, t0: DateTime<Utc>, generation: &mut u32) {
        match step {
            Step::Alerts(alerts) => {
                let body: Vec<Value> = alerts.iter().map(|a| alert_json(a, t0)).collect();
                let (code, text) = self.am.post_json("/api/v2/alerts", &Value::Array(body));
                assert_eq!(code, 200, "{}: POST alerts: {text}", self.am.flavor.name());
            }
            Step::Silence { key, matchers, until } => {
                let ms: Vec<Value> = matchers
                    .iter()
                    .map(|(n, v, re, eq)| json!({"name": n, "value": v, "isRegex": re, "isEqual": eq}))
                    .collect();
                let body = json!({"matchers": ms, "startsAt": rfc3339(Utc::now()),
                    "endsAt": rfc3339(t0 + chrono::Duration::milliseconds((*until * 1000.0) as i64)),
                    "createdBy": "differential", "comment": "test"});
                let (code, text) = self.am.post_json("/api/v2/silences", &body);
                assert_eq!(code, 200, "{}: POST silence: {text}", self.am.flavor.name());
                let id: Value = serde_json::from_str(&text).expect("silence response");
                self.silences.insert(key, id["silenceID"].as_str().unwrap_or_default().to_string());
            }
            Step::Expire(key) => {
                let id = self.silences.get(key).cloned().unwrap_or_default();
                let code = self.am.delete(&format!("/api/v2/silence/{id}"));
                assert_eq!(code, 200, "{}: expire silence", self.am.flavor.name());
            }
            Step::Restart => {
                *generation += 1;
                self.am.restart(*generation);
            }
        }
    }
}

/// The fields compared between implementations (externalURL names the host and differs).
fn normalize(n: &Value) -> Value {
    let alerts: Vec<Value> = n["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    json!({"status": a["status"], "labels": a["labels"], "annotations": a["annotations"],
                    "startsAt": a["startsAt"], "endsAt": a["endsAt"], "fingerprint": a["fingerprint"],
                    "generatorURL": a["generatorURL"]})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"version": n["version"], "groupKey": n["groupKey"], "status": n["status"], "receiver": n["receiver"],
        "groupLabels": n["groupLabels"], "commonLabels": n["commonLabels"],
        "commonAnnotations": n["commonAnnotations"], "truncatedAlerts": n["truncatedAlerts"], "alerts": alerts})
}

struct Outcome {
    name: &'static str,
    reference: usize,
    identical: usize,
    problems: Vec<String>,
}

/// Notifications per (path, groupKey), in arrival order, as (seconds since start, normalized).
fn by_group(rs: &[Recorded], start: Instant) -> BTreeMap<(String, String), Vec<(f64, Value)>> {
    let mut m: BTreeMap<(String, String), Vec<(f64, Value)>> = BTreeMap::new();
    let mut rs = rs.to_vec();
    rs.sort_by_key(|r| r.at);
    for r in rs {
        let key = (r.path.clone(), r.body["groupKey"].as_str().unwrap_or_default().to_string());
        m.entry(key).or_default().push((r.at.saturating_duration_since(start).as_secs_f64(), normalize(&r.body)));
    }
    m
}

fn run_scenario(sc: &Scenario, root: &std::path::Path, candidate: Flavor) -> Outcome {
    let dir = root.join(sc.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    let mut reference = Side::start(Flavor::Reference, &dir.join("reference"), &sc.config);
    let mut cand = Side::start(candidate, &dir.join("candidate"), &sc.config);
    let start = Instant::now();
    let t0 = Utc::now();
    let (mut gen_r, mut gen_c) = (0u32, 0u32);
    for (i, (at, step)) in sc.steps.iter().enumerate() {
        let due = start + Duration::from_secs_f64(*at);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        // Alternate which side goes first so neither is systematically later.
        if i % 2 == 0 {
            reference.apply(step, t0, &mut gen_r);
            cand.apply(step, t0, &mut gen_c);
        } else {
            cand.apply(step, t0, &mut gen_c);
            reference.apply(step, t0, &mut gen_r);
        }
    }
    let end = start + Duration::from_secs_f64(sc.duration);
    if let Some(wait) = end.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let want = by_group(&reference.hook.take(), start);
    let got = by_group(&cand.hook.take(), start);
    let mut problems = vec![];
    let mut identical = 0;
    let reference_total: usize = want.values().map(Vec::len).sum();
    if reference_total < sc.expect_min {
        problems.push(format!(
            "reference sent only {reference_total} notifications (scenario expects >= {})",
            sc.expect_min
        ));
    }
    for (key, w) in &want {
        let g = got.get(key).cloned().unwrap_or_default();
        for (i, (wt, wn)) in w.iter().enumerate() {
            match g.get(i) {
                None => problems.push(format!("{key:?} #{i} at {wt:.2}s: missing\n  want {wn}")),
                Some((gt, gn)) => {
                    let dt = (gt - wt).abs();
                    if gn != wn {
                        problems.push(format!("{key:?} #{i}: payload differs\n  want {wn}\n  got  {gn}"));
                    } else if dt > TOLERANCE.as_secs_f64() {
                        problems.push(format!("{key:?} #{i}: arrived at {gt:.2}s, reference at {wt:.2}s"));
                    } else {
                        identical += 1;
                    }
                }
            }
        }
        for (i, (gt, gn)) in g.iter().enumerate().skip(w.len()) {
            problems.push(format!("{key:?} #{i} at {gt:.2}s: extra notification\n  got {gn}"));
        }
    }
    for (key, g) in &got {
        if !want.contains_key(key) {
            for (gt, gn) in g {
                problems.push(format!("{key:?} at {gt:.2}s: unexpected notification\n  got {gn}"));
            }
        }
    }
    if !problems.is_empty() {
        problems.push(format!(
            "logs: reference {} / candidate {}",
            reference.am.proc.log.display(),
            cand.am.proc.log.display()
        ));
    }
    Outcome { name: sc.name, reference: reference_total, identical, problems }
}

#[test]
fn alertmanager_differential() {
    if !have(common::ALERTMANAGER) {
        eprintln!("skipping: {} not installed", common::ALERTMANAGER);
        return;
    }
    let candidate = if std::env::var_os("OXEYE_AM_DIFF_SELF").is_some() { Flavor::Reference } else { Flavor::Oxeye };
    let root = tempfile::tempdir().expect("tempdir");
    let only = std::env::var("OXEYE_AM_DIFF_ONLY").ok();
    let scenarios: Vec<Scenario> =
        scenarios().into_iter().filter(|s| only.as_deref().is_none_or(|o| s.name.contains(o))).collect();
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = scenarios.iter().map(|sc| s.spawn(|| run_scenario(sc, root.path(), candidate))).collect();
        handles.into_iter().map(|h| h.join().expect("scenario thread")).collect()
    });
    let total: usize = outcomes.iter().map(|o| o.reference).sum();
    let identical: usize = outcomes.iter().map(|o| o.identical).sum();
    let agreeing = outcomes.iter().filter(|o| o.problems.is_empty()).count();
    for o in &outcomes {
        let verdict = if o.problems.is_empty() { "agree" } else { "DIFFER" };
        println!("  {verdict}: {} ({} of {} notifications identical)", o.name, o.identical, o.reference);
        for p in &o.problems {
            println!("    {p}");
        }
    }
    println!(
        "alertmanager differential: {} scenarios ({agreeing} agreeing), {identical} of {total} notifications identical",
        outcomes.len()
    );
    if std::env::var_os("OXEYE_AM_DIFF_KEEP").is_some() {
        let kept = root.keep();
        println!("kept {}", kept.display());
    }
    assert_eq!(agreeing, outcomes.len(), "scenarios differ from Alertmanager 0.25 (see above)");
}
