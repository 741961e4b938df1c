//! Differential test against Alertmanager 0.25's `amtool check-config`: every file under
//! `testdata/` gets the same accept/reject verdict from Oxeye's `check_config` as from amtool,
//! and accepted files the same summary. Files named `good.*` / `bad.*` must agree with amtool;
//! `oxeye-good.*` / `oxeye-bad.*` are Oxeye's documented deviations and must disagree (so the
//! list of differences stays true). Without amtool on the PATH, only Oxeye's verdicts are
//! checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use oxeye_am_config::check_config;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata")
}

fn corpus() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(testdata())
        .expect("testdata dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    names
}

/// Runs amtool from the testdata directory with a relative file name, so both tools print the
/// same `Checking 'NAME'` line. `None` when amtool is not installed.
fn amtool(name: &str) -> Option<(i32, String)> {
    let out = Command::new("amtool").arg("check-config").arg(name).current_dir(testdata()).output().ok()?;
    Some((out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Oxeye's report with the same relative file name in it.
fn oxeye(name: &str) -> oxeye_am_config::CheckReport {
    let dir = testdata();
    let mut report = check_config(&dir.join(name));
    let full = dir.join(name).display().to_string();
    report.stdout = report.stdout.replace(&full, name);
    report
}

#[test]
fn amtool_check_config_differential() {
    let names = corpus();
    assert!(names.len() >= 25, "corpus too small: {}", names.len());
    let have_amtool = amtool("good.minimal.yml").is_some();
    if !have_amtool {
        println!("amtool not found: checking Oxeye's verdicts only");
    }
    let (mut agree, mut known_differences, mut same_message) = (0, 0, 0);
    let mut failures = Vec::new();
    for name in &names {
        let ours = oxeye(name);
        let expect_ok = name.starts_with("good.") || name.starts_with("oxeye-good.");
        if (ours.exit_code == 0) != expect_ok {
            failures
                .push(format!("{name}: Oxeye exit {} but the file is named {name}:\n{}", ours.exit_code, ours.stdout));
            continue;
        }
        let Some((code, stdout)) = amtool(name) else { continue };
        let deviation = name.starts_with("oxeye-");
        if deviation {
            if (code == 0) == (ours.exit_code == 0) {
                failures.push(format!("{name}: listed as a deviation but amtool agrees (exit {code})"));
            } else {
                known_differences += 1;
            }
            continue;
        }
        if code != ours.exit_code {
            failures.push(format!(
                "{name}: amtool exit {code}, Oxeye exit {}\namtool: {stdout}Oxeye: {}",
                ours.exit_code, ours.stdout
            ));
            continue;
        }
        if code == 0 && stdout != ours.stdout {
            failures.push(format!("{name}: summaries differ\namtool:\n{stdout}Oxeye:\n{}", ours.stdout));
            continue;
        }
        if code != 0 {
            let prefix = format!("Checking '{name}'  FAILED: ");
            assert!(ours.stdout.starts_with(&prefix), "{name}: {}", ours.stdout);
            assert_eq!(ours.stderr, "amtool: error: failed to validate 1 file(s)\n\n");
            // Messages are informational: yaml.v2's type errors and Go's regexp errors have no
            // exact counterpart.
            if stdout.lines().next() == ours.stdout.lines().next() {
                same_message += 1;
            } else {
                println!(
                    "message differs for {name}:\n  amtool: {}\n  Oxeye:  {}",
                    stdout.lines().next().unwrap_or(""),
                    ours.stdout.lines().next().unwrap_or("")
                );
            }
        }
        agree += 1;
    }
    if have_amtool {
        println!(
            "amtool check-config differential: {agree} agree ({same_message} rejections with the same message), \
             {known_differences} known differences, {} disagree",
            failures.len()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
