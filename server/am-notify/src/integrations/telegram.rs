//! Telegram (`notify/telegram`): `sendMessage` through the Bot API with the chat id, the
//! message (HTML-escaped templating in `HTML` parse mode) and notification options. As in
//! Alertmanager, every failed send is retried.

use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_config::TelegramConfig;
use oxeye_am_core::NotifyError;
use serde_json::json;

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, Tmpl, truncate_runes};
use crate::template::Templates;

const MAX_MESSAGE_RUNES: usize = 4096;

/// The `sendMessage` parameters; the Bot API library Alertmanager uses sends them as strings.
pub fn build_payload(
    conf: &TelegramConfig,
    tmpl: &Templates,
    n: &Notification,
) -> Result<serde_json::Value, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let raw = if conf.parse_mode == "HTML" { t.html(&conf.message) } else { t.text(&conf.message) };
    t.finish()?;
    let (text, _) = truncate_runes(&raw, MAX_MESSAGE_RUNES);
    let mut body = json!({
        "chat_id": conf.chat_id.to_string(),
        "text": text,
        "disable_web_page_preview": "true",
    });
    if !conf.parse_mode.is_empty() {
        body["parse_mode"] = json!(conf.parse_mode);
    }
    if conf.disable_notifications {
        body["disable_notification"] = json!("true");
    }
    Ok(body)
}

/// The `sendMessage` endpoint for a bot token.
pub fn endpoint(api_url: &str, token: &str) -> String {
    format!("{}/bot{token}/sendMessage", api_url.trim_end_matches('/'))
}

pub struct Telegram {
    conf: TelegramConfig,
    tmpl: Arc<Templates>,
    client: HttpClient,
}

impl Telegram {
    pub fn new(conf: &TelegramConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        Ok(Telegram { client: HttpClient::new(&conf.http_config)?, conf: conf.clone(), tmpl })
    }
}

impl Sender for Telegram {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = build_payload(&self.conf, &self.tmpl, n)?;
            let token = self.conf.bot_token.expose();
            let url = endpoint(&self.conf.api_url, token);
            let res = self.client.post_json("telegram", &url, &body, &[]).await;
            // Alertmanager returns retry=true for any error from the Bot API client.
            let (_, resp) = res.map_err(|e| NotifyError::retryable(e.message))?;
            let parsed: serde_json::Value = serde_json::from_str(&resp).unwrap_or_default();
            if parsed.get("ok").and_then(serde_json::Value::as_bool) == Some(false) {
                let d = parsed.get("description").and_then(serde_json::Value::as_str).unwrap_or("unknown error");
                return Err(NotifyError::retryable(format!("telegram: {d}")));
            }
            Ok(())
        })
    }
}
