//! Writes Oxeye's CustomResourceDefinitions to `crds/` (or the directory given as the only
//! argument). Run `cargo run -p oxeye-crd --bin crdgen` after changing a type in operator/crd.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(default_dir);
    let files = match oxeye_crd::crd_files() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("crdgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("crdgen: creating {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for file in files {
        let path = dir.join(&file.file_name);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == file.contents);
        if unchanged {
            println!("unchanged {}", path.display());
            continue;
        }
        if let Err(e) = std::fs::write(&path, &file.contents) {
            eprintln!("crdgen: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

/// `crds/` at the repository root (two levels above this crate).
fn default_dir() -> PathBuf {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().nth(2).unwrap_or(manifest_dir).join("crds")
}
