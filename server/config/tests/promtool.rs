//! Differential test against the reference `promtool check config` (Debian package
//! `prometheus`): over the configs in `testdata/promtool/{good,bad}`, Oxeye's `check` must give
//! promtool's verdict. The set only uses features both understand (the Debian promtool may be
//! older than 3.x; its 3.x-only fields and Oxeye's unsupported fields are tested elsewhere).

use std::path::{Path, PathBuf};
use std::process::Command;

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/promtool").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "too few {kind} cases in {}", dir.display());
    files
}

fn promtool() -> Option<PathBuf> {
    let candidates = [std::env::var_os("PROMTOOL").map(PathBuf::from), Some(PathBuf::from("/usr/bin/promtool"))];
    candidates.into_iter().flatten().find(|p| p.exists())
}

#[test]
fn oxeye_verdicts_match_the_directories() {
    for (kind, want) in [("good", true), ("bad", false)] {
        for f in cases(kind) {
            let r = oxeye_config::check(&f);
            assert_eq!(r.is_success(), want, "{}: {:?}", f.display(), r.stderr);
        }
    }
}

#[test]
fn oxeye_and_promtool_agree() {
    let Some(promtool) = promtool() else {
        println!("NOTICE: promtool not found (install the Debian package `prometheus`); differential test skipped");
        return;
    };
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for f in cases("good").into_iter().chain(cases("bad")) {
        let out = Command::new(&promtool).arg("check").arg("config").arg(&f).output().expect("run promtool");
        let theirs = out.status.success();
        let ours = oxeye_config::check(&f);
        if theirs != ours.is_success() {
            disagreements.push(format!(
                "{}: promtool {} ({}), oxeye {} ({:?})",
                f.display(),
                if theirs { "accepts" } else { "rejects" },
                String::from_utf8_lossy(&out.stderr).trim(),
                if ours.is_success() { "accepts" } else { "rejects" },
                ours.stderr,
            ));
        }
        checked += 1;
    }
    println!("promtool differential: {} agreed, {} disagreed", checked - disagreements.len(), disagreements.len());
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
