//! One scrape loop per target: waits for the target's phase, then every interval fetches the
//! body, parses it, turns each line into a series through the scrape cache (target labels,
//! `honor_labels`, `metric_relabel_configs`, limits), appends and commits once per scrape with the
//! report series (`up`, `scrape_duration_seconds`, ...), and writes staleness markers for series
//! that vanish, for failed scrapes and for a target that goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oxeye_model::storage::{AppendError, Appendable, Appender, SeriesRef};
use oxeye_model::{Labels, LabelsBuilder, METRIC_NAME, STALE_NAN, format_duration};
use oxeye_textparse::{Entry, Format, Parser, Validation};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cache::ScrapeCache;
use crate::client::{FetchError, Request, fetch};
use crate::job::ScrapeJob;
use crate::metrics::{IntervalLabels, ScrapeMetrics};
use crate::target::Target;

/// The message of a scrape failed by `sample_limit`.
pub const SAMPLE_LIMIT_ERROR: &str = "sample limit exceeded";

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// How a loop is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum StopMode {
    /// The target went away: write staleness markers when the next scrape would have happened.
    Vanished = 0,
    /// A replacement loop takes over (config reload): hand the last scrape's series over.
    Handover = 1,
    /// The server is shutting down: write nothing (it will resume where it stopped).
    Shutdown = 2,
}

/// A running loop, owned by its scrape pool.
pub(crate) struct LoopHandle {
    pub id: u64,
    pub started: SystemTime,
    pub target: Arc<Target>,
    cancel: CancellationToken,
    mode: Arc<AtomicU8>,
    join: JoinHandle<Vec<(u64, Labels)>>,
}

impl LoopHandle {
    pub fn stop(&self, mode: StopMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        self.cancel.cancel();
    }

    /// Stops the loop and returns the series its last successful scrape wrote.
    pub async fn handover(self) -> Vec<(u64, Labels)> {
        self.stop(StopMode::Handover);
        self.join.await.unwrap_or_default()
    }
}

/// Everything a loop needs besides its target.
#[derive(Clone)]
pub(crate) struct LoopContext {
    pub job: Arc<ScrapeJob>,
    pub client: reqwest::Client,
    pub storage: Arc<dyn Appendable>,
    pub metrics: ScrapeMetrics,
    pub offset_seed: u64,
    /// When set, new targets get a prompt (rate-limited) first scrape before their phase.
    pub prompt: Option<PromptFirstScrape>,
    pub shutdown: CancellationToken,
    pub user_agent: Arc<str>,
    /// Set by the pool when `target_limit` is exceeded: every scrape fails with it, unsent.
    pub forced_error: Arc<parking_lot::Mutex<Option<String>>>,
}

/// The prompt first scrape of targets that appear while the server runs (see
/// [`crate::ScrapeOptions::prompt_first_scrape_window`]), rate-limited by a token bucket shared
/// by all loops.
#[derive(Debug, Clone)]
pub(crate) struct PromptFirstScrape {
    /// First scrapes are spread over this window by target hash.
    pub window: Duration,
    per_second: f64,
    /// Tokens left and when they were last refilled.
    bucket: Arc<parking_lot::Mutex<(f64, Instant)>>,
}

impl PromptFirstScrape {
    pub(crate) fn new(window: Duration, per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        PromptFirstScrape {
            window,
            per_second,
            bucket: Arc::new(parking_lot::Mutex::new((per_second, Instant::now()))),
        }
    }

    fn take_token(&self) -> bool {
        let mut b = self.bucket.lock();
        let now = Instant::now();
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * self.per_second).min(self.per_second);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// The wait before the prompt first scrape of a new target whose regular phase is `offset`
    /// away, or `None` when it keeps the regular phase (the phase comes about as soon anyway,
    /// or the rate limit is reached).
    pub(crate) fn delay(&self, interval: Duration, offset: Duration, hash: u64) -> Option<Duration> {
        let window = self.window.min(interval).as_nanos().max(1);
        let delay = Duration::from_nanos(u64::try_from(u128::from(hash) % window).unwrap_or(0));
        (offset > delay + self.window && self.take_token()).then_some(delay)
    }
}

/// Counts from appending one body.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AppendCounts {
    pub total: usize,
    pub added: usize,
    pub series_added: usize,
}

pub(crate) struct ScrapeLoop {
    target: Arc<Target>,
    ctx: LoopContext,
    cache: ScrapeCache,
    /// Whether the loop took over series from a predecessor (a reload): such a loop continues a
    /// running scrape and keeps the regular phase.
    inherited: bool,
    body: Vec<u8>,
    raw: Vec<u8>,
    /// The target's public labels, attached to every series.
    target_labels: Labels,
    report: [(Labels, Option<SeriesRef>); 5],
}

pub(crate) fn spawn_loop(id: u64, target: Arc<Target>, ctx: LoopContext, inherited: Vec<(u64, Labels)>) -> LoopHandle {
    let cancel = CancellationToken::new();
    let mode = Arc::new(AtomicU8::new(StopMode::Vanished as u8));
    let sl = ScrapeLoop::new(target.clone(), ctx, inherited);
    let join = tokio::spawn(sl.run(cancel.clone(), mode.clone()));
    LoopHandle { id, started: SystemTime::now(), target, cancel, mode, join }
}

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

impl ScrapeLoop {
    pub fn new(target: Arc<Target>, ctx: LoopContext, inherited: Vec<(u64, Labels)>) -> Self {
        let target_labels = target.labels();
        let report = REPORT_NAMES.map(|name| {
            let mut lb = LabelsBuilder::new(target_labels.clone());
            lb.set(METRIC_NAME.to_string(), name.to_string());
            (lb.labels(), None)
        });
        ScrapeLoop {
            target,
            ctx,
            inherited: !inherited.is_empty(),
            cache: ScrapeCache::with_inherited(inherited),
            body: Vec::new(),
            raw: Vec::new(),
            target_labels,
            report,
        }
    }

    async fn run(mut self, cancel: CancellationToken, mode: Arc<AtomicU8>) -> Vec<(u64, Labels)> {
        let interval = self.target.interval();
        let mut offset = self.target.offset(interval, self.ctx.offset_seed);
        let mut scraped = false;
        let prompt = match &self.ctx.prompt {
            Some(p) if !self.inherited => p.delay(interval, offset, self.target.hash() ^ self.ctx.offset_seed),
            _ => None,
        };
        if let Some(delay) = prompt {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return self.finish(&mode, None).await,
                _ = tokio::time::sleep(delay) => {}
            }
            if !self.scrape_and_report(SystemTime::now(), Instant::now(), &cancel).await {
                return self.finish(&mode, None).await;
            }
            scraped = true;
            // The phase is pinned to absolute time: wait for what is left of it.
            offset = self.target.offset(interval, self.ctx.offset_seed);
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                // After a prompt scrape, a vanished target still gets its staleness markers.
                let ticker = scraped.then(|| tokio::time::interval_at(tokio::time::Instant::now() + interval, interval));
                return self.finish(&mode, ticker).await;
            }
            _ = tokio::time::sleep(offset) => {}
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Prometheus aligns timestamps that are within min(1% of the interval, 2ms) of the ideal
        // tick, so that series compress better (prometheus/prometheus#7846).
        let tolerance = (interval / 100).min(Duration::from_millis(2));
        let mut aligned = SystemTime::now();
        let mut last_start: Option<Instant> = None;
        let interval_labels = IntervalLabels { interval: format_duration(interval) };
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let mut scrape_time = SystemTime::now();
            while scrape_time.duration_since(aligned).is_ok_and(|d| d >= interval) {
                aligned += interval;
            }
            if scrape_time.duration_since(aligned).is_ok_and(|d| d <= tolerance) {
                scrape_time = aligned;
            }
            let now = Instant::now();
            if let Some(l) = last_start {
                self.ctx.metrics.interval_length.get_or_create(&interval_labels).observe(l.elapsed().as_secs_f64());
            }
            last_start = Some(now);
            if !self.scrape_and_report(scrape_time, now, &cancel).await {
                break;
            }
        }
        let last = last_start.map(|_| ticker);
        self.finish(&mode, last).await
    }

    /// After the loop: hand over, or write end-of-run staleness markers (Prometheus's
    /// `endOfRunStaleness`: at the time the next scrape would have been, after waiting two
    /// intervals and 10% in case the target comes back), or nothing on shutdown.
    async fn finish(mut self, mode: &AtomicU8, ticker: Option<tokio::time::Interval>) -> Vec<(u64, Labels)> {
        let mode = mode.load(Ordering::SeqCst);
        if mode == StopMode::Handover as u8 {
            return self.cache.handover();
        }
        let Some(mut ticker) = ticker else { return Vec::new() };
        if mode != StopMode::Vanished as u8 {
            return Vec::new();
        }
        let shutdown = self.ctx.shutdown.clone();
        let stale_time;
        tokio::select! {
            _ = shutdown.cancelled() => return Vec::new(),
            _ = ticker.tick() => stale_time = SystemTime::now(),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Vec::new(),
            _ = ticker.tick() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Vec::new(),
            _ = tokio::time::sleep(self.target.interval() / 10) => {}
        }
        self.write_end_of_run_staleness(unix_ms(stale_time));
        Vec::new()
    }

    /// Staleness markers for every series of the last successful scrape and for the report
    /// series.
    pub(crate) fn write_end_of_run_staleness(&mut self, t: i64) {
        let storage = self.ctx.storage.clone();
        let mut app = storage.appender();
        self.cache.begin();
        let stats = self.cache.finish_failed(&mut *app, t);
        for (l, r) in &self.report {
            // Rejections (the target came back and wrote newer samples) are expected.
            let _ = app.append(*r, l, t, STALE_NAN);
        }
        match app.commit() {
            Ok(()) => {
                tracing::debug!(target = %self.target.url(), markers = stats.written, "wrote end-of-run staleness markers")
            }
            Err(e) => {
                tracing::warn!(target = %self.target.url(), error = %e, "committing end-of-run staleness markers failed")
            }
        }
    }

    /// One scrape. Returns false when cancelled mid-scrape (nothing is written then).
    async fn scrape_and_report(&mut self, scrape_time: SystemTime, start: Instant, cancel: &CancellationToken) -> bool {
        let t = unix_ms(scrape_time);
        let job = self.ctx.job.clone();
        let accept = job.accept_header.as_deref().unwrap_or(oxeye_textparse::ACCEPT_HEADER);
        let req = Request {
            client: &self.ctx.client,
            job: &job,
            url: self.target.url(),
            timeout: self.target.timeout(),
            accept,
            user_agent: &self.ctx.user_agent,
        };
        let forced = self.ctx.forced_error.lock().clone();
        let fetched = match forced {
            Some(e) => Err(FetchError::Forced(e)),
            None => tokio::select! {
                biased;
                _ = cancel.cancelled() => return false,
                r = fetch(&req, &mut self.body, &mut self.raw) => r,
            },
        };
        let storage = self.ctx.storage.clone();
        let mut app = storage.appender();
        let mut counts = AppendCounts::default();
        let error = match fetched {
            Ok(f) => {
                let format = match (f.content_type.as_deref().map(str::trim), job.fallback_format) {
                    (Some(ct), _) if !ct.is_empty() => Ok(oxeye_textparse::format_from_content_type(Some(ct))),
                    (_, Some(fallback)) => Ok(fallback),
                    _ => Err("non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target".to_string()),
                };
                let body = std::mem::take(&mut self.body);
                let result = format.and_then(|format| self.append_body(&mut *app, &body, format, t, &mut counts));
                self.body = body;
                match result {
                    Ok(()) => None,
                    Err(e) => {
                        app.rollback();
                        app = storage.appender();
                        self.cache.finish_failed(&mut *app, t);
                        Some(e)
                    }
                }
            }
            Err(e) => {
                if matches!(e, FetchError::BodySizeLimit) {
                    self.ctx.metrics.exceeded_body_size_limit.inc();
                }
                self.cache.begin();
                self.cache.finish_failed(&mut *app, t);
                Some(e.to_string())
            }
        };
        let duration = start.elapsed();
        self.append_report(&mut *app, t, duration, counts, error.is_none());
        if let Err(e) = app.commit() {
            tracing::warn!(target = %self.target.url(), error = %e, "committing scrape failed");
        }
        if let Some(e) = &error {
            tracing::debug!(target = %self.target.url(), error = %e, "scrape failed");
        }
        self.target.report(scrape_time, duration, error);
        true
    }

    fn append_report(&mut self, app: &mut dyn Appender, t: i64, duration: Duration, c: AppendCounts, up: bool) {
        let values =
            [if up { 1.0 } else { 0.0 }, duration.as_secs_f64(), c.total as f64, c.added as f64, c.series_added as f64];
        for ((l, r), v) in self.report.iter_mut().zip(values) {
            match app.append(*r, l, t, v) {
                Ok(nr) => *r = Some(nr),
                Err(e) => tracing::debug!(series = %l, error = %e, "report sample not appended"),
            }
        }
    }

    /// Parses `body` and appends its samples at default time `t`. On `Err` the caller rolls the
    /// appender back and the cache's view of this attempt is undone by `finish_failed`.
    pub(crate) fn append_body(
        &mut self,
        app: &mut dyn Appender,
        body: &[u8],
        format: Format,
        t: i64,
        counts: &mut AppendCounts,
    ) -> Result<(), String> {
        let job = self.ctx.job.clone();
        let metrics = &self.ctx.metrics;
        let cache = &mut self.cache;
        cache.begin();
        let iter = cache.iter;
        let mut parser = Parser::with_validation(body, format, Validation::Syntax);
        let metadata = self.target.metadata_store().clone();
        let mut meta = metadata.lock();
        let mut error: Option<String> = None;
        let mut sample_limit_hit = false;
        let mut errs = AppendErrs::default();
        loop {
            let entry = match parser.next() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            };
            let s = match entry {
                Entry::Sample(s) => s,
                Entry::Type { metric_family, typ } => {
                    meta.set_type(metric_family, typ);
                    continue;
                }
                Entry::Help { metric_family, text } => {
                    meta.set_help(metric_family, &text);
                    continue;
                }
                Entry::Unit { metric_family, unit } => {
                    meta.set_unit(metric_family, unit);
                    continue;
                }
            };
            counts.total += 1;
            let explicit_ts = job.honor_timestamps && s.timestamp_ms.is_some();
            let ts = if job.honor_timestamps { s.timestamp_ms.unwrap_or(t) } else { t };
            let track = !explicit_ts || job.track_timestamps_staleness;
            // Fast path: a series seen before needs no label work at all.
            if let Some(e) = cache.series.get_mut(s.series) {
                e.touch(iter);
                e.track_staleness = track;
                if track {
                    cache.seen_hashes.insert(e.hash);
                }
                counts.added += 1;
                if job.sample_limit > 0 && counts.added > job.sample_limit {
                    // Keep parsing so scrape_samples_scraped reports the full count.
                    sample_limit_hit = true;
                }
                if sample_limit_hit {
                    continue;
                }
                match errs.check(crate::cache::append_cached(app, e.series_ref, &e.labels, ts, s.value)) {
                    Ok(Some(r)) => e.series_ref = Some(r),
                    Ok(None) => {}
                    Err(msg) => {
                        error = Some(msg);
                        break;
                    }
                }
                continue;
            }
            if cache.dropped.contains_key(s.series) {
                cache.mark_dropped(s.series);
                continue;
            }
            let Some(l) = mutate_sample_labels(s.labels(), &self.target_labels, &job) else {
                cache.mark_dropped(s.series);
                continue;
            };
            if !l.has(METRIC_NAME) {
                error = Some(format!("missing metric name ({METRIC_NAME} label)"));
                break;
            }
            if let Err(e) = verify_label_limits(&l, &job) {
                metrics.exceeded_label_limits.inc();
                error = Some(e);
                break;
            }
            counts.added += 1;
            if job.sample_limit > 0 && counts.added > job.sample_limit {
                sample_limit_hit = true;
            }
            if sample_limit_hit {
                // Remember the labels (no ref: nothing was appended) so the rest of this body
                // stays cheap; finish_failed forgets them again.
                cache.insert(s.series, None, l, track);
                continue;
            }
            match errs.check(app.append(None, &l, ts, s.value)) {
                Ok(r) => {
                    cache.insert(s.series, r, l, track);
                    counts.series_added += 1;
                }
                Err(msg) => {
                    error = Some(msg);
                    break;
                }
            }
        }
        drop(meta);
        errs.report(metrics, self.target.url());
        if sample_limit_hit {
            metrics.exceeded_sample_limit.inc();
            if error.is_none() {
                error = Some(SAMPLE_LIMIT_ERROR.to_string());
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        self.cache.finish_ok(app, t);
        metadata.lock().scrape_done();
        Ok(())
    }
}

/// Per-sample append refusals: counted and logged once per scrape, never fatal (as upstream).
#[derive(Default)]
struct AppendErrs {
    out_of_order: u64,
    duplicate: u64,
    out_of_bounds: u64,
}

impl AppendErrs {
    /// `Ok(Some(ref))` appended, `Ok(None)` refused but not fatal, `Err` fails the scrape.
    fn check(&mut self, r: Result<SeriesRef, AppendError>) -> Result<Option<SeriesRef>, String> {
        match r {
            Ok(r) => Ok(Some(r)),
            Err(AppendError::OutOfOrder) => {
                self.out_of_order += 1;
                Ok(None)
            }
            Err(AppendError::DuplicateSampleForTimestamp) => {
                self.duplicate += 1;
                Ok(None)
            }
            Err(AppendError::OutOfBounds) => {
                self.out_of_bounds += 1;
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn report(&self, metrics: &ScrapeMetrics, target: &str) {
        if self.out_of_order > 0 {
            metrics.out_of_order.inc_by(self.out_of_order);
            tracing::warn!(target = %target, num_dropped = self.out_of_order, "error on ingesting out-of-order samples");
        }
        if self.duplicate > 0 {
            metrics.duplicate_timestamp.inc_by(self.duplicate);
            tracing::warn!(target = %target, num_dropped = self.duplicate, "error on ingesting samples with different value but same timestamp");
        }
        if self.out_of_bounds > 0 {
            metrics.out_of_bounds.inc_by(self.out_of_bounds);
            tracing::warn!(target = %target, num_dropped = self.out_of_bounds, "error on ingesting samples that are too old or are too far into the future");
        }
    }
}

/// Attaches the target labels to a scraped series and applies `metric_relabel_configs`
/// (Prometheus's `mutateSampleLabels`). Without `honor_labels`, target labels win and the scraped
/// values of conflicting labels move to `exported_<name>` (prefix repeated while taken); with it,
/// scraped labels win. `None` when relabeling drops the series.
pub fn mutate_sample_labels(scraped: Labels, target: &Labels, job: &ScrapeJob) -> Option<Labels> {
    let mut lb = LabelsBuilder::new(scraped.clone());
    if job.honor_labels {
        for l in target {
            if !scraped.has(&l.name) {
                lb.set(l.name.clone(), l.value.clone());
            }
        }
    } else {
        let mut conflicts: Vec<(&str, &str)> = Vec::new();
        for l in target {
            let existing = scraped.get(&l.name);
            if !existing.is_empty() {
                conflicts.push((&l.name, existing));
            }
            lb.set(l.name.clone(), l.value.clone());
        }
        // Shorter names first, as upstream's resolveConflictingExposedLabels.
        conflicts.sort_by_key(|(n, _)| n.len());
        for (name, value) in conflicts {
            let mut new_name = name.to_string();
            loop {
                new_name.insert_str(0, "exported_");
                if lb.get(&new_name).is_empty() {
                    lb.set(new_name, value.to_string());
                    break;
                }
            }
        }
    }
    if job.metric_relabel_configs.is_empty() {
        return Some(lb.labels());
    }
    if !oxeye_model::relabel::process_builder(&mut lb, &job.metric_relabel_configs) {
        return None;
    }
    let l = lb.labels();
    if l.is_empty() { None } else { Some(l) }
}

/// `%.50s` of Go: at most 50 characters.
fn trunc50(s: &str) -> &str {
    match s.char_indices().nth(50) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `label_limit`, `label_name_length_limit`, `label_value_length_limit`, with upstream's messages.
pub fn verify_label_limits(l: &Labels, job: &ScrapeJob) -> Result<(), String> {
    let met = trunc50(l.metric_name());
    if job.label_limit > 0 && l.len() > job.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {met}, number of labels: {}, limit: {})",
            l.len(),
            job.label_limit
        ));
    }
    if job.label_name_length_limit == 0 && job.label_value_length_limit == 0 {
        return Ok(());
    }
    for label in l {
        if job.label_name_length_limit > 0 && label.name.len() > job.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {met}, label name: {}, length: {}, limit: {})",
                trunc50(&label.name),
                label.name.len(),
                job.label_name_length_limit
            ));
        }
        let chars = label.value.chars().count();
        if job.label_value_length_limit > 0 && chars > job.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {met}, label name: {}, value: {}, length: {chars}, limit: {})",
                trunc50(&label.name),
                oxeye_model::labels::go_quote(trunc50(&label.value)),
                job.label_value_length_limit
            ));
        }
    }
    Ok(())
}
