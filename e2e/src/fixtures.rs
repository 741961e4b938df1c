//! Small fixtures the end-to-end tests share: a direct REST client for the apiserver (so timed
//! changes do not include kubectl's start-up), HTTP targets on 127.0.0.x that record what they
//! were asked, child processes killed on drop, polling, and kubeconfigs for ServiceAccounts (to
//! run a component with exactly the RBAC its docs grant).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::ControlPlane;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port")
}

/// Polls `f` every 10 ms until it returns `Some` or `timeout` passes (then panics naming `what`).
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process killed (SIGKILL) when dropped; [`Self::terminate`] asks it to stop first.
pub struct ChildGuard {
    pub child: Child,
    pub name: String,
    pub log: PathBuf,
}

impl ChildGuard {
    /// SIGTERM, then waits up to `grace` before killing. Returns whether it exited by itself.
    pub fn terminate(&mut self, grace: Duration) -> bool {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    /// The end of the process's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}:\n{}", self.name, self.log_tail(40));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET returning (status, body).
pub fn http_get(url: &str) -> Result<(u16, String), String> {
    let resp =
        reqwest::blocking::Client::new().get(url).timeout(Duration::from_secs(10)).send().map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    Ok((code, resp.text().map_err(|e| e.to_string())?))
}

/// GET of a Prometheus-style API endpoint; panics unless it answers 200 with JSON.
pub fn get_json(url: &str) -> Value {
    let (code, body) = http_get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(code, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: bad JSON {e}: {body}"))
}

/// One request a [`LoopbackServer`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

/// An HTTP server on one loopback address (127.0.0.x) answering every request with 200 and a
/// fixed body (text exposition format), remembering each request.
pub struct LoopbackServer {
    pub ip: Ipv4Addr,
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl LoopbackServer {
    /// Binds `ip:port` (`port` 0 picks one).
    pub fn bind(ip: Ipv4Addr, port: u16, body: &str) -> std::io::Result<LoopbackServer> {
        let listener = TcpListener::bind((ip, port))?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, body) = (seen.clone(), body.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, body) = (s.clone(), body.clone());
                std::thread::spawn(move || serve(stream, &body, &s));
            }
        });
        Ok(LoopbackServer { ip, port, seen })
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// How many requests were `"METHOD path"` (for example `"GET /metrics"`).
    pub fn hits(&self, request: &str) -> u64 {
        self.requests().iter().filter(|r| format!("{} {}", r.method, r.path) == request).count() as u64
    }
}

fn serve(stream: TcpStream, body: &str, seen: &Mutex<Vec<Seen>>) {
    serve_requests(stream, |request| {
        if let Ok(mut s) = seen.lock() {
            s.push(request);
        }
        ("text/plain; version=0.0.4".to_string(), body.to_string())
    });
}

/// Answers the HTTP/1.1 requests of one connection, keep-alive included, with 200 and what
/// `respond` returns for each: (Content-Type, body).
pub fn serve_requests(mut stream: TcpStream, mut respond: impl FnMut(Seen) -> (String, String)) {
    let Ok(clone) = stream.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        let mut authorization = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let t = h.trim_end();
            if t.is_empty() {
                break;
            }
            let lower = t.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("authorization:") {
                authorization = Some(t["authorization:".len()..].trim().to_string());
            }
        }
        let mut buf = vec![0u8; content_length];
        let _ = reader.read_exact(&mut buf);
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let (content_type, body) = respond(Seen { method, path, authorization });
        let resp =
            format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        if stream.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A REST client for the apiserver with the admin token and the cluster's CA.
pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl ApiClient {
    pub fn new(cp: &ControlPlane) -> ApiClient {
        let pem = std::fs::read(cp.ca_cert_path()).expect("read the cluster CA");
        let ca = reqwest::Certificate::from_pem(&pem).expect("CA certificate");
        let http = reqwest::blocking::Client::builder()
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        ApiClient { base: cp.apiserver_url().to_string(), token: cp.token().to_string(), http }
    }

    fn send(&self, method: reqwest::Method, path: &str, content_type: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("Content-Type", content_type).body(b.to_string());
        }
        let resp = req.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let code = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (code, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// POST; panics unless created.
    pub fn create(&self, collection: &str, object: &Value) -> Value {
        let (code, v) = self.send(reqwest::Method::POST, collection, "application/json", Some(object));
        assert!((200..300).contains(&code), "POST {collection}: {code}: {v}");
        v
    }

    /// JSON merge patch; panics unless it succeeds.
    pub fn merge_patch(&self, path: &str, patch: &Value) -> Value {
        let (code, v) = self.send(reqwest::Method::PATCH, path, "application/merge-patch+json", Some(patch));
        assert!((200..300).contains(&code), "PATCH {path}: {code}: {v}");
        v
    }

    /// GET; `None` on 404, panics on other errors.
    pub fn get(&self, path: &str) -> Option<Value> {
        let (code, v) = self.send(reqwest::Method::GET, path, "", None);
        match code {
            200 => Some(v),
            404 => None,
            _ => panic!("GET {path}: {code}: {v}"),
        }
    }

    /// DELETE; a missing object is fine.
    pub fn delete(&self, path: &str) {
        let (code, v) = self.send(reqwest::Method::DELETE, path, "", None);
        assert!((200..300).contains(&code) || code == 404, "DELETE {path}: {code}: {v}");
    }
}

/// Writes a kubeconfig at `path` that authenticates as ServiceAccount `namespace/name` with its
/// token (Kubernetes 1.20 keeps it in a Secret the token controller creates), so a component
/// runs with exactly the permissions its RBAC grants.
pub fn service_account_kubeconfig(cp: &ControlPlane, namespace: &str, name: &str, path: &Path) -> String {
    let api = ApiClient::new(cp);
    let token = wait_for(&format!("a token for ServiceAccount {namespace}/{name}"), Duration::from_secs(30), || {
        let sa = api.get(&format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}"))?;
        let secret = sa["secrets"][0]["name"].as_str()?.to_string();
        let s = api.get(&format!("/api/v1/namespaces/{namespace}/secrets/{secret}"))?;
        let b64 = s["data"]["token"].as_str()?;
        let decoded = BASE64.decode(b64).ok()?;
        String::from_utf8(decoded).ok()
    });
    let ca = std::fs::read(cp.ca_cert_path()).expect("read the cluster CA");
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {"server": cp.apiserver_url(), "certificate-authority-data": BASE64.encode(&ca)}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "e2e", "user": name, "namespace": namespace}}],
        "current-context": "sa",
    });
    std::fs::write(path, config.to_string()).expect("write kubeconfig");
    token
}

/// Decodes standard base64 (as the apiserver returns Secret data) into text.
pub fn decode_base64_str(s: &str) -> Option<String> {
    String::from_utf8(BASE64.decode(s).ok()?).ok()
}

/// Standard base64 (as the apiserver expects `[]byte` fields such as Secret data).
pub fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}
