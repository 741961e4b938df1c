//! The control plane test bed itself: the apiserver serves, kubectl and helm reach it, the objects
//! Oxeye's Kubernetes discovery reads (Pods with status, Services, EndpointSlices) round-trip,
//! and an apiserver restart ends with it serving again.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use oxeye_e2e::{ControlPlane, Shared};
use serde_json::Value;

fn shared() -> Shared {
    ControlPlane::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// stdout of a successful command; otherwise panics with its stderr and the apiserver log.
fn ok(cp: &ControlPlane, what: &str, output: Output) -> String {
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}\nkube-apiserver log tail:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            cp.log_tail("kube-apiserver", 20)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(cp: &ControlPlane, args: &[&str]) -> Value {
    let text = ok(cp, &format!("kubectl {}", args.join(" ")), cp.kubectl(args));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}: {text}"))
}

fn apply(cp: &ControlPlane, manifest: &str) {
    ok(cp, "kubectl apply", cp.kubectl_with_stdin(["apply", "-f", "-"], manifest));
}

#[test]
fn apiserver_answers_and_kubectl_works() {
    let cp = shared();
    let version = json(&cp, &["get", "--raw", "/version"]);
    assert_eq!(version["gitVersion"], "v1.20.2", "{version}");

    // The accessors alone (no kubeconfig) are enough to reach the apiserver.
    let ca = cp.ca_cert_path().to_string_lossy().into_owned();
    let readyz = cp.kubectl([
        "--kubeconfig=/dev/null",
        "--server",
        cp.apiserver_url(),
        "--token",
        cp.token(),
        "--certificate-authority",
        &ca,
        "get",
        "--raw",
        "/readyz",
    ]);
    assert_eq!(ok(&cp, "kubectl get --raw /readyz", readyz), "ok");
    assert!(cp.apiserver_url().starts_with("https://127.0.0.1:"));

    let namespaces = json(&cp, &["get", "namespaces", "-o", "json"]);
    let names: Vec<&str> = namespaces["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|ns| ns["metadata"]["name"].as_str())
        .collect();
    for expected in ["default", "kube-system"] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }

    // A wrong token is refused: authentication is real.
    let refused = cp.kubectl([
        "--kubeconfig=/dev/null",
        "--server",
        cp.apiserver_url(),
        "--token",
        "not-the-token",
        "--certificate-authority",
        &ca,
        "get",
        "namespaces",
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Unauthorized"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn pod_service_and_endpointslice_round_trip() {
    let cp = shared();
    let ns = "e2e-discovery-objects";
    apply(&cp, &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"));
    // The ServiceAccount admission plugin refuses Pods until the namespace's `default`
    // ServiceAccount exists; the controller manager creates it shortly after the namespace.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cp.kubectl(["get", "serviceaccount", "default", "-n", ns]).status.success() {
        assert!(Instant::now() < deadline, "no default ServiceAccount in {ns}");
        std::thread::sleep(Duration::from_millis(200));
    }

    apply(
        &cp,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  containers:
  - name: web
    image: registry.invalid/web:1
    ports: [{{name: metrics, containerPort: 9100}}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector: {{app: web}}
  ports: [{{name: metrics, port: 9100, targetPort: metrics}}]
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: web-manual
  namespace: {ns}
  labels:
    kubernetes.io/service-name: web
    endpointslice.kubernetes.io/managed-by: oxeye-e2e
addressType: IPv4
ports: [{{name: metrics, port: 9100, protocol: TCP}}]
endpoints:
- addresses: ["127.0.0.2"]
  conditions: {{ready: true}}
  targetRef: {{kind: Pod, name: web, namespace: {ns}}}
"#
        ),
    );

    // Play the kubelet: there is none, so the Pod stays Pending until its status is patched.
    let pending = json(&cp, &["get", "pod", "web", "-n", ns, "-o", "json"]);
    assert_eq!(pending["status"]["phase"], "Pending", "{pending}");
    let status = r#"{"status":{"phase":"Running","podIP":"127.0.0.2","podIPs":[{"ip":"127.0.0.2"}],
        "conditions":[{"type":"Ready","status":"True"}]}}"#;
    ok(
        &cp,
        "kubectl patch --subresource=status",
        cp.kubectl(["patch", "pod", "web", "-n", ns, "--subresource=status", "--type=merge", "-p", status]),
    );
    let pod = json(&cp, &["get", "pod", "web", "-n", ns, "-o", "json"]);
    assert_eq!(pod["status"]["phase"], "Running", "{pod}");
    assert_eq!(pod["status"]["podIP"], "127.0.0.2", "{pod}");
    let ready = pod["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .expect("Ready condition");
    assert_eq!(ready["status"], "True", "{pod}");

    let service = json(&cp, &["get", "service", "web", "-n", ns, "-o", "json"]);
    let cluster_ip = service["spec"]["clusterIP"].as_str().expect("clusterIP");
    assert!(cluster_ip.starts_with("10.0.0."), "{service}");
    assert_eq!(service["spec"]["ports"][0]["port"], 9100, "{service}");

    let slice = json(&cp, &["get", "endpointslices.v1beta1.discovery.k8s.io", "web-manual", "-n", ns, "-o", "json"]);
    assert_eq!(slice["apiVersion"], "discovery.k8s.io/v1beta1", "{slice}");
    assert_eq!(slice["endpoints"][0]["addresses"][0], "127.0.0.2", "{slice}");
    assert_eq!(slice["endpoints"][0]["conditions"]["ready"], true, "{slice}");
    assert_eq!(slice["metadata"]["labels"]["kubernetes.io/service-name"], "web", "{slice}");
}

#[test]
fn helm_runs_against_the_cluster() {
    let cp = shared();
    let version = ok(&cp, "helm version", cp.helm(["version", "--template", "{{.Version}}"]));
    assert!(version.starts_with("v4."), "helm version: {version}");
    // helm reaches the apiserver through the kubeconfig: an empty release list, not an error.
    let releases = ok(&cp, "helm list", cp.helm(["list", "--all-namespaces", "--output", "json"]));
    assert_eq!(releases.trim(), "[]");
}

#[test]
fn restarted_apiserver_serves_again_with_its_objects() {
    // Exclusive: the other tests must not see the outage.
    let cp = ControlPlane::shared_exclusive().unwrap_or_else(|e| panic!("{e}"));
    ok(
        &cp,
        "kubectl create configmap",
        cp.kubectl(["create", "configmap", "survives-restart", "-n", "default", "--from-literal=k=v"]),
    );

    std::thread::scope(|scope| {
        let restart = scope.spawn(|| cp.restart_apiserver_after(Duration::from_secs(3)));
        // The apiserver is observably gone for a while.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let probe = cp.kubectl(["get", "--raw", "/readyz", "--request-timeout=1s"]);
            if !probe.status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "the apiserver never went away during restart");
            std::thread::sleep(Duration::from_millis(100));
        }
        restart.join().expect("restart thread").unwrap_or_else(|e| panic!("{e}"));
    });

    assert_eq!(ok(&cp, "readyz", cp.kubectl(["get", "--raw", "/readyz"])), "ok");
    let cm = json(&cp, &["get", "configmap", "survives-restart", "-n", "default", "-o", "json"]);
    assert_eq!(cm["data"]["k"], "v", "{cm}");
}

/// Whether a process runs. A zombie does not: stopped daemons are reparented to pid 1, which may
/// reap them only later.
fn running(pid: &str) -> bool {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat"));
    // The state follows the parenthesized command name: "PID (comm) S ...".
    stat.is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

#[test]
fn private_control_plane_is_stopped_and_removed_on_drop() {
    let cp = ControlPlane::start().unwrap_or_else(|e| panic!("{e}"));
    ok(&cp, "kubectl get --raw /readyz", cp.kubectl(["get", "--raw", "/readyz"]));
    let dir = cp.dir().to_path_buf();
    let env = std::fs::read_to_string(dir.join("env")).expect("env file");
    let pids: Vec<String> = env
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.ends_with("_PID"))
        .map(|(_, pid)| pid.to_string())
        .collect();
    assert_eq!(pids.len(), 3, "{env}");
    drop(cp);
    for pid in &pids {
        assert!(!running(pid), "process {pid} still running after drop");
    }
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
}
