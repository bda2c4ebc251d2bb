//! `strata snapshot`: inspect a database (or read a schema file) and print the canonical
//! schema file, or DDL that recreates it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::engine::{self, InspectOptions};
use crate::error::{Error, Result};
use crate::schema::file::FileFormat;
use crate::schema::Schema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The canonical schema file in YAML (default).
    Yaml,
    /// The same model in JSON.
    Json,
    /// Deterministic DDL that recreates the schema on an empty database.
    Sql,
}

impl OutputFormat {
    /// The format an output file's extension names (`.json`, `.sql`), else YAML.
    pub(super) fn of_path(path: Option<&Path>) -> OutputFormat {
        match path.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
            Some("json") => OutputFormat::Json,
            Some("sql") => OutputFormat::Sql,
            _ => OutputFormat::Yaml,
        }
    }

    /// A schema in this format.
    pub(super) fn render(self, schema: Schema) -> String {
        match self {
            OutputFormat::Yaml => schema.into_text(FileFormat::Yaml),
            OutputFormat::Json => schema.into_text(FileFormat::Json),
            OutputFormat::Sql => engine::render_sql(&schema),
        }
    }
}

/// Writes `text` to `path` atomically, or to standard output.
pub(super) fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => super::write_atomically(path, text),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::io("<stdout>", e))
        }
    }
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The database: postgres://… or postgresql://… URL (PG* environment variables fill the
    /// gaps), sqlite:PATH, or the path of an existing SQLite file. A schema file (.yaml, .yml,
    /// .json) is also accepted, to re-render it (e.g. as SQL).
    pub database: String,

    /// Write to FILE instead of standard output (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Output format; defaults to the extension of --output, else yaml.
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,

    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Only this schema (repeatable). Default: every schema except the system ones.
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,

    /// Leave out tables and views matching PATTERN (`*` and `?` wildcards; matched against
    /// `name` and `schema.name`; repeatable).
    #[arg(long = "exclude-table", value_name = "PATTERN")]
    pub exclude_tables: Vec<String>,

    /// Record object owners.
    #[arg(long)]
    pub with_owners: bool,

    /// Record grants (privileges).
    #[arg(long)]
    pub with_privileges: bool,
}

pub fn run(args: SnapshotArgs) -> Result<ExitCode> {
    let format = args.output_format();
    let schema = read_schema(&args)?;
    let text = format.render(schema);
    write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::from(super::exit::OK))
}

impl SnapshotArgs {
    fn output_format(&self) -> OutputFormat {
        if self.json {
            return OutputFormat::Json;
        }
        if let Some(f) = self.format {
            return f;
        }
        OutputFormat::of_path(self.output.as_deref())
    }

    fn inspect_options(&self) -> InspectOptions {
        InspectOptions {
            schemas: self.schemas.clone(),
            exclude_tables: self.exclude_tables.clone(),
            with_owners: self.with_owners,
            with_privileges: self.with_privileges,
        }
    }
}

/// A live database is inspected; a schema file is loaded (filters do not apply to files).
fn read_schema(args: &SnapshotArgs) -> Result<Schema> {
    let path = std::path::Path::new(&args.database);
    let is_schema_file = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    ) && path.is_file();
    if is_schema_file {
        return Schema::load(path);
    }
    let target = super::context::database(&args.database)?;
    let (schema, notes) = engine::inspect(&target, &args.inspect_options())?;
    for note in notes {
        eprintln!("strata: note: {note}");
    }
    Ok(schema)
}
