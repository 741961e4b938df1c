//! The crate's one error type. Scrape failures are not errors of this type: they are recorded on
//! the target (`last_error`, `up` = 0) because a failing target is normal operation.

use std::path::PathBuf;

/// What went wrong outside a scrape: reading discovery files, building HTTP clients from a job's
/// auth and TLS settings, or applying a configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing target file {path}: {message}")]
    TargetFile { path: PathBuf, message: String },
    #[error("invalid file_sd pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("job {job:?}: building the HTTP client: {message}")]
    HttpClient { job: String, message: String },
    #[error("job {job:?}: {message}")]
    Job { job: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
