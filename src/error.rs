//! The library's error type. Every variant names what failed and, where one exists, what the
//! user can do about it; the binary prints it on one line and exits with code 2.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database argument that is neither a URL nor an existing SQLite file.
    #[error("{input}: {reason}")]
    BadTarget { input: String, reason: String },

    /// Could not open or connect to a database.
    #[error("could not connect to {target}: {cause}{hint}")]
    Connect {
        target: String,
        cause: String,
        /// Starts with " — " when present.
        hint: String,
    },

    /// A query against a live database failed.
    #[error("{target}: {what} failed: {cause}")]
    Query {
        target: String,
        what: String,
        cause: String,
    },

    /// A schema file could not be parsed or failed validation.
    #[error("{}", schema_file_message(path, *line, *column, message))]
    SchemaFile {
        path: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A request the engine cannot satisfy (e.g. an option that does not apply to it).
    #[error("{0}")]
    Unsupported(String),

    /// A plan step failed on the server; everything in the transaction was rolled back.
    #[error("{target}: step {number} of {total} ({reason}) failed: {cause}{rolled_back} — SQL: {sql}")]
    StepFailed {
        target: String,
        number: usize,
        total: usize,
        reason: String,
        sql: String,
        cause: String,
        /// Says what was rolled back and what was not.
        rolled_back: String,
    },

    /// The user's safeguards stopped the command (hazards not allowed, stale plan, no TTY).
    #[error("{0}")]
    Refused(String),
}

fn schema_file_message(
    path: &str,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{path}:{l}:{c}: {message}"),
        (Some(l), None) => format!("{path}:{l}: {message}"),
        _ => format!("{path}: {message}"),
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
