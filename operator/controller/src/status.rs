//! The status each selected object should carry, as a pure function of its verdict, the Secret
//! version written and what the server reports. Two conditions, as prometheus-operator names
//! them: `Accepted` (the object was rendered into the configuration, or why not) and
//! `Reconciled` (the server runs a configuration with it), plus, for monitors, the number of
//! targets discovered and up. A condition keeps its `lastTransitionTime` while its status stays.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use oxeye_crd::monitoring::{Condition, ConditionStatus, TargetCounts};

use crate::plan::{Contribution, Outcome, Verdict};
use crate::readback::ServerState;

pub const ACCEPTED: &str = "Accepted";
pub const RECONCILED: &str = "Reconciled";

/// What is known about the server when statuses are computed.
#[derive(Debug, Clone, Copy)]
pub enum ServerView<'a> {
    /// No `serverURL`: nothing can be read back.
    NotConfigured,
    /// Reading it failed, with why.
    Unreachable(&'a str),
    Reported(&'a ServerState),
}

/// The status fields Oxeye owns on one object.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredStatus {
    pub conditions: Vec<Condition>,
    pub observed_generation: Option<i64>,
    /// Monitors only; `None` leaves the field unset.
    pub targets: Option<TargetCounts>,
}

impl DesiredStatus {
    /// The merge patch that sets these fields (`bindings` and foreign fields stay as they are).
    pub fn patch(&self) -> serde_json::Value {
        serde_json::json!({
            "status": {
                "conditions": self.conditions,
                "observedGeneration": self.observed_generation,
                "targets": self.targets,
            }
        })
    }

    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

fn condition(
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: String,
    generation: Option<i64>,
    current: &[Condition],
    now: &Time,
) -> Condition {
    let since = current
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.to_string(),
        status,
        last_transition_time: since,
        reason: Some(reason.to_string()),
        message: Some(message),
        observed_generation: generation,
    }
}

/// The status `outcome`'s object should have. `secret` names the configuration Secret and the
/// resourceVersion last written to it; `current` are the object's present conditions (other
/// condition types are kept); `current_targets` is kept while the server cannot be read.
pub fn desired(
    outcome: &Outcome,
    secret: (&str, Option<&str>),
    server: ServerView<'_>,
    current: &[Condition],
    current_targets: Option<TargetCounts>,
    now: &Time,
) -> DesiredStatus {
    use ConditionStatus::{False, True, Unknown};
    let generation = outcome.generation;
    let (secret_name, written) = secret;
    let cond = |t: &str, s, r: &str, m: String| condition(t, s, r, m, generation, current, now);

    let (accepted, reconciled, targets) = match &outcome.verdict {
        Verdict::Rejected { message } => (
            cond(ACCEPTED, False, "InvalidConfiguration", message.clone()),
            cond(RECONCILED, False, "InvalidConfiguration", "not part of the server's configuration".into()),
            None,
        ),
        Verdict::Accepted(contribution) => {
            let what = match contribution {
                Contribution::Jobs(j) => format!("{} scrape job(s)", j.len()),
                Contribution::RuleFile { file, groups } => format!("{} rule group(s) in {file}", groups.len()),
            };
            let accepted = cond(ACCEPTED, True, "Accepted", format!("rendered as {what} into Secret {secret_name}"));
            let (reconciled, targets) = match server {
                ServerView::NotConfigured => (
                    cond(
                        RECONCILED,
                        Unknown,
                        "ServerNotConfigured",
                        "no serverURL is configured, so the server is not read back".into(),
                    ),
                    None,
                ),
                ServerView::Unreachable(e) => {
                    (cond(RECONCILED, Unknown, "ServerUnreachable", e.to_string()), current_targets)
                }
                ServerView::Reported(st) => reconciled(contribution, written, st, &cond),
            };
            (accepted, reconciled, targets)
        }
    };
    let mut conditions: Vec<Condition> =
        current.iter().filter(|c| c.type_ != ACCEPTED && c.type_ != RECONCILED).cloned().collect();
    conditions.push(accepted);
    conditions.push(reconciled);
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
    DesiredStatus { conditions, observed_generation: generation, targets }
}

fn reconciled(
    contribution: &Contribution,
    written: Option<&str>,
    st: &ServerState,
    cond: &dyn Fn(&str, ConditionStatus, &str, String) -> Condition,
) -> (Condition, Option<TargetCounts>) {
    use ConditionStatus::{False, True, Unknown};
    let (present, counts) = match contribution {
        Contribution::Jobs(jobs) => {
            let mut c = TargetCounts::default();
            for j in jobs {
                if let Some(t) = st.targets.get(j) {
                    c.discovered += t.discovered;
                    c.up += t.up;
                    c.down += t.down;
                }
            }
            (jobs.iter().all(|j| st.scrape_pools.contains(j)), Some(c))
        }
        Contribution::RuleFile { file, groups } => {
            (groups.iter().all(|g| st.rule_groups.contains(&(file.clone(), g.clone()))), None)
        }
    };
    let running_ours = match written {
        Some(rv) => st.runs(rv),
        None => false,
    };
    let refused = written.and_then(|rv| st.refused(rv));
    let loaded_message = || match counts {
        Some(c) => format!("oxeye runs it: {} target(s) discovered, {} up", c.discovered, c.up),
        None => "oxeye runs it".to_string(),
    };
    let c = if let Some(e) = refused {
        cond(RECONCILED, False, "ReloadFailed", format!("oxeye refused the configuration: {e}"))
    } else if running_ours || (st.loaded_version.is_none() && present) {
        // A server that does not report Secret versions (file configuration, Prometheus) is
        // judged by what it runs.
        if present {
            cond(RECONCILED, True, "Loaded", loaded_message())
        } else {
            cond(RECONCILED, False, "NotLoaded", "oxeye runs the configuration but not this object's part".into())
        }
    } else {
        let message = match (written, &st.loaded_version) {
            (Some(w), Some(l)) => format!("waiting for oxeye to load Secret version {w} (it runs {l})"),
            _ => "waiting for oxeye to load the configuration".to_string(),
        };
        cond(RECONCILED, Unknown, "Pending", message)
    };
    (c, counts.filter(|_| present))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::plan::{Kind, ObjectKey};

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap())
    }

    fn outcome(kind: Kind, verdict: Verdict) -> Outcome {
        Outcome {
            key: ObjectKey { kind, namespace: "a".into(), name: "b".into() },
            uid: "u".into(),
            generation: Some(3),
            verdict,
        }
    }

    fn jobs() -> Verdict {
        Verdict::Accepted(Contribution::Jobs(vec!["serviceMonitor/a/b/0".into()]))
    }

    fn state(loaded: &str) -> ServerState {
        ServerState {
            loaded_version: Some(loaded.into()),
            seen_version: Some(loaded.into()),
            reload_success: true,
            scrape_pools: BTreeSet::from(["serviceMonitor/a/b/0".to_string()]),
            targets: BTreeMap::from([(
                "serviceMonitor/a/b/0".to_string(),
                TargetCounts { discovered: 2, up: 1, down: 1 },
            )]),
            rule_groups: BTreeSet::from([("f.yaml".to_string(), "g".to_string())]),
            ..ServerState::default()
        }
    }

    fn status_of(d: &DesiredStatus, t: &str) -> (ConditionStatus, String) {
        let c = d.condition(t).unwrap();
        (c.status, c.reason.clone().unwrap())
    }

    #[test]
    fn accepted_and_loaded_monitor_reports_targets() {
        let st = state("7");
        let d = desired(
            &outcome(Kind::ServiceMonitor, jobs()),
            ("m/cfg", Some("7")),
            ServerView::Reported(&st),
            &[],
            None,
            &now(),
        );
        assert_eq!(status_of(&d, ACCEPTED), (ConditionStatus::True, "Accepted".into()));
        assert_eq!(status_of(&d, RECONCILED), (ConditionStatus::True, "Loaded".into()));
        assert_eq!(d.targets, Some(TargetCounts { discovered: 2, up: 1, down: 1 }));
        assert_eq!(d.observed_generation, Some(3));
        assert_eq!(d.condition(ACCEPTED).unwrap().observed_generation, Some(3));
    }

    #[test]
    fn pending_refused_and_unreachable() {
        let st = state("6");
        let o = outcome(Kind::ServiceMonitor, jobs());
        let d = desired(&o, ("m/cfg", Some("7")), ServerView::Reported(&st), &[], None, &now());
        assert_eq!(status_of(&d, RECONCILED), (ConditionStatus::Unknown, "Pending".into()));
        let mut refused = state("6");
        refused.seen_version = Some("7".into());
        refused.last_error = Some("boom".into());
        let d = desired(&o, ("m/cfg", Some("7")), ServerView::Reported(&refused), &[], None, &now());
        assert_eq!(status_of(&d, RECONCILED), (ConditionStatus::False, "ReloadFailed".into()));
        let prev = Some(TargetCounts { discovered: 1, up: 1, down: 0 });
        let d = desired(&o, ("m/cfg", Some("7")), ServerView::Unreachable("refused"), &[], prev, &now());
        assert_eq!(status_of(&d, RECONCILED), (ConditionStatus::Unknown, "ServerUnreachable".into()));
        assert_eq!(d.targets, prev, "last known counts are kept while the server cannot be read");
    }

    #[test]
    fn rejected_objects_and_rules() {
        let o = outcome(Kind::PrometheusRule, Verdict::Rejected { message: "spec.groups[0]: bad".into() });
        let d = desired(&o, ("m/cfg", Some("7")), ServerView::NotConfigured, &[], None, &now());
        assert_eq!(status_of(&d, ACCEPTED), (ConditionStatus::False, "InvalidConfiguration".into()));
        assert_eq!(d.condition(ACCEPTED).unwrap().message.as_deref(), Some("spec.groups[0]: bad"));
        let st = state("7");
        let ok = outcome(
            Kind::PrometheusRule,
            Verdict::Accepted(Contribution::RuleFile { file: "f.yaml".into(), groups: vec!["g".into()] }),
        );
        let d = desired(&ok, ("m/cfg", Some("7")), ServerView::Reported(&st), &[], None, &now());
        assert_eq!(status_of(&d, RECONCILED), (ConditionStatus::True, "Loaded".into()));
        assert_eq!(d.targets, None);
    }

    #[test]
    fn transition_time_is_kept_while_status_stays_and_foreign_conditions_survive() {
        let earlier = Time(k8s_openapi::jiff::Timestamp::from_second(1_600_000_000).unwrap());
        let current = vec![
            Condition {
                type_: ACCEPTED.into(),
                status: ConditionStatus::True,
                last_transition_time: earlier.clone(),
                reason: Some("Accepted".into()),
                message: Some("old".into()),
                observed_generation: Some(2),
            },
            Condition {
                type_: "Custom".into(),
                status: ConditionStatus::True,
                last_transition_time: earlier.clone(),
                reason: None,
                message: None,
                observed_generation: None,
            },
        ];
        let d = desired(
            &outcome(Kind::ServiceMonitor, jobs()),
            ("m/cfg", None),
            ServerView::NotConfigured,
            &current,
            None,
            &now(),
        );
        assert_eq!(d.condition(ACCEPTED).unwrap().last_transition_time, earlier);
        assert_eq!(d.condition(RECONCILED).unwrap().last_transition_time, now());
        assert!(d.condition("Custom").is_some());
    }
}
