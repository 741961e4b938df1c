//! The alert store (`provider/mem`): one alert per fingerprint, re-sent alerts merged when their
//! activity ranges overlap, resolved alerts garbage-collected (aggregation groups keep their own
//! copies until the resolution is notified). Dispatch and inhibition are fed by the core.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::alert::Alert;
use crate::fingerprint::Fingerprint;

#[derive(Debug, Default)]
pub struct AlertStore {
    alerts: RwLock<HashMap<Fingerprint, Alert>>,
}

impl AlertStore {
    pub fn new() -> AlertStore {
        AlertStore::default()
    }

    /// Stores an alert, merging it with the stored one of the same fingerprint when the new
    /// alert's start or end falls strictly inside the stored one's range. Returns what was stored.
    pub fn put(&self, alert: Alert, now: DateTime<Utc>) -> Alert {
        let fp = alert.fingerprint();
        let mut m = self.alerts.write();
        let stored = match m.get(&fp) {
            Some(old)
                if (alert.ends_at > old.starts_at && alert.ends_at < old.ends_at)
                    || (alert.starts_at > old.starts_at && alert.starts_at < old.ends_at) =>
            {
                old.merge(&alert, now)
            }
            _ => alert,
        };
        m.insert(fp, stored.clone());
        stored
    }

    pub fn get(&self, fp: Fingerprint) -> Option<Alert> {
        self.alerts.read().get(&fp).cloned()
    }

    pub fn list(&self) -> Vec<Alert> {
        self.alerts.read().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.alerts.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes alerts resolved at `now` and returns them.
    pub fn gc(&self, now: DateTime<Utc>) -> Vec<Alert> {
        let mut m = self.alerts.write();
        let gone: Vec<Fingerprint> = m.iter().filter(|(_, a)| a.resolved_at(now)).map(|(fp, _)| *fp).collect();
        gone.into_iter().filter_map(|fp| m.remove(&fp)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use oxeye_model::Labels;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap_or_default()
    }

    fn alert(starts: i64, ends: i64, updated: i64) -> Alert {
        Alert {
            labels: Labels::from_pairs([("alertname", "A")]),
            starts_at: t(starts),
            ends_at: t(ends),
            updated_at: t(updated),
            ..Alert::default()
        }
    }

    #[test]
    fn overlapping_alerts_merge_and_disjoint_replace() {
        let s = AlertStore::new();
        s.put(alert(0, 300, 0), t(0));
        // Overlaps: start inside the stored range -> merged, earliest start kept.
        let got = s.put(alert(100, 400, 100), t(100));
        assert_eq!(got.starts_at, t(0));
        assert_eq!(got.ends_at, t(400));
        // Disjoint (starts after the stored end): replaces outright.
        let got = s.put(alert(500, 800, 500), t(500));
        assert_eq!(got.starts_at, t(500));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn gc_removes_only_resolved() {
        let s = AlertStore::new();
        s.put(alert(0, 100, 0), t(0));
        let mut b = alert(0, 1000, 0);
        b.labels = Labels::from_pairs([("alertname", "B")]);
        s.put(b, t(0));
        let gone = s.gc(t(100));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].labels.get("alertname"), "A");
        assert_eq!(s.len(), 1);
    }
}
