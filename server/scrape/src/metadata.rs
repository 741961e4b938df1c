//! Per-target metric metadata (`# TYPE`, `# HELP`, `# UNIT`) collected while parsing scrapes, for
//! `/api/v1/targets/metadata` and `/api/v1/metadata`. Families not seen for a few scrapes are
//! forgotten, as Prometheus's scrape cache forgets them.

use std::collections::HashMap;

pub use oxeye_textparse::MetricType;

/// Scrapes a family may be missing before its metadata is forgotten.
const KEEP_UNSEEN_SCRAPES: u64 = 10;

/// Metadata of one metric family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricMetadata {
    pub metric_family: String,
    pub metric_type: MetricType,
    pub help: String,
    pub unit: String,
}

#[derive(Debug, Clone)]
struct Entry {
    metric_type: MetricType,
    help: String,
    unit: String,
    last_iter: u64,
}

/// Metadata of one target's families.
#[derive(Debug, Default)]
pub struct MetadataStore {
    entries: HashMap<String, Entry, ahash::RandomState>,
    iter: u64,
}

impl MetadataStore {
    fn update(&mut self, family: &str, f: impl FnOnce(&mut Entry)) {
        let iter = self.iter;
        if let Some(e) = self.entries.get_mut(family) {
            e.last_iter = iter;
            f(e);
            return;
        }
        let mut e =
            Entry { metric_type: MetricType::Unknown, help: String::new(), unit: String::new(), last_iter: iter };
        f(&mut e);
        self.entries.insert(family.to_string(), e);
    }

    pub fn set_type(&mut self, family: &str, t: MetricType) {
        self.update(family, |e| e.metric_type = t);
    }

    /// Sets help text; allocates only when it changed.
    pub fn set_help(&mut self, family: &str, help: &str) {
        self.update(family, |e| {
            if e.help != help {
                e.help.clear();
                e.help.push_str(help);
            }
        });
    }

    pub fn set_unit(&mut self, family: &str, unit: &str) {
        self.update(family, |e| {
            if e.unit != unit {
                e.unit.clear();
                e.unit.push_str(unit);
            }
        });
    }

    /// Ends a successful scrape: forgets families unseen for a while.
    pub fn scrape_done(&mut self) {
        let iter = self.iter;
        self.entries.retain(|_, e| iter.saturating_sub(e.last_iter) <= KEEP_UNSEEN_SCRAPES);
        self.iter += 1;
    }

    pub fn get(&self, family: &str) -> Option<MetricMetadata> {
        self.entries.get(family).map(|e| to_meta(family, e))
    }

    /// All families, sorted by name.
    pub fn list(&self) -> Vec<MetricMetadata> {
        let mut v: Vec<MetricMetadata> = self.entries.iter().map(|(f, e)| to_meta(f, e)).collect();
        v.sort_by(|a, b| a.metric_family.cmp(&b.metric_family));
        v
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn to_meta(family: &str, e: &Entry) -> MetricMetadata {
    MetricMetadata {
        metric_family: family.to_string(),
        metric_type: e.metric_type,
        help: e.help.clone(),
        unit: e.unit.clone(),
    }
}
