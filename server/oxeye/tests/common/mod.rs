//! Shared fixtures for the binary's integration tests: an `oxeye` process on a free loopback
//! port with its own data directory, a tiny HTTP target serving a settable body, and process
//! guards that kill what they started even when a test fails.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use oxeye_e2e::fixtures::{free_port, http_get, wait_for};

/// Kills the child on drop.
pub struct ProcessGuard {
    pub child: Child,
    pub name: String,
}

impl ProcessGuard {
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_post(url: &str) -> Result<(u16, String), String> {
    let resp = reqwest::blocking::Client::new()
        .post(url)
        .timeout(Duration::from_secs(10))
        .send()
        .map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    Ok((code, resp.text().map_err(|e| e.to_string())?))
}

pub fn api_json(base: &str, path_and_query: &str) -> serde_json::Value {
    let (code, body) =
        http_get(&format!("{base}{path_and_query}")).unwrap_or_else(|e| panic!("GET {path_and_query}: {e}"));
    assert_eq!(code, 200, "GET {path_and_query}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path_and_query}: bad JSON {e}: {body}"))
}

pub struct Oxeye {
    pub guard: ProcessGuard,
    pub port: u16,
    pub base: String,
    pub data_dir: PathBuf,
    pub config_path: PathBuf,
}

pub fn oxeye_bin() -> &'static str {
    env!("CARGO_BIN_EXE_oxeye")
}

impl Oxeye {
    /// Starts oxeye with `config` written to `dir/prometheus.yml` and data in `dir/data`, and
    /// waits until /-/ready answers.
    pub fn start(dir: &Path, config: &str, extra_args: &[&str]) -> Oxeye {
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write config");
        Self::start_with(dir, &config_path, free_port(), extra_args)
    }

    pub fn start_with(dir: &Path, config_path: &Path, port: u16, extra_args: &[&str]) -> Oxeye {
        let data_dir = dir.join("data");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("oxeye.log")).expect("log file");
        let child = Command::new(oxeye_bin())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn oxeye");
        let base = format!("http://127.0.0.1:{port}");
        let mut ox = Oxeye {
            guard: ProcessGuard { child, name: "oxeye".into() },
            port,
            base: base.clone(),
            data_dir,
            config_path: config_path.to_path_buf(),
        };
        let log_path = dir.join("oxeye.log");
        wait_for("oxeye to become ready", Duration::from_secs(60), || {
            if let Ok(Some(status)) = ox.guard.child.try_wait() {
                panic!("oxeye exited early with {status}: {}", std::fs::read_to_string(&log_path).unwrap_or_default());
            }
            let prefix = extra_args
                .iter()
                .find_map(|a| a.strip_prefix("--web.external-url="))
                .and_then(|u| u.split_once("://"))
                .and_then(|(_, r)| r.find('/').map(|i| r[i..].trim_end_matches('/').to_string()))
                .unwrap_or_default();
            match http_get(&format!("{base}{prefix}/-/ready")) {
                Ok((200, _)) => Some(()),
                _ => None,
            }
        });
        ox
    }

    pub fn query(&self, expr: &str) -> serde_json::Value {
        let q: String = url_encode(expr);
        api_json(&self.base, &format!("/api/v1/query?query={q}"))
    }
}

pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A scrape target on 127.0.0.1 that serves whatever body was last set.
pub struct StaticTarget {
    pub port: u16,
    pub body: Arc<Mutex<String>>,
    pub content_type: Arc<Mutex<String>>,
    pub hits: Arc<Mutex<u64>>,
}

impl StaticTarget {
    pub fn start(body: &str) -> StaticTarget {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind target");
        let port = listener.local_addr().expect("addr").port();
        let body = Arc::new(Mutex::new(body.to_string()));
        let content_type = Arc::new(Mutex::new("text/plain; version=0.0.4; charset=utf-8".to_string()));
        let hits = Arc::new(Mutex::new(0u64));
        let (b, ct, h) = (body.clone(), content_type.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (b, ct, h) = (b.clone(), ct.clone(), h.clone());
                std::thread::spawn(move || serve_one(stream, &b, &ct, &h));
            }
        });
        StaticTarget { port, body, content_type, hits }
    }

    pub fn set_body(&self, body: &str) {
        *self.body.lock().expect("lock") = body.to_string();
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve_one(stream: TcpStream, body: &Mutex<String>, ct: &Mutex<String>, hits: &Mutex<u64>) {
    oxeye_e2e::fixtures::serve_requests(stream, |_| {
        *hits.lock().expect("lock") += 1;
        (ct.lock().expect("lock").clone(), body.lock().expect("lock").clone())
    });
}

/// Fails the test with a clear message when a Debian reference binary is missing (the test
/// command installs them through .ci/setup-test-deps).
pub fn require_binary(path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if !p.exists() {
        panic!("{path} is missing: run `bash .ci/setup-test-deps` (the README's test command does)");
    }
    p
}
