//! The Kubernetes client of a `kubernetes_sd_config`, chosen as Prometheus chooses it: a
//! kubeconfig file, an explicit `api_server` with the config's HTTP client settings, or the
//! pod's service account (in-cluster) when neither is given, and outside a pod the kubeconfig of
//! the environment (an Oxeye extension).

use std::path::Path;

use base64::Engine as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use oxeye_config::HttpClientConfig;
use secrecy::SecretString;

use crate::config::KubernetesSdConfig;
use crate::{Error, Result};

/// Where the pod's own namespace is written in-cluster.
const OWN_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// A connected client plus the namespace the process runs in (in-cluster only).
pub struct Connection {
    pub client: kube::Client,
    pub own_namespace: Option<String>,
}

/// Builds the client for `cfg`. No request is made yet.
pub async fn connect(cfg: &KubernetesSdConfig) -> Result<Connection> {
    let (config, own_namespace) = if !cfg.kubeconfig_file.is_empty() {
        let path = &cfg.kubeconfig_file;
        let kc = Kubeconfig::read_from(path)
            .map_err(|e| Error::Kubeconfig { path: path.clone(), message: e.to_string() })?;
        let c = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Kubeconfig { path: path.clone(), message: e.to_string() })?;
        (c, None)
    } else if let Some(url) = &cfg.api_server {
        (api_server_config(url, &cfg.http_client)?, None)
    } else {
        match kube::Config::incluster() {
            Ok(c) => {
                let own = if cfg.namespaces.own_namespace {
                    let ns = read_trimmed(OWN_NAMESPACE_FILE)?;
                    if ns.is_empty() {
                        return Err(Error::InCluster("could not read own namespace name (empty file)".into()));
                    }
                    Some(ns)
                } else {
                    None
                };
                tracing::info!("using pod service account via in-cluster config");
                (c, own)
            }
            // Oxeye extension: outside a pod, where Prometheus fails, the kubeconfig of the
            // environment (KUBECONFIG, else ~/.kube/config) is used, so configurations written
            // for in-cluster use (oxeye-operator's) also run on a workstation.
            Err(in_cluster) => {
                let c = kube::Config::from_kubeconfig(&KubeConfigOptions::default()).await.map_err(|e| {
                    Error::InCluster(format!("{in_cluster}; no kubeconfig in the environment either: {e}"))
                })?;
                let own = cfg.namespaces.own_namespace.then(|| c.default_namespace.clone());
                tracing::info!("not in a cluster: using the kubeconfig of the environment");
                (c, own)
            }
        }
    };
    let client = kube::Client::try_from(config)?;
    Ok(Connection { client, own_namespace })
}

fn read_trimmed(path: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| Error::Io { path: path.to_string(), source })
}

/// The client config for an explicit `api_server`: basic auth, bearer token (inline, or a file
/// re-read as it changes), CA, client certificate and `insecure_skip_verify`.
/// `follow_redirects` and `enable_http2` are accepted and have no effect: the API server does
/// not redirect and the client negotiates its HTTP version itself.
pub fn api_server_config(url: &str, http: &HttpClientConfig) -> Result<kube::Config> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| Error::Config { field: "api_server".into(), message: e.to_string() })?;
    let mut c = kube::Config::new(uri);
    if let Some(b) = &http.basic_auth {
        let user = if b.username_file.is_empty() { b.username.clone() } else { read_trimmed(&b.username_file)? };
        let pass =
            if b.password_file.is_empty() { b.password.expose().to_string() } else { read_trimmed(&b.password_file)? };
        c.auth_info.username = Some(user);
        c.auth_info.password = Some(SecretString::from(pass));
    }
    // Validation moves `bearer_token(_file)` into `authorization`; accept both forms here.
    let (credentials, credentials_file, kind) = match &http.authorization {
        Some(a) => (a.credentials.expose().to_string(), a.credentials_file.clone(), a.kind.clone()),
        None => (http.bearer_token.expose().to_string(), http.bearer_token_file.clone(), "Bearer".to_string()),
    };
    if !kind.is_empty()
        && !kind.eq_ignore_ascii_case("bearer")
        && (!credentials.is_empty() || !credentials_file.is_empty())
    {
        return Err(Error::Config {
            field: "authorization.type".into(),
            message: format!("authorization type {kind:?} is not supported yet for kubernetes_sd_configs"),
        });
    }
    if !credentials.is_empty() {
        c.auth_info.token = Some(SecretString::from(credentials));
    } else if !credentials_file.is_empty() {
        c.auth_info.token_file = Some(credentials_file);
    }
    let tls = &http.tls_config;
    if !tls.ca_file.is_empty() {
        c.root_cert_file = Some(Path::new(&tls.ca_file).to_path_buf());
    }
    if !tls.ca.is_empty() {
        c.root_cert = Some(pem_certificates(&tls.ca));
    }
    if !tls.cert_file.is_empty() {
        c.auth_info.client_certificate = Some(tls.cert_file.clone());
    }
    if !tls.key_file.is_empty() {
        c.auth_info.client_key = Some(tls.key_file.clone());
    }
    if !tls.cert.is_empty() {
        c.auth_info.client_certificate_data = Some(base64(tls.cert.as_bytes()));
    }
    if !tls.key.is_empty() {
        c.auth_info.client_key_data = Some(SecretString::from(base64(tls.key.expose().as_bytes())));
    }
    c.accept_invalid_certs = tls.insecure_skip_verify;
    if !tls.server_name.is_empty() {
        c.tls_server_name = Some(tls.server_name.clone());
    }
    Ok(c)
}

/// DER certificates from inline PEM text (`tls_config.ca`).
fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut body = String::new();
    let mut inside = false;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            body.clear();
        } else if line.starts_with("-----END CERTIFICATE") {
            inside = false;
            if let Some(der) = unbase64(&body) {
                out.push(der);
            }
        } else if inside {
            body.push_str(line);
        }
    }
    out
}

/// Standard base64: kube wants the `*_data` fields encoded, as in kubeconfigs.
fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "abcd", "-----BEGIN-----\n\u{1}\u{ff}"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).as_deref(), Some(s.as_bytes()), "{s:?}");
        }
        assert_eq!(base64(b"hello"), "aGVsbG8=");
    }

    // `Authorization` has private fields, so the struct-update syntax clippy suggests is unavailable.
    #[allow(clippy::field_reassign_with_default)]
    #[test]
    fn api_server_config_carries_auth_and_tls() {
        let mut http = HttpClientConfig::default();
        http.bearer_token_file = "/run/token".into();
        http.tls_config.ca_file = "/ca.pem".into();
        http.tls_config.insecure_skip_verify = true;
        let c = api_server_config("https://127.0.0.1:6443", &http).unwrap();
        assert_eq!(c.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(c.auth_info.token_file.as_deref(), Some("/run/token"));
        assert_eq!(c.root_cert_file.as_deref(), Some(Path::new("/ca.pem")));
        assert!(c.accept_invalid_certs);

        let mut http = HttpClientConfig::default();
        let mut auth = oxeye_config::Authorization::default();
        auth.kind = "Digest".into();
        auth.credentials = oxeye_config::Secret::new("x");
        http.authorization = Some(auth);
        assert!(matches!(api_server_config("https://h", &http), Err(Error::Config { .. })));
    }
}
