//! Targets: the label set a target gets from discovery, the job's settings and `relabel_configs`
//! (Prometheus 3's `PopulateLabels`), its scrape URL, identity hash and scrape phase, and the
//! health a scrape loop reports for the API. It knows nothing about HTTP or storage.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oxeye_model::relabel::process_builder;
use oxeye_model::{Labels, LabelsBuilder, format_duration, parse_duration};
use parking_lot::Mutex;

use crate::discovery::ADDRESS_LABEL;
use crate::job::ScrapeJob;
use crate::metadata::MetadataStore;

pub const JOB_LABEL: &str = "job";
pub const INSTANCE_LABEL: &str = "instance";
pub const SCHEME_LABEL: &str = "__scheme__";
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
pub const PARAM_LABEL_PREFIX: &str = "__param_";
pub const META_LABEL_PREFIX: &str = "__meta_";
pub const RESERVED_LABEL_PREFIX: &str = "__";

/// What became of one discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    /// Scrape it with these labels (meta labels removed, `__address__` etc. kept).
    Active(Labels),
    /// `relabel_configs` dropped it.
    Dropped,
    /// It cannot be scraped; Prometheus logs this and lists it nowhere.
    Failed(String),
}

/// The labels before relabeling (`discoveredLabels`): target labels, group labels the target does
/// not set, then job, interval, timeout, path, scheme and the first value of each `params` entry
/// where not already set.
pub fn discovered_labels(job: &ScrapeJob, target: &Labels, group: &Labels) -> Labels {
    let mut lb = LabelsBuilder::new(target.clone());
    for l in group {
        if !target.has(&l.name) {
            lb.set(l.name.clone(), l.value.clone());
        }
    }
    let defaults = [
        (JOB_LABEL, job.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, format_duration(job.scrape_interval)),
        (SCRAPE_TIMEOUT_LABEL, format_duration(job.scrape_timeout)),
        (METRICS_PATH_LABEL, job.metrics_path.clone()),
        (SCHEME_LABEL, job.scheme.clone()),
    ];
    for (name, value) in defaults {
        if lb.get(name).is_empty() {
            lb.set(name.to_string(), value);
        }
    }
    for (k, v) in &job.params {
        let name = format!("{PARAM_LABEL_PREFIX}{k}");
        if let Some(first) = v.first()
            && lb.get(&name).is_empty()
        {
            lb.set(name, first.clone());
        }
    }
    lb.labels()
}

/// Prometheus 3's `PopulateLabels` on already-discovered labels: relabel, then check the address,
/// interval and timeout, delete `__meta_*` labels and default `instance` to `__address__`. No
/// default port is added to the address (Prometheus 3 dropped that).
pub fn populate_labels(job: &ScrapeJob, discovered: &Labels) -> Populated {
    let mut lb = LabelsBuilder::new(discovered.clone());
    if !process_builder(&mut lb, &job.relabel_configs) {
        return Populated::Dropped;
    }
    let addr = lb.get(ADDRESS_LABEL).to_string();
    if addr.is_empty() {
        return Populated::Failed("no address".into());
    }
    if addr.contains('/') {
        return Populated::Failed(format!("{addr:?} is not a valid hostname"));
    }
    let interval = lb.get(SCRAPE_INTERVAL_LABEL).to_string();
    let interval_d = match parse_duration(&interval) {
        Ok(d) => d,
        Err(e) => return Populated::Failed(format!("error parsing scrape interval: {e}")),
    };
    if interval_d.is_zero() {
        return Populated::Failed("scrape interval cannot be 0".into());
    }
    let timeout = lb.get(SCRAPE_TIMEOUT_LABEL).to_string();
    let timeout_d = match parse_duration(&timeout) {
        Ok(d) => d,
        Err(e) => return Populated::Failed(format!("error parsing scrape timeout: {e}")),
    };
    if timeout_d.is_zero() {
        return Populated::Failed("scrape timeout cannot be 0".into());
    }
    if timeout_d > interval_d {
        return Populated::Failed(format!(
            "scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})"
        ));
    }
    let mut meta = Vec::new();
    lb.range(|n, _| {
        if n.starts_with(META_LABEL_PREFIX) {
            meta.push(n.to_string());
        }
    });
    for n in meta {
        lb.del(&n);
    }
    if lb.get(INSTANCE_LABEL).is_empty() {
        lb.set(INSTANCE_LABEL.to_string(), addr);
    }
    Populated::Active(lb.labels())
}

/// Health of a target after its last scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    #[default]
    Unknown,
    Up,
    Down,
}

impl Health {
    /// The API spelling: `unknown`, `up`, `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What the last scrape reported.
#[derive(Debug, Clone, Default)]
pub struct ScrapeStatus {
    pub health: Health,
    pub last_error: Option<String>,
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration: Duration,
}

/// One scrape target.
#[derive(Debug)]
pub struct Target {
    labels: Labels,
    discovered: Mutex<Labels>,
    url: String,
    hash: u64,
    interval: Duration,
    timeout: Duration,
    status: Mutex<ScrapeStatus>,
    metadata: Arc<Mutex<MetadataStore>>,
}

impl Target {
    /// Builds a target from populated labels (see [`populate_labels`]). Interval and timeout come
    /// from the `__scrape_interval__` / `__scrape_timeout__` labels, falling back to the job's.
    pub fn new(job: &ScrapeJob, labels: Labels, discovered: Labels) -> Self {
        let interval = parse_duration(labels.get(SCRAPE_INTERVAL_LABEL)).unwrap_or(job.scrape_interval);
        let timeout = parse_duration(labels.get(SCRAPE_TIMEOUT_LABEL)).unwrap_or(job.scrape_timeout);
        let url = scrape_url(&labels, &job.params);
        let hash = target_hash(&labels, &url);
        Target {
            labels,
            discovered: Mutex::new(discovered),
            url,
            hash,
            interval,
            timeout,
            status: Mutex::new(ScrapeStatus::default()),
            metadata: Arc::new(Mutex::new(MetadataStore::default())),
        }
    }

    /// All labels, including `__address__`, `__scheme__` and other reserved ones.
    pub fn all_labels(&self) -> &Labels {
        &self.labels
    }

    /// The labels attached to scraped series: every label not starting with `__`.
    pub fn labels(&self) -> Labels {
        Labels::from_sorted(
            self.labels.iter().filter(|l| !l.name.starts_with(RESERVED_LABEL_PREFIX)).cloned().collect(),
        )
    }

    /// The labels before relabeling.
    pub fn discovered_labels(&self) -> Labels {
        self.discovered.lock().clone()
    }

    /// Discovery can change labels that relabeling then drops (`__meta_*`): the target stays the
    /// same, only what the API shows changes.
    pub(crate) fn set_discovered_labels(&self, l: Labels) {
        *self.discovered.lock() = l;
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Identity within a pool: labels and URL, as Prometheus's `Target.hash`.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn status(&self) -> ScrapeStatus {
        self.status.lock().clone()
    }

    pub(crate) fn report(&self, start: SystemTime, duration: Duration, error: Option<String>) {
        let mut s = self.status.lock();
        s.health = if error.is_none() { Health::Up } else { Health::Down };
        s.last_error = error;
        s.last_scrape = Some(start);
        s.last_scrape_duration = duration;
    }

    pub(crate) fn metadata_store(&self) -> &Arc<Mutex<MetadataStore>> {
        &self.metadata
    }

    /// The delay until this target's first scrape: the target's hash (xor a per-server seed)
    /// picks a fixed phase within the interval, pinned to absolute time so restarts keep it.
    pub fn offset(&self, interval: Duration, seed: u64) -> Duration {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        scrape_offset(self.hash, interval, seed, now)
    }
}

/// Prometheus's `Target.offset` with the clock passed in (nanoseconds since the epoch).
pub fn scrape_offset(hash: u64, interval: Duration, seed: u64, now_nanos: u128) -> Duration {
    let iv = interval.as_nanos().max(1);
    let base = iv - now_nanos % iv;
    let offset = u128::from(hash ^ seed) % iv;
    let mut next = base + offset;
    if next > iv {
        next -= iv;
    }
    Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

/// FNV-1a over the zero-padded label hash and the URL, like Prometheus's `Target.hash`.
fn target_hash(labels: &Labels, url: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(format!("{:016}", labels.hash()).as_bytes());
    feed(url.as_bytes());
    h
}

/// `<scheme>://<address><path>?<params>` with the job's params, the first value of each
/// overridden by a `__param_<name>` label, encoded and sorted by name as Go's `url.Values`.
pub fn scrape_url(labels: &Labels, params: &[(String, Vec<String>)]) -> String {
    let mut q: Vec<(String, Vec<String>)> = params.to_vec();
    for l in labels.iter() {
        if let Some(name) = l.name.strip_prefix(PARAM_LABEL_PREFIX) {
            match q.iter_mut().find(|(k, _)| k == name) {
                Some((_, vals)) if !vals.is_empty() => vals[0] = l.value.clone(),
                Some((_, vals)) => vals.push(l.value.clone()),
                None => q.push((name.to_string(), vec![l.value.clone()])),
            }
        }
    }
    q.sort_by(|a, b| a.0.cmp(&b.0));
    let mut url =
        format!("{}://{}{}", labels.get(SCHEME_LABEL), labels.get(ADDRESS_LABEL), labels.get(METRICS_PATH_LABEL));
    let mut first = true;
    for (k, vals) in &q {
        for v in vals {
            url.push(if first { '?' } else { '&' });
            first = false;
            query_escape(k, &mut url);
            url.push('=');
            query_escape(v, &mut url);
        }
    }
    url
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::relabel::RelabelConfig;

    fn relabel(yaml: &str) -> Vec<RelabelConfig> {
        let mut v: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        for c in &mut v {
            c.validate(Default::default()).unwrap();
        }
        v
    }

    fn job() -> ScrapeJob {
        let mut j = ScrapeJob::new("node");
        j.scrape_interval = Duration::from_secs(15);
        j.params = vec![("module".into(), vec!["http_2xx".into(), "x".into()])];
        j
    }

    #[test]
    fn populates_like_prometheus() {
        let j = job();
        let t = Labels::from_pairs([("__address__", "h:9100"), ("__meta_x", "m"), ("env", "t")]);
        let g = Labels::from_pairs([("env", "g"), ("team", "a")]);
        let d = discovered_labels(&j, &t, &g);
        assert_eq!(
            d.to_string(),
            r#"{__address__="h:9100", __meta_x="m", __metrics_path__="/metrics", __param_module="http_2xx", __scheme__="http", __scrape_interval__="15s", __scrape_timeout__="10s", env="t", job="node", team="a"}"#
        );
        let Populated::Active(l) = populate_labels(&j, &d) else { panic!("not active") };
        assert_eq!(l.get("instance"), "h:9100");
        assert!(!l.has("__meta_x"));
        let target = Target::new(&j, l, d);
        assert_eq!(target.labels().to_string(), r#"{env="t", instance="h:9100", job="node", team="a"}"#);
        assert_eq!(target.url(), "http://h:9100/metrics?module=http_2xx&module=x");
    }

    #[test]
    fn relabel_drop_keep_and_failures() {
        let mut j = job();
        j.relabel_configs = relabel("- source_labels: [env]\n  regex: prod\n  action: keep\n");
        let d = discovered_labels(&j, &Labels::from_pairs([("__address__", "a:1"), ("env", "dev")]), &Labels::empty());
        assert_eq!(populate_labels(&j, &d), Populated::Dropped);
        let d = discovered_labels(&j, &Labels::from_pairs([("__address__", "a/b"), ("env", "prod")]), &Labels::empty());
        assert_eq!(populate_labels(&j, &d), Populated::Failed(r#""a/b" is not a valid hostname"#.into()));
        j.relabel_configs = relabel("- target_label: __address__\n  replacement: ''\n");
        let d = discovered_labels(&j, &Labels::from_pairs([("__address__", "a:1")]), &Labels::empty());
        assert_eq!(populate_labels(&j, &d), Populated::Failed("no address".into()));
        j.relabel_configs = relabel("- target_label: __scrape_timeout__\n  replacement: 1m\n");
        let d = discovered_labels(&j, &Labels::from_pairs([("__address__", "a:1")]), &Labels::empty());
        assert!(matches!(populate_labels(&j, &d), Populated::Failed(e) if e.contains("greater than")));
    }

    #[test]
    fn param_labels_override_and_escape() {
        let l = Labels::from_pairs([
            ("__scheme__", "https"),
            ("__address__", "h"),
            ("__metrics_path__", "/probe"),
            ("__param_target", "http://x y"),
        ]);
        assert_eq!(scrape_url(&l, &[]), "https://h/probe?target=http%3A%2F%2Fx+y");
    }

    #[test]
    fn offset_is_deterministic_and_within_interval() {
        let iv = Duration::from_secs(10);
        let a = scrape_offset(12345, iv, 0, 1_000_000_000_000);
        assert_eq!(a, scrape_offset(12345, iv, 0, 1_000_000_000_000));
        assert!(a <= iv);
        // The phase is pinned to absolute time: one second later the wait is one second shorter
        // (mod interval).
        let b = scrape_offset(12345, iv, 0, 1_001_000_000_000);
        assert_eq!((a.as_nanos() + 10_000_000_000 - b.as_nanos()) % 10_000_000_000, 1_000_000_000);
    }
}
