//! The `oxeye-operator` binary: reads its settings, connects to the API server (kubeconfig or
//! in-cluster), serves `/metrics`, `/healthz` and `/readyz`, joins leader election and runs the
//! controller until SIGTERM or SIGINT, then releases the lease and exits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Parser;
use kube::runtime::events::{Recorder, Reporter};
use oxeye_operator::cluster::{Cluster, DashboardConfigMaps};
use oxeye_operator::controller::Controller;
use oxeye_operator::http::{Endpoints, router};
use oxeye_operator::leader::{Election, identity};
use oxeye_operator::metrics::{Metrics, controller};
use oxeye_operator::provisioning::Provisioner;
use oxeye_operator::settings::{Overrides, SettingsFile};
use oxeye_telemetry::{LogFormat, LogLevel, LogfmtStyle};
use parking_lot::RwLock;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "oxeye-operator",
    version,
    about = "Reconciles ServiceMonitors, PodMonitors and PrometheusRules into oxeye's configuration"
)]
struct Flags {
    /// Operator settings file (YAML; see docs/operator.md). Without it, every ServiceMonitor,
    /// PodMonitor and PrometheusRule in every namespace is selected.
    #[arg(long = "config.file", value_name = "FILE")]
    config_file: Option<PathBuf>,

    /// Namespace of the server's Secret and of the leader Lease (overrides `namespace`).
    #[arg(long = "namespace")]
    namespace: Option<String>,

    /// Name of the Secret written for oxeye (overrides `secretName`).
    #[arg(long = "server.secret-name")]
    secret_name: Option<String>,

    /// oxeye's base URL, read back for status (overrides `serverURL`).
    #[arg(long = "server.url")]
    server_url: Option<String>,

    /// Grafana's base URL (overrides `grafana.url`; the settings file must have a `grafana`
    /// block with the credentials).
    #[arg(long = "grafana.url")]
    grafana_url: Option<String>,

    /// Take part in leader election (overrides `leaderElection.enabled`).
    #[arg(long = "leader-elect", action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: Option<bool>,

    /// Address for /metrics, /healthz and /readyz.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:8080")]
    listen_address: String,

    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,

    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    oxeye_telemetry::init_logging(flags.log_level, flags.log_format, LogfmtStyle::Prometheus);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("oxeye-operator").build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "oxeye-operator stopped with an error");
            ExitCode::from(1)
        }
    }
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let file = match &flags.config_file {
        Some(p) => SettingsFile::read(p)?,
        None => SettingsFile::default(),
    };
    let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
    let overrides = Overrides {
        namespace: flags.namespace.clone(),
        secret_name: flags.secret_name.clone(),
        server_url: flags.server_url.clone(),
        leader_election: flags.leader_elect,
        grafana_url: flags.grafana_url.clone(),
    };
    let settings = Arc::new(file.resolve(&overrides, client.default_namespace())?);
    tracing::info!(
        namespace = %settings.namespace,
        secret = %settings.secret_name,
        server_url = settings.server_url.as_deref().unwrap_or(""),
        leader_election = settings.leader_election.enabled,
        "starting oxeye-operator"
    );

    let metrics = Metrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let endpoints = Arc::new(Endpoints { registry: RwLock::new(registry), ready: AtomicBool::new(false) });
    let listener = tokio::net::TcpListener::bind(listen_address(&flags.listen_address))
        .await
        .with_context(|| format!("cannot listen on {}", flags.listen_address))?;
    let shutdown = CancellationToken::new();
    let http_shutdown = shutdown.clone();
    let http_endpoints = endpoints.clone();
    let http = tokio::spawn(async move {
        let serve = axum::serve(listener, router(http_endpoints))
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tokio::spawn(signals(shutdown.clone()));

    let grafana_sources = settings.grafana.as_ref().map(|g| {
        g.config_maps.as_ref().map(|c| DashboardConfigMaps { label: c.label.clone(), value: c.label_value.clone() })
    });
    let (cluster, watches) = Cluster::start(&client, &metrics, grafana_sources);
    tokio::select! {
        r = cluster.wait_ready() => r.map_err(|e| anyhow::anyhow!(e))?,
        _ = shutdown.cancelled() => {
            for w in watches {
                w.abort();
            }
            return Ok(());
        }
    }
    endpoints.ready.store(true, Ordering::Release);
    metrics.ready.get_or_create(&controller()).set(1);
    tracing::info!("caches synced");

    let reporter = Reporter { controller: "oxeye-operator".into(), instance: Some(identity()) };
    let recorder = Recorder::new(client.clone(), reporter);
    let election = Election::start(client.clone(), &settings.namespace, &settings.leader_election)
        .await
        .context("starting leader election")?;
    let provisioner =
        Provisioner::new(client.clone(), settings.clone(), cluster.clone(), recorder.clone(), metrics.clone());
    let reconciler = Controller::new(client.clone(), settings.clone(), cluster, recorder, metrics.clone())?;
    let grafana = provisioner.map(|p| tokio::spawn(p.run(election.is_leader.clone(), shutdown.clone())));
    reconciler.run(election.is_leader.clone(), shutdown.clone()).await;
    if let Some(g) = grafana {
        let _ = g.await;
    }

    tracing::info!("shutting down");
    metrics.ready.get_or_create(&controller()).set(0);
    endpoints.ready.store(false, Ordering::Release);
    election.stop().await;
    for w in watches {
        w.abort();
    }
    let _ = http.await;
    tracing::info!("oxeye-operator stopped");
    Ok(())
}

/// Prometheus-style `:8080` means every interface.
fn listen_address(s: &str) -> String {
    if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() }
}

async fn signals(shutdown: CancellationToken) {
    let sig = oxeye_telemetry::terminated().await;
    tracing::info!("received {}, exiting gracefully", sig.name());
    shutdown.cancel();
}
