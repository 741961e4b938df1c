//! The scrape manager: one scrape pool per job, kept in line with the configuration
//! (`apply_config`) and with discovery (`sync` / `run` on the discovery manager's `TargetSets`),
//! and the read side the HTTP API needs (`targets`, `targets_metadata`, `metadata`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use oxeye_model::storage::Appendable;
use oxeye_model::{Labels, Matcher, format_duration};
use parking_lot::RwLock;
use prometheus_client::registry::Registry;
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;

use crate::discovery::TargetSets;
use crate::error::Result;
use crate::job::ScrapeJob;
use crate::metadata::MetricMetadata;
use crate::metrics::ScrapeMetrics;
use crate::pool::ScrapePool;
use crate::scrape_loop::{LoopContext, PromptFirstScrape, StopMode};
use crate::target::{Health, Target};

/// Settings of the whole manager.
#[derive(Debug, Clone)]
pub struct ScrapeOptions {
    /// Mixed into every target's scrape phase so that several servers scraping the same targets
    /// do not all scrape at once (Prometheus derives it from external labels and hostname).
    pub offset_seed: u64,
    pub user_agent: String,
    /// A target that appears while the server runs (a new pod, a new ServiceMonitor) is scraped
    /// once within this window (spread by target hash), then joins its regular phase. Prometheus
    /// always waits for the phase, up to one scrape interval; `None` restores that.
    pub prompt_first_scrape_window: Option<Duration>,
    /// At most this many prompt first scrapes per second (and in a burst) across the server;
    /// targets beyond that wait for their phase. A server start, or a new job selecting
    /// thousands of targets, so spreads its load like Prometheus after the first few.
    pub prompt_first_scrapes_per_second: u32,
}

impl Default for ScrapeOptions {
    fn default() -> Self {
        ScrapeOptions {
            offset_seed: 0,
            user_agent: format!("Oxeye/{}", env!("CARGO_PKG_VERSION")),
            prompt_first_scrape_window: Some(Duration::from_secs(1)),
            prompt_first_scrapes_per_second: 50,
        }
    }
}

/// An active target as `/api/v1/targets` shows it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub discovered_labels: Labels,
    pub labels: Labels,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    /// Empty when the last scrape succeeded (or none happened yet).
    pub last_error: String,
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration_secs: f64,
    pub health: Health,
    pub scrape_interval: String,
    pub scrape_timeout: String,
    /// Identifies the scrape loop: unchanged while the loop keeps running (not in the API).
    pub loop_id: u64,
    pub loop_started: SystemTime,
}

/// A target relabeling dropped.
#[derive(Debug, Clone)]
pub struct DroppedTarget {
    pub discovered_labels: Labels,
    pub scrape_pool: String,
}

/// One metric family's metadata as one target exposes it (`/api/v1/targets/metadata`).
#[derive(Debug, Clone)]
pub struct TargetMetadata {
    pub target: Labels,
    pub scrape_pool: String,
    pub metadata: MetricMetadata,
}

struct PoolView {
    targets: Vec<(Arc<Target>, u64, SystemTime)>,
    dropped: Vec<Labels>,
    dropped_count: usize,
}

struct State {
    pools: BTreeMap<String, ScrapePool>,
    target_sets: TargetSets,
}

/// Runs scrape pools for all jobs.
pub struct ScrapeManager {
    base: LoopContext,
    state: Mutex<State>,
    view: RwLock<BTreeMap<String, PoolView>>,
    ids: Arc<AtomicU64>,
}

impl ScrapeManager {
    pub fn new(storage: Arc<dyn Appendable>, options: ScrapeOptions) -> Self {
        let base = LoopContext {
            job: Arc::new(ScrapeJob::new("")),
            client: reqwest::Client::new(),
            storage,
            metrics: ScrapeMetrics::default(),
            offset_seed: options.offset_seed,
            prompt: options
                .prompt_first_scrape_window
                .filter(|_| options.prompt_first_scrapes_per_second > 0)
                .map(|window| PromptFirstScrape::new(window, options.prompt_first_scrapes_per_second)),
            shutdown: CancellationToken::new(),
            user_agent: options.user_agent.into(),
            forced_error: Default::default(),
        };
        ScrapeManager {
            base,
            state: Mutex::new(State { pools: BTreeMap::new(), target_sets: TargetSets::default() }),
            view: RwLock::new(BTreeMap::new()),
            ids: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Registers the `prometheus_target_*` metrics.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.base.metrics.register(registry);
    }

    /// Makes the running pools match `jobs`: unchanged jobs keep their loops untouched, changed
    /// jobs are reloaded (loops replaced, series handed over), removed jobs stop and their
    /// series get staleness markers, new jobs start with the targets discovery already has.
    /// Every job is applied even when one fails; the first error is returned.
    pub async fn apply_config(&self, jobs: Vec<ScrapeJob>) -> Result<()> {
        let mut st = self.state.lock().await;
        let mut first_err = None;
        let mut wanted: BTreeMap<String, ScrapeJob> = BTreeMap::new();
        for j in jobs {
            wanted.insert(j.job_name.clone(), j);
        }
        let names: Vec<String> = st.pools.keys().cloned().collect();
        for name in names {
            if !wanted.contains_key(&name)
                && let Some(mut p) = st.pools.remove(&name)
            {
                tracing::info!(scrape_pool = %name, "stopping scrape pool");
                p.stop(StopMode::Vanished);
            }
        }
        for (name, job) in wanted {
            let job = Arc::new(job);
            match st.pools.remove(&name) {
                Some(p) if p.job().same_scrape_settings(&job) => {
                    st.pools.insert(name, p);
                }
                Some(p) => {
                    tracing::info!(scrape_pool = %name, "reloading scrape pool");
                    match p.reload(job, &self.base).await {
                        Ok(p) => {
                            st.pools.insert(name, p);
                        }
                        Err(e) => {
                            tracing::error!(scrape_pool = %name, error = %e, "reloading scrape pool failed");
                            first_err.get_or_insert(e);
                        }
                    }
                }
                None => match ScrapePool::new(job, &self.base, self.ids.clone()) {
                    Ok(mut p) => {
                        if let Some(groups) = st.target_sets.get(&name) {
                            p.sync(groups.clone());
                        }
                        st.pools.insert(name, p);
                    }
                    Err(e) => {
                        tracing::error!(scrape_pool = %name, error = %e, "creating scrape pool failed");
                        first_err.get_or_insert(e);
                    }
                },
            }
        }
        self.refresh_view(&st);
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Applies discovery's latest target sets; jobs whose groups did not change are skipped.
    pub async fn sync(&self, sets: TargetSets) {
        let mut st = self.state.lock().await;
        let previous = std::mem::replace(&mut st.target_sets, sets.clone());
        for (name, pool) in st.pools.iter_mut() {
            let groups = sets.get(name);
            if groups.is_some() && groups == previous.get(name) && !pool.groups.is_empty() {
                continue;
            }
            pool.sync(groups.cloned().unwrap_or_default());
        }
        self.refresh_view(&st);
    }

    /// Follows a discovery manager until `stop` is called or the sender goes away.
    pub async fn run(&self, mut rx: watch::Receiver<TargetSets>) {
        loop {
            let sets = rx.borrow_and_update().clone();
            self.sync(sets).await;
            tokio::select! {
                _ = self.base.shutdown.cancelled() => return,
                r = rx.changed() => if r.is_err() { return },
            }
        }
    }

    /// Stops every loop without writing staleness markers (the server is going down and will
    /// continue where it stopped).
    pub async fn stop(&self) {
        self.base.shutdown.cancel();
        let mut st = self.state.lock().await;
        for p in st.pools.values_mut() {
            p.stop(StopMode::Shutdown);
        }
        st.pools.clear();
        self.view.write().clear();
    }

    fn refresh_view(&self, st: &State) {
        let mut view = BTreeMap::new();
        for (name, p) in &st.pools {
            let mut targets: Vec<(Arc<Target>, u64, SystemTime)> =
                p.loops.values().map(|l| (l.target.clone(), l.id, l.started)).collect();
            targets.sort_by(|a, b| a.0.url().cmp(b.0.url()));
            view.insert(name.clone(), PoolView { targets, dropped: p.dropped.clone(), dropped_count: p.dropped_count });
        }
        *self.view.write() = view;
    }

    /// Names of the running scrape pools (one per configured job), sorted.
    pub fn scrape_pools(&self) -> Vec<String> {
        self.view.read().keys().cloned().collect()
    }

    /// Active and dropped targets of every pool, pools by name, targets by URL.
    pub fn targets(&self) -> (Vec<ActiveTarget>, Vec<DroppedTarget>) {
        let view = self.view.read();
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        for (pool, v) in view.iter() {
            for (t, id, started) in &v.targets {
                let s = t.status();
                active.push(ActiveTarget {
                    discovered_labels: t.discovered_labels(),
                    labels: t.labels(),
                    scrape_pool: pool.clone(),
                    scrape_url: t.url().to_string(),
                    global_url: t.url().to_string(),
                    last_error: s.last_error.unwrap_or_default(),
                    last_scrape: s.last_scrape,
                    last_scrape_duration_secs: s.last_scrape_duration.as_secs_f64(),
                    health: s.health,
                    scrape_interval: format_duration(t.interval()),
                    scrape_timeout: format_duration(t.timeout()),
                    loop_id: *id,
                    loop_started: *started,
                });
            }
            for d in &v.dropped {
                dropped.push(DroppedTarget { discovered_labels: d.clone(), scrape_pool: pool.clone() });
            }
        }
        (active, dropped)
    }

    /// Per pool, how many targets relabeling dropped (including those not kept for the API).
    pub fn dropped_counts(&self) -> BTreeMap<String, usize> {
        self.view.read().iter().map(|(k, v)| (k.clone(), v.dropped_count)).collect()
    }

    /// Metadata per target whose labels match every matcher, optionally for one metric family.
    pub fn targets_metadata(&self, matchers: &[Matcher], metric: Option<&str>) -> Vec<TargetMetadata> {
        let view = self.view.read();
        let mut out = Vec::new();
        for (pool, v) in view.iter() {
            for (t, _, _) in &v.targets {
                let labels = t.labels();
                if !matchers.iter().all(|m| m.matches(labels.get(&m.name))) {
                    continue;
                }
                let store = t.metadata_store().lock();
                let metas = match metric {
                    Some(m) => store.get(m).into_iter().collect(),
                    None => store.list(),
                };
                drop(store);
                for md in metas {
                    out.push(TargetMetadata { target: labels.clone(), scrape_pool: pool.clone(), metadata: md });
                }
            }
        }
        out
    }

    /// Distinct metadata per metric family across all targets (`/api/v1/metadata`).
    pub fn metadata(&self, metric: Option<&str>) -> BTreeMap<String, Vec<MetricMetadata>> {
        let mut out: BTreeMap<String, Vec<MetricMetadata>> = BTreeMap::new();
        for tm in self.targets_metadata(&[], metric) {
            let v = out.entry(tm.metadata.metric_family.clone()).or_default();
            if !v.contains(&tm.metadata) {
                v.push(tm.metadata);
            }
        }
        out
    }

    /// The scrape interval of a job, if it is running (for callers that align to it).
    pub fn job_interval(&self, job: &str) -> Option<Duration> {
        self.view.read().get(job).and_then(|v| v.targets.first().map(|(t, _, _)| t.interval()))
    }
}

impl Drop for ScrapeManager {
    fn drop(&mut self) {
        self.base.shutdown.cancel();
    }
}
