//! Fails when `crds/` no longer matches what the Rust types generate.

use std::path::Path;

#[test]
fn crds_directory_matches_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds");
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
        "crds/ is out of date with operator/crd ({}); run `{}`",
        stale.join(", "),
        oxeye_crd::crdgen::REGENERATE_COMMAND
    );
}
