//! Alertmanager 0.25's notification side for Oxeye: the template data model with the default
//! templates ([`template`]), and one integration per receiver kind (webhook, email, Slack,
//! PagerDuty, Opsgenie, Microsoft Teams, Telegram, Discord, Webex) that turns a group of alerts
//! into a request and classifies failures as retryable or not, as Alertmanager does.
//! It knows nothing about routing, grouping, silencing or the notification log.

pub mod http;
pub mod integrations;
pub mod notification;
pub mod smtp;
pub mod template;

use std::sync::Arc;

use oxeye_am_config::Receiver;
use oxeye_am_core::{Integration, IntegrationFactory};

use integrations::{Instance, discord, email, msteams, opsgenie, pagerduty, slack, telegram, webex, webhook};
pub use notification::Notification;
pub use template::{TemplateAlert, TemplateData, TemplateError, Templates};

/// Builds a receiver's integrations, in Alertmanager's order (email, PagerDuty, Opsgenie,
/// webhook, Slack, Telegram, Discord, Webex, MS Teams; `index` counts within each kind).
pub fn build_integrations(receiver: &Receiver, tmpl: Arc<Templates>) -> Result<Vec<Arc<dyn Integration>>, String> {
    let mut out: Vec<Arc<dyn Integration>> = Vec::new();
    let ctx = |kind: &str, i: usize, e: String| format!("receiver {:?}: {kind}[{i}]: {e}", receiver.name);
    for (i, c) in receiver.email_configs.iter().enumerate() {
        let s = email::Email::new(c, tmpl.clone()).map_err(|e| ctx("email", i, e))?;
        out.push(Instance::new("email", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.pagerduty_configs.iter().enumerate() {
        let s = pagerduty::Pagerduty::new(c, tmpl.clone()).map_err(|e| ctx("pagerduty", i, e))?;
        out.push(Instance::new("pagerduty", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.opsgenie_configs.iter().enumerate() {
        let s = opsgenie::OpsGenie::new(c, tmpl.clone()).map_err(|e| ctx("opsgenie", i, e))?;
        out.push(Instance::new("opsgenie", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.webhook_configs.iter().enumerate() {
        let s = webhook::Webhook::new(c).map_err(|e| ctx("webhook", i, e))?;
        out.push(Instance::new("webhook", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.slack_configs.iter().enumerate() {
        let s = slack::Slack::new(c, tmpl.clone()).map_err(|e| ctx("slack", i, e))?;
        out.push(Instance::new("slack", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.telegram_configs.iter().enumerate() {
        let s = telegram::Telegram::new(c, tmpl.clone()).map_err(|e| ctx("telegram", i, e))?;
        out.push(Instance::new("telegram", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.discord_configs.iter().enumerate() {
        let s = discord::Discord::new(c, tmpl.clone()).map_err(|e| ctx("discord", i, e))?;
        out.push(Instance::new("discord", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.webex_configs.iter().enumerate() {
        let s = webex::Webex::new(c, tmpl.clone()).map_err(|e| ctx("webex", i, e))?;
        out.push(Instance::new("webex", i, c.send_resolved, Box::new(s)));
    }
    for (i, c) in receiver.msteams_configs.iter().enumerate() {
        let s = msteams::MsTeams::new(c, tmpl.clone()).map_err(|e| ctx("msteams", i, e))?;
        out.push(Instance::new("msteams", i, c.send_resolved, Box::new(s)));
    }
    Ok(out)
}

/// The factory the core calls on every config (re)load, bound to the loaded templates.
pub fn integration_factory(tmpl: Arc<Templates>) -> IntegrationFactory {
    Arc::new(move |r: &Receiver| build_integrations(r, tmpl.clone()))
}
