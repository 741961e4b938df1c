//! Zero-copy samples and exemplars, and turning their raw label text into label pairs (escapes
//! decoded, `le` / `quantile` canonicalized as Prometheus 3 does) only when a caller asks.

use std::borrow::Cow;

use oxeye_model::{Label, Labels, METRIC_NAME};

use crate::MetricType;
use crate::number::{format_openmetrics_float, parse_go_float};

/// One sample line, borrowed from the scrape body.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The series exactly as written (`name{labels}`), a stable per-target cache key.
    pub series: &'a str,
    /// The metric name (`http_requests_total`).
    pub name: &'a str,
    pub value: f64,
    /// Milliseconds since the epoch (OpenMetrics seconds are converted, truncating).
    pub timestamp_ms: Option<i64>,
    /// The OpenMetrics exemplar, already validated.
    pub exemplar: Option<Exemplar<'a>>,
    /// The family this sample belongs to (`http_requests` for `http_requests_total` in
    /// OpenMetrics; the `# TYPE` / `# HELP` name in the text format), or the sample's own name
    /// when no metadata introduced it.
    pub metric_family: &'a str,
    pub metric_type: MetricType,
    /// The text between the braces, empty when there are none.
    pub(crate) labels: &'a str,
}

impl<'a> Sample<'a> {
    /// The label pairs between the braces in body order, escapes decoded; `le` of histograms and
    /// `quantile` of summaries rewritten to Prometheus 3's canonical float form (`1` -> `1.0`).
    /// Empty values are included. Allocation-free unless a value needs decoding or rewriting.
    pub fn label_pairs(&self) -> LabelPairs<'a> {
        let normalize = match self.metric_type {
            MetricType::Histogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        };
        LabelPairs { rest: self.labels, normalize }
    }

    /// The raw text between the braces (escapes not decoded), empty when there are none.
    pub fn raw_labels(&self) -> &'a str {
        self.labels
    }

    /// Clears `out` and fills it with the sample's labels, sorted by name, `__name__` included,
    /// labels with empty values left out (an empty label is no label, as in Prometheus).
    pub fn labels_into(&self, out: &mut Vec<Label>) {
        out.clear();
        out.push(Label::new(METRIC_NAME, self.name));
        for (n, v) in self.label_pairs() {
            if !v.is_empty() {
                out.push(Label::new(n, v.into_owned()));
            }
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        // The parser rejects duplicate names; stay safe if a caller built a Sample by hand.
        out.dedup_by(|a, b| a.name == b.name);
    }

    /// The sample's label set (see [`Sample::labels_into`]).
    pub fn labels(&self) -> Labels {
        let mut v = Vec::with_capacity(8);
        self.labels_into(&mut v);
        Labels::from_sorted(v)
    }
}

/// An OpenMetrics exemplar attached to a counter or bucket sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    pub(crate) labels: &'a str,
}

impl<'a> Exemplar<'a> {
    /// The exemplar's label pairs, escapes decoded.
    pub fn label_pairs(&self) -> LabelPairs<'a> {
        LabelPairs { rest: self.labels, normalize: None }
    }

    /// The exemplar's labels as a sorted set (empty values dropped).
    pub fn labels(&self) -> Labels {
        let mut v: Vec<Label> =
            self.label_pairs().filter(|(_, v)| !v.is_empty()).map(|(n, v)| Label::new(n, v.into_owned())).collect();
        v.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        v.dedup_by(|a, b| a.name == b.name);
        Labels::from_sorted(v)
    }
}

/// Iterator over `(name, value)` pairs of already-validated label text.
#[derive(Debug, Clone)]
pub struct LabelPairs<'a> {
    rest: &'a str,
    normalize: Option<&'static str>,
}

impl<'a> Iterator for LabelPairs<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.trim_start_matches([' ', '\t', ',']);
        let eq = s.find('=')?;
        let name = s[..eq].trim_end_matches([' ', '\t']);
        let after = s[eq + 1..].trim_start_matches([' ', '\t']).strip_prefix('"')?;
        let b = after.as_bytes();
        let mut i = 0;
        let mut escaped = false;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                b'"' => break,
                _ => i += 1,
            }
        }
        // `i` is either the closing quote (ASCII, a char boundary) or past the end.
        let i = i.min(b.len());
        let raw = &after[..i];
        self.rest = after.get(i + 1..).unwrap_or("");
        let mut value = if escaped { Cow::Owned(unescape(raw, true)) } else { Cow::Borrowed(raw) };
        if self.normalize == Some(name)
            && let Some(f) = parse_go_float(&value)
        {
            let canonical = format_openmetrics_float(f);
            if canonical != value {
                value = Cow::Owned(canonical);
            }
        }
        Some((name, value))
    }
}

/// Decodes `\\`, `\n` and (when `quote`) `\"`; any other backslash sequence is kept as written,
/// as both upstream parsers do.
pub(crate) fn unescape(raw: &str, quote: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(name: &'a str, labels: &'a str, typ: MetricType) -> Sample<'a> {
        Sample {
            series: name,
            name,
            value: 1.0,
            timestamp_ms: None,
            exemplar: None,
            metric_family: name,
            metric_type: typ,
            labels,
        }
    }

    #[test]
    fn label_pairs_decode_escapes() {
        let s = sample("a", r#"x="a\"b\\c\nd\z",y="""#, MetricType::Gauge);
        let pairs: Vec<_> = s.label_pairs().collect();
        assert_eq!(pairs, vec![("x", Cow::Owned::<str>("a\"b\\c\nd\\z".into())), ("y", Cow::Borrowed(""))]);
        let labels = s.labels();
        assert_eq!(labels.len(), 2, "empty value dropped: {labels:?}");
        assert_eq!(labels.get("x"), "a\"b\\c\nd\\z");
        assert_eq!(labels.metric_name(), "a");
    }

    #[test]
    fn bucket_and_quantile_bounds_are_canonicalized() {
        let s = sample("a_bucket", r#"le="1",x="1""#, MetricType::Histogram);
        assert_eq!(s.labels().get("le"), "1.0");
        assert_eq!(s.labels().get("x"), "1");
        let s = sample("a", r#"quantile="0.50""#, MetricType::Summary);
        assert_eq!(s.labels().get("quantile"), "0.5");
        let s = sample("a_bucket", r#"le="1""#, MetricType::GaugeHistogram);
        assert_eq!(s.labels().get("le"), "1");
    }

    #[test]
    fn scanner_survives_garbage() {
        for text in ["\\", "a=\"\\", "a=\"\\é", "=", "a=", ",,,", "a=\"x\"b=\"y\"", "\"", "é=\"\\é\""] {
            let _ = sample("a", text, MetricType::Histogram).labels();
        }
    }
}
