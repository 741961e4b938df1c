//! Leader election among operator replicas with a coordination.k8s.io/v1 Lease
//! (kube-lease-manager): only the holder writes the Secret and statuses; the others keep their
//! caches warm and take over when the lease expires or is released on shutdown.

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::settings::LeaderElection;

/// A running election: `is_leader` follows the lease. Dropping the receiver (and awaiting the
/// task) releases the lease.
pub struct Election {
    pub is_leader: watch::Receiver<bool>,
    pub task: Option<JoinHandle<Result<kube_lease_manager::LeaseManager, LeaseManagerError>>>,
    /// Keeps the channel open when election is disabled.
    _always: Option<watch::Sender<bool>>,
}

/// This replica's identity in the Lease: the pod name when running in a pod, plus a random part
/// so two processes on one host never share it.
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|s| s.trim().to_string()))
        .unwrap_or_else(|| "oxeye-operator".into());
    let mut rnd = [0u8; 4];
    let suffix = match getrandom::fill(&mut rnd) {
        Ok(()) => rnd.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        Err(_) => std::process::id().to_string(),
    };
    format!("{host}_{suffix}")
}

impl Election {
    /// Joins the election (or, when disabled, leads at once).
    pub async fn start(client: Client, namespace: &str, cfg: &LeaderElection) -> Result<Election, LeaseManagerError> {
        if !cfg.enabled {
            let (tx, rx) = watch::channel(true);
            return Ok(Election { is_leader: rx, task: None, _always: Some(tx) });
        }
        let id = identity();
        tracing::info!(lease = %format!("{namespace}/{}", cfg.lease_name), identity = %id, "joining leader election");
        let manager = LeaseManagerBuilder::new(client, cfg.lease_name.clone())
            .with_namespace(namespace)
            .with_identity(id)
            .with_duration(cfg.lease_duration_seconds)
            .with_grace(cfg.renew_grace_seconds)
            .with_field_manager(crate::output::FIELD_MANAGER)
            .build()
            .await?;
        let (is_leader, task) = manager.watch().await;
        Ok(Election { is_leader, task: Some(task), _always: None })
    }

    /// Leaves the election, releasing the lease if held, so another replica takes over at once.
    pub async fn stop(self) {
        let Election { is_leader, task, _always } = self;
        drop(is_leader);
        if let Some(task) = task {
            match task.await {
                Ok(Ok(_)) => tracing::info!("released the leader lease"),
                Ok(Err(e)) => tracing::warn!(error = %e, "releasing the leader lease failed"),
                Err(e) => tracing::warn!(error = %e, "leader election task failed"),
            }
        }
    }
}
