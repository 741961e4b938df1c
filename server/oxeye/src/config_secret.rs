//! Configuration from a Kubernetes Secret (`--config.kubernetes-secret=[NAMESPACE/]NAME`), as
//! oxeye-operator writes it: the server watches the Secret through the API, writes its keys into
//! a directory (`prometheus.yml` and the rule files it names; `.gz` keys are decompressed) and
//! reloads as soon as the content changes. No kubelet volume sync is in the path.
//!
//! This module owns the Secret's directory and the bookkeeping of which Secret version is
//! loaded; loading and applying the configuration stay with the server.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use parking_lot::Mutex;

/// Keys that hold the configuration file, in order of preference.
pub const CONFIG_KEYS: [&str; 2] = ["prometheus.yml", "prometheus.yaml"];

/// Decompressed keys larger than this are refused (a Secret holds at most 1 MiB compressed).
const MAX_DECOMPRESSED: u64 = 64 << 20;

/// `NAMESPACE/NAME` of the Secret; the namespace defaults to the client's (in-cluster: the pod's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub namespace: Option<String>,
    pub name: String,
}

impl SecretRef {
    pub fn parse(s: &str) -> anyhow::Result<SecretRef> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 253
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        let (namespace, name) = match s.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, s),
        };
        if !valid(name) || namespace.is_some_and(|ns| !valid(ns)) {
            bail!("--config.kubernetes-secret={s:?}: expected NAME or NAMESPACE/NAME (lowercase DNS names)");
        }
        Ok(SecretRef { namespace: namespace.map(str::to_string), name: name.to_string() })
    }
}

/// Which version of the Secret the server has seen and loaded, for `/api/v1/status/runtimeinfo`
/// (oxeye-operator reads it to tell whether its latest write is running).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretState {
    /// `resourceVersion` of the last version handled (loaded or failed).
    pub seen: Option<String>,
    /// `resourceVersion` of the version the running configuration came from.
    pub loaded: Option<String>,
    /// Why the last version could not be used, if it could not.
    pub last_error: Option<String>,
}

/// The Secret the configuration comes from and the directory its keys are written to.
#[derive(Debug)]
pub struct SecretSource {
    pub namespace: String,
    pub name: String,
    pub dir: PathBuf,
    state: Mutex<SecretState>,
}

impl SecretSource {
    pub fn new(namespace: String, name: String, dir: PathBuf) -> SecretSource {
        SecretSource { namespace, name, dir, state: Mutex::new(SecretState::default()) }
    }

    /// The configuration file in the directory, if the Secret had one.
    pub fn config_path(&self) -> Option<PathBuf> {
        CONFIG_KEYS.iter().map(|k| self.dir.join(k)).find(|p| p.is_file())
    }

    pub fn state(&self) -> SecretState {
        self.state.lock().clone()
    }

    pub fn set_state(&self, f: impl FnOnce(&mut SecretState)) {
        f(&mut self.state.lock());
    }

    /// Writes the Secret's keys as files and removes files of keys that are gone. Each file is
    /// replaced atomically (write, then rename). Returns whether any file changed.
    pub fn materialize(&self, data: &BTreeMap<String, ByteString>) -> anyhow::Result<bool> {
        let files = decode(data)?;
        write_dir(&self.dir, &files)
    }
}

/// The files a Secret's data stands for: `.gz` keys decompressed under the name without `.gz`.
pub fn decode(data: &BTreeMap<String, ByteString>) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for (key, value) in data {
        if key.is_empty() || key == "." || key == ".." || key.starts_with(".tmp-") || key.contains('/') {
            bail!("Secret key {key:?} cannot be used as a file name");
        }
        let (name, content) = match key.strip_suffix(".gz") {
            Some(base) if !base.is_empty() => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(value.0.as_slice())
                    .take(MAX_DECOMPRESSED + 1)
                    .read_to_end(&mut out)
                    .with_context(|| format!("Secret key {key:?}: not valid gzip"))?;
                if out.len() as u64 > MAX_DECOMPRESSED {
                    bail!("Secret key {key:?}: decompresses to more than {MAX_DECOMPRESSED} bytes");
                }
                (base.to_string(), out)
            }
            _ => (key.clone(), value.0.clone()),
        };
        if files.insert(name.clone(), content).is_some() {
            bail!("Secret keys {name:?} and {name:?}.gz both present: keep one");
        }
    }
    Ok(files)
}

fn write_dir(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> anyhow::Result<bool> {
    create_private_dir(dir)?;
    let mut changed = false;
    for (name, content) in files {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|old| &old == content) {
            continue;
        }
        let tmp = dir.join(format!(".tmp-{name}"));
        std::fs::write(&tmp, content).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        changed = true;
    }
    let keep: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep.contains(name.as_str()) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        std::fs::remove_file(entry.path()).with_context(|| format!("removing {}", entry.path().display()))?;
        if !name.starts_with(".tmp-") {
            changed = true;
        }
    }
    Ok(changed)
}

/// The directory holds credentials: only the server's user may read it.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting permissions of {}", dir.display()))?;
    }
    Ok(())
}

/// A reload of the server's configuration; `Err` carries why it failed.
pub type Reload = std::sync::Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Connects to the API server (kubeconfig from `KUBECONFIG` or `~/.kube/config`, else the pod's
/// service account) and resolves the Secret's namespace.
pub async fn connect(secret: &SecretRef) -> anyhow::Result<(kube::Client, String)> {
    let client = kube::Client::try_default()
        .await
        .context("--config.kubernetes-secret: cannot build a Kubernetes client (no kubeconfig, not in a cluster)")?;
    let namespace = secret.namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
    Ok((client, namespace))
}

/// Reads the Secret once, at start-up. `Ok(None)`: it does not exist (yet).
pub async fn fetch(client: &kube::Client, source: &SecretSource) -> anyhow::Result<Option<Secret>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &source.namespace);
    api.get_opt(&source.name).await.with_context(|| format!("reading Secret {}/{}", source.namespace, source.name))
}

/// Handles one observed version of the Secret: writes its files and reloads when they changed
/// (or when the running configuration did not come from the Secret yet). Blocks: run it off the
/// async workers.
pub fn apply_version(source: &SecretSource, secret: &Secret, reload: &(dyn Fn() -> Result<(), String> + Send + Sync)) {
    let rv = secret.metadata.resource_version.clone();
    let before = source.state();
    if rv.is_some() && before.seen == rv {
        return;
    }
    let empty = BTreeMap::new();
    let data = secret.data.as_ref().unwrap_or(&empty);
    let changed = match source.materialize(data) {
        Ok(changed) => changed,
        Err(e) => {
            let message = format!("{e:#}");
            tracing::error!(secret = %format!("{}/{}", source.namespace, source.name), resource_version = ?rv, error = %message, "cannot use the configuration Secret; keeping the running configuration");
            source.set_state(|s| {
                s.seen = rv.clone();
                s.last_error = Some(message);
            });
            return;
        }
    };
    if !changed && before.last_error.is_none() && before.loaded.is_some() {
        source.set_state(|s| {
            s.seen = rv.clone();
            s.loaded = rv.clone();
        });
        return;
    }
    tracing::info!(secret = %format!("{}/{}", source.namespace, source.name), resource_version = ?rv, "configuration Secret changed; reloading");
    let result = reload();
    source.set_state(|s| {
        s.seen = rv.clone();
        match result {
            Ok(()) => {
                s.loaded = rv.clone();
                s.last_error = None;
            }
            Err(e) => s.last_error = Some(e),
        }
    });
}

/// Watches the Secret until the task is dropped, applying every new version. A deleted Secret
/// leaves the running configuration in place.
pub async fn follow(client: kube::Client, source: std::sync::Arc<SecretSource>, reload: Reload) {
    let api: Api<Secret> = Api::namespaced(client, &source.namespace);
    let cfg = watcher::Config::default().fields(&format!("metadata.name={}", source.name));
    let mut events = std::pin::pin!(watcher(api, cfg).default_backoff());
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(secret) | watcher::Event::InitApply(secret)) => {
                let (source, reload) = (source.clone(), reload.clone());
                let done = tokio::task::spawn_blocking(move || apply_version(&source, &secret, &*reload)).await;
                if let Err(e) = done {
                    tracing::error!(error = %e, "applying the configuration Secret failed");
                }
            }
            Ok(watcher::Event::Delete(_)) => {
                tracing::warn!(secret = %format!("{}/{}", source.namespace, source.name), "configuration Secret deleted; keeping the running configuration");
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
            Err(e) => {
                tracing::warn!(secret = %format!("{}/{}", source.namespace, source.name), error = %e, "watching the configuration Secret failed; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, ByteString> {
        pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect()
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn parses_secret_references() {
        assert_eq!(
            SecretRef::parse("monitoring/oxeye-config").unwrap(),
            SecretRef { namespace: Some("monitoring".into()), name: "oxeye-config".into() }
        );
        assert_eq!(SecretRef::parse("cfg").unwrap(), SecretRef { namespace: None, name: "cfg".into() });
        for bad in ["", "/x", "ns/", "a/b/c", "Upper", "ns/na me"] {
            assert!(SecretRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn materializes_keys_and_removes_stale_files() {
        let tmp = tempfile::tempdir().unwrap();
        let src = SecretSource::new("ns".into(), "s".into(), tmp.path().join("cfg"));
        let first = data(&[("prometheus.yml", b"global: {}\n"), ("a.yaml", b"groups: []\n")]);
        assert!(src.materialize(&first).unwrap());
        assert_eq!(src.config_path().unwrap(), tmp.path().join("cfg/prometheus.yml"));
        assert!(!src.materialize(&first).unwrap(), "same content writes nothing");
        let second = data(&[("prometheus.yml", b"global: {}\n"), ("b.yaml.gz", &gzip(b"groups: []\n"))]);
        assert!(src.materialize(&second).unwrap());
        assert!(!tmp.path().join("cfg/a.yaml").exists());
        assert_eq!(std::fs::read(tmp.path().join("cfg/b.yaml")).unwrap(), b"groups: []\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("cfg")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn refuses_bad_keys_and_bad_gzip_without_touching_files() {
        let tmp = tempfile::tempdir().unwrap();
        let src = SecretSource::new("ns".into(), "s".into(), tmp.path().join("cfg"));
        src.materialize(&data(&[("prometheus.yml", b"x: 1\n")])).unwrap();
        let err = src.materialize(&data(&[("prometheus.yml.gz", b"not gzip")])).unwrap_err();
        assert!(format!("{err:#}").contains("not valid gzip"), "{err:#}");
        let err = src.materialize(&data(&[("a", b"1"), ("a.gz", &gzip(b"2"))])).unwrap_err();
        assert!(format!("{err:#}").contains("both present"), "{err:#}");
        assert_eq!(std::fs::read(tmp.path().join("cfg/prometheus.yml")).unwrap(), b"x: 1\n");
    }
}
