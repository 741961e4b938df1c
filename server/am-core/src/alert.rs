//! The alert as Alertmanager keeps it (`types.Alert`): labels, annotations, activity range and
//! the `timeout` flag for alerts whose end was filled in from `resolve_timeout`. Owns the merge
//! rule for re-sent alerts, API validation, and the orderings Alertmanager uses in payloads.

use std::cmp::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use oxeye_model::Labels;
use oxeye_model::labels::go_quote;

use crate::fingerprint::Fingerprint;

/// Go's zero `time.Time` (0001-01-01T00:00:00Z): "not set" for `starts_at`/`ends_at`, and what
/// firing alerts carry as `endsAt` in notifications.
pub fn zero_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Whether `t` is Go's zero time (or earlier, which no valid input produces).
pub fn is_zero_time(t: DateTime<Utc>) -> bool {
    t <= zero_time()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub generator_url: String,
    pub updated_at: DateTime<Utc>,
    /// `ends_at` was not given by the client but derived from `resolve_timeout`.
    pub timeout: bool,
}

impl Default for Alert {
    fn default() -> Self {
        Alert {
            labels: Labels::empty(),
            annotations: Labels::empty(),
            starts_at: zero_time(),
            ends_at: zero_time(),
            generator_url: String::new(),
            updated_at: zero_time(),
            timeout: false,
        }
    }
}

/// `"firing"` or `"resolved"`, as in notification payloads.
pub const STATUS_FIRING: &str = "firing";
pub const STATUS_RESOLVED: &str = "resolved";

impl Alert {
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }

    /// `types.Alert.ResolvedAt`: an end time is set and is not after `now`.
    pub fn resolved_at(&self, now: DateTime<Utc>) -> bool {
        !is_zero_time(self.ends_at) && self.ends_at <= now
    }

    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.resolved_at(now) { STATUS_RESOLVED } else { STATUS_FIRING }
    }

    /// `types.Alert.Merge`: combines a stored alert (`self`) with a re-sent one. The more
    /// recently updated alert is the base; the earliest start wins; for the end, a resolved
    /// base keeps the latest explicit resolution, a firing base takes the other's end only if
    /// that is later and was not derived from `resolve_timeout`.
    pub fn merge(&self, other: &Alert, now: DateTime<Utc>) -> Alert {
        if other.updated_at < self.updated_at {
            return other.merge(self, now);
        }
        let mut res = other.clone();
        if self.starts_at < other.starts_at {
            res.starts_at = self.starts_at;
        }
        if other.resolved_at(now) {
            if self.resolved_at(now) && self.ends_at > other.ends_at {
                res.ends_at = self.ends_at;
            }
        } else if self.ends_at > other.ends_at && !self.timeout {
            res.ends_at = self.ends_at;
        }
        res
    }

    /// `model.Alert.Validate` as the v2 API applies it after defaults were filled in.
    pub fn validate(&self) -> Result<(), String> {
        if is_zero_time(self.starts_at) {
            return Err("start time missing".to_string());
        }
        if !is_zero_time(self.ends_at) && self.ends_at < self.starts_at {
            return Err("start time must be before end time".to_string());
        }
        validate_label_set(&self.labels).map_err(|e| format!("invalid label set: {e}"))?;
        if self.labels.is_empty() {
            return Err("at least one label pair required".to_string());
        }
        validate_label_set(&self.annotations).map_err(|e| format!("invalid annotations: {e}"))?;
        Ok(())
    }
}

/// `model.LabelName.IsValid` (legacy name validation, as in Alertmanager 0.25).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn validate_label_set(ls: &Labels) -> Result<(), String> {
    for l in ls.iter() {
        if !is_valid_label_name(&l.name) {
            return Err(format!("invalid name {}", go_quote(&l.name)));
        }
        // Values are Rust strings and therefore valid UTF-8, which is all Go checks.
    }
    Ok(())
}

/// `model.LabelSet.String`: `{a="1", b="2"}`, entries sorted as whole `name="value"` strings.
pub fn label_set_string(ls: &Labels) -> String {
    let mut parts: Vec<String> = ls.iter().map(|l| format!("{}={}", l.name, go_quote(&l.value))).collect();
    parts.sort();
    format!("{{{}}}", parts.join(", "))
}

/// `model.LabelSet.Before`: shorter sets first, then by the first differing label in name order,
/// a set missing that label sorting first.
pub fn label_set_before(a: &Labels, b: &Labels) -> bool {
    match a.len().cmp(&b.len()) {
        Ordering::Less => return true,
        Ordering::Greater => return false,
        Ordering::Equal => {}
    }
    let mut names: Vec<&str> = a.iter().chain(b.iter()).map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    for n in names {
        let (Some(av), Some(bv)) = (a.iter().find(|l| l.name == n), b.iter().find(|l| l.name == n)) else {
            return !a.has(n);
        };
        match av.value.cmp(&bv.value) {
            Ordering::Less => return true,
            Ordering::Greater => return false,
            Ordering::Equal => {}
        }
    }
    false
}

/// `types.AlertSlice.Less`: by `job`, then `instance` (alerts having the label first), then
/// `label_set_before`.
pub fn alert_less(a: &Alert, b: &Alert) -> bool {
    for key in ["job", "instance"] {
        match (a.labels.has(key), b.labels.has(key)) {
            (false, false) => continue,
            (false, true) => return false,
            (true, false) => return true,
            (true, true) => {
                let (av, bv) = (a.labels.get(key), b.labels.get(key));
                if av != bv {
                    return av < bv;
                }
            }
        }
    }
    label_set_before(&a.labels, &b.labels)
}

/// Sorts alerts stably in `types.AlertSlice` order.
pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts.sort_by(|a, b| {
        if alert_less(a, b) {
            Ordering::Less
        } else if alert_less(b, a) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap_or_default()
    }

    fn alert(starts: i64, ends: Option<i64>, updated: i64, timeout: bool) -> Alert {
        Alert {
            labels: Labels::from_pairs([("alertname", "A")]),
            starts_at: t(starts),
            ends_at: ends.map(t).unwrap_or_else(zero_time),
            updated_at: t(updated),
            timeout,
            ..Alert::default()
        }
    }

    #[test]
    fn resolved_at_is_inclusive_and_zero_means_firing() {
        let a = alert(0, Some(10), 0, false);
        assert!(!a.resolved_at(t(9)));
        assert!(a.resolved_at(t(10)));
        assert_eq!(a.status(t(11)), "resolved");
        let b = alert(0, None, 0, false);
        assert!(!b.resolved_at(t(1_000_000)));
        assert_eq!(b.status(t(5)), "firing");
    }

    #[test]
    fn merge_keeps_earliest_start_and_younger_base() {
        let now = t(100);
        let old = alert(0, Some(400), 10, true);
        let new = alert(50, Some(500), 20, true);
        let m = old.merge(&new, now);
        assert_eq!(m.starts_at, t(0));
        assert_eq!(m.ends_at, t(500));
        assert_eq!(m.updated_at, t(20));
        // Merge is symmetric in which side is "self".
        assert_eq!(new.merge(&old, now), m);
    }

    #[test]
    fn merge_explicit_later_end_wins_over_timeout_end() {
        let now = t(100);
        // Stored alert has an explicit end later than the re-sent one's timeout end.
        let old = alert(0, Some(900), 10, false);
        let new = alert(0, Some(400), 20, true);
        assert_eq!(old.merge(&new, now).ends_at, t(900));
        // A timeout end does not extend a firing alert's end.
        let old = alert(0, Some(900), 10, true);
        assert_eq!(old.merge(&new, now).ends_at, t(400));
    }

    #[test]
    fn merge_resolved_keeps_latest_resolution() {
        let now = t(1000);
        let old = alert(0, Some(700), 10, false);
        let new = alert(0, Some(600), 20, false);
        assert_eq!(old.merge(&new, now).ends_at, t(700));
        // If the stored one is still firing at now, the younger resolution stands.
        let old = alert(0, Some(2000), 10, false);
        assert_eq!(old.merge(&new, now).ends_at, t(600));
    }

    #[test]
    fn validation_messages() {
        let mut a = alert(0, Some(10), 0, false);
        assert!(a.validate().is_ok());
        a.ends_at = t(-5);
        assert_eq!(a.validate().unwrap_err(), "start time must be before end time");
        let mut a = alert(0, None, 0, false);
        a.labels = Labels::empty();
        assert_eq!(a.validate().unwrap_err(), "at least one label pair required");
        a.labels = Labels::from_pairs([("0bad", "x")]);
        assert_eq!(a.validate().unwrap_err(), "invalid label set: invalid name \"0bad\"");
        a.labels = Labels::from_pairs([("ok", "x")]);
        a.annotations = Labels::from_pairs([("bad-name", "x")]);
        assert_eq!(a.validate().unwrap_err(), "invalid annotations: invalid name \"bad-name\"");
        a.annotations = Labels::empty();
        a.starts_at = zero_time();
        assert_eq!(a.validate().unwrap_err(), "start time missing");
        let _ = Duration::zero();
    }

    #[test]
    fn label_set_string_sorts_whole_entries() {
        // Go sorts `name="value"` strings, so "a1" ('1' < '=') precedes "a".
        let ls = Labels::from_pairs([("a", "x"), ("a1", "y\"q"), ("b", "z")]);
        assert_eq!(label_set_string(&ls), r#"{a1="y\"q", a="x", b="z"}"#);
        assert_eq!(label_set_string(&Labels::empty()), "{}");
    }

    #[test]
    fn alert_order_prefers_job_then_instance_then_labels() {
        let mk =
            |pairs: &[(&str, &str)]| Alert { labels: Labels::from_pairs(pairs.iter().copied()), ..Alert::default() };
        let mut v = vec![
            mk(&[("alertname", "z")]),
            mk(&[("alertname", "a"), ("instance", "i2")]),
            mk(&[("alertname", "a"), ("job", "b")]),
            mk(&[("alertname", "a"), ("job", "a")]),
            mk(&[("alertname", "a"), ("instance", "i1")]),
            mk(&[("alertname", "b")]),
        ];
        sort_alerts(&mut v);
        let names: Vec<String> = v.iter().map(|a| label_set_string(&a.labels)).collect();
        assert_eq!(
            names,
            vec![
                r#"{alertname="a", job="a"}"#,
                r#"{alertname="a", job="b"}"#,
                r#"{alertname="a", instance="i1"}"#,
                r#"{alertname="a", instance="i2"}"#,
                r#"{alertname="b"}"#,
                r#"{alertname="z"}"#,
            ]
        );
    }
}
