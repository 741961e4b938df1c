//! Server assembly: loads the configuration, starts the router core with the integrations of
//! `oxeye-am-notify`, serves the HTTP API, and handles reloads (SIGHUP, `POST /-/reload`) and
//! graceful shutdown (SIGTERM/SIGINT: silences and the notification log are snapshotted).
//! A configuration that fails to load or apply never replaces the running one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use oxeye_am_config::Config;
use oxeye_am_core::{AlertmanagerCore, CoreOptions};
use oxeye_am_notify::Templates;

use crate::api::{ApiState, ConfigView, ServerHooks};
use crate::core_backend::CoreBackend;
use crate::flags::Flags;

/// `alertmanager_config_*` metrics, as the configuration coordinator exports them.
#[derive(Default)]
struct ConfigMetrics {
    hash: Gauge<f64, AtomicU64>,
    successful: Gauge,
    success_timestamp: Gauge<f64, AtomicU64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    revision: String,
    branch: String,
    goversion: String,
}

/// `md5HashAsMetricValue`: the first 48 bits of the file's MD5, little-endian, as a float
/// (exactly representable in a float64).
pub fn config_hash_value(data: &[u8]) -> f64 {
    use md5::Digest;
    let sum = md5::Md5::digest(data);
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(&sum[..6]);
    u64::from_le_bytes(b) as f64
}

/// Loads the configuration file; the text goes to `/api/v2/status` as `config.original`.
pub fn load_config(path: &std::path::Path) -> anyhow::Result<(Config, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let cfg = oxeye_am_config::load_file(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((cfg, bytes))
}

fn config_view(cfg: &Config) -> ConfigView {
    ConfigView {
        original: oxeye_am_config::redact_secrets(&cfg.original),
        receivers: cfg.receivers.iter().map(|r| r.name.clone()).collect(),
    }
}

/// The templates the integrations render with; replaced on every successful (re)load.
type TemplateSlot = Arc<RwLock<Arc<Templates>>>;

/// Parses the templates the configuration names (Alertmanager fails the load on a bad one).
fn load_templates(cfg: &Config) -> anyhow::Result<Arc<Templates>> {
    let t = Templates::from_globs(&cfg.templates).map_err(|e| anyhow::anyhow!("failed to parse templates: {e}"))?;
    Ok(Arc::new(t))
}

struct Server {
    config_file: PathBuf,
    templates: TemplateSlot,
    core: Arc<AlertmanagerCore>,
    api: RwLock<Option<Arc<ApiState>>>,
    metrics: ConfigMetrics,
    registry: RwLock<Registry>,
}

impl Server {
    /// Loads and applies the configuration file; on any error the running one stays.
    fn reload(&self) -> Result<(), String> {
        tracing::info!(component = "configuration", file = %self.config_file.display(), "Loading configuration file");
        let result = load_config(&self.config_file).map_err(|e| format!("{e:#}")).and_then(|(cfg, bytes)| {
            let view = config_view(&cfg);
            let templates = load_templates(&cfg).map_err(|e| format!("{e:#}"))?;
            let previous = std::mem::replace(&mut *self.templates.write(), templates);
            if let Err(e) = self.core.apply_config(Arc::new(cfg)) {
                *self.templates.write() = previous;
                return Err(e.to_string());
            }
            Ok((view, bytes))
        });
        match result {
            Ok((view, bytes)) => {
                self.metrics.hash.set(config_hash_value(&bytes));
                self.metrics.successful.set(1);
                self.metrics.success_timestamp.set(chrono::Utc::now().timestamp() as f64);
                if let Some(api) = self.api.read().as_ref() {
                    *api.config.write() = view;
                }
                tracing::info!(component = "configuration", file = %self.config_file.display(), "Completed loading of configuration file");
                Ok(())
            }
            Err(e) => {
                self.metrics.successful.set(0);
                tracing::error!(component = "configuration", file = %self.config_file.display(), err = %e, "Loading configuration file failed");
                Err(e)
            }
        }
    }
}

impl ServerHooks for Server {
    fn reload(&self) -> Result<(), String> {
        Server::reload(self)
    }

    fn metrics_text(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry.read()) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// The URL Alertmanager is reachable under: `--web.external-url`, else
/// `http://<hostname>:<port>/`, without trailing slash. Notifications link back to it.
fn external_url(flags: &Flags, listen: SocketAddr) -> String {
    let raw = flags.external_url.clone().unwrap_or_else(|| {
        let host =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default();
        let host = if host.is_empty() { "localhost".to_string() } else { host };
        format!("http://{host}:{}/", listen.port())
    });
    raw.trim_end_matches('/').to_string()
}

fn resolve_listen(s: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    // Go accepts ":9093" for all interfaces.
    let s = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    s.to_socket_addrs()?.next().ok_or_else(|| anyhow::anyhow!("no address for {s:?}"))
}

pub async fn run(flags: Flags) -> anyhow::Result<()> {
    flags.validate().map_err(|e| anyhow::anyhow!(e))?;
    let durations = flags.durations().map_err(|e| anyhow::anyhow!(e))?;
    let version = crate::api::model::VersionInfo::current();
    tracing::info!(version = %version.version, revision = %version.revision, "Starting oxeye-alertmanager");
    let listen = resolve_listen(&flags.listen_address)
        .with_context(|| format!("invalid --web.listen-address {:?}", flags.listen_address))?;
    let external_url = external_url(&flags, listen);
    std::fs::create_dir_all(&flags.storage_path)
        .with_context(|| format!("creating --storage.path {}", flags.storage_path.display()))?;

    let (config, bytes) = load_config(&flags.config_file).context("error loading config")?;
    let templates: TemplateSlot = Arc::new(RwLock::new(load_templates(&config)?));
    let slot = templates.clone();
    let integrations: oxeye_am_core::IntegrationFactory =
        Arc::new(move |r: &oxeye_am_config::Receiver| oxeye_am_notify::build_integrations(r, slot.read().clone()));
    let core = Arc::new(
        AlertmanagerCore::new(CoreOptions {
            storage_path: flags.storage_path.clone(),
            data_retention: durations.data_retention,
            gc_interval: durations.gc_interval,
            external_url: external_url.clone(),
            integrations,
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let view = config_view(&config);
    core.apply_config(Arc::new(config)).map_err(|e| anyhow::anyhow!("applying the configuration: {e}"))?;

    let mut registry = Registry::default();
    let metrics = ConfigMetrics::default();
    registry.register(
        "alertmanager_config_hash",
        "Hash of the currently loaded alertmanager configuration.",
        metrics.hash.clone(),
    );
    registry.register(
        "alertmanager_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
        metrics.successful.clone(),
    );
    registry.register(
        "alertmanager_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.",
        metrics.success_timestamp.clone(),
    );
    let build: Family<BuildLabels, Gauge> = Family::default();
    build
        .get_or_create(&BuildLabels {
            version: version.version.clone(),
            revision: version.revision.clone(),
            branch: version.branch.clone(),
            goversion: version.go_version.clone(),
        })
        .set(1);
    registry.register(
        "alertmanager_build_info",
        "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which alertmanager was built.",
        build,
    );
    let cluster_enabled: Gauge = Gauge::default();
    cluster_enabled.set(i64::from(!flags.cluster_listen_address.is_empty()));
    registry.register(
        "alertmanager_cluster_enabled",
        "Indicates whether the clustering is enabled or not.",
        cluster_enabled,
    );
    core.register_metrics(&mut registry);
    registry.register_collector(Box::new(oxeye_telemetry::ProcessCollector::new()));
    metrics.hash.set(config_hash_value(&bytes));
    metrics.successful.set(1);
    metrics.success_timestamp.set(chrono::Utc::now().timestamp() as f64);

    let server = Arc::new(Server {
        config_file: flags.config_file.clone(),
        templates,
        core: core.clone(),
        api: RwLock::new(None),
        metrics,
        registry: RwLock::new(registry),
    });
    let api = Arc::new(ApiState {
        backend: Arc::new(CoreBackend::new(core.clone())),
        hooks: server.clone(),
        config: RwLock::new(view),
        cluster: crate::cluster::status_source(&flags),
        uptime: chrono::Utc::now(),
        version,
        ready: std::sync::atomic::AtomicBool::new(false),
    });
    *server.api.write() = Some(api.clone());

    let core_task = tokio::spawn(core.clone().run());

    let prefix = flags.route_prefix();
    let app = crate::api::router(api.clone(), &prefix);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listen, external_url = %external_url, route_prefix = %prefix, "Listening");
    api.ready.store(true, Ordering::Release);

    let hup = server.clone();
    tokio::spawn(async move {
        let Ok(mut sig) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::error!("cannot install the SIGHUP handler; reload only through /-/reload");
            return;
        };
        while sig.recv().await.is_some() {
            let s = hup.clone();
            let _ = tokio::task::spawn_blocking(move || s.reload()).await;
        }
    });

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let sig = oxeye_telemetry::terminated().await;
            tracing::info!("Received {}, exiting gracefully...", sig.name());
        })
        .await
        .context("HTTP server failed")?;

    api.ready.store(false, Ordering::Release);
    core.stop().await;
    core_task.abort();
    tracing::info!("See you next time!");
    Ok(())
}
