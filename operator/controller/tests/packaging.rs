//! The image and the chart agree: every binary the chart's containers run is built and copied by
//! the Dockerfile, each is a binary target of this workspace, and the image runs as a non-root
//! user. (No container engine runs on the test machines, so the image itself is not built here;
//! docs/install.md says so.)

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// `[[bin]] name = "..."` of the crates that ship binaries.
fn workspace_binaries() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for manifest in ["server/oxeye/Cargo.toml", "server/alertmanager/Cargo.toml", "operator/controller/Cargo.toml"] {
        let text = read(manifest);
        let mut in_bin = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                in_bin = t == "[[bin]]";
            } else if in_bin && let Some(v) = t.strip_prefix("name = ") {
                out.insert(v.trim_matches('"').to_string());
            }
        }
    }
    out
}

#[test]
fn the_chart_runs_what_the_image_holds() {
    let dockerfile = read("Dockerfile");
    let built: BTreeSet<String> = dockerfile
        .lines()
        .filter(|l| l.contains("cargo build"))
        .flat_map(|l| l.split("--bin ").skip(1).map(|s| s.split_whitespace().next().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(built.len(), 3, "{built:?}");
    let targets = workspace_binaries();
    for b in &built {
        assert!(targets.contains(b), "the Dockerfile builds {b}, which no crate declares ({targets:?})");
        assert!(dockerfile.contains(&format!("target/release/{b}")), "the Dockerfile does not copy {b}");
    }
    let mut run = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("charts/oxeye/templates")).expect("templates") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("template");
        for line in text.lines() {
            if let Some(cmd) = line.trim().strip_prefix("command: [/usr/local/bin/") {
                run.insert(cmd.trim_end_matches(']').to_string());
            }
        }
    }
    assert_eq!(run, built, "the chart runs {run:?}, the image holds {built:?}");
    let last_stage = dockerfile.rsplit("\nFROM ").next().unwrap_or_default();
    let user = last_stage.lines().find_map(|l| l.strip_prefix("USER ")).expect("a USER in the final stage");
    assert!(!user.starts_with('0') && !user.starts_with("root"), "the image runs as {user}");
    let values = read("charts/oxeye/values.yaml");
    assert!(
        values.contains(&format!("runAsUser: {}", user.split(':').next().unwrap_or_default())),
        "values.yaml runs as another user"
    );
}
