//! The synthetic scrape targets: one loopback port per target, served by one small tokio
//! runtime in a thread of its own. A target's body is rendered (and gzipped once) lazily: a
//! scrape that finds the body older than half the scrape interval advances the values and
//! renders anew, so every scrape sees new values while the rendering cost stays one render
//! per scrape, not per byte served.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;

use crate::workload::Target;

struct Rendered {
    at: Instant,
    plain: Bytes,
    gzip: Bytes,
}

struct TargetState {
    target: Mutex<(Target, Option<Rendered>, String)>,
    refresh_after: Duration,
    scrapes: std::sync::atomic::AtomicU64,
}

impl TargetState {
    fn body(&self, gzip: bool) -> Bytes {
        let mut g = self.target.lock();
        let (t, rendered, buf) = &mut *g;
        let stale = rendered.as_ref().is_none_or(|r| r.at.elapsed() >= self.refresh_after);
        if stale {
            t.advance();
            t.render(buf);
            let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(buf.len() / 4), flate2::Compression::fast());
            let _ = enc.write_all(buf.as_bytes());
            let gz = enc.finish().unwrap_or_default();
            *rendered = Some(Rendered { at: Instant::now(), plain: Bytes::from(buf.clone()), gzip: Bytes::from(gz) });
        }
        let r = rendered.as_ref().expect("rendered above");
        if gzip { r.gzip.clone() } else { r.plain.clone() }
    }
}

async fn metrics(State(st): State<Arc<TargetState>>, headers: HeaderMap) -> Response {
    st.scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let body = st.body(gzip);
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    if gzip {
        resp.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

/// The running targets. Dropping it stops them.
pub struct Targets {
    pub addrs: Vec<SocketAddr>,
    states: Vec<Arc<TargetState>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Uncompressed bytes of one body (target 0), for the report.
    pub body_bytes: usize,
    pub series_per_target: usize,
}

impl Targets {
    pub fn start(n: usize, series: usize, interval: Duration) -> anyhow::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mut listeners = Vec::with_capacity(n);
        let mut addrs = Vec::with_capacity(n);
        for _ in 0..n {
            let l = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
            addrs.push(l.local_addr()?);
            listeners.push(l);
        }
        let states: Vec<Arc<TargetState>> = (0..n)
            .map(|i| {
                Arc::new(TargetState {
                    target: Mutex::new((Target::new(i as u64, series), None, String::new())),
                    refresh_after: interval / 2,
                    scrapes: Default::default(),
                })
            })
            .collect();
        let body_bytes = states.first().map(|s| s.body(false).len()).unwrap_or(0);
        let series_per_target = states.first().map(|s| s.target.lock().0.series.len()).unwrap_or(0);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sts = states.clone();
        let thread = std::thread::Builder::new().name("bench-targets".into()).spawn(move || {
            rt.block_on(async move {
                for (l, st) in listeners.into_iter().zip(sts) {
                    let app = Router::new().route("/metrics", get(metrics)).with_state(st);
                    tokio::spawn(async move {
                        let _ = axum::serve(l, app).await;
                    });
                }
                let _ = stop_rx.await;
            });
        })?;
        Ok(Targets { addrs, states, stop: Some(stop_tx), thread: Some(thread), body_bytes, series_per_target })
    }

    pub fn scrapes(&self) -> u64 {
        self.states.iter().map(|s| s.scrapes.load(std::sync::atomic::Ordering::Relaxed)).sum()
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
