//! The request body of Alertmanager's `POST /api/v2/alerts`: a JSON list of postable alerts
//! (`labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL`) with RFC 3339 times in UTC
//! and millisecond precision, as Go's `strfmt.DateTime` writes them.

use oxeye_model::{Alert, Labels};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// One alert in Alertmanager's v2 shape.
#[derive(Serialize)]
struct PostableAlert<'a> {
    labels: LabelSet<'a>,
    #[serde(skip_serializing_if = "LabelSet::is_empty")]
    annotations: LabelSet<'a>,
    #[serde(rename = "startsAt", skip_serializing_if = "Option::is_none")]
    starts_at: Option<String>,
    #[serde(rename = "endsAt", skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
}

/// A label set as a JSON object.
struct LabelSet<'a>(&'a Labels);

impl LabelSet<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for LabelSet<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for l in self.0.iter() {
            m.serialize_entry(&l.name, &l.value)?;
        }
        m.end()
    }
}

/// Milliseconds since the epoch as `2006-01-02T15:04:05.000Z`; `None` when out of range.
pub(crate) fn format_time(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// The JSON body for `alerts`.
pub(crate) fn encode(alerts: &[Alert]) -> Vec<u8> {
    let list: Vec<PostableAlert<'_>> = alerts
        .iter()
        .map(|a| PostableAlert {
            labels: LabelSet(&a.labels),
            annotations: LabelSet(&a.annotations),
            starts_at: format_time(a.starts_at),
            ends_at: a.ends_at.and_then(format_time),
            generator_url: &a.generator_url,
        })
        .collect();
    // Serializing strings and maps of strings into memory cannot fail.
    serde_json::to_vec(&list).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_encode_in_the_v2_shape() {
        let firing = Alert {
            labels: Labels::from_pairs([("alertname", "Up"), ("job", "node")]),
            annotations: Labels::from_pairs([("summary", "it is \"up\"")]),
            starts_at: 1_700_000_000_123,
            ends_at: None,
            generator_url: "http://prom/graph?g0.expr=up".into(),
        };
        let resolved = Alert {
            labels: Labels::from_pairs([("alertname", "Down")]),
            annotations: Labels::empty(),
            starts_at: 0,
            ends_at: Some(1_700_000_060_000),
            generator_url: String::new(),
        };
        let v: serde_json::Value = serde_json::from_slice(&encode(&[firing, resolved])).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {
                    "labels": {"alertname": "Up", "job": "node"},
                    "annotations": {"summary": "it is \"up\""},
                    "startsAt": "2023-11-14T22:13:20.123Z",
                    "generatorURL": "http://prom/graph?g0.expr=up"
                },
                {
                    "labels": {"alertname": "Down"},
                    "startsAt": "1970-01-01T00:00:00.000Z",
                    "endsAt": "2023-11-14T22:14:20.000Z"
                }
            ])
        );
        assert_eq!(encode(&[]), b"[]");
        assert_eq!(format_time(i64::MAX), None);
    }
}
