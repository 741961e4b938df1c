//! `promtool test rules` as a tiny command: `cargo run -p oxeye-ruletest --example test_rules --
//! [--diff] [--run REGEX] FILE...`. Prints what promtool prints and exits with its code.

use std::io::Write as _;
use std::path::PathBuf;

use oxeye_ruletest::{Regex, RunOptions, run_tests};

fn main() {
    let mut opts = RunOptions::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--diff" => opts.diff = true,
            "--run" => match args.next().map(|r| Regex::new(&r)) {
                Some(Ok(re)) => opts.run = Some(re),
                _ => {
                    eprintln!("--run needs a valid regular expression");
                    std::process::exit(2);
                }
            },
            _ => files.push(PathBuf::from(a)),
        }
    }
    let report = run_tests(&files, &opts);
    let _ = std::io::stdout().write_all(report.text().as_bytes());
    std::process::exit(report.exit_code);
}
