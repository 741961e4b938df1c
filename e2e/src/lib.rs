//! Oxeye's end-to-end test bed.
//!
//! Owns the fixtures that run real external systems for tests: today a Kubernetes control plane
//! ([`ControlPlane`]) built and started by the scripts in `e2e/control-plane/`. It knows nothing
//! about Oxeye's crates; the tests that exercise Oxeye against these fixtures live in `tests/`.

mod control_plane;

pub use control_plane::{ControlPlane, Shared};
