//! The configuration error: what is wrong, in which file, at which line and column, in which
//! scrape job. Messages of checks that Prometheus also makes are Prometheus's own words.

use std::fmt;

use crate::source::{Position, SourceMap, parent};

/// What kind of problem a [`ConfigError`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io(String),
    /// The YAML is malformed, or a value has the wrong type or spelling.
    Syntax(String),
    /// A field neither Prometheus nor Oxeye knows. `section` is the path of the enclosing block.
    UnknownField { field: String, section: String },
    /// A field Prometheus knows that Oxeye does not support yet.
    Unsupported { field: String, section: String },
    /// A value that parses but breaks a rule (Prometheus's validation messages).
    Invalid(String),
}

/// A configuration error with its location. Displays as
/// `FILE:LINE:COL: MESSAGE (job "NAME")`. The details are boxed to keep `Result`s small; the
/// fields of [`ConfigErrorDetail`] are reachable directly (`err.kind`, `err.job`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(Box<ConfigErrorDetail>);

impl std::ops::Deref for ConfigError {
    type Target = ConfigErrorDetail;
    fn deref(&self) -> &ConfigErrorDetail {
        &self.0
    }
}

impl From<ConfigErrorDetail> for ConfigError {
    fn from(d: ConfigErrorDetail) -> Self {
        ConfigError(Box::new(d))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrorDetail {
    /// The file name, or the origin given to `load_str`.
    pub file: String,
    pub position: Option<Position>,
    /// The YAML path of the offending value, e.g. `scrape_configs[1].scrape_timeout`.
    pub path: String,
    /// The job name of the scrape config the error lies in.
    pub job: Option<String>,
    pub kind: ErrorKind,
}

pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

impl ConfigErrorDetail {
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// The message without file and position.
    pub fn message(&self) -> String {
        match &self.kind {
            ErrorKind::Io(m) | ErrorKind::Syntax(m) | ErrorKind::Invalid(m) => m.clone(),
            ErrorKind::UnknownField { field, section } => {
                format!("field {field} not found in {}", section_name(section))
            }
            ErrorKind::Unsupported { field, section } => {
                format!("field {field} (in {}) is not supported by Oxeye yet", section_name(section))
            }
        }
    }
}

fn section_name(section: &str) -> String {
    if section.is_empty() { "the top level".to_string() } else { section.to_string() }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        write!(f, ": {}", self.message())?;
        if let Some(job) = &self.job {
            write!(f, " (job {job:?})")?;
        }
        Ok(())
    }
}

/// An error found while validating, before it is given a file and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    pub path: String,
    pub kind: ErrorKind,
}

impl Issue {
    pub fn invalid(path: impl Into<String>, msg: impl Into<String>) -> Issue {
        Issue { path: path.into(), kind: ErrorKind::Invalid(msg.into()) }
    }

    pub fn unsupported(section: &str, field: &str) -> Issue {
        let path = if section.is_empty() { field.to_string() } else { format!("{section}.{field}") };
        Issue { path, kind: ErrorKind::Unsupported { field: field.to_string(), section: section.to_string() } }
    }

    /// Attaches file, position and job using the source.
    pub fn locate(self, file: &str, src: &str, map: &mut Option<SourceMap>) -> ConfigError {
        let map = map.get_or_insert_with(|| SourceMap::new(src));
        ConfigErrorDetail {
            file: file.to_string(),
            position: map.position(&self.path),
            job: map.job_name(&self.path).filter(|j| !j.is_empty()).map(str::to_string),
            path: self.path,
            kind: self.kind,
        }
        .into()
    }
}

/// Turns a serde_yaml_ng error into a located `ConfigError`, telling unknown fields apart.
pub(crate) fn from_serde(file: &str, src: &str, err: &serde_yaml_ng::Error) -> ConfigError {
    let parts = crate::source::split_serde_error(err);
    let map = SourceMap::new(src);
    let mut job = map.job_name(&parts.path).map(str::to_string);
    let (kind, path) = if let Some(rest) = parts.message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default().to_string();
        let path = if parts.path.is_empty() { field.clone() } else { format!("{}.{field}", parts.path) };
        (ErrorKind::UnknownField { field, section: parts.path.clone() }, path)
    } else {
        // Errors raised inside a value's own Deserialize (bad durations, sizes, regexes) carry
        // the path of the enclosing mapping; the message quotes the value, which finds the field.
        let path = map.child_with_value_in(&parts.path, &parts.message).unwrap_or(parts.path);
        (ErrorKind::Syntax(parts.message), path)
    };
    if job.is_none() {
        job = parent(&path).and_then(|p| map.job_name(p)).map(str::to_string);
    }
    // serde_yaml_ng places errors raised inside a value's Deserialize (bad durations, sizes,
    // regexes) at the enclosing mapping; the key's own position is more useful.
    let position = map.exact_position(&path).or(parts.position);
    ConfigErrorDetail { file: file.to_string(), position, path, job: job.filter(|j| !j.is_empty()), kind }.into()
}
