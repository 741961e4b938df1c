//! The client against the Grafana API double (`oxeye_e2e::grafana`), which enforces Grafana's
//! documented contract: every call is checked for method, path, payload and auth, and the
//! double must record no contract violation.

use oxeye_e2e::grafana::GrafanaDouble;
use oxeye_grafana::{Auth, Client, Datasource, Error};
use serde_json::json;

fn admin(g: &GrafanaDouble) -> Client {
    Client::new(&g.url, Auth::Basic { username: "admin".into(), password: "s3cret".into() }).unwrap()
}

#[tokio::test]
async fn folders_dashboards_and_search() {
    let g = GrafanaDouble::start("admin", "s3cret");
    let c = admin(&g);
    assert_eq!(c.health().await.unwrap().database, "ok");
    c.check_auth().await.unwrap();

    assert!(c.folders().await.unwrap().is_empty());
    let f = c.create_folder("Team A", None).await.unwrap();
    assert_eq!(f.title, "Team A");
    assert!(matches!(c.create_folder("Again", Some(&f.uid)).await, Err(Error::Conflict { status: 409, .. })));
    assert_eq!(c.folders().await.unwrap(), vec![f.clone()]);
    assert_eq!(c.folder(&f.uid).await.unwrap(), Some(f.clone()));
    assert_eq!(c.folder("nope").await.unwrap(), None);

    let model = json!({"title": "Node exporter", "uid": "node-x_1", "id": null, "panels": []});
    let saved = c.save_dashboard(&model, &f.uid, true).await.unwrap();
    assert_eq!((saved.uid.as_str(), saved.url.as_str()), ("node-x_1", "/d/node-x_1/node-exporter"));
    let stored = c.dashboard("node-x_1").await.unwrap().expect("stored");
    assert_eq!(stored.folder_uid, f.uid);
    assert_eq!(stored.model["panels"], json!([]));
    assert_eq!(c.dashboard("missing").await.unwrap(), None);
    // Without overwrite, a second save of the same uid at another version conflicts.
    assert!(matches!(c.save_dashboard(&model, &f.uid, false).await, Err(Error::Conflict { status: 412, .. })));
    // A folder that does not exist is refused (400 "folder not found", as Grafana does).
    match c.save_dashboard(&model, "nope", true).await {
        Err(Error::Api { status: 400, message, .. }) => assert_eq!(message, "folder not found"),
        other => panic!("{other:?}"),
    }
    let hits = c.search_folder(&f.uid).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.uid.as_str()).collect::<Vec<_>>(), ["node-x_1"]);
    c.delete_dashboard("node-x_1").await.unwrap();
    c.delete_dashboard("node-x_1").await.unwrap();
    assert!(c.search_folder(&f.uid).await.unwrap().is_empty());
    c.delete_folder(&f.uid).await.unwrap();
    assert!(g.violations().is_empty(), "{:?}", g.violations());
}

#[tokio::test]
async fn data_sources() {
    let g = GrafanaDouble::start("admin", "s3cret");
    let c = admin(&g);
    let mut ds = Datasource {
        uid: "prometheus".into(),
        name: "Prometheus".into(),
        kind: "prometheus".into(),
        url: "http://oxeye:9090".into(),
        access: "proxy".into(),
        is_default: true,
        json_data: serde_json::from_value(json!({"httpMethod": "POST"})).unwrap(),
    };
    assert_eq!(c.datasource("prometheus").await.unwrap(), None);
    c.create_datasource(&ds).await.unwrap();
    assert_eq!(c.datasource("prometheus").await.unwrap().as_ref(), Some(&ds));
    assert!(matches!(c.create_datasource(&ds).await, Err(Error::Conflict { status: 409, .. })));
    ds.url = "http://oxeye.monitoring.svc:9090".into();
    c.update_datasource(&ds).await.unwrap();
    assert_eq!(c.datasource("prometheus").await.unwrap().unwrap().url, ds.url);
    assert_eq!(g.datasources()["prometheus"]["jsonData"]["httpMethod"], "POST");
    assert!(g.violations().is_empty(), "{:?}", g.violations());
}

#[tokio::test]
async fn auth_failures_and_outages_are_told_apart() {
    let g = GrafanaDouble::start("admin", "s3cret");
    let wrong = Client::new(&g.url, Auth::Basic { username: "admin".into(), password: "nope".into() }).unwrap();
    match wrong.check_auth().await {
        Err(Error::Unauthorized { status: 401, message, .. }) => assert_eq!(message, "Invalid username or password"),
        other => panic!("{other:?}"),
    }
    let token = Client::new(&g.url, Auth::Token("glsa_test".into())).unwrap();
    assert!(matches!(token.check_auth().await, Err(Error::Unauthorized { .. })));
    g.add_token("glsa_test");
    token.check_auth().await.unwrap();

    g.set_down(true);
    assert!(matches!(token.check_auth().await, Err(Error::Api { status: 503, .. })));
    g.set_down(false);
    let url = g.url.clone();
    drop(g);
    let gone = Client::new(&url, Auth::Token("t".into())).unwrap();
    assert!(matches!(gone.health().await, Err(Error::Unreachable { .. })));
    assert!(Client::new("ftp://x", Auth::Token("t".into())).is_err());
}
