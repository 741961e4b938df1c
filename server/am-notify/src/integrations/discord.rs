//! Discord (`notify/discord`): one embed with the title and message, red while firing, green
//! once resolved.

use futures::future::BoxFuture;
use oxeye_am_config::DiscordConfig;
use oxeye_am_core::NotifyError;
use serde_json::json;

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, Tmpl, truncate_runes};
use crate::template::Templates;
use std::sync::Arc;

const MAX_TITLE_RUNES: usize = 256;
const MAX_DESCRIPTION_RUNES: usize = 4096;
const COLOR_RED: u32 = 0x992D22;
const COLOR_GREEN: u32 = 0x2ECC71;

/// The webhook body Alertmanager posts to Discord.
pub fn build_payload(
    conf: &DiscordConfig,
    tmpl: &Templates,
    n: &Notification,
) -> Result<serde_json::Value, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let (title, _) = truncate_runes(&t.text(&conf.title), MAX_TITLE_RUNES);
    let (description, _) = truncate_runes(&t.text(&conf.message), MAX_DESCRIPTION_RUNES);
    t.finish()?;
    let color = if n.firing() { COLOR_RED } else { COLOR_GREEN };
    Ok(json!({ "content": "", "embeds": [{ "title": title, "description": description, "color": color }] }))
}

pub struct Discord {
    conf: DiscordConfig,
    tmpl: Arc<Templates>,
    client: HttpClient,
}

impl Discord {
    pub fn new(conf: &DiscordConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        Ok(Discord { client: HttpClient::new(&conf.http_config)?, conf: conf.clone(), tmpl })
    }
}

impl Sender for Discord {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = build_payload(&self.conf, &self.tmpl, n)?;
            self.client.post_json("discord", self.conf.webhook_url.expose(), &body, &[]).await.map(|_| ())
        })
    }
}
