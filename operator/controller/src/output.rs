//! The server's configuration Secret: the plan's files encoded as Secret data (gzip-compressed,
//! with a `.gz` key suffix, when they would not fit comfortably in a Secret) and written with
//! server-side apply by the field manager `oxeye-operator`. The Secret is written only when its
//! data would change, so an unchanged cluster, or a restarted operator, writes nothing.

use std::collections::BTreeMap;
use std::io::Write;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::{Error, Result};

/// Field manager of the operator's writes.
pub const FIELD_MANAGER: &str = "oxeye-operator";

/// Above this many bytes of plain files, every file is stored gzip-compressed.
const COMPRESS_ABOVE: usize = 512 * 1024;
/// The apiserver refuses Secrets above 1 MiB; leave room for metadata.
const SECRET_LIMIT: usize = 1000 * 1024;

/// The Secret data for `files`. Deterministic: the same files give the same bytes.
pub fn encode(files: &BTreeMap<String, String>) -> Result<BTreeMap<String, ByteString>> {
    let plain: usize = files.values().map(String::len).sum();
    if plain <= COMPRESS_ABOVE {
        return Ok(files.iter().map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec()))).collect());
    }
    let mut out = BTreeMap::new();
    let mut total = 0;
    for (k, v) in files {
        // No file name and a zero mtime in the header keep the output byte-stable.
        let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
        gz.write_all(v.as_bytes()).map_err(|e| Error::Output(format!("compressing {k}: {e}")))?;
        let bytes = gz.finish().map_err(|e| Error::Output(format!("compressing {k}: {e}")))?;
        total += bytes.len();
        out.insert(format!("{k}.gz"), ByteString(bytes));
    }
    if total > SECRET_LIMIT {
        return Err(Error::Output(format!(
            "the rendered configuration is {total} bytes compressed, above what a Secret can hold ({SECRET_LIMIT})"
        )));
    }
    Ok(out)
}

/// Reads and writes the one Secret the server loads.
#[derive(Clone)]
pub struct SecretWriter {
    api: Api<Secret>,
    pub namespace: String,
    pub name: String,
}

/// The Secret as last read or written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub data: BTreeMap<String, ByteString>,
    pub resource_version: String,
}

impl SecretWriter {
    pub fn new(client: Client, namespace: &str, name: &str) -> SecretWriter {
        SecretWriter { api: Api::namespaced(client, namespace), namespace: namespace.into(), name: name.into() }
    }

    /// The Secret as it is now, if it exists.
    pub async fn read(&self) -> Result<Option<Written>> {
        let s = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| Error::Kube(format!("reading Secret {}/{}", self.namespace, self.name), e))?;
        Ok(s.map(|s| Written {
            data: s.data.unwrap_or_default(),
            resource_version: s.metadata.resource_version.unwrap_or_default(),
        }))
    }

    /// Server-side applies `data` as the Secret's whole content.
    pub async fn apply(&self, data: &BTreeMap<String, ByteString>) -> Result<Written> {
        let secret = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": FIELD_MANAGER,
                    "app.kubernetes.io/component": "server-config",
                },
            },
            "type": "Opaque",
            "data": data,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let s = self
            .api
            .patch(&self.name, &params, &Patch::Apply(&secret))
            .await
            .map_err(|e| Error::Kube(format!("writing Secret {}/{}", self.namespace, self.name), e))?;
        Ok(Written {
            data: s.data.unwrap_or_default(),
            resource_version: s.metadata.resource_version.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_configurations_stay_readable_large_ones_are_compressed_stably() {
        let small: BTreeMap<String, String> = [("prometheus.yml".to_string(), "global: {}\n".to_string())].into();
        let enc = encode(&small).unwrap();
        assert_eq!(enc["prometheus.yml"].0, b"global: {}\n");

        let rules: String = (0..20000).map(|i| format!("- record: r{i}\n  expr: up\n")).collect();
        let large: BTreeMap<String, String> =
            [("prometheus.yml".to_string(), "x: 1\n".to_string()), ("r.yaml".to_string(), rules.clone())].into();
        let a = encode(&large).unwrap();
        let b = encode(&large).unwrap();
        assert_eq!(a, b, "deterministic");
        assert_eq!(a.keys().collect::<Vec<_>>(), ["prometheus.yml.gz", "r.yaml.gz"]);
        let mut out = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(a["r.yaml.gz"].0.as_slice()).read_to_string(&mut out).unwrap();
        assert_eq!(out, rules);
    }

    #[test]
    fn configurations_that_cannot_fit_are_refused() {
        // Incompressible content: pseudo-random bytes as hex.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: String = (0..1_200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{:02x}", x & 0xff)
            })
            .collect();
        let files: BTreeMap<String, String> = [("prometheus.yml".to_string(), noise)].into();
        match encode(&files) {
            Ok(d) => panic!("{} compressed bytes accepted", d.values().map(|v| v.0.len()).sum::<usize>()),
            Err(e) => assert!(e.to_string().contains("above what a Secret can hold"), "{e}"),
        }
    }
}
