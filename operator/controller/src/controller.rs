//! The reconcile loop. Any relevant change in the cluster (or the status timer) runs one pass:
//! snapshot the caches, fetch referenced credentials, [`plan`](crate::plan::plan), write the
//! Secret if its data changed, read the server back, and patch each selected object's status
//! where it differs, with an Event when an object is rejected or accepted again. Only the
//! leader writes; a pass that fails is retried with backoff.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use oxeye_crd::monitoring::{Condition, ConditionStatus, TargetCounts};
use oxeye_crd::{PodMonitor, PrometheusRule, ServiceMonitor};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::credentials::Credentials;
use crate::metrics::{Metrics, controller};
use crate::output::{SecretWriter, Written, encode};
use crate::plan::{Kind, Outcome, Plan, Snapshot, plan, referenced_credentials};
use crate::readback::{ServerClient, ServerState};
use crate::settings::Settings;
use crate::status::{ACCEPTED, DesiredStatus, ServerView, desired};
use crate::trigger::{Backoff, Triggers, Wake};
use crate::{Error, Result};

/// How often the server is polled while it has not loaded the latest write yet.
const FAST_POLL: Duration = Duration::from_millis(100);
/// Give up fast polling after this long (the status interval takes over).
const FAST_POLL_FOR: Duration = Duration::from_secs(30);

pub struct Controller {
    client: Client,
    settings: Arc<Settings>,
    cluster: Cluster,
    credentials: Credentials,
    writer: SecretWriter,
    server: Option<ServerClient>,
    recorder: Recorder,
    metrics: Metrics,
    /// The Secret as last read or written while leading; `None` forces a read first.
    written: Option<Written>,
    /// When the last write happened, while the server has not loaded it yet.
    awaiting_server_since: Option<Instant>,
}

/// What one pass found, for logging and scheduling.
struct PassReport {
    wrote: bool,
    server_behind: bool,
}

impl Controller {
    pub fn new(
        client: Client,
        settings: Arc<Settings>,
        cluster: Cluster,
        recorder: Recorder,
        metrics: Metrics,
    ) -> Result<Controller> {
        let server = match &settings.server_url {
            Some(u) => Some(ServerClient::new(u).map_err(Error::Settings)?),
            None => None,
        };
        Ok(Controller {
            writer: SecretWriter::new(client.clone(), &settings.namespace, &settings.secret_name),
            credentials: Credentials::new(client.clone()),
            client,
            settings,
            cluster,
            server,
            recorder,
            metrics,
            written: None,
            awaiting_server_since: None,
        })
    }

    /// Runs passes until `shutdown`. `leader` says whether this replica may write.
    pub async fn run(mut self, leader: watch::Receiver<bool>, shutdown: CancellationToken) {
        let mut backoff = Backoff::default();
        let mut next = Duration::ZERO;
        let mut triggers = Triggers::new(leader, self.cluster.subscribe(), shutdown);
        loop {
            match triggers.wait(next).await {
                Wake::Stop => {
                    self.metrics.leader.set(0);
                    triggers.stopped().await;
                    return;
                }
                Wake::Follow => {
                    // Another replica writes; read the Secret afresh when leadership comes back.
                    self.metrics.leader.set(0);
                    self.written = None;
                    next = Duration::from_secs(3600);
                    continue;
                }
                Wake::Lead => {
                    self.metrics.leader.set(1);
                }
            }
            let metrics = self.metrics.clone();
            match metrics.time_pass(&controller(), self.pass()).await {
                Ok(report) => {
                    backoff.reset();
                    self.metrics.record_sync(true);
                    if report.wrote {
                        self.awaiting_server_since = Some(Instant::now());
                    }
                    let waiting =
                        report.server_behind && self.awaiting_server_since.is_some_and(|t| t.elapsed() < FAST_POLL_FOR);
                    if !report.server_behind {
                        self.awaiting_server_since = None;
                    }
                    next = if waiting { FAST_POLL } else { self.settings.status_interval };
                }
                Err(e) => {
                    self.metrics.record_sync(false);
                    next = backoff.after_failure();
                    tracing::error!(error = %e, retry_in = ?next, "reconcile failed");
                }
            }
        }
    }

    async fn pass(&mut self) -> Result<PassReport> {
        let snapshot = self.cluster.snapshot();
        let refs = referenced_credentials(&snapshot, &self.settings);
        self.cluster.set_interesting("prometheus", refs.iter().cloned().collect());
        self.credentials.refresh(&refs, &self.cluster).await;
        let plan = plan(&snapshot, &self.settings, &self.credentials);
        self.metrics.record_plan(&plan);

        let data = encode(&plan.files)?;
        if self.written.is_none() {
            self.written = self.writer.read().await?;
        }
        let mut wrote = false;
        if self.written.as_ref().is_none_or(|w| w.data != data) {
            let w = self.writer.apply(&data).await?;
            self.metrics.secret_writes.inc();
            tracing::info!(
                secret = %format!("{}/{}", self.writer.namespace, self.writer.name),
                resource_version = %w.resource_version,
                scrape_jobs = plan.outcomes.iter().filter(|o| o.key.kind != Kind::PrometheusRule).count(),
                rule_files = plan.files.len() - 1,
                "wrote the server configuration"
            );
            self.written = Some(w);
            wrote = true;
        }
        let written_rv = self.written.as_ref().map(|w| w.resource_version.clone());

        let server_state: Option<std::result::Result<ServerState, String>> = match &self.server {
            Some(s) => Some(s.read().await),
            None => None,
        };
        let view = match &server_state {
            None => ServerView::NotConfigured,
            Some(Err(e)) => ServerView::Unreachable(e),
            Some(Ok(st)) => ServerView::Reported(st),
        };
        if let Some(Err(e)) = &server_state {
            tracing::warn!(error = %e, "reading the server back failed");
        }
        let server_behind = match (&server_state, &written_rv) {
            (Some(Ok(st)), Some(rv)) => st.loaded_version.is_some() && !st.runs(rv) && st.refused(rv).is_none(),
            (Some(Err(_)), _) => true,
            _ => false,
        };
        let secret = format!("{}/{}", self.settings.namespace, self.settings.secret_name);
        let status_errors = self.update_statuses(&snapshot, &plan, (&secret, written_rv.as_deref()), view).await;
        if status_errors > 0 {
            return Err(Error::Status(status_errors));
        }
        Ok(PassReport { wrote, server_behind })
    }

    /// Patches the status of every selected object whose status differs from the desired one.
    /// Returns how many patches failed.
    async fn update_statuses(
        &self,
        snapshot: &Snapshot,
        plan: &Plan,
        secret: (&str, Option<&str>),
        view: ServerView<'_>,
    ) -> usize {
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let (sms, pms, prs) =
            (index(&snapshot.service_monitors), index(&snapshot.pod_monitors), index(&snapshot.rules));
        let mut failed = 0;
        for outcome in &plan.outcomes {
            let k = (outcome.key.namespace.clone(), outcome.key.name.clone());
            let ok = match outcome.key.kind {
                Kind::ServiceMonitor => match sms.get(&k) {
                    Some(o) => self.update_one(&***o, outcome, secret, view, &now).await,
                    None => true,
                },
                Kind::PodMonitor => match pms.get(&k) {
                    Some(o) => self.update_one(&***o, outcome, secret, view, &now).await,
                    None => true,
                },
                Kind::PrometheusRule => match prs.get(&k) {
                    Some(o) => self.update_one(&***o, outcome, secret, view, &now).await,
                    None => true,
                },
            };
            if !ok {
                failed += 1;
            }
        }
        failed
    }

    /// Brings one object's status in line; returns false when the patch failed.
    async fn update_one<K>(
        &self,
        obj: &K,
        outcome: &Outcome,
        secret: (&str, Option<&str>),
        view: ServerView<'_>,
        now: &Time,
    ) -> bool
    where
        K: Reported
            + Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
    {
        let (conditions, targets, observed) = obj.reported();
        let want = desired(outcome, secret, view, conditions, targets, now);
        let have = DesiredStatus { conditions: conditions.to_vec(), observed_generation: observed, targets };
        if want == have {
            return true;
        }
        let ns = obj.namespace().unwrap_or_default();
        let api: Api<K> = Api::namespaced(self.client.clone(), &ns);
        self.metrics.status_updates.get_or_create(&controller()).inc();
        if let Err(e) = api.patch_status(&obj.name_any(), &PatchParams::default(), &Patch::Merge(want.patch())).await {
            self.metrics.status_update_errors.get_or_create(&controller()).inc();
            tracing::warn!(object = %outcome.key, error = %e, "updating status failed");
            return false;
        }
        self.publish_event(obj, outcome, conditions, &want).await;
        true
    }

    /// A Warning when the object is newly rejected (or rejected for a new reason), a Normal
    /// event when a rejected object is accepted again.
    async fn publish_event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        outcome: &Outcome,
        before: &[Condition],
        after: &DesiredStatus,
    ) {
        let was = before.iter().find(|c| c.type_ == ACCEPTED);
        let Some(now) = after.condition(ACCEPTED) else { return };
        let event = match now.status {
            ConditionStatus::False
                if was.is_none_or(|w| {
                    w.status != ConditionStatus::False
                        || w.message != now.message
                        || w.observed_generation != now.observed_generation
                }) =>
            {
                Event {
                    type_: EventType::Warning,
                    reason: "InvalidConfiguration".into(),
                    note: now.message.as_ref().map(|m| truncate(m, 1000)),
                    action: "Render".into(),
                    secondary: None,
                }
            }
            ConditionStatus::True if was.is_some_and(|w| w.status == ConditionStatus::False) => Event {
                type_: EventType::Normal,
                reason: "Accepted".into(),
                note: now.message.clone(),
                action: "Render".into(),
                secondary: None,
            },
            _ => return,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(object = %outcome.key, error = %e, "publishing an event failed");
        }
    }
}

/// The objects of one kind by namespace and name.
fn index<K: Resource>(objects: &[Arc<K>]) -> BTreeMap<(String, String), &Arc<K>> {
    objects
        .iter()
        .map(|o| ((o.meta().namespace.clone().unwrap_or_default(), o.meta().name.clone().unwrap_or_default()), o))
        .collect()
}

/// The status fields Oxeye owns, as an object carries them now.
trait Reported {
    fn reported(&self) -> (&[Condition], Option<TargetCounts>, Option<i64>);
}

impl Reported for ServiceMonitor {
    fn reported(&self) -> (&[Condition], Option<TargetCounts>, Option<i64>) {
        let st = self.status.as_ref();
        (
            st.map(|s| s.conditions.as_slice()).unwrap_or_default(),
            st.and_then(|s| s.targets),
            st.and_then(|s| s.observed_generation),
        )
    }
}

impl Reported for PodMonitor {
    fn reported(&self) -> (&[Condition], Option<TargetCounts>, Option<i64>) {
        let st = self.status.as_ref();
        (
            st.map(|s| s.conditions.as_slice()).unwrap_or_default(),
            st.and_then(|s| s.targets),
            st.and_then(|s| s.observed_generation),
        )
    }
}

impl Reported for PrometheusRule {
    fn reported(&self) -> (&[Condition], Option<TargetCounts>, Option<i64>) {
        let st = self.status.as_ref();
        (st.map(|s| s.conditions.as_slice()).unwrap_or_default(), None, st.and_then(|s| s.observed_generation))
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
