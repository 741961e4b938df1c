//! Oxeye's end-to-end test bed.
//!
//! Owns the fixtures that run real external systems for tests: a Kubernetes control plane
//! ([`ControlPlane`]) built and started by the scripts in `e2e/control-plane/`, and the small
//! helpers tests drive it with ([`fixtures`]: REST client, loopback HTTP targets, processes), and
//! a double of Grafana's HTTP API ([`grafana`]), since Grafana cannot run here. It knows nothing
//! about Oxeye's crates; the tests that exercise Oxeye against these fixtures live in `tests/`.

mod control_plane;
pub mod fixtures;
pub mod grafana;

pub use control_plane::{ControlPlane, Shared};
