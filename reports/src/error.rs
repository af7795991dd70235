//! Errors of reading and writing reports.

use std::path::PathBuf;

/// What went wrong reading or writing a report. Every variant names the file, and the line when
/// there is one.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of a results file is not a valid record.
    #[error("{path}:{line}: not a valid record: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The results file has no line at all.
    #[error("{path}: empty results file (expected a header line)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The results file is of a format version this tool does not read.
    #[error(
        "{path}:{line}: results format version {found} is not supported \
         (this cdevents-conformance reads version {supported})"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The version found.
        found: u64,
        /// The version supported.
        supported: u32,
    },
    /// The records are not in the order header, cases and observations, summary.
    #[error("{path}:{line}: {what}")]
    Structure {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is out of place.
        what: String,
    },
    /// Serializing a record or report failed.
    #[error("cannot serialize the report: {0}")]
    Serialize(#[from] serde_json::Error),
    /// Serializing the JUnit XML failed.
    #[error("cannot serialize the JUnit report: {0}")]
    Junit(#[from] quick_junit::SerializeError),
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}
