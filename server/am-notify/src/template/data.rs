//! Alertmanager's template data (`template.Data`): the receiver, group status, alerts and the
//! label sets common to them, built the way Alertmanager's `Template.Data` builds them, and its
//! conversion to a gotmpl value. Go types that carry methods (`KV`, `Alerts`, `Pairs`,
//! `time.Time`) are encoded as described in [`crate::template`]; this module owns that encoding.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use gotmpl::Value;
use oxeye_model::Labels;
use serde::Serialize;

use super::gotime::{GoTime, RFC3339_NANO, Zone};

/// The key marking a gotmpl map as a Go struct of the named type rather than a `KV`. A NUL byte
/// cannot appear in a template field name or a label name, so it never collides.
pub const TYPE_KEY: &str = "\u{0}type";
pub const TYPE_DATA: &str = "*template.Data";
pub const TYPE_ALERT: &str = "template.Alert";
pub const TYPE_PAIR: &str = "template.Pair";
pub const TYPE_TIME: &str = "time.Time";
/// `safeHtml`'s result: trusted markup that HTML templates print without escaping.
pub const TYPE_HTML: &str = "template.HTML";

/// One alert as templates and the webhook payload see it (`template.Alert`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateAlert {
    /// "firing" or "resolved", evaluated at notification time.
    pub status: String,
    #[serde(serialize_with = "ser_labels")]
    pub labels: Labels,
    #[serde(serialize_with = "ser_labels")]
    pub annotations: Labels,
    #[serde(rename = "startsAt", serialize_with = "ser_time")]
    pub starts_at: DateTime<Utc>,
    #[serde(rename = "endsAt", serialize_with = "ser_time")]
    pub ends_at: DateTime<Utc>,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// The label set's fingerprint as 16 hex digits.
    pub fingerprint: String,
}

/// The data every notification template is executed with (`template.Data`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateData {
    /// The receiver name with regex metacharacters escaped, as Alertmanager does
    /// (`regexp.QuoteMeta`), so `{{ .Receiver }}` can be pasted into a matcher.
    pub receiver: String,
    pub status: String,
    pub alerts: Vec<TemplateAlert>,
    #[serde(rename = "groupLabels", serialize_with = "ser_labels")]
    pub group_labels: Labels,
    #[serde(rename = "commonLabels", serialize_with = "ser_labels")]
    pub common_labels: Labels,
    #[serde(rename = "commonAnnotations", serialize_with = "ser_labels")]
    pub common_annotations: Labels,
    #[serde(rename = "externalURL")]
    pub external_url: String,
}

fn ser_labels<S: serde::Serializer>(l: &Labels, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(l.len()))?;
    for lb in l.iter() {
        m.serialize_entry(&lb.name, &lb.value)?;
    }
    m.end()
}

fn ser_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&GoTime::utc(*t).format(RFC3339_NANO))
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Labels present with equal values in every set (Alertmanager's common labels/annotations).
fn common<'a>(mut sets: impl Iterator<Item = &'a Labels>) -> Labels {
    let Some(first) = sets.next() else { return Labels::empty() };
    let mut keep: Vec<(String, String)> = first.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    for s in sets {
        if keep.is_empty() {
            break;
        }
        keep.retain(|(n, v)| s.has(n) && s.get(n) == v);
    }
    Labels::from_pairs(keep)
}

impl TemplateData {
    /// Builds the data as Alertmanager's `Template.Data`: the group is "firing" when any alert
    /// is, common labels and annotations are those shared by all alerts.
    pub fn new(receiver: &str, group_labels: &Labels, alerts: Vec<TemplateAlert>, external_url: &str) -> Self {
        let status = if alerts.iter().any(|a| a.status == "firing") { "firing" } else { "resolved" };
        TemplateData {
            receiver: quote_meta(receiver),
            status: status.to_string(),
            common_labels: common(alerts.iter().map(|a| &a.labels)),
            common_annotations: common(alerts.iter().map(|a| &a.annotations)),
            alerts,
            group_labels: group_labels.clone(),
            external_url: external_url.to_string(),
        }
    }

    /// The firing alerts (`.Alerts.Firing`).
    pub fn firing(&self) -> impl Iterator<Item = &TemplateAlert> {
        self.alerts.iter().filter(|a| a.status == "firing")
    }

    /// The resolved alerts (`.Alerts.Resolved`).
    pub fn resolved(&self) -> impl Iterator<Item = &TemplateAlert> {
        self.alerts.iter().filter(|a| a.status == "resolved")
    }

    /// The gotmpl value templates are executed with.
    pub fn to_value(&self) -> Value {
        let alerts: Vec<Value> = self.alerts.iter().map(TemplateAlert::to_value).collect();
        typed(
            TYPE_DATA,
            [
                ("Receiver", Value::from(self.receiver.as_str())),
                ("Status", Value::from(self.status.as_str())),
                ("Alerts", Value::List(alerts.into())),
                ("GroupLabels", kv_value(&self.group_labels)),
                ("CommonLabels", kv_value(&self.common_labels)),
                ("CommonAnnotations", kv_value(&self.common_annotations)),
                ("ExternalURL", Value::from(self.external_url.as_str())),
            ],
        )
    }
}

impl TemplateAlert {
    pub fn to_value(&self) -> Value {
        typed(
            TYPE_ALERT,
            [
                ("Status", Value::from(self.status.as_str())),
                ("Labels", kv_value(&self.labels)),
                ("Annotations", kv_value(&self.annotations)),
                ("StartsAt", time_value(&GoTime::utc(self.starts_at))),
                ("EndsAt", time_value(&GoTime::utc(self.ends_at))),
                ("GeneratorURL", Value::from(self.generator_url.as_str())),
                ("Fingerprint", Value::from(self.fingerprint.as_str())),
            ],
        )
    }
}

/// A Go struct value: a map of its fields plus [`TYPE_KEY`].
pub fn typed<const N: usize>(ty: &str, fields: [(&str, Value); N]) -> Value {
    let mut m: BTreeMap<Arc<str>, Value> = fields.into_iter().map(|(k, v)| (Arc::<str>::from(k), v)).collect();
    m.insert(Arc::from(TYPE_KEY), Value::from(ty));
    Value::Map(Arc::new(m))
}

/// The Go type a value was encoded from, for struct maps.
pub fn type_of(v: &Value) -> Option<&str> {
    match v {
        Value::Map(m) => m.get(TYPE_KEY).and_then(Value::as_str),
        _ => None,
    }
}

/// A `KV` (`map[string]string`): a plain map, so `len`, `range` and `index` see only labels.
pub fn kv_value(l: &Labels) -> Value {
    oxeye_template::labels_to_value(l)
}

/// A `Pair` struct.
pub fn pair_value(name: &str, value: &str) -> Value {
    typed(TYPE_PAIR, [("Name", Value::from(name)), ("Value", Value::from(value))])
}

/// A `time.Time`: seconds and nanoseconds since the Unix epoch and the zone name.
pub fn time_value(t: &GoTime) -> Value {
    let secs = t.instant.timestamp();
    let nanos = i64::from(t.instant.timestamp_subsec_nanos());
    typed(TYPE_TIME, [("unix", Value::Int(secs)), ("nsec", Value::Int(nanos)), ("zone", Value::from(t.zone.name()))])
}

/// Decodes a value made by [`time_value`].
pub fn value_time(v: &Value) -> Option<GoTime> {
    if type_of(v) != Some(TYPE_TIME) {
        return None;
    }
    let secs = v.field("unix").and_then(Value::as_int)?;
    let nsec = v.field("nsec").and_then(Value::as_int)?;
    let zone = Zone::load(v.field("zone").and_then(Value::as_str).unwrap_or("UTC")).ok()?;
    let instant = DateTime::<Utc>::from_timestamp(secs, u32::try_from(nsec).ok()?)?;
    Some(GoTime { instant, zone })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(status: &str, labels: &[(&str, &str)], ann: &[(&str, &str)]) -> TemplateAlert {
        TemplateAlert {
            status: status.into(),
            labels: Labels::from_pairs(labels.iter().copied()),
            annotations: Labels::from_pairs(ann.iter().copied()),
            starts_at: GoTime::zero_instant(),
            ends_at: GoTime::zero_instant(),
            generator_url: String::new(),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn common_labels_and_status() {
        let d = TemplateData::new(
            "team-X.*",
            &Labels::from_pairs([("job", "a")]),
            vec![
                alert("resolved", &[("job", "a"), ("x", "1"), ("y", "2")], &[("s", "1")]),
                alert("firing", &[("job", "a"), ("x", "1"), ("y", "3")], &[("s", "2")]),
            ],
            "http://am",
        );
        assert_eq!(d.receiver, r"team-X\.\*");
        assert_eq!(d.status, "firing");
        assert_eq!(d.common_labels, Labels::from_pairs([("job", "a"), ("x", "1")]));
        assert!(d.common_annotations.is_empty());
        assert_eq!(d.firing().count(), 1);
    }

    #[test]
    fn time_round_trip() {
        let t = GoTime::utc(DateTime::<Utc>::from_timestamp(1_600_000_000, 5).unwrap_or_default());
        assert_eq!(value_time(&time_value(&t)), Some(t));
    }
}
