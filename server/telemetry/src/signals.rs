//! The signals every Oxeye binary stops on: SIGINT and SIGTERM. Each binary logs the one it got
//! in its upstream's words.

/// Which termination signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Interrupt,
    Terminate,
}

impl Termination {
    /// The signal's name (`SIGINT`, `SIGTERM`).
    pub fn name(self) -> &'static str {
        match self {
            Termination::Interrupt => "SIGINT",
            Termination::Terminate => "SIGTERM",
        }
    }
}

/// Waits for SIGINT or SIGTERM. When a handler cannot be installed, that signal is not awaited
/// (the process then stops on the other one, or is killed).
pub async fn terminated() -> Termination {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut t) => {
                t.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Termination::Interrupt,
        _ = term => Termination::Terminate,
    }
}
