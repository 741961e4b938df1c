//! PagerDuty (`notify/pagerduty`): Events API v2 (`routing_key`) trigger/resolve events whose
//! dedup key is the SHA-256 of the group key, or the v1 generic API (`service_key`).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_config::PagerdutyConfig;
use oxeye_am_core::NotifyError;
use serde_json::{Map, Value, json};

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, Tmpl, group_key_hash, secret_value, truncate_runes};
use crate::template::Templates;

/// The v1 endpoint Alertmanager uses for `service_key` configs.
pub const API_V1_URL: &str = "https://events.pagerduty.com/generic/2010-04-15/create_event.json";
const MAX_SUMMARY_RUNES: usize = 1024;

fn put(m: &mut Map<String, Value>, k: &str, v: String) {
    if !v.is_empty() {
        m.insert(k.to_string(), Value::String(v));
    }
}

fn details(conf: &PagerdutyConfig, t: &mut Tmpl<'_>) -> BTreeMap<String, String> {
    conf.details.iter().map(|(k, v)| (k.clone(), t.text(v))).collect()
}

/// The Events API v2 body.
pub fn build_v2(
    conf: &PagerdutyConfig,
    routing_key: &str,
    tmpl: &Templates,
    n: &Notification,
) -> Result<Value, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let trigger = n.firing();
    let details = details(conf, &mut t);
    let payload = if trigger {
        let (summary, _) = truncate_runes(&t.text(&conf.description), MAX_SUMMARY_RUNES);
        let severity = if conf.severity.is_empty() { "error".to_string() } else { t.text(&conf.severity) };
        let mut p = Map::new();
        p.insert("summary".into(), json!(summary));
        p.insert("source".into(), json!(t.text(&conf.source)));
        p.insert("severity".into(), json!(severity));
        put(&mut p, "class", t.text(&conf.class));
        put(&mut p, "component", t.text(&conf.component));
        put(&mut p, "group", t.text(&conf.group));
        if !details.is_empty() {
            p.insert("custom_details".into(), json!(details));
        }
        Value::Object(p)
    } else {
        Value::Null
    };
    let mut msg = Map::new();
    put(&mut msg, "routing_key", t.text(routing_key));
    msg.insert("dedup_key".into(), json!(group_key_hash(&n.group_key)));
    msg.insert("event_action".into(), json!(if trigger { "trigger" } else { "resolve" }));
    msg.insert("payload".into(), payload);
    put(&mut msg, "client", t.text(&conf.client));
    put(&mut msg, "client_url", t.text(&conf.client_url));
    let images: Vec<Value> = conf
        .images
        .iter()
        .map(|i| json!({ "src": t.text(&i.src), "alt": t.text(&i.alt), "href": t.text(&i.href) }))
        .filter(|i| i["src"] != "")
        .collect();
    if !images.is_empty() {
        msg.insert("images".into(), Value::Array(images));
    }
    let links: Vec<Value> = conf
        .links
        .iter()
        .map(|l| json!({ "href": t.text(&l.href), "text": t.text(&l.text) }))
        .filter(|l| l["href"] != "")
        .collect();
    if !links.is_empty() {
        msg.insert("links".into(), Value::Array(links));
    }
    t.finish()?;
    Ok(Value::Object(msg))
}

/// The v1 generic API body.
pub fn build_v1(
    conf: &PagerdutyConfig,
    service_key: &str,
    tmpl: &Templates,
    n: &Notification,
) -> Result<Value, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let trigger = n.firing();
    let details = details(conf, &mut t);
    let (description, _) = truncate_runes(&t.text(&conf.description), MAX_SUMMARY_RUNES);
    let mut msg = Map::new();
    put(&mut msg, "service_key", t.text(service_key));
    msg.insert("incident_key".into(), json!(group_key_hash(&n.group_key)));
    msg.insert("event_type".into(), json!(if trigger { "trigger" } else { "resolve" }));
    put(&mut msg, "description", description);
    msg.insert("event_action".into(), json!(""));
    msg.insert("payload".into(), Value::Null);
    if trigger {
        put(&mut msg, "client", t.text(&conf.client));
        put(&mut msg, "client_url", t.text(&conf.client_url));
    }
    if !details.is_empty() {
        msg.insert("details".into(), json!(details));
    }
    t.finish()?;
    Ok(Value::Object(msg))
}

pub struct Pagerduty {
    conf: PagerdutyConfig,
    tmpl: Arc<Templates>,
    client: HttpClient,
}

impl Pagerduty {
    pub fn new(conf: &PagerdutyConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        Ok(Pagerduty { client: HttpClient::new(&conf.http_config)?, conf: conf.clone(), tmpl })
    }
}

impl Sender for Pagerduty {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let c = &self.conf;
            let v1 = !c.service_key.is_empty() || !c.service_key_file.is_empty();
            let (url, body) = if v1 {
                let key = secret_value(c.service_key.expose(), &c.service_key_file, "service key")?;
                (API_V1_URL.to_string(), build_v1(c, &key, &self.tmpl, n)?)
            } else {
                let key = secret_value(c.routing_key.expose(), &c.routing_key_file, "routing key")?;
                (c.url.clone(), build_v2(c, &key, &self.tmpl, n)?)
            };
            self.client.post_json("pagerduty", &url, &body, &[]).await.map(|_| ())
        })
    }
}
