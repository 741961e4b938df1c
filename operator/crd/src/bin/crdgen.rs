//! Writes Oxeye's CustomResourceDefinitions to `crds/` and to the Helm chart's
//! `charts/oxeye/crds/` (or to the one directory given as the only argument). Run
//! `cargo run -p oxeye-crd --bin crdgen` after changing a type in operator/crd.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dirs = match std::env::args_os().nth(1) {
        Some(d) => vec![PathBuf::from(d)],
        None => default_dirs(),
    };
    let files = match oxeye_crd::crd_files() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("crdgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    for dir in dirs {
        if let Err(e) = write_dir(&dir, &files) {
            eprintln!("crdgen: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn write_dir(dir: &std::path::Path, files: &[oxeye_crd::CrdFile]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for file in files {
        let path = dir.join(&file.file_name);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == file.contents);
        if unchanged {
            println!("unchanged {}", path.display());
            continue;
        }
        std::fs::write(&path, &file.contents).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `crds/` and `charts/oxeye/crds/` at the repository root (two levels above this crate).
fn default_dirs() -> Vec<PathBuf> {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.ancestors().nth(2).unwrap_or(manifest_dir);
    vec![root.join("crds"), root.join("charts/oxeye/crds")]
}
