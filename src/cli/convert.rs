//! `strata convert FILE --to postgres|sqlite`: a schema of one engine as a schema file of the
//! other, with the report of every choice, guess and omission on stderr (or `--report`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::snapshot::{write_output, OutputFormat};
use super::source::{read_schema, Source};
use crate::convert::{self, settle, Conversion, Report, POSTGRES_NAMESPACE};
use crate::engine::{self, InspectOptions};
use crate::error::{Error, Result};
use crate::schema::{EngineKind, Schema};
use crate::target::Target;

/// An engine to convert to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Postgres,
    Sqlite,
}

impl From<EngineArg> for EngineKind {
    fn from(engine: EngineArg) -> EngineKind {
        match engine {
            EngineArg::Postgres => EngineKind::Postgres,
            EngineArg::Sqlite => EngineKind::Sqlite,
        }
    }
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The schema to convert: a schema file (.yaml, .yml, .json), `-` for standard input, or a
    /// database (URL or SQLite file), which is inspected.
    pub file: String,
    /// The engine to convert to.
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub to: EngineArg,
    /// Write the converted schema to FILE instead of standard output (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format; defaults to the extension of --output, else yaml.
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the report to FILE instead of standard error.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the report as a JSON document (fields: from, to, validated, entries[] with object,
    /// kind, from, to, reason, severity).
    #[arg(long)]
    pub json: bool,
    /// Leave out objects that cannot be translated (each is named in the report); without it
    /// such a conversion is refused.
    #[arg(long)]
    pub allow_lossy: bool,
    /// Load the converted schema into this PostgreSQL database, in a scratch schema inside a
    /// transaction that is always rolled back, and write PostgreSQL's own spelling of every
    /// definition (what `snapshot` shows once it is applied). Conversions to SQLite are always
    /// validated, in a temporary database.
    #[arg(long, value_name = "DATABASE")]
    pub validate: Option<String>,
}

pub fn run(args: ConvertArgs) -> Result<ExitCode> {
    let to = EngineKind::from(args.to);
    let (source, _) = read_schema(&args.file, &InspectOptions::default())?;
    let conversion = match &args.validate {
        Some(database) if to == EngineKind::Postgres => {
            convert::check_direction(&source, to)?;
            let target = Target::parse(database)?;
            let mut server = engine::open(&target)?;
            settle::on_postgres(&source, server.as_mut(), &target.display(), None)?
        }
        Some(_) => {
            return Err(Error::Unsupported(
                "--validate applies to --to postgres; a conversion to SQLite is always \
                 validated in a temporary SQLite database"
                    .into(),
            ))
        }
        None => convert::convert(&source, to)?,
    };
    let Conversion { schema, report } = conversion;
    write_report(&report, args.report.as_deref(), args.json)?;
    report.check_lossless(args.allow_lossy)?;
    let format = args
        .format
        .unwrap_or_else(|| OutputFormat::of_path(args.output.as_deref()));
    write_output(args.output.as_deref(), &format.render(schema))?;
    Ok(ExitCode::from(super::exit::OK))
}

/// A SQLite schema compared with a PostgreSQL one is converted first (as `strata convert`
/// does), and when the PostgreSQL side is a live database, validated there in a rolled-back
/// scratch schema so that definitions compare in PostgreSQL's own spelling. The report goes
/// to stderr.
pub(super) fn compared_with(
    schema: Schema,
    other: &Schema,
    other_source: &Source,
) -> Result<Schema> {
    if schema.engine != EngineKind::Sqlite || other.engine != EngineKind::Postgres {
        return Ok(schema);
    }
    let conversion = match other_source {
        Source::Database(target) => {
            let mut server = engine::open(target)?;
            let public = other.schemas.iter().find(|s| s.name == POSTGRES_NAMESPACE);
            settle::on_postgres(&schema, server.as_mut(), &target.display(), public.cloned())?
        }
        Source::File => convert::convert(&schema, EngineKind::Postgres)?,
    };
    eprintln!("strata: converted the SQLite schema to PostgreSQL to compare them:");
    super::convert::write_report(&conversion.report, None, false)?;
    Ok(conversion.schema)
}

/// The report as text or JSON, to `path` or standard error. An unvalidated conversion to
/// PostgreSQL says what that means.
pub(super) fn write_report(
    report: &Report,
    path: Option<&std::path::Path>,
    json: bool,
) -> Result<()> {
    let mut text = if json {
        report.to_json()
    } else {
        report.to_text()
    };
    if !json && !report.validated {
        text.push_str(
            "note: not validated on a server — definitions are written as translated, and \
             PostgreSQL spells some of them differently once loaded; add --validate \
             postgres://… to prove the schema loads and write PostgreSQL's own spelling (which \
             `apply` and `drift` compare), or apply the SQLite schema directly (`strata apply \
             FILE --to postgres://…` converts on the fly)\n",
        );
    }
    match path {
        Some(path) => super::write_atomically(path, &text),
        None => {
            eprint!("{text}");
            Ok(())
        }
    }
}
