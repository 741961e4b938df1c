//! The `oxeye` binary: parses Prometheus-compatible flags, then either runs a subcommand
//! (`check config`, `check rules`, `test promql`, `test rules`) or the server.

mod config_secret;
mod flags;
mod server;

use std::process::ExitCode;

use clap::Parser;

use flags::{CheckCommand, Command, Flags, TestCommand};

fn main() -> ExitCode {
    let flags = Flags::parse();
    match &flags.command {
        Some(Command::Check { what: CheckCommand::Config { files } }) => check_config(files),
        Some(Command::Check { what: CheckCommand::Rules { lint, lint_fatal, files } }) => {
            check_rules(files, lint, *lint_fatal)
        }
        Some(Command::Test { what: TestCommand::Promql { paths } }) => test_promql(paths),
        Some(Command::Test { what: TestCommand::Rules { run, diff, files } }) => test_rules(files, run, *diff),
        None => run_server(flags),
    }
}

fn check_config(files: &[std::path::PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        let report = oxeye_config::check(f);
        for line in &report.stdout {
            println!("{line}");
        }
        for line in &report.stderr {
            eprintln!("{line}");
        }
        if !report.is_success() {
            failed = true;
        }
        // Like promtool, the rule files the configuration names are checked too.
        if !report.rule_files.is_empty() {
            let paths: Vec<std::path::PathBuf> = report.rule_files.iter().map(std::path::PathBuf::from).collect();
            let rules = oxeye_rules::check_rules_report(&paths);
            print!("{}", rules.stdout);
            eprint!("{}", rules.stderr);
            if rules.exit_code != 0 {
                failed = true;
            }
        }
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// `check rules`: promtool's report and exit code (1 on errors, 3 on fatal lint findings).
fn check_rules(files: &[std::path::PathBuf], lint: &str, lint_fatal: bool) -> ExitCode {
    let lint_duplicates = match lint {
        "duplicate-rules" => true,
        "none" => false,
        other => {
            eprintln!("invalid --lint value {other:?}: use \"duplicate-rules\" or \"none\"");
            return ExitCode::from(1);
        }
    };
    let opts = oxeye_rules::CheckOptions { lint_duplicates, lint_fatal, ..Default::default() };
    let report = oxeye_rules::check_rules_report_with(files, &opts);
    print!("{}", report.stdout);
    eprint!("{}", report.stderr);
    ExitCode::from(u8::try_from(report.exit_code).unwrap_or(1))
}

/// `test rules`: promtool's unit-test runner.
fn test_rules(files: &[std::path::PathBuf], run: &[String], diff: bool) -> ExitCode {
    let run = if run.is_empty() {
        None
    } else {
        let pattern = run.iter().map(|r| format!("(?:{r})")).collect::<Vec<_>>().join("|");
        match oxeye_ruletest::Regex::new(&pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                eprintln!("invalid --run regular expression {pattern:?}: {e}");
                return ExitCode::from(1);
            }
        }
    };
    let report = oxeye_ruletest::run_tests(files, &oxeye_ruletest::RunOptions { run, diff });
    print!("{}", report.stdout());
    eprint!("{}", report.stderr());
    ExitCode::from(u8::try_from(report.exit_code).unwrap_or(1))
}

fn test_promql(paths: &[std::path::PathBuf]) -> ExitCode {
    let mut total = 0usize;
    let mut passed = 0usize;
    for p in paths {
        let reports = if p.is_dir() {
            oxeye_promql::promqltest::run_dir(p)
        } else {
            vec![(p.display().to_string(), oxeye_promql::promqltest::run_file(p))]
        };
        for (name, r) in reports {
            for f in &r.failures {
                println!("  FAIL {name}: {f}");
            }
            println!("{name}: {}/{} evals passed", r.evals_passed, r.evals_total);
            total += r.evals_total;
            passed += r.evals_passed;
        }
    }
    println!("{passed} passed, {} failed", total - passed);
    if passed == total { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn run_server(flags: Flags) -> ExitCode {
    server::init_logging(&flags);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("oxeye").build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(server::run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "oxeye stopped with an error");
            ExitCode::from(1)
        }
    }
}
