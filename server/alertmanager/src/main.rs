//! The `oxeye-alertmanager` binary: parses Alertmanager-compatible flags, then runs
//! `check-config` (amtool's report) or the server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use oxeye_alertmanager::flags::{Command, Flags};

fn main() -> ExitCode {
    let flags = Flags::parse();
    match &flags.command {
        Some(Command::CheckConfig { files }) => check_config(files),
        None => run_server(flags),
    }
}

/// `amtool check-config`: one report per file, exit code 1 when any file fails.
fn check_config(files: &[PathBuf]) -> ExitCode {
    let mut failed = 0usize;
    for f in files {
        let report = oxeye_am_config::check_config(f);
        print!("{}", report.stdout);
        if report.exit_code != 0 {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("oxeye-alertmanager: error: failed to validate {failed} file(s)");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_server(flags: Flags) -> ExitCode {
    oxeye_alertmanager::logging::init(&flags);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("oxeye-am").build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(oxeye_alertmanager::run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(err = format!("{e:#}"), "oxeye-alertmanager stopped with an error");
            ExitCode::from(1)
        }
    }
}
