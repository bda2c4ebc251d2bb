//! The canonical schema file: YAML (default) or JSON, same model either way.
//!
//! Writing is deterministic: the model is canonicalized first and serde emits fields in
//! declaration order, so the same schema always gives the same bytes. Reading rejects unknown
//! keys and reports the line and column of the problem; after parsing, [`validate`] checks the
//! references between objects.
//!
//! [`validate`]: crate::schema::validate

use std::path::Path;

use crate::error::{Error, Result};
use crate::schema::{validate, Schema, FORMAT_VERSION};

/// Serialization format of a schema file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Yaml,
    Json,
}

impl FileFormat {
    /// Guesses the format from a file name: `.json` is JSON, anything else YAML.
    pub fn from_path(path: &Path) -> FileFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => FileFormat::Json,
            _ => FileFormat::Yaml,
        }
    }
}

impl Schema {
    /// The canonical YAML text of this schema.
    pub fn to_yaml(&self) -> String {
        self.clone().into_yaml()
    }

    /// The canonical YAML text, consuming the schema (no copy of a large model).
    pub fn into_yaml(mut self) -> String {
        self.canonicalize();
        let canonical = self;
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = true;
        // The model holds only strings, integers, booleans, sequences and maps, which YAML can
        // always represent.
        serde_saphyr::to_string_with_options(&canonical, options)
            .expect("schema model is always representable as YAML")
    }

    /// The canonical JSON text of this schema (pretty-printed, trailing newline).
    pub fn to_json(&self) -> String {
        self.clone().into_json()
    }

    /// The canonical JSON text, consuming the schema.
    pub fn into_json(mut self) -> String {
        self.canonicalize();
        let canonical = self;
        let mut text = serde_json::to_string_pretty(&canonical)
            .expect("schema model is always representable as JSON");
        text.push('\n');
        text
    }

    /// Serializes in the given format.
    pub fn to_text(&self, format: FileFormat) -> String {
        self.clone().into_text(format)
    }

    /// Serializes in the given format, consuming the schema.
    pub fn into_text(self, format: FileFormat) -> String {
        match format {
            FileFormat::Yaml => self.into_yaml(),
            FileFormat::Json => self.into_json(),
        }
    }

    /// Parses and validates YAML schema text. `origin` names the source in errors (a path,
    /// or `<stdin>`).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Schema> {
        check_format_header(text, origin)?;
        let schema: Schema = serde_saphyr::from_str_with_options(text, parse_options(text))
            .map_err(|e| {
                let location = e.location();
                Error::SchemaFile {
                    path: origin.to_string(),
                    line: location.map(|l| l.line() as usize),
                    column: location.map(|l| l.column() as usize),
                    message: first_line(&e.to_string()),
                }
            })?;
        finish(schema, origin)
    }

    /// Parses and validates JSON schema text.
    pub fn from_json(text: &str, origin: &str) -> Result<Schema> {
        let schema: Schema = serde_json::from_str(text).map_err(|e| Error::SchemaFile {
            path: origin.to_string(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: e.to_string(),
        })?;
        finish(schema, origin)
    }

    /// Reads a schema file, choosing the parser by content (`{` starts JSON).
    pub fn load(path: &Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Schema::parse(&text, &path.display().to_string())
    }

    /// Parses schema text in either format.
    pub fn parse(text: &str, origin: &str) -> Result<Schema> {
        if text.trim_start().starts_with('{') {
            Schema::from_json(text, origin)
        } else {
            Schema::from_yaml(text, origin)
        }
    }
}

/// The YAML parser's resource budget, scaled to the file: its defaults (250,000 nodes) protect
/// against hostile input but refuse a real 2,000-table schema. Limits stay proportional to the
/// text, and aliases (which a schema file never needs) stay capped, so a small file still
/// cannot expand into a huge one.
fn parse_options(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(text.len());
    budget.max_events = budget.max_events.max(text.len().saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(text.len());
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Rejects files from a newer format before serde reports confusing unknown keys.
fn check_format_header(text: &str, origin: &str) -> Result<()> {
    for (number, line) in text.lines().enumerate() {
        if let Some(value) = line.strip_prefix("format:") {
            if let Ok(version) = value.trim().parse::<u32>() {
                if version > FORMAT_VERSION {
                    return Err(Error::SchemaFile {
                        path: origin.to_string(),
                        line: Some(number + 1),
                        column: None,
                        message: format!(
                            "schema file format {version} is newer than this strata understands \
                             ({FORMAT_VERSION}) — upgrade strata"
                        ),
                    });
                }
            }
            break;
        }
    }
    Ok(())
}

fn finish(mut schema: Schema, origin: &str) -> Result<Schema> {
    if schema.format != FORMAT_VERSION {
        return Err(Error::SchemaFile {
            path: origin.to_string(),
            line: None,
            column: None,
            message: format!(
                "unsupported schema file format {} (this strata reads format {FORMAT_VERSION})",
                schema.format
            ),
        });
    }
    validate::validate(&schema).map_err(|problem| Error::SchemaFile {
        path: origin.to_string(),
        line: None,
        column: None,
        message: problem,
    })?;
    schema.canonicalize();
    Ok(schema)
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_string()
}
