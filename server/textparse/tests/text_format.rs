//! The Prometheus text format 0.0.4 as upstream's `promparse` reads it, plus OpenMetrics entry
//! shapes and the `Validation::Syntax` mode.

use oxeye_textparse::{Entry, ErrorKind, Format, MetricType, ParseError, Parser, Sample, Validation};

fn entries(body: &str, format: Format) -> Result<Vec<Entry<'_>>, ParseError> {
    let mut p = Parser::new(body.as_bytes(), format);
    let mut out = Vec::new();
    while let Some(e) = p.next()? {
        out.push(e);
    }
    Ok(out)
}

fn samples(body: &str) -> Vec<Sample<'_>> {
    entries(body, Format::PrometheusText)
        .expect("parses")
        .into_iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn err(body: &str) -> ParseError {
    entries(body, Format::PrometheusText).expect_err("must be rejected")
}

const NODE_EXPORTER: &str = r#"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.3241e-05
go_gc_duration_seconds{quantile="1"} 0.000352617
go_gc_duration_seconds_sum 0.050397374
go_gc_duration_seconds_count 1042
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 362615.57
node_cpu_seconds_total{cpu="0",mode="iowait"} 95.18

# A free-form comment is skipped, as is the blank line above.
# HELP node_disk_io_time_seconds_total Total seconds spent doing I/Os.
# TYPE node_disk_io_time_seconds_total counter
node_disk_io_time_seconds_total{device="nvme0n1"} 1234.5 1700000000123
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/nvme0n1p2",fstype="ext4",mountpoint="/"} 1.23456789e+11
# HELP prometheus_http_request_duration_seconds Histogram of latencies.
# TYPE prometheus_http_request_duration_seconds histogram
prometheus_http_request_duration_seconds_bucket{handler="/metrics",le="0.1"} 10
prometheus_http_request_duration_seconds_bucket{handler="/metrics",le="1"} 12
prometheus_http_request_duration_seconds_bucket{handler="/metrics",le="+Inf"} 12
prometheus_http_request_duration_seconds_sum{handler="/metrics"} 1.5
prometheus_http_request_duration_seconds_count{handler="/metrics"} 12
node_untyped_thing 7
"#;

#[test]
fn node_exporter_body() {
    let all = entries(NODE_EXPORTER, Format::PrometheusText).expect("parses");
    assert_eq!(
        all[0],
        Entry::Help {
            metric_family: "go_gc_duration_seconds",
            text: "A summary of the pause duration of garbage collection cycles.".into()
        }
    );
    assert_eq!(all[1], Entry::Type { metric_family: "go_gc_duration_seconds", typ: MetricType::Summary });
    let s = samples(NODE_EXPORTER);
    assert_eq!(s.len(), 14);

    assert_eq!(s[0].series, r#"go_gc_duration_seconds{quantile="0"}"#);
    assert_eq!(s[0].value, 2.3241e-05);
    assert_eq!((s[0].metric_family, s[0].metric_type), ("go_gc_duration_seconds", MetricType::Summary));
    // Prometheus 3 rewrites summary quantiles and histogram bounds to canonical floats.
    assert_eq!(s[0].labels().get("quantile"), "0.0");
    assert_eq!(s[1].labels().get("quantile"), "1.0");
    assert_eq!((s[3].name, s[3].metric_family), ("go_gc_duration_seconds_count", "go_gc_duration_seconds"));

    let cpu = &s[4];
    assert_eq!(cpu.series, r#"node_cpu_seconds_total{cpu="0",mode="idle"}"#);
    assert_eq!(cpu.metric_type, MetricType::Counter);
    let l = cpu.labels();
    assert_eq!(l.to_string(), r#"{__name__="node_cpu_seconds_total", cpu="0", mode="idle"}"#);

    let disk = &s[6];
    assert_eq!(disk.timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(s[7].value, 1.23456789e+11);

    let buckets: Vec<String> = s[8..11].iter().map(|x| x.labels().get("le").to_string()).collect();
    assert_eq!(buckets, ["0.1", "1.0", "+Inf"]);
    assert_eq!(s[8].metric_family, "prometheus_http_request_duration_seconds");
    assert_eq!(s[12].metric_type, MetricType::Histogram);

    let untyped = &s[13];
    assert_eq!((untyped.metric_family, untyped.metric_type), ("node_untyped_thing", MetricType::Unknown));
    assert_eq!(untyped.timestamp_ms, None);
}

#[test]
fn label_value_and_help_escapes() {
    let body = "# HELP m a \\\\ b \\n c \\\" d\nm{a=\"x\\\"y\\\\z\\nw\",b=\"\\q\"} 1\n";
    let all = entries(body, Format::PrometheusText).expect("parses");
    // The text format's HELP escapes only backslash and newline.
    assert_eq!(all[0], Entry::Help { metric_family: "m", text: "a \\ b \n c \\\" d".into() });
    let Entry::Sample(s) = &all[1] else { panic!("sample expected") };
    assert_eq!(s.series, "m{a=\"x\\\"y\\\\z\\nw\",b=\"\\q\"}");
    let l = s.labels();
    assert_eq!(l.get("a"), "x\"y\\z\nw");
    assert_eq!(l.get("b"), "\\q", "unknown escapes are kept as written");
}

#[test]
fn special_values_and_go_float_syntax() {
    let s = samples("a +Inf\nb -Inf\nc NaN\nd 1e3\ne .5\nf -0\ng Inf\nh nan\n");
    assert_eq!(s[0].value, f64::INFINITY);
    assert_eq!(s[1].value, f64::NEG_INFINITY);
    assert!(s[2].value.is_nan());
    assert_eq!(s[3].value, 1000.0);
    assert_eq!(s[4].value, 0.5);
    assert!(s[5].value == 0.0 && s[5].value.is_sign_negative());
    assert_eq!(s[6].value, f64::INFINITY);
    assert!(s[7].value.is_nan());
    // Prometheus's parseFloat refuses hex floats, underscores and out-of-range values.
    for bad in ["a 0x1p-3\n", "a 1_000\n", "a 1e400\n", "a abc\n", "a\n", "a -NaN\n"] {
        assert!(matches!(err(bad).kind, ErrorKind::InvalidValue(_) | ErrorKind::Syntax(_)), "{bad:?}");
    }
}

#[test]
fn timestamps_are_integer_milliseconds() {
    let s = samples("a 1 1700000000000\nb 2   42  \n");
    assert_eq!(s[0].timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(s[1].timestamp_ms, Some(42));
    for bad in ["a 1 1.5\n", "a 1 -5\n", "a 1 1e3\n", "a 1 99999999999999999999\n", "a 1 2 3\n"] {
        let e = err(bad);
        assert_eq!(e.line, 1, "{bad:?}");
    }
}

#[test]
fn lexer_leniency_matches_prometheus() {
    // Blanks between tokens, a trailing comma, a missing comma, no final newline, leading blanks.
    let s = samples("  m { a = \"1\" , b=\"2\", } 3\nn{a=\"1\" b=\"2\"} 4\no{} 5\np{a=\"\"} 6");
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].series, "m { a = \"1\" , b=\"2\", }");
    assert_eq!(s[0].labels().get("b"), "2");
    assert_eq!(s[1].labels().len(), 3);
    assert_eq!(s[2].labels().len(), 1);
    assert_eq!(s[3].labels().len(), 1, "empty label values are dropped");
    assert_eq!(s[3].series, "p{a=\"\"}");
    // `#HELP` without a blank is an ordinary comment; `# HELPER` too.
    assert!(samples("#HELP x y\n# HELPER x\nx 1\n").len() == 1);
}

#[test]
fn bad_lines_report_their_line_number() {
    let cases: &[(&str, usize)] = &[
        ("a 1\nb 2\nc{a=\"x} 3\n", 3),
        ("a 1\n\n{a=\"b\"} 1\n", 3),
        ("# TYPE a gauge\n# TYPE b bogus\n", 2),
        ("a 1\nb{,a=\"1\"} 2\n", 2),
        ("a{a=\"1\",a=\"2\"} 1\n", 1),
        ("a{__name__=\"b\"} 1\n", 1),
        ("a 1\nb{1a=\"x\"} 1\n", 2),
        ("a 1\nb{a=\"x\",,} 1\n", 2),
        ("a 1\na-b 1\n", 2),
    ];
    for (body, line) in cases {
        let e = err(body);
        assert_eq!(e.line, *line, "{body:?}: {e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
    }
    assert!(matches!(err("a{a=\"1\",a=\"2\"} 1\n").kind, ErrorKind::DuplicateLabel(ref n) if n == "a"));
}

#[test]
fn parser_stops_after_an_error() {
    let mut p = Parser::new(b"a 1\nb x\nc 3\n", Format::PrometheusText);
    assert!(matches!(p.next(), Ok(Some(Entry::Sample(_)))));
    assert_eq!(p.next().expect_err("bad value").line, 2);
    assert_eq!(p.next(), Ok(None));
}

#[test]
fn invalid_utf8_is_reported_with_its_line() {
    let mut p = Parser::new(b"a 1\nb{x=\"\xff\"} 1\n", Format::PrometheusText);
    let e = p.next().expect_err("invalid utf-8");
    assert_eq!((e.line, e.kind), (2, ErrorKind::InvalidUtf8));
}

#[test]
fn type_metadata_for_metric_families() {
    let all = entries("# TYPE a counter\n# TYPE b untyped\n# TYPE c gauge\n# HELP d\n", Format::PrometheusText)
        .expect("parses");
    assert_eq!(all[0], Entry::Type { metric_family: "a", typ: MetricType::Counter });
    assert_eq!(all[1], Entry::Type { metric_family: "b", typ: MetricType::Unknown });
    assert_eq!(all[3], Entry::Help { metric_family: "d", text: "".into() }, "HELP without text is empty help");
    assert!(matches!(err("# TYPE a gaugehistogram\n").kind, ErrorKind::InvalidType(_)));
    assert!(matches!(err("# TYPE a  gauge\n").kind, ErrorKind::InvalidType(_)));
}

#[test]
fn openmetrics_entries_and_timestamps() {
    let body = "# TYPE rpc counter\n# UNIT rpc_seconds seconds\n# TYPE rpc_seconds gauge\n\
                rpc_seconds 1.5 1.25\n# HELP rpc_seconds Time.\n# EOF\n";
    // HELP after samples of its family is invalid in strict mode...
    assert!(entries(body, Format::OpenMetrics).is_err());
    let body = "# TYPE rpc counter\n# HELP rpc Calls \\\"made\\\".\nrpc_total{m=\"get\"} 3 1.25 # {trace_id=\"abc\"} 1 1.5\n\
                rpc_created{m=\"get\"} 1700000000.5 1.25\n# EOF\n";
    let all = entries(body, Format::OpenMetrics).expect("parses");
    assert_eq!(all[1], Entry::Help { metric_family: "rpc", text: "Calls \"made\".".into() });
    let Entry::Sample(s) = &all[2] else { panic!("sample expected") };
    assert_eq!((s.metric_family, s.metric_type, s.timestamp_ms), ("rpc", MetricType::Counter, Some(1250)));
    let ex = s.exemplar.as_ref().expect("exemplar");
    assert_eq!((ex.value, ex.timestamp_ms), (1.0, Some(1500)));
    assert_eq!(ex.labels().get("trace_id"), "abc");
    let Entry::Sample(c) = &all[3] else { panic!("sample expected") };
    assert_eq!((c.name, c.value), ("rpc_created", 1_700_000_000.5));
}

#[test]
fn syntax_validation_accepts_what_prometheus_ingests() {
    // Family-level rules broken (NaN counter, histogram without +Inf), line syntax fine.
    let body = "# TYPE a counter\na_total NaN\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# EOF\n";
    assert!(entries(body, Format::OpenMetrics).is_err());
    let mut p = Parser::with_validation(body.as_bytes(), Format::OpenMetrics, Validation::Syntax);
    let mut n = 0;
    while let Some(e) = p.next().expect("syntax-only parse") {
        if let Entry::Sample(s) = e {
            n += 1;
            if s.name == "h_bucket" {
                assert_eq!(s.labels().get("le"), "1.0");
            }
        }
    }
    assert_eq!(n, 2);
    // Syntax is still enforced.
    let mut p = Parser::with_validation(b"a  1\n# EOF\n", Format::OpenMetrics, Validation::Syntax);
    assert!(p.next().is_err());
}
