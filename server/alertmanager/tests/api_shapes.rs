//! API v2 side by side with Alertmanager 0.25: the same requests (valid and invalid) go to both
//! processes; status codes, error bodies and the key structure of the JSON documents must
//! agree (values that name times, ids or hosts are compared by shape only).

mod common;

use serde_json::{Value, json};

use common::{Am, Flavor, client, have};

const CONFIG: &str = "route:\n  receiver: web\n  group_by: [alertname]\n  group_wait: 1h\n  routes:\n  - receiver: db\n    matchers: [team=\"db\"]\n\
receivers:\n- name: web\n- name: db\n";

/// The structure of a JSON value: objects keep their keys, scalars become their type name.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

fn request(am: &Am, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let c = client();
    let url = format!("{}{path}", am.url());
    let rb = match method {
        "POST" => c.post(url).header("content-type", "application/json").body(body.unwrap_or("").to_string()),
        "DELETE" => c.delete(url),
        _ => c.get(url),
    };
    let r = rb.send().expect("request");
    (r.status().as_u16(), r.text().unwrap_or_default().trim_end().to_string())
}

#[test]
fn api_v2_matches_alertmanager() {
    if !have(common::ALERTMANAGER) {
        eprintln!("skipping: alertmanager not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = Am::start(Flavor::Reference, &dir.path().join("ref"), CONFIG, &[]);
    let oxeye = Am::start(Flavor::Oxeye, &dir.path().join("oxeye"), CONFIG, &[]);
    let future = common::rfc3339(chrono::Utc::now() + chrono::Duration::hours(1));
    let silence = |extra: &str| {
        format!(
            r#"{{"matchers":[{{"name":"alertname","value":"A","isRegex":false}}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"{future}","createdBy":"t","comment":"c"{extra}}}"#
        )
    };
    // (method, path, body, compare the body exactly)
    let cases: Vec<(&str, String, Option<String>, bool)> = vec![
        ("POST", "/api/v2/alerts".into(), Some(r#"[{"labels":{"alertname":"A","team":"db"},"annotations":{"s":"x"}},{"labels":{"alertname":"B"}}]"#.into()), true),
        ("POST", "/api/v2/alerts".into(), Some(r#"[{"annotations":{}}]"#.into()), true),
        ("POST", "/api/v2/alerts".into(), Some(r#"[{"labels":{"a b":"x"}}]"#.into()), true),
        ("POST", "/api/v2/alerts".into(), Some(r#"[{"labels":{"a":""}},{"labels":{"b b":"x"}},{"labels":{"ok":"1"}}]"#.into()), true),
        ("POST", "/api/v2/alerts".into(), Some(r#"[{"labels":{"a":"b"},"startsAt":"2020-01-01T00:00:00Z","endsAt":"2019-01-01T00:00:00Z"}]"#.into()), true),
        ("POST", "/api/v2/alerts".into(), Some("xx".into()), false),
        ("GET", "/api/v2/alerts?filter=foo".into(), None, true),
        ("GET", "/api/v2/alerts?filter=team%3D%22db%22".into(), None, false),
        ("GET", "/api/v2/alerts?receiver=web".into(), None, false),
        ("GET", "/api/v2/alerts?active=false".into(), None, false),
        ("GET", "/api/v2/alerts?receiver=%28".into(), None, false),
        ("GET", "/api/v2/alerts/groups".into(), None, false),
        ("GET", "/api/v2/alerts/groups?filter=alertname%3DA".into(), None, false),
        ("POST", "/api/v2/silences".into(), Some(silence("")), false),
        ("GET", "/api/v2/silences".into(), None, false),
        ("GET", "/api/v2/silences?filter=alertname%3DA".into(), None, false),
        ("GET", "/api/v2/silences?filter=alertname%3DB".into(), None, true),
        ("POST", "/api/v2/silences".into(), Some(silence(r#","id":"a49b109a-efbf-429c-9261-9edce6d795a0""#)), true),
        ("POST", "/api/v2/silences".into(), Some(r#"{"matchers":[],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#.into()), true),
        ("POST", "/api/v2/silences".into(), Some(r#"{"matchers":[{"name":"a","value":"","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#.into()), true),
        ("POST", "/api/v2/silences".into(), Some(r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","comment":"c"}"#.into()), true),
        ("POST", "/api/v2/silences".into(), Some(r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2021-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#.into()), true),
        ("POST", "/api/v2/silences".into(), Some(r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2029-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#.into()), true),
        ("GET", "/api/v2/silence/abc".into(), None, true),
        ("GET", "/api/v2/silence/a49b109a-efbf-429c-9261-9edce6d795a0".into(), None, true),
        ("DELETE", "/api/v2/silence/a49b109a-efbf-429c-9261-9edce6d795a0".into(), None, true),
        ("GET", "/api/v2/receivers".into(), None, true),
        ("GET", "/api/v2/status".into(), None, false),
        ("GET", "/api/v2/nothing".into(), None, true),
    ];
    let mut agreed = 0;
    let mut problems = vec![];
    for (method, path, body, exact) in &cases {
        let (rc, rb) = request(&reference, method, path, body.as_deref());
        let (oc, ob) = request(&oxeye, method, path, body.as_deref());
        let what = format!("{method} {path} {}", body.as_deref().unwrap_or(""));
        if rc != oc {
            problems.push(format!("{what}: status {oc}, Alertmanager {rc}\n  ours:   {ob}\n  theirs: {rb}"));
            continue;
        }
        let same = if *exact || rc >= 400 {
            // Go's regexp error texts cannot be reproduced; compare those by prefix.
            *exact && ob == rb || !*exact && ob.split(':').next() == rb.split(':').next()
        } else {
            let (rv, ov): (Value, Value) =
                (serde_json::from_str(&rb).unwrap_or(Value::Null), serde_json::from_str(&ob).unwrap_or(Value::Null));
            shape(&rv) == shape(&ov)
        };
        if same {
            agreed += 1;
        } else {
            problems.push(format!("{what}: bodies differ\n  ours:   {ob}\n  theirs: {rb}"));
        }
    }
    for p in &problems {
        println!("  {p}");
    }
    println!("api v2 against alertmanager 0.25: {agreed} of {} requests agree", cases.len());
    assert!(problems.is_empty(), "{} requests differ", problems.len());
}
