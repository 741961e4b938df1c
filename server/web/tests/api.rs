//! In-process tests of the API router (`tower::ServiceExt::oneshot`, no sockets): response
//! shapes, Prometheus's error types and status codes, GET and form POST, limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use oxeye_model::storage::memory::MemStorage;
use oxeye_model::{Appendable, Labels};
use oxeye_promql::EngineOptions;
use oxeye_web::{
    ActiveTarget, AlertInfo, ApiState, DroppedTarget, Lifecycle, MetricMetadata, RuleGroupInfo, RuleInfo, RuleKind,
    RulesView, StatusView, TargetMetadata, TargetsView,
};
use serde_json::Value;
use tower::ServiceExt;

struct FakeTargets;

impl TargetsView for FakeTargets {
    fn active_targets(&self) -> Vec<ActiveTarget> {
        vec![ActiveTarget {
            discovered_labels: Labels::from_pairs([("__address__", "a:1"), ("job", "j")]),
            labels: Labels::from_pairs([("instance", "a:1"), ("job", "j")]),
            scrape_pool: "j".into(),
            scrape_url: "http://a:1/metrics".into(),
            global_url: "http://a:1/metrics".into(),
            last_error: String::new(),
            last_scrape: None,
            last_scrape_duration_secs: 0.01,
            health: "up".into(),
            scrape_interval: "15s".into(),
            scrape_timeout: "10s".into(),
        }]
    }
    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        vec![DroppedTarget { discovered_labels: Labels::from_pairs([("__address__", "b:1")]), scrape_pool: "j".into() }]
    }
    fn scrape_pools(&self) -> Vec<String> {
        vec!["j".into(), "empty".into()]
    }
    fn targets_metadata(&self) -> Vec<TargetMetadata> {
        vec![TargetMetadata {
            target: Labels::from_pairs([("instance", "a:1"), ("job", "j")]),
            metadata: MetricMetadata {
                metric: "http_requests_total".into(),
                typ: "counter".into(),
                help: "Requests.".into(),
                unit: String::new(),
            },
        }]
    }
}

struct FakeStatus;

impl StatusView for FakeStatus {
    fn config_yaml(&self) -> String {
        "global: {}\n".into()
    }
    fn flags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("query.timeout".to_string(), "2m".to_string())])
    }
    fn runtime_info(&self) -> Value {
        serde_json::json!({"CWD": "/"})
    }
    fn tsdb_status(&self, limit: usize) -> Value {
        serde_json::json!({"limit": limit})
    }
    fn wal_replay(&self) -> Value {
        serde_json::json!({"min": 0, "max": 0, "current": 0})
    }
    fn metrics_text(&self) -> String {
        "# EOF\n".into()
    }
}

struct FailingReload;

impl Lifecycle for FailingReload {
    fn reload(&self) -> Result<(), String> {
        Err("prometheus.yml: line 3: unknown field \"x\"".into())
    }
    fn quit(&self) {}
}

fn state(opts: EngineOptions, lifecycle: Option<Arc<dyn Lifecycle>>) -> Arc<ApiState> {
    let storage = MemStorage::new();
    let mut app = storage.appender();
    for (job, inst, v) in [("api", "a", 1.0), ("api", "b", 2.0), ("db", "c", 3.0)] {
        let l = Labels::from_pairs([("__name__", "up"), ("job", job), ("instance", inst)]);
        for t in 0..10 {
            app.append(None, &l, t * 15_000, v + t as f64).unwrap();
        }
    }
    app.commit().unwrap();
    Arc::new(ApiState::new(
        Arc::new(storage),
        opts,
        4,
        Arc::new(FakeTargets),
        Arc::new(FakeStatus),
        lifecycle,
        Arc::new(AtomicBool::new(true)),
    ))
}

async fn call(st: Arc<ApiState>, req: Request<Body>) -> (StatusCode, Value) {
    let resp = oxeye_web::router(st).oneshot(req).await.unwrap();
    let code = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (code, v)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_form(uri: &str, form: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

#[tokio::test]
async fn instant_query_vector_shape() {
    let (code, v) =
        call(state(EngineOptions::default(), None), get("/api/v1/query?query=up%7Bjob%3D%22api%22%7D&time=135")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    let r = v["data"]["result"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["metric"]["instance"], "a");
    assert_eq!(r[0]["value"][0], serde_json::json!(135));
    assert_eq!(r[0]["value"][1], "10");
}

#[tokio::test]
async fn form_post_is_accepted_like_get() {
    let (code, v) =
        call(state(EngineOptions::default(), None), post_form("/api/v1/query", "query=sum(up)&time=135.5")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["result"][0]["value"][0], serde_json::json!(135.5));
    assert_eq!(v["data"]["result"][0]["value"][1], "33");
}

#[tokio::test]
async fn scalar_and_range_results() {
    let (_, v) = call(state(EngineOptions::default(), None), get("/api/v1/query?query=1%2B1&time=10")).await;
    assert_eq!(v["data"]["resultType"], "scalar");
    assert_eq!(v["data"]["result"][1], "2");
    let (code, v) =
        call(state(EngineOptions::default(), None), get("/api/v1/query_range?query=up&start=0&end=60&step=15")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 3);
    assert_eq!(v["data"]["result"][0]["values"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn bad_queries_get_prometheus_errors() {
    let st = state(EngineOptions::default(), None);
    let (code, v) = call(st.clone(), get("/api/v1/query?query=sum(")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    let (code, v) = call(st.clone(), get("/api/v1/query_range?query=up&start=10&end=0&step=1")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "end timestamp must not be before start time");
    let (code, v) = call(st.clone(), get("/api/v1/query_range?query=up&start=0&end=100000&step=1")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("11,000 points"));
    let (code, v) = call(st.clone(), get("/api/v1/query_range?query=up&start=0&end=10&step=0")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
    let (code, v) = call(st.clone(), get("/api/v1/query?query=up&time=notatime")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("invalid parameter \"time\""));
    let (code, v) = call(st, get("/api/v1/nonsense")).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn max_samples_is_enforced_as_execution_error() {
    let opts = EngineOptions { max_samples: 2, ..EngineOptions::default() };
    let (code, v) = call(state(opts, None), get("/api/v1/query?query=up%5B5m%5D&time=135")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errorType"], "execution");
    assert!(v["error"].as_str().unwrap().contains("too many samples"), "{v}");
}

#[tokio::test]
async fn series_labels_and_values() {
    let st = state(EngineOptions::default(), None);
    let (code, v) = call(st.clone(), get("/api/v1/series?match%5B%5D=up%7Bjob%3D%22db%22%7D")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["data"], serde_json::json!([{"__name__": "up", "instance": "c", "job": "db"}]));
    let (code, v) = call(st.clone(), get("/api/v1/series")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "no match[] parameter provided");
    let (_, v) = call(st.clone(), get("/api/v1/labels")).await;
    assert_eq!(v["data"], serde_json::json!(["__name__", "instance", "job"]));
    let (_, v) = call(st.clone(), get("/api/v1/label/job/values")).await;
    assert_eq!(v["data"], serde_json::json!(["api", "db"]));
    let (_, v) = call(st.clone(), get("/api/v1/label/instance/values?limit=2")).await;
    assert_eq!(v["data"], serde_json::json!(["a", "b"]));
    assert_eq!(v["warnings"][0], "results truncated due to limit");
    let (_, v) = call(st, post_form("/api/v1/labels", "match[]=up{job=\"db\"}")).await;
    assert_eq!(v["data"], serde_json::json!(["__name__", "instance", "job"]));
}

#[tokio::test]
async fn targets_and_metadata() {
    let st = state(EngineOptions::default(), None);
    let (_, v) = call(st.clone(), get("/api/v1/targets")).await;
    assert_eq!(v["data"]["activeTargets"][0]["health"], "up");
    assert_eq!(v["data"]["activeTargets"][0]["lastScrape"], "0001-01-01T00:00:00Z");
    assert_eq!(v["data"]["droppedTargets"][0]["discoveredLabels"]["__address__"], "b:1");
    let (_, v) = call(st.clone(), get("/api/v1/targets?state=dropped")).await;
    assert_eq!(v["data"]["activeTargets"], serde_json::json!([]));
    let (_, v) = call(st.clone(), get("/api/v1/metadata")).await;
    assert_eq!(v["data"]["http_requests_total"][0]["type"], "counter");
    let (_, v) = call(st, get("/api/v1/targets/metadata?match_target=%7Bjob%3D%22j%22%7D")).await;
    assert_eq!(v["data"][0]["metric"], "http_requests_total");
    assert_eq!(v["data"][0]["target"]["instance"], "a:1");
}

#[tokio::test]
async fn scrape_pools_lists_every_configured_pool_sorted() {
    let st = state(EngineOptions::default(), None);
    let (code, v) = call(st, get("/api/v1/scrape_pools")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["scrapePools"], serde_json::json!(["empty", "j"]));
}

#[tokio::test]
async fn lifecycle_and_status() {
    let (code, _) =
        call(state(EngineOptions::default(), None), Request::post("/-/reload").body(Body::empty()).unwrap()).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let st = state(EngineOptions::default(), Some(Arc::new(FailingReload)));
    let (code, v) = call(st.clone(), Request::post("/-/reload").body(Body::empty()).unwrap()).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(v.as_str().unwrap().contains("unknown field"), "{v}");
    let (code, _) = call(st.clone(), get("/-/ready")).await;
    assert_eq!(code, StatusCode::OK);
    let (_, v) = call(st.clone(), get("/api/v1/status/flags")).await;
    assert_eq!(v["data"]["query.timeout"], "2m");
    let (code, v) = call(st.clone(), get("/api/v1/status/tsdb?limit=0")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
    let (_, v) = call(st, get("/api/v1/status/tsdb?limit=3")).await;
    assert_eq!(v["data"]["limit"], 3);
}

#[tokio::test]
async fn query_timeout_is_prometheus_timeout_error() {
    let opts = EngineOptions { timeout: std::time::Duration::ZERO, ..EngineOptions::default() };
    let (code, v) = call(state(opts, None), get("/api/v1/query?query=up&time=135")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["errorType"], "timeout");
    assert_eq!(v["error"], "query timed out in expression evaluation");
    // The request's own timeout parameter can only shorten the server's.
    let (code, v) = call(state(EngineOptions::default(), None), get("/api/v1/query?query=up&time=135&timeout=0")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let (code, v) =
        call(state(EngineOptions::default(), None), get("/api/v1/query?query=up&time=135&timeout=10s")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
}

struct FakeRules;

fn firing_alert() -> AlertInfo {
    AlertInfo {
        labels: Labels::from_pairs([("alertname", "Down"), ("instance", "a")]),
        annotations: Labels::from_pairs([("summary", "a is down")]),
        state: "firing".into(),
        active_at: Some(1_700_000_000_500),
        keep_firing_since: None,
        value: 25.0,
    }
}

impl RulesView for FakeRules {
    fn rule_groups(&self) -> Vec<RuleGroupInfo> {
        let recording = RuleInfo {
            name: "job:up:sum".into(),
            query: "sum by (job) (up)".into(),
            labels: Labels::empty(),
            health: "ok".into(),
            last_error: None,
            evaluation_time_secs: 0.001,
            last_evaluation: Some(1_700_000_000_000),
            kind: RuleKind::Recording,
        };
        let alerting = RuleInfo {
            name: "Down".into(),
            query: "up == 0".into(),
            labels: Labels::from_pairs([("severity", "page")]),
            health: "err".into(),
            last_error: Some("boom".into()),
            evaluation_time_secs: 0.002,
            last_evaluation: None,
            kind: RuleKind::Alerting {
                state: "firing".into(),
                duration_secs: 300.0,
                keep_firing_for_secs: 0.0,
                annotations: Labels::from_pairs([("summary", "{{ $labels.instance }} is down")]),
                alerts: vec![firing_alert()],
            },
        };
        vec![
            RuleGroupInfo {
                name: "g1".into(),
                file: "/rules/a.yml".into(),
                interval_secs: 15.0,
                limit: 0,
                rules: vec![recording, alerting],
                evaluation_time_secs: 0.003,
                last_evaluation: Some(1_700_000_000_000),
            },
            RuleGroupInfo {
                name: "empty".into(),
                file: "/rules/b.yml".into(),
                interval_secs: 60.0,
                limit: 0,
                rules: vec![],
                evaluation_time_secs: 0.0,
                last_evaluation: None,
            },
        ]
    }
    fn alerts(&self) -> Vec<AlertInfo> {
        vec![firing_alert()]
    }
    fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        (vec!["http://am:9093/api/v2/alerts".into()], vec![])
    }
}

fn rules_state() -> Arc<ApiState> {
    let st = state(EngineOptions::default(), None);
    let st = Arc::into_inner(st).unwrap();
    Arc::new(st.with_rules(Arc::new(FakeRules)))
}

#[tokio::test]
async fn rules_endpoint_shape_and_filters() {
    let (code, v) = call(rules_state(), get("/api/v1/rules")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    let groups = v["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "a group without rules is left out: {v}");
    assert_eq!(groups[0]["interval"].to_string(), "15", "integral floats are written as Go writes them");
    assert_eq!(groups[0]["lastEvaluation"], "2023-11-14T22:13:20Z");
    let rules = groups[0]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["type"], "recording");
    assert!(rules[0].get("lastError").is_none());
    assert_eq!(rules[1]["type"], "alerting");
    assert_eq!(rules[1]["duration"].to_string(), "300");
    assert!(rules[0].get("labels").is_none(), "empty recording-rule labels are omitted");
    assert_eq!(rules[1]["lastError"], "boom");
    assert_eq!(rules[1]["lastEvaluation"], "0001-01-01T00:00:00Z");
    assert_eq!(rules[1]["alerts"][0]["value"], "2.5e+01");
    assert_eq!(rules[1]["alerts"][0]["activeAt"], "2023-11-14T22:13:20.500Z");

    let (_, v) = call(rules_state(), get("/api/v1/rules?type=record")).await;
    let rules = v["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["name"], "job:up:sum");

    let (_, v) = call(rules_state(), get("/api/v1/rules?type=alert&exclude_alerts=true")).await;
    let rules = v["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].get("alerts").is_none());

    let (_, v) = call(rules_state(), get("/api/v1/rules?rule_group[]=nope")).await;
    assert_eq!(v["data"]["groups"].as_array().unwrap().len(), 0);

    let (_, v) = call(rules_state(), get("/api/v1/rules?match[]=%7Bseverity%3D%22page%22%7D")).await;
    let rules = v["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["name"], "Down");

    let (code, v) = call(rules_state(), get("/api/v1/rules?type=bogus")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(v["errorType"], "bad_data");
}

#[tokio::test]
async fn alerts_and_alertmanagers_endpoints() {
    let (code, v) = call(rules_state(), get("/api/v1/alerts")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["alerts"][0]["labels"]["alertname"], "Down");
    assert_eq!(v["data"]["alerts"][0]["state"], "firing");
    let (_, v) = call(rules_state(), get("/api/v1/alertmanagers")).await;
    assert_eq!(v["data"]["activeAlertmanagers"][0]["url"], "http://am:9093/api/v2/alerts");
    assert_eq!(v["data"]["droppedAlertmanagers"].as_array().unwrap().len(), 0);
    // Without a rule manager the lists are empty, not missing.
    let (_, v) = call(state(EngineOptions::default(), None), get("/api/v1/alerts")).await;
    assert_eq!(v["data"]["alerts"].as_array().unwrap().len(), 0);
}
