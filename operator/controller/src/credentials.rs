//! The contents of the Secrets and ConfigMaps that monitors reference (basic auth, bearer
//! tokens, TLS material). Only referenced objects are read, each once per resourceVersion; the
//! renderer writes the values inline into the configuration Secret.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use oxeye_operator_render::SecretResolver;

use crate::cluster::Cluster;
use crate::plan::CredentialRef;

/// What was read for one reference (its keys, `None` for a value that is not UTF-8 text), or
/// why it could not be read.
type Entry = (String, Result<BTreeMap<String, Option<String>>, String>);

/// Fetched credentials, keyed by reference, each with the resourceVersion it was read at.
pub struct Credentials {
    client: Client,
    cache: HashMap<CredentialRef, Entry>,
}

impl Credentials {
    pub fn new(client: Client) -> Credentials {
        Credentials { client, cache: HashMap::new() }
    }

    /// Reads what `refs` names and changed since the last read; forgets the rest.
    pub async fn refresh(&mut self, refs: &BTreeSet<CredentialRef>, cluster: &Cluster) {
        self.cache.retain(|k, _| refs.contains(k));
        for r in refs {
            let Some(version) = cluster.credential_version(r) else {
                self.cache.remove(r);
                continue;
            };
            if self.cache.get(r).is_some_and(|(v, _)| *v == version) {
                continue;
            }
            let read = self.read(r).await;
            if let Err(e) = &read {
                tracing::warn!(namespace = %r.namespace, name = %r.name, error = %e, "reading a referenced credential failed");
            }
            self.cache.insert(r.clone(), (version, read));
        }
    }

    async fn read(&self, r: &CredentialRef) -> Result<BTreeMap<String, Option<String>>, String> {
        let what = if r.config_map { "ConfigMap" } else { "Secret" };
        let fail = |e: kube::Error| format!("cannot read {what} {}/{}: {e}", r.namespace, r.name);
        if r.config_map {
            let cm =
                Api::<ConfigMap>::namespaced(self.client.clone(), &r.namespace).get_opt(&r.name).await.map_err(fail)?;
            let cm = cm.ok_or_else(|| format!("ConfigMap {}/{} not found", r.namespace, r.name))?;
            let mut out: BTreeMap<String, Option<String>> =
                cm.data.unwrap_or_default().into_iter().map(|(k, v)| (k, Some(v))).collect();
            for (k, v) in cm.binary_data.unwrap_or_default() {
                out.insert(k, String::from_utf8(v.0).ok());
            }
            Ok(out)
        } else {
            let s =
                Api::<Secret>::namespaced(self.client.clone(), &r.namespace).get_opt(&r.name).await.map_err(fail)?;
            let s = s.ok_or_else(|| format!("secret {}/{} not found", r.namespace, r.name))?;
            // Only keys someone asks for need to be text; the others may hold anything.
            Ok(s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, String::from_utf8(v.0).ok())).collect())
        }
    }

    fn lookup(&self, config_map: bool, namespace: &str, name: &str, key: &str) -> Result<String, String> {
        let what = if config_map { "ConfigMap" } else { "secret" };
        let r = CredentialRef { config_map, namespace: namespace.into(), name: name.into() };
        match self.cache.get(&r) {
            None => Err(format!("{what} {namespace}/{name} not found")),
            Some((_, Err(e))) => Err(e.clone()),
            Some((_, Ok(keys))) => match keys.get(key) {
                Some(Some(v)) => Ok(v.clone()),
                Some(None) => Err(format!("{what} {namespace}/{name}: key {key:?} is not UTF-8 text")),
                None => Err(format!("{what} {namespace}/{name} has no key {key:?}")),
            },
        }
    }
}

impl SecretResolver for Credentials {
    fn secret_key(&self, namespace: &str, name: &str, key: &str) -> Result<String, String> {
        self.lookup(false, namespace, name, key)
    }

    fn config_map_key(&self, namespace: &str, name: &str, key: &str) -> Result<String, String> {
        self.lookup(true, namespace, name, key)
    }
}
