//! Prometheus's template function map (`query`, `first`, `humanize`, `toTime`, ...) as gotmpl
//! closures, plus the small engine overrides (`print`, `println`, `index`) that make gotmpl print
//! and index the way Go does for Prometheus's data. Knows the shape of query samples as template
//! values; knows nothing about rules, storage or PromQL beyond the [`QueryFn`] callback.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;

use gotmpl::{FuncMap, Value};

use crate::format::{format_go_duration, format_time_ms, parse_go_duration_seconds, sprint, sprintln};
use crate::humanize::{
    humanize, humanize_1024, humanize_duration, humanize_percentage, humanize_timestamp, seconds_to_millis,
};
use crate::{QueryFn, QuerySample};

/// What the Prometheus functions need from their surroundings.
#[derive(Clone, Default)]
pub struct FuncContext {
    /// Evaluation time in milliseconds: the `query` time and what `now` returns.
    pub timestamp_ms: i64,
    /// Backs the `query` function; `None` makes `query` fail with an error.
    pub query: Option<QueryFn>,
    /// The external URL (`--web.external-url`) for `externalURL` and `pathPrefix`.
    pub external_url: String,
}

type Res = gotmpl::Result<Value>;

fn call_err(name: &str, msg: impl Display) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(format!("error calling {name}: {msg}"))
}

fn type_err(expected: &str, got: &Value) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(format!("wrong type for value; expected {expected}; got {}", go_type(got)))
}

/// The Go type name Prometheus's error messages would show for a value.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Function(_) => "func",
    }
}

fn arity(name: &str, args: &[Value], want: usize) -> gotmpl::Result<()> {
    if args.len() != want {
        return Err(gotmpl::TemplateError::Exec(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn string_arg(v: &Value) -> gotmpl::Result<&str> {
    v.as_str().ok_or_else(|| type_err("string", v))
}

/// Prometheus's `convertToFloat`: floats, integers, numeric strings (Go `strconv.ParseFloat`
/// syntax) and durations (from `toDuration`) convert; anything else is an error.
pub fn convert_to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(u) => Ok(*u as f64),
        Value::String(s) => parse_go_float(s)
            .or_else(|| parse_go_duration_seconds(s))
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        other => Err(format!("can't convert {} to float", go_type(other))),
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms and `Inf`/`NaN` spellings.
fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let v = if lower == "nan" { f64::NAN } else { f64::INFINITY };
        return Some(if s.starts_with('-') { -v } else { v });
    }
    // Rust accepts a few spellings Go does not; only digits, signs, '.', 'e' get through here.
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
        return None;
    }
    s.parse().ok()
}

fn float_fn(name: &'static str, f: fn(f64) -> Result<String, String>) -> gotmpl::ValueFunc {
    Arc::new(move |args: &[Value]| -> Res {
        arity(name, args, 1)?;
        let v = convert_to_float(&args[0]).map_err(|e| call_err(name, e))?;
        f(v).map(Value::from).map_err(|e| call_err(name, e))
    })
}

fn string_fn(name: &'static str, f: fn(&str) -> String) -> gotmpl::ValueFunc {
    Arc::new(move |args: &[Value]| -> Res {
        arity(name, args, 1)?;
        Ok(Value::from(f(string_arg(&args[0])?)))
    })
}

/// A query sample as templates see it: a map with `Labels` (string map) and `Value` (float).
pub fn sample_to_value(s: &QuerySample) -> Value {
    let mut m = BTreeMap::new();
    m.insert(Arc::<str>::from("Labels"), crate::labels_to_value(&s.labels));
    m.insert(Arc::<str>::from("Value"), Value::Float(s.value));
    Value::Map(Arc::new(m))
}

fn sample_labels(v: &Value) -> gotmpl::Result<&BTreeMap<Arc<str>, Value>> {
    if let Value::Map(m) = v
        && let Some(Value::Map(labels)) = m.get("Labels")
    {
        return Ok(labels);
    }
    Err(type_err("*template.sample", v))
}

fn sample_label(v: &Value, name: &str) -> gotmpl::Result<Value> {
    Ok(sample_labels(v)?.get(name).cloned().unwrap_or_else(|| Value::from("")))
}

fn query_result(v: &Value) -> gotmpl::Result<&[Value]> {
    match v {
        Value::List(items) => Ok(items),
        other => Err(type_err("template.queryResult", other)),
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
pub fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_word_separator(prev) { simple_upper(c) } else { c };
            prev = c;
            out
        })
        .collect()
}

fn is_word_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

/// Go maps case rune by rune (`unicode.ToUpper`); a rune whose full mapping is several
/// characters (like 'ß') stays as it is.
fn simple_upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn simple_lower(c: char) -> char {
    let mut low = c.to_lowercase();
    match (low.next(), low.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Prometheus's `strutil.GraphLinkForExpression`.
pub fn graph_link(expr: &str) -> String {
    format!("/graph?g0.expr={}&g0.tab=0", query_escape(expr))
}

/// Prometheus's `strutil.TableLinkForExpression`.
pub fn table_link(expr: &str) -> String {
    format!("/graph?g0.expr={}&g0.tab=1", query_escape(expr))
}

/// Go's `net.SplitHostPort`, returning `None` where Go returns an error.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let port = rest[end + 1..].strip_prefix(':')?;
        if port.contains([':', '[', ']']) {
            return None;
        }
        return Some((host, port));
    }
    let i = hp.rfind(':')?;
    let (host, port) = (&hp[..i], &hp[i + 1..]);
    if host.contains([':', '[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// `stripPort`: the host of `host:port`, or the input when it has no port.
pub fn strip_port(hp: &str) -> String {
    split_host_port(hp).map_or_else(|| hp.to_string(), |(h, _)| h.to_string())
}

/// `stripDomain`: the first label of a host name, keeping any port; IP addresses unchanged.
pub fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let short = host.split('.').next().unwrap_or(host);
    if port.is_empty() {
        short.to_string()
    } else if short.contains(':') {
        format!("[{short}]:{port}")
    } else {
        format!("{short}:{port}")
    }
}

/// The path of a URL (Go's `url.URL.Path`, left escaped).
fn url_path(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

fn compile_regex(name: &str, pattern: &str) -> gotmpl::Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| call_err(name, format!("error parsing regexp: {e}")))
}

/// Engine-level overrides every Oxeye expander installs: Go's `fmt` output for `print` and
/// `println` (gotmpl prints floats in Rust's form), and, when `zero_missing` is set, an `index`
/// whose missing map keys give "" as Go's `index` does on Prometheus's `map[string]string`s.
pub fn engine_funcs(zero_missing: bool) -> FuncMap {
    let mut m = FuncMap::new();
    m.insert("print".into(), Arc::new(|args: &[Value]| -> Res { Ok(Value::from(sprint(args))) }));
    m.insert("println".into(), Arc::new(|args: &[Value]| -> Res { Ok(Value::from(sprintln(args))) }));
    m.insert(
        "index".into(),
        Arc::new(move |args: &[Value]| -> Res {
            let Some((first, keys)) = args.split_first() else {
                return Err(gotmpl::TemplateError::Exec(
                    "wrong number of args for index: want at least 1 got 0".into(),
                ));
            };
            let mut v = first.clone();
            for k in keys {
                let was_map = matches!(v, Value::Map(_));
                v = v.index(k).map_err(|e| call_err("index", e))?;
                if zero_missing && was_map && matches!(v, Value::Nil) {
                    v = Value::from("");
                }
            }
            Ok(v)
        }),
    );
    m
}

/// Prometheus 3.x's template function map (`NewTemplateExpander`), bound to `ctx`.
pub fn prometheus_funcs(ctx: &FuncContext) -> FuncMap {
    let mut m = FuncMap::new();
    let ts_ms = ctx.timestamp_ms;
    let query = ctx.query.clone();
    m.insert(
        "query".into(),
        Arc::new(move |args: &[Value]| -> Res {
            arity("query", args, 1)?;
            let q = string_arg(&args[0])?;
            let Some(f) = &query else {
                return Err(call_err("query", format!("cannot execute query {q:?}: no query engine in this context")));
            };
            let samples = f(q, ts_ms).map_err(|e| call_err("query", e))?;
            Ok(Value::List(samples.iter().map(sample_to_value).collect::<Vec<_>>().into()))
        }),
    );
    m.insert(
        "first".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("first", args, 1)?;
            query_result(&args[0])?
                .first()
                .cloned()
                .ok_or_else(|| call_err("first", "first() called on vector with no elements"))
        }),
    );
    m.insert(
        "label".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("label", args, 2)?;
            sample_label(&args[1], string_arg(&args[0])?)
        }),
    );
    m.insert(
        "value".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("value", args, 1)?;
            sample_labels(&args[0])?;
            Ok(args[0].field("Value").cloned().unwrap_or(Value::Float(0.0)))
        }),
    );
    m.insert(
        "strvalue".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("strvalue", args, 1)?;
            sample_label(&args[0], "__value__")
        }),
    );
    m.insert(
        "args".into(),
        Arc::new(|args: &[Value]| -> Res {
            let map: BTreeMap<Arc<str>, Value> =
                args.iter().enumerate().map(|(i, a)| (Arc::from(format!("arg{i}")), a.clone())).collect();
            Ok(Value::Map(Arc::new(map)))
        }),
    );
    m.insert(
        "reReplaceAll".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("reReplaceAll", args, 3)?;
            let re = compile_regex("reReplaceAll", string_arg(&args[0])?)?;
            let repl = string_arg(&args[1])?;
            Ok(Value::from(re.replace_all(string_arg(&args[2])?, repl).into_owned()))
        }),
    );
    m.insert(
        "match".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("match", args, 2)?;
            let re = compile_regex("match", string_arg(&args[0])?)?;
            Ok(Value::Bool(re.is_match(string_arg(&args[1])?)))
        }),
    );
    // In text templates html_template.HTML prints as its string.
    m.insert("safeHtml".into(), string_fn("safeHtml", |s| s.to_string()));
    m.insert("title".into(), string_fn("title", title));
    m.insert("toUpper".into(), string_fn("toUpper", |s| s.chars().map(simple_upper).collect()));
    m.insert("toLower".into(), string_fn("toLower", |s| s.chars().map(simple_lower).collect()));
    m.insert("graphLink".into(), string_fn("graphLink", graph_link));
    m.insert("tableLink".into(), string_fn("tableLink", table_link));
    m.insert("stripPort".into(), string_fn("stripPort", strip_port));
    m.insert("stripDomain".into(), string_fn("stripDomain", strip_domain));
    m.insert(
        "sortByLabel".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("sortByLabel", args, 2)?;
            let label = string_arg(&args[0])?;
            let mut keyed = Vec::new();
            for s in query_result(&args[1])? {
                let key = sample_label(s, label)?;
                keyed.push((key.as_str().unwrap_or_default().to_string(), s.clone()));
            }
            // Vec::sort_by is stable, as Go's sort.Stable.
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Value::List(keyed.into_iter().map(|(_, s)| s).collect::<Vec<_>>().into()))
        }),
    );
    m.insert("humanize".into(), float_fn("humanize", |v| Ok(humanize(v))));
    m.insert("humanize1024".into(), float_fn("humanize1024", |v| Ok(humanize_1024(v))));
    m.insert("humanizeDuration".into(), float_fn("humanizeDuration", |v| Ok(humanize_duration(v))));
    m.insert("humanizePercentage".into(), float_fn("humanizePercentage", |v| Ok(humanize_percentage(v))));
    m.insert("humanizeTimestamp".into(), float_fn("humanizeTimestamp", humanize_timestamp));
    // Go returns *time.Time / *time.Duration, which print via String(); templates here get that
    // string (methods such as .Unix are not available).
    m.insert("toTime".into(), float_fn("toTime", |v| seconds_to_millis(v).map(format_time_ms)));
    m.insert("toDuration".into(), float_fn("toDuration", |v| Ok(format_go_duration((v * 1e9) as i64))));
    m.insert(
        "now".into(),
        Arc::new(move |args: &[Value]| -> Res {
            arity("now", args, 0)?;
            Ok(Value::Float(ts_ms as f64 / 1000.0))
        }),
    );
    let url = ctx.external_url.clone();
    let path = url_path(&url).to_string();
    m.insert(
        "pathPrefix".into(),
        Arc::new(move |args: &[Value]| -> Res {
            arity("pathPrefix", args, 0)?;
            Ok(Value::from(path.as_str()))
        }),
    );
    m.insert(
        "externalURL".into(),
        Arc::new(move |args: &[Value]| -> Res {
            arity("externalURL", args, 0)?;
            Ok(Value::from(url.as_str()))
        }),
    );
    m.insert(
        "parseDuration".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("parseDuration", args, 1)?;
            let s = string_arg(&args[0])?;
            if s.is_empty() {
                return Err(call_err("parseDuration", "empty duration string"));
            }
            let d = oxeye_model::parse_duration(s).map_err(|e| call_err("parseDuration", e))?;
            Ok(Value::Float(d.as_secs_f64()))
        }),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_port_and_domain() {
        assert_eq!(strip_port("example.com:9090"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_domain("foo.example.com:9090"), "foo:9090");
        assert_eq!(strip_domain("foo.example.com"), "foo");
        assert_eq!(strip_domain("192.168.0.1:9090"), "192.168.0.1:9090");
        assert_eq!(strip_domain("[2001:db8::1]:9090"), "[2001:db8::1]:9090");
        assert_eq!(strip_domain("localhost"), "localhost");
    }

    #[test]
    fn title_like_go() {
        assert_eq!(title("aa bb CC"), "Aa Bb CC");
        assert_eq!(title("hello_world foo-bar"), "Hello_world Foo-Bar");
    }

    #[test]
    fn links_escape_like_go() {
        assert_eq!(graph_link("up"), "/graph?g0.expr=up&g0.tab=0");
        assert_eq!(table_link("rate(x[5m]) > 1"), "/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=1");
    }

    #[test]
    fn convert_to_float_forms() {
        assert_eq!(convert_to_float(&Value::from("1.5")), Ok(1.5));
        assert_eq!(convert_to_float(&Value::from("+Inf")), Ok(f64::INFINITY));
        assert!(convert_to_float(&Value::from("NaN")).is_ok_and(f64::is_nan));
        assert_eq!(convert_to_float(&Value::Int(3)), Ok(3.0));
        assert_eq!(convert_to_float(&Value::from("1m0.5s")), Ok(60.5));
        assert_eq!(
            convert_to_float(&Value::from("one")),
            Err("strconv.ParseFloat: parsing \"one\": invalid syntax".to_string())
        );
        assert_eq!(convert_to_float(&Value::Bool(true)), Err("can't convert bool to float".to_string()));
    }

    #[test]
    fn url_path_of_external_url() {
        assert_eq!(url_path("http://testhost:9090/path/prefix"), "/path/prefix");
        assert_eq!(url_path("http://testhost:9090"), "");
        assert_eq!(url_path("https://h/p?q=1"), "/p");
    }
}
