//! The `oxeye` binary: parses Prometheus-compatible flags, then either runs a subcommand
//! (`check config`, `test promql`) or the server.

mod flags;
mod logfmt;
mod process_metrics;
mod server;

use std::process::ExitCode;

use clap::Parser;

use flags::{CheckCommand, Command, Flags, TestCommand};

fn main() -> ExitCode {
    let flags = Flags::parse();
    match &flags.command {
        Some(Command::Check { what: CheckCommand::Config { files } }) => check_config(files),
        Some(Command::Test { what: TestCommand::Promql { paths } }) => test_promql(paths),
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
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
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
