use chrono::{DateTime, Utc};
use oxeye_model::Labels;

use super::*;

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
}

fn alert(status: &str, labels: &[(&str, &str)], ann: &[(&str, &str)]) -> TemplateAlert {
    TemplateAlert {
        status: status.into(),
        labels: Labels::from_pairs(labels.iter().copied()),
        annotations: Labels::from_pairs(ann.iter().copied()),
        starts_at: ts("2020-01-02T03:04:05Z"),
        ends_at: ts("2020-01-02T04:04:05.5Z"),
        generator_url: "http://prom/graph".into(),
        fingerprint: "0123456789abcdef".into(),
    }
}

fn sample() -> TemplateData {
    TemplateData::new(
        "webhook",
        &Labels::from_pairs([("job", "j")]),
        vec![
            alert("firing", &[("alertname", "HighLatency"), ("job", "j"), ("instance", "a")], &[("summary", "s1")]),
            alert("resolved", &[("alertname", "HighLatency"), ("job", "j"), ("instance", "b")], &[("summary", "s2")]),
        ],
        "http://am.example",
    )
}

fn run(text: &str) -> String {
    let t = Templates::default_only().unwrap_or_else(|e| panic!("{e}"));
    t.execute_text(text, &sample().to_value()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kv_methods_and_fields() {
    assert_eq!(run("{{ .CommonLabels.alertname }}"), "HighLatency");
    assert_eq!(run("{{ .CommonLabels.missing }}|"), "|");
    assert_eq!(run("{{ .CommonLabels.SortedPairs.Names | join \",\" }}"), "alertname,job");
    assert_eq!(run("{{ .CommonLabels.Names }}"), "[alertname job]");
    assert_eq!(run("{{ .CommonLabels.Values }}"), "[HighLatency j]");
    assert_eq!(run("{{ len .CommonLabels }}"), "2");
    assert_eq!(run("{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v }};{{ end }}"), "alertname=HighLatency;job=j;");
    assert_eq!(
        run("{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join \" \" }}{{ end }}"),
        "HighLatency"
    );
    assert_eq!(run("{{ .GroupLabels.Names | .CommonLabels.Remove }}"), "map[alertname:HighLatency]");
    assert_eq!(run("{{ index .CommonLabels \"job\" }}"), "j");
    assert_eq!(run("{{ .CommonLabels }}"), "map[alertname:HighLatency job:j]");
}

#[test]
fn alerts_methods() {
    assert_eq!(run("{{ len .Alerts }} {{ .Alerts.Firing | len }} {{ len .Alerts.Resolved }}"), "2 1 1");
    assert_eq!(run("{{ range .Alerts.Firing }}{{ .Labels.instance }}{{ end }}"), "a");
    assert_eq!(
        run("{{ range .Alerts }}{{ .Status }} {{ range .Labels.SortedPairs }}{{ .Name }},{{ end }};{{ end }}"),
        "firing alertname,instance,job,;resolved alertname,instance,job,;"
    );
    assert_eq!(run("{{ (index .Alerts 0).Fingerprint }}"), "0123456789abcdef");
    assert_eq!(run("{{ $a := index .Alerts 1 }}{{ $a.Annotations.summary }}"), "s2");
}

#[test]
fn times_and_functions() {
    assert_eq!(run("{{ (index .Alerts 0).StartsAt }}"), "2020-01-02 03:04:05 +0000 UTC");
    assert_eq!(
        run("{{ (index .Alerts 0).EndsAt.Format \"2006-01-02T15:04:05.000Z07:00\" }}"),
        "2020-01-02T04:04:05.500Z"
    );
    assert_eq!(run("{{ range .Alerts }}{{ .StartsAt.Unix }}{{ end }}"), "15779342451577934245");
    assert_eq!(run("{{ (index .Alerts 0).StartsAt | tz \"Europe/Paris\" | date \"15:04 MST\" }}"), "04:04 CET");
    assert_eq!(run("{{ (index .Alerts 0).EndsAt.Sub (index .Alerts 0).StartsAt }}"), "1h0m0.5s");
    assert_eq!(run("{{ humanizeDuration 3661 }}"), "1h 1m 1s");
    assert_eq!(
        run("{{ \"hello world\" | title }} {{ toUpper \"a\" }} {{ toLower \"B\" }} [{{ trimSpace \"  x \" }}]"),
        "Hello World A b [x]"
    );
    assert_eq!(run("{{ stringSlice \"a\" \"b\" | join \"-\" }}"), "a-b");
    assert_eq!(run("{{ reReplaceAll \"(a+)b\" \"${1}X\" \"aab cab\" }}"), "aaX caX");
    assert_eq!(run("{{ if match \"^High\" .CommonLabels.alertname }}yes{{ end }}"), "yes");
    assert_eq!(run("{{ .Receiver | urlquery }}"), "webhook");
    assert_eq!(run("{{ toJson .GroupLabels }}"), r#"{"job":"j"}"#);
}

#[test]
fn default_templates_render_like_alertmanager() {
    assert_eq!(run("{{ template \"__subject\" . }}"), "[FIRING:1] j (HighLatency)");
    assert_eq!(run("{{ template \"slack.default.title\" . }}"), "[FIRING:1] j (HighLatency)");
    assert_eq!(
        run("{{ template \"slack.default.fallback\" . }}"),
        "[FIRING:1] j (HighLatency) | http://am.example/#/alerts?receiver=webhook"
    );
    assert_eq!(run("{{ template \"slack.default.username\" . }}"), "Alertmanager");
    assert_eq!(
        run("{{ template \"opsgenie.default.description\" . }}"),
        "\nAlerts Firing:\nLabels:\n - alertname = HighLatency\n - instance = a\n - job = j\nAnnotations:\n - summary = s1\nSource: http://prom/graph\n\nAlerts Resolved:\nLabels:\n - alertname = HighLatency\n - instance = b\n - job = j\nAnnotations:\n - summary = s2\nSource: http://prom/graph\n"
    );
    assert_eq!(
        run("{{ template \"telegram.default.message\" . }}"),
        "\n\nAlerts Firing:\nLabels:\n - alertname = HighLatency\n - instance = a\n - job = j\nAnnotations:\n - summary = s1\nSource: http://prom/graph\n\n\n\nAlerts Resolved:\nLabels:\n - alertname = HighLatency\n - instance = b\n - job = j\nAnnotations:\n - summary = s2\nSource: http://prom/graph\n\n\n"
    );
}

#[test]
fn subject_when_all_labels_grouped_and_resolved() {
    let d = TemplateData::new(
        "r",
        &Labels::from_pairs([("alertname", "A")]),
        vec![alert("resolved", &[("alertname", "A")], &[])],
        "http://am",
    );
    let t = Templates::default_only().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.execute_text("{{ template \"__subject\" . }}", &d.to_value()).as_deref(), Ok("[RESOLVED] A "));
}

#[test]
fn html_mode_escapes_unless_safe() {
    let t = Templates::default_only().unwrap_or_else(|e| panic!("{e}"));
    let v = sample().to_value();
    assert_eq!(t.execute_html("<b>{{ \"a<b & 'c'\" }}</b>", &v).as_deref(), Ok("<b>a&lt;b &amp; &#39;c&#39;</b>"));
    assert_eq!(t.execute_html("{{ \"<i>x</i>\" | safeHtml }}", &v).as_deref(), Ok("<i>x</i>"));
    assert_eq!(t.execute_text("{{ \"<i>\" }}", &v).as_deref(), Ok("<i>"));
    let html = t.execute_html("{{ template \"email.default.html\" . }}", &v).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("<title style="), "{html}");
    assert!(html.contains("[FIRING:1] j (HighLatency)</title>"), "{html}");
    assert!(html.contains("[1] Firing</strong>"), "{html}");
    assert!(html.contains("instance = b<br"), "{html}");
}

#[test]
fn user_templates_and_errors() {
    let t = Templates::from_sources(&[(
        "my.tmpl".into(),
        "{{ define \"slack.default.title\" }}custom {{ .Status }}{{ end }}{{ define \"x\" }}X{{ end }}".into(),
    )])
    .unwrap_or_else(|e| panic!("{e}"));
    let v = sample().to_value();
    assert_eq!(t.execute_text("{{ template \"slack.default.title\" . }}", &v).as_deref(), Ok("custom firing"));
    assert_eq!(t.execute_text("{{ template \"x\" . }}", &v).as_deref(), Ok("X"));
    assert_eq!(t.execute_text("", &v).as_deref(), Ok(""));
    assert_eq!(t.execute_text("plain", &v).as_deref(), Ok("plain"));
    assert!(t.execute_text("{{ template \"nope\" . }}", &v).is_err());
    assert!(t.execute_text("{{ .Nope }}", &v).is_err());
    let err = Templates::from_sources(&[("bad.tmpl".into(), "{{ define \"y\" }}{{ nofunc . }}{{ end }}".into())]);
    assert!(err.is_err_and(|e| e.0.contains("function \"nofunc\" not defined")));
}
