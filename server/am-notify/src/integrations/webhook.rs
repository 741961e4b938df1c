//! The generic webhook (`notify/webhook`): POSTs the template data as JSON, payload version
//! "4", with the group key and the number of alerts dropped by `max_alerts`.

use futures::future::BoxFuture;
use oxeye_am_config::WebhookConfig;
use oxeye_am_core::NotifyError;
use serde::Serialize;

use super::Sender;
use crate::http::HttpClient;
use crate::notification::{Notification, secret_value};
use crate::template::TemplateData;

/// The webhook payload (`webhook.Message`): the data's fields, then version, group key and
/// truncation count, in Alertmanager's JSON field order.
#[derive(Debug, Serialize)]
pub struct Message {
    #[serde(flatten)]
    pub data: TemplateData,
    pub version: &'static str,
    #[serde(rename = "groupKey")]
    pub group_key: String,
    #[serde(rename = "truncatedAlerts")]
    pub truncated_alerts: u64,
}

/// Builds the payload, keeping at most `max_alerts` alerts (0: all) as Alertmanager's
/// `truncateAlerts`; the template data is computed from the kept alerts.
pub fn build_message(n: &Notification, max_alerts: u64) -> Message {
    let mut n = n.clone();
    let total = n.alerts.len() as u64;
    let mut truncated = 0;
    if max_alerts != 0 && total > max_alerts {
        n.alerts.truncate(usize::try_from(max_alerts).unwrap_or(usize::MAX));
        truncated = total - max_alerts;
    }
    Message { data: n.data(), version: "4", group_key: n.group_key.clone(), truncated_alerts: truncated }
}

pub struct Webhook {
    conf: WebhookConfig,
    client: HttpClient,
}

impl Webhook {
    pub fn new(conf: &WebhookConfig) -> Result<Self, String> {
        Ok(Webhook { client: HttpClient::new(&conf.http_config)?, conf: conf.clone() })
    }
}

impl Sender for Webhook {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let msg = build_message(n, self.conf.max_alerts);
            // Serialized from the struct so the fields keep Alertmanager's order.
            let mut body = serde_json::to_vec(&msg).map_err(|e| NotifyError::permanent(e.to_string()))?;
            body.push(b'\n');
            let url = secret_value(self.conf.url.expose(), &self.conf.url_file, "webhook url")?;
            self.client.post("webhook", &url, "application/json", &[], body).await.map(|_| ())
        })
    }
}
