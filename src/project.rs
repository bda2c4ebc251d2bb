//! The project file, `strata.toml`: where a team writes down, once, its schema file, its
//! backup repository and the databases it runs (named environments), so that every command can
//! say `prod` instead of a URL.
//!
//! The file is found by walking up from the working directory (or given with `--config` /
//! `STRATA_CONFIG`). Values may reference environment variables (`${NAME}`,
//! `${NAME:-default}`), which is how secrets reach Strata: a literal password in a database URL
//! is refused, so the file can be committed. A variable is resolved only when its environment is
//! used, so `strata status` can report one unreachable environment and go on with the others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::target::{redact_url, Target};

/// The project file's name.
pub const FILE_NAME: &str = "strata.toml";

/// A loaded project file.
#[derive(Debug, Clone)]
pub struct Project {
    /// The file it was read from.
    pub path: PathBuf,
    /// The schema file, resolved against the project file's directory.
    pub schema: Option<PathBuf>,
    pub repo: Option<RepoSettings>,
    /// Environments by name, in name order.
    pub environments: BTreeMap<String, Environment>,
    /// The `[sanitize]` section, read by the sanitizer.
    pub sanitize: Option<toml::Value>,
}

/// The backup repository the project uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSettings {
    /// A directory (resolved against the project file's directory) or an object-storage URL.
    pub location: String,
    /// Where the repository's password comes from, when not from `STRATA_PASSWORD`.
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
}

/// A named database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// The URL as written, `${…}` references unresolved.
    pub url: String,
    /// The project file's directory: a relative SQLite path is relative to it, so the
    /// environment means the same database from any working directory.
    pub base: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    schema: Option<String>,
    repo: Option<RepoFile>,
    #[serde(default)]
    env: BTreeMap<String, EnvironmentFile>,
    sanitize: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RepoFile {
    Location(String),
    Table(RepoTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoTable {
    location: String,
    password_file: Option<String>,
    password_command: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentFile {
    url: String,
}

impl Project {
    /// The project file for this run: `explicit` (from `--config` or `STRATA_CONFIG`) if given,
    /// else the first `strata.toml` found walking up from `start`. `None` when there is none.
    pub fn discover(explicit: Option<&Path>, start: &Path) -> Result<Option<Project>> {
        if let Some(path) = explicit {
            return Project::load(path).map(Some);
        }
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Project::load(&candidate).map(Some);
            }
        }
        Ok(None)
    }

    /// Reads and checks a project file.
    pub fn load(path: &Path) -> Result<Project> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Project::parse(&text, path)
    }

    /// Parses project-file text; `path` locates relative paths and names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Project> {
        let file: ProjectFile = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_and_column(text, span.start))
                .unzip();
            Error::SchemaFile {
                path: path.display().to_string(),
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let invalid = |message: String| Error::SchemaFile {
            path: path.display().to_string(),
            line: None,
            column: None,
            message,
        };
        let mut environments = BTreeMap::new();
        for (name, env) in file.env {
            if !is_environment_name(&name) {
                return Err(invalid(format!(
                    "environment name '{name}' must be letters, digits, '-' or '_' and start \
                     with a letter"
                )));
            }
            if let Some(problem) = literal_secret(&env.url) {
                return Err(invalid(format!(
                    "env.{name}.url {problem} — reference an environment variable instead \
                     (url = \"${{{}_DATABASE_URL}}\") or use ~/.pgpass, so the file can be \
                     committed",
                    name.to_uppercase().replace('-', "_")
                )));
            }
            environments.insert(
                name.clone(),
                Environment {
                    name,
                    url: env.url,
                    base: base.to_path_buf(),
                },
            );
        }
        let repo = file.repo.map(|repo| {
            let table = match repo {
                RepoFile::Location(location) => RepoTable {
                    location,
                    password_file: None,
                    password_command: None,
                },
                RepoFile::Table(table) => table,
            };
            RepoSettings {
                location: resolve_location(base, &table.location),
                password_file: table.password_file.map(|p| base.join(expand_home(&p))),
                password_command: table.password_command,
            }
        });
        Ok(Project {
            path: path.to_path_buf(),
            schema: file.schema.map(|s| base.join(s)),
            repo,
            environments,
            sanitize: file.sanitize,
        })
    }

    /// The environment called `name`, if the project has one.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.get(name)
    }
}

impl Environment {
    /// The database this environment names, with `${…}` references resolved from the process
    /// environment.
    pub fn target(&self) -> Result<Target> {
        let url = interpolate(&self.url).map_err(|reason| Error::BadTarget {
            input: format!("environment '{}'", self.name),
            reason,
        })?;
        let relative_sqlite = url
            .strip_prefix("sqlite:")
            .map(|p| p.strip_prefix("//").unwrap_or(p))
            .or((!url.contains("://")).then_some(url.as_str()))
            .filter(|p| Path::new(p).is_relative());
        let url = match relative_sqlite {
            Some(path) => format!("sqlite:{}", self.base.join(path).display()),
            None => url.clone(),
        };
        Target::parse(&url).map_err(|e| match e {
            Error::BadTarget { input, reason } => Error::BadTarget {
                input: format!("environment '{}' ({input})", self.name),
                reason,
            },
            other => other,
        })
    }
}

/// Replaces `${NAME}` and `${NAME:-default}` with environment variables; `$$` is a literal `$`.
pub fn interpolate(text: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unterminated ${{…}} in '{}'", redact_url(text)))?;
            let reference = &body[..end];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            if !is_variable_name(name) {
                return Err(format!("'${{{reference}}}' is not a variable reference"));
            }
            match (std::env::var(name), default) {
                (Ok(value), _) if !value.is_empty() => out.push_str(&value),
                (_, Some(default)) => out.push_str(default),
                _ => {
                    return Err(format!(
                        "environment variable {name} is not set — export it (e.g. in CI \
                         secrets) or give a default with ${{{name}:-…}}"
                    ))
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Why a URL as written holds a secret, if it does: a password in its user-info part.
fn literal_secret(url: &str) -> Option<&'static str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    let is_reference = password.starts_with("${") && password.ends_with('}');
    (!password.is_empty() && !is_reference).then_some("holds a password")
}

fn resolve_location(base: &Path, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    base.join(expand_home(location)).display().to_string()
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

fn is_environment_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_variable_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

/// A commented starter file for `strata init-project`.
pub fn starter_file(schema: &str, repo: &str, local_url: &str) -> String {
    format!(
        r#"# Strata project file: found by every strata command run in this directory or below.
# Commit it: secrets never go here — reference environment variables with ${{NAME}}
# (or ${{NAME:-default}}); a literal password in a URL is refused.

# The schema file `strata drift`, `strata apply` and `strata status` compare against.
schema = "{schema}"

# The backup repository: a directory (relative to this file) or s3://, gs:// or az://bucket/prefix.
# Its password comes from STRATA_PASSWORD, or from one of these:
[repo]
location = "{repo}"
# password_file = "~/.config/strata/password"
# password_command = "pass show strata/repo"

# Named databases: use the name wherever a command takes a database
# (`strata drift prod`, `strata diff staging prod`, `strata backup prod`).
[env.local]
url = "{local_url}"

# [env.staging]
# url = "${{STAGING_DATABASE_URL}}"

# [env.prod]
# url = "${{PROD_DATABASE_URL}}"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Project> {
        Project::parse(text, Path::new("/srv/app/strata.toml"))
    }

    #[test]
    fn paths_resolve_against_the_project_directory() {
        let project = parse(
            "schema = \"db/schema.yaml\"\nrepo = \"backups\"\n[env.local]\nurl = \"sqlite:dev.db\"\n",
        )
        .unwrap();
        assert_eq!(
            project.schema,
            Some(PathBuf::from("/srv/app/db/schema.yaml"))
        );
        assert_eq!(project.repo.unwrap().location, "/srv/app/backups");
        assert_eq!(project.environments["local"].url, "sqlite:dev.db");
    }

    #[test]
    fn object_storage_locations_are_kept_as_urls() {
        let project = parse("[repo]\nlocation = \"s3://bucket/app\"\n").unwrap();
        assert_eq!(project.repo.unwrap().location, "s3://bucket/app");
    }

    #[test]
    fn literal_passwords_are_refused_and_references_accepted() {
        let error = parse("[env.prod]\nurl = \"postgres://app:hunter2@db/app\"\n").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("env.prod.url holds a password"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        parse("[env.prod]\nurl = \"postgres://app:${PGPASS_PROD}@db/app\"\n").unwrap();
        parse("[env.prod]\nurl = \"postgres://app@db/app\"\n").unwrap();
    }

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let error = parse("schema = \"s.yaml\"\nrepos = \"x\"\n").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("/srv/app/strata.toml:2:"), "{message}");
    }

    #[test]
    fn interpolation_reads_variables_defaults_and_escapes() {
        std::env::set_var("STRATA_TEST_PROJECT_URL", "postgres://h/db");
        assert_eq!(
            interpolate("${STRATA_TEST_PROJECT_URL}").unwrap(),
            "postgres://h/db"
        );
        assert_eq!(
            interpolate("${STRATA_TEST_PROJECT_UNSET:-sqlite:x.db}").unwrap(),
            "sqlite:x.db"
        );
        assert_eq!(interpolate("a$$b").unwrap(), "a$b");
        let error = interpolate("${STRATA_TEST_PROJECT_UNSET}").unwrap_err();
        assert!(
            error.contains("STRATA_TEST_PROJECT_UNSET is not set"),
            "{error}"
        );
        assert!(interpolate("${not-a-name}").is_err());
        assert!(interpolate("${OPEN").is_err());
    }

    #[test]
    fn the_starter_file_parses() {
        let text = starter_file("schema.yaml", "backups", "sqlite:dev.db");
        let project = parse(&text).unwrap();
        assert_eq!(project.environments.len(), 1);
        assert!(project.repo.is_some());
    }

    #[test]
    fn discovery_walks_up_from_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "schema = \"s.yaml\"\n").unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let found = Project::discover(None, &nested).unwrap().unwrap();
        assert_eq!(found.path, dir.path().join(FILE_NAME));
        let none = tempfile::tempdir().unwrap();
        assert!(Project::discover(None, none.path()).unwrap().is_none());
    }
}
