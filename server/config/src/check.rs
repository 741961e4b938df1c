//! `oxeye check config`: what `promtool check config` does, with its output lines. Beyond
//! loading, it checks that referenced files exist (rule files named without a glob, credential
//! and client certificate files) and that file SD files matched by the globs parse as target
//! groups (for scrape jobs and Alertmanagers). The rule files found are listed in the report;
//! checking their contents is the rules crate's job (the `oxeye` binary chains the two).

use std::path::Path;

use crate::{Config, ConfigError, StaticConfig, load_file};

/// The outcome of [`check`]: promtool-style lines for stdout and stderr, and the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    /// The loaded configuration, when it is valid.
    pub config: Option<Config>,
    /// The first problem found, if any.
    pub failure: Option<String>,
    /// The rule files the configuration names (globs expanded), for a rule check to follow.
    pub rule_files: Vec<String>,
}

impl CheckReport {
    pub fn is_success(&self) -> bool {
        self.failure.is_none()
    }

    /// The process exit code promtool uses: 0 on success, 1 on failure.
    pub fn exit_code(&self) -> i32 {
        if self.is_success() { 0 } else { 1 }
    }
}

/// Checks one configuration file.
pub fn check(path: &Path) -> CheckReport {
    let file = path.display().to_string();
    let mut report = CheckReport {
        stdout: vec![format!("Checking {file}")],
        stderr: Vec::new(),
        config: None,
        failure: None,
        rule_files: Vec::new(),
    };
    let result = load_file(path).map_err(|e: ConfigError| e.to_string()).and_then(|cfg| {
        let rule_files = check_references(&cfg)?;
        Ok((cfg, rule_files))
    });
    match result {
        Ok((cfg, rule_files)) => {
            if !rule_files.is_empty() {
                report.stdout.push(format!("  SUCCESS: {} rule files found", rule_files.len()));
            }
            // promtool prints this line with a single leading space.
            report.stdout.push(format!(" SUCCESS: {file} is valid prometheus config file syntax"));
            report.stdout.push(String::new());
            report.rule_files = rule_files;
            report.config = Some(cfg);
        }
        Err(msg) => {
            report.stdout.push(String::new());
            report.stderr.push(format!("  FAILED: {msg}"));
            report.failure = Some(msg);
        }
    }
    report
}

/// promtool's `checkConfig` beyond parsing. Returns the rule files found.
fn check_references(cfg: &Config) -> Result<Vec<String>, String> {
    let mut rule_files = Vec::new();
    for rf in &cfg.rule_files {
        let matches = glob_files(rf).map_err(|e| format!("invalid rule file pattern {rf:?}: {e}"))?;
        if !rf.contains('*') {
            if matches.is_empty() {
                return Err(format!("{rf:?} does not point to an existing file"));
            }
            if let Err(e) = std::fs::metadata(&matches[0]) {
                return Err(format!("error checking rule file {:?}: {e}", matches[0]));
            }
        }
        rule_files.extend(matches);
    }
    for sc in &cfg.scrape_configs {
        let job = &sc.job_name;
        if let Some(a) = &sc.http_client.authorization {
            file_exists(&a.credentials_file).map_err(|e| {
                format!("error checking authorization credentials or bearer token file {:?}: {e}", a.credentials_file)
            })?;
        }
        let tls = &sc.http_client.tls_config;
        file_exists(&tls.cert_file).map_err(|e| format!("error checking client cert file {:?}: {e}", tls.cert_file))?;
        file_exists(&tls.key_file).map_err(|e| format!("error checking client key file {:?}: {e}", tls.key_file))?;
        for fc in &sc.file_sd_configs {
            for pattern in &fc.files {
                let files = glob_files(pattern).map_err(|e| format!("invalid file SD pattern {pattern:?}: {e}"))?;
                for f in files {
                    check_sd_file(&f).map_err(|e| format!("checking SD file {pattern:?} (job {job:?}): {e}"))?;
                }
            }
        }
    }
    for (i, am) in cfg.alerting.alertmanagers.iter().enumerate() {
        for fc in &am.file_sd_configs {
            for pattern in &fc.files {
                let files = glob_files(pattern).map_err(|e| format!("invalid file SD pattern {pattern:?}: {e}"))?;
                for f in files {
                    check_sd_file(&f).map_err(|e| format!("checking SD file {pattern:?} (alertmanagers[{i}]): {e}"))?;
                }
            }
        }
    }
    Ok(rule_files)
}

fn file_exists(path: &str) -> Result<(), std::io::Error> {
    if path.is_empty() {
        return Ok(());
    }
    std::fs::metadata(path).map(|_| ())
}

/// Files matching a glob, sorted (Go's `filepath.Glob` order).
fn glob_files(pattern: &str) -> Result<Vec<String>, glob::PatternError> {
    let mut out: Vec<String> =
        glob::glob(pattern)?.filter_map(|r| r.ok()).map(|p| p.to_string_lossy().into_owned()).collect();
    out.sort();
    Ok(out)
}

/// A file SD file must hold a list of target groups (`targets`, `labels`), in YAML or JSON.
fn check_sd_file(path: &str) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let lower = path.to_ascii_lowercase();
    if !(lower.ends_with(".json") || lower.ends_with(".yml") || lower.ends_with(".yaml")) {
        return Err(format!("invalid file extension: {path:?}"));
    }
    // JSON is YAML, so one parser reads both.
    let groups: Vec<StaticConfig> = serde_yaml_ng::from_str(&src).map_err(|e| e.to_string())?;
    for g in &groups {
        for t in &g.targets {
            crate::check_target_address(t)?;
        }
        if let Some(name) = g.labels.keys().find(|k| k.is_empty()) {
            return Err(format!("{name:?} is not a valid label name"));
        }
    }
    Ok(())
}
