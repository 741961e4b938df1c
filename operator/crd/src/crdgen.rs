//! Generates the CustomResourceDefinitions in `crds/` from the Rust types.
//!
//! kube's derive produces the CRDs; [`make_compatible`] then rewrites each schema so one file
//! installs on every apiserver from Kubernetes 1.20 on. Output is deterministic: object keys are
//! sorted, whatever serde_json's key order is in the build.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::CustomResourceExt;
use serde_json::Value;

use crate::{Error, GrafanaDashboard, PodMonitor, PrometheusRule, Result, ServiceMonitor};

/// The command that regenerates `crds/`, quoted in file headers and drift errors.
pub const REGENERATE_COMMAND: &str = "cargo run -p oxeye-crd --bin crdgen";

/// One generated file: its name under `crds/` and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrdFile {
    /// `<group>_<plural>.yaml`, as prometheus-operator names its files.
    pub file_name: String,
    /// The YAML document.
    pub contents: String,
}

/// The CRDs Oxeye installs, as kube's derive produces them (before [`make_compatible`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![ServiceMonitor::crd(), PodMonitor::crd(), PrometheusRule::crd(), GrafanaDashboard::crd()]
}

/// Every file of `crds/`, in a stable order.
pub fn crd_files() -> Result<Vec<CrdFile>> {
    crds().iter().map(crd_file).collect()
}

/// Renders one CRD (made compatible) as a `crds/` file.
pub fn crd_file(crd: &CustomResourceDefinition) -> Result<CrdFile> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let serialize_error = |message: String| Error::Serialize { crd: name.clone(), message };
    let mut value = serde_json::to_value(crd).map_err(|e| serialize_error(e.to_string()))?;
    make_compatible(&mut value);
    let yaml = serde_yaml_ng::to_string(&sorted_yaml(&value)).map_err(|e| serialize_error(e.to_string()))?;
    Ok(CrdFile {
        file_name: format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural),
        contents: format!("# Generated from operator/crd by `{REGENERATE_COMMAND}`. Do not edit.\n{yaml}"),
    })
}

/// Rewrites every version's `openAPIV3Schema` of a serialized CRD so that old apiservers accept it.
///
/// - schemars lists `null` among an `Option<Enum>`'s `enum` values; Kubernetes 1.20 rejects the
///   whole CRD for it (with a misleading "per-version schemas may not all be set to identical
///   values"). Nullability is already expressed by `nullable`.
/// - `default` is dropped everywhere: a `null` default is invalid before 1.2x, and defaults
///   would make the apiserver add fields the user never wrote (prometheus-operator's CRDs
///   default relabeling `action`; Oxeye's renderer applies Prometheus's defaults instead).
pub fn make_compatible(crd: &mut Value) {
    let Some(versions) = crd.pointer_mut("/spec/versions").and_then(Value::as_array_mut) else {
        return;
    };
    for version in versions {
        if let Some(schema) = version.pointer_mut("/schema/openAPIV3Schema") {
            rewrite_schema(schema);
        }
    }
}

/// Applies the rewrite to one schema and, knowing JSON Schema's shape, to its subschemas only
/// (a property that happens to be called `default` or `enum` is left alone).
fn rewrite_schema(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    obj.remove("default");
    if let Some(values) = obj.get_mut("enum").and_then(Value::as_array_mut) {
        values.retain(|v| !v.is_null());
        if values.is_empty() {
            obj.remove("enum");
        }
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(rewrite_schema);
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get_mut(key) {
            rewrite_schema(sub);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(subs) = obj.get_mut(key).and_then(Value::as_array_mut) {
            subs.iter_mut().for_each(rewrite_schema);
        }
    }
}

/// Converts JSON to YAML with every mapping's keys sorted, so output does not depend on
/// whether serde_json's `preserve_order` feature is on somewhere in the build.
fn sorted_yaml(value: &Value) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Y::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Y::Number(u.into())
            } else {
                Y::Number(n.as_f64().unwrap_or(f64::NAN).into())
            }
        }
        Value::String(s) => Y::String(s.clone()),
        Value::Array(items) => Y::Sequence(items.iter().map(sorted_yaml).collect()),
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Y::Mapping(entries.into_iter().map(|(k, v)| (Y::String(k.clone()), sorted_yaml(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests;
