//! `promtool check rules`: validates rule files and renders promtool's report (stdout,
//! stderr, exit code) so a CLI can print it verbatim. Duplicate rules are a lint finding that
//! fails the file's report but not the exit code unless `lint_fatal` is set, as in promtool.

use std::path::PathBuf;

use crate::file::{self, NameValidation, ParseOptions};

/// promtool's flags for `check rules`.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// `--lint=duplicate-rules` (the default) versus `--lint=none`.
    pub lint_duplicates: bool,
    /// `--lint-fatal`: lint findings exit with code 3.
    pub lint_fatal: bool,
    pub name_validation: NameValidation,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { lint_duplicates: true, lint_fatal: false, name_validation: NameValidation::Utf8 }
    }
}

/// What `promtool check rules` prints and returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckReport {
    pub stdout: String,
    pub stderr: String,
    /// 0 success, 1 errors, 3 lint findings with `lint_fatal`.
    pub exit_code: i32,
}

/// Checks `paths` with promtool's defaults.
pub fn check_rules_report(paths: &[PathBuf]) -> CheckReport {
    check_rules_report_with(paths, &CheckOptions::default())
}

pub fn check_rules_report_with(paths: &[PathBuf], opts: &CheckOptions) -> CheckReport {
    let mut rep = CheckReport::default();
    let (mut failed, mut has_errors) = (false, false);
    let popts = ParseOptions { name_validation: opts.name_validation };
    for p in paths {
        rep.stdout.push_str(&format!("Checking {}\n", p.display()));
        match file::parse_file_with(p, popts) {
            Err(errs) => {
                failed = true;
                has_errors = true;
                rep.stderr.push_str("  FAILED:\n");
                for e in errs {
                    rep.stderr.push_str(&format!("{e}\n"));
                }
            }
            Ok(rf) => {
                let dups = if opts.lint_duplicates { file::find_duplicates(&rf) } else { Vec::new() };
                if dups.is_empty() {
                    rep.stdout.push_str(&format!("  SUCCESS: {} rules found\n", rf.rule_count()));
                } else {
                    failed = true;
                    let mut msg = format!("lint error {} duplicate rule(s) found.\n", dups.len());
                    for d in &dups {
                        msg.push_str(&format!("Metric: {}\nLabel(s):\n", d.metric));
                        for l in d.labels.iter() {
                            msg.push_str(&format!("\t{}: {}\n", l.name, l.value));
                        }
                    }
                    msg.push_str("Might cause inconsistency while recording expressions");
                    rep.stderr.push_str(&format!("  FAILED:\n{msg}\n"));
                }
            }
        }
        rep.stdout.push('\n');
    }
    rep.exit_code = if failed && has_errors {
        1
    } else if failed && opts.lint_fatal {
        3
    } else {
        0
    };
    rep
}

#[cfg(test)]
mod tests;
