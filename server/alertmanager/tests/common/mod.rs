//! Test fixtures shared by the end-to-end tests: child processes killed on drop, free ports,
//! readiness polling, a webhook receiver that records every POST with its arrival time, and
//! runners for amtool and Alertmanager 0.25 (the reference implementation).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const OXEYE_AM: &str = env!("CARGO_BIN_EXE_oxeye-alertmanager");
pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
pub const AMTOOL: &str = "/usr/bin/amtool";
pub const PROMETHEUS: &str = "/usr/bin/prometheus";

pub fn have(bin: &str) -> bool {
    Path::new(bin).exists()
}

/// A child process that is killed (and reaped) when dropped, even if the test panics.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, bin: &str, args: &[String], log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        Proc { name: name.to_string(), child: Some(child), log }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends SIGTERM and waits for a graceful exit (up to 10 s, then SIGKILL).
    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Sends a signal by name (e.g. "HUP") without waiting.
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").arg(format!("-{sig}")).arg(c.id().to_string()).status();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client")
}

/// Polls `url` until it answers 200 (panics with the process log after `timeout`).
pub fn wait_ready(p: &mut Proc, url: &str, timeout: Duration) {
    let c = client();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(st) = p.exited() {
            panic!("{} exited with {st} before becoming ready:\n{}", p.name, p.log_text());
        }
        if let Ok(r) = c.get(url).send()
            && r.status().is_success()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} not ready at {url} after {timeout:?}:\n{}", p.name, p.log_text());
}

/// Which Alertmanager implementation a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Oxeye,
    Reference,
}

impl Flavor {
    pub fn bin(self) -> &'static str {
        match self {
            Flavor::Oxeye => OXEYE_AM,
            Flavor::Reference => ALERTMANAGER,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Oxeye => "oxeye-alertmanager",
            Flavor::Reference => "alertmanager-0.25",
        }
    }
}

/// A running Alertmanager (either flavour) with its own storage directory and port.
pub struct Am {
    pub flavor: Flavor,
    pub proc: Proc,
    pub port: u16,
    pub config: PathBuf,
    pub storage: PathBuf,
    pub dir: PathBuf,
    pub extra: Vec<String>,
}

impl Am {
    pub fn start(flavor: Flavor, dir: &Path, config_yaml: &str, extra: &[&str]) -> Am {
        std::fs::create_dir_all(dir).expect("create dir");
        let config = dir.join("alertmanager.yml");
        std::fs::write(&config, config_yaml).expect("write config");
        let storage = dir.join("data");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Self::launch(flavor, dir, config, storage, free_port(), extra, 0)
    }

    fn launch(
        flavor: Flavor,
        dir: &Path,
        config: PathBuf,
        storage: PathBuf,
        port: u16,
        extra: Vec<String>,
        generation: u32,
    ) -> Am {
        let mut args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", storage.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=debug".to_string(),
        ];
        if !extra.iter().any(|e| e.starts_with("--cluster.listen-address")) {
            // A one-member gossip cluster delays the first notifications until it settles;
            // the comparisons run both implementations without clustering.
            args.push("--cluster.listen-address=".to_string());
        }
        args.extend(extra.iter().cloned());
        let log = dir.join(format!("{}-{generation}.log", flavor.name()));
        let mut proc = Proc::spawn(flavor.name(), flavor.bin(), &args, log);
        wait_ready(&mut proc, &format!("http://127.0.0.1:{port}/-/ready"), Duration::from_secs(20));
        Am { flavor, proc, port, config, storage, dir: dir.to_path_buf(), extra }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the process with SIGKILL (no shutdown work at all) and starts it again on the same
    /// port and storage.
    pub fn kill9_and_restart(&mut self, generation: u32) {
        if let Some(mut c) = self.proc.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let next = Self::launch(
            self.flavor,
            &self.dir,
            self.config.clone(),
            self.storage.clone(),
            self.port,
            self.extra.clone(),
            generation,
        );
        *self = next;
    }

    /// Stops the process gracefully (state is persisted) and starts it again on the same port.
    pub fn restart(&mut self, generation: u32) {
        self.proc.terminate();
        let next = Self::launch(
            self.flavor,
            &self.dir,
            self.config.clone(),
            self.storage.clone(),
            self.port,
            self.extra.clone(),
            generation,
        );
        *self = next;
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, String) {
        let r = client().post(format!("{}{path}", self.url())).json(body).send().expect("POST");
        let code = r.status().as_u16();
        (code, r.text().unwrap_or_default())
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = client().get(format!("{}{path}", self.url())).send().expect("GET");
        r.json().expect("JSON body")
    }

    pub fn delete(&self, path: &str) -> u16 {
        client().delete(format!("{}{path}", self.url())).send().expect("DELETE").status().as_u16()
    }
}

/// One POST the webhook recorder received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub path: String,
    pub body: serde_json::Value,
}

/// An HTTP server that accepts webhook POSTs, answers 200 and records them.
pub struct WebhookRecorder {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Recorded>>>,
}

impl WebhookRecorder {
    pub fn start() -> WebhookRecorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook recorder");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let rec = rec.clone();
                std::thread::spawn(move || serve_connection(stream, rec));
            }
        });
        WebhookRecorder { port, received }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }

    pub fn take(&self) -> Vec<Recorded> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve_connection(stream: TcpStream, rec: Arc<Mutex<Vec<Recorded>>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        if let Ok(mut v) = rec.lock() {
            v.push(Recorded { at, path, body });
        }
        if writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

/// Runs amtool with the given arguments; returns (exit code, stdout, stderr).
pub fn amtool(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(AMTOOL).args(args).output().expect("run amtool");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// RFC 3339 with milliseconds, as both implementations print times.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
