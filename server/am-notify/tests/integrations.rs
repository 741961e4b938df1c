//! Golden payload tests: each integration sends to an in-process HTTP server (axum on
//! 127.0.0.1:0) or SMTP server, and the request's method, path, headers and JSON body are
//! checked against what Alertmanager 0.25 sends for the same alerts.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use chrono::{DateTime, Utc};
use oxeye_am_config::{
    BasicAuth, DiscordConfig, EmailConfig, HostPort, HttpClientConfig, MsTeamsConfig, OpsGenieConfig,
    OpsGenieResponder, PagerdutyConfig, Receiver, Secret, SlackConfig, SlackField, TelegramConfig, WebexConfig,
    WebhookConfig,
};
use oxeye_am_core::{Alert, Integration, NotifyContext, NotifyError};
use oxeye_am_notify::{Templates, build_integrations, notification::group_key_hash};
use oxeye_model::Labels;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, Clone)]
struct Captured {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Captured {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
    fn header(&self, k: &str) -> &str {
        self.headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Captured>>>,
}

/// An HTTP server answering every request with `status` and `body`.
async fn server(status: u16, body: &'static str) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, b: Bytes| {
        let seen = s2.clone();
        async move {
            if let Ok(mut g) = seen.lock() {
                g.push(Captured { method, uri: uri.to_string(), headers, body: b.to_vec() });
            }
            (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { url: format!("http://{addr}"), seen }
}

impl Server {
    fn requests(&self) -> Vec<Captured> {
        self.seen.lock().map(|g| g.clone()).unwrap_or_default()
    }
    fn only(&self) -> Captured {
        let r = self.requests();
        assert_eq!(r.len(), 1, "requests: {r:?}");
        r[0].clone()
    }
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn alert(labels: &[(&str, &str)], ann: &[(&str, &str)], resolved: bool) -> Alert {
    Alert {
        labels: Labels::from_pairs(labels.iter().copied()),
        annotations: Labels::from_pairs(ann.iter().copied()),
        starts_at: ts("2023-01-01T10:00:00Z"),
        ends_at: if resolved { ts("2023-01-01T11:00:00.25Z") } else { ts("2023-01-01T13:00:00Z") },
        generator_url: "http://prometheus:9090/graph?g0.expr=up".into(),
        updated_at: ts("2023-01-01T10:00:00Z"),
        timeout: false,
    }
}

fn alerts() -> Vec<Alert> {
    vec![
        alert(&[("alertname", "Down"), ("job", "api"), ("instance", "a:1")], &[("summary", "a is down")], false),
        alert(&[("alertname", "Down"), ("job", "api"), ("instance", "b:1")], &[("summary", "b is down")], true),
    ]
}

fn ctx() -> NotifyContext {
    NotifyContext {
        receiver: "team-api".into(),
        group_key: "{}:{alertname=\"Down\"}".into(),
        group_labels: Labels::from_pairs([("alertname", "Down")]),
        external_url: "http://am.example:9093".into(),
        repeat_interval: std::time::Duration::from_secs(3600),
        now: ts("2023-01-01T12:00:00Z"),
        firing: Vec::new(),
        resolved: Vec::new(),
    }
}

fn templates() -> Arc<Templates> {
    Arc::new(Templates::default_only().unwrap_or_else(|e| panic!("{e}")))
}

fn one(r: Receiver) -> Arc<dyn Integration> {
    let mut v = build_integrations(&r, templates()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.len(), 1);
    v.remove(0)
}

async fn send(i: &Arc<dyn Integration>, alerts: &[Alert]) -> Result<(), NotifyError> {
    i.notify(&ctx(), alerts).await
}

fn webhook_receiver(url: &str, max_alerts: u64) -> Receiver {
    Receiver {
        name: "team-api".into(),
        webhook_configs: vec![WebhookConfig {
            url: Secret::new(url),
            max_alerts,
            http_config: HttpClientConfig {
                basic_auth: Some({
                    let mut b = BasicAuth::default();
                    b.username = "u".into();
                    b.password = Secret::new("p");
                    b
                }),
                ..Default::default()
            },
            ..Default::default()
        }],
        ..Default::default()
    }
}

const SUBJECT: &str = "[FIRING:1] Down (api)";

#[tokio::test]
async fn webhook_payload_version_4() {
    let srv = server(200, "").await;
    let i = one(webhook_receiver(&format!("{}/hook", srv.url), 0));
    assert_eq!((i.name(), i.index(), i.send_resolved()), ("webhook", 0, true));
    send(&i, &alerts()).await.unwrap_or_else(|e| panic!("{e}"));
    let r = srv.only();
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.uri, "/hook");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("authorization"), "Basic dTpw");
    assert_eq!(r.header("user-agent"), "Alertmanager/0.25.0");
    let fp0 = alerts()[0].fingerprint().to_string();
    let fp1 = alerts()[1].fingerprint().to_string();
    let expected = json!({
        "receiver": "team-api",
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "Down", "instance": "a:1", "job": "api"},
             "annotations": {"summary": "a is down"}, "startsAt": "2023-01-01T10:00:00Z",
             "endsAt": "2023-01-01T13:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
             "fingerprint": fp0},
            {"status": "resolved", "labels": {"alertname": "Down", "instance": "b:1", "job": "api"},
             "annotations": {"summary": "b is down"}, "startsAt": "2023-01-01T10:00:00Z",
             "endsAt": "2023-01-01T11:00:00.25Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
             "fingerprint": fp1},
        ],
        "groupLabels": {"alertname": "Down"},
        "commonLabels": {"alertname": "Down", "job": "api"},
        "commonAnnotations": {},
        "externalURL": "http://am.example:9093",
        "version": "4",
        "groupKey": "{}:{alertname=\"Down\"}",
        "truncatedAlerts": 0,
    });
    assert_eq!(r.json(), expected);
    // Go's encoder field order and trailing newline.
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert!(text.starts_with("{\"receiver\":\"team-api\",\"status\":\"firing\",\"alerts\":["), "{text}");
    assert!(text.ends_with("\"truncatedAlerts\":0}\n"), "{text}");
}

#[tokio::test]
async fn webhook_max_alerts_truncates() {
    let srv = server(200, "").await;
    let i = one(webhook_receiver(&srv.url, 1));
    let mut a = alerts();
    a.push(alert(&[("alertname", "Down"), ("job", "web"), ("instance", "c:1")], &[], false));
    send(&i, &a).await.unwrap_or_else(|e| panic!("{e}"));
    let body = srv.only().json();
    assert_eq!(body["truncatedAlerts"], 2);
    assert_eq!(body["alerts"].as_array().map(Vec::len), Some(1));
    // Common labels come from the kept alerts only.
    assert_eq!(body["commonLabels"], json!({"alertname": "Down", "instance": "a:1", "job": "api"}));
}

#[tokio::test]
async fn retry_classification_by_status() {
    for (status, retry) in [(500u16, true), (503, true), (429, true), (400, false), (404, false)] {
        let srv = server(status, "nope").await;
        let i = one(webhook_receiver(&srv.url, 0));
        let e = send(&i, &alerts()).await.err().unwrap_or_else(|| panic!("status {status} must fail"));
        assert_eq!(e.retry, retry, "status {status}");
        assert_eq!(e.message, format!("unexpected status code {status}: nope"));
    }
    // Connection refused: a network error is retried.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    let i = one(webhook_receiver(&format!("http://{addr}/"), 0));
    let e = send(&i, &alerts()).await.err().unwrap_or_else(|| panic!("must fail"));
    assert!(e.retry, "{e:?}");
}

#[tokio::test]
async fn slack_attachment() {
    let srv = server(200, "ok").await;
    let conf = SlackConfig {
        api_url: Secret::new(format!("{}/services/x", srv.url)),
        channel: "#alerts".into(),
        fields: vec![SlackField { title: "job".into(), value: "{{ .CommonLabels.job }}".into(), short: None }],
        short_fields: true,
        ..Default::default()
    };
    let i = one(Receiver { name: "team-api".into(), slack_configs: vec![conf], ..Default::default() });
    assert!(!i.send_resolved());
    send(&i, &alerts()).await.unwrap_or_else(|e| panic!("{e}"));
    let r = srv.only();
    assert_eq!(r.uri, "/services/x");
    let link = "http://am.example:9093/#/alerts?receiver=team-api";
    assert_eq!(
        r.json(),
        json!({
            "channel": "#alerts",
            "username": "Alertmanager",
            "attachments": [{
                "title": SUBJECT,
                "title_link": link,
                "text": "",
                "fallback": format!("{SUBJECT} | {link}"),
                "callback_id": "",
                "fields": [{"title": "job", "value": "api", "short": true}],
                "footer": "",
                "color": "danger",
                "mrkdwn_in": ["fallback", "pretext", "text"],
            }],
        })
    );
}

#[tokio::test]
async fn pagerduty_events_v2_trigger_and_resolve() {
    let srv = server(202, "{}").await;
    let mut conf = PagerdutyConfig {
        routing_key: Secret::new("rk"),
        url: format!("{}/v2/enqueue", srv.url),
        ..Default::default()
    };
    conf.details = [("num_firing".to_string(), "{{ .Alerts.Firing | len }}".to_string())].into_iter().collect();
    conf.source = conf.client.clone();
    let i = one(Receiver { name: "team-api".into(), pagerduty_configs: vec![conf], ..Default::default() });
    send(&i, &alerts()).await.unwrap_or_else(|e| panic!("{e}"));
    send(&i, &alerts()[1..]).await.unwrap_or_else(|e| panic!("{e}"));
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].uri, "/v2/enqueue");
    let key = group_key_hash("{}:{alertname=\"Down\"}");
    assert_eq!(key.len(), 64);
    assert_eq!(
        reqs[0].json(),
        json!({
            "routing_key": "rk",
            "dedup_key": key,
            "event_action": "trigger",
            "payload": {
                "summary": SUBJECT,
                "source": "Alertmanager",
                "severity": "error",
                "custom_details": {"num_firing": "1"},
            },
            "client": "Alertmanager",
            "client_url": "http://am.example:9093/#/alerts?receiver=team-api",
        })
    );
    let resolve = reqs[1].json();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], json!(key));
    assert_eq!(resolve["payload"], Value::Null);
}

#[tokio::test]
async fn opsgenie_create_and_close() {
    let srv = server(202, "{}").await;
    let conf = OpsGenieConfig {
        api_key: Secret::new("key1"),
        api_url: format!("{}/", srv.url),
        tags: "a, b,".into(),
        responders: vec![OpsGenieResponder { name: "t1,t2".into(), kind: "teams".into(), ..Default::default() }],
        ..Default::default()
    };
    let i = one(Receiver { name: "team-api".into(), opsgenie_configs: vec![conf], ..Default::default() });
    send(&i, &alerts()).await.unwrap_or_else(|e| panic!("{e}"));
    send(&i, &alerts()[1..]).await.unwrap_or_else(|e| panic!("{e}"));
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    let alias = group_key_hash("{}:{alertname=\"Down\"}");
    assert_eq!((reqs[0].method.as_str(), reqs[0].uri.as_str()), ("POST", "/v2/alerts"));
    assert_eq!(reqs[0].header("authorization"), "GenieKey key1");
    let body = reqs[0].json();
    assert_eq!(body["alias"], json!(alias));
    assert_eq!(body["message"], SUBJECT);
    assert_eq!(body["details"], json!({"alertname": "Down", "job": "api"}));
    assert_eq!(body["source"], "http://am.example:9093/#/alerts?receiver=team-api");
    assert_eq!(body["tags"], json!(["a", "b"]));
    assert_eq!(body["responders"], json!([{"name": "t1", "type": "team"}, {"name": "t2", "type": "team"}]));
    let desc = body["description"].as_str().unwrap_or_default();
    assert!(desc.starts_with("\nAlerts Firing:\nLabels:\n - alertname = Down\n - instance = a:1\n"), "{desc:?}");
    assert_eq!(reqs[1].uri, format!("/v2/alerts/{alias}/close?identifierType=alias"));
    assert_eq!(reqs[1].json(), json!({"source": "http://am.example:9093/#/alerts?receiver=team-api"}));
}

#[tokio::test]
async fn msteams_discord_webex_telegram() {
    let srv = server(200, "{\"ok\":true}").await;
    let r = Receiver {
        name: "team-api".into(),
        msteams_configs: vec![MsTeamsConfig {
            webhook_url: Secret::new(format!("{}/teams", srv.url)),
            ..Default::default()
        }],
        discord_configs: vec![DiscordConfig {
            webhook_url: Secret::new(format!("{}/discord", srv.url)),
            ..Default::default()
        }],
        webex_configs: vec![WebexConfig {
            api_url: format!("{}/v1/messages", srv.url),
            room_id: "room1".into(),
            http_config: HttpClientConfig {
                authorization: Some({
                    let mut a = oxeye_am_config::Authorization::default();
                    a.kind = "Bearer".into();
                    a.credentials = Secret::new("tok");
                    a
                }),
                ..Default::default()
            },
            ..Default::default()
        }],
        telegram_configs: vec![TelegramConfig {
            api_url: srv.url.clone(),
            bot_token: Secret::new("123:abc"),
            chat_id: -42,
            ..Default::default()
        }],
        ..Default::default()
    };
    let ints = build_integrations(&r, templates()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = ints.iter().map(|i| i.name()).collect();
    assert_eq!(names, ["telegram", "discord", "webex", "msteams"]);
    for i in &ints {
        send(i, &alerts()).await.unwrap_or_else(|e| panic!("{}: {e}", i.name()));
    }
    let reqs = srv.requests();
    let by_path = |p: &str| reqs.iter().find(|r| r.uri == p).cloned().unwrap_or_else(|| panic!("no request to {p}"));

    let tg = by_path("/bot123:abc/sendMessage").json();
    assert_eq!(tg["chat_id"], "-42");
    assert_eq!(tg["parse_mode"], "HTML");
    assert_eq!(tg["disable_web_page_preview"], "true");
    assert!(tg.get("disable_notification").is_none());
    let text = tg["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("\n\nAlerts Firing:\nLabels:\n - alertname = Down\n - instance = a:1\n"), "{text:?}");

    let d = by_path("/discord").json();
    assert_eq!(d["embeds"][0]["title"], SUBJECT);
    assert_eq!(d["embeds"][0]["color"], 0x992D22);

    let w = by_path("/v1/messages");
    assert_eq!(w.header("authorization"), "Bearer tok");
    assert_eq!(w.json()["roomId"], "room1");
    assert!(w.json()["markdown"].as_str().is_some_and(|m| m.contains("Alerts Resolved:")));

    let t = by_path("/teams").json();
    assert_eq!(t["@context"], "http://schema.org/extensions");
    assert_eq!(t["type"], "MessageCard");
    assert_eq!(t["title"], SUBJECT);
    assert_eq!(t["summary"], SUBJECT);
    assert_eq!(t["themeColor"], "8C1A1A");
    assert!(t["text"].as_str().is_some_and(|m| m.contains("# Alerts Firing:")));
}

#[tokio::test]
async fn telegram_api_error_is_retried() {
    let srv = server(400, "{\"ok\":false,\"description\":\"Bad Request: chat not found\"}").await;
    let i = one(Receiver {
        name: "r".into(),
        telegram_configs: vec![TelegramConfig {
            api_url: srv.url.clone(),
            bot_token: Secret::new("t"),
            chat_id: 1,
            ..Default::default()
        }],
        ..Default::default()
    });
    let e = send(&i, &alerts()).await.err().unwrap_or_else(|| panic!("must fail"));
    assert!(e.retry);
    assert!(e.message.contains("chat not found"), "{}", e.message);
}

#[tokio::test]
async fn template_error_is_not_retried() {
    let srv = server(200, "").await;
    let conf = SlackConfig {
        api_url: Secret::new(srv.url.clone()),
        title: "{{ template \"does.not.exist\" . }}".into(),
        ..Default::default()
    };
    let i = one(Receiver { name: "r".into(), slack_configs: vec![conf], ..Default::default() });
    let e = send(&i, &alerts()).await.err().unwrap_or_else(|| panic!("must fail"));
    assert!(!e.retry);
    assert!(srv.requests().is_empty());
}

/// A minimal SMTP server: advertises AUTH (and STARTTLS when asked), records the session.
async fn smtp_server(starttls: bool) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let log = log2.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 test ESMTP\r\n").await;
                let mut in_data = false;
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            if let Ok(mut g) = log.lock() {
                                g.push(format!("DATA:{data}"));
                            }
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    if let Ok(mut g) = log.lock() {
                        g.push(line.clone());
                    }
                    let reply: String = match line.split(' ').next().unwrap_or("") {
                        "EHLO" => {
                            let tls = if starttls { "250-STARTTLS\r\n" } else { "" };
                            format!("250-test\r\n{tls}250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
                        }
                        "AUTH" => "235 ok\r\n".into(),
                        "MAIL" | "RCPT" => "250 ok\r\n".into(),
                        "DATA" => {
                            in_data = true;
                            "354 go\r\n".into()
                        }
                        "QUIT" => "221 bye\r\n".into(),
                        _ => "502 no\r\n".into(),
                    };
                    let _ = w.write_all(reply.as_bytes()).await;
                }
            });
        }
    });
    (port, log)
}

/// Undoes quoted-printable soft breaks and escapes (the recorded lines have LF endings).
fn qp_decode(s: &str) -> String {
    let joined = s.replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn email_conf(port: u16, require_tls: bool) -> EmailConfig {
    let mut c = EmailConfig {
        to: "ops@example.com, Dev <dev@example.com>".into(),
        from: "am@example.com".into(),
        hello: "oxeye".into(),
        smarthost: HostPort { host: "localhost".into(), port: port.to_string() },
        auth_username: "user".into(),
        auth_password: Secret::new("pw"),
        require_tls: Some(require_tls),
        text: "{{ template \"__subject\" . }} text".into(),
        ..Default::default()
    };
    c.headers.insert("From".into(), c.from.clone());
    c.headers.insert("To".into(), c.to.clone());
    c.headers.insert("Subject".into(), "{{ template \"email.default.subject\" . }}".into());
    c
}

#[tokio::test]
async fn email_over_smtp() {
    let (port, log) = smtp_server(false).await;
    let i =
        one(Receiver { name: "team-api".into(), email_configs: vec![email_conf(port, false)], ..Default::default() });
    send(&i, &alerts()).await.unwrap_or_else(|e| panic!("{e}"));
    let log = log.lock().map(|g| g.clone()).unwrap_or_default();
    assert_eq!(log[0], "EHLO oxeye");
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.encode("\0user\0pw");
    assert_eq!(log[1], format!("AUTH PLAIN {plain}"));
    assert_eq!(log[2], "MAIL FROM:<am@example.com>");
    assert_eq!(log[3], "RCPT TO:<ops@example.com>");
    assert_eq!(log[4], "RCPT TO:<dev@example.com>");
    assert_eq!(log[5], "DATA");
    let raw = &log[6];
    let data = &qp_decode(raw);
    assert!(data.contains(&format!("Subject: {SUBJECT}\n")), "{data}");
    assert!(data.contains("To: ops@example.com, Dev <dev@example.com>\n"), "{data}");
    assert!(raw.contains("Content-Type: multipart/alternative;  boundary="), "{raw}");
    assert!(data.contains("Content-Type: text/plain; charset=UTF-8\n\n[FIRING:1] Down (api) text\n"), "{data}");
    assert!(data.contains("Content-Type: text/html; charset=UTF-8"), "{data}");
    assert!(data.contains("[FIRING:1] Down (api)</title>"), "{data}");
    assert!(data.contains("MIME-Version: 1.0"), "{data}");
    assert_eq!(log.last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn email_require_tls_without_starttls_fails() {
    let (port, _log) = smtp_server(false).await;
    let i = one(Receiver { name: "r".into(), email_configs: vec![email_conf(port, true)], ..Default::default() });
    let e = send(&i, &alerts()).await.err().unwrap_or_else(|| panic!("must fail"));
    assert!(e.retry);
    assert_eq!(
        e.message,
        format!("'require_tls' is true (default) but \"localhost:{port}\" does not advertise the STARTTLS extension")
    );
}
