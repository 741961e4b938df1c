//! Per-alert suppression status (`types.Marker`): unprocessed until the pipeline or the API
//! has looked at the alert, then active, or suppressed with the silences and inhibiting alerts
//! responsible. Knows nothing about how silences or inhibitions are evaluated.

use std::collections::HashMap;
use std::fmt;

use parking_lot::RwLock;
use serde::Serialize;

use crate::fingerprint::Fingerprint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    #[default]
    Unprocessed,
    Active,
    Suppressed,
}

impl AlertState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Unprocessed => "unprocessed",
            AlertState::Active => "active",
            AlertState::Suppressed => "suppressed",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `types.AlertStatus` as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AlertStatus {
    pub state: AlertState,
    /// IDs of active silences muting the alert, sorted.
    pub silenced_by: Vec<String>,
    /// Fingerprints (`%016x`) of alerts inhibiting this one.
    pub inhibited_by: Vec<String>,
}

#[derive(Debug, Default)]
struct Entry {
    status: AlertStatus,
    pending_silences: Vec<String>,
}

/// Shared status table, keyed by alert fingerprint.
#[derive(Debug, Default)]
pub struct Marker {
    m: RwLock<HashMap<Fingerprint, Entry>>,
}

impl Marker {
    pub fn new() -> Marker {
        Marker::default()
    }

    /// The alert's status; `unprocessed` with no reasons when never marked.
    pub fn status(&self, fp: Fingerprint) -> AlertStatus {
        self.m.read().get(&fp).map(|e| e.status.clone()).unwrap_or_default()
    }

    /// Records the active and pending silences matching the alert (`SetActiveOrSilenced`).
    pub fn set_silenced(&self, fp: Fingerprint, active: Vec<String>, pending: Vec<String>) {
        let mut m = self.m.write();
        let e = m.entry(fp).or_default();
        e.status.silenced_by = active;
        e.pending_silences = pending;
        e.status.state = derive_state(&e.status);
    }

    /// Records the alerts inhibiting this one (`SetInhibited`); empty clears the inhibition.
    pub fn set_inhibited(&self, fp: Fingerprint, by: Vec<String>) {
        let mut m = self.m.write();
        let e = m.entry(fp).or_default();
        e.status.inhibited_by = by;
        e.status.state = derive_state(&e.status);
    }

    /// Pending silence IDs last recorded for the alert.
    pub fn pending_silences(&self, fp: Fingerprint) -> Vec<String> {
        self.m.read().get(&fp).map(|e| e.pending_silences.clone()).unwrap_or_default()
    }

    pub fn delete(&self, fp: Fingerprint) {
        self.m.write().remove(&fp);
    }
}

fn derive_state(s: &AlertStatus) -> AlertState {
    if s.silenced_by.is_empty() && s.inhibited_by.is_empty() { AlertState::Active } else { AlertState::Suppressed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        let m = Marker::new();
        let fp = Fingerprint(1);
        assert_eq!(m.status(fp).state, AlertState::Unprocessed);
        m.set_inhibited(fp, vec![]);
        assert_eq!(m.status(fp).state, AlertState::Active);
        m.set_silenced(fp, vec!["s1".into()], vec!["p".into()]);
        assert_eq!(m.status(fp).state, AlertState::Suppressed);
        assert_eq!(m.pending_silences(fp), vec!["p".to_string()]);
        m.set_inhibited(fp, vec!["00000000000000ff".into()]);
        m.set_silenced(fp, vec![], vec![]);
        let st = m.status(fp);
        assert_eq!(st.state, AlertState::Suppressed);
        assert_eq!(st.inhibited_by, vec!["00000000000000ff".to_string()]);
        m.set_inhibited(fp, vec![]);
        assert_eq!(m.status(fp).state, AlertState::Active);
        m.delete(fp);
        assert_eq!(m.status(fp).state, AlertState::Unprocessed);
    }
}
