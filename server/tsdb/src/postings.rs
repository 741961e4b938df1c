//! Postings: sorted lists of series ids, the set operations on them, and the translation of
//! label matchers into those operations (Prometheus's `PostingsForMatchers`). Works over any
//! `PostingsIndex` (the head's in-memory index or a block's on-disk one); it never looks at
//! samples and never scans every series to evaluate a matcher.

use oxeye_model::{MatchOp, Matcher};

use crate::Result;

/// Intersection of sorted, deduplicated lists.
pub fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    // Galloping through the larger list keeps `job="x"` AND `instance="y"` cheap when one
    // side is tiny.
    let mut lo = 0;
    for &x in small {
        lo += large[lo..].partition_point(|&y| y < x);
        if lo >= large.len() {
            break;
        }
        if large[lo] == x {
            out.push(x);
        }
    }
    out
}

/// Union of sorted lists.
pub fn union(lists: Vec<Vec<u64>>) -> Vec<u64> {
    let mut lists: Vec<Vec<u64>> = lists.into_iter().filter(|l| !l.is_empty()).collect();
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        2 => {
            let (a, b) = (&lists[0], &lists[1]);
            let mut out = Vec::with_capacity(a.len() + b.len());
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                match a[i].cmp(&b[j]) {
                    std::cmp::Ordering::Less => {
                        out.push(a[i]);
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        out.push(b[j]);
                        j += 1;
                    }
                    std::cmp::Ordering::Equal => {
                        out.push(a[i]);
                        i += 1;
                        j += 1;
                    }
                }
            }
            out.extend_from_slice(&a[i..]);
            out.extend_from_slice(&b[j..]);
            out
        }
        _ => {
            let mut out: Vec<u64> = lists.concat();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// Elements of `a` not in `b`.
pub fn subtract(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        j += b[j..].partition_point(|&y| y < x);
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

/// What matcher evaluation needs from an index.
pub trait PostingsIndex {
    /// Every series id.
    fn all_postings(&self) -> Result<Vec<u64>>;
    /// Series with `name="value"`.
    fn postings_eq(&self, name: &str, value: &str) -> Result<Vec<u64>>;
    /// Union of the postings of every value of `name` for which `pred` holds.
    fn postings_where(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> Result<Vec<u64>>;
}

/// Series ids for values of `m.name` matching `m` (the label must be present).
fn postings_for_matcher(ix: &dyn PostingsIndex, m: &Matcher) -> Result<Vec<u64>> {
    match m.op {
        MatchOp::Equal => ix.postings_eq(&m.name, &m.value),
        MatchOp::RegexMatch => {
            if let Some(set) = m.regex().and_then(|r| r.set_matches()) {
                let mut lists = Vec::with_capacity(set.len());
                for v in set {
                    lists.push(ix.postings_eq(&m.name, &v)?);
                }
                return Ok(union(lists));
            }
            ix.postings_where(&m.name, &mut |v| m.matches(v))
        }
        _ => ix.postings_where(&m.name, &mut |v| m.matches(v)),
    }
}

/// Series ids that have label `m.name` with a value NOT matching `m`.
fn inverse_postings_for_matcher(ix: &dyn PostingsIndex, m: &Matcher) -> Result<Vec<u64>> {
    ix.postings_where(&m.name, &mut |v| !m.matches(v))
}

fn inverse(m: &Matcher) -> Matcher {
    let op = match m.op {
        MatchOp::Equal => MatchOp::NotEqual,
        MatchOp::NotEqual => MatchOp::Equal,
        MatchOp::RegexMatch => MatchOp::RegexNoMatch,
        MatchOp::RegexNoMatch => MatchOp::RegexMatch,
    };
    // The regex already compiled for `m`, so recompiling cannot fail; fall back to the
    // literal form only to keep this total.
    Matcher::new(op, m.name.clone(), m.value.clone()).unwrap_or_else(|_| Matcher::equal(m.name.clone(), ""))
}

/// The sorted ids of series that satisfy every matcher, with Prometheus's semantics: a series
/// lacking a label has it as "", so matchers accepting "" also select series without it.
pub fn postings_for_matchers(ix: &dyn PostingsIndex, ms: &[Matcher]) -> Result<Vec<u64>> {
    let mut its: Vec<Vec<u64>> = Vec::new();
    let mut not_its: Vec<Vec<u64>> = Vec::new();
    for m in ms {
        let matches_empty = m.matches_empty();
        let is_not = matches!(m.op, MatchOp::NotEqual | MatchOp::RegexNoMatch);
        if is_not && matches_empty {
            // l!="foo": remove the series with l="foo".
            not_its.push(postings_for_matcher(ix, &inverse(m))?);
        } else if is_not {
            // l!="" or l!~".*x.*|": the series whose value matches the non-negated form's inverse.
            its.push(inverse_postings_for_matcher(ix, &inverse(m))?);
        } else if matches_empty {
            // l="" or l=~"a|": everything except series holding a value the matcher rejects.
            not_its.push(inverse_postings_for_matcher(ix, m)?);
        } else {
            its.push(postings_for_matcher(ix, m)?);
        }
        if its.last().is_some_and(|l| l.is_empty()) {
            return Ok(Vec::new());
        }
    }
    if its.is_empty() {
        its.push(ix.all_postings()?);
    }
    its.sort_by_key(|l| l.len());
    let mut it = its.swap_remove(0);
    for l in &its {
        it = intersect(&it, l);
    }
    for n in &not_its {
        if it.is_empty() {
            break;
        }
        it = subtract(&it, n);
    }
    Ok(it)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7, 9], &[2, 3, 4, 9, 10]), vec![3, 9]);
        assert_eq!(intersect(&[], &[1, 2]), Vec::<u64>::new());
        assert_eq!(intersect(&[5], &[1, 2, 3, 4, 5, 6]), vec![5]);
        assert_eq!(union(vec![vec![1, 4], vec![2, 4, 6]]), vec![1, 2, 4, 6]);
        assert_eq!(union(vec![vec![1], vec![3], vec![2, 3]]), vec![1, 2, 3]);
        assert_eq!(union(vec![]), Vec::<u64>::new());
        assert_eq!(subtract(&[1, 2, 3, 4, 5], &[2, 4, 8]), vec![1, 3, 5]);
        assert_eq!(subtract(&[1, 2], &[]), vec![1, 2]);
    }

    /// A toy index: id -> labels.
    struct Toy(BTreeMap<u64, Vec<(&'static str, &'static str)>>);

    impl PostingsIndex for Toy {
        fn all_postings(&self) -> Result<Vec<u64>> {
            Ok(self.0.keys().copied().collect())
        }
        fn postings_eq(&self, name: &str, value: &str) -> Result<Vec<u64>> {
            self.postings_where(name, &mut |v| v == value)
        }
        fn postings_where(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> Result<Vec<u64>> {
            Ok(self
                .0
                .iter()
                .filter(|(_, ls)| ls.iter().any(|(n, v)| *n == name && pred(v)))
                .map(|(id, _)| *id)
                .collect())
        }
    }

    fn toy() -> Toy {
        Toy(BTreeMap::from([
            (1, vec![("__name__", "up"), ("job", "api"), ("env", "prod")]),
            (2, vec![("__name__", "up"), ("job", "db")]),
            (3, vec![("__name__", "up"), ("job", "api"), ("env", "dev")]),
            (4, vec![("__name__", "other"), ("job", "api")]),
        ]))
    }

    fn sel(ms: &[Matcher]) -> Vec<u64> {
        postings_for_matchers(&toy(), ms).unwrap()
    }

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).unwrap()
    }

    #[test]
    fn matchers_follow_prometheus_semantics() {
        use MatchOp::*;
        assert_eq!(sel(&[m(Equal, "__name__", "up")]), vec![1, 2, 3]);
        assert_eq!(sel(&[m(Equal, "__name__", "up"), m(Equal, "job", "api")]), vec![1, 3]);
        // foo!="bar" matches the empty string: series lacking env are kept.
        assert_eq!(sel(&[m(Equal, "__name__", "up"), m(NotEqual, "env", "prod")]), vec![2, 3]);
        // env!="" does not: only series that have env.
        assert_eq!(sel(&[m(NotEqual, "env", "")]), vec![1, 3]);
        // env="" selects series without env.
        assert_eq!(sel(&[m(Equal, "env", "")]), vec![2, 4]);
        // =~".*" matches everything, including series without the label.
        assert_eq!(sel(&[m(RegexMatch, "env", ".*")]), vec![1, 2, 3, 4]);
        // =~".+" requires the label.
        assert_eq!(sel(&[m(RegexMatch, "env", ".+")]), vec![1, 3]);
        // =~"prod|" matches "": series with env=prod or without env.
        assert_eq!(sel(&[m(RegexMatch, "env", "prod|")]), vec![1, 2, 4]);
        assert_eq!(sel(&[m(RegexNoMatch, "job", "a.*")]), vec![2]);
        assert_eq!(sel(&[m(RegexMatch, "job", "api|db"), m(RegexNoMatch, "env", "dev")]), vec![1, 2, 4]);
        assert_eq!(sel(&[m(Equal, "job", "nope")]), Vec::<u64>::new());
        assert_eq!(sel(&[]), vec![1, 2, 3, 4]);
    }
}
