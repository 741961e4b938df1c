//! `MemStorage`: an in-memory `Appendable` + `Queryable` with no index and no durability, used by
//! tests (PromQL conformance scripts, API handler tests) where the TSDB is not the subject.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{AppendError, Appendable, Appender, Queryable, Series, SeriesRef, StorageError};
use crate::{Labels, METRIC_NAME, Matcher, Sample};

#[derive(Default)]
pub struct MemStorage {
    series: RwLock<BTreeMap<Labels, Vec<Sample>>>,
}

impl MemStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every series.
    pub fn clear(&self) {
        if let Ok(mut s) = self.series.write() {
            s.clear();
        }
    }

    fn matching<'a>(
        map: &'a BTreeMap<Labels, Vec<Sample>>,
        mint: i64,
        maxt: i64,
        matchers: &'a [Matcher],
    ) -> impl Iterator<Item = (&'a Labels, Vec<Sample>)> + 'a {
        map.iter().filter_map(move |(l, s)| {
            if !matchers.iter().all(|m| m.matches(l.get(&m.name))) {
                return None;
            }
            let lo = s.partition_point(|x| x.t < mint);
            let hi = s.partition_point(|x| x.t <= maxt);
            if lo >= hi {
                return None;
            }
            Some((l, s[lo..hi].to_vec()))
        })
    }
}

fn poisoned() -> StorageError {
    StorageError::Other("memory storage lock poisoned".into())
}

struct MemAppender<'a> {
    storage: &'a MemStorage,
    pending: Vec<(Labels, Sample)>,
}

impl Appender for MemAppender<'_> {
    fn append(
        &mut self,
        _cached: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        if labels.get(METRIC_NAME).is_empty() {
            return Err(AppendError::InvalidLabels);
        }
        self.pending.push((labels.clone(), Sample { t, v }));
        Ok(labels.hash())
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let mut map = self.storage.series.write().map_err(|_| poisoned())?;
        for (l, s) in self.pending {
            let v = map.entry(l).or_default();
            match v.last() {
                Some(last) if last.t > s.t => {
                    let i = v.partition_point(|x| x.t < s.t);
                    if v.get(i).is_some_and(|x| x.t == s.t) {
                        v[i] = s;
                    } else {
                        v.insert(i, s);
                    }
                }
                Some(last) if last.t == s.t => {
                    if let Some(x) = v.last_mut() {
                        *x = s;
                    }
                }
                _ => v.push(s),
            }
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) {}
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemAppender { storage: self, pending: Vec::new() })
    }
}

impl Queryable for MemStorage {
    fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Series>, StorageError> {
        let map = self.series.read().map_err(|_| poisoned())?;
        Ok(Self::matching(&map, mint, maxt, matchers)
            .map(|(l, samples)| Series { labels: l.clone(), samples })
            .collect())
    }

    fn series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Labels>, StorageError> {
        let map = self.series.read().map_err(|_| poisoned())?;
        Ok(Self::matching(&map, mint, maxt, matchers).map(|(l, _)| l.clone()).collect())
    }

    fn label_names(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let map = self.series.read().map_err(|_| poisoned())?;
        let mut names: Vec<String> = Self::matching(&map, mint, maxt, matchers)
            .flat_map(|(l, _)| l.iter().map(|x| x.name.clone()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        mint: i64,
        maxt: i64,
        name: &str,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let map = self.series.read().map_err(|_| poisoned())?;
        let mut vals: Vec<String> = Self::matching(&map, mint, maxt, matchers)
            .map(|(l, _)| l.get(name).to_string())
            .filter(|v| !v.is_empty())
            .collect();
        vals.sort();
        vals.dedup();
        Ok(vals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatchOp;

    #[test]
    fn append_commit_select() {
        let s = MemStorage::new();
        let mut a = s.appender();
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        a.append(None, &l, 10, 1.0).unwrap();
        a.append(None, &l, 20, 2.0).unwrap();
        a.commit().unwrap();
        let m = [Matcher::new(MatchOp::Equal, "job", "a").unwrap()];
        let got = s.select(0, 15, &m).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].samples, vec![Sample::new(10, 1.0)]);
        assert!(s.select(21, 30, &m).unwrap().is_empty());
        assert_eq!(s.label_values(0, 100, "job", &[]).unwrap(), vec!["a".to_string()]);
    }
}
