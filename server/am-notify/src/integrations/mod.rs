//! The integrations, one module per receiver kind, and the adapter that exposes each configured
//! instance as an `oxeye_am_core::Integration`. Each module turns a [`Notification`] into the
//! request Alertmanager 0.25 sends; payload building is separate from sending so it can be
//! checked without a server.

pub mod discord;
pub mod email;
pub mod msteams;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
pub mod telegram;
pub mod webex;
pub mod webhook;

use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_core::{Alert, Integration, NotifyContext, NotifyError};

use crate::notification::Notification;

/// What an integration instance does with one notification.
pub trait Sender: Send + Sync {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>>;
}

/// A configured integration instance.
pub struct Instance {
    name: &'static str,
    index: usize,
    send_resolved: bool,
    sender: Box<dyn Sender>,
}

impl Instance {
    pub fn new(name: &'static str, index: usize, send_resolved: bool, sender: Box<dyn Sender>) -> Arc<Self> {
        Arc::new(Instance { name, index, send_resolved, sender })
    }
}

impl Integration for Instance {
    fn name(&self) -> &str {
        self.name
    }

    fn index(&self) -> usize {
        self.index
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    fn notify<'a>(&'a self, ctx: &'a NotifyContext, alerts: &'a [Alert]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let n = Notification::new(ctx, alerts);
            self.sender.send(&n).await
        })
    }
}
