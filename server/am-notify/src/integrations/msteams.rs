//! Microsoft Teams incoming webhooks (`notify/msteams`, Alertmanager 0.26): a legacy
//! MessageCard with title, summary, markdown text and a status colour.

use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_config::MsTeamsConfig;
use oxeye_am_core::NotifyError;
use serde_json::json;

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, Tmpl, secret_value};
use crate::template::Templates;

const COLOR_RED: &str = "8C1A1A";
const COLOR_GREEN: &str = "2DC72D";

pub fn build_payload(
    conf: &MsTeamsConfig,
    tmpl: &Templates,
    n: &Notification,
) -> Result<serde_json::Value, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let title = t.text(&conf.title);
    let summary = t.text(&conf.summary);
    let text = t.text(&conf.text);
    t.finish()?;
    let color = if n.firing() { COLOR_RED } else { COLOR_GREEN };
    Ok(json!({
        "@context": "http://schema.org/extensions",
        "type": "MessageCard",
        "title": title,
        "summary": summary,
        "text": text,
        "themeColor": color,
    }))
}

pub struct MsTeams {
    conf: MsTeamsConfig,
    tmpl: Arc<Templates>,
    client: HttpClient,
}

impl MsTeams {
    pub fn new(conf: &MsTeamsConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        Ok(MsTeams { client: HttpClient::new(&conf.http_config)?, conf: conf.clone(), tmpl })
    }
}

impl Sender for MsTeams {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = build_payload(&self.conf, &self.tmpl, n)?;
            let url = secret_value(self.conf.webhook_url.expose(), &self.conf.webhook_url_file, "webhook url")?;
            self.client.post_json("msteams", &url, &body, &[]).await.map(|_| ())
        })
    }
}
