//! What the operator's end-to-end tests share: the repository's paths, kubectl, the CRDs and
//! RBAC on the cluster, oxeye and oxeye-operator processes, condition polling, and the logs of
//! a failing test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use oxeye_e2e::ControlPlane;
use oxeye_e2e::fixtures::{ApiClient, ChildGuard, free_port, http_get, wait_for};
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `oxeye` binary of this build (`cargo test --workspace` builds it next to this test's
/// own binaries).
pub fn oxeye_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target profile directory");
    let bin = dir.join("oxeye");
    assert!(bin.exists(), "{} is missing: build the workspace first (`cargo test --workspace` does)", bin.display());
    bin
}

pub fn kubectl_ok(cp: &ControlPlane, args: &[&str], stdin: Option<&str>) -> String {
    let out = match stdin {
        Some(s) => cp.kubectl_with_stdin(args, s),
        None => cp.kubectl(args),
    };
    assert!(out.status.success(), "kubectl {args:?} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// CRDs, namespaces and RBAC, idempotently (each test may be first).
pub fn prepare_cluster(cp: &ControlPlane) {
    let root = repo_root();
    kubectl_ok(cp, &["apply", "-f", &root.join("crds").display().to_string()], None);
    for crd in [
        "servicemonitors.monitoring.coreos.com",
        "podmonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "grafanadashboards.grafana.integreatly.org",
    ] {
        kubectl_ok(cp, &["wait", "--for=condition=Established", "--timeout=60s", &format!("crd/{crd}")], None);
    }
    for ns in ["monitoring", "apps"] {
        let _ = cp.kubectl(["create", "namespace", ns]);
    }
    kubectl_ok(cp, &["apply", "-f", &root.join("examples/rbac").display().to_string()], None);
}

pub fn start_oxeye(dir: &Path, kubeconfig: &Path, secret: &str) -> (ChildGuard, String) {
    let port = free_port();
    let log = dir.join("oxeye.log");
    let child = Command::new(oxeye_bin())
        .arg(format!("--config.kubernetes-secret={secret}"))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("oxeye log"))
        .spawn()
        .expect("spawn oxeye");
    let mut guard = ChildGuard { child, name: "oxeye".into(), log };
    let base = format!("http://127.0.0.1:{port}");
    wait_for("oxeye to become ready", Duration::from_secs(60), || {
        guard.assert_running();
        matches!(http_get(&format!("{base}/-/ready")), Ok((200, _))).then_some(())
    });
    (guard, base)
}

pub fn start_operator(dir: &Path, name: &str, kubeconfig: &Path, settings: &str) -> (ChildGuard, String) {
    start_operator_with_flags(dir, name, kubeconfig, settings, &[])
}

/// Starts oxeye-operator with `settings` as its file and `flags` added; waits for /readyz.
pub fn start_operator_with_flags(
    dir: &Path,
    name: &str,
    kubeconfig: &Path,
    settings: &str,
    flags: &[&str],
) -> (ChildGuard, String) {
    let port = free_port();
    let settings_path = dir.join(format!("{name}.yaml"));
    std::fs::write(&settings_path, settings).expect("write operator settings");
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_oxeye-operator"))
        .arg(format!("--config.file={}", settings_path.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=debug")
        .args(flags)
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAME", name)
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("operator log"))
        .spawn()
        .expect("spawn oxeye-operator");
    let mut guard = ChildGuard { child, name: name.into(), log };
    let base = format!("http://127.0.0.1:{port}");
    wait_for("the operator to become ready", Duration::from_secs(60), || {
        guard.assert_running();
        matches!(http_get(&format!("{base}/readyz")), Ok((200, _))).then_some(())
    });
    (guard, base)
}

pub fn condition(obj: &Value, type_: &str) -> Option<(String, String, String)> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_string(),
            c["reason"].as_str().unwrap_or_default().to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

/// Waits until the object at `path` has condition `type_` with `status`; returns it.
pub fn wait_condition(api: &ApiClient, path: &str, type_: &str, status: &str) -> (String, String, String) {
    wait_for(&format!("{type_}={status} on {path}"), Duration::from_secs(20), || {
        condition(&api.get(path)?, type_).filter(|c| c.0 == status)
    })
}

/// On a failing test, prints the end of every log in the test's directory.
pub struct LogsOnPanic(pub PathBuf);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for e in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "log") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                eprintln!(
                    "--- {} (last 60 lines)\n{}",
                    p.display(),
                    lines[lines.len().saturating_sub(60)..].join("\n")
                );
            }
        }
    }
}

pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}
