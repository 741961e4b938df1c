//! Loading behaviour a user can observe: defaults, inheritance from the parent route and from
//! `global`, merged matchers, time intervals, path resolution, and errors that name the file,
//! line and column.

use std::time::Duration;

use oxeye_am_config::{
    DEFAULT_EMAIL_SUBJECT, ErrorKind, GroupBy, MatchOp, Tz, load_file, load_str, matches_all, parse_matchers,
};
use oxeye_model::Labels;

const FULL: &str = include_str!("testdata/good.full.yml");

#[test]
fn defaults_of_a_minimal_file() {
    let c = load_str("route: {receiver: r}\nreceivers: [{name: r}]\n", "min.yml").unwrap();
    assert_eq!(c.global.resolve_timeout, Duration::from_secs(300));
    assert_eq!(c.global.smtp_hello, "localhost");
    assert!(c.global.smtp_require_tls);
    assert_eq!(c.global.pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
    assert_eq!(c.global.opsgenie_api_url, "https://api.opsgenie.com/");
    assert_eq!(c.global.telegram_api_url, "https://api.telegram.org");
    assert_eq!(c.global.webex_api_url, "https://webexapis.com/v1/messages");
    assert!(c.global.slack_api_url.is_none());
    assert!(c.global.http_config.follow_redirects && c.global.http_config.enable_http2);
    assert_eq!(c.route.group_wait, Duration::from_secs(30));
    assert_eq!(c.route.group_interval, Duration::from_secs(300));
    assert_eq!(c.route.repeat_interval, Duration::from_secs(4 * 3600));
    assert_eq!(c.route.group_by, GroupBy::Labels(vec![]));
    assert!(c.route.matchers.is_empty() && !c.route.continue_matching);
    assert_eq!(c.original, "route: {receiver: r}\nreceivers: [{name: r}]\n");
}

#[test]
fn children_inherit_route_options() {
    let c = load_str(FULL, "full.yml").unwrap();
    let root = &c.route;
    assert_eq!(root.group_by, GroupBy::Labels(vec!["alertname".into(), "cluster".into()]));
    let pager = &root.routes[0];
    assert_eq!(pager.receiver, "pager");
    assert!(pager.continue_matching);
    assert_eq!(pager.group_by, root.group_by);
    assert_eq!(pager.group_wait, Duration::from_secs(10));
    assert_eq!(pager.group_interval, Duration::from_secs(60));
    assert_eq!(pager.repeat_interval, Duration::from_secs(3 * 3600));
    let team_b = &root.routes[1];
    assert_eq!(team_b.group_by, GroupBy::All);
    let mail = &team_b.routes[0];
    assert_eq!(mail.group_by, GroupBy::All, "inherited from the parent, not the root");
    assert_eq!(mail.mute_time_intervals, ["offhours"]);
    assert_eq!(mail.active_time_intervals, ["business"]);
    // A child without a receiver inherits its parent's.
    let c = load_str("route:\n  receiver: a\n  routes:\n    - matchers: [x=y]\n      routes: [{matchers: [z=w]}]\nreceivers: [{name: a}]\n", "x").unwrap();
    assert_eq!(c.route.routes[0].routes[0].receiver, "a");
}

#[test]
fn legacy_and_new_matchers_are_merged_and_sorted() {
    let c = load_str(FULL, "full.yml").unwrap();
    let team_b = &c.route.routes[1];
    let shown: Vec<String> = team_b.matchers.iter().map(|m| m.to_string()).collect();
    assert_eq!(shown, [r#"env=~"prod|staging""#, r#"service="db""#]);
    let pager = &c.route.routes[0];
    let shown: Vec<String> = pager.matchers.iter().map(|m| m.to_string()).collect();
    assert_eq!(shown, [r#"severity="critical""#, r#"team=~"a|b""#]);
    let labels = Labels::from_pairs([("service", "db"), ("env", "prod")]);
    assert!(matches_all(&team_b.matchers, &labels));
    assert!(!matches_all(&team_b.matchers, &Labels::from_pairs([("service", "db"), ("env", "production")])));
    // One `matchers` item may hold several matchers.
    let mail = &team_b.routes[0];
    assert_eq!(mail.matchers.len(), 2);
    assert_eq!(mail.matchers[0].op, MatchOp::NotEqual);
}

#[test]
fn inhibit_rules() {
    let c = load_str(FULL, "full.yml").unwrap();
    assert_eq!(c.inhibit_rules.len(), 2);
    assert_eq!(c.inhibit_rules[0].source_matchers, parse_matchers("severity=critical").unwrap());
    assert_eq!(c.inhibit_rules[0].equal, ["alertname", "cluster"]);
    assert_eq!(c.inhibit_rules[1].source_matchers, parse_matchers("severity=page").unwrap());
    assert_eq!(c.inhibit_rules[1].target_matchers, parse_matchers("severity=~warn.*").unwrap());
}

#[test]
fn integrations_get_defaults_and_globals() {
    let c = load_str(FULL, "full.yml").unwrap();
    let wh = &c.receiver("team-a").unwrap().webhook_configs[0];
    assert!(wh.send_resolved);
    assert_eq!(wh.max_alerts, 10);
    assert_eq!(wh.url.expose(), "http://127.0.0.1:5001/hook");
    let auth = wh.http_config.authorization.as_ref().expect("bearer_token moved to authorization");
    assert_eq!((auth.kind.as_str(), auth.credentials.expose()), ("Bearer", "abc"));
    assert!(wh.http_config.follow_redirects, "an own http_config does not inherit global fields");

    let slack = &c.receiver("team-b").unwrap().slack_configs[0];
    assert_eq!(slack.api_url.expose(), "https://hooks.slack.com/services/x");
    assert!(slack.send_resolved);
    assert_eq!(slack.title, r#"{{ template "slack.default.title" . }}"#);
    assert_eq!(slack.color, r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#);
    assert!(!slack.http_config.follow_redirects, "no own http_config: the global one applies");
    assert_eq!(slack.fields[0].short, Some(true));

    let pager = c.receiver("pager").unwrap();
    let pd = &pager.pagerduty_configs[0];
    assert_eq!(pd.url, "https://events.pagerduty.com/v2/enqueue");
    assert_eq!(pd.details["num_firing"], "{{ .Alerts.Firing | len }}");
    assert_eq!(pd.details["extra"], "{{ .CommonLabels.job }}");
    assert_eq!(pd.description, r#"{{ template "pagerduty.default.description" .}}"#);
    assert_eq!(pd.source, pd.client);
    let og = &pager.opsgenie_configs[0];
    assert_eq!(og.api_key.expose(), "key");
    assert_eq!(og.api_url, "https://api.opsgenie.com/");
    assert_eq!(og.responders[0].kind, "team", "responder types are lower-cased");

    let mail = c.receiver("mail").unwrap();
    let em = &mail.email_configs[0];
    assert!(!em.send_resolved);
    assert_eq!(em.from, "alertmanager@example.org");
    assert_eq!(em.smarthost.to_string(), "smtp.example.org:587");
    assert_eq!(em.hello, "localhost");
    assert_eq!(em.auth_username, "am");
    assert_eq!(em.auth_password.expose(), "secret");
    assert_eq!(em.require_tls, Some(true));
    assert_eq!(em.headers["Subject"], "custom");
    assert_eq!(em.headers["To"], "oncall@example.org");
    assert_eq!(em.headers["From"], "alertmanager@example.org");
    assert_eq!(em.html, r#"{{ template "email.default.html" . }}"#);
    let tg = &mail.telegram_configs[0];
    assert_eq!((tg.chat_id, tg.parse_mode.as_str()), (-1001234, "HTML"));
    assert_eq!(tg.api_url, "https://api.telegram.org");
    assert_eq!(tg.message, r#"{{ template "telegram.default.message" . }}"#);
    let dc = &mail.discord_configs[0];
    assert!(dc.send_resolved);
    assert_eq!(dc.title, r#"{{ template "discord.default.title" . }}"#);
    let wx = &mail.webex_configs[0];
    assert_eq!(wx.api_url, "https://webexapis.com/v1/messages");
    assert_eq!(wx.message, r#"{{ template "webex.default.message" . }}"#);
}

#[test]
fn email_subject_default_and_require_tls_override() {
    let src = "global: {smtp_from: a@b.c, smtp_smarthost: 'h:25', smtp_require_tls: false}\nroute: {receiver: r}\nreceivers:\n  - name: r\n    email_configs: [{to: x@y.z}, {to: q@y.z, require_tls: true}]\n";
    let c = load_str(src, "e.yml").unwrap();
    let ems = &c.receivers[0].email_configs;
    assert_eq!(ems[0].headers["Subject"], DEFAULT_EMAIL_SUBJECT);
    assert_eq!(ems[0].require_tls, Some(false));
    assert_eq!(ems[1].require_tls, Some(true));
}

#[test]
fn time_intervals_merge_and_evaluate() {
    let c = load_str(FULL, "full.yml").unwrap();
    let names: Vec<&str> = c.time_intervals.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["offhours", "business"]);
    let business = c.time_interval("business").unwrap();
    assert_eq!(business.intervals[0].location, Some(Tz::Europe__Berlin));
    // 2024-01-02 was a Tuesday; 10:00 in Berlin (CET) is 09:00 UTC.
    let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T09:00:00Z").unwrap().to_utc();
    assert!(business.contains(t));
    let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T16:30:00Z").unwrap().to_utc();
    assert!(!business.contains(t), "17:30 in Berlin is after the end time");
    let offhours = c.time_interval("offhours").unwrap();
    let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T23:59:00Z").unwrap().to_utc();
    assert!(offhours.contains(t));
}

#[test]
fn errors_name_file_line_and_column() {
    let e = load_str("route:\n  receiver: a\n  recevier: b\nreceivers: [{name: a}]\n", "am.yml").unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownField);
    assert_eq!(e.to_string(), "am.yml:3:3: field recevier not found in route");

    let e = load_str("route:\n  receiver: a\n  routes:\n    - receiver: nope\nreceivers: [{name: a}]\n", "am.yml")
        .unwrap_err();
    assert_eq!(e.to_string(), "am.yml:4:7: undefined receiver \"nope\" used in route");

    let src = "route: {receiver: a}\nreceivers:\n  - name: a\n    victorops_configs:\n      - routing_key: x\n";
    let e = load_str(src, "am.yml").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(e.to_string(), "am.yml:4:5: victorops_configs (in receiver \"a\") is not supported by Oxeye yet");

    let src = "route:\n  receiver: a\n  routes:\n    - matchers: ['a=b', 'c=~(']\nreceivers: [{name: a}]\n";
    let e = load_str(src, "am.yml").unwrap_err();
    assert_eq!(e.line(), Some(4));
    assert!(e.message.starts_with("error parsing regexp"), "{e}");

    let src = "route: {receiver: a}\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: 'ftp://x'\n";
    let e = load_str(src, "am.yml").unwrap_err();
    assert_eq!(e.to_string(), "am.yml:5:9: unsupported scheme \"ftp\" for URL");

    let e = load_str("route: {receiver: a, group_interval: 0s}\nreceivers: [{name: a}]\n", "am.yml").unwrap_err();
    assert_eq!(e.message, "group_interval cannot be zero");
}

#[test]
fn file_paths_resolve_against_the_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alertmanager.yml");
    let src = "global:\n  slack_api_url_file: secrets/slack\ntemplates: ['t/*.tmpl', '/abs/x.tmpl']\nroute: {receiver: a}\nreceivers:\n  - name: a\n    slack_configs: [{channel: x}]\n    webhook_configs:\n      - url: http://x:1/\n        http_config: {basic_auth: {username: u, password_file: pw}}\n";
    std::fs::write(&path, src).unwrap();
    let c = load_file(&path).unwrap();
    let d = dir.path().display().to_string();
    assert_eq!(c.templates, [format!("{d}/t/*.tmpl"), "/abs/x.tmpl".to_string()]);
    assert_eq!(c.receivers[0].slack_configs[0].api_url_file, format!("{d}/secrets/slack"));
    let ba = c.receivers[0].webhook_configs[0].http_config.basic_auth.as_ref().unwrap();
    assert_eq!(ba.password_file, format!("{d}/pw"));
    let e = load_file(&dir.path().join("missing.yml")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
}

#[test]
fn yaml11_spellings_and_scalars_load_like_go() {
    let src = "route: {receiver: a, continue: no}\nreceivers:\n  - name: a\n    webhook_configs: [{url: 'http://x:1/', send_resolved: off}]\n    webex_configs: [{room_id: 12345, http_config: {authorization: {credentials: t}}}]\n";
    let c = load_str(src, "x").unwrap();
    assert!(!c.receivers[0].webhook_configs[0].send_resolved);
    assert_eq!(c.receivers[0].webex_configs[0].room_id, "12345");
}
