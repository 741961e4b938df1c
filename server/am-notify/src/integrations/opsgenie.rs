//! Opsgenie (`notify/opsgenie`): creates an alert aliased by the group key's hash while any
//! alert fires (optionally updating message and description), closes it once all resolved.

use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_config::OpsGenieConfig;
use oxeye_am_core::NotifyError;
use serde_json::{Map, Value, json};

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, Tmpl, group_key_hash, safe_split, secret_value, truncate_runes};
use crate::template::Templates;

const MAX_MESSAGE_RUNES: usize = 130;

/// One API call: method, URL and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    pub method: &'static str,
    pub url: String,
    pub body: Value,
}

fn put(m: &mut Map<String, Value>, k: &str, v: String) {
    if !v.is_empty() {
        m.insert(k.to_string(), Value::String(v));
    }
}

/// The calls Alertmanager makes for a notification, in order.
pub fn build_calls(conf: &OpsGenieConfig, tmpl: &Templates, n: &Notification) -> Result<Vec<ApiCall>, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let alias = group_key_hash(&n.group_key);
    let base = if conf.api_url.ends_with('/') { conf.api_url.clone() } else { format!("{}/", conf.api_url) };
    let mut calls = Vec::new();
    if !n.firing() {
        calls.push(ApiCall {
            method: "POST",
            url: format!("{base}v2/alerts/{alias}/close?identifierType=alias"),
            body: json!({ "source": t.text(&conf.source) }),
        });
        t.finish()?;
        return Ok(calls);
    }
    let mut details: Map<String, Value> = data.common_labels.iter().map(|l| (l.name.clone(), json!(l.value))).collect();
    for (k, v) in &conf.details {
        details.insert(k.clone(), json!(t.text(v)));
    }
    let (message, _) = truncate_runes(&t.text(&conf.message), MAX_MESSAGE_RUNES);
    let mut responders = Vec::new();
    for r in &conf.responders {
        let (id, name, username, kind) = (t.text(&r.id), t.text(&r.name), t.text(&r.username), t.text(&r.kind));
        if id.is_empty() && name.is_empty() && username.is_empty() && kind.is_empty() {
            continue;
        }
        if kind == "teams" {
            for team in safe_split(&name, ',') {
                responders.push(json!({ "name": t.text(&team), "type": "team" }));
            }
            continue;
        }
        let mut m = Map::new();
        put(&mut m, "id", id);
        put(&mut m, "name", name);
        put(&mut m, "username", username);
        m.insert("type".into(), json!(kind));
        responders.push(Value::Object(m));
    }
    let description = t.text(&conf.description);
    let mut msg = Map::new();
    msg.insert("alias".into(), json!(alias));
    msg.insert("message".into(), json!(message));
    put(&mut msg, "description", description.clone());
    msg.insert("details".into(), Value::Object(details));
    msg.insert("source".into(), json!(t.text(&conf.source)));
    if !responders.is_empty() {
        msg.insert("responders".into(), Value::Array(responders));
    }
    let tags = safe_split(&t.text(&conf.tags), ',');
    if !tags.is_empty() {
        msg.insert("tags".into(), json!(tags));
    }
    put(&mut msg, "note", t.text(&conf.note));
    put(&mut msg, "priority", t.text(&conf.priority));
    put(&mut msg, "entity", t.text(&conf.entity));
    let actions = safe_split(&t.text(&conf.actions), ',');
    if !actions.is_empty() {
        msg.insert("actions".into(), json!(actions));
    }
    calls.push(ApiCall { method: "POST", url: format!("{base}v2/alerts"), body: Value::Object(msg) });
    if conf.update_alerts {
        let mut m = Map::new();
        put(&mut m, "message", message);
        calls.push(ApiCall {
            method: "PUT",
            url: format!("{base}v2/alerts/{alias}/message?identifierType=alias"),
            body: Value::Object(m),
        });
        let mut d = Map::new();
        put(&mut d, "description", description);
        calls.push(ApiCall {
            method: "PUT",
            url: format!("{base}v2/alerts/{alias}/description?identifierType=alias"),
            body: Value::Object(d),
        });
    }
    t.finish()?;
    Ok(calls)
}

pub struct OpsGenie {
    conf: OpsGenieConfig,
    tmpl: Arc<Templates>,
    client: HttpClient,
}

impl OpsGenie {
    pub fn new(conf: &OpsGenieConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        Ok(OpsGenie { client: HttpClient::new(&conf.http_config)?, conf: conf.clone(), tmpl })
    }
}

impl Sender for OpsGenie {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let calls = build_calls(&self.conf, &self.tmpl, n)?;
            let raw_key = secret_value(self.conf.api_key.expose(), &self.conf.api_key_file, "api key")?;
            let data = n.data();
            let mut t = Tmpl::new(&self.tmpl, &data);
            let key = t.text(&raw_key);
            t.finish()?;
            let auth = [("Authorization", format!("GenieKey {key}"))];
            for c in calls {
                let method = if c.method == "PUT" { reqwest::Method::PUT } else { reqwest::Method::POST };
                let mut body = serde_json::to_vec(&c.body).map_err(|e| NotifyError::permanent(e.to_string()))?;
                body.push(b'\n');
                self.client.request(method, "opsgenie", &c.url, "application/json", &auth, body).await?;
            }
            Ok(())
        })
    }
}
