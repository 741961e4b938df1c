//! The crate's error type. Every error that comes from reading disk names the file and, where it
//! applies, the byte offset, so a corrupt block or WAL segment can be found and removed by hand.

use std::path::PathBuf;

/// Errors from the TSDB.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: corrupt data at offset {offset}: {reason}")]
    Corrupt { path: PathBuf, offset: u64, reason: String },
    #[error("database directory {0} is locked by another process (lock file held)")]
    Locked(PathBuf),
    #[error("{path}: invalid meta.json: {source}")]
    Meta { path: PathBuf, source: serde_json::Error },
    #[error("the database is closed")]
    Closed,
}

/// Result alias for the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corrupt { path: path.into(), offset, reason: reason.into() }
    }
}

impl From<Error> for oxeye_model::StorageError {
    fn from(e: Error) -> Self {
        match e {
            Error::Corrupt { .. } => oxeye_model::StorageError::Corruption(e.to_string()),
            Error::Io { .. } => oxeye_model::StorageError::Io(e.to_string()),
            other => oxeye_model::StorageError::Other(other.to_string()),
        }
    }
}
