//! `Db`: ties the head, the WAL and the persisted blocks together. It implements the model's
//! `Appendable` and `Queryable`, replays the WAL at open, and runs the background work: WAL
//! fsync, head compaction into blocks, block compaction, retention and WAL checkpointing.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use oxeye_model::storage::{Appendable, Appender, Queryable};
use oxeye_model::{AppendError, Labels, Matcher, Sample, Series, SeriesRef, StorageError};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::block::{self, Block, BlockMeta};
use crate::head::{Appended, Head, HeadStats, TsdbStatus};
use crate::metrics::Metrics;
use crate::postings::{PostingsIndex, postings_for_matchers};
use crate::wal::{self, Wal};
use crate::{Error, Result};

/// Database options. `Default` gives Prometheus's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Delete blocks whose data is older than this (relative to the newest block's end).
    pub retention: Option<Duration>,
    /// Delete the oldest blocks while blocks + WAL exceed this many bytes.
    pub max_bytes: Option<u64>,
    /// Time range of a block cut from the head (2h).
    pub block_range: Duration,
    /// WAL segment size before a new segment is started (128 MiB).
    pub wal_segment_size: u64,
    /// How often the WAL is fsynced when it has new data (power-loss window).
    pub wal_sync_interval: Duration,
    /// Largest block compaction produces; default 10% of retention, at most 31 days.
    pub max_block_duration: Option<Duration>,
    /// How often the background thread compacts and applies retention (1 minute).
    pub compaction_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention: Some(Duration::from_secs(15 * 24 * 3600)),
            max_bytes: None,
            block_range: Duration::from_secs(2 * 3600),
            wal_segment_size: 128 << 20,
            wal_sync_interval: Duration::from_secs(1),
            max_block_duration: None,
            compaction_interval: Duration::from_secs(60),
        }
    }
}

/// A series' chunks in each input block of a compaction: (block index, chunk metas).
type SeriesChunks = Vec<(usize, Vec<block::ChunkMeta>)>;

#[derive(Default)]
struct BgState {
    wake: bool,
    stop: bool,
}

/// The time series database.
pub struct Db {
    dir: PathBuf,
    opts: Options,
    block_range: i64,
    head: Head,
    wal: Wal,
    blocks: RwLock<Vec<Arc<Block>>>,
    /// End (exclusive) of the newest persisted block: appends below it are out of bounds.
    min_valid_time: AtomicI64,
    lock_file: Mutex<Option<File>>,
    compact_lock: Mutex<()>,
    closed: AtomicBool,
    metrics: Metrics,
    bg: Arc<(Mutex<BgState>, Condvar)>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What WAL replay found.
#[derive(Debug, Default, Clone, Copy)]
struct ReplayStats {
    series: u64,
    samples: u64,
    unknown_refs: u64,
    corruptions: u64,
}

impl Db {
    /// Opens (creating if needed) the database at `dir`: takes the lock, loads blocks, replays
    /// the WAL. A torn or corrupt WAL tail is truncated and counted, never a failed start.
    pub fn open(dir: &Path, opts: Options) -> Result<Arc<Db>> {
        let started = Instant::now();
        let wal_dir = dir.join("wal");
        fs::create_dir_all(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
        let lock_path = dir.join("lock");
        let lock_file = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let block_range = ms(opts.block_range).max(1);
        let metrics = Metrics::new();
        let blocks = load_blocks(dir)?;
        let min_valid = blocks.iter().map(|b| b.meta.max_time).max().unwrap_or(i64::MIN);
        let head = Head::new(block_range);
        let files = wal::list(&wal_dir)?;
        let stats = replay(&files, &head, min_valid)?;
        metrics.wal_corruptions.inc_by(stats.corruptions);
        let next_segment =
            files.segments.last().map(|(n, _)| n + 1).or(files.checkpoint.as_ref().map(|(n, _)| n + 1)).unwrap_or(1);
        let wal = Wal::open(&wal_dir, opts.wal_segment_size, next_segment)?;
        metrics.retention_limit_bytes.set(opts.max_bytes.map(|b| b as i64).unwrap_or(0));
        let db = Db {
            dir: dir.to_path_buf(),
            opts,
            block_range,
            head,
            wal,
            blocks: RwLock::new(blocks),
            min_valid_time: AtomicI64::new(min_valid),
            lock_file: Mutex::new(Some(lock_file)),
            compact_lock: Mutex::new(()),
            closed: AtomicBool::new(false),
            metrics,
            bg: Arc::new((Mutex::new(BgState::default()), Condvar::new())),
        };
        db.refresh_gauges();
        db.refresh_block_gauges();
        tracing::info!(
            dir = %dir.display(),
            blocks = db.blocks.read().len(),
            series = stats.series,
            samples = stats.samples,
            unknown_series_refs = stats.unknown_refs,
            wal_corruptions = stats.corruptions,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "TSDB opened"
        );
        Ok(Arc::new(db))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn min_valid_time(&self) -> i64 {
        let blocks_end = self.min_valid_time.load(Ordering::Acquire);
        if self.head.is_empty() {
            return blocks_end;
        }
        blocks_end.max(self.head.max_time().saturating_sub(self.block_range / 2))
    }

    fn refresh_gauges(&self) {
        let m = &self.metrics;
        m.head_series.set(self.head.num_series() as i64);
        m.head_chunks.set(self.head.num_chunks() as i64);
        m.head_min_time.set(self.head.min_time());
        m.head_max_time.set(self.head.max_time());
    }

    fn refresh_block_gauges(&self) {
        let blocks = self.blocks.read();
        self.metrics.blocks_loaded.set(blocks.len() as i64);
        self.metrics.blocks_bytes.set(blocks.iter().map(|b| b.size_bytes as i64).sum());
    }

    /// Head statistics (series, label pairs, chunks, time range).
    pub fn head_stats(&self) -> HeadStats {
        self.head.stats()
    }

    /// Cardinality statistics of the head for `/api/v1/status/tsdb`, top `limit` per list.
    pub fn tsdb_status(&self, limit: usize) -> TsdbStatus {
        self.head.tsdb_status(limit)
    }

    /// Bytes held by head series structures on the heap (chunks, label ids, series records).
    pub fn head_series_heap_bytes(&self) -> usize {
        self.head.series_heap_bytes()
    }

    /// Metadata of the loaded blocks, oldest first.
    pub fn blocks(&self) -> Vec<BlockMeta> {
        self.blocks.read().iter().map(|b| b.meta.clone()).collect()
    }

    /// Registers the TSDB's self-metrics.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.refresh_gauges();
        self.metrics.register(registry);
    }

    /// Flushes the WAL, fsyncs it, stops background work and releases the directory lock.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let (m, cv) = &*self.bg;
            m.lock().stop = true;
            cv.notify_all();
        }
        let _guard = self.compact_lock.lock();
        self.wal.flush()?;
        self.wal.sync()?;
        if let Some(f) = self.lock_file.lock().take() {
            let _ = f.unlock();
        }
        tracing::info!(dir = %self.dir.display(), "TSDB closed");
        Ok(())
    }

    /// Starts the background thread: WAL fsync every `wal_sync_interval`, compaction and
    /// retention every `compaction_interval` or when `request_compaction` is called.
    pub fn start_background(self: &Arc<Self>) {
        let weak: Weak<Db> = Arc::downgrade(self);
        let bg = self.bg.clone();
        let tick = self.opts.wal_sync_interval.min(Duration::from_secs(1)).max(Duration::from_millis(10));
        let every = self.opts.compaction_interval;
        let spawned = std::thread::Builder::new().name("tsdb-background".into()).spawn(move || {
            let mut last_compact = Instant::now();
            loop {
                let wake = {
                    let (m, cv) = &*bg;
                    let mut st = m.lock();
                    if !st.wake && !st.stop {
                        cv.wait_for(&mut st, tick);
                    }
                    if st.stop {
                        return;
                    }
                    std::mem::take(&mut st.wake)
                };
                // Hold the Db only while working, so dropping the last user handle frees it.
                let Some(db) = weak.upgrade() else { return };
                if let Err(e) = db.wal.sync() {
                    tracing::error!(error = %e, "WAL fsync failed");
                }
                if wake || last_compact.elapsed() >= every {
                    last_compact = Instant::now();
                    if let Err(e) = db.compact() {
                        tracing::error!(error = %e, "compaction failed");
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the TSDB background thread");
        }
    }

    /// Asks the background thread to compact now.
    pub fn request_compaction(&self) {
        let (m, cv) = &*self.bg;
        m.lock().wake = true;
        cv.notify_all();
    }

    /// Runs head compaction, block compaction, retention and WAL truncation synchronously.
    pub fn compact_head_now(&self) -> Result<()> {
        self.compact()
    }

    fn compact(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let _guard = self.compact_lock.lock();
        let mut truncated_to = None;
        while !self.head.is_empty() {
            let (hmin, hmax) = (self.head.min_time(), self.head.max_time());
            // Prometheus compacts once the head spans 1.5 block ranges, leaving half a range
            // of appendable window in memory.
            if hmax.saturating_sub(hmin) <= self.block_range / 2 * 3 {
                break;
            }
            let mint = hmin.div_euclid(self.block_range) * self.block_range;
            let maxt = mint + self.block_range;
            if let Err(e) = self.compact_head_range(mint, maxt) {
                self.metrics.compactions_failed.inc();
                return Err(e);
            }
            truncated_to = Some(maxt);
        }
        if let Some(maxt) = truncated_to {
            let sealed = self.wal.cut()?;
            let head = &self.head;
            self.wal.checkpoint(sealed, maxt, &|r| head.has_series(r))?;
            self.metrics.wal_truncations.inc();
        }
        while let Some(group) = self.plan() {
            if let Err(e) = self.compact_blocks(&group) {
                self.metrics.compactions_failed.inc();
                return Err(e);
            }
        }
        self.apply_retention()?;
        self.refresh_gauges();
        self.refresh_block_gauges();
        Ok(())
    }

    fn compact_head_range(&self, mint: i64, maxt: i64) -> Result<()> {
        let started = Instant::now();
        let mut series: Vec<(Labels, u64)> = self
            .head
            .all_refs()
            .into_iter()
            .filter_map(|r| self.head.series_labels(r, mint, maxt - 1).map(|l| (l, r)))
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let labels: Vec<Labels> = series.iter().map(|(l, _)| l.clone()).collect();
        let head = &self.head;
        let meta = block::write_block(&self.dir, mint, maxt, 1, Vec::new(), &labels, &mut |i| {
            Ok(head.series_samples(series[i].1, mint, maxt - 1).map(|(_, s)| s).unwrap_or_default())
        })?;
        if let Some(meta) = &meta {
            let b = Block::open(&self.dir.join(&meta.ulid))?;
            let mut blocks = self.blocks.write();
            blocks.push(Arc::new(b));
            blocks.sort_by_key(|b| b.meta.min_time);
        }
        // Raise the bound before dropping head data so no append lands in the persisted range.
        self.min_valid_time.fetch_max(maxt, Ordering::AcqRel);
        let (chunks, removed) = self.head.truncate(maxt);
        self.metrics.series_removed.inc_by(removed);
        self.metrics.compactions.inc();
        tracing::info!(
            mint,
            maxt,
            block = meta.as_ref().map(|m| m.ulid.as_str()).unwrap_or("(empty)"),
            samples = meta.as_ref().map(|m| m.stats.num_samples).unwrap_or(0),
            chunks_dropped = chunks,
            series_removed = removed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "head compacted"
        );
        Ok(())
    }

    fn ranges(&self) -> Vec<i64> {
        let limit = match (self.opts.max_block_duration, self.opts.retention) {
            (Some(d), _) => ms(d),
            (None, Some(r)) => (ms(r) / 10).min(31 * 24 * 3600 * 1000),
            (None, None) => 31 * 24 * 3600 * 1000,
        };
        let mut out = vec![self.block_range];
        for _ in 0..10 {
            let next = out[out.len() - 1].saturating_mul(3);
            if next > limit {
                break;
            }
            out.push(next);
        }
        out
    }

    /// Prometheus's leveled planner: ignore the newest block, then pick the first group of
    /// blocks that fills an aligned window of the next range (or lies wholly before the newest).
    fn plan(&self) -> Option<Vec<Arc<Block>>> {
        let blocks = self.blocks.read();
        if blocks.len() < 2 {
            return None;
        }
        let ds = &blocks[..blocks.len() - 1];
        let high = ds[ds.len() - 1].meta.min_time;
        for &r in self.ranges().iter().skip(1) {
            let mut i = 0;
            while i < ds.len() {
                let t0 = ds[i].meta.min_time.div_euclid(r) * r;
                if ds[i].meta.max_time > t0 + r {
                    i += 1;
                    continue;
                }
                let mut j = i;
                while j < ds.len() && ds[j].meta.max_time <= t0 + r && ds[j].meta.min_time >= t0 {
                    j += 1;
                }
                let part = &ds[i..j];
                let (mint, maxt) = (part[0].meta.min_time, part[part.len() - 1].meta.max_time);
                if part.len() > 1 && (maxt - mint == r || maxt <= high) {
                    return Some(part.to_vec());
                }
                i = j.max(i + 1);
            }
        }
        None
    }

    fn compact_blocks(&self, group: &[Arc<Block>]) -> Result<()> {
        let started = Instant::now();
        let mint = group.iter().map(|b| b.meta.min_time).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta.max_time).max().unwrap_or(0);
        let level = group.iter().map(|b| b.meta.compaction.level).max().unwrap_or(1) + 1;
        let mut sources: Vec<String> = group.iter().flat_map(|b| b.meta.compaction.sources.clone()).collect();
        sources.sort();
        sources.dedup();
        let mut by_labels: BTreeMap<Labels, SeriesChunks> = BTreeMap::new();
        for (bi, b) in group.iter().enumerate() {
            for id in b.all_postings()? {
                let (ls, metas) = b.series(id)?;
                by_labels.entry(ls).or_default().push((bi, metas));
            }
        }
        let entries: Vec<(Labels, SeriesChunks)> = by_labels.into_iter().collect();
        let labels: Vec<Labels> = entries.iter().map(|(l, _)| l.clone()).collect();
        let meta = block::write_block(&self.dir, mint, maxt, level, sources, &labels, &mut |i| {
            let mut out: Vec<Sample> = Vec::new();
            for (bi, metas) in &entries[i].1 {
                let mut part = Vec::new();
                for m in metas {
                    group[*bi].read_chunk(m, i64::MIN, i64::MAX, &mut part)?;
                }
                merge_into(&mut out, part);
            }
            Ok(out)
        })?;
        let new_block = match &meta {
            Some(m) => Some(Arc::new(Block::open(&self.dir.join(&m.ulid))?)),
            None => None,
        };
        {
            let mut blocks = self.blocks.write();
            blocks.retain(|b| !group.iter().any(|g| g.meta.ulid == b.meta.ulid));
            if let Some(b) = new_block {
                blocks.push(b);
            }
            blocks.sort_by_key(|b| b.meta.min_time);
        }
        for b in group {
            block::delete_block(&b.dir)?;
        }
        self.metrics.compactions.inc();
        tracing::info!(
            mint,
            maxt,
            level,
            merged = group.len(),
            block = meta.as_ref().map(|m| m.ulid.as_str()).unwrap_or("(empty)"),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "blocks compacted"
        );
        Ok(())
    }

    /// Deletes whole oldest blocks beyond the time or size limit, as Prometheus's
    /// BeyondTimeRetention / BeyondSizeRetention do (the WAL counts toward the size).
    fn apply_retention(&self) -> Result<()> {
        let blocks = self.blocks.read().clone();
        let mut delete: Vec<Arc<Block>> = Vec::new();
        if let (Some(ret), Some(newest)) = (self.opts.retention, blocks.last()) {
            let cut = newest.meta.max_time.saturating_sub(ms(ret));
            let old: Vec<_> = blocks[..blocks.len() - 1].iter().filter(|b| b.meta.max_time < cut).cloned().collect();
            if !old.is_empty() {
                self.metrics.time_retentions.inc();
                tracing::info!(blocks = old.len(), retention_ms = ms(ret), "deleting blocks beyond time retention");
                delete.extend(old);
            }
        }
        if let Some(max) = self.opts.max_bytes.filter(|m| *m > 0) {
            let mut total = self.wal.size_bytes();
            let mut over = Vec::new();
            for b in blocks.iter().rev() {
                if delete.iter().any(|d| d.meta.ulid == b.meta.ulid) {
                    continue;
                }
                total += b.size_bytes;
                if total > max {
                    over.push(b.clone());
                }
            }
            if !over.is_empty() {
                self.metrics.size_retentions.inc();
                tracing::info!(blocks = over.len(), max_bytes = max, "deleting blocks beyond size retention");
                delete.extend(over);
            }
        }
        if delete.is_empty() {
            return Ok(());
        }
        self.blocks.write().retain(|b| !delete.iter().any(|d| d.meta.ulid == b.meta.ulid));
        for b in &delete {
            block::delete_block(&b.dir)?;
        }
        Ok(())
    }

    /// Matching series with their samples in range, sorted by labels, one entry per label set
    /// (a series present in several blocks and the head is merged by timestamp). Collected
    /// into a vector and sorted once: cheaper than keeping a sorted map while collecting.
    fn query(&self, mint: i64, maxt: i64, ms: &[Matcher], want_samples: bool) -> Result<Vec<(Labels, Vec<Sample>)>> {
        let mut out: Vec<(Labels, Vec<Sample>)> = Vec::new();
        let blocks: Vec<Arc<Block>> = self.blocks.read().iter().filter(|b| b.overlaps(mint, maxt)).cloned().collect();
        for b in &blocks {
            for id in postings_for_matchers(b.as_ref(), ms)? {
                let (ls, metas) = b.series(id)?;
                let mut samples = Vec::new();
                let mut any = false;
                for m in metas.iter().filter(|m| m.maxt >= mint && m.mint <= maxt) {
                    any = true;
                    if want_samples {
                        b.read_chunk(m, mint, maxt, &mut samples)?;
                    }
                }
                if want_samples && samples.is_empty() || !any {
                    continue;
                }
                out.push((ls, samples));
            }
        }
        let refs = postings_for_matchers(&self.head.index(), ms)?;
        for r in refs {
            if want_samples {
                if let Some(entry) = self.head.series_samples(r, mint, maxt) {
                    out.push(entry);
                }
            } else if let Some(ls) = self.head.series_labels(r, mint, maxt) {
                out.push((ls, Vec::new()));
            }
        }
        // Stable: for one label set, block data (older) stays ahead of head data.
        out.sort_by(|a, b| a.0.cmp(&b.0));
        let mut merged: Vec<(Labels, Vec<Sample>)> = Vec::with_capacity(out.len());
        for (ls, samples) in out {
            match merged.last_mut() {
                Some((last, acc)) if *last == ls => merge_into(acc, samples),
                _ => merged.push((ls, samples)),
            }
        }
        Ok(merged)
    }

    fn names_and_values(&self, mint: i64, maxt: i64, name: Option<&str>) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for b in self.blocks.read().iter().filter(|b| b.overlaps(mint, maxt)) {
            match name {
                Some(n) => all.extend(b.label_values(n)),
                None => all.extend(b.label_names()),
            }
        }
        if !self.head.is_empty() && self.head.min_time() <= maxt && self.head.max_time() >= mint {
            let ix = self.head.index();
            match name {
                Some(n) => all.extend(ix.label_values(n)),
                None => all.extend(ix.label_names()),
            }
        }
        all.sort();
        all.dedup();
        all
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) {
            let (m, cv) = &*self.bg;
            m.lock().stop = true;
            cv.notify_all();
            if let Err(e) = self.wal.flush() {
                tracing::error!(error = %e, "WAL flush on drop failed");
            }
        }
    }
}

/// Merges `new` into `dst` by timestamp; on equal timestamps the sample already in `dst` wins.
fn merge_into(dst: &mut Vec<Sample>, new: Vec<Sample>) {
    if new.is_empty() {
        return;
    }
    if dst.last().is_none_or(|l| l.t < new[0].t) {
        dst.extend(new);
        return;
    }
    dst.extend(new);
    dst.sort_by_key(|s| s.t);
    dst.dedup_by_key(|s| s.t);
}

fn load_blocks(dir: &Path) -> Result<Vec<Arc<Block>>> {
    let mut blocks = Vec::new();
    for p in block::list_blocks(dir)? {
        blocks.push(Block::open(&p)?);
    }
    // A crash between writing a compacted block and deleting its inputs leaves both; the
    // inputs are recognisable because the compacted block lists them as sources.
    let mut keep: Vec<Block> = Vec::new();
    let subsumed: Vec<bool> = blocks
        .iter()
        .map(|b| {
            blocks.iter().any(|c| {
                c.meta.ulid != b.meta.ulid
                    && c.meta.compaction.level > b.meta.compaction.level
                    && b.meta.compaction.sources.iter().all(|s| c.meta.compaction.sources.contains(s))
            })
        })
        .collect();
    for (b, sub) in blocks.into_iter().zip(subsumed) {
        if sub {
            tracing::info!(block = %b.meta.ulid, "deleting block already merged into a compacted block");
            block::delete_block(&b.dir)?;
        } else {
            keep.push(b);
        }
    }
    keep.sort_by_key(|b| b.meta.min_time);
    Ok(keep.into_iter().map(Arc::new).collect())
}

fn replay(files: &wal::WalFiles, head: &Head, min_valid: i64) -> Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    let mut ref_map: HashMap<u64, u64, ahash::RandomState> = HashMap::default();
    let mut inputs: Vec<(Option<u32>, PathBuf)> = Vec::new();
    if let Some((n, p)) = &files.checkpoint {
        tracing::info!(checkpoint = n, "replaying WAL checkpoint");
        inputs.push((None, p.clone()));
    }
    inputs.extend(files.segments.iter().map(|(n, p)| (Some(*n), p.clone())));
    let last_segment = files.segments.last().map(|(n, _)| *n);
    let mut stop_after: Option<u32> = None;
    for (seg, path) in &inputs {
        if let (Some(stop), Some(s)) = (stop_after, seg)
            && *s > stop
        {
            // Prometheus's repair: segments after a corruption cannot be trusted to follow on.
            tracing::warn!(segment = s, "deleting WAL segment after a corrupt one");
            fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            continue;
        }
        let outcome = wal::read_records(path, |typ, payload| {
            if typ == wal::REC_SERIES {
                let series =
                    wal::decode_series(payload).ok_or_else(|| Error::corrupt(path, 0, "undecodable series record"))?;
                for (r, ls) in series {
                    match head.get_or_create(&ls, Some(r), &mut |_, _| {}) {
                        Ok((actual, created)) => {
                            if actual != r {
                                ref_map.insert(r, actual);
                            }
                            stats.series += u64::from(created);
                        }
                        Err(e) => tracing::warn!(series_ref = r, error = %e, "WAL series record with invalid labels"),
                    }
                }
            } else {
                wal::decode_samples(payload, |r, t, v| {
                    if t < min_valid {
                        return;
                    }
                    let r = ref_map.get(&r).copied().unwrap_or(r);
                    match head.append(r, t, v, false) {
                        Appended::Ok => stats.samples += 1,
                        Appended::UnknownSeries => stats.unknown_refs += 1,
                        _ => {}
                    }
                })
                .ok_or_else(|| Error::corrupt(path, 0, "undecodable samples record"))?;
            }
            Ok(())
        })?;
        if let Some((off, reason)) = outcome.corruption {
            stats.corruptions += 1;
            tracing::warn!(file = %path.display(), offset = off, reason, "WAL corruption: truncating to the valid prefix");
            if seg.is_some() {
                let f = fs::OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
                f.set_len(outcome.valid_len).map_err(|e| Error::io(path, e))?;
                f.sync_all().map_err(|e| Error::io(path, e))?;
                if *seg != last_segment {
                    stop_after = *seg;
                }
            }
        }
        tracing::info!(
            file = %path.display(),
            segment = seg.map(i64::from).unwrap_or(-1),
            last_segment = last_segment.map(i64::from).unwrap_or(-1),
            series = head.num_series(),
            samples = stats.samples,
            "WAL replay progress"
        );
    }
    Ok(stats)
}

struct DbAppender<'a> {
    db: &'a Db,
    samples: Vec<(u64, i64, f64)>,
}

impl DbAppender<'_> {
    fn hold(&self, r: u64, t: i64, v: f64) -> Option<Result<bool, AppendError>> {
        let res = self.db.head.check_and_hold(r, t, v)?;
        if res == Err(AppendError::OutOfOrder) {
            self.db.metrics.out_of_order.inc();
        }
        Some(res)
    }
}

impl Appender for DbAppender<'_> {
    fn append(&mut self, cached: Option<SeriesRef>, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        if self.db.closed.load(Ordering::Relaxed) {
            return Err(AppendError::Storage("the database is closed".into()));
        }
        if t < self.db.min_valid_time() {
            self.db.metrics.out_of_bound.inc();
            return Err(AppendError::OutOfBounds);
        }
        let mut r = cached;
        for _ in 0..3 {
            let id = match r {
                Some(id) => id,
                None => {
                    let wal = &self.db.wal;
                    let created = &self.db.metrics.series_created;
                    self.db
                        .head
                        .get_or_create(labels, None, &mut |r, ls| {
                            wal.log_series(r, ls);
                            created.inc();
                        })?
                        .0
                }
            };
            match self.hold(id, t, v) {
                Some(Ok(true)) => {
                    self.samples.push((id, t, v));
                    return Ok(id);
                }
                Some(Ok(false)) => return Ok(id),
                Some(Err(e)) => return Err(e),
                // Unknown ref (garbage-collected or stale cache): look the labels up.
                None => r = None,
            }
        }
        Err(AppendError::Storage("series vanished during append".into()))
    }

    fn append_by_ref(&mut self, id: SeriesRef, t: i64, v: f64) -> Result<bool, AppendError> {
        if self.db.closed.load(Ordering::Relaxed) {
            return Err(AppendError::Storage("the database is closed".into()));
        }
        if t < self.db.min_valid_time() {
            self.db.metrics.out_of_bound.inc();
            return Err(AppendError::OutOfBounds);
        }
        match self.hold(id, t, v) {
            Some(Ok(true)) => {
                self.samples.push((id, t, v));
                Ok(true)
            }
            Some(Ok(false)) => Ok(true),
            Some(Err(e)) => Err(e),
            None => Ok(false),
        }
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let db = self.db;
        if self.samples.is_empty() {
            return db.wal.flush().map_err(Into::into);
        }
        let mut payload = Vec::with_capacity(self.samples.len() * 14 + 10);
        wal::encode_samples(&mut payload, &self.samples);
        if let Err(e) = db.wal.log_samples(&payload) {
            for &(r, _, _) in &self.samples {
                db.head.release(r);
            }
            return Err(e.into());
        }
        let mut appended = 0u64;
        let mut ooo = 0u64;
        for &(r, t, v) in &self.samples {
            match db.head.append(r, t, v, true) {
                Appended::Ok => appended += 1,
                Appended::Duplicate => {}
                _ => ooo += 1,
            }
        }
        db.metrics.samples_appended.inc_by(appended);
        if ooo > 0 {
            db.metrics.out_of_order.inc_by(ooo);
        }
        db.refresh_gauges();
        Ok(())
    }

    fn rollback(self: Box<Self>) {
        for &(r, _, _) in &self.samples {
            self.db.head.release(r);
        }
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(DbAppender { db: self, samples: Vec::new() })
    }
}

impl Queryable for Db {
    fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Series>, StorageError> {
        let m = self.query(mint, maxt, matchers, true)?;
        Ok(m.into_iter().filter(|(_, s)| !s.is_empty()).map(|(labels, samples)| Series { labels, samples }).collect())
    }

    fn series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<Labels>, StorageError> {
        Ok(self.query(mint, maxt, matchers, false)?.into_iter().map(|(l, _)| l).collect())
    }

    fn label_names(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        if matchers.is_empty() {
            return Ok(self.names_and_values(mint, maxt, None));
        }
        let mut names: Vec<String> = self
            .query(mint, maxt, matchers, false)?
            .into_iter()
            .flat_map(|(l, _)| l.into_vec().into_iter().map(|l| l.name))
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
        if matchers.is_empty() {
            return Ok(self.names_and_values(mint, maxt, Some(name)));
        }
        let mut values: Vec<String> = self
            .query(mint, maxt, matchers, false)?
            .into_iter()
            .map(|(l, _)| l.get(name).to_string())
            .filter(|v| !v.is_empty())
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}
