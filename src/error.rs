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
    #[error("{0}")]
    StepFailed(Box<StepFailure>),

    /// The user's safeguards stopped the command (hazards not allowed, stale plan, no TTY).
    #[error("{0}")]
    Refused(String),

    /// The backup repository failed (it names the repository and the object).
    #[error(transparent)]
    Repo(#[from] crate::repo::RepoError),

    /// Where the repository's bytes live failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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

/// Which step of a plan failed, how, and what was undone.
#[derive(Debug)]
pub struct StepFailure {
    pub target: String,
    pub number: usize,
    pub total: usize,
    pub reason: String,
    pub sql: String,
    pub cause: String,
    /// Says what was rolled back and what was not.
    pub rolled_back: String,
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: step {} of {} ({}) failed: {}{} — SQL: {}",
            self.target,
            self.number,
            self.total,
            self.reason,
            self.cause,
            self.rolled_back,
            self.sql
        )
    }
}
