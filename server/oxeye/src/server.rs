//! Server assembly: loads the configuration, opens the TSDB, starts discovery, scraping, rule
//! evaluation and the notifier, serves the HTTP API, and handles reloads (SIGHUP,
//! `POST /-/reload`) and shutdown. A config that fails to load or apply never replaces the
//! running one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use parking_lot::RwLock;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::Notify;

use oxeye_config::Config;
use oxeye_model::{Labels, Matcher, Queryable, Series, StorageError};
use oxeye_notifier::{Notifier, NotifierOptions};
use oxeye_promql::{Engine, EngineOptions};
use oxeye_rules::{ManagerOptions, RuleManager};
use oxeye_scrape::{DiscoveryManager, ScrapeManager, ScrapeOptions};
use oxeye_tsdb::Db;
use oxeye_web::{
    ActiveTarget, AlertInfo, ApiState, DroppedTarget, Lifecycle, MetricMetadata, RuleGroupInfo, RuleInfo, RuleKind,
    RulesView, StatusView, TargetMetadata, TargetsView,
};

use crate::config_secret::{self, SecretRef, SecretSource};
use crate::flags::{DEFAULT_CONFIG_FILE, Flags, parse_bytes};

/// Retention when neither retention flag is given, as in Prometheus.
const DEFAULT_RETENTION: &str = "15d";

pub fn init_logging(flags: &Flags) {
    oxeye_telemetry::init_logging(flags.log_level, flags.log_format, oxeye_telemetry::LogfmtStyle::Prometheus);
}

/// Where the running configuration comes from.
#[derive(Debug, Clone)]
enum ConfigSource {
    File(PathBuf),
    /// No `--config.file` and no ./prometheus.yml: the embedded default that scrapes itself.
    Embedded,
    /// `--config.kubernetes-secret`: the files the Secret's keys were written to.
    Secret(Arc<SecretSource>),
}

impl ConfigSource {
    /// The source named by the flags; for a Secret, its current version is fetched and written
    /// out first (when the API cannot be reached, the files of the last run are used).
    async fn from_flags(flags: &Flags) -> anyhow::Result<(Self, Option<kube::Client>)> {
        if let Some(s) = &flags.config_secret {
            let secret = SecretRef::parse(s)?;
            let (client, namespace) = config_secret::connect(&secret).await?;
            let source = Arc::new(SecretSource::new(namespace, secret.name, flags.config_secret_dir()));
            match tokio::time::timeout(Duration::from_secs(10), config_secret::fetch(&client, &source)).await {
                Ok(Ok(Some(secret))) => {
                    let src = source.clone();
                    tokio::task::spawn_blocking(move || {
                        match src.materialize(secret.data.as_ref().unwrap_or(&BTreeMap::new())) {
                            Ok(_) => src.set_state(|st| st.seen = secret.metadata.resource_version.clone()),
                            Err(e) => {
                                tracing::error!(error = format!("{e:#}"), "cannot use the configuration Secret");
                                src.set_state(|st| {
                                    st.seen = secret.metadata.resource_version.clone();
                                    st.last_error = Some(format!("{e:#}"));
                                });
                            }
                        }
                    })
                    .await
                    .context("writing the configuration Secret's files")?;
                }
                Ok(Ok(None)) => tracing::warn!(
                    secret = %format!("{}/{}", source.namespace, source.name),
                    "configuration Secret not found; starting with what its directory holds and waiting for it"
                ),
                Ok(Err(e)) => {
                    tracing::warn!(error = format!("{e:#}"), "starting with the configuration Secret's last files")
                }
                Err(_) => tracing::warn!("reading the configuration Secret timed out; starting with its last files"),
            }
            return Ok((ConfigSource::Secret(source), Some(client)));
        }
        let source = match &flags.config_file {
            Some(p) => ConfigSource::File(p.clone()),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => ConfigSource::File(PathBuf::from(DEFAULT_CONFIG_FILE)),
            None => ConfigSource::Embedded,
        };
        Ok((source, None))
    }

    fn load(&self, listen_port: u16) -> anyhow::Result<Config> {
        let cfg = match self {
            ConfigSource::File(p) => oxeye_config::load_file(p)?,
            ConfigSource::Embedded => {
                let text = oxeye_config::DEFAULT_CONFIG.replace("localhost:9090", &format!("localhost:{listen_port}"));
                oxeye_config::load_str(&text, "<embedded default config>")?
            }
            ConfigSource::Secret(s) => match s.config_path() {
                Some(p) => oxeye_config::load_file(&p)?,
                // No Secret yet: nothing to scrape or evaluate until it appears.
                None => oxeye_config::load_str("", &format!("<Secret {}/{} not written yet>", s.namespace, s.name))?,
            },
        };
        Ok(cfg)
    }
}

/// Reload bookkeeping exported as Prometheus's `prometheus_config_last_reload_*` metrics.
#[derive(Default)]
struct ReloadMetrics {
    successful: Gauge,
    success_timestamp: Gauge<f64, AtomicU64>,
}

/// The storage the API reads: the TSDB once WAL replay is done, an "unavailable" error before.
#[derive(Default)]
struct ReadyStorage {
    db: std::sync::OnceLock<Arc<Db>>,
}

impl ReadyStorage {
    fn get(&self) -> Result<&Arc<Db>, StorageError> {
        self.db.get().ok_or_else(|| StorageError::Other("TSDB not ready: WAL replay in progress".into()))
    }
}

impl Queryable for ReadyStorage {
    fn select(&self, mint: i64, maxt: i64, m: &[Matcher]) -> Result<Vec<Series>, StorageError> {
        self.get()?.select(mint, maxt, m)
    }
    fn series(&self, mint: i64, maxt: i64, m: &[Matcher]) -> Result<Vec<Labels>, StorageError> {
        self.get()?.series(mint, maxt, m)
    }
    fn label_names(&self, mint: i64, maxt: i64, m: &[Matcher]) -> Result<Vec<String>, StorageError> {
        self.get()?.label_names(mint, maxt, m)
    }
    fn label_values(&self, mint: i64, maxt: i64, name: &str, m: &[Matcher]) -> Result<Vec<String>, StorageError> {
        self.get()?.label_values(mint, maxt, name, m)
    }
}

struct Server {
    flags: BTreeMap<String, String>,
    source: ConfigSource,
    listen_port: u16,
    config: RwLock<Arc<Config>>,
    last_reload_ok: AtomicBool,
    last_reload_time: RwLock<chrono::DateTime<chrono::Utc>>,
    start_time: chrono::DateTime<chrono::Utc>,
    reload_metrics: ReloadMetrics,
    storage: Arc<ReadyStorage>,
    scrape: Arc<ScrapeManager>,
    discovery: Arc<DiscoveryManager>,
    rules: Arc<RuleManager>,
    notifier: Arc<Notifier>,
    runtime: tokio::runtime::Handle,
    registry: RwLock<Registry>,
    retention_desc: String,
    shutdown: Notify,
}

impl Server {
    /// Loads the configuration from its source and applies it; on any error the running
    /// configuration stays.
    /// Must run outside the async runtime's worker threads (it blocks on the apply).
    fn reload(&self) -> Result<(), String> {
        let result = self.source.load(self.listen_port).map_err(|e| format!("{e:#}")).and_then(|cfg| {
            let _enter = self.runtime.enter();
            apply_rules_and_notifier(&self.rules, &self.notifier, &cfg).map_err(|e| format!("{e:#}"))?;
            self.runtime.block_on(apply_config(&self.scrape, &self.discovery, &cfg)).map_err(|e| format!("{e:#}"))?;
            *self.config.write() = Arc::new(cfg);
            Ok(())
        });
        match &result {
            Ok(()) => {
                let now = chrono::Utc::now();
                self.reload_metrics.successful.set(1);
                self.reload_metrics.success_timestamp.set(now.timestamp_millis() as f64 / 1000.0);
                *self.last_reload_time.write() = now;
                self.last_reload_ok.store(true, Ordering::Release);
                tracing::info!(source = ?self.source, "completed loading of configuration file");
            }
            Err(e) => {
                self.reload_metrics.successful.set(0);
                self.last_reload_ok.store(false, Ordering::Release);
                tracing::error!(source = ?self.source, error = %e, "error reloading config; keeping the running one");
            }
        }
        result
    }
}

/// Hands a validated configuration to discovery and scraping. Scrape jobs are resolved first so
/// that nothing changes when one of them cannot be built.
async fn apply_config(scrape: &ScrapeManager, discovery: &DiscoveryManager, cfg: &Config) -> anyhow::Result<()> {
    let jobs = oxeye_scrape::config::scrape_jobs(cfg);
    discovery.apply_config(oxeye_scrape::config::discovery_config(&jobs))?;
    scrape.apply_config(jobs).await?;
    Ok(())
}

/// Loads the rule files and the alerting section. Rules go first: a bad rule file fails the
/// reload before anything else changes, and the rule manager keeps its running groups.
/// Needs to run inside the runtime context (both spawn tasks).
fn apply_rules_and_notifier(rules: &RuleManager, notifier: &Notifier, cfg: &Config) -> anyhow::Result<()> {
    rules
        .update(cfg.global.evaluation_interval.0, &cfg.rule_files, cfg.global.external_labels())
        .map_err(|e| anyhow::anyhow!("error loading rules, previous rule set restored:\n{e}"))?;
    notifier.apply_config(cfg).map_err(|e| anyhow::anyhow!("error applying the alerting configuration: {e}"))?;
    Ok(())
}

/// The URL Oxeye is reachable under, as Prometheus computes it: `--web.external-url`, else
/// `http://<hostname>:<port>/`, with the path's trailing slash removed. Alert generator URLs and
/// the `$externalURL` template variable use it.
fn external_url(flags: &Flags, listen: SocketAddr) -> String {
    let raw = flags.external_url.clone().unwrap_or_else(|| {
        let host = hostname();
        let host = if host.is_empty() { "localhost".to_string() } else { host };
        format!("http://{host}:{}/", listen.port())
    });
    raw.trim_end_matches('/').to_string()
}

pub async fn run(flags: Flags) -> anyhow::Result<()> {
    let engine_options = EngineOptions {
        lookback_delta: parse_flag_duration("query.lookback-delta", &flags.lookback_delta)?,
        timeout: parse_flag_duration("query.timeout", &flags.query_timeout)?,
        max_samples: flags.query_max_samples,
    };
    let listen: SocketAddr = flags
        .listen_address
        .parse()
        .or_else(|_| resolve_listen(&flags.listen_address))
        .with_context(|| format!("invalid --web.listen-address {:?}", flags.listen_address))?;

    let mut tsdb_opts = oxeye_tsdb::Options::default();
    let mut retention_desc = String::new();
    if let Some(t) = &flags.retention_time {
        let d = parse_flag_duration("storage.tsdb.retention.time", t)?;
        tsdb_opts.retention = (!d.is_zero()).then_some(d);
        retention_desc = t.clone();
    }
    if let Some(s) = &flags.retention_size {
        let b = parse_bytes(s).map_err(|e| anyhow::anyhow!("--storage.tsdb.retention.size: {e}"))?;
        tsdb_opts.max_bytes = (b > 0).then_some(b);
        retention_desc = if retention_desc.is_empty() { s.clone() } else { format!("{retention_desc} or {s}") };
    }
    if flags.retention_time.is_none() && flags.retention_size.is_none() {
        tsdb_opts.retention = Some(oxeye_model::parse_duration(DEFAULT_RETENTION)?);
        retention_desc = DEFAULT_RETENTION.to_string();
    }

    let (source, kube_client) = ConfigSource::from_flags(&flags).await?;
    let mut initial_load_failed = false;
    let config = match (source.load(listen.port()), &source) {
        (Ok(c), _) => c,
        // A Secret is fixed by writing a new version, which this server picks up: start with an
        // empty configuration instead of exiting (and crash-looping) meanwhile.
        (Err(e), ConfigSource::Secret(s)) => {
            let message = format!("{e:#}");
            tracing::error!(error = %message, "error loading the configuration Secret; starting with an empty configuration");
            s.set_state(|st| st.last_error = Some(message));
            initial_load_failed = true;
            oxeye_config::load_str("", "<empty configuration>").context("loading the empty configuration")?
        }
        (Err(e), _) => return Err(e.context("error loading config")),
    };
    if let ConfigSource::Secret(s) = &source
        && !initial_load_failed
    {
        s.set_state(|st| st.loaded = st.seen.clone());
    }
    tracing::info!(source = ?source, "loaded configuration");

    let mut registry = Registry::default();
    let reload_metrics = ReloadMetrics::default();
    registry.register(
        "prometheus_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
        reload_metrics.successful.clone(),
    );
    registry.register(
        "prometheus_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.",
        reload_metrics.success_timestamp.clone(),
    );
    let ready_gauge: Gauge = Gauge::default();
    registry.register(
        "prometheus_ready",
        "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
        ready_gauge.clone(),
    );
    registry.register_collector(Box::new(oxeye_telemetry::ProcessCollector::new()));

    let storage = Arc::new(ReadyStorage::default());
    let ready = Arc::new(AtomicBool::new(false));

    // The TSDB opens (and replays its WAL) on a blocking thread while the API already answers
    // /-/healthy, as Prometheus does.
    let db_path = flags.tsdb_path.clone();
    let db_task = tokio::task::spawn_blocking(move || Db::open(&db_path, tsdb_opts));
    let db = db_task.await.context("TSDB open task failed")?.context("opening the TSDB")?;
    db.register_metrics(&mut registry);
    db.start_background();
    let _ = storage.db.set(db.clone());

    let scrape_options = ScrapeOptions { offset_seed: offset_seed(&config, listen), ..ScrapeOptions::default() };
    let scrape = Arc::new(ScrapeManager::new(db.clone(), scrape_options));
    scrape.register_metrics(&mut registry);
    let discovery = Arc::new(DiscoveryManager::new());
    discovery.register_metrics(&mut registry);

    let notifier = Arc::new(Notifier::new(NotifierOptions {
        queue_capacity: flags.notification_queue_capacity,
        drain_on_shutdown: flags.drain_notification_queue,
    }));
    notifier.register_metrics(&mut registry);
    let notify_target = notifier.clone();
    let rules = Arc::new(RuleManager::new(ManagerOptions {
        engine: Arc::new(Engine::new(engine_options.clone())),
        queryable: storage.clone(),
        appendable: db.clone(),
        notify: Arc::new(move |alerts| notify_target.send(alerts)),
        external_url: external_url(&flags, listen),
        outage_tolerance: parse_flag_duration("rules.alert.for-outage-tolerance", &flags.for_outage_tolerance)?,
        for_grace_period: parse_flag_duration("rules.alert.for-grace-period", &flags.for_grace_period)?,
        resend_delay: parse_flag_duration("rules.alert.resend-delay", &flags.resend_delay)?,
    }));
    rules.register_metrics(&mut registry);

    let server = Arc::new(Server {
        flags: flags.as_map(),
        source,
        listen_port: listen.port(),
        config: RwLock::new(Arc::new(config.clone())),
        last_reload_ok: AtomicBool::new(true),
        last_reload_time: RwLock::new(chrono::Utc::now()),
        start_time: chrono::Utc::now(),
        reload_metrics,
        storage: storage.clone(),
        scrape: scrape.clone(),
        discovery: discovery.clone(),
        rules: rules.clone(),
        notifier: notifier.clone(),
        runtime: tokio::runtime::Handle::current(),
        registry: RwLock::new(registry),
        retention_desc,
        shutdown: Notify::new(),
    });
    apply_rules_and_notifier(&rules, &notifier, &config).context("applying the configuration")?;
    tokio::spawn(notifier.clone().run());
    apply_config(&scrape, &discovery, &config).await.context("applying the configuration")?;
    let scrape_runner = scrape.clone();
    let targets_rx = discovery.subscribe();
    tokio::spawn(async move { scrape_runner.run(targets_rx).await });
    if initial_load_failed {
        server.last_reload_ok.store(false, Ordering::Release);
    } else {
        server.reload_metrics.successful.set(1);
        server.reload_metrics.success_timestamp.set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
    }
    if let (ConfigSource::Secret(secret), Some(client)) = (&server.source, kube_client) {
        let reload_server = server.clone();
        let reload: config_secret::Reload = Arc::new(move || reload_server.reload());
        tokio::spawn(config_secret::follow(client, secret.clone(), reload));
    }

    let lifecycle: Option<Arc<dyn Lifecycle>> =
        if flags.enable_lifecycle { Some(Arc::new(LifecycleHandle(server.clone()))) } else { None };
    let api = Arc::new(
        ApiState::new(
            storage.clone(),
            engine_options,
            flags.query_max_concurrency,
            Arc::new(TargetsHandle(scrape.clone())),
            Arc::new(StatusHandle(server.clone())),
            lifecycle,
            ready.clone(),
        )
        .with_rules(Arc::new(RulesHandle { rules: rules.clone(), notifier: notifier.clone() })),
    );
    let prefix = flags.route_prefix();
    let app = if prefix == "/" { oxeye_web::router(api) } else { oxeye_web::router_under(api, &prefix) };
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listen, "listening for HTTP requests");
    ready.store(true, Ordering::Release);
    ready_gauge.set(1);
    tracing::info!("server is ready to receive web requests");

    // SIGHUP reloads.
    let hup_server = server.clone();
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::error!("cannot install the SIGHUP handler; reload only through /-/reload");
            return;
        };
        while hup.recv().await.is_some() {
            let s = hup_server.clone();
            let _ = tokio::task::spawn_blocking(move || s.reload()).await;
        }
    });

    let shutdown_server = server.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                sig = oxeye_telemetry::terminated() => tracing::info!("received {}, exiting gracefully", sig.name()),
                _ = shutdown_server.shutdown.notified() => tracing::info!("received /-/quit, exiting gracefully"),
            }
        })
        .await
        .context("HTTP server failed")?;

    ready.store(false, Ordering::Release);
    discovery.stop();
    scrape.stop().await;
    rules.stop();
    notifier.stop().await;
    tokio::task::spawn_blocking(move || db.close())
        .await
        .context("TSDB close task failed")?
        .context("closing the TSDB")?;
    tracing::info!("see you next time!");
    Ok(())
}

/// Seeds the scrape phase of every target like Prometheus (external labels and host), so two
/// servers scraping the same targets do not hit them at the same instant.
fn offset_seed(cfg: &Config, listen: SocketAddr) -> u64 {
    let mut pairs: Vec<(String, String)> =
        cfg.global.external_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    pairs.push(("__host__".into(), format!("{}:{}", hostname(), listen.port())));
    Labels::from_pairs(pairs).hash()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn parse_flag_duration(name: &str, s: &str) -> anyhow::Result<Duration> {
    oxeye_model::parse_duration(s).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
}

fn resolve_listen(s: &str) -> Result<SocketAddr, std::io::Error> {
    use std::net::ToSocketAddrs;
    // Prometheus accepts ":9090" for all interfaces.
    let s = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    s.to_socket_addrs()?.next().ok_or_else(|| std::io::Error::other("no address"))
}

struct LifecycleHandle(Arc<Server>);

impl Lifecycle for LifecycleHandle {
    fn reload(&self) -> Result<(), String> {
        self.0.reload()
    }
    fn quit(&self) {
        self.0.shutdown.notify_one();
    }
}

struct TargetsHandle(Arc<ScrapeManager>);

impl TargetsView for TargetsHandle {
    fn active_targets(&self) -> Vec<ActiveTarget> {
        self.0
            .targets()
            .0
            .into_iter()
            .map(|t| ActiveTarget {
                discovered_labels: t.discovered_labels,
                labels: t.labels,
                scrape_pool: t.scrape_pool,
                scrape_url: t.scrape_url,
                global_url: t.global_url,
                last_error: t.last_error,
                last_scrape: t.last_scrape.map(chrono::DateTime::<chrono::Utc>::from),
                last_scrape_duration_secs: t.last_scrape_duration_secs,
                health: t.health.as_str().to_string(),
                scrape_interval: t.scrape_interval,
                scrape_timeout: t.scrape_timeout,
            })
            .collect()
    }

    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        self.0
            .targets()
            .1
            .into_iter()
            .map(|t| DroppedTarget { discovered_labels: t.discovered_labels, scrape_pool: t.scrape_pool })
            .collect()
    }

    fn scrape_pools(&self) -> Vec<String> {
        self.0.scrape_pools()
    }

    fn targets_metadata(&self) -> Vec<TargetMetadata> {
        self.0
            .targets_metadata(&[], None)
            .into_iter()
            .map(|m| TargetMetadata {
                target: m.target,
                metadata: MetricMetadata {
                    metric: m.metadata.metric_family,
                    typ: m.metadata.metric_type.as_str().to_string(),
                    help: m.metadata.help,
                    unit: m.metadata.unit,
                },
            })
            .collect()
    }
}

struct RulesHandle {
    rules: Arc<RuleManager>,
    notifier: Arc<Notifier>,
}

fn alert_info(a: oxeye_rules::ActiveAlertStatus) -> AlertInfo {
    AlertInfo {
        labels: a.labels,
        annotations: a.annotations,
        state: a.state.as_str().to_string(),
        active_at: Some(a.active_at),
        keep_firing_since: a.keep_firing_since,
        value: a.value,
    }
}

impl RulesView for RulesHandle {
    fn rule_groups(&self) -> Vec<RuleGroupInfo> {
        self.rules
            .groups()
            .into_iter()
            .map(|g| RuleGroupInfo {
                name: g.name,
                file: g.file,
                interval_secs: g.interval.as_secs_f64(),
                limit: g.limit,
                evaluation_time_secs: g.evaluation_time.as_secs_f64(),
                last_evaluation: g.last_evaluation,
                rules: g
                    .rules
                    .into_iter()
                    .map(|r| RuleInfo {
                        name: r.name,
                        query: r.query,
                        labels: r.labels,
                        health: r.health.to_string(),
                        last_error: r.last_error,
                        evaluation_time_secs: r.evaluation_time.as_secs_f64(),
                        last_evaluation: r.last_evaluation,
                        kind: match r.kind {
                            oxeye_rules::RuleKind::Recording => RuleKind::Recording,
                            oxeye_rules::RuleKind::Alerting {
                                state,
                                duration,
                                keep_firing_for,
                                annotations,
                                alerts,
                            } => RuleKind::Alerting {
                                state: state.as_str().to_string(),
                                duration_secs: duration.as_secs_f64(),
                                keep_firing_for_secs: keep_firing_for.as_secs_f64(),
                                annotations,
                                alerts: alerts.into_iter().map(alert_info).collect(),
                            },
                        },
                    })
                    .collect(),
            })
            .collect()
    }

    fn alerts(&self) -> Vec<AlertInfo> {
        self.rules.alerts().into_iter().map(alert_info).collect()
    }

    fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        self.notifier.alertmanagers()
    }
}

struct StatusHandle(Arc<Server>);

impl StatusView for StatusHandle {
    fn config_yaml(&self) -> String {
        let cfg = self.0.config.read().clone();
        cfg.to_yaml()
    }

    fn flags(&self) -> BTreeMap<String, String> {
        self.0.flags.clone()
    }

    fn runtime_info(&self) -> serde_json::Value {
        let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mut info = serde_json::json!({
            "startTime": self.0.start_time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "CWD": cwd,
            "reloadConfigSuccess": self.0.last_reload_ok.load(Ordering::Acquire),
            "lastConfigTime": self.0.last_reload_time.read().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "corruptionCount": 0,
            "goroutineCount": 0,
            "GOMAXPROCS": threads,
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": self.0.retention_desc,
        });
        // Oxeye extension: which version of the configuration Secret runs (oxeye-operator reads
        // it to report whether its latest write is live).
        if let (ConfigSource::Secret(s), Some(obj)) = (&self.0.source, info.as_object_mut()) {
            let st = s.state();
            obj.insert(
                "configSecret".into(),
                serde_json::json!({
                    "namespace": s.namespace,
                    "name": s.name,
                    "seenResourceVersion": st.seen,
                    "loadedResourceVersion": st.loaded,
                    "lastError": st.last_error,
                }),
            );
        }
        info
    }

    fn tsdb_status(&self, limit: usize) -> serde_json::Value {
        let Ok(db) = self.0.storage.get() else { return serde_json::json!({}) };
        let head = db.head_stats();
        let st = db.tsdb_status(limit);
        let pairs = |v: Vec<(String, u64)>| -> serde_json::Value {
            v.into_iter().map(|(name, value)| serde_json::json!({"name": name, "value": value})).collect()
        };
        serde_json::json!({
            "headStats": {
                "numSeries": head.num_series,
                "numLabelPairs": head.num_label_pairs,
                "chunkCount": head.chunk_count,
                "minTime": head.min_time,
                "maxTime": head.max_time,
            },
            "seriesCountByMetricName": pairs(st.series_count_by_metric_name),
            "labelValueCountByLabelName": pairs(st.label_value_count_by_label_name),
            "memoryInBytesByLabelName": pairs(st.memory_in_bytes_by_label_name),
            "seriesCountByLabelValuePair": pairs(st.series_count_by_label_value_pair),
        })
    }

    fn wal_replay(&self) -> serde_json::Value {
        serde_json::json!({ "min": 0, "max": 0, "current": 0 })
    }

    fn metrics_text(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.0.registry.read()) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}
