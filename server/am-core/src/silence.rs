//! Silences (`silence/silence.go`): create, update in place or replace, expire, query, mute,
//! garbage-collect after the retention, and persist. State (pending/active/expired) is a pure
//! function of the time. The snapshot at `<storage.path>/silences` is JSON, rewritten
//! atomically on every change and at maintenance so that a `kill -9` loses nothing.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use oxeye_am_config::{MatchOp, Matcher};
use oxeye_model::Labels;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::alert::{is_valid_label_name, is_zero_time};
use crate::clock::{Clock, add_std};
use crate::metrics::Metrics;
use crate::persist;
use crate::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Expired,
    Active,
    Pending,
}

impl SilenceState {
    pub fn as_str(&self) -> &'static str {
        match self {
            SilenceState::Expired => "expired",
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<SilenceState> {
        match s {
            "expired" => Some(SilenceState::Expired),
            "active" => Some(SilenceState::Active),
            "pending" => Some(SilenceState::Pending),
            _ => None,
        }
    }
}

impl fmt::Display for SilenceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// Empty when creating a new silence.
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Set by `Silences::set`; ignored on input.
    pub updated_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    /// `getState`: pending before the start, expired strictly after the end, else active.
    pub fn state(&self, now: DateTime<Utc>) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether all matchers match the label set (a missing label matches as "").
    pub fn matches(&self, labels: &Labels) -> bool {
        oxeye_am_config::matches_all(&self.matchers, labels)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SilenceError {
    #[error("silence not found")]
    NotFound,
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
    #[error("{0}")]
    Invalid(String),
}

/// Filters for `Silences::query`; every set field must hold.
#[derive(Debug, Clone, Default)]
pub struct SilenceQuery {
    pub ids: Option<Vec<String>>,
    pub states: Option<Vec<SilenceState>>,
    /// Only silences whose matchers all match this label set.
    pub matches: Option<Labels>,
}

/// `validateSilence` (with the matcher rules of `validateMatcher`).
pub fn validate_silence(s: &Silence) -> std::result::Result<(), String> {
    if s.id.is_empty() {
        return Err("ID missing".into());
    }
    if s.matchers.is_empty() {
        return Err("at least one matcher required".into());
    }
    let mut all_match_empty = true;
    for (i, m) in s.matchers.iter().enumerate() {
        if !is_valid_label_name(&m.name) {
            return Err(format!(
                "invalid label matcher {i}: invalid label name {}",
                oxeye_model::labels::go_quote(&m.name)
            ));
        }
        all_match_empty = all_match_empty && m.matches_empty();
    }
    if all_match_empty {
        return Err("at least one matcher must not match the empty string".into());
    }
    if is_zero_time(s.starts_at) {
        return Err("invalid zero start timestamp".into());
    }
    if is_zero_time(s.ends_at) {
        return Err("invalid zero end timestamp".into());
    }
    if s.ends_at < s.starts_at {
        return Err("end time must not be before start time".into());
    }
    if is_zero_time(s.updated_at) {
        return Err("invalid zero update timestamp".into());
    }
    Ok(())
}

/// `canUpdate`: same matchers, and the time change allowed in the current state.
fn can_update(a: &Silence, b: &Silence, now: DateTime<Utc>) -> bool {
    if a.matchers != b.matchers {
        return false;
    }
    match a.state(now) {
        SilenceState::Active => b.starts_at == a.starts_at && b.ends_at >= now,
        SilenceState::Pending => b.starts_at >= now,
        SilenceState::Expired => false,
    }
}

#[derive(Debug, Clone)]
struct Stored {
    silence: Silence,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct SnapMatcher {
    name: String,
    #[serde(rename = "type")]
    op: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
struct SnapSilence {
    id: String,
    matchers: Vec<SnapMatcher>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    created_by: String,
    comment: String,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    silences: Vec<SnapSilence>,
}

const SNAPSHOT_VERSION: u32 = 1;

fn op_from_str(s: &str) -> Option<MatchOp> {
    Some(match s {
        "=" => MatchOp::Equal,
        "!=" => MatchOp::NotEqual,
        "=~" => MatchOp::Regexp,
        "!~" => MatchOp::NotRegexp,
        _ => return None,
    })
}

/// The silence store.
#[derive(Debug)]
pub struct Silences {
    path: Option<PathBuf>,
    retention: Duration,
    clock: Clock,
    metrics: Arc<Metrics>,
    st: RwLock<HashMap<String, Stored>>,
    version: AtomicU64,
    file: Mutex<()>,
}

impl Silences {
    /// Opens the store, loading `path` when it exists; silences past their retention are dropped.
    pub fn open(path: Option<PathBuf>, retention: Duration, clock: Clock, metrics: Arc<Metrics>) -> Result<Self> {
        let mut st = HashMap::new();
        if let Some(p) = &path
            && let Some(bytes) =
                persist::read_optional(p).map_err(|e| CoreError::Io(format!("reading {}: {e}", p.display())))?
        {
            let corrupt = |e: String| CoreError::Corrupt(format!("silences {}: {e}", p.display()));
            let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
            let now = clock.now();
            for s in snap.silences {
                if s.expires_at <= now {
                    continue;
                }
                let mut matchers = Vec::with_capacity(s.matchers.len());
                for m in s.matchers {
                    let op = op_from_str(&m.op).ok_or_else(|| corrupt(format!("unknown matcher type {:?}", m.op)))?;
                    matchers.push(Matcher::new(m.name, op, m.value).map_err(corrupt)?);
                }
                let silence = Silence {
                    id: s.id,
                    matchers,
                    starts_at: s.starts_at,
                    ends_at: s.ends_at,
                    updated_at: s.updated_at,
                    created_by: s.created_by,
                    comment: s.comment,
                };
                st.insert(silence.id.clone(), Stored { silence, expires_at: s.expires_at });
            }
            tracing::info!(path = %p.display(), silences = st.len(), "loaded silences");
        }
        Ok(Silences {
            path,
            retention,
            clock,
            metrics,
            st: RwLock::new(st),
            version: AtomicU64::new(0),
            file: Mutex::new(()),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Incremented on every change; lets callers cache query results.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// `Silences.Set`: updates the silence with `sil.id` in place when allowed (same matchers,
    /// not expired, permitted time change), otherwise expires it (unless already expired) and
    /// creates a new silence with a fresh ID. An empty ID creates. A start in the past becomes
    /// now for new silences. Returns the ID.
    pub fn set(&self, mut sil: Silence) -> std::result::Result<String, SilenceError> {
        let now = self.clock.now();
        {
            let mut st = self.st.write();
            let prev = if sil.id.is_empty() {
                None
            } else {
                Some(st.get(&sil.id).map(|s| s.silence.clone()).ok_or(SilenceError::NotFound)?)
            };
            if let Some(prev) = &prev {
                if can_update(prev, &sil, now) {
                    self.store(&mut st, sil.clone(), now)?;
                    drop(st);
                    self.persist();
                    return Ok(sil.id);
                }
                if prev.state(now) != SilenceState::Expired {
                    let expired = expired_copy(prev, now);
                    self.store(&mut st, expired, now)?;
                }
            }
            sil.id = new_uuid();
            if sil.starts_at < now {
                sil.starts_at = now;
            }
            self.store(&mut st, sil.clone(), now)?;
        }
        self.persist();
        Ok(sil.id)
    }

    fn store(
        &self,
        st: &mut HashMap<String, Stored>,
        mut sil: Silence,
        now: DateTime<Utc>,
    ) -> std::result::Result<(), SilenceError> {
        sil.updated_at = now;
        validate_silence(&sil).map_err(SilenceError::Invalid)?;
        let expires_at = add_std(sil.ends_at, self.retention);
        st.insert(sil.id.clone(), Stored { silence: sil, expires_at });
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// `Silences.Expire`: an active silence ends now; a pending one starts and ends now.
    pub fn expire(&self, id: &str) -> std::result::Result<(), SilenceError> {
        let now = self.clock.now();
        {
            let mut st = self.st.write();
            let sil = st.get(id).map(|s| s.silence.clone()).ok_or(SilenceError::NotFound)?;
            if sil.state(now) == SilenceState::Expired {
                return Err(SilenceError::AlreadyExpired(id.to_string()));
            }
            self.store(&mut st, expired_copy(&sil, now), now)?;
        }
        self.persist();
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Silence> {
        self.st.read().get(id).map(|s| s.silence.clone())
    }

    /// All silences (any state), in no particular order.
    pub fn list(&self) -> Vec<Silence> {
        self.st.read().values().map(|s| s.silence.clone()).collect()
    }

    pub fn query(&self, q: &SilenceQuery) -> Vec<Silence> {
        let start = Instant::now();
        self.metrics.silences_queries.inc();
        let now = self.clock.now();
        let out = self
            .st
            .read()
            .values()
            .map(|s| &s.silence)
            .filter(|s| q.ids.as_ref().is_none_or(|ids| ids.contains(&s.id)))
            .filter(|s| q.states.as_ref().is_none_or(|sts| sts.contains(&s.state(now))))
            .filter(|s| q.matches.as_ref().is_none_or(|l| s.matches(l)))
            .cloned()
            .collect();
        self.metrics.silences_query_duration.observe(start.elapsed().as_secs_f64());
        out
    }

    /// The IDs of active and of pending silences matching the labels, each sorted
    /// (what `Silencer.Mutes` records in the marker).
    pub fn matching_ids(&self, labels: &Labels) -> (Vec<String>, Vec<String>) {
        let now = self.clock.now();
        let (mut active, mut pending) = (Vec::new(), Vec::new());
        for s in self.st.read().values().map(|s| &s.silence) {
            let state = s.state(now);
            if state == SilenceState::Expired || !s.matches(labels) {
                continue;
            }
            if state == SilenceState::Active {
                active.push(s.id.clone());
            } else {
                pending.push(s.id.clone());
            }
        }
        active.sort();
        pending.sort();
        (active, pending)
    }

    /// Drops silences whose retention (end + `--data.retention`) has passed; returns how many.
    pub fn gc(&self) -> usize {
        let start = Instant::now();
        let now = self.clock.now();
        let n = {
            let mut st = self.st.write();
            let before = st.len();
            st.retain(|_, s| s.expires_at > now);
            before - st.len()
        };
        if n > 0 {
            self.version.fetch_add(1, Ordering::AcqRel);
        }
        self.metrics.silences_gc_duration.observe(start.elapsed().as_secs_f64());
        n
    }

    /// Writes the snapshot (no-op without a storage path).
    pub fn snapshot(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let start = Instant::now();
        let _file = self.file.lock();
        let bytes = {
            let st = self.st.read();
            let mut silences: Vec<SnapSilence> = st
                .values()
                .map(|s| SnapSilence {
                    id: s.silence.id.clone(),
                    matchers: s
                        .silence
                        .matchers
                        .iter()
                        .map(|m| SnapMatcher {
                            name: m.name.clone(),
                            op: m.op.as_str().to_string(),
                            value: m.value.clone(),
                        })
                        .collect(),
                    starts_at: s.silence.starts_at,
                    ends_at: s.silence.ends_at,
                    updated_at: s.silence.updated_at,
                    created_by: s.silence.created_by.clone(),
                    comment: s.silence.comment.clone(),
                    expires_at: s.expires_at,
                })
                .collect();
            silences.sort_by(|a, b| a.id.cmp(&b.id));
            serde_json::to_vec(&Snapshot { version: SNAPSHOT_VERSION, silences })
                .map_err(|e| CoreError::Io(format!("encoding silences: {e}")))?
        };
        persist::write_atomic(path, &bytes).map_err(|e| CoreError::Io(format!("writing {}: {e}", path.display())))?;
        self.metrics.silences_snapshot_size.set(bytes.len() as i64);
        self.metrics.silences_snapshot_duration.observe(start.elapsed().as_secs_f64());
        Ok(())
    }

    fn persist(&self) {
        if let Err(e) = self.snapshot() {
            // The change is kept in memory; the next change or maintenance tick retries the write.
            tracing::error!(error = %e, "writing silences snapshot failed");
        }
    }

    /// GC then snapshot (the maintenance tick).
    pub fn maintenance(&self) -> Result<()> {
        let removed = self.gc();
        tracing::debug!(removed, "silences maintenance");
        self.snapshot()
    }
}

fn expired_copy(sil: &Silence, now: DateTime<Utc>) -> Silence {
    let mut s = sil.clone();
    match s.state(now) {
        SilenceState::Active => s.ends_at = now,
        SilenceState::Pending => {
            s.starts_at = now;
            s.ends_at = now;
        }
        SilenceState::Expired => {}
    }
    s
}

/// A random (version 4) UUID, as Alertmanager's silence IDs are.
fn new_uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to time and a counter, still unique within the process.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        b[..8].copy_from_slice(&n.to_le_bytes());
        b[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, v: &str) -> Matcher {
        Matcher::new(name, op, v).unwrap()
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn store(path: Option<PathBuf>, clock: &Clock) -> Silences {
        Silences::open(path, secs(120 * 3600), clock.clone(), Arc::new(Metrics::new())).unwrap()
    }

    fn sil(clock: &Clock, start_in: i64, end_in: i64) -> Silence {
        let now = clock.now();
        Silence {
            id: String::new(),
            matchers: vec![m("alertname", MatchOp::Equal, "A")],
            starts_at: now + chrono::Duration::seconds(start_in),
            ends_at: now + chrono::Duration::seconds(end_in),
            updated_at: now,
            created_by: "me".into(),
            comment: "c".into(),
        }
    }

    #[test]
    fn uuid_shape() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, new_uuid());
    }

    #[tokio::test(start_paused = true)]
    async fn states_follow_time() {
        let clock = Clock::tokio();
        let s = store(None, &clock);
        let id = s.set(sil(&clock, 10, 20)).unwrap();
        assert_eq!(s.get(&id).unwrap().state(clock.now()), SilenceState::Pending);
        tokio::time::advance(secs(10)).await;
        assert_eq!(s.get(&id).unwrap().state(clock.now()), SilenceState::Active);
        tokio::time::advance(secs(10)).await;
        // The end instant itself is still active (Go's `After` is strict).
        assert_eq!(s.get(&id).unwrap().state(clock.now()), SilenceState::Active);
        tokio::time::advance(secs(1)).await;
        assert_eq!(s.get(&id).unwrap().state(clock.now()), SilenceState::Expired);
    }

    #[tokio::test(start_paused = true)]
    async fn new_silence_start_in_past_becomes_now() {
        let clock = Clock::tokio();
        let s = store(None, &clock);
        let id = s.set(sil(&clock, -100, 100)).unwrap();
        assert_eq!(s.get(&id).unwrap().starts_at, clock.now());
    }

    #[tokio::test(start_paused = true)]
    async fn validation() {
        let clock = Clock::tokio();
        let s = store(None, &clock);
        let mut x = sil(&clock, 0, 10);
        x.matchers = vec![m("foo", MatchOp::Regexp, ".*")];
        assert_eq!(
            s.set(x.clone()).unwrap_err(),
            SilenceError::Invalid("at least one matcher must not match the empty string".into())
        );
        x.matchers = vec![];
        assert_eq!(s.set(x.clone()).unwrap_err(), SilenceError::Invalid("at least one matcher required".into()));
        x.matchers = vec![m("foo", MatchOp::NotEqual, "")];
        assert!(s.set(x.clone()).is_ok(), "foo!=\"\" does not match the empty string");
        let mut y = sil(&clock, 10, 5);
        y.matchers = vec![m("a", MatchOp::Equal, "b")];
        assert_eq!(s.set(y).unwrap_err(), SilenceError::Invalid("end time must not be before start time".into()));
        let mut z = sil(&clock, 0, 10);
        z.id = "nope".into();
        assert_eq!(s.set(z).unwrap_err(), SilenceError::NotFound);
    }

    #[tokio::test(start_paused = true)]
    async fn update_rules() {
        let clock = Clock::tokio();
        let s = store(None, &clock);
        // Active silence: extending the end keeps the ID.
        let id = s.set(sil(&clock, 0, 100)).unwrap();
        tokio::time::advance(secs(5)).await;
        let mut upd = s.get(&id).unwrap();
        upd.ends_at += chrono::Duration::seconds(50);
        upd.comment = "longer".into();
        assert_eq!(s.set(upd.clone()).unwrap(), id);
        assert_eq!(s.get(&id).unwrap().comment, "longer");
        // Active silence: changing the start is not allowed in place -> new silence, old expired.
        let mut moved = s.get(&id).unwrap();
        moved.starts_at += chrono::Duration::seconds(1);
        let id2 = s.set(moved).unwrap();
        assert_ne!(id2, id);
        tokio::time::advance(secs(1)).await;
        assert_eq!(s.get(&id).unwrap().state(clock.now()), SilenceState::Expired);
        // Changing matchers always replaces.
        let mut other = s.get(&id2).unwrap();
        other.matchers = vec![m("alertname", MatchOp::Equal, "B")];
        let id3 = s.set(other).unwrap();
        assert_ne!(id3, id2);
        // Updating an expired silence creates a new one and leaves the old untouched.
        let before = s.get(&id).unwrap();
        // Unchanged, it would start now and end in the past: invalid, as in Alertmanager.
        assert!(matches!(s.set(before.clone()), Err(SilenceError::Invalid(_))));
        let mut renewed = before.clone();
        renewed.ends_at = clock.now() + chrono::Duration::seconds(60);
        let id4 = s.set(renewed).unwrap();
        assert_ne!(id4, id);
        assert_eq!(s.get(&id).unwrap(), before);
        // Pending silence: may move its start as long as it stays in the future.
        let p = s.set(sil(&clock, 100, 200)).unwrap();
        let mut pu = s.get(&p).unwrap();
        pu.starts_at += chrono::Duration::seconds(10);
        assert_eq!(s.set(pu.clone()).unwrap(), p);
        pu.starts_at = clock.now() - chrono::Duration::seconds(1);
        assert_ne!(s.set(pu).unwrap(), p);
    }

    #[tokio::test(start_paused = true)]
    async fn expire_and_query() {
        let clock = Clock::tokio();
        let s = store(None, &clock);
        let a = s.set(sil(&clock, 0, 100)).unwrap();
        let p = s.set(sil(&clock, 50, 100)).unwrap();
        let labels = Labels::from_pairs([("alertname", "A"), ("x", "y")]);
        assert_eq!(s.matching_ids(&labels), (vec![a.clone()], vec![p.clone()]));
        assert!(s.matching_ids(&Labels::from_pairs([("alertname", "B")])).0.is_empty());
        s.expire(&p).unwrap();
        let got = s.get(&p).unwrap();
        assert_eq!(got.starts_at, clock.now());
        assert_eq!(got.ends_at, clock.now());
        tokio::time::advance(secs(1)).await;
        assert_eq!(s.expire(&p).unwrap_err(), SilenceError::AlreadyExpired(p.clone()));
        assert_eq!(s.expire("missing").unwrap_err(), SilenceError::NotFound);
        let q = SilenceQuery { states: Some(vec![SilenceState::Expired]), ..Default::default() };
        let ids: Vec<String> = s.query(&q).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![p.clone()]);
        let q = SilenceQuery { matches: Some(labels), states: Some(vec![SilenceState::Active]), ..Default::default() };
        assert_eq!(s.query(&q).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retention_gc_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silences");
        let clock = Clock::tokio();
        let s = Silences::open(Some(path.clone()), secs(3600), clock.clone(), Arc::new(Metrics::new())).unwrap();
        let mut x = sil(&clock, 0, 100);
        x.matchers = vec![m("job", MatchOp::Regexp, "api|web"), m("env", MatchOp::NotEqual, "dev")];
        let id = s.set(x).unwrap();
        // Written on change: a fresh open (as after kill -9) sees it.
        let s2 = Silences::open(Some(path.clone()), secs(3600), clock.clone(), Arc::new(Metrics::new())).unwrap();
        let got = s2.get(&id).unwrap();
        assert_eq!(got, s.get(&id).unwrap());
        assert!(got.matches(&Labels::from_pairs([("job", "web"), ("env", "prod")])));
        assert!(!got.matches(&Labels::from_pairs([("job", "web"), ("env", "dev")])));
        // Kept for the retention after its end, then collected.
        tokio::time::advance(secs(100 + 3599)).await;
        assert_eq!(s.gc(), 0);
        tokio::time::advance(secs(2)).await;
        assert_eq!(s.gc(), 1);
        s.maintenance().unwrap();
        let s3 = Silences::open(Some(path), secs(3600), clock, Arc::new(Metrics::new())).unwrap();
        assert!(s3.list().is_empty());
    }
}
