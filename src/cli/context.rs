//! What every subcommand may consult besides its arguments: the project file (`strata.toml`),
//! found once per run, so that environment names work wherever a database is expected.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::project::Project;
use crate::target::Target;

static PROJECT: OnceLock<Option<Project>> = OnceLock::new();
static EXPLICIT: OnceLock<Option<PathBuf>> = OnceLock::new();
/// The environments this run resolved: (the database as printed, the environment's name), so
/// that a failure to reach the database can name the environment.
static RESOLVED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Records `--config` (or `STRATA_CONFIG`); the file itself is read on first use, so commands
/// that need no project never fail because of a broken one.
pub fn set_config(path: Option<PathBuf>) {
    let _ = EXPLICIT.set(path);
}

/// The project for this run, if there is one.
pub fn project() -> Result<Option<&'static Project>> {
    if let Some(project) = PROJECT.get() {
        return Ok(project.as_ref());
    }
    let explicit = EXPLICIT.get().cloned().flatten();
    let start = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let project = Project::discover(explicit.as_deref(), &start)?;
    Ok(PROJECT.get_or_init(|| project).as_ref())
}

/// The database an argument names: an environment of the project, a URL or a SQLite file.
pub fn database(arg: &str) -> Result<Target> {
    if looks_like_environment_name(arg) {
        if let Some(project) = project()? {
            if let Some(environment) = project.environment(arg) {
                let target = environment.target()?;
                if let Ok(mut resolved) = RESOLVED.lock() {
                    resolved.push((target.display(), environment.name.clone()));
                }
                return Ok(target);
            }
        }
    }
    Target::parse(arg).map_err(|e| match e {
        Error::BadTarget { input, reason } if looks_like_environment_name(arg) => {
            Error::BadTarget {
                input,
                reason: format!("{reason}; {}", unknown_environment(arg)),
            }
        }
        other => other,
    })
}

/// Names the environment in an error about a database this run reached through one (`could
/// not connect to environment 'prod' (postgres://…)`), so the user knows which entry of
/// strata.toml to check.
pub fn name_environment(error: Error) -> Error {
    let named = |target: String| -> String {
        let resolved = RESOLVED.lock().map(|r| r.clone()).unwrap_or_default();
        match resolved.iter().find(|(display, _)| *display == target) {
            Some((_, name)) => format!("environment '{name}' ({target})"),
            None => target,
        }
    };
    match error {
        Error::Connect {
            target,
            cause,
            hint,
        } => Error::Connect {
            target: named(target),
            cause,
            hint,
        },
        Error::Query {
            target,
            what,
            cause,
        } => Error::Query {
            target: named(target),
            what,
            cause,
        },
        other => other,
    }
}

/// The project's schema file, for commands whose FILE argument may be left out.
pub fn schema_file() -> Result<PathBuf> {
    let project = project()?.ok_or_else(|| {
        Error::Refused(
            "no schema file given and no strata.toml found — name the file, or create a \
             project file with `strata init-project`"
                .into(),
        )
    })?;
    project.schema.clone().ok_or_else(|| {
        Error::Refused(format!(
            "no schema file given and {} sets no `schema = \"…\"`",
            project.path.display()
        ))
    })
}

fn unknown_environment(name: &str) -> String {
    match PROJECT.get().and_then(|p| p.as_ref()) {
        Some(project) if project.environments.is_empty() => {
            format!("{} defines no environments", project.path.display())
        }
        Some(project) => format!(
            "{} defines no environment '{name}' (it has: {})",
            project.path.display(),
            project
                .environments
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("no strata.toml found to define an environment '{name}'"),
    }
}

/// A bare word (no path separator, no extension, no URL scheme) may be an environment name.
fn looks_like_environment_name(arg: &str) -> bool {
    !arg.is_empty() && !arg.contains(['/', '\\', '.', ':']) && !Path::new(arg).exists()
}
