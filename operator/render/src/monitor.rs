//! What ServiceMonitor and PodMonitor jobs share: the job head (`honor_*`), the
//! `kubernetes_sd_configs` block, the HTTP client fields with credentials resolved from Secrets,
//! the user's relabelings, limits and the job tail, in prometheus-operator's key order. The two
//! monitor modules only add their own target selection and meta-label relabelings.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use oxeye_config::ByteSize;
use oxeye_crd::monitoring::{
    AttachMetadata, BasicAuth, NamespaceSelector, RelabelConfig, SafeAuthorization, SecretKeySelector,
    SecretOrConfigMap, TlsVersion,
};
use serde_yaml_ng::Value;

use crate::config::ScrapeLimits;
use crate::error::{ObjectRef, Result};
use crate::relabel::{self, Requirement, UserRelabel};
use crate::yaml::{Map, strings};
use crate::{RenderOptions, SecretResolver};

/// The TLS settings of an endpoint (`TLSConfig` or `SafeTLSConfig`).
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsView<'a> {
    pub ca: Option<&'a SecretOrConfigMap>,
    pub cert: Option<&'a SecretOrConfigMap>,
    pub key_secret: Option<&'a SecretKeySelector>,
    pub server_name: Option<&'a str>,
    pub insecure_skip_verify: Option<bool>,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
    pub ca_file: Option<&'a str>,
    pub cert_file: Option<&'a str>,
    pub key_file: Option<&'a str>,
}

/// One endpoint of either monitor kind, as far as the shared parts of a job are concerned.
#[derive(Debug, Clone, Default)]
pub(crate) struct EndpointView<'a> {
    /// Manifest path of the endpoint, e.g. `spec.endpoints[0]`.
    pub field: String,
    pub interval: Option<&'a str>,
    pub scrape_timeout: Option<&'a str>,
    pub path: Option<&'a str>,
    pub params: Option<&'a BTreeMap<String, Vec<String>>>,
    pub scheme: Option<&'a str>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub tls: Option<TlsView<'a>>,
    pub bearer_token_file: Option<&'a str>,
    pub bearer_token_secret: Option<&'a SecretKeySelector>,
    pub basic_auth: Option<&'a BasicAuth>,
    pub authorization: Option<&'a SafeAuthorization>,
    /// Fields Oxeye cannot honour, by manifest name (`oauth2`, `proxyUrl`, ...).
    pub unsupported: Vec<&'static str>,
    pub relabelings: &'a [RelabelConfig],
    pub metric_relabelings: &'a [RelabelConfig],
    pub honor_labels: bool,
    pub honor_timestamps: Option<bool>,
    pub track_timestamps_staleness: Option<bool>,
}

/// The monitor-level fields that shape every job of the monitor.
#[derive(Debug, Clone, Default)]
pub(crate) struct MonitorView<'a> {
    pub limits: ScrapeLimits,
    pub attach_metadata: Option<&'a AttachMetadata>,
    pub scrape_protocols: Vec<String>,
    pub fallback_scrape_protocol: Option<String>,
    pub unsupported: Vec<&'static str>,
}

/// `job_name`, `honor_labels` (always written) and `honor_timestamps` /
/// `track_timestamps_staleness` (only when set or overridden).
pub(crate) fn head(job_name: String, ep: &EndpointView<'_>, opts: &RenderOptions) -> Map {
    let mut m = Map::new();
    m.put("job_name", job_name);
    m.put("honor_labels", ep.honor_labels && !opts.override_honor_labels);
    if ep.honor_timestamps.is_some() || opts.override_honor_timestamps {
        m.put("honor_timestamps", ep.honor_timestamps.unwrap_or(false) && !opts.override_honor_timestamps);
    }
    if let Some(t) = ep.track_timestamps_staleness {
        m.put("track_timestamps_staleness", t);
    }
    m
}

/// The `matchLabels` and `matchExpressions` of a selector.
pub(crate) fn selector_parts(sel: &LabelSelector) -> (BTreeMap<String, String>, Vec<Requirement<'_>>) {
    let labels = sel.match_labels.clone().unwrap_or_default();
    let exps = sel
        .match_expressions
        .iter()
        .flatten()
        .map(|e| Requirement { key: &e.key, operator: &e.operator, values: e.values.as_deref().unwrap_or(&[]) })
        .collect();
    (labels, exps)
}

/// `generateK8SSDConfig`: role, namespaces from the namespace selector, `attach_metadata`, and
/// role selectors when the monitor selects with `selectorMechanism: RoleSelector`.
pub(crate) fn kubernetes_sd(
    role: &str,
    namespace: &str,
    ns_sel: Option<&NamespaceSelector>,
    monitor: &MonitorView<'_>,
    role_selectors: Option<(&[&str], String)>,
    opts: &RenderOptions,
) -> Value {
    let mut sd = Map::new();
    sd.put("role", role);
    let namespaces: Vec<String> = match ns_sel {
        _ if opts.ignore_namespace_selectors => vec![namespace.to_string()],
        Some(s) if s.any.unwrap_or(false) => Vec::new(),
        Some(s) if !s.match_names.is_empty() => s.match_names.clone(),
        _ => vec![namespace.to_string()],
    };
    if !namespaces.is_empty() {
        sd.put("namespaces", Map::new().with("names", strings(&namespaces)));
    }
    if let Some(am) = monitor.attach_metadata {
        sd.put("attach_metadata", Map::new().with("node", am.node.unwrap_or(false)));
    }
    if let Some((roles, label)) = role_selectors {
        let sels: Vec<Map> = roles.iter().map(|r| Map::new().with("role", *r).with("label", label.as_str())).collect();
        sd.put("selectors", crate::yaml::maps(sels));
    }
    crate::yaml::maps(vec![sd])
}

fn check_duration(obj: &ObjectRef, field: &str, d: &str) -> Result<std::time::Duration> {
    oxeye_model::parse_duration(d).map_err(|e| obj.err(field, format!("invalid duration {d:?}: {e}")))
}

/// Rejects what Oxeye cannot scrape with, naming the field.
pub(crate) fn check_supported(obj: &ObjectRef, ep: &EndpointView<'_>, monitor: &MonitorView<'_>) -> Result<()> {
    if let Some(f) = monitor.unsupported.first() {
        return Err(obj.err(format!("spec.{f}"), "not supported by Oxeye"));
    }
    if let Some(f) = ep.unsupported.first() {
        return Err(obj.err(format!("{}.{f}", ep.field), "not supported by Oxeye"));
    }
    Ok(())
}

/// `scrape_interval` ... `enable_http2`, then `tls_config` and credentials.
pub(crate) fn http_client(
    m: &mut Map,
    obj: &ObjectRef,
    ep: &EndpointView<'_>,
    secrets: &dyn SecretResolver,
) -> Result<()> {
    let f = &ep.field;
    let interval = ep.interval.filter(|s| !s.is_empty());
    let timeout = ep.scrape_timeout.filter(|s| !s.is_empty());
    if let Some(i) = interval {
        check_duration(obj, &format!("{f}.interval"), i)?;
        m.put("scrape_interval", i);
    }
    if let Some(t) = timeout {
        let td = check_duration(obj, &format!("{f}.scrapeTimeout"), t)?;
        if let Some(i) = interval {
            let id = check_duration(obj, &format!("{f}.interval"), i)?;
            if td > id {
                return Err(
                    obj.err(format!("{f}.scrapeTimeout"), format!("scrapeTimeout {t:?} greater than interval {i:?}"))
                );
            }
        }
        m.put("scrape_timeout", t);
    }
    if let Some(p) = ep.path.filter(|s| !s.is_empty()) {
        if !p.starts_with('/') {
            return Err(obj.err(format!("{f}.path"), format!("path {p:?} must start with '/'")));
        }
        m.put("metrics_path", p);
    }
    if let Some(params) = ep.params {
        let mut pm = Map::new();
        for (k, v) in params {
            pm.put(k, strings(v));
        }
        m.put("params", pm);
    }
    if let Some(s) = ep.scheme {
        let lower = s.to_ascii_lowercase();
        if lower != "http" && lower != "https" {
            return Err(obj.err(format!("{f}.scheme"), format!("invalid scheme {s:?}, expected http or https")));
        }
        m.put("scheme", lower);
    }
    if let Some(b) = ep.follow_redirects {
        m.put("follow_redirects", b);
    }
    if let Some(b) = ep.enable_http2 {
        m.put("enable_http2", b);
    }
    if let Some(tls) = &ep.tls {
        m.put("tls_config", tls_config(obj, &format!("{f}.tlsConfig"), tls, secrets)?);
    }
    if let Some(file) = ep.bearer_token_file.filter(|s| !s.is_empty()) {
        m.put("bearer_token_file", file);
    }
    if let Some(sel) = ep.bearer_token_secret.filter(|s| s.name.as_deref().is_some_and(|n| !n.is_empty())) {
        m.put("bearer_token", secret(obj, &format!("{f}.bearerTokenSecret"), sel, secrets)?);
    }
    if let Some(ba) = ep.basic_auth {
        let bf = format!("{f}.basicAuth");
        let user = match &ba.username {
            Some(s) => secret(obj, &format!("{bf}.username"), s, secrets)?,
            None => String::new(),
        };
        let pass = match &ba.password {
            Some(s) => secret(obj, &format!("{bf}.password"), s, secrets)?,
            None => String::new(),
        };
        m.put("basic_auth", Map::new().with("username", user).with("password", pass));
    }
    if let Some(auth) = ep.authorization {
        let af = format!("{f}.authorization");
        let kind = auth.type_.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("Bearer");
        if kind.eq_ignore_ascii_case("basic") {
            return Err(obj.err(format!("{af}.type"), "authorization type cannot be \"Basic\", use basicAuth instead"));
        }
        let mut am = Map::new().with("type", kind);
        if let Some(c) = &auth.credentials {
            am.put("credentials", secret(obj, &format!("{af}.credentials"), c, secrets)?);
        }
        m.put("authorization", am);
    }
    let auths = [ep.basic_auth.is_some(), ep.authorization.is_some(), ep.bearer_token_secret.is_some()];
    if auths.iter().filter(|b| **b).count() > 1 || (ep.bearer_token_file.is_some() && auths.iter().any(|b| *b)) {
        return Err(obj.err(
            f.as_str(),
            "at most one of basicAuth, authorization, bearerTokenSecret and bearerTokenFile may be set",
        ));
    }
    Ok(())
}

fn secret(obj: &ObjectRef, field: &str, sel: &SecretKeySelector, secrets: &dyn SecretResolver) -> Result<String> {
    let name = sel.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err(obj.err(field, "secret name is empty"));
    }
    secrets
        .secret_key(&obj.namespace, name, &sel.key)
        .map_err(|e| obj.err(field, format!("key {:?} of secret {}/{name}: {e}", sel.key, obj.namespace)))
}

fn secret_or_config_map(
    obj: &ObjectRef,
    field: &str,
    r: &SecretOrConfigMap,
    secrets: &dyn SecretResolver,
) -> Result<Option<String>> {
    match (&r.secret, &r.config_map) {
        (Some(_), Some(_)) => Err(obj.err(field, "only one of secret and configMap may be set")),
        (Some(s), None) => secret(obj, &format!("{field}.secret"), s, secrets).map(Some),
        (None, Some(c)) => {
            let name = c.name.as_deref().unwrap_or_default();
            secrets
                .config_map_key(&obj.namespace, name, &c.key)
                .map(Some)
                .map_err(|e| obj.err(format!("{field}.configMap"), format!("key {:?}: {e}", c.key)))
        }
        (None, None) => Ok(None),
    }
}

/// `addTLStoYaml` with prometheus-operator's inline-TLS form: CA, certificate and key are written
/// as `ca`/`cert`/`key` values rather than files mounted next to the configuration.
fn tls_config(obj: &ObjectRef, field: &str, tls: &TlsView<'_>, secrets: &dyn SecretResolver) -> Result<Map> {
    let mut m = Map::new();
    if let Some(b) = tls.insecure_skip_verify {
        m.put("insecure_skip_verify", b);
    }
    if let Some(ca) = tls.ca
        && let Some(v) = secret_or_config_map(obj, &format!("{field}.ca"), ca, secrets)?
    {
        m.put("ca", v);
    }
    if let Some(cert) = tls.cert
        && let Some(v) = secret_or_config_map(obj, &format!("{field}.cert"), cert, secrets)?
    {
        m.put("cert", v);
    }
    if let Some(key) = tls.key_secret {
        m.put("key", secret(obj, &format!("{field}.keySecret"), key, secrets)?);
    }
    if tls.server_name.is_some_and(|s| !s.is_empty()) {
        // Oxeye's HTTP client cannot override the name it verifies; scraping with a different
        // identity than asked for would be worse than refusing.
        return Err(obj.err(format!("{field}.serverName"), "not supported by Oxeye"));
    }
    if let Some(v) = tls.min_version {
        m.put("min_version", tls_version(v));
    }
    if let Some(v) = tls.max_version {
        m.put("max_version", tls_version(v));
    }
    for (key, file) in [("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)] {
        if let Some(file) = file.filter(|f| !f.is_empty()) {
            m.put(key, file);
        }
    }
    for (inline, file) in [("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")] {
        if m.0.contains_key(inline) && m.0.contains_key(file) {
            return Err(
                obj.err(field, format!("at most one of {inline} (from a Secret/ConfigMap) and {file} may be set"))
            );
        }
    }
    let has = |k: &str| m.0.contains_key(k);
    if (has("cert") || has("cert_file")) != (has("key") || has("key_file")) {
        return Err(obj.err(field, "a client certificate and its key must be set together"));
    }
    Ok(m)
}

fn tls_version(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::TLS10 => "TLS10",
        TlsVersion::TLS11 => "TLS11",
        TlsVersion::TLS12 => "TLS12",
        TlsVersion::TLS13 => "TLS13",
    }
}

/// The user's relabel rules (validated), then the enforced namespace label rule.
pub(crate) fn user_relabelings(
    obj: &ObjectRef,
    field: &str,
    list: &[RelabelConfig],
    opts: &RenderOptions,
) -> Result<Vec<Map>> {
    let mut out = Vec::with_capacity(list.len() + 1);
    for (i, rc) in list.iter().enumerate() {
        let r = UserRelabel {
            source_labels: &rc.source_labels,
            separator: rc.separator.as_deref(),
            target_label: rc.target_label.as_deref(),
            regex: rc.regex.as_deref(),
            modulus: rc.modulus,
            replacement: rc.replacement.as_deref(),
            action: rc.action.as_ref().map(|a| a.as_str()),
        };
        out.push(relabel::user_rule(obj, &format!("{field}[{i}]"), &r)?);
    }
    if let Some(label) = opts.enforced_namespace_label.as_deref().filter(|l| !l.is_empty()) {
        out.push(relabel::enforced_namespace(label, &obj.namespace));
    }
    Ok(out)
}

/// `getLimit` for Prometheus >= 2.45: the lower of the monitor's limit and the enforced one; no
/// limit when only the enforced one is set, because the global section then applies it.
fn limit(user: Option<u64>, enforced: Option<u64>) -> Option<u64> {
    match (user, enforced.filter(|e| *e > 0)) {
        (u, None) => u,
        (None | Some(0), Some(_)) => None,
        (Some(u), Some(e)) => Some(u.min(e)),
    }
}

/// `getLowerByteSize`: the lower of the monitor's body size limit and the enforced one.
fn body_size_limit(obj: &ObjectRef, user: Option<&str>, enforced: Option<&str>) -> Result<Option<String>> {
    let parse =
        |field: &str, s: &str| ByteSize::parse(s).map_err(|e| obj.err(field, format!("invalid byte size {s:?}: {e}")));
    let user = user.filter(|s| !s.is_empty());
    let enforced = enforced.filter(|s| !s.is_empty());
    Ok(match (user, enforced) {
        (None, None) => None,
        (Some(u), None) => {
            parse("spec.bodySizeLimit", u)?;
            Some(u.to_string())
        }
        (None, Some(e)) => Some(e.to_string()),
        (Some(u), Some(e)) => {
            let (uv, ev) = (parse("spec.bodySizeLimit", u)?, parse("enforcedBodySizeLimit", e)?);
            Some(if uv <= ev { u } else { e }.to_string())
        }
    })
}

/// `relabel_configs`, the limits, protocols, body size limit and `metric_relabel_configs`.
pub(crate) fn tail(
    m: &mut Map,
    obj: &ObjectRef,
    ep: &EndpointView<'_>,
    monitor: &MonitorView<'_>,
    relabelings: Vec<Map>,
    opts: &RenderOptions,
) -> Result<()> {
    m.put("relabel_configs", crate::yaml::maps(relabelings));
    let enforced = opts.enforced_limits.numeric();
    for ((key, user), (_, enf)) in monitor.limits.numeric().into_iter().zip(enforced) {
        if let Some(v) = limit(user, enf) {
            m.put(key, v);
        }
    }
    if !monitor.scrape_protocols.is_empty() {
        m.put("scrape_protocols", strings(&monitor.scrape_protocols));
    }
    if let Some(p) = &monitor.fallback_scrape_protocol {
        m.put("fallback_scrape_protocol", p.as_str());
    }
    if let Some(b) = body_size_limit(
        obj,
        monitor.limits.body_size_limit.as_deref(),
        opts.enforced_limits.body_size_limit.as_deref(),
    )? {
        m.put("body_size_limit", b);
    }
    let metric = user_relabelings(obj, &format!("{}.metricRelabelings", ep.field), ep.metric_relabelings, opts)?;
    if !metric.is_empty() {
        m.put("metric_relabel_configs", crate::yaml::maps(metric));
    }
    Ok(())
}

/// A scrape protocol as Prometheus spells it.
pub(crate) fn protocol_name<T: serde::Serialize>(p: &T) -> String {
    match serde_yaml_ng::to_value(p) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_get_limit() {
        assert_eq!(limit(Some(10), None), Some(10));
        assert_eq!(limit(None, Some(5)), None);
        assert_eq!(limit(Some(10), Some(5)), Some(5));
        assert_eq!(limit(Some(3), Some(5)), Some(3));
        assert_eq!(limit(Some(0), Some(5)), None);
    }
}
