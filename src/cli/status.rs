//! `strata status`: every environment of the project — reachable, schema hash, drift against
//! the schema file, last backup and its age. Exit 0 when all are reachable and in sync, 1
//! otherwise.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::status::{self, human_age, EnvironmentStatus};

use super::password::{open_repository, PasswordArgs};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the report as JSON: {"project", "schema_file", "schema_hash", "repository",
    /// "environments": [{"name", "database", "reachable", "error", "schema_hash", "drift",
    /// "summary", "drift_error", "last_backup": {"id", "time", "age_seconds", "kind"}}]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatusArgs) -> Result<ExitCode> {
    let project = super::context::project()?.ok_or_else(|| {
        Error::Refused(
            "no strata.toml found in this directory or above — create one with `strata \
             init-project`, or point to it with --config"
                .into(),
        )
    })?;
    let repository = project.repo.as_ref().map(|settings| {
        // The project's password source; without one, STRATA_PASSWORD or a prompt.
        let password = PasswordArgs {
            password_file: settings.password_file.clone(),
            password_command: settings.password_command.clone(),
            identity: None,
        };
        open_repository(&settings.location, &password).map_err(|e| e.to_string())
    });
    let report = status::status(
        project,
        repository
            .as_ref()
            .map(|r| r.as_ref().map_err(|e| e.clone())),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    } else {
        print_table(&report);
    }
    Ok(ExitCode::from(if report.all_in_sync() {
        super::exit::OK
    } else {
        super::exit::DIFFERENCES
    }))
}

fn print_table(report: &status::StatusReport) {
    println!("project  {}", report.project);
    match (&report.schema_file, &report.schema_hash) {
        (Some(file), Some(hash)) => println!("schema   {file} ({})", &hash[..12]),
        _ => println!("schema   (none: set `schema = \"…\"` to compare environments with it)"),
    }
    match (&report.repository, &report.repository_error) {
        (Some(location), None) => println!("backups  {location}"),
        (Some(location), Some(error)) => println!("backups  {location} — unreadable: {error}"),
        (None, _) => println!("backups  (no repository configured)"),
    }
    if report.environments.is_empty() {
        println!("\nno environments: add [env.NAME] sections with a url");
        return;
    }
    println!(
        "\n{:<12} {:<13} {:<40} LAST BACKUP",
        "ENV", "SCHEMA", "DRIFT"
    );
    for env in &report.environments {
        println!(
            "{:<12} {:<13} {:<40} {}",
            env.name,
            env.schema_hash
                .as_deref()
                .map(|h| h[..12].to_string())
                .unwrap_or_else(|| "-".into()),
            drift_cell(env),
            backup_cell(env)
        );
        if let Some(error) = &env.error {
            println!("{:<12} unreachable: {error}", "");
        }
        if let Some(error) = &env.drift_error {
            println!("{:<12} not compared: {error}", "");
        }
    }
}

fn drift_cell(env: &EnvironmentStatus) -> String {
    match (&env.drift, &env.summary) {
        (Some(false), _) => "in sync".into(),
        (Some(true), Some(summary)) => summary.to_string(),
        _ if !env.reachable => "unreachable".into(),
        _ if env.drift_error.is_some() => "not compared".into(),
        _ => "-".into(),
    }
}

fn backup_cell(env: &EnvironmentStatus) -> String {
    match &env.last_backup {
        Some(b) => format!(
            "{} {} ({} ago)",
            &b.id[..8.min(b.id.len())],
            b.time,
            human_age(b.age_seconds)
        ),
        None => "never".into(),
    }
}
