//! Webex (`notify/webex`): a markdown message to a room, authorized by the config's
//! `http_config.authorization` (the bot token).

use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_config::WebexConfig;
use oxeye_am_core::NotifyError;
use serde_json::json;

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, Tmpl, truncate_bytes};
use crate::template::Templates;

/// Webex's message size limit in bytes.
const MAX_MESSAGE_BYTES: usize = 7439;

pub fn build_payload(conf: &WebexConfig, tmpl: &Templates, n: &Notification) -> Result<serde_json::Value, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let (message, _) = truncate_bytes(&t.text(&conf.message), MAX_MESSAGE_BYTES);
    let room = t.text(&conf.room_id);
    t.finish()?;
    let mut body = json!({ "markdown": message });
    if !room.is_empty() {
        body["roomId"] = json!(room);
    }
    Ok(body)
}

pub struct Webex {
    conf: WebexConfig,
    tmpl: Arc<Templates>,
    client: HttpClient,
}

impl Webex {
    pub fn new(conf: &WebexConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        Ok(Webex { client: HttpClient::new(&conf.http_config)?, conf: conf.clone(), tmpl })
    }
}

impl Sender for Webex {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = build_payload(&self.conf, &self.tmpl, n)?;
            self.client.post_json("webex", &self.conf.api_url, &body, &[]).await.map(|_| ())
        })
    }
}
