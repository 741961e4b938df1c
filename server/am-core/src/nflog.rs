//! The notification log (`nflog`): for each (group key, receiver integration) the alert
//! fingerprints last notified as firing and resolved, and when. The dedup stage reads it; the
//! set-notifies stage writes it. Entries expire after the retention (or twice the repeat
//! interval when that is shorter). Persisted as a JSON snapshot at `<storage.path>/nflog`,
//! rewritten atomically on every change and at maintenance, loaded at start.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::persist;
use crate::{CoreError, Result};

/// One integration of a receiver (`nflogpb.Receiver`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReceiverKey {
    pub group_name: String,
    pub integration: String,
    pub index: usize,
}

impl std::fmt::Display for ReceiverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.group_name, self.integration, self.index)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NflogEntry {
    pub group_key: String,
    pub receiver: ReceiverKey,
    pub timestamp: DateTime<Utc>,
    pub firing_alerts: Vec<u64>,
    pub resolved_alerts: Vec<u64>,
    pub expires_at: DateTime<Utc>,
}

impl NflogEntry {
    /// Every alert of `subset` was notified as firing in this entry.
    pub fn is_firing_subset(&self, subset: &HashSet<u64>) -> bool {
        let set: HashSet<u64> = self.firing_alerts.iter().copied().collect();
        subset.iter().all(|h| set.contains(h))
    }

    /// Every alert of `subset` was notified as resolved in this entry.
    pub fn is_resolved_subset(&self, subset: &HashSet<u64>) -> bool {
        let set: HashSet<u64> = self.resolved_alerts.iter().copied().collect();
        subset.iter().all(|h| set.contains(h))
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    entries: Vec<NflogEntry>,
}

const SNAPSHOT_VERSION: u32 = 1;

fn state_key(group_key: &str, r: &ReceiverKey) -> String {
    format!("{group_key}:{r}")
}

#[derive(Debug)]
pub struct NotificationLog {
    path: Option<PathBuf>,
    retention: Duration,
    clock: Clock,
    metrics: Arc<Metrics>,
    st: Mutex<HashMap<String, NflogEntry>>,
    /// Serialises snapshot writes so an older snapshot never overwrites a newer one.
    file: Mutex<()>,
}

impl NotificationLog {
    /// Opens the log, loading `path` if it exists. Entries already expired are dropped.
    pub fn open(path: Option<PathBuf>, retention: Duration, clock: Clock, metrics: Arc<Metrics>) -> Result<Self> {
        let mut st = HashMap::new();
        if let Some(p) = &path {
            let bytes =
                persist::read_optional(p).map_err(|e| CoreError::Io(format!("reading {}: {e}", p.display())))?;
            if let Some(bytes) = bytes {
                let snap: Snapshot = serde_json::from_slice(&bytes)
                    .map_err(|e| CoreError::Corrupt(format!("notification log {}: {e}", p.display())))?;
                let now = clock.now();
                for e in snap.entries {
                    if e.expires_at > now {
                        st.insert(state_key(&e.group_key, &e.receiver), e);
                    }
                }
                tracing::info!(path = %p.display(), entries = st.len(), "loaded notification log");
            }
        }
        Ok(NotificationLog { path, retention, clock, metrics, st: Mutex::new(st), file: Mutex::new(()) })
    }

    /// Records a notification. `expiry` (twice the repeat interval) shortens the retention.
    pub fn log(
        &self,
        receiver: &ReceiverKey,
        group_key: &str,
        firing: Vec<u64>,
        resolved: Vec<u64>,
        expiry: Duration,
    ) -> Result<()> {
        let now = self.clock.now();
        let key = state_key(group_key, receiver);
        {
            let mut st = self.st.lock();
            if let Some(prev) = st.get(&key)
                && prev.timestamp > now
            {
                return Ok(());
            }
            let keep = if !expiry.is_zero() && self.retention > expiry { expiry } else { self.retention };
            let expires_at = crate::clock::add_std(now, keep);
            st.insert(
                key,
                NflogEntry {
                    group_key: group_key.to_string(),
                    receiver: receiver.clone(),
                    timestamp: now,
                    firing_alerts: firing,
                    resolved_alerts: resolved,
                    expires_at,
                },
            );
        }
        if let Err(e) = self.snapshot() {
            // The entry is kept in memory; the next write or maintenance tick retries.
            tracing::error!(error = %e, "writing notification log snapshot failed");
        }
        Ok(())
    }

    /// The entry for a group and receiver integration, if any. A miss counts as a query error,
    /// as Alertmanager's `ErrNotFound` does.
    pub fn query(&self, group_key: &str, receiver: &ReceiverKey) -> Option<NflogEntry> {
        let start = Instant::now();
        self.metrics.nflog_queries.inc();
        let got = self.st.lock().get(&state_key(group_key, receiver)).cloned();
        if got.is_none() {
            self.metrics.nflog_query_errors.inc();
        }
        self.metrics.nflog_query_duration.observe(start.elapsed().as_secs_f64());
        got
    }

    /// All entries (for tests and debugging).
    pub fn entries(&self) -> Vec<NflogEntry> {
        self.st.lock().values().cloned().collect()
    }

    /// Drops expired entries; returns how many.
    pub fn gc(&self) -> usize {
        let start = Instant::now();
        let now = self.clock.now();
        let n = {
            let mut st = self.st.lock();
            let before = st.len();
            st.retain(|_, e| e.expires_at > now);
            before - st.len()
        };
        self.metrics.nflog_gc_duration.observe(start.elapsed().as_secs_f64());
        n
    }

    /// Writes the snapshot file (no-op without a storage path).
    pub fn snapshot(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let start = Instant::now();
        let _file = self.file.lock();
        let bytes = {
            let st = self.st.lock();
            let mut entries: Vec<NflogEntry> = st.values().cloned().collect();
            entries.sort_by(|a, b| (&a.group_key, &a.receiver.group_name).cmp(&(&b.group_key, &b.receiver.group_name)));
            serde_json::to_vec(&Snapshot { version: SNAPSHOT_VERSION, entries })
                .map_err(|e| CoreError::Io(format!("encoding notification log: {e}")))?
        };
        persist::write_atomic(path, &bytes).map_err(|e| CoreError::Io(format!("writing {}: {e}", path.display())))?;
        self.metrics.nflog_snapshot_size.set(bytes.len() as i64);
        self.metrics.nflog_snapshot_duration.observe(start.elapsed().as_secs_f64());
        Ok(())
    }

    /// GC followed by a snapshot (the maintenance tick).
    pub fn maintenance(&self) -> Result<()> {
        let removed = self.gc();
        tracing::debug!(removed, "notification log maintenance");
        self.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv() -> ReceiverKey {
        ReceiverKey { group_name: "team".into(), integration: "webhook".into(), index: 0 }
    }

    #[tokio::test(start_paused = true)]
    async fn log_query_expire_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nflog");
        let clock = Clock::tokio();
        let m = Arc::new(Metrics::new());
        let log =
            NotificationLog::open(Some(path.clone()), Duration::from_secs(3600), clock.clone(), m.clone()).unwrap();
        assert!(log.query("{}:{}", &recv()).is_none());
        log.log(&recv(), "{}:{}", vec![1, 2], vec![3], Duration::from_secs(600)).unwrap();
        let e = log.query("{}:{}", &recv()).unwrap();
        assert_eq!(e.firing_alerts, vec![1, 2]);
        assert!(e.is_firing_subset(&[1].into_iter().collect()));
        assert!(!e.is_firing_subset(&[1, 4].into_iter().collect()));
        assert!(e.is_resolved_subset(&[3].into_iter().collect()));
        // Expiry is 2x repeat interval (600s here) since that is shorter than the retention.
        assert_eq!(e.expires_at - e.timestamp, chrono::Duration::seconds(600));
        assert_eq!(m.nflog_queries.get(), 2);
        assert_eq!(m.nflog_query_errors.get(), 1);

        // Survives a reopen.
        let again =
            NotificationLog::open(Some(path.clone()), Duration::from_secs(3600), clock.clone(), m.clone()).unwrap();
        assert_eq!(again.query("{}:{}", &recv()), Some(e));

        tokio::time::advance(Duration::from_secs(601)).await;
        assert_eq!(again.gc(), 1);
        again.snapshot().unwrap();
        let third = NotificationLog::open(Some(path), Duration::from_secs(3600), clock, m).unwrap();
        assert!(third.entries().is_empty());
    }

    #[test]
    fn corrupt_snapshot_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nflog");
        std::fs::write(&path, b"{not json").unwrap();
        let err = NotificationLog::open(Some(path), Duration::from_secs(1), Clock::System, Arc::new(Metrics::new()))
            .unwrap_err();
        assert!(err.to_string().contains("nflog"), "{err}");
    }
}
