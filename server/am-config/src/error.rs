//! The configuration error: what is wrong and where (file, line, column, YAML path). Messages of
//! checks that Alertmanager 0.25 also makes use Alertmanager's own words, so users can search
//! for them.

use std::fmt;

pub use oxeye_config::Position;

use crate::source::SourceMap;

/// What kind of problem a [`ConfigError`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The YAML is malformed, or a value has the wrong type or spelling.
    Syntax,
    /// A key that appears twice in one mapping.
    DuplicateKey,
    /// A field Alertmanager does not know.
    UnknownField,
    /// A field or integration Alertmanager knows that Oxeye does not support yet.
    Unsupported,
    /// A value that parses but breaks one of Alertmanager's rules.
    Invalid,
}

/// A configuration error with its location, displayed as `FILE:LINE:COL: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(Box<ConfigErrorDetail>);

/// The parts of a [`ConfigError`], reachable through `Deref` (`err.message`, `err.position`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrorDetail {
    /// The file name, or the origin given to `load_str`.
    pub file: String,
    pub position: Option<Position>,
    /// The YAML path of the offending value, e.g. `receivers[1].slack_configs[0].api_url`.
    pub path: String,
    pub kind: ErrorKind,
    /// The message without file and position.
    pub message: String,
}

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

impl ConfigError {
    pub(crate) fn io(file: &str, msg: String) -> ConfigError {
        ConfigErrorDetail {
            file: file.to_string(),
            position: None,
            path: String::new(),
            kind: ErrorKind::Io,
            message: msg,
        }
        .into()
    }

    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// An error found while validating, before it is given a file and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    pub path: String,
    pub kind: ErrorKind,
    pub message: String,
}

impl Issue {
    pub fn invalid(path: impl Into<String>, msg: impl Into<String>) -> Issue {
        Issue { path: path.into(), kind: ErrorKind::Invalid, message: msg.into() }
    }

    pub fn unsupported(path: impl Into<String>, msg: impl Into<String>) -> Issue {
        Issue { path: path.into(), kind: ErrorKind::Unsupported, message: msg.into() }
    }

    pub fn locate(self, file: &str, map: &SourceMap) -> ConfigError {
        ConfigErrorDetail {
            file: file.to_string(),
            position: map.position(&self.path),
            path: self.path,
            kind: self.kind,
            message: self.message,
        }
        .into()
    }
}

/// Turns a serde_yaml_ng error into a located `ConfigError`, telling unknown fields apart and
/// phrasing them as Alertmanager does (`field foo not found in ...`).
pub(crate) fn from_serde(file: &str, map: &SourceMap, err: &serde_yaml_ng::Error) -> ConfigError {
    let position = err.location().map(|l| Position { line: l.line(), column: l.column() });
    let mut text = err.to_string();
    if let Some(p) = position {
        let suffix = format!(" at line {} column {}", p.line, p.column);
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text = stripped.to_string();
        }
    }
    let (path, message) = match text.split_once(": ") {
        Some((head, tail)) if !head.is_empty() && head.chars().all(|c| c.is_alphanumeric() || "_.[]-".contains(c)) => {
            (head.to_string(), tail.to_string())
        }
        _ => (String::new(), text),
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default().to_string();
        let full = if path.is_empty() { field.clone() } else { format!("{path}.{field}") };
        let section = if path.is_empty() { "the top level".to_string() } else { path.clone() };
        return ConfigErrorDetail {
            file: file.to_string(),
            position: map.exact_position(&full).or(position),
            path: full,
            kind: ErrorKind::UnknownField,
            message: format!("field {field} not found in {section}"),
        }
        .into();
    }
    // Errors raised inside a value's own Deserialize (durations, URLs, regexes) carry the path
    // of the enclosing mapping; the key whose value the message quotes is more useful.
    let path = map.child_with_value_in(&path, &message).unwrap_or(path);
    ConfigErrorDetail {
        file: file.to_string(),
        position: map.exact_position(&path).or(position),
        path,
        kind: ErrorKind::Syntax,
        message,
    }
    .into()
}
