//! Which dashboards Grafana should hold, as pure functions of GrafanaDashboards, dashboard
//! ConfigMaps and the Grafana settings, following grafana-operator v5 and the
//! kube-prometheus-stack ConfigMap convention:
//!
//! - a GrafanaDashboard has exactly one model source (`json`, `gzipJson`, `configMapRef`, `url`;
//!   `jsonnet`, `jsonnetLib` and `grafanaCom` are refused); `datasources` entries replace
//!   `${inputName}` in the JSON text; the uid is `spec.uid`, else the model's, else the object's
//!   `metadata.uid`; the folder is `folderUID` as given, else a folder titled `folder`, else one
//!   titled after the namespace (`General` is the root);
//! - a ConfigMap labelled `grafana_dashboard: "1"` gives one dashboard per `*.json` key, in the
//!   folder its folder annotation names (else the root).
//!
//! Fetching (ConfigMap keys, URLs) and talking to Grafana belong to the controller.

use std::collections::BTreeMap;
use std::io::Read;

use k8s_openapi::api::core::v1::ConfigMap;
use oxeye_crd::GrafanaDashboard;
use serde_json::Value;

use crate::selection::LabelMatcher;
use crate::settings::{ConfigMapDashboardsFile, GrafanaSettings};

/// Decompressed models larger than this are refused.
const MAX_MODEL: u64 = 32 << 20;

/// Where a dashboard comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A GrafanaDashboard `namespace/name`.
    Resource { namespace: String, name: String },
    /// Key `key` of ConfigMap `namespace/name`.
    ConfigMap { namespace: String, name: String, key: String },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Resource { namespace, name } => write!(f, "GrafanaDashboard {namespace}/{name}"),
            Origin::ConfigMap { namespace, name, key } => write!(f, "ConfigMap {namespace}/{name} key {key}"),
        }
    }
}

/// The folder a dashboard goes into.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FolderTarget {
    /// The root ("General").
    Root,
    /// A folder by uid, as given (never created).
    Uid(String),
    /// A root-level folder by title, matched case-insensitively and created when missing.
    Title(String),
}

/// A dashboard as it should be in Grafana.
#[derive(Debug, Clone, PartialEq)]
pub struct WantedDashboard {
    pub origin: Origin,
    pub uid: String,
    pub title: String,
    pub folder: FolderTarget,
    /// The model to save: `id` null, `uid` set.
    pub model: Value,
    /// SHA-256 (hex) of the model text after data source substitution, as grafana-operator
    /// stores it in `status.hash`.
    pub hash: String,
}

/// Where a GrafanaDashboard's model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Json(String),
    Gzip(Vec<u8>),
    ConfigMap { name: String, key: String },
    Url(String),
}

/// The model source of `d`: exactly one must be set, as grafana-operator requires.
pub fn source(d: &GrafanaDashboard) -> Result<Source, String> {
    let s = &d.spec;
    let mut found: Vec<(&str, Option<Source>)> = Vec::new();
    if let Some(j) = &s.json {
        found.push(("json", Some(Source::Json(j.clone()))));
    }
    if let Some(g) = &s.gzip_json {
        found.push(("gzipJson", Some(Source::Gzip(g.0.clone()))));
    }
    if let Some(c) = &s.config_map_ref {
        let name = c.name.clone().unwrap_or_default();
        found.push(("configMapRef", Some(Source::ConfigMap { name, key: c.key.clone() })));
    }
    if let Some(u) = &s.url {
        found.push(("url", Some(Source::Url(u.clone()))));
    }
    if s.jsonnet.is_some() {
        found.push(("jsonnet", None));
    }
    if s.jsonnet_lib.is_some() {
        found.push(("jsonnetLib", None));
    }
    if s.grafana_com.is_some() {
        found.push(("grafanaCom", None));
    }
    match found.len() {
        0 => Err("no source type provided: set one of json, gzipJson, configMapRef, url".into()),
        1 => {
            let (field, src) = found.remove(0);
            src.ok_or_else(|| {
                format!("spec.{field} is not supported by Oxeye (use json, gzipJson, configMapRef or url)")
            })
        }
        _ => Err(format!(
            "more than one source type found: {} (set exactly one)",
            found.iter().map(|(f, _)| format!("spec.{f}")).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Gunzips a `gzipJson` model.
pub fn gunzip(bytes: &[u8]) -> Result<String, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_MODEL + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("spec.gzipJson: not valid gzip: {e}"))?;
    if out.len() as u64 > MAX_MODEL {
        return Err(format!("spec.gzipJson: the model is larger than {MAX_MODEL} bytes"));
    }
    String::from_utf8(out).map_err(|_| "spec.gzipJson: the model is not UTF-8 text".into())
}

/// Whether `d` is for the configured Grafana: its `instanceSelector` matches the instance's
/// labels (no selector matches), and it lives in the instance's namespace unless it allows
/// cross-namespace import.
pub fn matches_instance(d: &GrafanaDashboard, g: &GrafanaSettings) -> Result<bool, String> {
    let ns = d.metadata.namespace.as_deref().unwrap_or_default();
    if ns != g.instance_namespace && !d.spec.allow_cross_namespace_import.unwrap_or(false) {
        return Ok(false);
    }
    match &d.spec.instance_selector {
        None => Ok(true),
        Some(sel) => {
            let m = LabelMatcher::new(sel).map_err(|e| format!("spec.instanceSelector: {e}"))?;
            Ok(m.matches(&g.instance_labels))
        }
    }
}

fn valid_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 40 && uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn sha256_hex(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a model text into the dashboard to save. `uid_fallback` is used when neither
/// `spec_uid` nor the model has a uid.
fn build(
    origin: Origin,
    text: &str,
    spec_uid: Option<&str>,
    uid_fallback: &str,
    folder: FolderTarget,
) -> Result<WantedDashboard, String> {
    let hash = sha256_hex(text);
    let mut model: Value =
        serde_json::from_str(text).map_err(|e| format!("the dashboard model is not valid JSON: {e}"))?;
    let Some(obj) = model.as_object_mut() else {
        return Err("the dashboard model must be a JSON object".into());
    };
    let title = obj.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
    if title.trim().is_empty() {
        return Err("the dashboard model has no title (Grafana requires one)".into());
    }
    let model_uid = obj.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty());
    let uid = spec_uid.filter(|u| !u.is_empty()).or(model_uid).unwrap_or(uid_fallback).to_string();
    if !valid_uid(&uid) {
        return Err(format!("dashboard uid {uid:?} is not valid: at most 40 letters, digits, '-' or '_'"));
    }
    // A hard-coded id makes Grafana look the dashboard up by id (grafana-operator issue #1108).
    obj.insert("id".into(), Value::Null);
    obj.insert("uid".into(), Value::String(uid.clone()));
    Ok(WantedDashboard { origin, uid, title, folder, model, hash })
}

/// The dashboard of a GrafanaDashboard whose model text is `text` (already fetched).
pub fn from_resource(d: &GrafanaDashboard, text: &str) -> Result<WantedDashboard, String> {
    let namespace = d.metadata.namespace.clone().unwrap_or_default();
    let name = d.metadata.name.clone().unwrap_or_default();
    let mut text = text.to_string();
    for (i, ds) in d.spec.datasources.iter().enumerate() {
        if ds.input_name.is_empty() || ds.datasource_name.is_empty() {
            return Err(format!("spec.datasources[{i}]: inputName and datasourceName must be set"));
        }
        text = text.replace(&format!("${{{}}}", ds.input_name), &ds.datasource_name);
    }
    if d.spec.folder_ref.is_some() {
        return Err(
            "spec.folderRef needs a GrafanaFolder resource, which Oxeye does not implement; use folder or folderUID"
                .into(),
        );
    }
    if d.spec.folder.is_some() && d.spec.folder_uid.is_some() {
        return Err("spec.folder and spec.folderUID exclude each other".into());
    }
    if !d.spec.plugins.is_empty() {
        return Err("spec.plugins is not supported by Oxeye (install plugins in the Grafana image)".into());
    }
    let folder = match (&d.spec.folder_uid, &d.spec.folder) {
        (Some(uid), _) if !uid.is_empty() => FolderTarget::Uid(uid.clone()),
        (_, Some(title)) if !title.trim().is_empty() => title_folder(title),
        _ => title_folder(&namespace),
    };
    let fallback = d.metadata.uid.clone().unwrap_or_default();
    build(Origin::Resource { namespace, name }, &text, d.spec.uid.as_deref(), &fallback, folder)
}

fn title_folder(title: &str) -> FolderTarget {
    if title.trim().eq_ignore_ascii_case("general") {
        FolderTarget::Root
    } else {
        FolderTarget::Title(title.trim().to_string())
    }
}

/// The folder a dashboard ConfigMap names through its annotations (first found wins; a path
/// such as k8s-sidecar's `/tmp/dashboards/Team A` gives its last part).
fn config_map_folder(cm: &ConfigMap, settings: &ConfigMapDashboardsFile) -> FolderTarget {
    let annotations = cm.metadata.annotations.clone().unwrap_or_default();
    for a in &settings.folder_annotations {
        if let Some(v) = annotations.get(a) {
            let last = v.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
            if !last.trim().is_empty() {
                return title_folder(last);
            }
        }
    }
    FolderTarget::Root
}

/// The dashboards of a labelled ConfigMap: one per `*.json` key (Grafana's file provisioner
/// loads only those), each with its own verdict.
pub fn from_config_map(
    cm: &ConfigMap,
    settings: &ConfigMapDashboardsFile,
) -> Vec<(Origin, Result<WantedDashboard, String>)> {
    let namespace = cm.metadata.namespace.clone().unwrap_or_default();
    let name = cm.metadata.name.clone().unwrap_or_default();
    let folder = config_map_folder(cm, settings);
    let mut out = Vec::new();
    let mut keys: BTreeMap<String, Result<String, String>> = BTreeMap::new();
    for (k, v) in cm.data.clone().unwrap_or_default() {
        keys.insert(k, Ok(v));
    }
    for (k, v) in cm.binary_data.clone().unwrap_or_default() {
        keys.insert(k.clone(), String::from_utf8(v.0).map_err(|_| format!("binaryData key {k:?} is not UTF-8 text")));
    }
    for (key, value) in keys {
        if !key.ends_with(".json") {
            continue;
        }
        let origin = Origin::ConfigMap { namespace: namespace.clone(), name: name.clone(), key: key.clone() };
        // A stable uid for models without one: derived from where the model lives.
        let fallback = format!("cm-{}", &sha256_hex(&format!("{namespace}/{name}/{key}"))[..32]);
        let result = value.and_then(|text| build(origin.clone(), &text, None, &fallback, folder.clone()));
        out.push((origin, result.map_err(|e| format!("key {key}: {e}"))));
    }
    out
}

/// Removes the fields Grafana manages itself before two models are compared.
pub fn comparable(model: &Value) -> Value {
    let mut m = model.clone();
    if let Some(o) = m.as_object_mut() {
        o.remove("id");
        o.remove("version");
    }
    m
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::settings::{GrafanaAuth, SecretKey};

    fn dashboard(yaml: &str) -> GrafanaDashboard {
        serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"))
    }

    fn grafana() -> GrafanaSettings {
        GrafanaSettings {
            url: "http://g".into(),
            external_url: "http://g".into(),
            auth: GrafanaAuth::Token(SecretKey { name: "t".into(), key: "k".into() }),
            instance_labels: [("dashboards".to_string(), "oxeye".to_string())].into(),
            instance_namespace: "monitoring".into(),
            resync_period: std::time::Duration::from_secs(600),
            check_interval: std::time::Duration::from_secs(30),
            config_maps: Some(ConfigMapDashboardsFile::default()),
            datasources: Vec::new(),
        }
    }

    #[test]
    fn exactly_one_source() {
        let d = dashboard("metadata: {name: a, namespace: n}\nspec: {json: '{}'}\n");
        assert_eq!(source(&d).unwrap(), Source::Json("{}".into()));
        let none = dashboard("metadata: {name: a, namespace: n}\nspec: {}\n");
        assert!(source(&none).unwrap_err().contains("no source type"));
        let two = dashboard("metadata: {name: a, namespace: n}\nspec: {json: '{}', url: 'http://x'}\n");
        let e = source(&two).unwrap_err();
        assert!(e.contains("spec.json") && e.contains("spec.url"), "{e}");
        let jsonnet = dashboard("metadata: {name: a, namespace: n}\nspec: {jsonnet: 'x'}\n");
        assert!(source(&jsonnet).unwrap_err().contains("spec.jsonnet is not supported"));
        let cm = dashboard("metadata: {name: a, namespace: n}\nspec: {configMapRef: {name: c, key: d.json}}\n");
        assert_eq!(source(&cm).unwrap(), Source::ConfigMap { name: "c".into(), key: "d.json".into() });
    }

    #[test]
    fn uid_folder_and_datasource_rules() {
        let model = r#"{"title": "Nodes", "uid": "from-json", "id": 12, "panels": [{"datasource": "${DS_PROM}"}]}"#;
        let mut d = dashboard(
            "metadata: {name: nodes, namespace: apps, uid: 1234-abcd}\nspec: {datasources: [{inputName: DS_PROM, datasourceName: Prometheus}]}\n",
        );
        let w = from_resource(&d, model).unwrap();
        assert_eq!(w.uid, "from-json");
        assert_eq!(w.model["id"], Value::Null);
        assert_eq!(w.model["panels"][0]["datasource"], "Prometheus");
        assert_eq!(w.folder, FolderTarget::Title("apps".into()), "the namespace names the folder by default");
        d.spec.uid = Some("spec-uid".into());
        d.spec.folder = Some("general".into());
        let w = from_resource(&d, model).unwrap();
        assert_eq!((w.uid.as_str(), &w.folder), ("spec-uid", &FolderTarget::Root));
        d.spec.uid = None;
        d.spec.folder = None;
        d.spec.folder_uid = Some("f1".into());
        let w = from_resource(&d, r#"{"title": "No uid"}"#).unwrap();
        assert_eq!((w.uid.as_str(), &w.folder), ("1234-abcd", &FolderTarget::Uid("f1".into())));
        assert!(from_resource(&d, r#"{"panels": []}"#).unwrap_err().contains("no title"));
        assert!(from_resource(&d, "[1]").unwrap_err().contains("JSON object"));
        assert!(from_resource(&d, "{").unwrap_err().contains("not valid JSON"));
        assert!(from_resource(&d, r#"{"title": "x", "uid": "has space"}"#).unwrap_err().contains("not valid"));
        // The hash is of the substituted text, so changing the mapping changes it.
        let a = from_resource(&d, model).unwrap().hash;
        d.spec.datasources[0].datasource_name = "Other".into();
        assert_ne!(a, from_resource(&d, model).unwrap().hash);
    }

    #[test]
    fn instance_selection() {
        let g = grafana();
        let here = dashboard(
            "metadata: {name: a, namespace: monitoring}\nspec: {json: '{}', instanceSelector: {matchLabels: {dashboards: oxeye}}}\n",
        );
        assert!(matches_instance(&here, &g).unwrap());
        let other_labels = dashboard(
            "metadata: {name: a, namespace: monitoring}\nspec: {json: '{}', instanceSelector: {matchLabels: {dashboards: other}}}\n",
        );
        assert!(!matches_instance(&other_labels, &g).unwrap());
        let elsewhere = dashboard("metadata: {name: a, namespace: apps}\nspec: {json: '{}'}\n");
        assert!(!matches_instance(&elsewhere, &g).unwrap(), "other namespaces need allowCrossNamespaceImport");
        let allowed =
            dashboard("metadata: {name: a, namespace: apps}\nspec: {json: '{}', allowCrossNamespaceImport: true}\n");
        assert!(matches_instance(&allowed, &g).unwrap());
    }

    #[test]
    fn config_maps_give_one_dashboard_per_json_key() {
        let cm: ConfigMap = serde_yaml_ng::from_str(
            "metadata: {name: k8s-dash, namespace: monitoring, labels: {grafana_dashboard: '1'}, annotations: {k8s-sidecar-target-directory: /tmp/dashboards/Kubernetes}}\ndata:\n  pods.json: '{\"title\": \"Pods\", \"uid\": \"pods\"}'\n  nodes.json: '{\"title\": \"Nodes\"}'\n  README.md: 'not a dashboard'\n  broken.json: '{'\n",
        )
        .unwrap();
        let out = from_config_map(&cm, &ConfigMapDashboardsFile::default());
        assert_eq!(out.len(), 3);
        let by_key: BTreeMap<String, &Result<WantedDashboard, String>> = out
            .iter()
            .map(|(o, r)| match o {
                Origin::ConfigMap { key, .. } => (key.clone(), r),
                _ => unreachable!(),
            })
            .collect();
        let pods = by_key["pods.json"].as_ref().unwrap();
        assert_eq!((pods.uid.as_str(), &pods.folder), ("pods", &FolderTarget::Title("Kubernetes".into())));
        let nodes = by_key["nodes.json"].as_ref().unwrap();
        assert!(nodes.uid.starts_with("cm-") && nodes.uid.len() <= 40, "{}", nodes.uid);
        assert!(by_key["broken.json"].as_ref().unwrap_err().contains("key broken.json"));
    }

    #[test]
    fn gzip_models() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(br#"{"title": "Z"}"#).unwrap();
        assert_eq!(gunzip(&e.finish().unwrap()).unwrap(), r#"{"title": "Z"}"#);
        assert!(gunzip(b"nope").unwrap_err().contains("not valid gzip"));
    }
}
