//! The OpenMetrics conformance cases in `shared/conformance/openmetrics`: every good case must
//! parse to the hand-written golden entries, at least 90% of the bad cases must be rejected, and
//! no prefix of any case may panic the parser.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use oxeye_textparse::{Entry, Format, Parser};

fn cases_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/openmetrics");
    assert!(
        dir.is_dir(),
        "OpenMetrics conformance cases not found at {} (expected shared/ beside the repository)",
        dir.display()
    );
    dir
}

struct Case {
    name: String,
    body: Vec<u8>,
    should_parse: bool,
}

fn load_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(cases_dir()).expect("read conformance dir") {
        let path = entry.expect("dir entry").path();
        let meta = path.join("test.json");
        if !meta.is_file() {
            continue;
        }
        let json = std::fs::read_to_string(&meta).expect("read test.json");
        let v: serde_json::Value = serde_json::from_str(&json).expect("parse test.json");
        assert_eq!(v["type"], "text", "{}: unexpected case type", path.display());
        let file = v["file"].as_str().expect("file");
        let should_parse = v["shouldParse"].as_bool().expect("shouldParse");
        let body = std::fs::read(path.join(file)).expect("read case body");
        let name = path.file_name().and_then(|n| n.to_str()).expect("case name").to_string();
        cases.push(Case { name, body, should_parse });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn fmt_labels<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = it.map(|(n, v)| format!("{n}=\"{}\"", escape(v))).collect();
    if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(",")) }
}

/// Renders a whole body in the golden file's line format, or the first error.
fn render(body: &[u8]) -> Result<String, String> {
    let mut p = Parser::new(body, Format::OpenMetrics);
    let mut out = String::new();
    loop {
        match p.next() {
            Ok(None) => return Ok(out),
            Err(e) => return Err(e.to_string()),
            Ok(Some(Entry::Type { metric_family, typ })) => writeln!(out, "# TYPE {metric_family} {typ}").unwrap(),
            Ok(Some(Entry::Help { metric_family, text })) => writeln!(out, "# HELP {metric_family} {text:?}").unwrap(),
            Ok(Some(Entry::Unit { metric_family, unit })) => writeln!(out, "# UNIT {metric_family} {unit}").unwrap(),
            Ok(Some(Entry::Sample(s))) => {
                let labels = s.labels();
                let name = labels.metric_name().to_string();
                let rest = labels.iter().filter(|l| l.name != "__name__").map(|l| (l.name.as_str(), l.value.as_str()));
                write!(out, "{name}{} {}", fmt_labels(rest), fmt_value(s.value)).unwrap();
                if let Some(ts) = s.timestamp_ms {
                    write!(out, " {ts}").unwrap();
                }
                if let Some(e) = &s.exemplar {
                    let el = e.labels();
                    let pairs: Vec<String> =
                        el.iter().map(|l| format!("{}=\"{}\"", l.name, escape(&l.value))).collect();
                    write!(out, " # {{{}}} {}", pairs.join(","), fmt_value(e.value)).unwrap();
                    if let Some(ts) = e.timestamp_ms {
                        write!(out, " {ts}").unwrap();
                    }
                }
                out.push('\n');
            }
        }
    }
}

fn golden() -> BTreeMap<String, String> {
    let text = include_str!("golden/openmetrics_good.txt");
    let mut map = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = Some(name.to_string());
            map.insert(name.to_string(), String::new());
        } else if let Some(name) = &current {
            let e = map.get_mut(name).expect("case");
            e.push_str(line);
            e.push('\n');
        }
    }
    map
}

#[test]
fn openmetrics_conformance() {
    let cases = load_cases();
    let golden = golden();
    let (mut good, mut good_ok, mut bad, mut bad_rejected) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for c in &cases {
        let got = render(&c.body);
        if c.should_parse {
            good += 1;
            let Some(want) = golden.get(&c.name) else {
                failures.push(format!("{}: no golden entry", c.name));
                continue;
            };
            match got {
                Ok(got) if &got == want => good_ok += 1,
                Ok(got) => failures.push(format!("{}: mismatch\n--- want\n{want}--- got\n{got}", c.name)),
                Err(e) => failures.push(format!("{}: rejected: {e}", c.name)),
            }
        } else {
            bad += 1;
            match got {
                Err(_) => bad_rejected += 1,
                Ok(_) => failures.push(format!("{}: accepted but must be rejected", c.name)),
            }
        }
    }
    println!("openmetrics conformance: good {good_ok}/{good} parsed, bad {bad_rejected}/{bad} rejected");
    for f in &failures {
        println!("  {f}");
    }
    assert_eq!(good, 44, "expected 44 good cases");
    assert_eq!(golden.len(), good, "golden file and good cases differ in count");
    assert_eq!(good_ok, good, "every good case must parse to its golden entries");
    assert!(bad_rejected * 10 >= bad * 9, "fewer than 90% of bad cases rejected: {bad_rejected}/{bad}");
}

#[test]
fn errors_name_the_line() {
    let dir = cases_dir();
    let body = std::fs::read(dir.join("bad_blank_line/metrics")).expect("case");
    let err = render(&body).expect_err("blank line is invalid");
    assert!(err.starts_with("line 2:"), "{err}");
    let body = std::fs::read(dir.join("bad_histograms_9/metrics")).expect("case");
    let err = render(&body).expect_err("unordered buckets");
    assert!(err.starts_with("line 3:") && err.contains("out of order"), "{err}");
}

/// Every prefix of every case, and a few byte-level mutations, must yield a result, never a panic.
#[test]
fn truncated_and_garbled_cases_never_panic() {
    for c in load_cases() {
        for format in [Format::OpenMetrics, Format::PrometheusText] {
            for end in 0..=c.body.len() {
                drain(&c.body[..end], format);
            }
            for (i, garbage) in [0u8, b'\\', b'"', b'{', b'}', b' ', b'#', b'\n', 0xff, 0xe2].into_iter().enumerate() {
                let mut body = c.body.clone();
                if body.is_empty() {
                    continue;
                }
                let at = (i * 7919) % body.len();
                body[at] = garbage;
                drain(&body, format);
                body.insert(at, garbage);
                drain(&body, format);
            }
        }
    }
}

fn drain(body: &[u8], format: Format) {
    let mut p = Parser::new(body, format);
    for _ in 0..100_000 {
        match p.next() {
            Ok(Some(Entry::Sample(s))) => {
                let _ = s.labels();
                if let Some(e) = &s.exemplar {
                    let _ = e.labels();
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("parser did not terminate");
}

#[test]
#[ignore = "prints why each bad case is rejected, for review"]
fn print_bad_case_reasons() {
    for c in load_cases().iter().filter(|c| !c.should_parse) {
        println!("{:50} {:?}", c.name, render(&c.body).err());
    }
}
