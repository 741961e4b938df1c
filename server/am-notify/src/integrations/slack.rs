//! Slack (`notify/slack`): an incoming-webhook / chat.postMessage body with one attachment
//! built from the config's templates, fields and actions.

use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_config::SlackConfig;
use oxeye_am_core::NotifyError;
use serde_json::{Map, Value, json};

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, Tmpl, secret_value, truncate_runes};
use crate::template::Templates;

const MAX_TITLE_RUNES: usize = 1024;

fn put(m: &mut Map<String, Value>, k: &str, v: String) {
    if !v.is_empty() {
        m.insert(k.to_string(), Value::String(v));
    }
}

/// The request body, with Go's `omitempty` fields left out when empty.
pub fn build_payload(conf: &SlackConfig, tmpl: &Templates, n: &Notification) -> Result<Value, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let mut att = Map::new();
    let (title, _) = truncate_runes(&t.text(&conf.title), MAX_TITLE_RUNES);
    put(&mut att, "title", title);
    put(&mut att, "title_link", t.text(&conf.title_link));
    put(&mut att, "pretext", t.text(&conf.pretext));
    att.insert("text".into(), json!(t.text(&conf.text)));
    att.insert("fallback".into(), json!(t.text(&conf.fallback)));
    att.insert("callback_id".into(), json!(t.text(&conf.callback_id)));
    if !conf.fields.is_empty() {
        let fields: Vec<Value> = conf
            .fields
            .iter()
            .map(|f| {
                json!({
                    "title": t.text(&f.title),
                    "value": t.text(&f.value),
                    "short": f.short.unwrap_or(conf.short_fields),
                })
            })
            .collect();
        att.insert("fields".into(), Value::Array(fields));
    }
    if !conf.actions.is_empty() {
        let actions: Vec<Value> = conf
            .actions
            .iter()
            .map(|a| {
                let mut m = Map::new();
                put(&mut m, "type", t.text(&a.kind));
                put(&mut m, "text", t.text(&a.text));
                put(&mut m, "url", t.text(&a.url));
                put(&mut m, "style", t.text(&a.style));
                put(&mut m, "name", t.text(&a.name));
                put(&mut m, "value", t.text(&a.value));
                if let Some(c) = &a.confirm {
                    let mut cm = Map::new();
                    cm.insert("text".into(), json!(t.text(&c.text)));
                    put(&mut cm, "title", t.text(&c.title));
                    put(&mut cm, "ok_text", t.text(&c.ok_text));
                    put(&mut cm, "dismiss_text", t.text(&c.dismiss_text));
                    m.insert("confirm".into(), Value::Object(cm));
                }
                Value::Object(m)
            })
            .collect();
        att.insert("actions".into(), Value::Array(actions));
    }
    put(&mut att, "image_url", t.text(&conf.image_url));
    put(&mut att, "thumb_url", t.text(&conf.thumb_url));
    att.insert("footer".into(), json!(t.text(&conf.footer)));
    put(&mut att, "color", t.text(&conf.color));
    let mrkdwn: Vec<String> = if conf.mrkdwn_in.is_empty() {
        vec!["fallback".into(), "pretext".into(), "text".into()]
    } else {
        conf.mrkdwn_in.clone()
    };
    att.insert("mrkdwn_in".into(), json!(mrkdwn));

    let mut req = Map::new();
    put(&mut req, "channel", t.text(&conf.channel));
    put(&mut req, "username", t.text(&conf.username));
    put(&mut req, "icon_emoji", t.text(&conf.icon_emoji));
    put(&mut req, "icon_url", t.text(&conf.icon_url));
    if conf.link_names {
        req.insert("link_names".into(), json!(true));
    }
    req.insert("attachments".into(), Value::Array(vec![Value::Object(att)]));
    t.finish()?;
    Ok(Value::Object(req))
}

pub struct Slack {
    conf: SlackConfig,
    tmpl: Arc<Templates>,
    client: HttpClient,
}

impl Slack {
    pub fn new(conf: &SlackConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        Ok(Slack { client: HttpClient::new(&conf.http_config)?, conf: conf.clone(), tmpl })
    }
}

impl Sender for Slack {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = build_payload(&self.conf, &self.tmpl, n)?;
            let url = secret_value(self.conf.api_url.expose(), &self.conf.api_url_file, "slack api url")?;
            self.client.post_json("slack", &url, &body, &[]).await.map(|_| ())
        })
    }
}
