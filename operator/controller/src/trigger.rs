//! When a controller runs its next pass, shared by the configuration controller and Grafana
//! provisioning: a relevant change in the cluster (debounced, so a multi-document
//! `kubectl apply` is one pass), the controller's own timer, or a change of leadership; and the
//! backoff after a failed pass.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Changes arriving within this window are handled in one pass.
const DEBOUNCE: Duration = Duration::from_millis(10);
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What woke the controller up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Stop: shutdown, or leader election ended.
    Stop,
    /// Run a pass: this replica leads.
    Lead,
    /// Another replica leads: do nothing until something changes.
    Follow,
}

pub struct Triggers {
    leader: watch::Receiver<bool>,
    changes: watch::Receiver<u64>,
    shutdown: CancellationToken,
}

impl Triggers {
    pub fn new(leader: watch::Receiver<bool>, changes: watch::Receiver<u64>, shutdown: CancellationToken) -> Self {
        Triggers { leader, changes, shutdown }
    }

    /// Waits for a change, `next` to pass, or a leadership change.
    pub async fn wait(&mut self, next: Duration) -> Wake {
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return Wake::Stop,
            r = self.leader.changed() => {
                if r.is_err() {
                    tracing::error!("leader election stopped; no further reconciliation");
                    return Wake::Stop;
                }
            }
            _ = self.changes.changed() => {
                tokio::time::sleep(DEBOUNCE).await;
                self.changes.borrow_and_update();
            }
            _ = tokio::time::sleep(next) => {}
        }
        if *self.leader.borrow_and_update() { Wake::Lead } else { Wake::Follow }
    }

    /// Waits for shutdown (after leader election ended, the process only waits to be stopped).
    pub async fn stopped(&self) {
        self.shutdown.cancelled().await;
    }
}

/// Exponential backoff between failed passes: 0.5 s doubling to 30 s.
#[derive(Debug, Default)]
pub struct Backoff(Duration);

impl Backoff {
    pub fn reset(&mut self) {
        self.0 = Duration::ZERO;
    }

    pub fn after_failure(&mut self) -> Duration {
        self.0 = (self.0 * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let mut b = Backoff::default();
        let seen: Vec<u128> = (0..9).map(|_| b.after_failure().as_millis()).collect();
        assert_eq!(seen, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        b.reset();
        assert_eq!(b.after_failure(), MIN_BACKOFF);
    }

    #[tokio::test]
    async fn wakes_on_changes_timers_leadership_and_shutdown() {
        let (leader_tx, leader) = watch::channel(false);
        let (changes_tx, changes) = watch::channel(0u64);
        let shutdown = CancellationToken::new();
        let mut t = Triggers::new(leader, changes, shutdown.clone());
        assert_eq!(t.wait(Duration::from_millis(1)).await, Wake::Follow);
        leader_tx.send(true).unwrap();
        assert_eq!(t.wait(Duration::from_secs(3600)).await, Wake::Lead);
        changes_tx.send(1).unwrap();
        assert_eq!(t.wait(Duration::from_secs(3600)).await, Wake::Lead);
        shutdown.cancel();
        assert_eq!(t.wait(Duration::from_secs(3600)).await, Wake::Stop);
    }
}
