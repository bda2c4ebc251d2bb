//! Reading a schema from what the user named: a schema file (`.yaml`, `.yml`, `.json`), `-`
//! for standard input, or a live database (URL, SQLite file or an environment of the project)
//! which is inspected.

use std::io::Read;
use std::path::Path;

use crate::engine::{self, InspectOptions};
use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::target::Target;

/// Where a schema came from.
pub enum Source {
    File,
    Database(Target),
}

/// Reads the schema `arg` names; notes about uncovered objects go to stderr.
pub fn read_schema(arg: &str, options: &InspectOptions) -> Result<(Schema, Source)> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("<stdin>", e))?;
        return Ok((Schema::parse(&text, "<stdin>")?, Source::File));
    }
    let path = Path::new(arg);
    let is_schema_file = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    );
    if is_schema_file {
        if !path.is_file() {
            return Err(Error::BadTarget {
                input: arg.to_string(),
                reason: "no such schema file".into(),
            });
        }
        return Ok((Schema::load(path)?, Source::File));
    }
    let target = super::context::database(arg)?;
    let (schema, notes) = engine::inspect(&target, options)?;
    for note in notes {
        eprintln!("strata: note: {note}");
    }
    Ok((schema, Source::Database(target)))
}
