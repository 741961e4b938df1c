//! The HTTP side of a scrape: one reqwest client per job built from its TLS settings, and the
//! request a scrape loop sends (Accept, Accept-Encoding, the scrape-timeout header, auth, the
//! timeout), with gzip decoding and `body_size_limit` applied while reading into a reused buffer.

use std::io::Read;
use std::time::Duration;

use reqwest::header::{ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};

use crate::error::{Error, Result};
use crate::job::ScrapeJob;

/// The message of a scrape failed by `body_size_limit`, as Prometheus words it.
pub const BODY_SIZE_LIMIT_ERROR: &str = "body size limit exceeded";

/// Builds the client shared by all loops of a job.
pub fn build_client(job: &ScrapeJob) -> Result<reqwest::Client> {
    let err = |message: String| Error::HttpClient { job: job.job_name.clone(), message };
    let mut b = reqwest::Client::builder()
        // Decompression is done by hand so that body_size_limit applies to the decoded body and
        // Accept-Encoding follows enable_compression.
        .no_gzip()
        .redirect(if job.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
    let tls = &job.tls;
    let mut ca_pem = Vec::new();
    if let Some(ca) = &tls.ca {
        ca_pem.extend_from_slice(ca.as_bytes());
    }
    if let Some(path) = &tls.ca_file {
        let pem = std::fs::read(path).map_err(|e| err(format!("reading ca_file {}: {e}", path.display())))?;
        ca_pem.extend_from_slice(&pem);
    }
    if !ca_pem.is_empty() {
        let certs = reqwest::Certificate::from_pem_bundle(&ca_pem).map_err(|e| err(format!("parsing CA: {e}")))?;
        // With a CA configured only that CA is trusted, as Go's tls.Config.RootCAs.
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    let cert = match (&tls.cert, &tls.cert_file) {
        (Some(c), _) => Some(c.as_bytes().to_vec()),
        (None, Some(p)) => Some(std::fs::read(p).map_err(|e| err(format!("reading cert_file {}: {e}", p.display())))?),
        (None, None) => None,
    };
    let key = match (&tls.key, &tls.key_file) {
        (Some(k), _) => Some(k.read().map_err(|e| err(format!("reading key: {e}")))?.into_bytes()),
        (None, Some(p)) => Some(std::fs::read(p).map_err(|e| err(format!("reading key_file {}: {e}", p.display())))?),
        (None, None) => None,
    };
    match (cert, key) {
        (Some(mut pem), Some(key)) => {
            pem.push(b'\n');
            pem.extend(key);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| err(format!("client certificate: {e}")))?;
            b = b.identity(id);
        }
        (None, None) => {}
        _ => return Err(err("tls_config needs both a client certificate and a key".into())),
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(v) = tls.min_version {
        b = b.min_tls_version(v);
    }
    if let Some(v) = tls.max_version {
        b = b.max_tls_version(v);
    }
    b.build().map_err(|e| err(e.to_string()))
}

/// Why fetching a body failed; `Display` is what `last_error` shows.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Http(String),
    #[error("server returned HTTP status {0}")]
    Status(String),
    #[error("{BODY_SIZE_LIMIT_ERROR}")]
    BodySizeLimit,
    #[error("context deadline exceeded")]
    Timeout,
    #[error("{0}")]
    Auth(String),
    #[error("decompressing body: {0}")]
    Gzip(String),
    /// A pool-wide error such as `target_limit exceeded`.
    #[error("{0}")]
    Forced(String),
}

/// What a successful fetch returns; the body is in the caller's buffer.
pub struct Fetched {
    pub content_type: Option<String>,
}

/// Per-loop request settings.
pub struct Request<'a> {
    pub client: &'a reqwest::Client,
    pub job: &'a ScrapeJob,
    pub url: &'a str,
    pub timeout: Duration,
    pub accept: &'a str,
    pub user_agent: &'a str,
}

/// Scrapes `req.url` into `body` (cleared first); `raw` is a scratch buffer for gzip bodies.
/// The whole exchange is bounded by the scrape timeout.
pub async fn fetch(req: &Request<'_>, body: &mut Vec<u8>, raw: &mut Vec<u8>) -> Result<Fetched, FetchError> {
    match tokio::time::timeout(req.timeout, fetch_inner(req, body, raw)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout),
    }
}

async fn fetch_inner(req: &Request<'_>, body: &mut Vec<u8>, raw: &mut Vec<u8>) -> Result<Fetched, FetchError> {
    body.clear();
    raw.clear();
    let job = req.job;
    let mut rb = req
        .client
        .get(req.url)
        .header(ACCEPT, req.accept)
        .header(USER_AGENT, req.user_agent)
        .header(ACCEPT_ENCODING, if job.enable_compression { "gzip" } else { "identity" })
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", req.timeout.as_secs_f64()))
        .timeout(req.timeout);
    if let Some(ba) = &job.basic_auth {
        let pw = match &ba.password {
            Some(s) => {
                Some(s.read().map_err(|e| FetchError::Auth(format!("unable to read basic auth password file: {e}")))?)
            }
            None => None,
        };
        rb = rb.basic_auth(&ba.username, pw);
    }
    if let Some(a) = &job.authorization {
        let cred = a
            .credentials
            .read()
            .map_err(|e| FetchError::Auth(format!("unable to read authorization credentials file: {e}")))?;
        rb = rb.header(AUTHORIZATION, format!("{} {}", a.kind, cred));
    }
    let mut resp = rb.send().await.map_err(|e| http_error(&e))?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        let reason = status.canonical_reason().unwrap_or("");
        return Err(FetchError::Status(format!("{} {}", status.as_u16(), reason).trim_end().to_string()));
    }
    let content_type = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let gzip = resp.headers().get(CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    // Prometheus fails when the body reaches the limit (n >= limit).
    let limit = if job.body_size_limit == 0 { u64::MAX } else { job.body_size_limit };
    let target = if gzip { &mut *raw } else { &mut *body };
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_error(&e))? {
        target.extend_from_slice(&chunk);
        if target.len() as u64 >= limit {
            return Err(FetchError::BodySizeLimit);
        }
    }
    if gzip {
        let dec = flate2::read::GzDecoder::new(raw.as_slice());
        let n = dec.take(limit).read_to_end(body).map_err(|e| FetchError::Gzip(e.to_string()))?;
        if n as u64 >= limit {
            return Err(FetchError::BodySizeLimit);
        }
    }
    Ok(Fetched { content_type })
}

fn http_error(e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    // reqwest's Display hides the cause ("error sending request for url ..."); add the chain.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    FetchError::Http(msg)
}
