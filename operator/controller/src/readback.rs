//! Reads back what the oxeye server runs, through its Prometheus-compatible API: which version
//! of the configuration Secret it loaded (`/api/v1/status/runtimeinfo`, Oxeye's `configSecret`
//! extension), its scrape pools, its active targets and their health, and its rule groups.
//! Works against any Prometheus-compatible server; without `configSecret`, presence of the
//! object's jobs and groups is all that can be told.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use oxeye_crd::monitoring::TargetCounts;

/// What the server reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerState {
    /// resourceVersion of the Secret version the running configuration came from.
    pub loaded_version: Option<String>,
    /// resourceVersion of the last Secret version the server tried.
    pub seen_version: Option<String>,
    /// Why the last version could not be loaded.
    pub last_error: Option<String>,
    pub reload_success: bool,
    pub scrape_pools: BTreeSet<String>,
    /// Active targets per scrape pool.
    pub targets: BTreeMap<String, TargetCounts>,
    /// `(file name, group name)` of every loaded rule group; file names without directories.
    pub rule_groups: BTreeSet<(String, String)>,
}

impl ServerState {
    /// Whether the server runs the Secret version `rv`.
    pub fn runs(&self, rv: &str) -> bool {
        self.loaded_version.as_deref() == Some(rv)
    }

    /// Whether the server tried version `rv` and refused it.
    pub fn refused(&self, rv: &str) -> Option<&str> {
        (self.seen_version.as_deref() == Some(rv) && !self.runs(rv)).then_some(self.last_error.as_deref().unwrap_or(""))
    }
}

/// An HTTP client for one server.
#[derive(Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
}

impl ServerClient {
    pub fn new(base: &str) -> Result<ServerClient, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("oxeye-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(ServerClient { http, base: base.trim_end_matches('/').to_string() })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let resp = self.http.get(&url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| format!("GET {url}: invalid JSON: {e}"))?;
        if v["status"] != "success" {
            return Err(format!("GET {url}: {}", v["error"].as_str().unwrap_or("status is not success")));
        }
        Ok(v["data"].clone())
    }

    /// One consistent-enough look at the server: runtime info first, so a reload that lands in
    /// between shows up as "older version" rather than as missing objects.
    pub async fn read(&self) -> Result<ServerState, String> {
        let info = self.get("/api/v1/status/runtimeinfo").await?;
        let pools = self.get("/api/v1/scrape_pools").await?;
        let targets = self.get("/api/v1/targets?state=active").await?;
        let rules = self.get("/api/v1/rules").await?;
        Ok(parse(&info, &pools, &targets, &rules))
    }
}

fn parse(info: &Value, pools: &Value, targets: &Value, rules: &Value) -> ServerState {
    let secret = &info["configSecret"];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let mut state = ServerState {
        loaded_version: text(&secret["loadedResourceVersion"]),
        seen_version: text(&secret["seenResourceVersion"]),
        last_error: text(&secret["lastError"]),
        reload_success: info["reloadConfigSuccess"].as_bool().unwrap_or(false),
        ..ServerState::default()
    };
    for p in pools["scrapePools"].as_array().into_iter().flatten() {
        if let Some(p) = p.as_str() {
            state.scrape_pools.insert(p.to_string());
        }
    }
    for t in targets["activeTargets"].as_array().into_iter().flatten() {
        let Some(pool) = t["scrapePool"].as_str() else { continue };
        let c = state.targets.entry(pool.to_string()).or_default();
        c.discovered += 1;
        match t["health"].as_str() {
            Some("up") => c.up += 1,
            Some("down") => c.down += 1,
            _ => {}
        }
    }
    for g in rules["groups"].as_array().into_iter().flatten() {
        let file = g["file"].as_str().unwrap_or_default();
        let base = file.rsplit('/').next().unwrap_or(file);
        if let Some(name) = g["name"].as_str() {
            state.rule_groups.insert((base.to_string(), name.to_string()));
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_the_prometheus_api_shapes() {
        let st = parse(
            &json!({"reloadConfigSuccess": true, "configSecret": {"loadedResourceVersion": "42", "seenResourceVersion": "43", "lastError": "bad"}}),
            &json!({"scrapePools": ["serviceMonitor/a/b/0", "empty"]}),
            &json!({"activeTargets": [
                {"scrapePool": "serviceMonitor/a/b/0", "health": "up"},
                {"scrapePool": "serviceMonitor/a/b/0", "health": "down"},
                {"scrapePool": "serviceMonitor/a/b/0", "health": "unknown"},
            ]}),
            &json!({"groups": [{"file": "/data/cfg/a-r-uid.yaml", "name": "g"}]}),
        );
        assert!(st.runs("42") && !st.runs("43"));
        assert_eq!(st.refused("43"), Some("bad"));
        assert_eq!(st.refused("42"), None);
        let c = st.targets["serviceMonitor/a/b/0"];
        assert_eq!((c.discovered, c.up, c.down), (3, 1, 1));
        assert!(st.scrape_pools.contains("empty"));
        assert!(st.rule_groups.contains(&("a-r-uid.yaml".to_string(), "g".to_string())));
        // A plain Prometheus: no configSecret.
        let plain = parse(&json!({"reloadConfigSuccess": true}), &json!({}), &json!({}), &json!({}));
        assert_eq!(plain.loaded_version, None);
    }
}
