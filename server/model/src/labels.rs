//! Label sets. A `Labels` is a list of name/value pairs sorted by name with unique names, the
//! canonical identity of a series. Hashing is stable across processes (xxh3 over the same
//! byte layout Prometheus hashes), so it can key on-disk structures.

use std::fmt;

/// The reserved label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

const SEP: u8 = 0xff;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label { name: name.into(), value: value.into() }
    }
}

/// A sorted set of labels with unique names. Empty values are allowed in the structure; the
/// appender side drops them the way Prometheus does (a label with an empty value is no label).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels(Vec<Label>);

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Prometheus's `labels.Compare`: pairwise by name then value, shorter set first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            match a.name.cmp(&b.name).then_with(|| a.value.cmp(&b.value)) {
                std::cmp::Ordering::Equal => continue,
                o => return o,
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl Labels {
    pub fn empty() -> Self {
        Labels(Vec::new())
    }

    /// Builds a label set from pairs in any order. Later duplicates win; empty values are dropped.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let mut b = LabelsBuilder::new(Labels::empty());
        for (n, v) in pairs {
            b.set(n.into(), v.into());
        }
        b.labels()
    }

    /// Wraps labels that are already sorted by name and unique. Debug builds check the invariant.
    pub fn from_sorted(v: Vec<Label>) -> Self {
        debug_assert!(v.windows(2).all(|w| w[0].name < w[1].name), "labels not sorted/unique");
        Labels(v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// The value of `name`, or "" when absent (Prometheus's `Labels.Get`).
    pub fn get(&self, name: &str) -> &str {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) => &self.0[i].value,
            Err(_) => "",
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name)).is_ok()
    }

    pub fn metric_name(&self) -> &str {
        self.get(METRIC_NAME)
    }

    /// Stable 64-bit hash of the whole set.
    pub fn hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in &self.0 {
            h.update(l.name.as_bytes());
            h.update(&[SEP]);
            h.update(l.value.as_bytes());
            h.update(&[SEP]);
        }
        h.digest()
    }

    /// Hash over only the named labels (`on(...)` / `by(...)` grouping). `names` must be sorted.
    pub fn hash_for_labels(&self, names: &[String]) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < names.len() {
            match self.0[i].name.cmp(&names[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    h.update(self.0[i].name.as_bytes());
                    h.update(&[SEP]);
                    h.update(self.0[i].value.as_bytes());
                    h.update(&[SEP]);
                    i += 1;
                    j += 1;
                }
            }
        }
        h.digest()
    }

    /// Hash over every label except the named ones (`ignoring(...)` / `without(...)`), always
    /// leaving out `__name__`. `names` must be sorted.
    pub fn hash_without_labels(&self, names: &[String]) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in &self.0 {
            if l.name == METRIC_NAME || names.binary_search(&l.name).is_ok() {
                continue;
            }
            h.update(l.name.as_bytes());
            h.update(&[SEP]);
            h.update(l.value.as_bytes());
            h.update(&[SEP]);
        }
        h.digest()
    }

    /// Keeps only the named labels. `names` need not be sorted.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels(self.0.iter().filter(|l| names.contains(&l.name)).cloned().collect())
    }

    /// Drops the named labels (and `__name__` when `drop_name`).
    pub fn drop_labels(&self, names: &[String], drop_name: bool) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| (!drop_name || l.name != METRIC_NAME) && !names.contains(&l.name))
                .cloned()
                .collect(),
        )
    }

    pub fn without_metric_name(&self) -> Labels {
        if !self.has(METRIC_NAME) {
            return self.clone();
        }
        Labels(self.0.iter().filter(|l| l.name != METRIC_NAME).cloned().collect())
    }

    /// Approximate bytes held by this label set, for memory accounting.
    pub fn byte_size(&self) -> usize {
        self.0.iter().map(|l| l.name.len() + l.value.len()).sum()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Labels {
    /// Prometheus's `Labels.String`: `{a="b", c="d"}` with Go-quoted values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={}", l.name, go_quote(&l.value))?;
        }
        f.write_str("}")
    }
}

/// A label set packed into one allocation (`varint len, bytes` for each name and value), for
/// caches that hold many label sets but rarely read them: about a fifth of a `Labels`' memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackedLabels(Box<[u8]>);

impl PackedLabels {
    pub fn pack(labels: &Labels) -> Self {
        let mut out = Vec::with_capacity(labels.byte_size() + 2 * labels.len());
        for l in labels.iter() {
            for part in [&l.name, &l.value] {
                let mut n = part.len();
                while n >= 0x80 {
                    out.push((n as u8) | 0x80);
                    n >>= 7;
                }
                out.push(n as u8);
                out.extend_from_slice(part.as_bytes());
            }
        }
        PackedLabels(out.into_boxed_slice())
    }

    /// The label set back. The bytes were written by `pack` from valid strings; a malformed
    /// tail (impossible short of memory corruption) ends the set instead of panicking.
    pub fn unpack(&self) -> Labels {
        let b = &self.0;
        let mut i = 0;
        let mut parts: Vec<String> = Vec::new();
        while i < b.len() {
            let (mut n, mut shift) = (0usize, 0);
            while i < b.len() {
                let byte = b[i];
                i += 1;
                n |= ((byte & 0x7f) as usize) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            let Some(bytes) = b.get(i..i + n) else { break };
            parts.push(String::from_utf8_lossy(bytes).into_owned());
            i += n;
        }
        let mut v = Vec::with_capacity(parts.len() / 2);
        let mut it = parts.into_iter();
        while let (Some(name), Some(value)) = (it.next(), it.next()) {
            v.push(Label { name, value });
        }
        Labels(v)
    }
}

/// Quotes a string the way Go's `strconv.Quote` does for the characters that occur in labels.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Edits a label set: set and delete names, then produce a sorted `Labels`. Setting an empty
/// value deletes the label, as in Prometheus's `labels.Builder`.
#[derive(Debug, Clone)]
pub struct LabelsBuilder {
    base: Labels,
    add: Vec<Label>,
    del: Vec<String>,
}

impl LabelsBuilder {
    pub fn new(base: Labels) -> Self {
        LabelsBuilder { base, add: Vec::new(), del: Vec::new() }
    }

    pub fn reset(&mut self, base: Labels) {
        self.base = base;
        self.add.clear();
        self.del.clear();
    }

    /// The current value of `name` after the edits so far ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        if let Some(l) = self.add.iter().find(|l| l.name == name) {
            return &l.value;
        }
        if self.del.iter().any(|d| d == name) {
            return "";
        }
        self.base.get(name)
    }

    pub fn set(&mut self, name: String, value: String) -> &mut Self {
        if value.is_empty() {
            return self.del(&name);
        }
        self.del.retain(|d| *d != name);
        if let Some(l) = self.add.iter_mut().find(|l| l.name == name) {
            l.value = value;
        } else {
            self.add.push(Label { name, value });
        }
        self
    }

    pub fn del(&mut self, name: &str) -> &mut Self {
        self.add.retain(|l| l.name != name);
        if !self.del.iter().any(|d| d == name) {
            self.del.push(name.to_string());
        }
        self
    }

    /// Visits every current label (base minus deletions plus additions) in no particular order.
    pub fn range(&self, mut f: impl FnMut(&str, &str)) {
        for l in self.base.iter() {
            if self.del.contains(&l.name) || self.add.iter().any(|a| a.name == l.name) {
                continue;
            }
            f(&l.name, &l.value);
        }
        for l in &self.add {
            f(&l.name, &l.value);
        }
    }

    pub fn labels(&self) -> Labels {
        if self.add.is_empty() && self.del.is_empty() {
            return self.base.clone();
        }
        let mut out: Vec<Label> = self
            .base
            .iter()
            .filter(|l| !self.del.contains(&l.name) && !self.add.iter().any(|a| a.name == l.name))
            .cloned()
            .collect();
        out.extend(self.add.iter().cloned());
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Labels(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_dedups_and_drops_empty() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
        assert_eq!(l.get("a"), "3");
        assert_eq!(l.get("c"), "");
        assert!(!l.has("c"));
    }

    #[test]
    fn hash_is_order_independent_of_input_and_distinguishes_sets() {
        let a = Labels::from_pairs([("x", "1"), ("y", "2")]);
        let b = Labels::from_pairs([("y", "2"), ("x", "1")]);
        let c = Labels::from_pairs([("x", "12")]);
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn grouping_hashes() {
        let a = Labels::from_pairs([("__name__", "m"), ("job", "j"), ("i", "1")]);
        let b = Labels::from_pairs([("__name__", "n"), ("job", "j"), ("i", "2")]);
        assert_eq!(a.hash_for_labels(&["job".into()]), b.hash_for_labels(&["job".into()]));
        assert_eq!(a.hash_without_labels(&["i".into()]), b.hash_without_labels(&["i".into()]));
        assert_ne!(a.hash_without_labels(&[]), b.hash_without_labels(&[]));
    }

    #[test]
    fn packed_labels_round_trip() {
        let long = "x".repeat(300);
        let l = Labels::from_pairs([("__name__", "m"), ("a", long.as_str()), ("é", "ü\n")]);
        let p = PackedLabels::pack(&l);
        assert_eq!(p.unpack(), l);
        assert_eq!(PackedLabels::pack(&Labels::empty()).unpack(), Labels::empty());
    }

    #[test]
    fn ordering_matches_prometheus_compare() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("a", "2")]);
        assert!(a < b && b < c);
    }
}
