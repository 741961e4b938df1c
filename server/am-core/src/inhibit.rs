//! Inhibition (`inhibit/inhibit.go`): a target alert is muted while an unresolved source alert
//! matches a rule's source matchers and agrees with the target on every `equal` label (a missing
//! label counts as empty). When the target also matches the source side, source alerts that
//! match the target side are ignored, so an alert never inhibits itself. Results go to the marker.

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_am_config::{InhibitRule, matches_all};
use oxeye_model::Labels;
use parking_lot::RwLock;

use crate::alert::Alert;
use crate::clock::Clock;
use crate::fingerprint::Fingerprint;
use crate::marker::Marker;

#[derive(Debug)]
struct RuleState {
    rule: InhibitRule,
    /// Alerts matching the source side (Alertmanager's `scache`).
    sources: RwLock<HashMap<Fingerprint, Alert>>,
}

impl RuleState {
    /// `hasEqual`: the first unresolved source alert inhibiting `labels`.
    fn inhibiting(&self, labels: &Labels, exclude_two_sided: bool, clock: &Clock) -> Option<Fingerprint> {
        let now = clock.now();
        let sources = self.sources.read();
        let mut found: Vec<(&Fingerprint, &Alert)> = sources
            .iter()
            .filter(|(_, a)| !a.resolved_at(now))
            .filter(|(_, a)| self.rule.equal.iter().all(|n| a.labels.get(n) == labels.get(n)))
            .filter(|(_, a)| !(exclude_two_sided && matches_all(&self.rule.target_matchers, &a.labels)))
            .collect();
        // Go iterates a map (random order); pick the smallest fingerprint to be deterministic.
        found.sort_by_key(|(fp, _)| **fp);
        found.first().map(|(fp, _)| **fp)
    }
}

#[derive(Debug)]
pub struct Inhibitor {
    rules: Vec<RuleState>,
    marker: Arc<Marker>,
    clock: Clock,
}

impl Inhibitor {
    /// Builds the inhibitor and feeds it the alerts already stored.
    pub fn new(rules: &[InhibitRule], marker: Arc<Marker>, clock: Clock, existing: &[Alert]) -> Inhibitor {
        let ih = Inhibitor {
            rules: rules.iter().map(|r| RuleState { rule: r.clone(), sources: RwLock::new(HashMap::new()) }).collect(),
            marker,
            clock,
        };
        for a in existing {
            ih.observe(a);
        }
        ih
    }

    /// Records a stored alert as a potential source.
    pub fn observe(&self, alert: &Alert) {
        for r in &self.rules {
            if matches_all(&r.rule.source_matchers, &alert.labels) {
                r.sources.write().insert(alert.fingerprint(), alert.clone());
            }
        }
    }

    /// Forgets alerts garbage-collected from the store.
    pub fn forget(&self, fp: Fingerprint) {
        for r in &self.rules {
            r.sources.write().remove(&fp);
        }
    }

    /// `Inhibitor.Mutes`: whether `labels` is inhibited; records the result in the marker.
    pub fn mutes(&self, labels: &Labels) -> bool {
        let fp = Fingerprint::of(labels);
        for r in &self.rules {
            if !matches_all(&r.rule.target_matchers, labels) {
                continue;
            }
            let two_sided = matches_all(&r.rule.source_matchers, labels);
            if let Some(by) = r.inhibiting(labels, two_sided, &self.clock) {
                self.marker.set_inhibited(fp, vec![by.to_string()]);
                return true;
            }
        }
        self.marker.set_inhibited(fp, Vec::new());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use oxeye_am_config::{MatchOp, Matcher};

    fn m(n: &str, v: &str) -> Matcher {
        Matcher::new(n, MatchOp::Equal, v).unwrap()
    }

    fn alert(pairs: &[(&str, &str)], resolved: bool) -> Alert {
        let base = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap();
        Alert {
            labels: Labels::from_pairs(pairs.iter().copied()),
            starts_at: base,
            ends_at: if resolved { base } else { base + chrono::Duration::days(365 * 100) },
            ..Alert::default()
        }
    }

    fn inhibitor(rule: InhibitRule, alerts: &[Alert]) -> (Inhibitor, Arc<Marker>) {
        let marker = Arc::new(Marker::new());
        (Inhibitor::new(&[rule], marker.clone(), Clock::System, alerts), marker)
    }

    fn rule(equal: &[&str]) -> InhibitRule {
        InhibitRule {
            source_matchers: vec![m("severity", "critical")],
            target_matchers: vec![m("severity", "warning")],
            equal: equal.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn equal_labels_and_missing_as_empty() {
        let src = alert(&[("alertname", "S"), ("severity", "critical"), ("dc", "eu")], false);
        let (ih, marker) = inhibitor(rule(&["dc", "zone"]), std::slice::from_ref(&src));
        let target = Labels::from_pairs([("alertname", "T"), ("severity", "warning"), ("dc", "eu")]);
        // `zone` is missing on both sides: equal as "".
        assert!(ih.mutes(&target));
        assert_eq!(marker.status(Fingerprint::of(&target)).inhibited_by, vec![src.fingerprint().to_string()]);
        assert!(!ih.mutes(&Labels::from_pairs([("alertname", "T"), ("severity", "warning"), ("dc", "us")])));
        // Present on the target only: "" != "a".
        assert!(!ih.mutes(&Labels::from_pairs([("severity", "warning"), ("dc", "eu"), ("zone", "a")])));
        // Not a target.
        assert!(!ih.mutes(&Labels::from_pairs([("severity", "info"), ("dc", "eu")])));
        let st = marker.status(Fingerprint::of(&Labels::from_pairs([("severity", "info"), ("dc", "eu")])));
        assert!(st.inhibited_by.is_empty());
    }

    #[test]
    fn resolved_sources_do_not_inhibit() {
        let src = alert(&[("severity", "critical")], true);
        let (ih, _) = inhibitor(rule(&[]), &[src]);
        assert!(!ih.mutes(&Labels::from_pairs([("severity", "warning")])));
        // A later firing copy of the source is observed and inhibits.
        ih.observe(&alert(&[("severity", "critical")], false));
        assert!(ih.mutes(&Labels::from_pairs([("severity", "warning")])));
        ih.forget(Fingerprint::of(&Labels::from_pairs([("severity", "critical")])));
        assert!(!ih.mutes(&Labels::from_pairs([("severity", "warning")])));
    }

    #[test]
    fn alert_matching_both_sides_does_not_inhibit_itself() {
        let r = InhibitRule { source_matchers: vec![m("a", "1")], target_matchers: vec![m("b", "1")], equal: vec![] };
        let both = alert(&[("a", "1"), ("b", "1")], false);
        let (ih, _) = inhibitor(r, std::slice::from_ref(&both));
        assert!(!ih.mutes(&both.labels));
        // A pure source still inhibits the two-sided alert.
        ih.observe(&alert(&[("a", "1")], false));
        assert!(ih.mutes(&both.labels));
    }
}
