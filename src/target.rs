//! Naming a database: a `postgres://` / `postgresql://` URL, `sqlite:PATH`, or the path of an
//! existing SQLite file. Parsing never touches the network or creates files.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A database the user named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A PostgreSQL connection URL, exactly as given (it may hold a password; see
    /// [`Target::display`] for a printable form).
    Postgres(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
}

/// The 16-byte header every SQLite 3 database file starts with.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

impl Target {
    /// Interprets a DATABASE argument.
    pub fn parse(input: &str) -> Result<Target> {
        let bad = |reason: &str| Error::BadTarget {
            input: redact_url(input),
            reason: reason.to_string(),
        };
        if input.starts_with("postgres://") || input.starts_with("postgresql://") {
            return Ok(Target::Postgres(input.to_string()));
        }
        if let Some(rest) = input.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad(
                    "sqlite: URL without a path — use sqlite:PATH/TO/FILE.db",
                ));
            }
            return Ok(Target::Sqlite(PathBuf::from(path)));
        }
        if input.contains("://") {
            let scheme = input.split("://").next().unwrap_or_default();
            return Err(bad(&format!(
                "unsupported database URL scheme '{scheme}' — use postgres://, postgresql:// or sqlite:PATH"
            )));
        }
        let path = Path::new(input);
        if path.exists() {
            return Ok(Target::Sqlite(path.to_path_buf()));
        }
        Err(bad(
            "no such file, and not a database URL — use postgres://… or sqlite:PATH for a SQLite file",
        ))
    }

    /// A form safe to print: passwords removed.
    pub fn display(&self) -> String {
        match self {
            Target::Postgres(url) => redact_url(url),
            Target::Sqlite(path) => format!("sqlite:{}", path.display()),
        }
    }
}

/// Checks that `path` is an existing SQLite database file, without creating anything.
pub fn check_sqlite_file(path: &Path) -> Result<()> {
    use std::io::Read;
    let display = format!("sqlite:{}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " — check the path (strata never creates a database it was asked to read)"
        } else {
            ""
        };
        Error::Connect {
            target: display.clone(),
            cause: e.to_string(),
            hint: hint.to_string(),
        }
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::Connect {
            target: display,
            cause: "is a directory".into(),
            hint: " — name a SQLite database file".into(),
        });
    }
    let mut header = [0u8; 16];
    let read = file.read(&mut header).map_err(|e| Error::io(path, e))?;
    // An empty file is a valid, empty SQLite database.
    if read != 0 && (read < 16 || &header != SQLITE_HEADER) {
        return Err(Error::Connect {
            target: display,
            cause: "file is not a SQLite database".into(),
            hint: " — check the path".into(),
        });
    }
    Ok(())
}

/// Replaces the password of a URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let tail = redact_query(tail);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return format!("{scheme}://{authority}{tail}");
    };
    let user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => userinfo.to_string(),
    };
    format!("{scheme}://{user}@{host}{tail}")
}

/// A URL's path and query with the value of a `password=` parameter replaced by `***`
/// (libpq accepts the password there too).
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => parameter.to_string(),
        })
        .collect();
    format!("{path}?{}", parameters.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_but_keeps_user_host_and_database() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/app?sslmode=require"),
            "postgres://app:***@db.example:5432/app?sslmode=require"
        );
        assert_eq!(redact_url("postgres://db/app"), "postgres://db/app");
        assert_eq!(
            redact_url("postgres://app@db/app?sslmode=require&password=s3cret"),
            "postgres://app@db/app?sslmode=require&password=***"
        );
    }

    #[test]
    fn sqlite_url_forms_name_a_path() {
        assert_eq!(
            Target::parse("sqlite:dev.db").unwrap(),
            Target::Sqlite(PathBuf::from("dev.db"))
        );
        assert_eq!(
            Target::parse("sqlite:///tmp/x.db").unwrap(),
            Target::Sqlite(PathBuf::from("/tmp/x.db"))
        );
    }

    #[test]
    fn unknown_scheme_and_missing_file_are_errors() {
        assert!(Target::parse("mysql://x/y").is_err());
        assert!(Target::parse("/definitely/not/here.db").is_err());
    }
}
