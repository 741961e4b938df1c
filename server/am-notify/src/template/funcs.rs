//! Alertmanager's template functions (`toUpper`, `join`, `reReplaceAll`, `date`, `tz`, ...) and
//! the internal functions the tree rewrite calls: [`FIELD_FN`], which evaluates a field chain
//! with Go's method-before-key lookup for `KV`, `Alerts`, `Pairs` and `time.Time`, and the print
//! functions that render values as Go's `fmt` (text) or `html/template` (HTML) would.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use gotmpl::{FuncMap, TemplateError, Value};

use super::data::{
    TYPE_ALERT, TYPE_DATA, TYPE_HTML, TYPE_PAIR, TYPE_TIME, pair_value, time_value, type_of, typed, value_time,
};
use super::gotime::{GoTime, Zone};

/// `FIELD_FN base "A.B.C" args...`: evaluates `base.A.B.C args...` with Go's lookup rules.
pub const FIELD_FN: &str = "__am_field";
/// Appended to printed pipelines in text templates.
pub const PRINT_FN: &str = "__am_print";
/// Appended to printed pipelines in HTML templates: escapes unless the value is `safeHtml`.
pub const HTML_PRINT_FN: &str = "__am_print_html";

type Res = gotmpl::Result<Value>;

fn exec_err(msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec(msg.into())
}

fn call_err(name: &str, msg: impl std::fmt::Display) -> TemplateError {
    exec_err(format!("error calling {name}: {msg}"))
}

fn arity(name: &str, args: &[Value], want: usize) -> gotmpl::Result<()> {
    if args.len() != want {
        return Err(exec_err(format!("wrong number of args for {name}: want {want} got {}", args.len())));
    }
    Ok(())
}

/// Go's type name for a value, for error messages.
fn go_type(v: &Value) -> String {
    if let Some(t) = type_of(v) {
        return t.to_string();
    }
    match v {
        Value::Nil => "<nil>".into(),
        Value::Bool(_) => "bool".into(),
        Value::Int(_) => "int".into(),
        Value::Uint(_) => "uint".into(),
        Value::Float(_) => "float64".into(),
        Value::String(_) => "string".into(),
        Value::List(_) => "[]interface {}".into(),
        Value::Map(_) => "template.KV".into(),
        Value::Function(_) => "func".into(),
    }
}

/// A string argument; `safeHtml` values are strings too.
fn string_arg<'a>(name: &str, v: &'a Value) -> gotmpl::Result<&'a str> {
    if type_of(v) == Some(TYPE_HTML) {
        return v.field("s").and_then(Value::as_str).ok_or_else(|| call_err(name, "bad HTML value"));
    }
    v.as_str().ok_or_else(|| exec_err(format!("wrong type for value; expected string; got {}", go_type(v))))
}

fn string_list(name: &str, v: &Value) -> gotmpl::Result<Vec<String>> {
    match v {
        Value::List(l) => l.iter().map(|x| string_arg(name, x).map(str::to_string)).collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(exec_err(format!("wrong type for value; expected []string; got {}", go_type(other)))),
    }
}

fn time_arg(name: &str, v: &Value) -> gotmpl::Result<GoTime> {
    value_time(v)
        .ok_or_else(|| exec_err(format!("wrong type for value; expected time.Time; got {}", go_type(v))))
        .map_err(|e| call_err(name, e))
}

fn go_regex(name: &str, pattern: &str) -> gotmpl::Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| call_err(name, format!("error parsing regexp: {e}")))
}

fn string_fn(name: &'static str, f: fn(&str) -> String) -> gotmpl::ValueFunc {
    Arc::new(move |args: &[Value]| -> Res {
        arity(name, args, 1)?;
        Ok(Value::from(f(string_arg(name, &args[0])?)))
    })
}

/// Alertmanager's `DefaultFuncs`, with `now` as the reference for `since`.
pub fn default_funcs() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert("toUpper".into(), string_fn("toUpper", str::to_uppercase));
    m.insert("toLower".into(), string_fn("toLower", str::to_lowercase));
    m.insert("title".into(), string_fn("title", oxeye_template::title));
    m.insert("trimSpace".into(), string_fn("trimSpace", |s| s.trim().to_string()));
    m.insert(
        "urlUnescape".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("urlUnescape", args, 1)?;
            let s = string_arg("urlUnescape", &args[0])?.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8()
                .map(|c| Value::from(c.as_ref()))
                .map_err(|e| call_err("urlUnescape", e))
        }),
    );
    m.insert(
        "join".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("join", args, 2)?;
            let sep = string_arg("join", &args[0])?;
            Ok(Value::from(string_list("join", &args[1])?.join(sep)))
        }),
    );
    m.insert(
        "match".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("match", args, 2)?;
            let re = go_regex("match", string_arg("match", &args[0])?)?;
            Ok(Value::Bool(re.is_match(string_arg("match", &args[1])?)))
        }),
    );
    m.insert(
        "reReplaceAll".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("reReplaceAll", args, 3)?;
            let re = go_regex("reReplaceAll", string_arg("reReplaceAll", &args[0])?)?;
            let repl = string_arg("reReplaceAll", &args[1])?;
            Ok(Value::from(re.replace_all(string_arg("reReplaceAll", &args[2])?, repl).as_ref()))
        }),
    );
    m.insert(
        "safeHtml".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("safeHtml", args, 1)?;
            Ok(typed(TYPE_HTML, [("s", Value::from(string_arg("safeHtml", &args[0])?))]))
        }),
    );
    m.insert(
        "safeUrl".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("safeUrl", args, 1)?;
            Ok(Value::from(string_arg("safeUrl", &args[0])?))
        }),
    );
    m.insert(
        "stringSlice".into(),
        Arc::new(|args: &[Value]| -> Res {
            let items: gotmpl::Result<Vec<Value>> =
                args.iter().map(|a| string_arg("stringSlice", a).map(Value::from)).collect();
            Ok(Value::List(items?.into()))
        }),
    );
    m.insert(
        "date".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("date", args, 2)?;
            let layout = string_arg("date", &args[0])?;
            Ok(Value::from(time_arg("date", &args[1])?.format(layout)))
        }),
    );
    m.insert(
        "tz".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("tz", args, 2)?;
            let zone = Zone::load(string_arg("tz", &args[0])?).map_err(|e| call_err("tz", e))?;
            let t = time_arg("tz", &args[1])?;
            Ok(time_value(&GoTime { instant: t.instant, zone }))
        }),
    );
    m.insert(
        "since".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("since", args, 1)?;
            let t = time_arg("since", &args[0])?;
            Ok(Value::from(duration_string(Utc::now(), t.instant)))
        }),
    );
    m.insert(
        "humanizeDuration".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("humanizeDuration", args, 1)?;
            let v = oxeye_template::convert_to_float(&args[0]).map_err(|e| call_err("humanizeDuration", e))?;
            Ok(Value::from(oxeye_template::humanize_duration(v)))
        }),
    );
    m.insert(
        "toJson".into(),
        Arc::new(|args: &[Value]| -> Res {
            arity("toJson", args, 1)?;
            serde_json::to_string(&to_json(&args[0])).map(Value::from).map_err(|e| call_err("toJson", e))
        }),
    );
    m
}

/// `b - a` as Go's `time.Duration.String()`, saturating like Go's `Sub`.
fn duration_string(b: DateTime<Utc>, a: DateTime<Utc>) -> String {
    let ns = (b - a).num_nanoseconds().unwrap_or(if b > a { i64::MAX } else { i64::MIN });
    oxeye_template::format_go_duration(ns)
}

/// A template value as `encoding/json` would marshal the Go value.
fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    if let Some(t) = value_time(v) {
        return J::String(t.format(super::gotime::RFC3339_NANO));
    }
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Uint(u) => J::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.to_string()),
        Value::List(l) => J::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .filter(|(k, _)| k.as_ref() != super::data::TYPE_KEY)
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
        Value::Function(_) => J::Null,
    }
}

/// The internal functions the rewritten trees call.
pub fn internal_funcs() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert(FIELD_FN.into(), Arc::new(field_fn));
    m.insert(
        PRINT_FN.into(),
        Arc::new(|args: &[Value]| -> Res { Ok(Value::from(go_sprint(args.last().unwrap_or(&Value::Nil)))) }),
    );
    m.insert(
        HTML_PRINT_FN.into(),
        Arc::new(|args: &[Value]| -> Res {
            let v = args.last().unwrap_or(&Value::Nil);
            if type_of(v) == Some(TYPE_HTML) {
                return Ok(v.field("s").cloned().unwrap_or_else(|| Value::from("")));
            }
            Ok(Value::from(html_escape(&go_sprint(v))))
        }),
    );
    m
}

/// Go `html/template`'s escaping of text in an HTML element or quoted attribute.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '+' => out.push_str("&#43;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn field_fn(args: &[Value]) -> Res {
    let (Some(base), Some(path)) = (args.first(), args.get(1).and_then(Value::as_str)) else {
        return Err(exec_err("internal error: bad field access"));
    };
    let names: Vec<&str> = path.split('.').collect();
    let mut v = base.clone();
    for (i, name) in names.iter().enumerate() {
        let margs = if i + 1 == names.len() { &args[2..] } else { &[][..] };
        v = access(&v, name, margs)?;
    }
    Ok(v)
}

fn no_args(name: &str, args: &[Value]) -> gotmpl::Result<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(exec_err(format!("{name} has arguments but cannot be invoked as function")))
    }
}

fn kv_pairs(m: &std::collections::BTreeMap<Arc<str>, Value>) -> Vec<(Arc<str>, Value)> {
    // Alertmanager's KV.SortedPairs: alertname first, the rest sorted by name.
    let mut pairs: Vec<(Arc<str>, Value)> =
        m.iter().filter(|(k, _)| k.as_ref() != "alertname").map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some((k, v)) = m.get_key_value("alertname") {
        pairs.insert(0, (k.clone(), v.clone()));
    }
    pairs
}

/// One step of a field chain: Go looks up methods before fields and map keys.
fn access(v: &Value, name: &str, args: &[Value]) -> Res {
    match type_of(v) {
        Some(TYPE_TIME) => return time_method(v, name, args),
        Some(ty) => {
            no_args(name, args)?;
            return v.field(name).cloned().ok_or_else(|| exec_err(format!("can't evaluate field {name} in type {ty}")));
        }
        None => {}
    }
    match v {
        Value::Map(m) => match name {
            "SortedPairs" | "Names" | "Values" => {
                no_args(name, args)?;
                let pairs = kv_pairs(m);
                Ok(Value::List(match name {
                    "SortedPairs" => pairs
                        .iter()
                        .map(|(k, v)| pair_value(k, v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .into(),
                    "Names" => pairs.into_iter().map(|(k, _)| Value::String(k)).collect::<Vec<_>>().into(),
                    _ => pairs.into_iter().map(|(_, v)| v).collect::<Vec<_>>().into(),
                }))
            }
            "Remove" => {
                arity("Remove", args, 1)?;
                let drop = string_list("Remove", &args[0])?;
                let kept = m.iter().filter(|(k, _)| !drop.iter().any(|d| d == k.as_ref()));
                Ok(Value::Map(Arc::new(kept.map(|(k, v)| (k.clone(), v.clone())).collect())))
            }
            _ => {
                no_args(name, args)?;
                // missingkey=zero on map[string]string: the empty string.
                Ok(m.get(name).cloned().unwrap_or_else(|| Value::from("")))
            }
        },
        Value::List(l) => match name {
            "Firing" | "Resolved" => {
                no_args(name, args)?;
                let want = if name == "Firing" { "firing" } else { "resolved" };
                let kept: Vec<Value> = l
                    .iter()
                    .filter(|a| {
                        type_of(a) == Some(TYPE_ALERT) && a.field("Status").and_then(Value::as_str) == Some(want)
                    })
                    .cloned()
                    .collect();
                Ok(Value::List(kept.into()))
            }
            "Names" | "Values" => {
                no_args(name, args)?;
                let field = if name == "Names" { "Name" } else { "Value" };
                let out: Vec<Value> = l
                    .iter()
                    .filter(|p| type_of(p) == Some(TYPE_PAIR))
                    .map(|p| p.field(field).cloned().unwrap_or(Value::Nil))
                    .collect();
                Ok(Value::List(out.into()))
            }
            _ => Err(exec_err(format!("can't evaluate field {name} in type {}", list_type(l)))),
        },
        Value::Nil => Ok(Value::Nil),
        other => Err(exec_err(format!("can't evaluate field {name} in type {}", go_type(other)))),
    }
}

fn list_type(l: &[Value]) -> &'static str {
    match l.first().and_then(type_of) {
        Some(TYPE_ALERT) => "template.Alerts",
        Some(TYPE_PAIR) => "template.Pairs",
        _ => "[]string",
    }
}

fn time_method(v: &Value, name: &str, args: &[Value]) -> Res {
    let t = value_time(v).ok_or_else(|| exec_err("internal error: bad time value"))?;
    let (wall, _) = (t.format("2006 1 2 15 4 5"), ());
    let part = |i: usize| -> Value {
        Value::Int(wall.split(' ').nth(i).and_then(|s| s.parse::<i64>().ok()).unwrap_or_default())
    };
    let other = |i: usize| time_arg(name, args.get(i).unwrap_or(&Value::Nil));
    let arg_count = match name {
        "Format" | "Before" | "After" | "Equal" | "Sub" | "Add" | "In" => 1,
        _ => 0,
    };
    arity(name, args, arg_count)?;
    Ok(match name {
        "Format" => Value::from(t.format(string_arg(name, &args[0])?)),
        "String" => Value::from(t.to_string()),
        "Unix" => Value::Int(t.instant.timestamp()),
        "UnixMilli" => Value::Int(t.instant.timestamp_millis()),
        "UnixNano" => Value::Int(t.instant.timestamp_nanos_opt().unwrap_or_default()),
        "UTC" => time_value(&GoTime { zone: Zone::Utc, ..t }),
        "Local" => time_value(&GoTime { zone: Zone::Local, ..t }),
        "IsZero" => Value::Bool(t.is_zero()),
        "Year" => part(0),
        "Month" => Value::from(t.format("January")),
        "Day" => part(2),
        "Hour" => part(3),
        "Minute" => part(4),
        "Second" => part(5),
        "Nanosecond" => Value::Int(i64::from(t.instant.timestamp_subsec_nanos())),
        "Weekday" => Value::from(t.format("Monday")),
        "YearDay" => Value::Int(t.format("002").parse().unwrap_or_default()),
        "Before" => Value::Bool(t.instant < other(0)?.instant),
        "After" => Value::Bool(t.instant > other(0)?.instant),
        "Equal" => Value::Bool(t.instant == other(0)?.instant),
        "Sub" => Value::from(duration_string(t.instant, other(0)?.instant)),
        "Add" => {
            let ns = args[0].as_int().ok_or_else(|| call_err("Add", "expected a duration in nanoseconds"))?;
            time_value(&GoTime { instant: t.instant + chrono::Duration::nanoseconds(ns), ..t })
        }
        _ => return Err(exec_err(format!("can't evaluate field {name} in type time.Time"))),
    })
}

/// `fmt.Sprint` of a template value as Go prints the Go value it stands for.
pub fn go_sprint(v: &Value) -> String {
    match type_of(v) {
        Some(TYPE_TIME) => return value_time(v).map(|t| t.to_string()).unwrap_or_default(),
        Some(TYPE_HTML) => return v.field("s").and_then(Value::as_str).unwrap_or_default().to_string(),
        Some(ty) => {
            let order: &[&str] = match ty {
                TYPE_PAIR => &["Name", "Value"],
                TYPE_ALERT => &["Status", "Labels", "Annotations", "StartsAt", "EndsAt", "GeneratorURL", "Fingerprint"],
                TYPE_DATA => {
                    &["Receiver", "Status", "Alerts", "GroupLabels", "CommonLabels", "CommonAnnotations", "ExternalURL"]
                }
                _ => &[],
            };
            let fields: Vec<String> = order.iter().map(|f| go_sprint(v.field(f).unwrap_or(&Value::Nil))).collect();
            let amp = if ty.starts_with('*') { "&" } else { "" };
            return format!("{amp}{{{}}}", fields.join(" "));
        }
        None => {}
    }
    match v {
        Value::Nil => "<no value>".into(),
        Value::Float(f) => oxeye_template::format_float(*f),
        Value::List(l) => format!("[{}]", l.iter().map(go_sprint).collect::<Vec<_>>().join(" ")),
        Value::Map(m) => {
            format!("map[{}]", m.iter().map(|(k, v)| format!("{k}:{}", go_sprint(v))).collect::<Vec<_>>().join(" "))
        }
        other => other.to_string(),
    }
}
