//! Fails when `crds/` or the Helm chart's `charts/oxeye/crds/` no longer matches what the Rust
//! types generate.

use std::path::Path;

#[test]
fn crds_directory_matches_the_types() {
    check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds"));
}

#[test]
fn chart_crds_match_the_types() {
    check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/oxeye/crds"));
}

fn check(dir: &Path) {
    let files = oxeye_crd::crd_files().expect("CRDs generate");
    let mut stale = Vec::new();
    for file in &files {
        let path = dir.join(&file.file_name);
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == file.contents => {}
            Ok(_) => stale.push(format!("{} differs", file.file_name)),
            Err(e) => stale.push(format!("{} unreadable: {e}", file.file_name)),
        }
    }
    assert!(
        stale.is_empty(),
        "{} is out of date with operator/crd ({}); run `{}`",
        dir.display(),
        stale.join(", "),
        oxeye_crd::crdgen::REGENERATE_COMMAND
    );
}
