//! The notification pipeline run on every aggregation-group flush (`notify/notify.go`):
//! inhibition, active/mute time intervals, silences, then for each integration of the receiver
//! concurrently: dedup against the notification log, send with exponential-backoff retries until
//! the flush deadline, and record what was sent. Integrations themselves live in am-notify.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use oxeye_am_config::TimeInterval;
use oxeye_model::Labels;
use tokio::time::Instant;

pub use futures::future::BoxFuture;

use crate::alert::Alert;
use crate::clock::Clock;
use crate::fingerprint::Fingerprint;
use crate::inhibit::Inhibitor;
use crate::marker::Marker;
use crate::metrics::{Metrics, integration_label};
use crate::nflog::{NflogEntry, NotificationLog, ReceiverKey};
use crate::silence::Silences;

/// A failed notification attempt. `retry: false` stops the retry loop at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyError {
    pub retry: bool,
    pub message: String,
}

impl NotifyError {
    pub fn retryable(message: impl Into<String>) -> NotifyError {
        NotifyError { retry: true, message: message.into() }
    }

    pub fn permanent(message: impl Into<String>) -> NotifyError {
        NotifyError { retry: false, message: message.into() }
    }
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NotifyError {}

/// What an integration needs to know about the notification besides the alerts.
#[derive(Debug, Clone)]
pub struct NotifyContext {
    pub receiver: String,
    pub group_key: String,
    pub group_labels: Labels,
    pub external_url: String,
    pub repeat_interval: Duration,
    /// The flush time.
    pub now: DateTime<Utc>,
    /// Fingerprints of the group's firing and resolved alerts in this flush (before
    /// send_resolved filtering), as the dedup stage computed them.
    pub firing: Vec<Fingerprint>,
    pub resolved: Vec<Fingerprint>,
}

/// One integration instance of a receiver, built by the binary from config via am-notify.
pub trait Integration: Send + Sync {
    /// "webhook", "email", ...
    fn name(&self) -> &str;
    /// Position within the receiver's configs of that kind.
    fn index(&self) -> usize;
    fn send_resolved(&self) -> bool;
    /// Sends one notification.
    fn notify<'a>(&'a self, ctx: &'a NotifyContext, alerts: &'a [Alert]) -> BoxFuture<'a, Result<(), NotifyError>>;
}

/// Builds a receiver's integrations from its configuration.
pub type IntegrationFactory =
    Arc<dyn Fn(&oxeye_am_config::Receiver) -> Result<Vec<Arc<dyn Integration>>, String> + Send + Sync>;

/// Per-flush parameters from the aggregation group and its route.
#[derive(Debug, Clone)]
pub struct FlushContext {
    pub receiver: String,
    pub group_key: String,
    pub group_labels: Labels,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub now: DateTime<Utc>,
    /// Notifications (including retries) must finish by then.
    pub deadline: Instant,
}

/// `DedupStage.needsUpdate`.
pub fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &HashSet<u64>,
    resolved: &HashSet<u64>,
    send_resolved: bool,
    repeat: Duration,
    now: DateTime<Utc>,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only worth it if something fires.
        return !firing.is_empty();
    };
    if !entry.is_firing_subset(firing) {
        return true;
    }
    // Everything resolved: notify (regardless of send_resolved, to clear the log) only if the
    // receiver was told about firing alerts before.
    if firing.is_empty() {
        return !entry.firing_alerts.is_empty();
    }
    if send_resolved && !entry.is_resolved_subset(resolved) {
        return true;
    }
    let repeat = chrono::Duration::from_std(repeat).unwrap_or(chrono::Duration::MAX);
    match now.checked_sub_signed(repeat) {
        Some(t) => entry.timestamp < t,
        None => false,
    }
}

/// The notification pipeline for one configuration.
pub struct Pipeline {
    receivers: HashMap<String, Vec<Arc<dyn Integration>>>,
    inhibitor: Arc<Inhibitor>,
    silences: Arc<Silences>,
    marker: Arc<Marker>,
    time_intervals: HashMap<String, TimeInterval>,
    nflog: Arc<NotificationLog>,
    metrics: Arc<Metrics>,
    clock: Clock,
    external_url: String,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline").field("receivers", &self.receivers.keys().collect::<Vec<_>>()).finish()
    }
}

/// The pieces a pipeline is built from.
pub struct PipelineParts {
    pub receivers: HashMap<String, Vec<Arc<dyn Integration>>>,
    pub inhibitor: Arc<Inhibitor>,
    pub silences: Arc<Silences>,
    pub marker: Arc<Marker>,
    pub time_intervals: Vec<TimeInterval>,
    pub nflog: Arc<NotificationLog>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub external_url: String,
}

impl Pipeline {
    pub fn new(p: PipelineParts) -> Pipeline {
        Pipeline {
            receivers: p.receivers,
            inhibitor: p.inhibitor,
            silences: p.silences,
            marker: p.marker,
            time_intervals: p.time_intervals.into_iter().map(|t| (t.name.clone(), t)).collect(),
            nflog: p.nflog,
            metrics: p.metrics,
            clock: p.clock,
            external_url: p.external_url,
        }
    }

    /// `Silencer.Mutes`: records active and pending silences in the marker.
    pub fn silenced(&self, labels: &Labels) -> bool {
        let (active, pending) = self.silences.matching_ids(labels);
        let muted = !active.is_empty();
        self.marker.set_silenced(Fingerprint::of(labels), active, pending);
        muted
    }

    pub fn inhibitor(&self) -> &Arc<Inhibitor> {
        &self.inhibitor
    }

    fn in_intervals(&self, names: &[String], now: DateTime<Utc>) -> bool {
        names.iter().any(|n| match self.time_intervals.get(n) {
            Some(ti) => ti.contains(now),
            None => {
                tracing::error!(time_interval = %n, "time interval not found");
                false
            }
        })
    }

    /// Runs the stages; `Ok` means the flush succeeded (so resolved alerts may leave the group).
    pub async fn exec(&self, fc: &FlushContext, alerts: Vec<Alert>) -> Result<(), String> {
        let alerts: Vec<Alert> = alerts.into_iter().filter(|a| !self.inhibitor.mutes(&a.labels)).collect();
        if alerts.is_empty() {
            return Ok(());
        }
        if !fc.active_time_intervals.is_empty() && !self.in_intervals(&fc.active_time_intervals, fc.now) {
            tracing::debug!(group_key = %fc.group_key, "notifications not sent, outside active time intervals");
            return Ok(());
        }
        if !fc.mute_time_intervals.is_empty() && self.in_intervals(&fc.mute_time_intervals, fc.now) {
            tracing::debug!(group_key = %fc.group_key, "notifications not sent, route muted by time interval");
            return Ok(());
        }
        let alerts: Vec<Alert> = alerts.into_iter().filter(|a| !self.silenced(&a.labels)).collect();
        if alerts.is_empty() {
            return Ok(());
        }
        let Some(integrations) = self.receivers.get(&fc.receiver) else {
            return Err(format!("receiver {:?} does not exist", fc.receiver));
        };
        let results = join_all(integrations.iter().map(|i| self.integration_stage(fc, i.as_ref(), &alerts))).await;
        let errs: Vec<String> = results.into_iter().filter_map(|r| r.err()).collect();
        if errs.is_empty() { Ok(()) } else { Err(errs.join("; ")) }
    }

    /// Dedup, retry and set-notifies for one integration.
    async fn integration_stage(
        &self,
        fc: &FlushContext,
        integration: &dyn Integration,
        alerts: &[Alert],
    ) -> Result<(), String> {
        let recv = ReceiverKey {
            group_name: fc.receiver.clone(),
            integration: integration.name().to_string(),
            index: integration.index(),
        };
        let now = self.clock.now();
        let (mut firing, mut resolved) = (Vec::new(), Vec::new());
        for a in alerts {
            if a.resolved_at(now) {
                resolved.push(a.fingerprint());
            } else {
                firing.push(a.fingerprint());
            }
        }
        let firing_set: HashSet<u64> = firing.iter().map(|f| f.0).collect();
        let resolved_set: HashSet<u64> = resolved.iter().map(|f| f.0).collect();
        let entry = self.nflog.query(&fc.group_key, &recv);
        if !needs_update(
            entry.as_ref(),
            &firing_set,
            &resolved_set,
            integration.send_resolved(),
            fc.repeat_interval,
            now,
        ) {
            return Ok(());
        }
        let ctx = NotifyContext {
            receiver: fc.receiver.clone(),
            group_key: fc.group_key.clone(),
            group_labels: fc.group_labels.clone(),
            external_url: self.external_url.clone(),
            repeat_interval: fc.repeat_interval,
            now: fc.now,
            firing: firing.clone(),
            resolved: resolved.clone(),
        };
        let label = integration_label(integration.name());
        self.metrics.notifications.get_or_create(&label).inc();
        if let Err(e) = self.retry(fc, &ctx, integration, &recv, alerts, now).await {
            self.metrics.notifications_failed.get_or_create(&label).inc();
            tracing::error!(receiver = %fc.receiver, integration = %recv, group_key = %fc.group_key, error = %e, "notify for alerts failed");
            return Err(e);
        }
        self.nflog
            .log(
                &recv,
                &fc.group_key,
                firing.iter().map(|f| f.0).collect(),
                resolved.iter().map(|f| f.0).collect(),
                fc.repeat_interval.saturating_mul(2),
            )
            .map_err(|e| e.to_string())
    }

    /// `RetryStage`: exponential backoff (0.5s initial, x1.5, +-50% jitter, 60s cap) until the
    /// deadline; a non-retryable error ends at once.
    async fn retry(
        &self,
        fc: &FlushContext,
        ctx: &NotifyContext,
        integration: &dyn Integration,
        recv: &ReceiverKey,
        alerts: &[Alert],
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let sent: Vec<Alert> = if integration.send_resolved() {
            alerts.to_vec()
        } else {
            if ctx.firing.is_empty() {
                // Only resolved alerts and the integration does not want them: count as notified so
                // the log records the resolution.
                return Ok(());
            }
            alerts.iter().filter(|a| !a.resolved_at(now)).cloned().collect()
        };
        let label = integration_label(integration.name());
        let mut interval = Duration::from_millis(500);
        let mut last_err: Option<NotifyError> = None;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if Instant::now() >= fc.deadline {
                return Err(canceled(recv, attempt - 1, last_err.as_ref()));
            }
            let start = std::time::Instant::now();
            let res = tokio::time::timeout_at(fc.deadline, integration.notify(ctx, &sent)).await;
            self.metrics.notification_latency.get_or_create(&label).observe(start.elapsed().as_secs_f64());
            self.metrics.notification_requests.get_or_create(&label).inc();
            match res {
                Ok(Ok(())) => {
                    tracing::debug!(receiver = %fc.receiver, integration = %recv, attempts = attempt, "notify success");
                    return Ok(());
                }
                Ok(Err(e)) => {
                    self.metrics.notification_requests_failed.get_or_create(&label).inc();
                    if !e.retry {
                        return Err(format!(
                            "{recv}: notify retry canceled due to unrecoverable error after {attempt} attempts: {e}"
                        ));
                    }
                    if last_err.as_ref().is_none_or(|l| l.message != e.message) {
                        tracing::warn!(receiver = %fc.receiver, integration = %recv, attempts = attempt, error = %e, "notify attempt failed, will retry later");
                    }
                    last_err = Some(e);
                }
                Err(_) => {
                    self.metrics.notification_requests_failed.get_or_create(&label).inc();
                    return Err(canceled(recv, attempt, last_err.as_ref()));
                }
            }
            let wait = jitter(interval);
            interval = (interval.mul_f64(1.5)).min(Duration::from_secs(60));
            if Instant::now() + wait >= fc.deadline {
                tokio::time::sleep_until(fc.deadline).await;
                return Err(canceled(recv, attempt, last_err.as_ref()));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

fn canceled(recv: &ReceiverKey, attempts: u32, last: Option<&NotifyError>) -> String {
    match last {
        Some(e) => format!("{recv}: notify retry canceled after {attempts} attempts: {e}"),
        None => format!("{recv}: notify retry canceled after {attempts} attempts: context deadline exceeded"),
    }
}

/// `interval * [0.5, 1.5)`, the backoff library's randomisation.
fn jitter(interval: Duration) -> Duration {
    let mut b = [0u8; 4];
    let r = if getrandom::fill(&mut b).is_ok() { f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX) } else { 0.5 };
    interval.mul_f64(0.5 + r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap_or_default()
    }

    fn entry(firing: &[u64], resolved: &[u64], at: i64) -> NflogEntry {
        NflogEntry {
            group_key: "g".into(),
            receiver: ReceiverKey { group_name: "r".into(), integration: "webhook".into(), index: 0 },
            timestamp: t(at),
            firing_alerts: firing.to_vec(),
            resolved_alerts: resolved.to_vec(),
            expires_at: t(at + 1_000_000),
        }
    }

    fn set(v: &[u64]) -> HashSet<u64> {
        v.iter().copied().collect()
    }

    const H4: Duration = Duration::from_secs(4 * 3600);

    #[test]
    fn dedup_decisions() {
        let now = t(100);
        // No previous notification.
        assert!(needs_update(None, &set(&[1]), &set(&[]), false, H4, now));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, H4, now));
        // Same firing set: nothing new until the repeat interval passed.
        let e = entry(&[1, 2], &[], 0);
        assert!(!needs_update(Some(&e), &set(&[1, 2]), &set(&[]), true, H4, now));
        assert!(!needs_update(Some(&e), &set(&[1]), &set(&[]), false, H4, now), "subset of firing: no update");
        assert!(needs_update(Some(&e), &set(&[1]), &set(&[2]), true, H4, now), "resolved grew with send_resolved");
        assert!(!needs_update(Some(&e), &set(&[1]), &set(&[2]), false, H4, now), "resolved grew without send_resolved");
        assert!(needs_update(Some(&e), &set(&[1, 3]), &set(&[]), false, H4, now), "new firing alert");
        // All resolved: notify if something was firing before, irrespective of send_resolved.
        assert!(needs_update(Some(&e), &set(&[]), &set(&[1, 2]), false, H4, now));
        let quiet = entry(&[], &[1], 0);
        assert!(!needs_update(Some(&quiet), &set(&[]), &set(&[1, 5]), true, H4, now));
        // Repeat interval elapsed (strictly).
        let later = t(4 * 3600);
        assert!(!needs_update(Some(&e), &set(&[1, 2]), &set(&[]), true, H4, later));
        assert!(needs_update(Some(&e), &set(&[1, 2]), &set(&[]), true, H4, t(4 * 3600 + 1)));
    }

    #[test]
    fn jitter_bounds() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(10));
            assert!(j >= Duration::from_secs(5) && j <= Duration::from_secs(15), "{j:?}");
        }
    }
}
