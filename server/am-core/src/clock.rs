//! Wall-clock time for the alertmanager core. Production reads the system clock; tests use a
//! clock derived from tokio's (pausable) monotonic clock so that `tokio::time::advance` moves
//! both timers and the timestamps the pipeline compares (alert resolution, nflog, silences).

use chrono::{DateTime, Utc};

/// Source of "now" for every component of the core.
#[derive(Debug, Clone)]
pub enum Clock {
    /// `Utc::now()`.
    System,
    /// `base + (tokio::time::Instant::now() - start)`: follows paused/advanced tokio time.
    Tokio { start: tokio::time::Instant, base: DateTime<Utc> },
}

impl Clock {
    /// A clock that follows tokio time, anchored at the current wall-clock time.
    pub fn tokio() -> Clock {
        Clock::tokio_at(Utc::now())
    }

    /// A clock that follows tokio time, reading `base` now.
    pub fn tokio_at(base: DateTime<Utc>) -> Clock {
        Clock::Tokio { start: tokio::time::Instant::now(), base }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { start, base } => {
                let elapsed = tokio::time::Instant::now().saturating_duration_since(*start);
                chrono::Duration::from_std(elapsed)
                    .ok()
                    .and_then(|d| base.checked_add_signed(d))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
        }
    }
}

/// `t + d`, saturating at the largest representable time instead of panicking.
pub fn add_std(t: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d).ok().and_then(|d| t.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
