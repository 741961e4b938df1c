//! The head: the in-memory, appendable part of the database. It owns the series (label symbol
//! ids plus XOR chunks of up to 120 samples, cut at block-range boundaries), the hash index from
//! label sets to series refs, and the inverted index (postings). Series live in striped shards so
//! concurrent appenders and queries rarely meet on a lock. It knows nothing about the WAL or
//! blocks; the `Db` logs and persists around it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use oxeye_model::{AppendError, Label, Labels, Sample};
use parking_lot::{Mutex, RwLock};

use crate::Result;
use crate::chunkenc::{SAMPLES_PER_CHUNK, XorAppender, decode_xor};
use crate::postings::PostingsIndex;
use crate::symbols::Symbols;

const SHARDS: usize = 256;

type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// A sealed head chunk.
struct ClosedChunk {
    mint: i64,
    maxt: i64,
    data: Box<[u8]>,
}

/// One series in the head. Kept small on purpose: it exists once per active series.
struct MemSeries {
    /// name, value, name, value ... symbol ids, sorted by name.
    labels: Box<[u32]>,
    closed: Vec<ClosedChunk>,
    open: XorAppender,
    open_mint: i64,
    /// Appenders holding uncommitted samples for this series; GC leaves it alone meanwhile.
    pending: u32,
}

/// Outcome of appending one sample to a series.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    Ok,
    /// Same timestamp and bit-identical value: nothing to do.
    Duplicate,
    OutOfOrder,
    /// Same timestamp, another value.
    Conflict,
    /// No such series (garbage-collected, or a WAL ref without its series record).
    UnknownSeries,
}

impl MemSeries {
    fn has_samples(&self) -> bool {
        self.open.num_samples() > 0 || !self.closed.is_empty()
    }

    fn check(&self, t: i64, v: f64) -> Appended {
        if self.open_mint == i64::MIN {
            // Never had a sample; the appender's zeroed last_t means nothing yet.
            return Appended::Ok;
        }
        let last = self.open.last_t();
        if t < last {
            Appended::OutOfOrder
        } else if t == last {
            if self.open.last_v_bits() == v.to_bits() { Appended::Duplicate } else { Appended::Conflict }
        } else {
            Appended::Ok
        }
    }

    /// Appends after `check`; returns whether a new chunk was started.
    fn append(&mut self, t: i64, v: f64, block_range: i64) -> (Appended, bool) {
        let c = self.check(t, v);
        if c != Appended::Ok {
            return (c, false);
        }
        let n = self.open.num_samples();
        let mut new_chunk = n == 0;
        if n > 0 {
            let window_end = (self.open_mint.div_euclid(block_range) + 1).saturating_mul(block_range);
            if n >= SAMPLES_PER_CHUNK || t >= window_end {
                let maxt = self.open.last_t();
                let data = self.open.finish();
                self.closed.push(ClosedChunk { mint: self.open_mint, maxt, data });
                new_chunk = true;
            }
        }
        if new_chunk {
            self.open_mint = t;
        }
        self.open.append(t, v);
        (Appended::Ok, new_chunk)
    }

    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.closed.iter().any(|c| c.maxt >= mint && c.mint <= maxt)
            || (self.open.num_samples() > 0 && self.open.last_t() >= mint && self.open_mint <= maxt)
    }

    fn heap_bytes(&self) -> usize {
        self.labels.len() * 4
            + self.closed.capacity() * std::mem::size_of::<ClosedChunk>()
            + self.closed.iter().map(|c| c.data.len()).sum::<usize>()
            + self.open.heap_bytes()
    }
}

#[derive(Default)]
struct SeriesShard {
    series: FastMap<u64, MemSeries>,
}

#[derive(Default)]
struct HashShard {
    refs: FastMap<u64, u64>,
    /// Label sets whose hash collides with one already in `refs` (practically never).
    collisions: Vec<(u64, u64)>,
}

#[derive(Default)]
struct MemPostings {
    by_name: FastMap<u32, FastMap<u32, Vec<u64>>>,
    all: Vec<u64>,
}

fn insert_sorted(v: &mut Vec<u64>, r: u64) {
    if v.is_empty() {
        // Most label values (instance, pod) belong to one series: do not reserve four slots.
        v.reserve_exact(1);
    }
    match v.last() {
        Some(&last) if last >= r => {
            let i = v.partition_point(|&x| x < r);
            if v.get(i) != Some(&r) {
                v.insert(i, r);
            }
        }
        _ => v.push(r),
    }
}

/// Head statistics for the HTTP API and self-metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadStats {
    pub num_series: u64,
    pub num_label_pairs: u64,
    pub chunk_count: u64,
    /// i64::MAX when the head is empty.
    pub min_time: i64,
    /// i64::MIN when the head is empty.
    pub max_time: i64,
}

/// Cardinality statistics in the shape of Prometheus's `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsdbStatus {
    pub series_count_by_metric_name: Vec<(String, u64)>,
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

pub(crate) struct Head {
    block_range: i64,
    symbols: RwLock<Symbols>,
    shards: Box<[Mutex<SeriesShard>]>,
    hashes: Box<[Mutex<HashShard>]>,
    postings: RwLock<MemPostings>,
    next_ref: AtomicU64,
    min_time: AtomicI64,
    max_time: AtomicI64,
    num_series: AtomicU64,
    num_chunks: AtomicI64,
}

fn strip_empty(labels: &Labels) -> std::borrow::Cow<'_, Labels> {
    if labels.iter().any(|l| l.value.is_empty()) {
        std::borrow::Cow::Owned(Labels::from_sorted(labels.iter().filter(|l| !l.value.is_empty()).cloned().collect()))
    } else {
        std::borrow::Cow::Borrowed(labels)
    }
}

impl Head {
    pub(crate) fn new(block_range: i64) -> Self {
        Head {
            block_range: block_range.max(1),
            symbols: RwLock::new(Symbols::default()),
            shards: (0..SHARDS).map(|_| Mutex::new(SeriesShard::default())).collect(),
            hashes: (0..SHARDS).map(|_| Mutex::new(HashShard::default())).collect(),
            postings: RwLock::new(MemPostings::default()),
            next_ref: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            num_series: AtomicU64::new(0),
            num_chunks: AtomicI64::new(0),
        }
    }

    fn shard(&self, r: u64) -> &Mutex<SeriesShard> {
        &self.shards[(r as usize) % SHARDS]
    }

    pub(crate) fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    pub(crate) fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.max_time() == i64::MIN
    }

    pub(crate) fn num_series(&self) -> u64 {
        self.num_series.load(Ordering::Relaxed)
    }

    pub(crate) fn num_chunks(&self) -> u64 {
        self.num_chunks.load(Ordering::Relaxed).max(0) as u64
    }

    /// Whether the series `r` has exactly these labels (None when `r` is gone).
    fn labels_equal(&self, r: u64, labels: &Labels) -> Option<bool> {
        let shard = self.shard(r).lock();
        let s = shard.series.get(&r)?;
        if s.labels.len() != labels.len() * 2 {
            return Some(false);
        }
        let syms = self.symbols.read();
        Some(
            labels
                .iter()
                .enumerate()
                .all(|(i, l)| syms.get(s.labels[2 * i]) == l.name && syms.get(s.labels[2 * i + 1]) == l.value),
        )
    }

    /// Finds the series with `labels` or creates it. `on_create` runs before anyone else can
    /// find the new series, so the WAL series record precedes every sample record using it.
    pub(crate) fn get_or_create(
        &self,
        labels: &Labels,
        forced_ref: Option<u64>,
        on_create: &mut dyn FnMut(u64, &Labels),
    ) -> Result<(u64, bool), AppendError> {
        let labels = strip_empty(labels);
        if labels.metric_name().is_empty() {
            return Err(AppendError::InvalidLabels);
        }
        let h = labels.hash();
        let mut hs = self.hashes[(h as usize) % SHARDS].lock();
        let primary = hs.refs.get(&h).copied();
        let mut primary_live = false;
        if let Some(r) = primary {
            match self.labels_equal(r, &labels) {
                Some(true) => return Ok((r, false)),
                Some(false) => primary_live = true,
                None => {}
            }
        }
        let cands: Vec<u64> = hs.collisions.iter().filter(|(ch, _)| *ch == h).map(|(_, r)| *r).collect();
        for r in cands {
            if self.labels_equal(r, &labels) == Some(true) {
                return Ok((r, false));
            }
        }
        let r = match forced_ref {
            Some(r) => {
                self.next_ref.fetch_max(r + 1, Ordering::AcqRel);
                r
            }
            None => self.next_ref.fetch_add(1, Ordering::AcqRel),
        };
        self.insert_series(r, &labels);
        if primary_live {
            hs.collisions.push((h, r));
        } else {
            hs.refs.insert(h, r);
        }
        on_create(r, &labels);
        Ok((r, true))
    }

    fn insert_series(&self, r: u64, labels: &Labels) {
        let ids: Box<[u32]> = {
            let mut syms = self.symbols.write();
            labels.iter().flat_map(|l| [syms.intern(&l.name), syms.intern(&l.value)]).collect()
        };
        let series = MemSeries {
            labels: ids.clone(),
            closed: Vec::new(),
            open: XorAppender::default(),
            open_mint: i64::MIN,
            pending: 0,
        };
        self.shard(r).lock().series.insert(r, series);
        let mut p = self.postings.write();
        for pair in ids.chunks_exact(2) {
            insert_sorted(p.by_name.entry(pair[0]).or_default().entry(pair[1]).or_default(), r);
        }
        insert_sorted(&mut p.all, r);
        drop(p);
        self.num_series.fetch_add(1, Ordering::Relaxed);
    }

    /// Validates a sample against the series' committed state and marks the series as having a
    /// pending sample. `None` when the series is unknown (garbage-collected).
    pub(crate) fn check_and_hold(&self, r: u64, t: i64, v: f64) -> Option<Result<bool, AppendError>> {
        let mut shard = self.shard(r).lock();
        let s = shard.series.get_mut(&r)?;
        Some(match s.check(t, v) {
            Appended::Ok => {
                s.pending += 1;
                Ok(true)
            }
            Appended::Duplicate => Ok(false),
            Appended::OutOfOrder | Appended::UnknownSeries => Err(AppendError::OutOfOrder),
            Appended::Conflict => Err(AppendError::DuplicateSampleForTimestamp),
        })
    }

    /// Releases the hold taken by `check_and_hold` without appending.
    pub(crate) fn release(&self, r: u64) {
        if let Some(s) = self.shard(r).lock().series.get_mut(&r) {
            s.pending = s.pending.saturating_sub(1);
        }
    }

    /// Appends a sample to series `r`. `held` releases a `check_and_hold` hold.
    pub(crate) fn append(&self, r: u64, t: i64, v: f64, held: bool) -> Appended {
        let (res, new_chunk) = {
            let mut shard = self.shard(r).lock();
            let Some(s) = shard.series.get_mut(&r) else {
                return Appended::UnknownSeries;
            };
            if held {
                s.pending = s.pending.saturating_sub(1);
            }
            s.append(t, v, self.block_range)
        };
        if res == Appended::Ok {
            if new_chunk {
                self.num_chunks.fetch_add(1, Ordering::Relaxed);
            }
            self.min_time.fetch_min(t, Ordering::AcqRel);
            self.max_time.fetch_max(t, Ordering::AcqRel);
        }
        res
    }

    pub(crate) fn has_series(&self, r: u64) -> bool {
        self.shard(r).lock().series.contains_key(&r)
    }

    pub(crate) fn index(&self) -> HeadIndex<'_> {
        HeadIndex { postings: self.postings.read(), symbols: self.symbols.read() }
    }

    fn resolve(&self, ids: &[u32]) -> Labels {
        let syms = self.symbols.read();
        Labels::from_sorted(
            ids.chunks_exact(2)
                .map(|p| Label { name: syms.get(p[0]).to_string(), value: syms.get(p[1]).to_string() })
                .collect(),
        )
    }

    /// Labels of `r` if it has data overlapping `[mint, maxt]`.
    pub(crate) fn series_labels(&self, r: u64, mint: i64, maxt: i64) -> Option<Labels> {
        let ids = {
            let shard = self.shard(r).lock();
            let s = shard.series.get(&r)?;
            if !s.overlaps(mint, maxt) {
                return None;
            }
            s.labels.clone()
        };
        Some(self.resolve(&ids))
    }

    /// Labels and samples of `r` in `[mint, maxt]`.
    pub(crate) fn series_samples(&self, r: u64, mint: i64, maxt: i64) -> Option<(Labels, Vec<Sample>)> {
        let mut out = Vec::new();
        let ids = {
            let shard = self.shard(r).lock();
            let s = shard.series.get(&r)?;
            if !s.overlaps(mint, maxt) {
                return None;
            }
            for c in &s.closed {
                if c.maxt >= mint && c.mint <= maxt {
                    // Head chunks are produced by this process; a decode error would be a bug.
                    // Report what decoded rather than poisoning the query.
                    if let Err(e) = decode_xor(&c.data, mint, maxt, &mut out) {
                        tracing::error!(series = r, bit = e.bit, reason = e.reason, "head chunk failed to decode");
                    }
                }
            }
            if s.open.num_samples() > 0
                && s.open.last_t() >= mint
                && s.open_mint <= maxt
                && let Err(e) = decode_xor(s.open.bytes(), mint, maxt, &mut out)
            {
                tracing::error!(series = r, bit = e.bit, reason = e.reason, "open head chunk failed to decode");
            }
            s.labels.clone()
        };
        if out.is_empty() {
            return None;
        }
        Some((self.resolve(&ids), out))
    }

    /// All series refs, ascending.
    pub(crate) fn all_refs(&self) -> Vec<u64> {
        self.postings.read().all.clone()
    }

    /// Drops chunks entirely before `mint` and garbage-collects series left without samples.
    /// Returns (chunks removed, series removed).
    pub(crate) fn truncate(&self, mint: i64) -> (u64, u64) {
        let mut chunks_removed = 0u64;
        let mut removed: Vec<(u64, Box<[u32]>)> = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.series.retain(|&r, s| {
                let before = s.closed.len();
                s.closed.retain(|c| c.maxt >= mint);
                chunks_removed += (before - s.closed.len()) as u64;
                if s.open.num_samples() > 0 && s.open.last_t() < mint {
                    // Keep last_t/last value for ordering checks; only the data goes.
                    let _ = s.open.finish();
                    chunks_removed += 1;
                }
                if s.closed.capacity() > s.closed.len() * 2 {
                    s.closed.shrink_to_fit();
                }
                if !s.has_samples() && s.pending == 0 {
                    removed.push((r, std::mem::take(&mut s.labels)));
                    false
                } else {
                    true
                }
            });
        }
        self.num_chunks.fetch_sub(chunks_removed as i64, Ordering::Relaxed);
        // Raise min_time to the truncation point (Prometheus's head.minTime after truncation).
        let _ = self.min_time.fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
            if cur == i64::MAX || cur >= mint { None } else { Some(mint) }
        });
        if removed.is_empty() {
            return (chunks_removed, 0);
        }
        // Hash index: only drop entries that still point at the removed ref.
        let hashes: Vec<(u64, u64)> = removed.iter().map(|(r, ids)| (self.resolve(ids).hash(), *r)).collect();
        for (h, r) in hashes {
            let mut hs = self.hashes[(h as usize) % SHARDS].lock();
            if hs.refs.get(&h) == Some(&r) {
                hs.refs.remove(&h);
            }
            hs.collisions.retain(|&(_, cr)| cr != r);
        }
        let gone: HashSet<u64, ahash::RandomState> = removed.iter().map(|(r, _)| *r).collect();
        {
            let mut p = self.postings.write();
            let mut pairs: HashSet<(u32, u32), ahash::RandomState> = HashSet::default();
            for (_, ids) in &removed {
                for pair in ids.chunks_exact(2) {
                    pairs.insert((pair[0], pair[1]));
                }
            }
            for (n, v) in pairs {
                if let Some(values) = p.by_name.get_mut(&n) {
                    if let Some(list) = values.get_mut(&v) {
                        list.retain(|r| !gone.contains(r));
                        if list.is_empty() {
                            values.remove(&v);
                        }
                    }
                    if values.is_empty() {
                        p.by_name.remove(&n);
                    }
                }
            }
            p.all.retain(|r| !gone.contains(r));
        }
        {
            let mut syms = self.symbols.write();
            for (_, ids) in &removed {
                for &id in ids.iter() {
                    syms.release(id);
                }
            }
        }
        self.num_series.fetch_sub(removed.len() as u64, Ordering::Relaxed);
        if self.num_series() == 0 {
            self.min_time.store(i64::MAX, Ordering::Release);
            self.max_time.store(i64::MIN, Ordering::Release);
        }
        (chunks_removed, removed.len() as u64)
    }

    pub(crate) fn stats(&self) -> HeadStats {
        let pairs = self.postings.read().by_name.values().map(|v| v.len() as u64).sum();
        HeadStats {
            num_series: self.num_series(),
            num_label_pairs: pairs,
            chunk_count: self.num_chunks(),
            min_time: self.min_time(),
            max_time: self.max_time(),
        }
    }

    /// Bytes the series structures hold on the heap (excluding the maps holding them).
    pub(crate) fn series_heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.series.capacity() * (std::mem::size_of::<MemSeries>() + 9)
                    + s.series.values().map(MemSeries::heap_bytes).sum::<usize>()
            })
            .sum()
    }

    pub(crate) fn tsdb_status(&self, limit: usize) -> TsdbStatus {
        let p = self.postings.read();
        let syms = self.symbols.read();
        let mut by_metric = Vec::new();
        let mut value_counts = Vec::new();
        let mut mem = Vec::new();
        let mut pairs = Vec::new();
        for (&n, values) in &p.by_name {
            let name = syms.get(n);
            value_counts.push((name.to_string(), values.len() as u64));
            let mut bytes = 0u64;
            for (&v, list) in values {
                let value = syms.get(v);
                bytes += value.len() as u64;
                pairs.push((format!("{name}={value}"), list.len() as u64));
                if name == oxeye_model::METRIC_NAME {
                    by_metric.push((value.to_string(), list.len() as u64));
                }
            }
            mem.push((name.to_string(), bytes));
        }
        fn top(mut v: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(limit);
            v
        }
        TsdbStatus {
            series_count_by_metric_name: top(by_metric, limit),
            label_value_count_by_label_name: top(value_counts, limit),
            memory_in_bytes_by_label_name: top(mem, limit),
            series_count_by_label_value_pair: top(pairs, limit),
        }
    }
}

/// A read view of the head's inverted index.
pub(crate) struct HeadIndex<'a> {
    postings: parking_lot::RwLockReadGuard<'a, MemPostings>,
    symbols: parking_lot::RwLockReadGuard<'a, Symbols>,
}

impl HeadIndex<'_> {
    pub(crate) fn label_names(&self) -> Vec<String> {
        self.postings.by_name.keys().map(|&n| self.symbols.get(n).to_string()).collect()
    }

    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        let Some(n) = self.symbols.lookup(name) else { return Vec::new() };
        match self.postings.by_name.get(&n) {
            Some(values) => values.keys().map(|&v| self.symbols.get(v).to_string()).collect(),
            None => Vec::new(),
        }
    }
}

impl PostingsIndex for HeadIndex<'_> {
    fn all_postings(&self) -> Result<Vec<u64>> {
        Ok(self.postings.all.clone())
    }

    fn postings_eq(&self, name: &str, value: &str) -> Result<Vec<u64>> {
        let (Some(n), Some(v)) = (self.symbols.lookup(name), self.symbols.lookup(value)) else {
            return Ok(Vec::new());
        };
        Ok(self.postings.by_name.get(&n).and_then(|m| m.get(&v)).cloned().unwrap_or_default())
    }

    fn postings_where(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> Result<Vec<u64>> {
        let Some(n) = self.symbols.lookup(name) else { return Ok(Vec::new()) };
        let Some(values) = self.postings.by_name.get(&n) else { return Ok(Vec::new()) };
        let lists: Vec<Vec<u64>> =
            values.iter().filter(|(v, _)| pred(self.symbols.get(**v))).map(|(_, l)| l.clone()).collect();
        Ok(crate::postings::union(lists))
    }
}
