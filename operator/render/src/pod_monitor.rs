//! PodMonitor -> one scrape job per `podMetricsEndpoints` entry (`generatePodMonitorConfig`):
//! pod discovery, the running-phase filter, Pod selector and container port filters, the
//! `namespace`/`container`/`pod`/`job`/`endpoint` labels, user relabelings and sharding.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use oxeye_crd::PodMonitor;
use oxeye_crd::monitoring::{PodMetricsEndpoint, SelectorMechanism};

use crate::error::{ObjectRef, Result};
use crate::monitor::{self, EndpointView, MonitorView, TlsView};
use crate::relabel::{self, copy, copy_label, filter};
use crate::yaml::{Map, ScrapeConfigOut};
use crate::{RenderOptions, SecretResolver};

/// Renders every endpoint of `pm` as a job named `podMonitor/<ns>/<name>/<i>`.
pub fn render_pod_monitor(
    pm: &PodMonitor,
    opts: &RenderOptions,
    secrets: &dyn SecretResolver,
) -> Result<Vec<ScrapeConfigOut>> {
    let namespace = pm.metadata.namespace.clone().unwrap_or_default();
    let name = pm.metadata.name.clone().unwrap_or_default();
    let obj = ObjectRef { kind: "PodMonitor", namespace, name };
    if obj.namespace.is_empty() || obj.name.is_empty() {
        return Err(obj.err("metadata", "namespace and name are required"));
    }
    let spec = &pm.spec;
    let mut unsupported = Vec::new();
    if spec.scrape_class.is_some() {
        unsupported.push("scrapeClass");
    }
    if spec.scrape_classic_histograms.is_some() {
        unsupported.push("scrapeClassicHistograms");
    }
    if spec.native_histogram_bucket_limit.is_some() {
        unsupported.push("nativeHistogramBucketLimit");
    }
    if spec.native_histogram_min_bucket_factor.is_some() {
        unsupported.push("nativeHistogramMinBucketFactor");
    }
    if spec.convert_classic_histograms_to_nhcb.is_some() {
        unsupported.push("convertClassicHistogramsToNHCB");
    }
    let view = MonitorView {
        limits: crate::ScrapeLimits {
            sample_limit: spec.sample_limit,
            target_limit: spec.target_limit,
            label_limit: spec.label_limit,
            label_name_length_limit: spec.label_name_length_limit,
            label_value_length_limit: spec.label_value_length_limit,
            keep_dropped_targets: spec.keep_dropped_targets,
            body_size_limit: spec.body_size_limit.clone(),
        },
        attach_metadata: spec.attach_metadata.as_ref(),
        scrape_protocols: spec.scrape_protocols.iter().map(monitor::protocol_name).collect(),
        fallback_scrape_protocol: spec.fallback_scrape_protocol.as_ref().map(monitor::protocol_name),
        unsupported,
    };
    spec.pod_metrics_endpoints
        .iter()
        .enumerate()
        .map(|(i, ep)| {
            let body = endpoint_job(&obj, pm, &view, ep, i, opts, secrets)?;
            Ok(ScrapeConfigOut::new(1, &obj.namespace, &obj.name, i, body))
        })
        .collect()
}

fn endpoint_view(ep: &PodMetricsEndpoint, i: usize) -> EndpointView<'_> {
    let mut unsupported = Vec::new();
    if ep.oauth2.is_some() {
        unsupported.push("oauth2");
    }
    if ep.proxy_url.is_some() {
        unsupported.push("proxyUrl");
    }
    if ep.no_proxy.is_some() {
        unsupported.push("noProxy");
    }
    if ep.proxy_from_environment.is_some() {
        unsupported.push("proxyFromEnvironment");
    }
    if !ep.proxy_connect_header.is_empty() {
        unsupported.push("proxyConnectHeader");
    }
    EndpointView {
        field: format!("spec.podMetricsEndpoints[{i}]"),
        interval: ep.interval.as_ref().map(|d| d.as_str()),
        scrape_timeout: ep.scrape_timeout.as_ref().map(|d| d.as_str()),
        path: ep.path.as_deref(),
        params: Some(&ep.params).filter(|p| !p.is_empty()),
        scheme: ep.scheme.as_ref().map(|s| s.as_str()),
        follow_redirects: ep.follow_redirects,
        enable_http2: ep.enable_http2,
        tls: ep.tls_config.as_ref().map(|t| TlsView {
            ca: t.ca.as_ref(),
            cert: t.cert.as_ref(),
            key_secret: t.key_secret.as_ref(),
            server_name: t.server_name.as_deref(),
            insecure_skip_verify: t.insecure_skip_verify,
            min_version: t.min_version,
            max_version: t.max_version,
            ca_file: None,
            cert_file: None,
            key_file: None,
        }),
        bearer_token_file: None,
        bearer_token_secret: ep
            .bearer_token_secret
            .as_ref()
            .filter(|s| s.name.as_deref().is_some_and(|n| !n.is_empty())),
        basic_auth: ep.basic_auth.as_ref(),
        authorization: ep.authorization.as_ref(),
        unsupported,
        relabelings: &ep.relabelings,
        metric_relabelings: &ep.metric_relabelings,
        honor_labels: ep.honor_labels.unwrap_or(false),
        honor_timestamps: ep.honor_timestamps,
        track_timestamps_staleness: ep.track_timestamps_staleness,
    }
}

fn endpoint_job(
    obj: &ObjectRef,
    pm: &PodMonitor,
    view: &MonitorView<'_>,
    ep: &PodMetricsEndpoint,
    i: usize,
    opts: &RenderOptions,
    secrets: &dyn SecretResolver,
) -> Result<Map> {
    let spec = &pm.spec;
    let ev = endpoint_view(ep, i);
    monitor::check_supported(obj, &ev, view)?;
    let mut m = monitor::head(format!("podMonitor/{}/{}/{i}", obj.namespace, obj.name), &ev, opts);

    let (match_labels, expressions) = monitor::selector_parts(&spec.selector);
    let role_selector = spec.selector_mechanism == Some(SelectorMechanism::RoleSelector);
    let role_selectors = role_selector.then(|| (&["pod"][..], relabel::selector_string(&match_labels, &expressions)));
    m.put(
        "kubernetes_sd_configs",
        monitor::kubernetes_sd("pod", &obj.namespace, spec.namespace_selector.as_ref(), view, role_selectors, opts),
    );
    monitor::http_client(&mut m, obj, &ev, secrets)?;

    let mut rules = relabel::init();
    if ep.filter_running.unwrap_or(true) {
        rules.push(relabel::running_filter());
    }
    let selector_rules = relabel::selector_rules(obj, "pod", &match_labels, &expressions)?;
    if !role_selector {
        rules.extend(selector_rules);
    }

    let field = &ev.field;
    let port = ep.port.as_deref().filter(|p| !p.is_empty());
    let port_number = ep.port_number.filter(|n| *n != 0);
    if let Some(port) = port {
        let rule = filter("keep", "__meta_kubernetes_pod_container_port_name", port);
        relabel::validate(obj, &format!("{field}.port"), &rule)?;
        rules.push(rule);
    } else if let Some(n) = port_number {
        if !(1..=65535).contains(&n) {
            return Err(obj.err(format!("{field}.portNumber"), format!("port {n} out of range 1-65535")));
        }
        rules.push(filter("keep", "__meta_kubernetes_pod_container_port_number", i64::from(n)));
    } else if let Some(tp) = &ep.target_port {
        match tp {
            IntOrString::String(s) if !s.is_empty() => {
                let rule = filter("keep", "__meta_kubernetes_pod_container_port_name", s.as_str());
                relabel::validate(obj, &format!("{field}.targetPort"), &rule)?;
                rules.push(rule);
            }
            IntOrString::Int(n) if *n != 0 => {
                if !(1..=65535).contains(n) {
                    return Err(obj.err(format!("{field}.targetPort"), format!("port {n} out of range 1-65535")));
                }
                rules.push(filter("keep", "__meta_kubernetes_pod_container_port_number", i64::from(*n)));
            }
            _ => return Err(obj.err(format!("{field}.targetPort"), "empty port")),
        }
    }

    rules.push(copy("__meta_kubernetes_namespace", "namespace"));
    rules.push(copy("__meta_kubernetes_pod_container_name", "container"));
    rules.push(copy("__meta_kubernetes_pod_name", "pod"));
    for l in spec.pod_target_labels.iter().chain(&opts.pod_target_labels) {
        rules.push(copy_label("__meta_kubernetes_pod_label_", l, &relabel::sanitize_label_name(l)));
    }
    rules.push(Map::new().with("target_label", "job").with("replacement", format!("{}/{}", obj.namespace, obj.name)));
    if let Some(l) = spec.job_label.as_deref().filter(|l| !l.is_empty()) {
        rules.push(copy_label("__meta_kubernetes_pod_label_", l, "job"));
    }
    if let Some(port) = port {
        rules.push(Map::new().with("target_label", "endpoint").with("replacement", port));
    } else if let Some(tp) = &ep.target_port {
        let s = match tp {
            IntOrString::Int(n) => n.to_string(),
            IntOrString::String(s) => s.clone(),
        };
        rules.push(Map::new().with("target_label", "endpoint").with("replacement", s));
    }
    rules.extend(monitor::user_relabelings(obj, &format!("{field}.relabelings"), ev.relabelings, opts)?);
    rules.extend(relabel::sharding(opts.shards, opts.shard));
    monitor::tail(&mut m, obj, &ev, view, rules, opts)?;
    Ok(m)
}
