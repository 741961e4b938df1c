//! A client for the parts of Grafana's HTTP API that provisioning needs, as Grafana 10-12
//! document them: `/api/health`, folders (`/api/folders`), dashboards (`/api/dashboards/db`,
//! `/api/dashboards/uid/:uid`, `/api/search`) and data sources (`/api/datasources/uid/:uid`,
//! `/api/datasources`). Authentication is admin basic auth or a service-account token.
//!
//! It owns the wire format and error mapping only; what to provision, and when, is the
//! operator's business. Decisions are made on status codes, never on message text (Grafana's
//! messages and even some codes changed between 10 and 12: see [`Error::Conflict`]).

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How the client authenticates.
#[derive(Clone)]
pub enum Auth {
    /// HTTP basic auth, normally Grafana's admin user.
    Basic { username: String, password: String },
    /// A service-account token (`Authorization: Bearer ...`).
    Token(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <secret>)"),
            Auth::Token(_) => f.write_str("Token(<secret>)"),
        }
    }
}

/// What a request to Grafana can end in besides success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No answer: connection refused, timeout, TLS failure.
    #[error("Grafana at {url} is unreachable: {message}")]
    Unreachable { url: String, message: String },
    /// 401 or 403: the credentials are missing, wrong, or lack a permission.
    #[error("Grafana refused the credentials for {method} {path} ({status}): {message}")]
    Unauthorized { method: &'static str, path: String, status: u16, message: String },
    /// The object already exists (409; 412 from Grafana 11+ storage for folders).
    #[error("Grafana: {method} {path} conflicts with an existing object ({status}): {message}")]
    Conflict { method: &'static str, path: String, status: u16, message: String },
    /// Any other non-success answer.
    #[error("Grafana answered {status} to {method} {path}: {message}")]
    Api { method: &'static str, path: String, status: u16, message: String },
    /// A success answer that is not what the API documents.
    #[error("Grafana's answer to {method} {path} is not valid: {message}")]
    Decode { method: &'static str, path: String, message: String },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Health {
    pub database: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// A folder as `/api/folders` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Folder {
    pub uid: String,
    pub title: String,
}

/// The answer to a dashboard save.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavedDashboard {
    pub uid: String,
    /// Path of the dashboard (`/d/<uid>/<slug>`), without Grafana's sub-path.
    pub url: String,
    pub version: i64,
    #[serde(default)]
    pub status: String,
}

/// A dashboard and where it is, as `GET /api/dashboards/uid/:uid` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDashboard {
    pub model: Value,
    pub folder_uid: String,
    pub url: String,
    pub version: i64,
}

/// One hit of `/api/search`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub uid: String,
    pub title: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub folder_uid: Option<String>,
}

/// A data source, with the fields provisioning sets. `json_data` holds type-specific settings
/// (`httpMethod`, `implementation`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    pub uid: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub access: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub json_data: Map<String, Value>,
}

/// A Grafana HTTP API client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("auth", &self.auth).finish()
    }
}

/// Everything but RFC 3986's unreserved characters is escaped in a path segment or query value.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Grafana's error bodies carry `message` (all versions); fall back to the raw text.
fn message_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

impl Client {
    /// A client for the Grafana at `base` (for example `http://grafana.monitoring.svc`; a
    /// sub-path such as `/grafana` is kept).
    pub fn new(base: &str, auth: Auth) -> Result<Client> {
        let parsed = url::Url::parse(base)
            .map_err(|e| Error::Unreachable { url: base.to_string(), message: format!("invalid URL: {e}") })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Unreachable {
                url: base.to_string(),
                message: "only http and https are supported".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("oxeye-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Unreachable { url: base.to_string(), message: e.to_string() })?;
        Ok(Client { http, base: base.trim_end_matches('/').to_string(), auth })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        authenticate: bool,
    ) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.base);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self.http.request(m, &url).header("Accept", "application/json");
        if authenticate {
            req = match &self.auth {
                Auth::Basic { username, password } => req.basic_auth(username, Some(password)),
                Auth::Token(t) => req.bearer_auth(t),
            };
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp =
            req.send().await.map_err(|e| Error::Unreachable { url: self.base.clone(), message: e.to_string() })?;
        let status = resp.status().as_u16();
        let text =
            resp.text().await.map_err(|e| Error::Unreachable { url: self.base.clone(), message: e.to_string() })?;
        tracing::debug!(method, path, status, "grafana request");
        Ok((status, text))
    }

    /// A call that must succeed (2xx); other codes become errors.
    async fn expect(&self, method: &'static str, path: &str, body: Option<&Value>) -> Result<String> {
        let (status, text) = self.call(method, path, body, true).await?;
        classify(method, path, status, text)
    }

    /// Like [`Self::expect`], with 404 as `None`.
    async fn optional(&self, method: &'static str, path: &str) -> Result<Option<String>> {
        let (status, text) = self.call(method, path, None, true).await?;
        if status == 404 {
            return Ok(None);
        }
        classify(method, path, status, text).map(Some)
    }

    /// `GET /api/health` (no authentication).
    pub async fn health(&self) -> Result<Health> {
        let path = "/api/health";
        let (status, text) = self.call("GET", path, None, false).await?;
        let text = classify("GET", path, status, text)?;
        decode("GET", path, &text)
    }

    /// Checks that the credentials work (`GET /api/folders?limit=1` needs an authenticated user).
    pub async fn check_auth(&self) -> Result<()> {
        self.expect("GET", "/api/folders?limit=1", None).await.map(|_| ())
    }

    /// Every root-level folder (`GET /api/folders`, paged).
    pub async fn folders(&self) -> Result<Vec<Folder>> {
        let mut all = Vec::new();
        for page in 1.. {
            let path = format!("/api/folders?limit=1000&page={page}");
            let text = self.expect("GET", &path, None).await?;
            let batch: Vec<Folder> = decode("GET", &path, &text)?;
            let done = batch.len() < 1000;
            all.extend(batch);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// `GET /api/folders/:uid`.
    pub async fn folder(&self, uid: &str) -> Result<Option<Folder>> {
        let path = format!("/api/folders/{}", segment(uid));
        match self.optional("GET", &path).await? {
            Some(text) => decode("GET", &path, &text).map(Some),
            None => Ok(None),
        }
    }

    /// `POST /api/folders` with a title (Grafana picks the uid unless one is given).
    pub async fn create_folder(&self, title: &str, uid: Option<&str>) -> Result<Folder> {
        let mut body = serde_json::json!({ "title": title });
        if let Some(u) = uid {
            body["uid"] = Value::String(u.to_string());
        }
        let text = self.expect("POST", "/api/folders", Some(&body)).await?;
        decode("POST", "/api/folders", &text)
    }

    /// `DELETE /api/folders/:uid` (Grafana deletes the dashboards in it too); a missing folder
    /// is fine.
    pub async fn delete_folder(&self, uid: &str) -> Result<()> {
        let path = format!("/api/folders/{}", segment(uid));
        self.optional("DELETE", &path).await.map(|_| ())
    }

    /// `GET /api/dashboards/uid/:uid`.
    pub async fn dashboard(&self, uid: &str) -> Result<Option<StoredDashboard>> {
        let path = format!("/api/dashboards/uid/{}", segment(uid));
        let Some(text) = self.optional("GET", &path).await? else { return Ok(None) };
        let v: Value = decode("GET", &path, &text)?;
        let model = v.get("dashboard").cloned().filter(Value::is_object).ok_or_else(|| Error::Decode {
            method: "GET",
            path: path.clone(),
            message: "no `dashboard` object".into(),
        })?;
        let meta = v.get("meta").cloned().unwrap_or(Value::Null);
        Ok(Some(StoredDashboard {
            model,
            folder_uid: meta.get("folderUid").and_then(Value::as_str).unwrap_or_default().to_string(),
            url: meta.get("url").and_then(Value::as_str).unwrap_or_default().to_string(),
            version: meta.get("version").and_then(Value::as_i64).unwrap_or_default(),
        }))
    }

    /// `POST /api/dashboards/db`: creates or, with `overwrite`, replaces the dashboard whose uid
    /// the model carries, in folder `folder_uid` (`""`: the root, "General").
    pub async fn save_dashboard(&self, model: &Value, folder_uid: &str, overwrite: bool) -> Result<SavedDashboard> {
        let path = "/api/dashboards/db";
        let body = serde_json::json!({
            "dashboard": model,
            "folderUid": folder_uid,
            "overwrite": overwrite,
            "message": "provisioned by oxeye-operator",
        });
        let text = self.expect("POST", path, Some(&body)).await?;
        let saved: SavedDashboard = decode("POST", path, &text)?;
        if !saved.status.is_empty() && saved.status != "success" {
            return Err(Error::Api { method: "POST", path: path.into(), status: 200, message: saved.status });
        }
        Ok(saved)
    }

    /// `DELETE /api/dashboards/uid/:uid`; a missing dashboard is fine.
    pub async fn delete_dashboard(&self, uid: &str) -> Result<()> {
        let path = format!("/api/dashboards/uid/{}", segment(uid));
        self.optional("DELETE", &path).await.map(|_| ())
    }

    /// `GET /api/search?folderUIDs=...`: everything (dashboards and folders) in a folder.
    pub async fn search_folder(&self, folder_uid: &str) -> Result<Vec<SearchHit>> {
        let path = format!("/api/search?folderUIDs={}&limit=5000", segment(folder_uid));
        let text = self.expect("GET", &path, None).await?;
        decode("GET", &path, &text)
    }

    /// `GET /api/datasources/uid/:uid`.
    pub async fn datasource(&self, uid: &str) -> Result<Option<Datasource>> {
        let path = format!("/api/datasources/uid/{}", segment(uid));
        match self.optional("GET", &path).await? {
            Some(text) => decode("GET", &path, &text).map(Some),
            None => Ok(None),
        }
    }

    /// `POST /api/datasources`.
    pub async fn create_datasource(&self, ds: &Datasource) -> Result<()> {
        let body = serde_json::to_value(ds).map_err(|e| Error::Decode {
            method: "POST",
            path: "/api/datasources".into(),
            message: e.to_string(),
        })?;
        self.expect("POST", "/api/datasources", Some(&body)).await.map(|_| ())
    }

    /// `PUT /api/datasources/uid/:uid`: replaces the data source's settings.
    pub async fn update_datasource(&self, ds: &Datasource) -> Result<()> {
        let path = format!("/api/datasources/uid/{}", segment(&ds.uid));
        let body = serde_json::to_value(ds).map_err(|e| Error::Decode {
            method: "PUT",
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.expect("PUT", &path, Some(&body)).await.map(|_| ())
    }
}

fn classify(method: &'static str, path: &str, status: u16, text: String) -> Result<String> {
    let path = path.to_string();
    match status {
        200..=299 => Ok(text),
        401 | 403 => Err(Error::Unauthorized { method, path, status, message: message_of(&text) }),
        // Grafana 12 answers 409 where 10/11 answered 412 for some conflicts, and the reverse
        // for folders created through its new storage (a uid that exists is 412 there).
        409 | 412 => Err(Error::Conflict { method, path, status, message: message_of(&text) }),
        _ => Err(Error::Api { method, path, status, message: message_of(&text) }),
    }
}

fn decode<T: serde::de::DeserializeOwned>(method: &'static str, path: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Decode { method, path: path.to_string(), message: e.to_string() })
}
