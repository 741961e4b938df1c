//! The one error type of this crate: what was wrong and on which line of the scrape body.

/// A parse failure: the 1-based line of the body and what was wrong there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub kind: ErrorKind,
}

/// What was wrong. The strings quote the offending text (truncated to keep errors small).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("body is not valid UTF-8")]
    InvalidUtf8,
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("invalid metric name {0:?}")]
    InvalidMetricName(String),
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
    #[error("duplicate label name {0:?}")]
    DuplicateLabel(String),
    #[error("invalid value {0:?}")]
    InvalidValue(String),
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    #[error("invalid metric type {0:?}")]
    InvalidType(String),
    #[error("invalid exemplar: {0}")]
    InvalidExemplar(String),
    #[error("missing \"# EOF\" at the end of an OpenMetrics body")]
    MissingEof,
    #[error("content after \"# EOF\"")]
    AfterEof,
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Quotes at most 64 bytes of `s` (on a char boundary) for an error message.
pub(crate) fn excerpt(s: &str) -> String {
    if s.len() <= 64 {
        return s.to_string();
    }
    let mut end = 64;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
