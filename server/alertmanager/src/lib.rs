//! oxeye-alertmanager: the binary's library half. Flags with Alertmanager 0.25's names, the
//! HTTP API v2 (written against the [`backend::Backend`] view of the router), reload handling,
//! metrics and logging. The alert-routing semantics live in `oxeye-am-core`; integrations in
//! `oxeye-am-notify`; the configuration format in `oxeye-am-config`.

#![forbid(unsafe_code)]

pub mod api;
pub mod backend;
pub mod cluster;
mod core_backend;
pub mod flags;
pub mod logging;
mod server;

pub use server::{config_hash_value, run};
