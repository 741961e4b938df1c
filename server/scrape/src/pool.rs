//! A scrape pool: the targets of one job and their loops. Syncing with discovery starts loops
//! for new targets and stops loops of vanished ones (which write staleness markers); a reload
//! with changed settings replaces each loop by one that inherits its predecessor's series, so no
//! markers are written for series that keep being scraped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use oxeye_model::Labels;

use crate::client::build_client;
use crate::discovery::TargetGroup;
use crate::error::Result;
use crate::job::ScrapeJob;
use crate::metrics::JobLabels;
use crate::scrape_loop::{LoopContext, LoopHandle, StopMode, spawn_loop};
use crate::target::{Populated, Target, discovered_labels, populate_labels};

pub(crate) struct ScrapePool {
    pub ctx: LoopContext,
    pub loops: HashMap<u64, LoopHandle>,
    /// Discovered labels of targets relabeling dropped (at most `keep_dropped_targets`).
    pub dropped: Vec<Labels>,
    pub dropped_count: usize,
    pub groups: Vec<TargetGroup>,
    ids: Arc<AtomicU64>,
}

impl ScrapePool {
    pub fn new(job: Arc<ScrapeJob>, base: &LoopContext, ids: Arc<AtomicU64>) -> Result<Self> {
        base.metrics.pools_total.inc();
        let client = match build_client(&job) {
            Ok(c) => c,
            Err(e) => {
                base.metrics.pools_failed.inc();
                return Err(e);
            }
        };
        let ctx = LoopContext { job, client, forced_error: Default::default(), ..base.clone() };
        Ok(ScrapePool { ctx, loops: HashMap::new(), dropped: Vec::new(), dropped_count: 0, groups: Vec::new(), ids })
    }

    pub fn job(&self) -> &Arc<ScrapeJob> {
        &self.ctx.job
    }

    fn job_labels(&self) -> JobLabels {
        JobLabels { scrape_job: self.ctx.job.job_name.clone() }
    }

    /// Turns groups into targets: the active ones by hash (first wins), dropped ones recorded.
    fn targets(&mut self, groups: &[TargetGroup]) -> HashMap<u64, Arc<Target>> {
        let job = self.ctx.job.clone();
        let mut active: HashMap<u64, Arc<Target>> = HashMap::new();
        self.dropped.clear();
        self.dropped_count = 0;
        let mut failed = 0u64;
        for g in groups {
            for (i, t) in g.targets.iter().enumerate() {
                let d = discovered_labels(&job, t, &g.labels);
                match populate_labels(&job, &d) {
                    Populated::Active(l) => {
                        let target = Target::new(&job, l, d);
                        active.entry(target.hash()).or_insert_with(|| Arc::new(target));
                    }
                    Populated::Dropped => {
                        if job.keep_dropped_targets == 0 || self.dropped.len() < job.keep_dropped_targets {
                            self.dropped.push(d);
                        }
                        self.dropped_count += 1;
                    }
                    Populated::Failed(e) => {
                        failed += 1;
                        tracing::error!(scrape_pool = %job.job_name, group = %g.source, instance = i, error = %e, "creating target failed");
                    }
                }
            }
        }
        if failed > 0 {
            self.ctx.metrics.sync_failed.get_or_create(&self.job_labels()).inc_by(failed);
        }
        active
    }

    fn start(&mut self, hash: u64, target: Arc<Target>, inherited: Vec<(u64, Labels)>) {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        self.loops.insert(hash, spawn_loop(id, target, self.ctx.clone(), inherited));
    }

    /// Brings the loops in line with `groups`.
    pub fn sync(&mut self, groups: Vec<TargetGroup>) {
        let start = Instant::now();
        let active = self.targets(&groups);
        self.groups = groups;
        self.loops.retain(|h, l| {
            if active.contains_key(h) {
                return true;
            }
            l.stop(StopMode::Vanished);
            false
        });
        for (h, t) in active {
            match self.loops.get(&h) {
                Some(l) => l.target.set_discovered_labels(t.discovered_labels()),
                None => self.start(h, t, Vec::new()),
            }
        }
        self.check_target_limit();
        let jl = self.job_labels();
        self.ctx.metrics.pool_targets.get_or_create(&jl).set(self.loops.len() as i64);
        self.ctx.metrics.pool_sync.get_or_create(&jl).inc();
        self.ctx.metrics.sync_length.get_or_create(&jl).observe(start.elapsed().as_secs_f64());
    }

    /// A pool for `job` (same name, changed settings) that takes over from `self`: targets are
    /// recomputed from the last groups; a loop whose target is unchanged hands its series to its
    /// successor, the others are stopped as vanished.
    pub async fn reload(mut self, job: Arc<ScrapeJob>, base: &LoopContext) -> Result<ScrapePool> {
        self.ctx.metrics.pool_reloads.inc();
        let mut next = match ScrapePool::new(job, base, self.ids.clone()) {
            Ok(p) => p,
            Err(e) => {
                self.ctx.metrics.pool_reloads_failed.inc();
                // Keep nothing running for a job whose client cannot be built.
                self.stop(StopMode::Vanished);
                return Err(e);
            }
        };
        let groups = std::mem::take(&mut self.groups);
        let active = next.targets(&groups);
        next.groups = groups;
        let mut old = std::mem::take(&mut self.loops);
        for (h, t) in active {
            let inherited = match old.remove(&h) {
                Some(l) => l.handover().await,
                None => Vec::new(),
            };
            next.start(h, t, inherited);
        }
        for l in old.values() {
            l.stop(StopMode::Vanished);
        }
        next.check_target_limit();
        let jl = next.job_labels();
        next.ctx.metrics.pool_targets.get_or_create(&jl).set(next.loops.len() as i64);
        Ok(next)
    }

    /// Prometheus's `refreshTargetLimitErr`: too many active targets fail every scrape of the
    /// pool (up = 0) until the count drops.
    fn check_target_limit(&self) {
        let limit = self.ctx.job.target_limit;
        let n = self.loops.len();
        let err = (limit > 0 && n > limit).then(|| {
            self.ctx.metrics.exceeded_target_limit.inc();
            format!("target_limit exceeded (number of targets: {n}, limit: {limit})")
        });
        *self.ctx.forced_error.lock() = err;
    }

    pub fn stop(&mut self, mode: StopMode) {
        for l in self.loops.values() {
            l.stop(mode);
        }
        self.loops.clear();
        self.ctx.metrics.pool_targets.remove(&self.job_labels());
    }
}
