use serde_json::{Value, json};

use super::*;

/// Walks every schema reachable through schema keywords and calls `check` with its JSON path.
fn walk(schema: &Value, path: &str, check: &mut dyn FnMut(&str, &serde_json::Map<String, Value>)) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    check(path, obj);
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            walk(sub, &format!("{path}.{name}"), check);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get(key) {
            walk(sub, &format!("{path}[{key}]"), check);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(subs) = obj.get(key).and_then(Value::as_array) {
            for (i, sub) in subs.iter().enumerate() {
                walk(sub, &format!("{path}[{key}/{i}]"), check);
            }
        }
    }
}

fn compatible_schemas() -> Vec<(String, Value)> {
    crds()
        .iter()
        .map(|crd| {
            let mut value = serde_json::to_value(crd).expect("CRD serializes");
            make_compatible(&mut value);
            let name = crd.metadata.name.clone().unwrap_or_default();
            let schema = value.pointer("/spec/versions/0/schema/openAPIV3Schema").cloned().expect("schema present");
            (name, schema)
        })
        .collect()
}

#[test]
fn derive_output_has_null_in_enums_which_the_transform_removes() {
    // Guards the reason the transform exists: if schemars stops emitting `null`, this says so.
    let raw = serde_json::to_value(ServiceMonitor::crd()).expect("CRD serializes");
    let mut nulls = 0;
    walk(raw.pointer("/spec/versions/0/schema/openAPIV3Schema").expect("schema"), "", &mut |_, obj| {
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            nulls += values.iter().filter(|v| v.is_null()).count();
        }
    });
    assert!(nulls > 0, "schemars no longer writes null into enums; the transform may be obsolete");
}

#[test]
fn generated_schemas_avoid_what_old_apiservers_reject() {
    for (crd, schema) in compatible_schemas() {
        walk(&schema, "", &mut |path, obj| {
            if let Some(values) = obj.get("enum").and_then(Value::as_array) {
                assert!(!values.is_empty(), "{crd}{path}: empty enum");
                assert!(!values.iter().any(Value::is_null), "{crd}{path}: null in enum");
            }
            assert!(!obj.contains_key("default"), "{crd}{path}: default {:?}", obj.get("default"));
            assert!(!obj.contains_key("$ref"), "{crd}{path}: $ref");
            assert!(!obj.contains_key("x-kubernetes-validations"), "{crd}{path}: CEL rule");
            if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true)) {
                panic!("{crd}{path}: preserves unknown fields; nothing in these kinds needs it");
            }
        });
    }
}

#[test]
fn int_or_string_fields_are_marked() {
    let schemas = compatible_schemas();
    let find = |crd: &str, pointer: &str| -> Value {
        let (_, schema) = schemas.iter().find(|(n, _)| n == crd).expect("crd exists");
        schema.pointer(pointer).cloned().unwrap_or(Value::Null)
    };
    let expr = find(
        "prometheusrules.monitoring.coreos.com",
        "/properties/spec/properties/groups/items/properties/rules/items/properties/expr",
    );
    assert_eq!(expr["x-kubernetes-int-or-string"], json!(true), "{expr}");
    let target_port = find(
        "servicemonitors.monitoring.coreos.com",
        "/properties/spec/properties/endpoints/items/properties/targetPort",
    );
    assert_eq!(target_port["x-kubernetes-int-or-string"], json!(true), "{target_port}");
}

#[test]
fn relabel_action_accepts_upstream_spellings_only() {
    let schemas = compatible_schemas();
    let (_, schema) = schemas.iter().find(|(n, _)| n == "servicemonitors.monitoring.coreos.com").expect("crd exists");
    let action = schema
        .pointer("/properties/spec/properties/endpoints/items/properties/relabelings/items/properties/action/enum")
        .and_then(Value::as_array)
        .expect("action enum");
    for spelling in ["replace", "Replace", "HashMod", "hashmod", "keepequal", "DropEqual", "lowercase", "Uppercase"] {
        assert!(action.contains(&json!(spelling)), "{spelling} missing from {action:?}");
    }
    assert!(!action.contains(&json!("REPLACE")));
}

#[test]
fn files_are_named_like_upstream_and_deterministic() {
    let first = crd_files().expect("generate");
    let names: Vec<_> = first.iter().map(|f| f.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "monitoring.coreos.com_servicemonitors.yaml",
            "monitoring.coreos.com_podmonitors.yaml",
            "monitoring.coreos.com_prometheusrules.yaml",
            "grafana.integreatly.org_grafanadashboards.yaml",
        ]
    );
    assert_eq!(first, crd_files().expect("generate again"));
}

#[test]
fn status_subresource_and_names_are_declared() {
    for crd in crds() {
        let version = &crd.spec.versions[0];
        assert!(
            version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(),
            "{:?} has no status subresource",
            crd.metadata.name
        );
        assert_eq!(crd.spec.scope, "Namespaced");
    }
    let sm = ServiceMonitor::crd();
    assert_eq!(sm.spec.names.short_names, Some(vec!["smon".to_owned()]));
    assert_eq!(sm.spec.names.categories, Some(vec!["prometheus-operator".to_owned()]));
}
