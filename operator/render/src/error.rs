//! The one error type of the renderer: which object, which field, what was wrong. The controller
//! rejects that object alone (status condition, event) and renders the rest.

use std::fmt;

/// A monitor or rule object that cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// `ServiceMonitor`, `PodMonitor` or `PrometheusRule`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The manifest path of the offending field, e.g. `spec.endpoints[0].relabelings[1].regex`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}: ", self.kind, self.namespace, self.name)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RenderError {}

/// Result alias for this crate.
pub type Result<T, E = RenderError> = std::result::Result<T, E>;

/// Names the object being rendered, so errors can be built from a field and a message.
#[derive(Debug, Clone)]
pub(crate) struct ObjectRef {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub(crate) fn err(&self, field: impl Into<String>, message: impl Into<String>) -> RenderError {
        RenderError {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            field: field.into(),
            message: message.into(),
        }
    }
}
