//! A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) on loopback.
//!
//! The work is done by `e2e/control-plane/{install,start,stop,restart-apiserver}.sh`; this module
//! runs them, reads the `env` file `start.sh` writes, and offers kubectl/helm bound to the
//! cluster. There is no kubelet and no scheduler: tests play the kubelet by patching Pod status.
//!
//! Starting one costs ~15 s, so a test binary normally shares one: [`ControlPlane::shared`].
//! A value in a static is never dropped, so the shared one is stopped by a watchdog process
//! (`watchdog.sh`) that `start.sh` leaves behind: it waits for the test binary's pid to
//! disappear, however the process ended (normal exit, panic, SIGKILL), then runs `stop.sh`
//! and removes the directory. [`ControlPlane::start`] gives a private one, stopped on drop.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// Where the scripts live (this crate's `control-plane/` folder).
fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("control-plane")
}

/// Set to keep a control plane's directory (certificates, logs) after it stops.
const KEEP_DIR_ENV: &str = "OXEYE_E2E_KEEP_DIR";

/// A running control plane: its directory and the values `start.sh` wrote to `DIR/env`.
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    kubeconfig: PathBuf,
    apiserver_url: String,
    token: String,
    ca_cert: PathBuf,
    kubectl: PathBuf,
    helm: PathBuf,
}

/// The control plane shared by the tests of one test binary, held for the duration of a test.
///
/// [`ControlPlane::shared`] hands out any number of these at once; a test that disrupts the
/// cluster (restarting the apiserver) takes [`ControlPlane::shared_exclusive`], which waits
/// until no other test holds it. A test must not ask for both: it would wait for itself.
pub struct Shared {
    control_plane: &'static ControlPlane,
    _read: Option<RwLockReadGuard<'static, ()>>,
    _write: Option<RwLockWriteGuard<'static, ()>>,
}

impl std::ops::Deref for Shared {
    type Target = ControlPlane;
    fn deref(&self) -> &ControlPlane {
        self.control_plane
    }
}

static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
static SHARED_USE: RwLock<()> = RwLock::new(());
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

impl ControlPlane {
    /// Starts a private control plane in a new temporary directory; it is stopped, and the
    /// directory removed, when the value is dropped (a panicking test drops it too).
    /// Runs `install.sh` first (once per process; seconds when its cache is warm, ~6 min cold).
    pub fn start() -> Result<ControlPlane, String> {
        install()?;
        let dir = tempfile::Builder::new()
            .prefix("oxeye-e2e-control-plane-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?
            // Removal is ours (on drop) or the watchdog's (when the process dies first).
            .keep();
        let mut start = Command::new("bash");
        start
            .arg(scripts_dir().join("start.sh"))
            .arg(&dir)
            .env("OXEYE_CONTROL_PLANE_OWNER_PID", std::process::id().to_string())
            .env("OXEYE_CONTROL_PLANE_REMOVE_DIR", if keep_dir() { "0" } else { "1" });
        let output = run(&mut start, "start.sh")
            .map_err(|e| format!("{e}\n(certificates and logs kept in {})", dir.display()))?;
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        let control_plane = ControlPlane::from_dir(&dir);
        if control_plane.is_err() {
            let _ = Command::new("bash").arg(scripts_dir().join("stop.sh")).arg(&dir).status();
        }
        control_plane
    }

    /// The control plane shared by all tests of this test binary, started on first use.
    /// See [`Shared`]; stopped by the watchdog once the process exits (module docs).
    pub fn shared() -> Result<Shared, String> {
        let control_plane = Self::shared_instance()?;
        let guard = SHARED_USE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(Shared { control_plane, _read: Some(guard), _write: None })
    }

    /// The shared control plane, with no other test using it until the value is dropped.
    pub fn shared_exclusive() -> Result<Shared, String> {
        let control_plane = Self::shared_instance()?;
        let guard = SHARED_USE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(Shared { control_plane, _read: None, _write: Some(guard) })
    }

    fn shared_instance() -> Result<&'static ControlPlane, String> {
        SHARED
            .get_or_init(ControlPlane::start)
            .as_ref()
            .map_err(|e| format!("the shared control plane did not start: {e}"))
    }

    fn from_dir(dir: &Path) -> Result<ControlPlane, String> {
        let env_path = dir.join("env");
        let text = std::fs::read_to_string(&env_path).map_err(|e| format!("reading {}: {e}", env_path.display()))?;
        let env = parse_env(&text);
        let get = |key: &str| env.get(key).cloned().ok_or_else(|| format!("{}: no {key}=", env_path.display()));
        Ok(ControlPlane {
            dir: dir.to_path_buf(),
            kubeconfig: get("KUBECONFIG")?.into(),
            apiserver_url: get("APISERVER_URL")?,
            token: get("TOKEN")?,
            ca_cert: get("CA_CERT")?.into(),
            kubectl: get("KUBECTL")?.into(),
            helm: get("HELM")?.into(),
        })
    }

    /// The directory holding certificates, logs (`*.log`) and pid files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An admin kubeconfig (static token, cluster-admin through `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:PORT`.
    pub fn apiserver_url(&self) -> &str {
        &self.apiserver_url
    }

    /// The admin bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The CA certificate (PEM) that signed the apiserver's serving certificate.
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert
    }

    /// Runs kubectl against this cluster. A kubectl that cannot be run yields exit status 127
    /// and the reason on stderr, as a shell would.
    pub fn kubectl<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.tool(&self.kubectl, args, None)
    }

    /// Runs kubectl with `stdin` as its standard input (e.g. `apply -f -`).
    pub fn kubectl_with_stdin<I, S>(&self, args: I, stdin: &str) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.tool(&self.kubectl, args, Some(stdin))
    }

    /// Runs helm against this cluster, with its config, cache and data under [`Self::dir`].
    pub fn helm<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.tool(&self.helm, args, None)
    }

    fn tool<I, S>(&self, program: &Path, args: I, stdin: Option<&str>) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let helm_home = self.dir.join("helm");
        let mut command = Command::new(program);
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CONFIG_HOME", helm_home.join("config"))
            .env("HELM_CACHE_HOME", helm_home.join("cache"))
            .env("HELM_DATA_HOME", helm_home.join("data"))
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let result = command.spawn().and_then(|mut child| {
            if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
                pipe.write_all(input.as_bytes())?;
            }
            child.wait_with_output()
        });
        result.unwrap_or_else(|e| Output {
            status: ExitStatus::from_raw(127 << 8),
            stdout: Vec::new(),
            stderr: format!("running {}: {e}", program.display()).into_bytes(),
        })
    }

    /// Stops kube-apiserver and starts it again on the same port with the same flags; returns
    /// once it is ready. etcd keeps all objects. Use through [`ControlPlane::shared_exclusive`]
    /// (or a private control plane) so other tests do not see the outage.
    pub fn restart_apiserver(&self) -> Result<(), String> {
        self.restart_apiserver_after(Duration::ZERO)
    }

    /// Like [`Self::restart_apiserver`], keeping the apiserver down for `down` first.
    pub fn restart_apiserver_after(&self, down: Duration) -> Result<(), String> {
        let mut restart = Command::new("bash");
        restart
            .arg(scripts_dir().join("restart-apiserver.sh"))
            .arg(&self.dir)
            .arg(format!("{:.3}", down.as_secs_f64()));
        run(&mut restart, "restart-apiserver.sh").map(|_| ())
    }

    /// The last `lines` lines of a component's log (`etcd`, `kube-apiserver`,
    /// `kube-controller-manager`), for failure messages.
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        let path = self.dir.join(format!("{component}.log"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(e) => format!("(cannot read {}: {e})", path.display()),
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let stopped =
            Command::new("bash").arg(scripts_dir().join("stop.sh")).arg(&self.dir).stdin(Stdio::null()).status();
        match stopped {
            Ok(status) if status.success() => {
                if !keep_dir() {
                    let _ = std::fs::remove_dir_all(&self.dir);
                }
            }
            // Leave the directory: its pid files are what a manual stop.sh needs.
            Ok(status) => eprintln!("stop.sh {} failed: {status}", self.dir.display()),
            Err(e) => eprintln!("running stop.sh {}: {e}", self.dir.display()),
        }
    }
}

fn keep_dir() -> bool {
    std::env::var_os(KEEP_DIR_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Runs `install.sh` once per process. Its output goes straight to the terminal: a cold run
/// builds Kubernetes for minutes and shows what it is doing.
fn install() -> Result<(), String> {
    INSTALLED
        .get_or_init(|| {
            let status = Command::new("bash")
                .arg(scripts_dir().join("install.sh"))
                .stdin(Stdio::null())
                .status()
                .map_err(|e| format!("running install.sh: {e}"))?;
            if status.success() { Ok(()) } else { Err(format!("install.sh failed ({status}); its output is above")) }
        })
        .clone()
}

/// Runs a script, returning its output, or an error carrying its stdout and stderr.
fn run(command: &mut Command, name: &str) -> Result<Output, String> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("running {name}: {e}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{name} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Parses `KEY=VALUE` lines (the format `start.sh` writes); blank lines and `#` comments skipped.
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_env;

    #[test]
    fn env_file_lines_become_pairs() {
        let env = parse_env("# comment\nKUBECONFIG=/tmp/x/kubeconfig\n\nTOKEN=a=b\n");
        assert_eq!(env.len(), 2);
        assert_eq!(env["KUBECONFIG"], "/tmp/x/kubeconfig");
        // Only the first `=` separates; values may contain more.
        assert_eq!(env["TOKEN"], "a=b");
    }
}
