//! `kubernetes_sd_configs` entries: Prometheus's Kubernetes `SDConfig` with its field names,
//! defaults and validation rules (messages included). Plain serde types: the `oxeye-kubesd`
//! crate builds the Kubernetes client and runs discovery from them.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Issue;
use crate::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig, join_dir};
use crate::values::{Secret, with_unsupported_fields, yaml11_bool};

/// The kind of Kubernetes object a `kubernetes_sd_config` turns into targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Pod,
    Service,
    Endpoints,
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    Node,
    Ingress,
}

impl Role {
    /// The name used in YAML and in meta label names (`__meta_kubernetes_<role>_...`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Node => "node",
            Role::Ingress => "ingress",
        }
    }

    /// The roles whose resources a discovery of this role may filter with `selectors`
    /// (Prometheus 3.x `allowedSelectors`).
    pub fn allowed_selector_roles(self) -> &'static [Role] {
        match self {
            Role::Pod => &[Role::Pod, Role::Node],
            Role::Service => &[Role::Service],
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints, Role::Node],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice, Role::Node],
            Role::Node => &[Role::Node],
            Role::Ingress => &[Role::Ingress],
        }
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "pod" => Role::Pod,
            "service" => Role::Service,
            "endpoints" => Role::Endpoints,
            "endpointslice" => Role::EndpointSlice,
            "node" => Role::Node,
            "ingress" => Role::Ingress,
            _ => return Err(serde::de::Error::custom(format!("unknown Kubernetes SD role {s:?}"))),
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `namespaces`: which namespaces to watch. Empty means all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamespaceDiscovery {
    #[serde(deserialize_with = "yaml11_bool")]
    pub own_namespace: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// One `selectors` entry: a label and/or field selector for the resources of `role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorConfig {
    pub role: Role,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// `attach_metadata`: extra objects whose metadata is attached to targets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachMetadataConfig {
    /// Node labels and annotations (roles pod, endpoints, endpointslice).
    #[serde(deserialize_with = "yaml11_bool")]
    pub node: bool,
    /// Namespace labels and annotations (all roles but node).
    #[serde(deserialize_with = "yaml11_bool")]
    pub namespace: bool,
}

/// A `kubernetes_sd_configs` entry. The YAML form inlines the HTTP client fields; they land in
/// `http_client`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KubernetesSdConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<String>,
    pub role: Role,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kubeconfig_file: String,
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    pub namespaces: NamespaceDiscovery,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<SelectorConfig>,
    pub attach_metadata: AttachMetadataConfig,
    #[serde(skip)]
    pub(crate) unsupported: Vec<&'static str>,
}

// No floating-point fields: equality is total, so jobs can compare discovery configs.
impl Eq for KubernetesSdConfig {}

impl KubernetesSdConfig {
    /// A config for `role` with every other field at its default.
    pub fn new(role: Role) -> Self {
        KubernetesSdConfig {
            api_server: None,
            role,
            kubeconfig_file: String::new(),
            http_client: HttpClientConfig::default(),
            namespaces: NamespaceDiscovery::default(),
            selectors: Vec::new(),
            attach_metadata: AttachMetadataConfig::default(),
            unsupported: Vec::new(),
        }
    }

    /// The label and field selectors configured for `role`'s resources.
    pub fn selector(&self, role: Role) -> Option<&SelectorConfig> {
        self.selectors.iter().find(|s| s.role == role)
    }
}

impl KubernetesSdConfig {
    /// Prometheus's `SDConfig.UnmarshalYAML` checks in its order, after the HTTP client's own
    /// validation. `path` is the YAML path of this block, e.g. `scrape_configs[0].kubernetes_sd_configs[1]`.
    pub(crate) fn validate(&mut self, path: &str) -> Result<(), Issue> {
        let at = |field: &str| format!("{path}.{field}");
        if let Some(field) = self.unsupported.first() {
            return Err(Issue::unsupported(path, field));
        }
        if let Some(issue) = self.http_client.nested_unsupported(path).into_iter().next() {
            return Err(issue);
        }
        if self.role == Role::Ingress {
            return Err(Issue::invalid(at("role"), "role ingress is not supported by Oxeye yet"));
        }
        self.http_client.validate(path)?;
        let custom_http = self.http_client != HttpClientConfig::default();
        if let Some(url) = &self.api_server {
            check_api_server(url).map_err(|m| Issue::invalid(at("api_server"), m))?;
        }
        if self.api_server.is_some() && !self.kubeconfig_file.is_empty() {
            return Err(Issue::invalid(
                at("api_server"),
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ));
        }
        if !self.kubeconfig_file.is_empty() && custom_http {
            return Err(Issue::invalid(
                at("kubeconfig_file"),
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            ));
        }
        if self.api_server.is_none() && custom_http {
            return Err(Issue::invalid(
                path,
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            ));
        }
        if self.api_server.is_some() && self.namespaces.own_namespace {
            return Err(Issue::invalid(
                at("namespaces.own_namespace"),
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
            ));
        }
        if !self.kubeconfig_file.is_empty() && self.namespaces.own_namespace {
            return Err(Issue::invalid(
                at("namespaces.own_namespace"),
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
            ));
        }
        let allowed = self.role.allowed_selector_roles();
        for (i, sel) in self.selectors.iter().enumerate() {
            let sat = at(&format!("selectors[{i}]"));
            if self.selectors[..i].iter().any(|s| s.role == sel.role) {
                return Err(Issue::invalid(&sat, format!("duplicated selector role: {}", sel.role)));
            }
            if !allowed.contains(&sel.role) {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(Issue::invalid(
                    &sat,
                    format!("{} role supports only {} selectors", self.role, names.join(", ")),
                ));
            }
            check_selector(&sel.label).map_err(|m| Issue::invalid(format!("{sat}.label"), m))?;
            check_selector(&sel.field).map_err(|m| Issue::invalid(format!("{sat}.field"), m))?;
        }
        Ok(())
    }

    /// Joins relative file paths with `dir` (Prometheus's `SetDirectory`).
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        self.http_client.set_directory(dir);
        join_dir(dir, &mut self.kubeconfig_file);
    }
}

/// Checks every entry of a `kubernetes_sd_configs` list under `path`.
pub(crate) fn check_kubernetes_sd_configs(configs: &mut [KubernetesSdConfig], path: &str) -> Result<(), Issue> {
    for (i, c) in configs.iter_mut().enumerate() {
        c.validate(&format!("{path}.kubernetes_sd_configs[{i}]"))?;
    }
    Ok(())
}

fn check_api_server(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("invalid api_server URL {url:?}"))?;
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if !matches!(scheme, "http" | "https") || host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("invalid api_server URL {url:?}: want http(s)://host[:port]"));
    }
    Ok(())
}

/// A light syntax check of a label or field selector: parentheses balanced and no empty
/// top-level requirement. The API server parses the rest and reports it when listing.
fn check_selector(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Ok(());
    }
    let mut depth = 0i32;
    let mut part = String::new();
    for c in s.chars().chain(std::iter::once(',')) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                if part.trim().is_empty() {
                    return Err(format!("found ',', expected: identifier in selector {s:?}"));
                }
                part.clear();
                continue;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(format!("unbalanced parentheses in selector {s:?}"));
        }
        part.push(c);
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in selector {s:?}"));
    }
    Ok(())
}

with_unsupported_fields! {
    /// The YAML form: Prometheus inlines the HTTP client fields into the SD block.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawKubernetesSdConfig {
        #[serde(default)]
        api_server: Option<String>,
        #[serde(default)]
        role: Option<Role>,
        #[serde(default)]
        kubeconfig_file: String,
        #[serde(default)]
        namespaces: Option<NamespaceDiscovery>,
        #[serde(default)]
        selectors: Option<Vec<SelectorConfig>>,
        #[serde(default)]
        attach_metadata: Option<AttachMetadataConfig>,
        #[serde(default)]
        basic_auth: Option<BasicAuth>,
        #[serde(default)]
        authorization: Option<Authorization>,
        #[serde(default)]
        bearer_token: Secret,
        #[serde(default)]
        bearer_token_file: String,
        #[serde(default)]
        tls_config: Option<TlsConfig>,
        #[serde(default = "yes", deserialize_with = "yaml11_bool")]
        follow_redirects: bool,
        #[serde(default = "yes", deserialize_with = "yaml11_bool")]
        enable_http2: bool,
    }
    unsupported: [oauth2, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header, http_headers]
}

fn yes() -> bool {
    true
}

impl<'de> Deserialize<'de> for KubernetesSdConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawKubernetesSdConfig::deserialize(d)?;
        let unsupported = r.unsupported_fields();
        let role = r.role.ok_or_else(|| {
            serde::de::Error::custom("role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")
        })?;
        Ok(KubernetesSdConfig {
            api_server: r.api_server.filter(|s| !s.is_empty()),
            role,
            kubeconfig_file: r.kubeconfig_file,
            http_client: HttpClientConfig {
                basic_auth: r.basic_auth,
                authorization: r.authorization,
                bearer_token: r.bearer_token,
                bearer_token_file: r.bearer_token_file,
                tls_config: r.tls_config.unwrap_or_default(),
                follow_redirects: r.follow_redirects,
                enable_http2: r.enable_http2,
            },
            namespaces: r.namespaces.unwrap_or_default(),
            selectors: r.selectors.unwrap_or_default(),
            attach_metadata: r.attach_metadata.unwrap_or_default(),
            unsupported,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<KubernetesSdConfig, String> {
        serde_yaml_ng::from_str::<KubernetesSdConfig>(y).map_err(|e| e.to_string())
    }

    fn check(y: &str) -> Result<KubernetesSdConfig, String> {
        let mut c = parse(y)?;
        c.validate("k").map_err(|i| match i.kind {
            crate::ErrorKind::Invalid(m) => m,
            other => format!("{other:?}"),
        })?;
        Ok(c)
    }

    #[test]
    fn parses_full_config() {
        let c = check(
            "api_server: https://127.0.0.1:6443\nrole: endpointslice\nnamespaces: {names: [a, b]}\n\
             selectors: [{role: pod, label: 'app=x'}, {role: endpointslice, field: 'metadata.name=s'}]\n\
             attach_metadata: {node: yes, namespace: true}\n\
             authorization: {credentials_file: /tok}\ntls_config: {ca_file: /ca.pem}\n",
        )
        .unwrap();
        assert_eq!(c.role, Role::EndpointSlice);
        assert_eq!(c.api_server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(c.namespaces.names, ["a", "b"]);
        assert_eq!(c.selector(Role::Pod).map(|s| s.label.as_str()), Some("app=x"));
        assert!(c.attach_metadata.node && c.attach_metadata.namespace);
        assert_eq!(c.http_client.tls_config.ca_file, "/ca.pem");
        assert_eq!(c.http_client.authorization.as_ref().map(|a| a.kind.as_str()), Some("Bearer"));
        assert!(c.http_client.follow_redirects && c.http_client.enable_http2);
    }

    #[test]
    fn role_is_required_and_checked() {
        let e = parse("api_server: http://x\n").unwrap_err();
        assert!(e.contains("role missing"), "{e}");
        let e = parse("role: deployment\n").unwrap_err();
        assert!(e.contains("unknown Kubernetes SD role \"deployment\""), "{e}");
        assert!(parse("role: pod\nfoo: 1\n").unwrap_err().contains("unknown field"));
    }

    #[test]
    fn prometheus_validation_rules() {
        let cases = [
            ("role: pod\napi_server: http://a\nkubeconfig_file: k\n", "cannot use 'kubeconfig_file' and 'api_server'"),
            ("role: pod\nkubeconfig_file: k\nbasic_auth: {username: u}\n", "together with 'kubeconfig_file'"),
            ("role: pod\nbearer_token_file: t\n", "provide the 'api_server' URL explicitly"),
            (
                "role: pod\napi_server: http://a\nnamespaces: {own_namespace: true}\n",
                "'api_server' and 'namespaces.own_namespace'",
            ),
            (
                "role: pod\nkubeconfig_file: k\nnamespaces: {own_namespace: true}\n",
                "'kubeconfig_file' and 'namespaces.own_namespace'",
            ),
            ("role: service\nselectors: [{role: pod}]\n", "service role supports only service selectors"),
            ("role: endpoints\nselectors: [{role: pod}, {role: pod}]\n", "duplicated selector role: pod"),
            ("role: pod\nselectors: [{role: pod, label: 'a=b,,c=d'}]\n", "expected: identifier"),
            ("role: pod\nselectors: [{role: pod, label: 'a in (b'}]\n", "unbalanced parentheses"),
            ("role: ingress\n", "not supported by Oxeye yet"),
            ("role: pod\napi_server: 'not a url'\n", "invalid api_server URL"),
            (
                "role: pod\napi_server: http://a\nbasic_auth: {username: u}\nbearer_token: t\n",
                "at most one of basic_auth",
            ),
            ("role: pod\noauth2: {client_id: x}\n", "Unsupported"),
        ];
        for (y, want) in cases {
            let e = check(y).expect_err(y);
            assert!(e.contains(want), "{y}: got {e:?}, want {want:?}");
        }
        check("role: endpoints\nselectors: [{role: pod, label: 'a in (x,y)'}, {role: node}]\n").unwrap();
        check("role: pod\nnamespaces: {own_namespace: true, names: [x]}\n").unwrap();
    }
}
