//! A Grafana HTTP API double. Grafana cannot run on these machines, so provisioning is tested
//! against this in-memory server, which enforces the contract Grafana's HTTP API documentation
//! (Grafana 10-12) gives for what a provisioner uses: authentication (admin basic auth or
//! service-account tokens, 401 bodies as Grafana 10+ writes them), folders, dashboards
//! (`POST /api/dashboards/db` validation: title, uid charset and length, folder existence,
//! version conflicts without `overwrite`), search and data sources (required fields, access
//! mode, URL, name/uid conflicts), and `/api/health`.
//!
//! Requests outside that contract (unknown paths, undocumented body fields, bodies that are not
//! JSON objects) are answered as Grafana would and also recorded as *violations*, which tests
//! assert to be empty. Every request is recorded. [`GrafanaDouble::set_down`] makes it answer 503
//! to everything, as a Grafana whose database is unreachable does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// A recorded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, Clone)]
struct FolderRec {
    id: i64,
    title: String,
    version: i64,
}

#[derive(Debug, Clone)]
struct DashboardRec {
    id: i64,
    model: Value,
    folder_uid: String,
    version: i64,
}

#[derive(Default)]
struct Store {
    folders: BTreeMap<String, FolderRec>,
    dashboards: BTreeMap<String, DashboardRec>,
    datasources: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    violations: Vec<String>,
    next_id: i64,
    down: bool,
}

struct Shared {
    user: String,
    password: String,
    tokens: Mutex<BTreeSet<String>>,
    store: Mutex<Store>,
}

/// The running double; stopped when dropped.
pub struct GrafanaDouble {
    pub url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn valid_uid(uid: &str) -> Result<(), &'static str> {
    if uid.len() > 40 {
        return Err("uid too long, max 40 characters");
    }
    if !uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("uid contains illegal characters");
    }
    Ok(())
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn msg(status: StatusCode, message: &str) -> Response {
    reply(status, json!({ "message": message }))
}

impl GrafanaDouble {
    /// Starts the double on a free loopback port with this admin user.
    pub fn start(admin_user: &str, admin_password: &str) -> GrafanaDouble {
        let shared = Arc::new(Shared {
            user: admin_user.into(),
            password: admin_password.into(),
            tokens: Mutex::new(BTreeSet::new()),
            store: Mutex::new(Store { next_id: 1, ..Store::default() }),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the Grafana double");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("non-blocking listener");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new().fallback(handle).with_state(state);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        GrafanaDouble { url: format!("http://127.0.0.1:{port}"), shared, stop: Some(stop), thread: Some(thread) }
    }

    /// Accepts `token` as a service-account token from now on.
    pub fn add_token(&self, token: &str) {
        if let Ok(mut t) = self.shared.tokens.lock() {
            t.insert(token.to_string());
        }
    }

    /// While down, every request (health included) gets 503.
    pub fn set_down(&self, down: bool) {
        self.with(|s| s.down = down);
    }

    fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut guard = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Forgets every folder, dashboard and data source, as a Grafana restarted on empty storage.
    pub fn reset(&self) {
        self.with(|s| {
            s.folders.clear();
            s.dashboards.clear();
            s.datasources.clear();
        });
    }

    /// Stored dashboards by uid: (model, folder uid).
    pub fn dashboards(&self) -> BTreeMap<String, (Value, String)> {
        self.with(|s| s.dashboards.iter().map(|(k, d)| (k.clone(), (d.model.clone(), d.folder_uid.clone()))).collect())
    }

    /// Folders by uid: title.
    pub fn folders(&self) -> BTreeMap<String, String> {
        self.with(|s| s.folders.iter().map(|(k, f)| (k.clone(), f.title.clone())).collect())
    }

    /// Data sources by uid.
    pub fn datasources(&self) -> BTreeMap<String, Value> {
        self.with(|s| s.datasources.clone())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// Requests that broke the documented contract; a correct client causes none.
    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    /// How many successful requests had this method and a path starting with `prefix`.
    pub fn successes(&self, method: &str, prefix: &str) -> usize {
        self.with(|s| {
            s.requests.iter().filter(|r| r.method == method && r.path.starts_with(prefix) && r.status < 300).count()
        })
    }

    /// Changes a stored dashboard behind the provisioner's back (an edit in the UI).
    pub fn edit_dashboard(&self, uid: &str, f: impl FnOnce(&mut Value)) {
        self.with(|s| {
            if let Some(d) = s.dashboards.get_mut(uid) {
                f(&mut d.model);
                d.version += 1;
            }
        });
    }
}

impl Drop for GrafanaDouble {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Grafana 10+'s 401 body.
fn unauthorized(message_id: &str, message: &str) -> Response {
    reply(
        StatusCode::UNAUTHORIZED,
        json!({"extra": null, "message": message, "messageId": message_id, "statusCode": 401, "traceID": ""}),
    )
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(Box::new(unauthorized("auth.unauthorized", "Unauthorized")));
    };
    if let Some(b64) = h.strip_prefix("Basic ") {
        let decoded = BASE64.decode(b64.trim()).ok().and_then(|d| String::from_utf8(d).ok()).unwrap_or_default();
        return match decoded.split_once(':') {
            Some((u, p)) if u == shared.user && p == shared.password => Ok(()),
            _ => Err(Box::new(unauthorized("password-auth.failed", "Invalid username or password"))),
        };
    }
    if let Some(token) = h.strip_prefix("Bearer ") {
        let ok = shared.tokens.lock().map(|t| t.contains(token.trim())).unwrap_or(false);
        return if ok { Ok(()) } else { Err(Box::new(unauthorized("api-key.invalid", "Invalid API key"))) };
    }
    Err(Box::new(unauthorized("auth.unauthorized", "Unauthorized")))
}

fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let full = uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| path.clone());
    let body_json: Value =
        if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap_or(Value::Null) };
    let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    let resp = route(&shared, &mut store, &method, &path, &query, &headers, &body);
    store.requests.push(Recorded {
        method: method.to_string(),
        path: full,
        status: resp.status().as_u16(),
        body: body_json,
    });
    resp
}

/// Checks the body of a write: JSON content type, a JSON object, only documented fields.
fn json_body(
    store: &mut Store,
    what: &str,
    headers: &HeaderMap,
    body: &Bytes,
    allowed: &[&str],
) -> Result<serde_json::Map<String, Value>, Box<Response>> {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !ct.starts_with("application/json") {
        store.violations.push(format!("{what}: Content-Type {ct:?}, not application/json"));
        return Err(Box::new(msg(StatusCode::BAD_REQUEST, "bad request data")));
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        store.violations.push(format!("{what}: body is not a JSON object"));
        return Err(Box::new(msg(StatusCode::BAD_REQUEST, "bad request data")));
    };
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            store.violations.push(format!("{what}: undocumented field {k:?}"));
        }
    }
    Ok(obj)
}

fn route(
    shared: &Shared,
    store: &mut Store,
    method: &Method,
    path: &str,
    query: &Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if store.down {
        return msg(StatusCode::SERVICE_UNAVAILABLE, "database is unreachable");
    }
    if path == "/api/health" && method == Method::GET {
        return reply(StatusCode::OK, json!({"commit": "double", "database": "ok", "version": "11.3.0"}));
    }
    if let Err(r) = authenticate(shared, headers) {
        return *r;
    }
    // Grafana, like any HTTP server, matches routes on the decoded path segments.
    let decoded: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
        .collect();
    let parts: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let q = query_pairs(query);
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["api", "folders"]) => list_folders(store, &q),
        ("POST", ["api", "folders"]) => create_folder(store, headers, body),
        ("GET", ["api", "folders", uid]) => match store.folders.get(*uid) {
            Some(f) => reply(StatusCode::OK, folder_json(uid, f)),
            None => reply(StatusCode::NOT_FOUND, json!({"message": "folder not found", "status": "not-found"})),
        },
        ("DELETE", ["api", "folders", uid]) => match store.folders.remove(*uid) {
            Some(f) => {
                store.dashboards.retain(|_, d| d.folder_uid != *uid);
                reply(StatusCode::OK, json!({"message": "Folder deleted", "id": f.id}))
            }
            None => reply(StatusCode::NOT_FOUND, json!({"message": "folder not found", "status": "not-found"})),
        },
        ("POST", ["api", "dashboards", "db"]) => save_dashboard(store, headers, body),
        ("GET", ["api", "dashboards", "uid", uid]) => match store.dashboards.get(*uid) {
            Some(d) => {
                let title = d.model["title"].as_str().unwrap_or_default().to_string();
                let folder_title =
                    store.folders.get(&d.folder_uid).map(|f| f.title.clone()).unwrap_or("General".into());
                reply(
                    StatusCode::OK,
                    json!({"dashboard": d.model, "meta": {
                        "type": "db", "canSave": true, "canEdit": true, "canAdmin": true, "canStar": true, "canDelete": true,
                        "slug": slug(&title), "url": format!("/d/{uid}/{}", slug(&title)), "version": d.version,
                        "folderUid": d.folder_uid, "folderTitle": folder_title, "provisioned": false,
                    }}),
                )
            }
            None => msg(StatusCode::NOT_FOUND, "Dashboard not found"),
        },
        ("DELETE", ["api", "dashboards", "uid", uid]) => match store.dashboards.remove(*uid) {
            Some(d) => {
                let title = d.model["title"].as_str().unwrap_or_default().to_string();
                reply(
                    StatusCode::OK,
                    json!({"title": title, "message": format!("Dashboard {title} deleted"), "uid": uid}),
                )
            }
            None => msg(StatusCode::NOT_FOUND, "Dashboard not found"),
        },
        ("GET", ["api", "search"]) => search(store, &q),
        ("GET", ["api", "datasources", "uid", uid]) => match store.datasources.get(*uid) {
            Some(d) => reply(StatusCode::OK, d.clone()),
            None => msg(StatusCode::NOT_FOUND, "Data source not found"),
        },
        ("GET", ["api", "datasources", "name", name]) => {
            match store.datasources.values().find(|d| d["name"] == *name) {
                Some(d) => reply(StatusCode::OK, d.clone()),
                None => msg(StatusCode::NOT_FOUND, "Data source not found"),
            }
        }
        ("POST", ["api", "datasources"]) => upsert_datasource(store, headers, body, None),
        ("PUT", ["api", "datasources", "uid", uid]) => upsert_datasource(store, headers, body, Some(uid)),
        _ => {
            store.violations.push(format!("unexpected request {method} {path}"));
            msg(StatusCode::NOT_FOUND, "Not found")
        }
    }
}

fn folder_json(uid: &str, f: &FolderRec) -> Value {
    json!({
        "id": f.id, "uid": uid, "title": f.title, "url": format!("/dashboards/f/{uid}/{}", slug(&f.title)),
        "hasAcl": false, "canSave": true, "canEdit": true, "canAdmin": true, "canDelete": true,
        "createdBy": "admin", "updatedBy": "admin", "version": f.version,
    })
}

fn page(q: &[(String, String)], default_limit: usize) -> (usize, usize) {
    let get = |k: &str| q.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.parse::<usize>().ok());
    (get("limit").unwrap_or(default_limit).max(1), get("page").unwrap_or(1).max(1))
}

fn list_folders(store: &Store, q: &[(String, String)]) -> Response {
    let (limit, page_no) = page(q, 1000);
    let all: Vec<Value> = store
        .folders
        .iter()
        .map(|(uid, f)| json!({"id": f.id, "uid": uid, "title": f.title}))
        .skip((page_no - 1) * limit)
        .take(limit)
        .collect();
    reply(StatusCode::OK, Value::Array(all))
}

fn create_folder(store: &mut Store, headers: &HeaderMap, body: &Bytes) -> Response {
    let obj = match json_body(store, "POST /api/folders", headers, body, &["uid", "title", "parentUid", "description"])
    {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let title = obj.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
    if title.trim().is_empty() {
        return msg(StatusCode::BAD_REQUEST, "folder title cannot be empty");
    }
    let uid = match obj.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        Some(u) => {
            if let Err(e) = valid_uid(u) {
                return msg(StatusCode::BAD_REQUEST, e);
            }
            u.to_string()
        }
        None => format!("f{:08x}", store.next_id * 2_654_435_761 % 0xffff_ffff),
    };
    if store.folders.contains_key(&uid) || store.dashboards.contains_key(&uid) {
        return msg(StatusCode::CONFLICT, "a folder/dashboard with the same uid already exists");
    }
    let id = store.next_id;
    store.next_id += 1;
    let rec = FolderRec { id, title, version: 1 };
    let out = folder_json(&uid, &rec);
    store.folders.insert(uid, rec);
    reply(StatusCode::OK, out)
}

fn save_dashboard(store: &mut Store, headers: &HeaderMap, body: &Bytes) -> Response {
    let obj = match json_body(
        store,
        "POST /api/dashboards/db",
        headers,
        body,
        &["dashboard", "folderUid", "folderId", "overwrite", "message"],
    ) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let Some(Value::Object(mut model)) = obj.get("dashboard").cloned() else {
        return msg(StatusCode::BAD_REQUEST, "bad request data");
    };
    let title = model.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
    if title.trim().is_empty() {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"status": "empty-name", "message": "Dashboard title cannot be empty"}),
        );
    }
    if obj.get("message").and_then(Value::as_str).is_some_and(|m| m.len() > 500) {
        return msg(StatusCode::BAD_REQUEST, "message too long, max 500 characters");
    }
    let overwrite = obj.get("overwrite").and_then(Value::as_bool).unwrap_or(false);
    let folder_uid = obj.get("folderUid").and_then(Value::as_str).unwrap_or_default().to_string();
    if !folder_uid.is_empty() && !store.folders.contains_key(&folder_uid) {
        return msg(StatusCode::BAD_REQUEST, "folder not found");
    }
    let uid = match model.get("uid") {
        Some(Value::String(u)) if !u.is_empty() => {
            if let Err(e) = valid_uid(u) {
                return msg(StatusCode::BAD_REQUEST, e);
            }
            u.clone()
        }
        None | Some(Value::Null) | Some(Value::String(_)) => format!("d{:08x}", store.next_id * 40_503 % 0xffff_ffff),
        Some(_) => return msg(StatusCode::BAD_REQUEST, "bad request data"),
    };
    let existing = store.dashboards.get(&uid).cloned();
    match model.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => {
            if existing.as_ref().is_none_or(|e| Some(e.id) != n.as_i64()) {
                // Grafana looks the dashboard up by id first: an id it does not have is a 404.
                return msg(StatusCode::NOT_FOUND, "Dashboard not found");
            }
        }
        Some(_) => return msg(StatusCode::BAD_REQUEST, "bad request data"),
    }
    if let Some(e) = &existing
        && !overwrite
    {
        let version = model.get("version").and_then(Value::as_i64);
        if version != Some(e.version) {
            return reply(
                StatusCode::PRECONDITION_FAILED,
                json!({"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}),
            );
        }
    }
    let (id, version) = match &existing {
        Some(e) => (e.id, e.version + 1),
        None => {
            let id = store.next_id;
            store.next_id += 1;
            (id, 1)
        }
    };
    model.insert("id".into(), json!(id));
    model.insert("uid".into(), json!(uid));
    model.insert("version".into(), json!(version));
    store
        .dashboards
        .insert(uid.clone(), DashboardRec { id, model: Value::Object(model), folder_uid: folder_uid.clone(), version });
    let s = slug(&title);
    reply(
        StatusCode::OK,
        json!({"id": id, "uid": uid, "url": format!("/d/{uid}/{s}"), "status": "success", "version": version, "slug": s, "folderUid": folder_uid}),
    )
}

fn search(store: &Store, q: &[(String, String)]) -> Response {
    let kind = q.iter().find(|(k, _)| k == "type").map(|(_, v)| v.as_str());
    let folders: Vec<&str> = q.iter().filter(|(k, _)| k == "folderUIDs").map(|(_, v)| v.as_str()).collect();
    let uids: Vec<&str> = q.iter().filter(|(k, _)| k == "dashboardUIDs").map(|(_, v)| v.as_str()).collect();
    let text = q.iter().find(|(k, _)| k == "query").map(|(_, v)| v.to_lowercase());
    let (limit, page_no) = page(q, 1000);
    let mut hits = Vec::new();
    if kind != Some("dash-db") {
        for (uid, f) in &store.folders {
            if folders.is_empty() && uids.is_empty() && text.as_ref().is_none_or(|t| f.title.to_lowercase().contains(t))
            {
                hits.push(json!({"id": f.id, "uid": uid, "title": f.title, "type": "dash-folder", "tags": [], "isStarred": false,
                                 "url": format!("/dashboards/f/{uid}/{}", slug(&f.title))}));
            }
        }
    }
    if kind != Some("dash-folder") {
        for (uid, d) in &store.dashboards {
            let title = d.model["title"].as_str().unwrap_or_default();
            let in_folder = folders.is_empty() || folders.contains(&d.folder_uid.as_str());
            let by_uid = uids.is_empty() || uids.contains(&uid.as_str());
            if in_folder && by_uid && text.as_ref().is_none_or(|t| title.to_lowercase().contains(t)) {
                let mut hit = json!({"id": d.id, "uid": uid, "title": title, "type": "dash-db",
                                     "tags": d.model.get("tags").cloned().unwrap_or(json!([])), "isStarred": false,
                                     "url": format!("/d/{uid}/{}", slug(title))});
                if let Some(f) = store.folders.get(&d.folder_uid) {
                    hit["folderUid"] = json!(d.folder_uid);
                    hit["folderTitle"] = json!(f.title);
                }
                hits.push(hit);
            }
        }
    }
    let hits: Vec<Value> = hits.into_iter().skip((page_no - 1) * limit).take(limit).collect();
    reply(StatusCode::OK, Value::Array(hits))
}

fn upsert_datasource(store: &mut Store, headers: &HeaderMap, body: &Bytes, uid_in_path: Option<&str>) -> Response {
    const FIELDS: &[&str] = &[
        "name",
        "type",
        "access",
        "url",
        "uid",
        "isDefault",
        "basicAuth",
        "basicAuthUser",
        "withCredentials",
        "database",
        "user",
        "jsonData",
        "secureJsonData",
        "version",
    ];
    let what = if uid_in_path.is_some() { "PUT /api/datasources/uid/:uid" } else { "POST /api/datasources" };
    let obj = match json_body(store, what, headers, body, FIELDS) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (name, kind, access, url) = (text("name"), text("type"), text("access"), text("url"));
    if name.is_empty() || kind.is_empty() {
        return msg(StatusCode::BAD_REQUEST, "bad request data");
    }
    if !access.is_empty() && access != "proxy" && access != "direct" {
        return msg(StatusCode::BAD_REQUEST, "bad request data");
    }
    if !url.is_empty() && url::Url::parse(&url).is_err() {
        return msg(StatusCode::BAD_REQUEST, "Validation error, invalid URL");
    }
    let uid = match uid_in_path {
        Some(u) => {
            if !store.datasources.contains_key(u) {
                return msg(StatusCode::NOT_FOUND, "Data source not found");
            }
            u.to_string()
        }
        None => {
            let u = text("uid");
            let u = if u.is_empty() { format!("ds{}", store.next_id) } else { u };
            if let Err(e) = valid_uid(&u) {
                return msg(StatusCode::BAD_REQUEST, e);
            }
            if store.datasources.contains_key(&u) {
                return msg(StatusCode::CONFLICT, "data source with the same uid already exists");
            }
            u
        }
    };
    if store.datasources.iter().any(|(other, d)| *other != uid && d["name"] == name.as_str()) {
        return msg(StatusCode::CONFLICT, "data source with the same name already exists");
    }
    let previous = store.datasources.get(&uid).cloned();
    let id = match &previous {
        Some(p) => p["id"].as_i64().unwrap_or_default(),
        None => {
            let id = store.next_id;
            store.next_id += 1;
            id
        }
    };
    let version = previous.as_ref().and_then(|p| p["version"].as_i64()).unwrap_or(0) + 1;
    let dto = json!({
        "id": id, "uid": uid, "orgId": 1, "name": name, "type": kind,
        "access": if access.is_empty() { "proxy".to_string() } else { access },
        "url": url, "user": text("user"), "database": text("database"),
        "basicAuth": obj.get("basicAuth").and_then(Value::as_bool).unwrap_or(false),
        "isDefault": obj.get("isDefault").and_then(Value::as_bool).unwrap_or(false),
        "jsonData": obj.get("jsonData").cloned().filter(Value::is_object).unwrap_or(json!({})),
        "secureJsonFields": {}, "version": version, "readOnly": false,
    });
    store.datasources.insert(uid, dto.clone());
    let message = if previous.is_some() { "Datasource updated" } else { "Datasource added" };
    reply(StatusCode::OK, json!({"message": message, "id": id, "name": dto["name"], "datasource": dto}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::blocking::Client {
        reqwest::blocking::Client::new()
    }

    #[test]
    fn enforces_auth_and_the_dashboard_contract() {
        let g = GrafanaDouble::start("admin", "pw");
        let c = client();
        let r = c.get(format!("{}/api/folders", g.url)).send().unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().unwrap();
        assert_eq!(body["messageId"], "auth.unauthorized");
        let r = c.get(format!("{}/api/folders", g.url)).basic_auth("admin", Some("nope")).send().unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(c.get(format!("{}/api/health", g.url)).send().unwrap().status(), 200);

        let post = |body: Value| {
            c.post(format!("{}/api/dashboards/db", g.url)).basic_auth("admin", Some("pw")).json(&body).send().unwrap()
        };
        assert_eq!(post(json!({"dashboard": {"title": ""}})).status(), 400);
        assert_eq!(post(json!({"dashboard": {"title": "x", "uid": "bad uid!"}})).status(), 400);
        assert_eq!(post(json!({"dashboard": {"title": "x"}, "folderUid": "missing"})).status(), 400);
        let ok: Value =
            post(json!({"dashboard": {"title": "My Board", "uid": "b1"}, "overwrite": false})).json().unwrap();
        assert_eq!(ok["url"], "/d/b1/my-board");
        assert_eq!(post(json!({"dashboard": {"title": "My Board", "uid": "b1"}})).status(), 412);
        assert_eq!(post(json!({"dashboard": {"title": "My Board", "uid": "b1"}, "overwrite": true})).status(), 200);
        assert!(g.violations().is_empty(), "{:?}", g.violations());
        post(json!({"dashboard": {"title": "y"}, "extra": 1}));
        assert_eq!(g.violations().len(), 1);
    }
}
