//! `amtool check-config` for one file: the same report on stdout/stderr and exit code, so the
//! binary's `check-config` and the differential tests against amtool share one implementation.

use std::path::Path;

/// What `amtool check-config FILE` prints and returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// Checks `path` like `amtool check-config`: loads the configuration, then the template files
/// its globs name (they must exist and be readable), and summarizes what was found.
pub fn check_config(path: &Path) -> CheckReport {
    let file = path.display().to_string();
    match crate::load_file(path) {
        Ok(cfg) => {
            let mut stdout = format!(
                "Checking '{file}'  SUCCESS\nFound:\n - global config\n - route\n - {} inhibit rules\n - {} receivers\n - {} templates\n",
                cfg.inhibit_rules.len(),
                cfg.receivers.len(),
                cfg.templates.len(),
            );
            let mut exit_code = 0;
            if !cfg.templates.is_empty() {
                match check_templates(&cfg) {
                    Ok(()) => stdout.push_str("  SUCCESS\n"),
                    Err(e) => {
                        stdout.push_str(&format!("  FAILED: {e}\n"));
                        exit_code = 1;
                    }
                }
            }
            stdout.push('\n');
            let stderr = if exit_code == 0 { String::new() } else { FAILED_STDERR.to_string() };
            CheckReport { stdout, stderr, exit_code }
        }
        Err(e) => CheckReport {
            stdout: format!("Checking '{file}'  FAILED: {}\n\n", failure_message(&e)),
            stderr: FAILED_STDERR.to_string(),
            exit_code: 1,
        },
    }
}

/// The message amtool would print: Alertmanager's words for validation errors; unknown fields
/// in yaml.v2's `unmarshal errors` shape, with the line.
fn failure_message(e: &crate::ConfigError) -> String {
    match (&e.kind, e.position) {
        (crate::ErrorKind::UnknownField | crate::ErrorKind::DuplicateKey, Some(p)) => {
            format!("yaml: unmarshal errors:\n  line {}: {}", p.line, e.message)
        }
        _ => e.message.clone(),
    }
}

const FAILED_STDERR: &str = "amtool: error: failed to validate 1 file(s)\n\n";

/// The template globs must be valid; every file they match must be readable. (Parsing the
/// templates is the template engine's business, done by the binary.)
fn check_templates(cfg: &crate::Config) -> Result<(), String> {
    for t in &cfg.templates {
        let paths = glob::glob(t).map_err(|e| format!("invalid template glob {t:?}: {e}"))?;
        for p in paths {
            let p = p.map_err(|e| e.to_string())?;
            std::fs::read_to_string(&p).map_err(|e| format!("failed to read template {}: {e}", p.display()))?;
        }
    }
    Ok(())
}
