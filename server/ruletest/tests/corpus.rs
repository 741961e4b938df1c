//! Differential test: every file in `tests/corpus` named `*.pass.yml` or `*.fail.yml` is run
//! through `run_tests`, and through `/usr/bin/promtool test rules` when it is installed. The
//! verdicts must agree with each other and with the file name; for the files in
//! `EXACT_OUTPUT` the printed text must also be byte-identical to promtool's.

use std::path::{Path, PathBuf};
use std::process::Command;

use oxeye_ruletest::{Regex, RunOptions, run_tests};

const PROMTOOL: &str = "/usr/bin/promtool";

/// Files whose whole output (stdout and stderr) must equal promtool's. Files that print
/// parser or YAML error messages are left out: those texts come from different parsers.
const EXACT_OUTPUT: &[&str] = &[
    "alert_lifecycle.pass.yml",
    "alert_pending_not_firing.fail.yml",
    "wrong_labels.fail.yml",
    "wrong_annotation.fail.yml",
    "unknown_alertname.fail.yml",
    "missing_alertname.fail.yml",
    "external_labels_missing.fail.yml",
    "keep_firing_for.fail.yml",
    "recording_wrong_value.fail.yml",
    "alerts_series_state.fail.yml",
    "group_eval_order_file_order.fail.yml",
    "group_eval_order_repeated.fail.yml",
    "promql_missing_series.fail.yml",
    "promql_extra_series.fail.yml",
    "promql_string_result.fail.yml",
    "staleness.fail.yml",
    "multiple_groups_one_fails.fail.yml",
    "eval_interval_30s.fail.yml",
    "missing_rule_file.pass.yml",
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("corpus")
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| expected_verdict(p).is_some())
        .collect();
    files.sort();
    files
}

/// `Some(true)` for `*.pass.yml`, `Some(false)` for `*.fail.yml`, `None` for rule files.
fn expected_verdict(p: &Path) -> Option<bool> {
    let name = p.file_name()?.to_str()?;
    if name.ends_with(".pass.yml") {
        Some(true)
    } else if name.ends_with(".fail.yml") {
        Some(false)
    } else {
        None
    }
}

struct PromtoolRun {
    passed: bool,
    stdout: String,
    stderr: String,
}

/// Runs promtool from the corpus directory with a relative path, so paths print the same.
fn promtool(name: &str) -> Option<PromtoolRun> {
    if !Path::new(PROMTOOL).exists() {
        return None;
    }
    let out = Command::new(PROMTOOL).args(["test", "rules", name]).current_dir(corpus_dir()).output().ok()?;
    Some(PromtoolRun {
        passed: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

#[test]
fn corpus_verdicts_agree_with_manifest_and_promtool() {
    let files = corpus_files();
    assert!(files.len() >= 24, "corpus has only {} test files", files.len());
    // Relative paths, as a user would type them in the corpus directory.
    let dir = corpus_dir();
    let mut problems = Vec::new();
    let (mut compared, mut agreed, mut exact) = (0, 0, 0);
    let mut not_exact = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let want = expected_verdict(path).unwrap_or(false);
        let report = run_tests(std::slice::from_ref(path), &RunOptions::default());
        let ours = report.exit_code == 0;
        if ours != want {
            problems.push(format!(
                "{name}: oxeye says {}, manifest says {}\n{}",
                verdict(ours),
                verdict(want),
                report.text()
            ));
        }
        let Some(theirs) = promtool(&name) else { continue };
        compared += 1;
        if theirs.passed == ours {
            agreed += 1;
        } else {
            problems.push(format!(
                "{name}: oxeye says {}, promtool says {}\n--- oxeye\n{}--- promtool\n{}{}",
                verdict(ours),
                verdict(theirs.passed),
                report.text(),
                theirs.stdout,
                theirs.stderr
            ));
        }
        // Re-run with the path as promtool saw it, then compare the text byte for byte.
        let rel = oxeye_ruletest::run_file(&dir.join(&name), &RunOptions::default());
        let rel_report = oxeye_ruletest::TestReport {
            files: vec![oxeye_ruletest::FileReport { file: PathBuf::from(&name), ..rel }],
            exit_code: report.exit_code,
        };
        // Rule-file paths are printed joined to the test file's directory; promtool ran there.
        let prefix = format!("{}/", dir.display());
        let (our_out, our_err) = (rel_report.stdout().replace(&prefix, ""), rel_report.stderr().replace(&prefix, ""));
        let same_text = our_out == theirs.stdout && our_err == theirs.stderr;
        if same_text {
            exact += 1;
        } else if !EXACT_OUTPUT.contains(&name.as_str()) {
            not_exact.push(name.clone());
        } else if EXACT_OUTPUT.contains(&name.as_str()) {
            problems.push(format!(
                "{name}: output differs from promtool\n--- oxeye stdout\n{}--- oxeye stderr\n{}--- promtool stdout\n{}--- promtool stderr\n{}",
                our_out,
                our_err,
                theirs.stdout,
                theirs.stderr
            ));
        }
    }
    if compared > 0 {
        println!(
            "ruletest corpus: {} files, {agreed} verdicts agree with promtool, {exact} outputs byte-identical",
            files.len()
        );
        println!("output differs in wording (different parsers) for: {}", not_exact.join(", "));
    } else {
        println!(
            "ruletest corpus: {} files, promtool not installed, verdicts checked against the manifest",
            files.len()
        );
    }
    assert!(problems.is_empty(), "{} problem(s):\n\n{}", problems.len(), problems.join("\n\n"));
}

fn verdict(passed: bool) -> &'static str {
    if passed { "SUCCESS" } else { "FAILED" }
}

#[test]
fn run_filter_selects_test_groups_by_name() {
    let file = corpus_dir().join("multiple_groups_one_fails.fail.yml");
    let all = run_tests(std::slice::from_ref(&file), &RunOptions::default());
    assert_eq!(all.exit_code, 1);
    let only_passing = RunOptions { run: Regex::new("^pass").ok(), diff: false };
    let r = run_tests(std::slice::from_ref(&file), &only_passing);
    assert_eq!(r.exit_code, 0, "{}", r.text());
    let only_failing = RunOptions { run: Regex::new("fail").ok(), diff: false };
    let r = run_tests(std::slice::from_ref(&file), &only_failing);
    assert_eq!(r.exit_code, 1);
    assert!(r.text().contains("    name: failing,\n"), "{}", r.text());
}

#[test]
fn diff_mode_adds_a_line_diff() {
    let file = corpus_dir().join("wrong_labels.fail.yml");
    let r = run_tests(std::slice::from_ref(&file), &RunOptions { run: None, diff: true });
    let text = r.text();
    assert!(text.contains("        diff:\n"), "{text}");
    assert!(
        text.contains(r#"-   Labels:{alertname="InstanceDown", instance="a:80", job="api", severity="ticket"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"+   Labels:{alertname="InstanceDown", instance="a:80", job="api", severity="page"}"#),
        "{text}"
    );
}

#[test]
fn several_files_in_one_run() {
    let dir = corpus_dir();
    let files = [dir.join("notation.pass.yml"), dir.join("staleness.fail.yml"), dir.join("staleness.pass.yml")];
    let r = run_tests(&files, &RunOptions::default());
    assert_eq!(r.exit_code, 1);
    let verdicts: Vec<bool> = r.files.iter().map(|f| f.passed()).collect();
    assert_eq!(verdicts, [true, false, true]);
    assert_eq!(r.stdout().matches("Unit Testing:  ").count(), 3);
    assert_eq!(r.stdout().matches("  SUCCESS\n").count(), 2);
}

#[test]
fn unreadable_and_empty_files() {
    let r = run_tests(&[PathBuf::from("/nonexistent/test.yml")], &RunOptions::default());
    assert_eq!(r.exit_code, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.yml");
    std::fs::write(&empty, "").expect("write");
    let r = run_tests(&[empty], &RunOptions::default());
    assert_eq!(r.exit_code, 0, "{}", r.text());
}
