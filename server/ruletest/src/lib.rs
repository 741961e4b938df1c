//! `promtool test rules`: runs rule unit-test files (input series in the expanding notation,
//! `alert_rule_test` and `promql_expr_test` cases) against rule groups evaluated by
//! `oxeye-rules` over an in-memory storage, and reports what promtool would print. It owns the
//! test-file format, the evaluation schedule and the comparison; it knows nothing about the
//! command line, HTTP or on-disk storage.

mod file;
mod format;
mod runner;

use std::path::{Path, PathBuf};

pub use regex::Regex;

/// What `promtool test rules` flags change.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--run`: only test groups whose `name` this regex matches (unanchored) are run.
    pub run: Option<Regex>,
    /// `--diff`: add a line diff of expected against got to each alert mismatch.
    pub diff: bool,
}

/// The outcome of one test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The path as given.
    pub file: PathBuf,
    /// Printed to stderr before the verdict (rule-file globs that matched nothing).
    pub warnings: Vec<String>,
    /// One entry per failure, already formatted as promtool prints it; empty means success.
    pub errors: Vec<String>,
}

impl FileReport {
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The outcome of a run over several files: promtool's output and exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    pub files: Vec<FileReport>,
    /// 0 when every file passed, 1 otherwise.
    pub exit_code: i32,
}

impl TestReport {
    /// What promtool writes to stdout.
    pub fn stdout(&self) -> String {
        self.render(true, false)
    }

    /// What promtool writes to stderr.
    pub fn stderr(&self) -> String {
        self.render(false, true)
    }

    /// Both streams interleaved as a terminal shows them (`promtool test rules f 2>&1`).
    pub fn text(&self) -> String {
        self.render(true, true)
    }

    fn render(&self, out: bool, err: bool) -> String {
        let mut s = String::new();
        let mut put = |to_stdout: bool, text: &str| {
            if (to_stdout && out) || (!to_stdout && err) {
                s.push_str(text);
            }
        };
        for f in &self.files {
            put(true, &format!("Unit Testing:  {}\n", f.file.display()));
            for w in &f.warnings {
                put(false, &format!("{w}\n"));
            }
            if f.errors.is_empty() {
                put(true, "  SUCCESS\n");
            } else {
                put(false, "  FAILED:\n");
                for e in &f.errors {
                    put(false, &format!("{e}\n"));
                    put(true, "\n");
                }
            }
            put(true, "\n");
        }
        s
    }
}

/// Runs every test file in order, as `promtool test rules FILE...`.
pub fn run_tests(files: &[PathBuf], opts: &RunOptions) -> TestReport {
    let files: Vec<FileReport> = files.iter().map(|f| run_file(f, opts)).collect();
    let exit_code = if files.iter().all(FileReport::passed) { 0 } else { 1 };
    TestReport { files, exit_code }
}

/// Runs one test file.
pub fn run_file(path: &Path, opts: &RunOptions) -> FileReport {
    let mut report = FileReport { file: path.to_path_buf(), warnings: Vec::new(), errors: Vec::new() };
    runner::run_file(path, opts, &mut report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text_matches_promtool_layout() {
        let r = TestReport {
            files: vec![
                FileReport { file: "a.yml".into(), warnings: vec![], errors: vec![] },
                FileReport {
                    file: "b.yml".into(),
                    warnings: vec!["  WARNING: no file match pattern x*.yml".into()],
                    errors: vec!["e1".into(), "e2".into()],
                },
            ],
            exit_code: 1,
        };
        assert_eq!(r.stdout(), "Unit Testing:  a.yml\n  SUCCESS\n\nUnit Testing:  b.yml\n\n\n\n");
        assert_eq!(r.stderr(), "  WARNING: no file match pattern x*.yml\n  FAILED:\ne1\ne2\n");
        assert_eq!(
            r.text(),
            "Unit Testing:  a.yml\n  SUCCESS\n\nUnit Testing:  b.yml\n  WARNING: no file match pattern x*.yml\n  \
             FAILED:\ne1\n\ne2\n\n\n"
        );
    }
}
