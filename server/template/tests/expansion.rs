//! Template expansion cases after Prometheus's `template/template_test.go`, plus alert-template
//! behaviour (`$labels`, `$value`, missing labels, error wording).

use std::sync::Arc;

use oxeye_template::{
    AlertTemplateData, Expander, FuncContext, Labels, QueryFn, QuerySample, Value, check_alert_template,
    expand_alert_template, prometheus_funcs,
};

const EXT_URL: &str = "http://testhost:9090/path/prefix";

fn sample(pairs: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample { labels: Labels::from_pairs(pairs.iter().copied()), value }
}

fn fixed_query(result: Vec<QuerySample>) -> QueryFn {
    Arc::new(move |_q: &str, _ts: i64| Ok(result.clone()))
}

fn expand_with(text: &str, data: Value, result: Vec<QuerySample>, ts_ms: i64) -> Result<String, String> {
    let ctx = FuncContext { timestamp_ms: ts_ms, query: Some(fixed_query(result)), external_url: EXT_URL.into() };
    Expander::new("test", text, data, prometheus_funcs(&ctx)).expand().map_err(|e| e.0)
}

fn expand(text: &str) -> Result<String, String> {
    expand_with(text, Value::Nil, vec![], 0)
}

fn floats(v: &[f64]) -> Value {
    Value::List(v.iter().map(|f| Value::Float(*f)).collect::<Vec<_>>().into())
}

fn metric_a() -> Vec<QuerySample> {
    vec![sample(&[("__name__", "metric"), ("instance", "a")], 11.0)]
}

#[test]
fn plain_and_simple_values() {
    assert_eq!(expand("plain text").unwrap(), "plain text");
    assert_eq!(expand("{{ 1 }}").unwrap(), "1");
    assert_eq!(expand("{{ \"<b>\" }}").unwrap(), "<b>");
    assert_eq!(expand("{{ \"<b>\" | safeHtml }}").unwrap(), "<b>");
}

#[test]
fn args_pass_multiple_values_to_templates() {
    let out = expand("{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}").unwrap();
    assert_eq!(out, "1 2");
}

#[test]
fn query_first_value_and_label() {
    let one = vec![sample(&[], 1.5)];
    assert_eq!(expand_with("{{ query \"1.5\" | first | value }}", Value::Nil, one, 0).unwrap(), "1.5");
    let q = "{{ query \"metric{instance='a'}\" | first | value }}";
    assert_eq!(expand_with(q, Value::Nil, metric_a(), 0).unwrap(), "11");
    let q = "{{ query \"metric{instance='a'}\" | first | label \"instance\" }}";
    assert_eq!(expand_with(q, Value::Nil, metric_a(), 0).unwrap(), "a");
    let q = "{{ query \"metric{instance='a'}\" | first | label \"foo\" }}";
    assert_eq!(expand_with(q, Value::Nil, metric_a(), 0).unwrap(), "");
    let q = "{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}";
    assert_eq!(expand_with(q, Value::Nil, metric_a(), 0).unwrap(), "");
    let q = "{{ query \"x\" | first | strvalue }}";
    let strv = vec![sample(&[("__value__", "hello")], 0.0)];
    assert_eq!(expand_with(q, Value::Nil, strv, 0).unwrap(), "hello");
}

#[test]
fn range_over_query_sorted_by_label() {
    let result = vec![
        sample(&[("__name__", "metric"), ("instance", "b")], 21.0),
        sample(&[("__name__", "metric"), ("instance", "a")], 11.0),
    ];
    let q = "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}";
    assert_eq!(expand_with(q, Value::Nil, result, 0).unwrap(), "a:11: b:21: ");
}

#[test]
fn parse_errors_are_worded_like_go() {
    let err = expand("{{").unwrap_err();
    assert!(err.starts_with("error parsing template test: template: test:1: "), "{err}");
    assert!(err.contains("unclosed action"), "{err}");
    let err = expand("{{ nosuchfunc 1 }}").unwrap_err();
    assert_eq!(err, "error parsing template test: template: test:1: function \"nosuchfunc\" not defined");
}

#[test]
fn function_errors_carry_position_and_cause() {
    let err = expand_with("{{ query \"missing\" | first }}", Value::Nil, vec![], 0).unwrap_err();
    assert_eq!(
        err,
        "error executing template test: template: test:1:21: executing \"test\" at <first>: \
         error calling first: first() called on vector with no elements"
    );
    let err = expand_with("{{ (query \"missing\").banana }}", Value::Nil, vec![], 0).unwrap_err();
    assert!(err.starts_with("error executing template test: template: test"), "{err}");
    assert!(err.contains("banana"), "{err}");
}

#[test]
fn query_without_engine_fails() {
    let labels = Labels::empty();
    let data = AlertTemplateData { labels: &labels, external_labels: &labels, external_url: "", value: 0.0 };
    let err = expand_alert_template("X", "{{ query \"up\" }}", &data, 0, None).unwrap_err();
    assert!(err.0.contains("error calling query"), "{err}");
}

#[test]
fn regex_functions() {
    assert_eq!(expand("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}").unwrap(), "xa");
    assert_eq!(expand("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}").unwrap(), "true false");
    assert!(expand("{{ match \"(a\" \"aa\" }}").is_err());
}

#[test]
fn humanize_functions_over_data() {
    let h = |text: &str, v: &[f64]| expand_with(text, floats(v), vec![], 0).unwrap();
    assert_eq!(h("{{ range . }}{{ humanize . }}:{{ end }}", &[0.0, 1.0, 1234567.0, 0.12]), "0:1:1.235M:120m:");
    assert_eq!(h("{{ range . }}{{ humanize1024 . }}:{{ end }}", &[0.0, 1.0, 1048576.0, 0.12]), "0:1:1Mi:0.12:");
    assert_eq!(
        h(
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            &[0.0, 1.0, 60.0, 3600.0, 86400.0, 90000.0, -(86400.0 * 2.0 + 3600.0 * 3.0 + 245.0), 899.99]
        ),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"
    );
    assert_eq!(
        h("{{ range . }}{{ humanizeDuration . }}:{{ end }}", &[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(
        h(
            "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
            &[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]
        ),
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"
    );
}

#[test]
fn humanize_accepts_strings_and_ints() {
    assert_eq!(expand("{{ \"1234567\" | humanize }}").unwrap(), "1.235M");
    assert_eq!(expand("{{ 1048576 | humanize1024 }}").unwrap(), "1Mi");
    assert_eq!(expand("{{ \"3600\" | humanizeDuration }}").unwrap(), "1h 0m 0s");
    assert_eq!(expand("{{ \"+Inf\" | humanizeTimestamp }}").unwrap(), "+Inf");
    assert_eq!(expand("{{ \"1435065584.128\" | humanizeTimestamp }}").unwrap(), "2015-06-23 13:19:44.128 +0000 UTC");
    let err = expand("{{ \"one\" | humanizeDuration }}").unwrap_err();
    assert!(err.contains("strconv.ParseFloat: parsing \"one\": invalid syntax"), "{err}");
    assert!(expand("{{ true | humanize }}").unwrap_err().contains("can't convert bool to float"));
}

#[test]
fn humanize_percentage_and_timestamp() {
    let text = "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:\
                {{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}";
    assert_eq!(expand(text).unwrap(), "-22.22%:0%:12.35%:123.5%");
    assert_eq!(expand("{{ 1435065584.128 | humanizeTimestamp }}").unwrap(), "2015-06-23 13:19:44.128 +0000 UTC");
    assert!(expand("{{ 9223372036854775807 | humanizeTimestamp }}").is_err());
}

#[test]
fn time_and_duration_functions() {
    assert_eq!(expand("{{ toTime 1435065584.128 }}").unwrap(), "2015-06-23 13:19:44.128 +0000 UTC");
    assert_eq!(expand("{{ \"1435065584\" | toTime }}").unwrap(), "2015-06-23 13:19:44 +0000 UTC");
    assert_eq!(expand("{{ toDuration 60.1 }}").unwrap(), "1m0.1s");
    assert_eq!(expand("{{ 3600 | toDuration }}").unwrap(), "1h0m0s");
    assert_eq!(expand("{{ toDuration 60.1 | humanizeDuration }}").unwrap(), "1m 0s");
    assert!(expand("{{ toTime \"NaN\" }}").is_err());
    assert_eq!(expand_with("{{ now }}", Value::Nil, vec![], 1_500).unwrap(), "1.5");
    assert_eq!(
        expand_with("{{ now | humanizeTimestamp }}", Value::Nil, vec![], 1435065584128).unwrap(),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(expand("{{ \"1h2m10ms\" | parseDuration }}").unwrap(), "3720.01");
    assert_eq!(expand("{{ parseDuration \"5m\" }}").unwrap(), "300");
    assert!(expand("{{ parseDuration \"5x\" }}").unwrap_err().contains("not a valid duration string"));
    assert!(expand("{{ parseDuration \"\" }}").unwrap_err().contains("empty duration string"));
}

#[test]
fn string_functions() {
    assert_eq!(expand("{{ \"aa bb CC\" | title }}").unwrap(), "Aa Bb CC");
    assert_eq!(expand("{{ \"aa bb CC\" | toUpper }}").unwrap(), "AA BB CC");
    assert_eq!(expand("{{ \"aA bB CC\" | toLower }}").unwrap(), "aa bb cc");
    assert_eq!(expand("{{ graphLink \"up\" }}").unwrap(), "/graph?g0.expr=up&g0.tab=0");
    assert_eq!(expand("{{ tableLink \"up\" }}").unwrap(), "/graph?g0.expr=up&g0.tab=1");
    assert_eq!(expand("{{ \"foo.example.com:9090\" | stripPort }}").unwrap(), "foo.example.com");
    assert_eq!(expand("{{ \"foo.example.com:9090\" | stripDomain }}").unwrap(), "foo:9090");
}

#[test]
fn url_functions() {
    assert_eq!(expand("{{ pathPrefix }}").unwrap(), "/path/prefix");
    assert_eq!(expand("{{ externalURL }}").unwrap(), EXT_URL);
}

#[test]
fn floats_print_like_go() {
    let h = |v: f64| expand_with("{{ . }}", Value::Float(v), vec![], 0).unwrap();
    assert_eq!(h(1.0), "1");
    assert_eq!(h(0.5), "0.5");
    assert_eq!(h(1e6), "1e+06");
    assert_eq!(h(f64::INFINITY), "+Inf");
    assert_eq!(h(f64::NAN), "NaN");
    assert_eq!(expand_with("{{ . }}", floats(&[1e6, 2.5]), vec![], 0).unwrap(), "[1e+06 2.5]");
    assert_eq!(expand_with("{{ print . 1 }}", Value::Float(1e6), vec![], 0).unwrap(), "1e+06 1");
    assert_eq!(expand_with("{{ printf \"%.2f\" . }}", Value::Float(1.0 / 3.0), vec![], 0).unwrap(), "0.33");
}

fn alert(text: &str, value: f64) -> Result<String, String> {
    let labels = Labels::from_pairs([("alertname", "HighLoad"), ("instance", "host:9100"), ("job", "node")]);
    let ext = Labels::from_pairs([("cluster", "eu1")]);
    let data = AlertTemplateData { labels: &labels, external_labels: &ext, external_url: EXT_URL, value };
    let query = fixed_query(metric_a());
    expand_alert_template("HighLoad", text, &data, 1435065584128, Some(query)).map_err(|e| e.0)
}

#[test]
fn alert_variables() {
    assert_eq!(alert("{{ $labels.instance }} of {{ $labels.job }}", 1.0).unwrap(), "host:9100 of node");
    assert_eq!(alert("{{ .Labels.instance }}", 1.0).unwrap(), "host:9100");
    assert_eq!(alert("{{ $externalLabels.cluster }}", 1.0).unwrap(), "eu1");
    assert_eq!(alert("{{ $externalURL }}", 1.0).unwrap(), EXT_URL);
    assert_eq!(alert("{{ $value }}", 0.5).unwrap(), "0.5");
    assert_eq!(alert("{{ $value }}", 1e6).unwrap(), "1e+06");
    assert_eq!(alert("{{ .Value }}", 3.0).unwrap(), "3");
    assert_eq!(alert("{{ $value | humanize }}", 1234567.0).unwrap(), "1.235M");
    assert_eq!(alert("{{ printf \"%.1f\" $value }}", 2.25).unwrap(), "2.2");
    assert_eq!(alert("{{ $labels.instance | stripPort }}", 0.0).unwrap(), "host");
    assert_eq!(
        alert("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", 0.0).unwrap(),
        "alertname=HighLoad;instance=host:9100;job=node;"
    );
    assert_eq!(alert("{{ query \"up\" | first | value }}", 0.0).unwrap(), "11");
    assert_eq!(alert("{{ now }}", 0.0).unwrap(), "1.435065584128e+09");
}

#[test]
fn alert_missing_label_is_empty_as_with_missingkey_zero() {
    assert_eq!(alert("[{{ $labels.nosuch }}]", 0.0).unwrap(), "[]");
    assert_eq!(alert("[{{ index $labels \"nosuch\" }}]", 0.0).unwrap(), "[]");
    assert_eq!(alert("{{ if eq $labels.nosuch \"\" }}empty{{ end }}", 0.0).unwrap(), "empty");
    assert_eq!(alert("{{ if $labels.nosuch }}set{{ else }}unset{{ end }}", 0.0).unwrap(), "unset");
    assert_eq!(alert("{{ with $labels.job }}{{ . }}{{ end }}", 0.0).unwrap(), "node");
}

#[test]
fn default_missing_key_prints_no_value() {
    let data = oxeye_template::labels_to_value(&Labels::from_pairs([("a", "1")]));
    let e = Expander::new("t", "{{ .b }}", data, prometheus_funcs(&FuncContext::default()))
        .missing_key(oxeye_template::MissingKey::Default);
    assert_eq!(e.expand().unwrap(), "<no value>");
}

#[test]
fn alert_errors_name_the_template() {
    let err = alert("{{ query \"x\" | first | value | humanize | nosuch }}", 0.0).unwrap_err();
    assert_eq!(
        err,
        "error parsing template __alert_HighLoad: template: __alert_HighLoad:1: function \"nosuch\" not defined"
    );
    let labels = Labels::empty();
    let data = AlertTemplateData { labels: &labels, external_labels: &labels, external_url: "", value: 0.0 };
    let err = expand_alert_template("A", "{{ query \"x\" | first }}", &data, 0, Some(fixed_query(vec![]))).unwrap_err();
    assert!(err.0.starts_with("error executing template __alert_A: template: __alert_A:1:"), "{err}");
    assert!(err.0.ends_with("at <first>: error calling first: first() called on vector with no elements"), "{err}");
}

#[test]
fn check_alert_template_reports_parse_errors_only() {
    assert!(check_alert_template("A", "{{ $labels.instance }} is {{ $value | humanize }}").is_ok());
    assert!(check_alert_template("A", "{{ query \"up\" | first | value }}").is_ok());
    let err = check_alert_template("A", "{{ $labels.instance").unwrap_err();
    assert!(err.0.starts_with("template: __alert_A:1: "), "{err}");
    let err = check_alert_template("A", "{{ humanise $value }}").unwrap_err();
    assert_eq!(err.0, "template: __alert_A:1: function \"humanise\" not defined");
    let err = check_alert_template("A", "{{ $undefined }}").unwrap_err();
    assert_eq!(err.0, "template: __alert_A:1: undefined variable \"$undefined\"");
}

#[test]
fn variable_scopes_follow_go() {
    assert_eq!(alert("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", 0.0).unwrap(), "2");
    assert_eq!(alert("{{ range $k, $v := $labels }}{{ end }}{{ $labels.job }}", 0.0).unwrap(), "node");
    // Variables end with their control structure.
    let err = check_alert_template("A", "{{ range $k, $v := $labels }}{{ end }}{{ $v }}").unwrap_err();
    assert_eq!(err.0, "template: __alert_A:1: undefined variable \"$v\"");
    let err = check_alert_template("A", "{{ if true }}{{ $y := 1 }}{{ end }}\n{{ $y }}").unwrap_err();
    assert_eq!(err.0, "template: __alert_A:2: undefined variable \"$y\"");
    // Assigning an undeclared variable is a parse error in Go.
    assert!(check_alert_template("A", "{{ $z = 1 }}").is_err());
    // A defined template sees only its own variables (and `$`), not the prepended ones.
    let err = check_alert_template("A", "{{ define \"d\" }}{{ $labels }}{{ end }}").unwrap_err();
    assert_eq!(err.0, "template: __alert_A:1: undefined variable \"$labels\"");
    assert_eq!(
        alert("{{ define \"d\" }}<{{ .instance }}>{{ end }}{{ template \"d\" $labels }}", 0.0).unwrap(),
        "<host:9100>"
    );
}

#[test]
fn multi_line_error_positions() {
    let labels = Labels::empty();
    let data = AlertTemplateData { labels: &labels, external_labels: &labels, external_url: "", value: 0.0 };
    let text = "line one\n  {{ query \"x\" | first }}";
    let err = expand_alert_template("A", text, &data, 0, Some(fixed_query(vec![]))).unwrap_err();
    assert!(err.0.starts_with("error executing template __alert_A: template: __alert_A:2:17: executing"), "{err}");
}

#[test]
fn wrong_argument_types_fail() {
    assert!(expand("{{ value 1 }}").unwrap_err().contains("wrong type for value"));
    assert!(expand("{{ first \"x\" }}").unwrap_err().contains("wrong type for value"));
    assert!(expand("{{ humanize }}").unwrap_err().contains("wrong number of args for humanize"));
    assert!(expand("{{ toUpper 1 }}").unwrap_err().contains("expected string"));
}
