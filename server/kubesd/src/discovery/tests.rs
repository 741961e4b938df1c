use super::*;
use http::{Request, Response};
use kube::client::Body;
use serde_json::json;

fn pod_json(name: &str, ip: &str, version: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": version, "labels": {"v": version}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 9100}]}]},
        "status": {"podIP": ip}
    })
}

/// A fake API server: lists answer with `lists` in turn (the last repeats), each watch streams
/// `watch_events` once and later watches stay empty.
async fn serve(
    mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
    lists: Vec<Vec<serde_json::Value>>,
    watch_events: Vec<serde_json::Value>,
) {
    let mut list_calls = 0usize;
    let mut watched = false;
    while let Some((req, send)) = handle.next_request().await {
        let query = req.uri().query().unwrap_or_default().to_string();
        let body = if query.contains("watch=true") {
            let events = if watched { Vec::new() } else { watch_events.clone() };
            watched = true;
            if events.is_empty() {
                // Let the watcher idle instead of spinning on empty watches.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            events.iter().map(|e| format!("{e}\n")).collect::<String>().into_bytes()
        } else {
            let items = lists[list_calls.min(lists.len() - 1)].clone();
            list_calls += 1;
            serde_json::to_vec(&json!({
                "apiVersion": "v1", "kind": "PodList",
                "metadata": {"resourceVersion": format!("{}", 10 * list_calls)},
                "items": items
            }))
            .unwrap_or_default()
        };
        send.send_response(Response::builder().body(Body::from(body)).unwrap());
    }
}

async fn next_batch(rx: &mut mpsc::Receiver<Vec<TargetGroup>>) -> Vec<TargetGroup> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("no update within 5s").expect("closed")
}

#[tokio::test]
async fn pod_role_emits_full_groups_then_changes_and_deletions() {
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let watch_events = vec![
        json!({"type": "MODIFIED", "object": pod_json("a", "127.0.0.1", "2")}),
        json!({"type": "DELETED", "object": pod_json("b", "127.0.0.2", "1")}),
    ];
    let server = tokio::spawn(serve(
        handle,
        vec![vec![pod_json("a", "127.0.0.1", "1"), pod_json("b", "127.0.0.2", "1")]],
        watch_events,
    ));
    let (tx, mut rx) = mpsc::channel(8);
    let run = tokio::spawn(KubernetesDiscovery::with_client(KubernetesSdConfig::new(Role::Pod), client).run(tx));

    let mut first = next_batch(&mut rx).await;
    first.sort_by(|a, b| a.source.cmp(&b.source));
    let sources: Vec<&str> = first.iter().map(|g| g.source.as_str()).collect();
    assert_eq!(sources, ["pod/ns/a", "pod/ns/b"]);
    assert_eq!(first[0].targets[0].get("__address__"), "127.0.0.1:9100");
    assert_eq!(first[0].labels.get("__meta_kubernetes_pod_label_v"), "1");

    // The watch modifies "a" and deletes "b"; they may arrive in one batch or two.
    let mut latest: HashMap<String, TargetGroup> = HashMap::new();
    while latest.len() < 2 {
        for g in next_batch(&mut rx).await {
            latest.insert(g.source.clone(), g);
        }
    }
    assert_eq!(latest["pod/ns/a"].labels.get("__meta_kubernetes_pod_label_v"), "2");
    assert!(latest["pod/ns/b"].targets.is_empty(), "a deleted pod leaves an empty group");
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), run).await.expect("run stops when the receiver goes").ok();
    server.abort();
}

#[tokio::test]
async fn relist_after_gone_removes_objects_deleted_meanwhile_without_duplicates() {
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    // The first watch fails with 410 Gone, as after etcd compaction during an API server outage;
    // the watcher lists again and finds only "a", unchanged.
    let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": "too old resource version", "reason": "Expired", "code": 410}});
    let server = tokio::spawn(serve(
        handle,
        vec![
            vec![pod_json("a", "127.0.0.1", "1"), pod_json("b", "127.0.0.2", "1")],
            vec![pod_json("a", "127.0.0.1", "1")],
        ],
        vec![gone],
    ));
    let (tx, mut rx) = mpsc::channel(8);
    let run = tokio::spawn(KubernetesDiscovery::with_client(KubernetesSdConfig::new(Role::Pod), client).run(tx));
    assert_eq!(next_batch(&mut rx).await.len(), 2);
    let second = next_batch(&mut rx).await;
    assert_eq!(second.len(), 1, "only the vanished pod is sent again, not the unchanged one: {second:?}");
    assert_eq!(second[0].source, "pod/ns/b");
    assert!(second[0].targets.is_empty());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv()).await.is_err(),
        "nothing else changed, so nothing else is sent"
    );
    run.abort();
    server.abort();
}
