//! File-based service discovery (`file_sd_configs`): JSON and YAML files of target groups found by
//! glob patterns, re-read when a file's modification time, size or content changes (polled about
//! once a second) and at least every `refresh_interval`. A file that cannot be read or parsed keeps
//! the groups it last produced, as Prometheus does, and counts `prometheus_sd_file_read_errors_total`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use oxeye_model::{Labels, LabelsBuilder};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{ADDRESS_LABEL, TargetGroup};
use crate::error::{Error, Result};

/// The label file discovery puts on every group: the path of the file it came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// One `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSdConfig {
    /// Glob patterns; the file name must end in `.json`, `.yml` or `.yaml`.
    pub files: Vec<String>,
    /// How often every file is re-read even when nothing seems to have changed (default 5m).
    pub refresh_interval: Duration,
}

impl FileSdConfig {
    pub fn new(files: Vec<String>) -> Self {
        FileSdConfig { files, refresh_interval: Duration::from_secs(300) }
    }
}

#[derive(Deserialize)]
struct JsonGroup {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// YAML files are decoded strictly (unknown keys are errors), as Prometheus's `UnmarshalStrict`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlGroup {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

struct RawGroup {
    targets: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// Rejects `null` list items the way Prometheus does.
fn non_null(groups: impl Iterator<Item = Option<RawGroup>>) -> std::result::Result<Vec<RawGroup>, String> {
    groups.enumerate().map(|(i, g)| g.ok_or_else(|| format!("nil target group item found (index {i})"))).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Json,
    Yaml,
}

fn file_kind(path: &Path) -> Option<FileKind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Some(FileKind::Json),
        Some("yml") | Some("yaml") => Some(FileKind::Yaml),
        _ => None,
    }
}

/// Parses one target file's contents into groups with sources `<path>:<index>` and the
/// `__meta_filepath` label.
pub fn parse_target_file(path: &Path, content: &[u8]) -> Result<Vec<TargetGroup>> {
    let err = |message: String| Error::TargetFile { path: path.to_path_buf(), message };
    let raw: Vec<RawGroup> = match file_kind(path) {
        Some(FileKind::Json) => {
            let v: Vec<Option<JsonGroup>> = serde_json::from_slice(content).map_err(|e| err(e.to_string()))?;
            non_null(v.into_iter().map(|g| g.map(|g| RawGroup { targets: g.targets, labels: g.labels })))
                .map_err(err)?
        }
        // An empty YAML document is an empty list of groups.
        Some(FileKind::Yaml) if content.iter().all(|b| b.is_ascii_whitespace()) => Vec::new(),
        Some(FileKind::Yaml) => {
            let v: Vec<Option<YamlGroup>> = serde_yaml_ng::from_slice(content).map_err(|e| err(e.to_string()))?;
            non_null(v.into_iter().map(|g| g.map(|g| RawGroup { targets: g.targets, labels: g.labels })))
                .map_err(err)?
        }
        None => return Err(err("unsupported file extension (want .json, .yml or .yaml)".into())),
    };
    let path_str = path.to_string_lossy().into_owned();
    let mut groups = Vec::with_capacity(raw.len());
    for (i, RawGroup { targets, labels }) in raw.into_iter().enumerate() {
        let mut b = LabelsBuilder::new(Labels::empty());
        for (name, value) in labels.unwrap_or_default() {
            if !is_valid_label_name(&name) {
                return Err(err(format!("group {i}: {name:?} is not a valid label name")));
            }
            b.set(name, value);
        }
        b.set(FILEPATH_LABEL.to_string(), path_str.clone());
        let mut tgs = Vec::new();
        for t in targets.unwrap_or_default() {
            if t.is_empty() {
                return Err(err(format!("group {i}: empty target address")));
            }
            tgs.push(Labels::from_pairs([(ADDRESS_LABEL, t)]));
        }
        groups.push(TargetGroup { source: format!("{path_str}:{i}"), targets: tgs, labels: b.labels() });
    }
    Ok(groups)
}

/// Prometheus 3 accepts any non-empty UTF-8 label name; names starting with `__` are reserved but
/// allowed here since they only reach relabeling.
fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// What is known about one file: how it looked when last read and the groups it produced.
struct FileState {
    mtime: Option<SystemTime>,
    len: u64,
    content_hash: u64,
    groups: Vec<TargetGroup>,
}

/// Runs one `file_sd_configs` entry: lists and reads its files and sends the provider's full set
/// of groups whenever it changes.
pub struct FileDiscovery {
    config: FileSdConfig,
    poll_interval: Duration,
    read_errors: Counter,
    files: BTreeMap<PathBuf, FileState>,
    primed: bool,
}

impl FileDiscovery {
    pub fn new(config: FileSdConfig, poll_interval: Duration, read_errors: Counter) -> Self {
        FileDiscovery { config, poll_interval, read_errors, files: BTreeMap::new(), primed: false }
    }

    /// Expands the glob patterns. Bad patterns are counted and logged; they match nothing.
    fn list_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for pattern in &self.config.files {
            match glob::glob(pattern) {
                Ok(paths) => {
                    for p in paths.flatten() {
                        if file_kind(&p).is_some() {
                            out.push(p);
                        }
                    }
                }
                Err(e) => {
                    self.read_errors.inc();
                    tracing::error!(pattern = %pattern, error = %e, "file_sd: invalid glob pattern");
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Re-examines every file. `force` re-reads files even when their stat is unchanged. Returns
    /// true when the set of groups changed.
    pub fn refresh(&mut self, force: bool) -> bool {
        self.primed = true;
        let paths = self.list_files();
        let mut changed = false;
        let before = self.files.len();
        self.files.retain(|p, _| paths.binary_search(p).is_ok());
        if self.files.len() != before {
            changed = true;
        }
        let now = SystemTime::now();
        for path in paths {
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    // Vanished between listing and stat: the next poll drops it.
                    tracing::debug!(path = %path.display(), error = %e, "file_sd: stat failed");
                    continue;
                }
            };
            let mtime = meta.modified().ok();
            let len = meta.len();
            // A rewrite within the file system's timestamp granularity keeps mtime and maybe
            // size: re-read recently modified files and compare their content hash.
            let recent = mtime.and_then(|m| now.duration_since(m).ok()).is_none_or(|age| age < Duration::from_secs(3));
            if let Some(st) = self.files.get(&path)
                && !force
                && !recent
                && st.mtime == mtime
                && st.len == len
            {
                continue;
            }
            let content = match std::fs::read(&path) {
                Ok(c) => c,
                Err(e) => {
                    self.read_errors.inc();
                    tracing::error!(path = %path.display(), error = %e, "file_sd: error reading file");
                    continue;
                }
            };
            let content_hash = xxhash_rust::xxh3::xxh3_64(&content);
            if let Some(st) = self.files.get_mut(&path)
                && st.content_hash == content_hash
            {
                st.mtime = mtime;
                st.len = len;
                continue;
            }
            match parse_target_file(&path, &content) {
                Ok(groups) => {
                    changed = true;
                    self.files.insert(path, FileState { mtime, len, content_hash, groups });
                }
                Err(e) => {
                    self.read_errors.inc();
                    tracing::error!(path = %path.display(), error = %e, "file_sd: error parsing file, keeping its last good targets");
                    // Remember the stat and hash so an unchanged broken file is not re-parsed
                    // (and re-counted) every second; keep the last good groups.
                    let groups = self.files.remove(&path).map(|s| s.groups).unwrap_or_default();
                    self.files.insert(path, FileState { mtime, len, content_hash, groups });
                }
            }
        }
        changed
    }

    /// All groups of all files, in path order.
    pub fn groups(&self) -> Vec<TargetGroup> {
        self.files.values().flat_map(|s| s.groups.iter().cloned()).collect()
    }

    /// Polls until cancelled, sending the full group set on each change, and once at start unless
    /// the caller already read the files with `refresh` (and took `groups`).
    pub async fn run(mut self, tx: mpsc::UnboundedSender<Vec<TargetGroup>>, cancel: CancellationToken) {
        if !self.primed {
            self.refresh(true);
            if tx.send(self.groups()).is_err() {
                return;
            }
        }
        let mut last_full = Instant::now();
        let mut ticker = tokio::time::interval(self.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let force = last_full.elapsed() >= self.config.refresh_interval;
            if force {
                last_full = Instant::now();
            }
            // File reads are small and quick; a blocking pool hop per second is not worth it.
            if self.refresh(force) && tx.send(self.groups()).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml_groups() {
        let json = br#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#;
        let g = parse_target_file(Path::new("/x/t.json"), json).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].source, "/x/t.json:0");
        assert_eq!(g[0].targets[1].get(ADDRESS_LABEL), "b:2");
        assert_eq!(g[0].labels.get("env"), "prod");
        assert_eq!(g[1].labels.get(FILEPATH_LABEL), "/x/t.json");

        let yaml = b"- targets: ['h:9100']\n  labels:\n    team: a\n";
        let g = parse_target_file(Path::new("/x/t.yml"), yaml).unwrap();
        assert_eq!(g[0].targets[0].get(ADDRESS_LABEL), "h:9100");
        assert_eq!(g[0].labels.get("team"), "a");
    }

    #[test]
    fn rejects_broken_files() {
        assert!(parse_target_file(Path::new("t.json"), b"[{").is_err());
        assert!(parse_target_file(Path::new("t.yaml"), b"- targetz: [a]\n").is_err());
        assert!(parse_target_file(Path::new("t.json"), b"[null]").is_err());
        assert!(parse_target_file(Path::new("t.txt"), b"[]").is_err());
    }

    #[test]
    fn broken_file_keeps_last_good_groups_and_counts_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, r#"[{"targets": ["a:1"]}]"#).unwrap();
        let errors = Counter::default();
        let pattern = dir.path().join("*.json").to_string_lossy().into_owned();
        let mut d = FileDiscovery::new(FileSdConfig::new(vec![pattern]), Duration::from_secs(1), errors.clone());
        assert!(d.refresh(false));
        assert_eq!(d.groups()[0].targets.len(), 1);
        std::fs::write(&path, "not json").unwrap();
        assert!(!d.refresh(false));
        assert_eq!(d.groups()[0].targets[0].get(ADDRESS_LABEL), "a:1");
        assert_eq!(errors.get(), 1);
        std::fs::write(&path, r#"[{"targets": ["b:2", "c:3"]}]"#).unwrap();
        assert!(d.refresh(false));
        assert_eq!(d.groups()[0].targets.len(), 2);
        std::fs::remove_file(&path).unwrap();
        assert!(d.refresh(false));
        assert!(d.groups().is_empty());
    }
}
