//! The per-target scrape cache (Prometheus's `scrapeCache`): the raw series text of each scraped
//! line maps to its final label set (after target labels and `metric_relabel_configs`) and the
//! storage's series ref, so a series is relabeled once, not once per scrape. It also remembers
//! which series the last successful scrape wrote, to write staleness markers for the ones that
//! vanish.

use std::collections::{HashMap, HashSet};

use oxeye_model::storage::{AppendError, Appender, SeriesRef};
use oxeye_model::{Labels, PackedLabels, STALE_NAN};

/// Entries unseen for this many scrapes are evicted.
const EVICT_AFTER_SCRAPES: u64 = 2;

type Hasher = ahash::RandomState;

#[derive(Debug)]
pub(crate) struct CacheEntry {
    pub series_ref: Option<SeriesRef>,
    /// Packed: the hot path appends by ref and needs the labels only when the storage forgot
    /// the ref, so the cache pays for the bytes, not for a `Vec` of `String`s per series.
    pub labels: PackedLabels,
    pub hash: u64,
    /// Scrape iteration this entry was last seen in, and the one before that.
    pub seen: u64,
    pub prev_seen: u64,
    /// False for samples with explicit timestamps: Prometheus writes no staleness markers for
    /// them.
    pub track_staleness: bool,
}

impl CacheEntry {
    #[inline]
    pub fn touch(&mut self, iter: u64) {
        if self.seen != iter {
            self.prev_seen = self.seen;
            self.seen = iter;
        }
    }
}

/// Outcome counts of stale-marker appends (they can be out of order after a restart, which is
/// harmless and expected).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StaleStats {
    pub written: usize,
    pub rejected: usize,
}

#[derive(Debug, Default)]
pub(crate) struct ScrapeCache {
    pub series: HashMap<Box<str>, CacheEntry, Hasher>,
    /// Series text that `metric_relabel_configs` dropped, with the iteration last seen.
    pub dropped: HashMap<Box<str>, u64, Hasher>,
    /// Hashes of the tracked label sets written in the current scrape.
    pub seen_hashes: HashSet<u64, Hasher>,
    /// The current scrape attempt (starts at 1 with the first `begin`).
    pub iter: u64,
    /// The iteration of the last successful scrape; 0 when there is none to compare with.
    prev_ok: u64,
    /// Series a previous loop for the same target wrote (handed over on config reload): stale
    /// unless the first scrape of this loop writes them again.
    inherited: Vec<(u64, PackedLabels)>,
}

impl ScrapeCache {
    pub fn with_inherited(inherited: Vec<(u64, Labels)>) -> Self {
        let inherited = inherited.into_iter().map(|(h, l)| (h, PackedLabels::pack(&l))).collect();
        ScrapeCache { inherited, ..Default::default() }
    }

    /// Starts a scrape attempt.
    pub fn begin(&mut self) {
        self.iter += 1;
        self.seen_hashes.clear();
    }

    pub fn insert(&mut self, series: &str, series_ref: Option<SeriesRef>, labels: Labels, track_staleness: bool) {
        let hash = labels.hash();
        if track_staleness {
            self.seen_hashes.insert(hash);
        }
        self.series.insert(
            series.into(),
            CacheEntry {
                series_ref,
                labels: PackedLabels::pack(&labels),
                hash,
                seen: self.iter,
                prev_seen: 0,
                track_staleness,
            },
        );
    }

    pub fn mark_dropped(&mut self, series: &str) {
        let iter = self.iter;
        match self.dropped.get_mut(series) {
            Some(s) => *s = iter,
            None => {
                self.dropped.insert(series.into(), iter);
            }
        }
    }

    /// Ends a successful scrape: writes staleness markers at `t` for the series the previous
    /// successful scrape wrote and this one did not, then evicts long-unseen entries.
    pub fn finish_ok(&mut self, app: &mut dyn Appender, t: i64) -> StaleStats {
        let mut stats = StaleStats::default();
        let (iter, prev_ok) = (self.iter, self.prev_ok);
        let seen_hashes = &mut self.seen_hashes;
        self.series.retain(|_, e| {
            if prev_ok != 0 && e.seen == prev_ok && e.track_staleness && seen_hashes.insert(e.hash) {
                stale(app, e.series_ref, &e.labels, t, &mut stats);
            }
            e.seen + EVICT_AFTER_SCRAPES >= iter
        });
        for (h, l) in std::mem::take(&mut self.inherited) {
            if seen_hashes.insert(h) {
                stale(app, None, &l, t, &mut stats);
            }
        }
        self.dropped.retain(|_, seen| *seen + EVICT_AFTER_SCRAPES >= iter);
        self.prev_ok = iter;
        stats
    }

    /// Ends a failed scrape (or the loop): forgets what the failed attempt touched and writes
    /// staleness markers at `t` for every series of the last successful scrape.
    pub fn finish_failed(&mut self, app: &mut dyn Appender, t: i64) -> StaleStats {
        let mut stats = StaleStats::default();
        let (iter, prev_ok) = (self.iter, self.prev_ok);
        self.seen_hashes.clear();
        let seen_hashes = &mut self.seen_hashes;
        self.series.retain(|_, e| {
            if e.seen == iter {
                if e.prev_seen == 0 {
                    // Created by the failed attempt, whose appends were rolled back.
                    return false;
                }
                e.seen = e.prev_seen;
            }
            if prev_ok != 0 && e.seen == prev_ok && e.track_staleness && seen_hashes.insert(e.hash) {
                stale(app, e.series_ref, &e.labels, t, &mut stats);
            }
            true
        });
        for (h, l) in std::mem::take(&mut self.inherited) {
            if seen_hashes.insert(h) {
                stale(app, None, &l, t, &mut stats);
            }
        }
        for seen in self.dropped.values_mut() {
            if *seen == iter {
                *seen = iter.saturating_sub(1);
            }
        }
        self.prev_ok = 0;
        stats
    }

    /// The series the last successful scrape wrote (plus still-pending inherited ones), for the
    /// loop that replaces this one on a config reload.
    pub fn handover(&self) -> Vec<(u64, Labels)> {
        let mut out: Vec<(u64, Labels)> = self
            .series
            .values()
            .filter(|e| self.prev_ok != 0 && e.seen == self.prev_ok && e.track_staleness)
            .map(|e| (e.hash, e.labels.unpack()))
            .collect();
        out.extend(self.inherited.iter().map(|(h, l)| (*h, l.unpack())));
        out
    }
}

/// Appends to a cached series: by ref while the storage knows it, else with the labels.
pub(crate) fn append_cached(
    app: &mut dyn Appender,
    r: Option<SeriesRef>,
    labels: &PackedLabels,
    t: i64,
    v: f64,
) -> Result<SeriesRef, AppendError> {
    if let Some(r) = r
        && app.append_by_ref(r, t, v)?
    {
        return Ok(r);
    }
    app.append(None, &labels.unpack(), t, v)
}

fn stale(app: &mut dyn Appender, r: Option<SeriesRef>, l: &PackedLabels, t: i64, stats: &mut StaleStats) {
    match append_cached(app, r, l, t, STALE_NAN) {
        Ok(_) => stats.written += 1,
        Err(AppendError::OutOfOrder | AppendError::DuplicateSampleForTimestamp | AppendError::OutOfBounds) => {
            stats.rejected += 1
        }
        Err(e) => {
            stats.rejected += 1;
            tracing::debug!(series = %l.unpack(), error = %e, "staleness marker not appended");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::storage::StorageError;

    #[derive(Default)]
    struct Rec(Vec<(String, i64, f64)>);
    impl Appender for Rec {
        fn append(&mut self, _: Option<SeriesRef>, l: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
            self.0.push((l.metric_name().to_string(), t, v));
            Ok(1)
        }
        fn commit(self: Box<Self>) -> Result<(), StorageError> {
            Ok(())
        }
        fn rollback(self: Box<Self>) {}
    }

    fn see(c: &mut ScrapeCache, s: &str) {
        let iter = c.iter;
        if let Some(e) = c.series.get_mut(s) {
            e.touch(iter);
            c.seen_hashes.insert(e.hash);
        } else {
            c.insert(s, None, Labels::from_pairs([("__name__", s)]), true);
        }
    }

    #[test]
    fn vanished_series_get_one_marker() {
        let mut c = ScrapeCache::default();
        let mut app = Rec::default();
        c.begin();
        see(&mut c, "a");
        see(&mut c, "b");
        assert_eq!(c.finish_ok(&mut app, 1).written, 0);
        c.begin();
        see(&mut c, "a");
        assert_eq!(c.finish_ok(&mut app, 2).written, 1);
        assert_eq!(app.0[0].0, "b");
        c.begin();
        see(&mut c, "a");
        assert_eq!(c.finish_ok(&mut app, 3).written, 0);
    }

    #[test]
    fn failed_scrape_marks_the_last_good_scrape() {
        let mut c = ScrapeCache::default();
        let mut app = Rec::default();
        c.begin();
        see(&mut c, "a");
        see(&mut c, "b");
        c.finish_ok(&mut app, 1);
        c.begin();
        see(&mut c, "a");
        see(&mut c, "new");
        let s = c.finish_failed(&mut app, 2);
        assert_eq!(s.written, 2);
        assert!(!c.series.contains_key("new"));
        // Nothing is marked twice: the next success compares against nothing.
        c.begin();
        see(&mut c, "a");
        assert_eq!(c.finish_ok(&mut app, 3).written, 0);
    }

    #[test]
    fn inherited_series_not_rescraped_become_stale() {
        let l = Labels::from_pairs([("__name__", "old")]);
        let mut c = ScrapeCache::with_inherited(vec![(l.hash(), l)]);
        let mut app = Rec::default();
        c.begin();
        see(&mut c, "a");
        assert_eq!(c.finish_ok(&mut app, 1).written, 1);
        assert_eq!(app.0[0].0, "old");
    }
}
