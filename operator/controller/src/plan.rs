//! The reconcile decision as a pure function: from the objects in the cluster, the operator's
//! settings and the credentials they reference, which objects are selected, which are accepted
//! or rejected (and why), and the exact files of the server's Secret (`prometheus.yml` plus one
//! rule file per accepted PrometheusRule). Same input, byte-identical output.
//!
//! It knows nothing about the API server: the controller gathers the [`Snapshot`] and applies
//! the [`Plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use oxeye_crd::{PodMonitor, PrometheusRule, ServiceMonitor};
use oxeye_operator_render::{
    RenderError, RenderOptions, ScrapeConfigOut, SecretResolver, render_config, render_pod_monitor,
    render_prometheus_rule, render_service_monitor,
};

use crate::settings::Settings;

/// The key of the configuration file in the server's Secret.
pub const CONFIG_FILE: &str = "prometheus.yml";

/// The three kinds the operator renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    ServiceMonitor,
    PodMonitor,
    PrometheusRule,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ServiceMonitor => "ServiceMonitor",
            Kind::PodMonitor => "PodMonitor",
            Kind::PrometheusRule => "PrometheusRule",
        }
    }

    /// The resource name (`excludedFromEnforcement`, RBAC).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::ServiceMonitor => "servicemonitors",
            Kind::PodMonitor => "podmonitors",
            Kind::PrometheusRule => "prometheusrules",
        }
    }

    pub const ALL: [Kind; 3] = [Kind::ServiceMonitor, Kind::PodMonitor, Kind::PrometheusRule];
}

/// Kind, namespace and name of one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

/// What the cluster holds, as far as the plan is concerned.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub service_monitors: Vec<Arc<ServiceMonitor>>,
    pub pod_monitors: Vec<Arc<PodMonitor>>,
    pub rules: Vec<Arc<PrometheusRule>>,
    /// Namespace name to its labels.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

/// What an accepted object contributes to the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contribution {
    /// Scrape job names (`serviceMonitor/<ns>/<name>/<i>`), one per endpoint.
    Jobs(Vec<String>),
    /// The rule file name and its group names.
    RuleFile { file: String, groups: Vec<String> },
}

/// The verdict on one selected object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted(Contribution),
    /// Not rendered; `message` names the field and what is wrong with it.
    Rejected {
        message: String,
    },
}

/// One selected object and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub key: ObjectKey,
    pub uid: String,
    pub generation: Option<i64>,
    pub verdict: Verdict,
}

/// The desired state: the Secret's files and a verdict per selected object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// File name to content; always holds [`CONFIG_FILE`].
    pub files: BTreeMap<String, String>,
    /// Sorted by key.
    pub outcomes: Vec<Outcome>,
}

impl Plan {
    pub fn accepted(&self, kind: Kind) -> usize {
        self.outcomes.iter().filter(|o| o.key.kind == kind && matches!(o.verdict, Verdict::Accepted(_))).count()
    }

    pub fn rejected(&self, kind: Kind) -> usize {
        self.outcomes.iter().filter(|o| o.key.kind == kind && matches!(o.verdict, Verdict::Rejected { .. })).count()
    }
}

/// A Secret or ConfigMap a monitor references.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CredentialRef {
    pub config_map: bool,
    pub namespace: String,
    pub name: String,
}

fn meta_key(kind: Kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectKey {
    ObjectKey {
        kind,
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
    }
}

fn selected(
    settings: &Settings,
    snapshot: &Snapshot,
    kind: Kind,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    let (objects, namespaces) = match kind {
        Kind::ServiceMonitor => (&settings.service_monitors, &settings.service_monitor_namespaces),
        Kind::PodMonitor => (&settings.pod_monitors, &settings.pod_monitor_namespaces),
        Kind::PrometheusRule => (&settings.rules, &settings.rule_namespaces),
    };
    // Objects being deleted are no longer configured.
    if meta.deletion_timestamp.is_some() {
        return false;
    }
    let ns = meta.namespace.as_deref().unwrap_or_default();
    let empty = BTreeMap::new();
    namespaces.selects(ns, snapshot.namespaces.get(ns)) && objects.selects(meta.labels.as_ref().unwrap_or(&empty))
}

/// The render options for one object: enforcement is lifted for `excludedFromEnforcement`.
fn options_for(settings: &Settings, key: &ObjectKey) -> RenderOptions {
    let mut opts = settings.render.clone();
    if settings.excluded_from_enforcement.iter().any(|r| r.matches(key.kind.plural(), &key.namespace, &key.name)) {
        opts.enforced_namespace_label = None;
    }
    opts
}

fn rejected(e: &RenderError) -> Verdict {
    let message = if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field, e.message) };
    Verdict::Rejected { message }
}

/// A resolver that answers every lookup with a placeholder and remembers what was asked.
#[derive(Default)]
struct Recorder(std::sync::Mutex<BTreeSet<CredentialRef>>);

impl SecretResolver for Recorder {
    fn secret_key(&self, namespace: &str, name: &str, _key: &str) -> Result<String, String> {
        if let Ok(mut seen) = self.0.lock() {
            seen.insert(CredentialRef { config_map: false, namespace: namespace.into(), name: name.into() });
        }
        Ok("placeholder".into())
    }

    fn config_map_key(&self, namespace: &str, name: &str, _key: &str) -> Result<String, String> {
        if let Ok(mut seen) = self.0.lock() {
            seen.insert(CredentialRef { config_map: true, namespace: namespace.into(), name: name.into() });
        }
        Ok("placeholder".into())
    }
}

/// Every Secret and ConfigMap the selected monitors reference, so the controller can fetch them
/// before [`plan`] runs.
pub fn referenced_credentials(snapshot: &Snapshot, settings: &Settings) -> BTreeSet<CredentialRef> {
    let rec = Recorder::default();
    for sm in &snapshot.service_monitors {
        let key = meta_key(Kind::ServiceMonitor, &sm.metadata);
        if selected(settings, snapshot, key.kind, &sm.metadata) {
            let _ = render_service_monitor(sm, &options_for(settings, &key), &rec);
        }
    }
    for pm in &snapshot.pod_monitors {
        let key = meta_key(Kind::PodMonitor, &pm.metadata);
        if selected(settings, snapshot, key.kind, &pm.metadata) {
            let _ = render_pod_monitor(pm, &options_for(settings, &key), &rec);
        }
    }
    rec.0.into_inner().unwrap_or_default()
}

/// Renders everything selected. An object that cannot be rendered, or whose jobs the server
/// would refuse, is rejected alone; the rest are configured.
pub fn plan(snapshot: &Snapshot, settings: &Settings, secrets: &dyn SecretResolver) -> Plan {
    let mut outcomes = Vec::new();
    let mut jobs: BTreeMap<ObjectKey, Vec<ScrapeConfigOut>> = BTreeMap::new();
    let mut rule_files: BTreeMap<String, String> = BTreeMap::new();

    let mut monitor = |key: ObjectKey, uid: Option<&String>, generation, result: Result<Vec<ScrapeConfigOut>, _>| {
        let verdict = match result {
            Ok(out) => {
                let names = out.iter().map(|j: &ScrapeConfigOut| j.job_name().to_string()).collect();
                jobs.insert(key.clone(), out);
                Verdict::Accepted(Contribution::Jobs(names))
            }
            Err(e) => rejected(&e),
        };
        outcomes.push(Outcome { key, uid: uid.cloned().unwrap_or_default(), generation, verdict });
    };
    for sm in &snapshot.service_monitors {
        let key = meta_key(Kind::ServiceMonitor, &sm.metadata);
        if selected(settings, snapshot, key.kind, &sm.metadata) {
            let r = render_service_monitor(sm, &options_for(settings, &key), secrets);
            monitor(key, sm.metadata.uid.as_ref(), sm.metadata.generation, r);
        }
    }
    for pm in &snapshot.pod_monitors {
        let key = meta_key(Kind::PodMonitor, &pm.metadata);
        if selected(settings, snapshot, key.kind, &pm.metadata) {
            let r = render_pod_monitor(pm, &options_for(settings, &key), secrets);
            monitor(key, pm.metadata.uid.as_ref(), pm.metadata.generation, r);
        }
    }
    for pr in &snapshot.rules {
        let key = meta_key(Kind::PrometheusRule, &pr.metadata);
        if !selected(settings, snapshot, key.kind, &pr.metadata) {
            continue;
        }
        let verdict = match render_prometheus_rule(pr) {
            Ok((file, content)) => {
                rule_files.insert(file.clone(), content);
                let groups = pr.spec.groups.iter().map(|g| g.name.clone()).collect();
                Verdict::Accepted(Contribution::RuleFile { file, groups })
            }
            Err(e) => rejected(&e),
        };
        outcomes.push(Outcome {
            key,
            uid: pr.metadata.uid.clone().unwrap_or_default(),
            generation: pr.metadata.generation,
            verdict,
        });
    }

    let names: Vec<String> = rule_files.keys().cloned().collect();
    let all_jobs =
        |jobs: &BTreeMap<ObjectKey, Vec<ScrapeConfigOut>>| jobs.values().flatten().cloned().collect::<Vec<_>>();
    let mut config = render_config(&settings.base, all_jobs(&jobs), names.clone());
    if oxeye_config::load_str(&config, CONFIG_FILE).is_err() {
        // Find the monitors the server would refuse, one at a time, and leave them out.
        let mut refused = BTreeMap::new();
        for (key, out) in &jobs {
            let alone = render_config(&settings.base, out.clone(), Vec::new());
            if let Err(e) = oxeye_config::load_str(&alone, CONFIG_FILE) {
                refused.insert(key.clone(), format!("refused by the server's configuration check: {e}"));
            }
        }
        for (key, message) in refused {
            jobs.remove(&key);
            if let Some(o) = outcomes.iter_mut().find(|o| o.key == key) {
                o.verdict = Verdict::Rejected { message };
            }
        }
        config = render_config(&settings.base, all_jobs(&jobs), names);
    }
    outcomes.sort_by(|a, b| a.key.cmp(&b.key));
    let mut files = rule_files;
    files.insert(CONFIG_FILE.to_string(), config);
    Plan { files, outcomes }
}

#[cfg(test)]
mod tests;
