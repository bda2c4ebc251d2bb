//! Proving a converted schema by loading it into a real database of the target engine, and
//! taking that database's own spelling of it.
//!
//! A translation is only text until a server has accepted it. PostgreSQL also rewrites what
//! it stores (`CHECK ((credit >= ('-1'::integer)::numeric))`), and `apply`, `drift` and `diff`
//! compare definitions in the server's spelling; so the converted schema is loaded, inspected,
//! and the inspected model is what is kept.
//!
//! - PostgreSQL: the conversion is redone into a scratch schema (`strata_convert_<random>`),
//!   created with the apply machinery inside one transaction, inspected inside it, and the
//!   transaction is always rolled back: the target is never changed, and its own objects never
//!   clash with the converted ones. The scratch name is then replaced by the real schema name
//!   (it is random and never needs quoting, so the replacement cannot touch anything else).
//! - SQLite: the schema is created in a private temporary database file, inspected, and the
//!   file deleted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::sqlite_to_postgres;
use super::{Conversion, POSTGRES_NAMESPACE};
use crate::diff::{Action, Step};
use crate::engine::{self, Engine, ExecuteOptions, InspectOptions};
use crate::error::{Error, Result};
use crate::schema::{EngineKind, Namespace, Schema};

/// What the verify hook returns to force the rollback; never shown to the user.
const ROLLED_BACK: &str = "the trial load is always rolled back";

/// Converts a SQLite schema for `server` (a PostgreSQL database) and returns it as PostgreSQL
/// stores it. `namespace` is the server's `public` schema entry, when known, so that its
/// comment and access are kept as they are.
pub fn on_postgres(
    source: &Schema,
    server: &mut dyn Engine,
    display: &str,
    namespace: Option<Namespace>,
) -> Result<Conversion> {
    super::check_direction(source, EngineKind::Postgres)?;
    if source.engine != EngineKind::Sqlite {
        return Err(Error::Unsupported(format!(
            "converting a {} schema to PostgreSQL is not supported",
            source.engine
        )));
    }
    if server.kind() != EngineKind::Postgres {
        return Err(Error::Unsupported(format!(
            "{display} is a {} database; a conversion to PostgreSQL is validated on PostgreSQL",
            server.kind()
        )));
    }
    let scratch = format!(
        "strata_convert_{}",
        &crate::repo::id::Id::random().to_hex()[..16]
    );
    let (model, mut report) = sqlite_to_postgres::convert(source, &scratch);
    let steps: Vec<Step> = engine::dialect(EngineKind::Postgres)?
        .creation_script(&model)
        .into_iter()
        .map(|statement| {
            Step::new(
                statement.key,
                Action::Create,
                "load the converted schema into a scratch schema (rolled back)".into(),
                statement.sql,
            )
        })
        .collect();
    let options = ExecuteOptions {
        lock_timeout: std::time::Duration::from_secs(30),
        inspect: InspectOptions {
            schemas: vec![scratch.clone()],
            ..InspectOptions::default()
        },
    };
    let mut loaded: Option<Schema> = None;
    let outcome = server.execute(&steps, &options, &mut |after: &Schema| {
        loaded = Some(after.clone());
        Err(Error::Refused(ROLLED_BACK.into()))
    });
    let Some(loaded) = loaded else {
        let cause = match outcome {
            Err(e) => e.to_string(),
            Ok(()) => "the trial load ended without being inspected".into(),
        };
        return Err(Error::Refused(format!(
            "the converted schema does not load into PostgreSQL ({display}; nothing was \
             changed): {cause}"
        )));
    };
    let text = serde_json::to_string(&loaded)
        .map_err(|e| Error::Unsupported(format!("serializing the loaded schema: {e}")))?
        .replace(&scratch, POSTGRES_NAMESPACE);
    let mut schema: Schema = serde_json::from_str(&text)
        .map_err(|e| Error::Unsupported(format!("reading back the loaded schema: {e}")))?;
    schema.schemas = vec![namespace.unwrap_or_else(default_public)];
    schema.canonicalize();
    report.validated = true;
    Ok(Conversion { schema, report })
}

/// `public` as a new PostgreSQL database has it.
fn default_public() -> Namespace {
    Namespace {
        name: POSTGRES_NAMESPACE.to_string(),
        comment: Some("standard public schema".into()),
        access: Default::default(),
    }
}

/// Loads a converted SQLite schema into a private temporary database and returns it as
/// SQLite stores it.
pub fn on_sqlite(model: &Schema) -> Result<Schema> {
    let file = TemporaryDatabase::new();
    let failed = |e: Error| {
        Error::Refused(format!(
            "the converted schema does not load into SQLite: {e}"
        ))
    };
    let mut database = engine::sqlite::Sqlite::open_for_restore(&file.path)?;
    let (tables, rest) = engine::sqlite::render::creation_phases(model);
    let mut loader = database.loader()?;
    loader.run_script(&tables).map_err(failed)?;
    loader.run_script(&rest).map_err(failed)?;
    drop(loader);
    database.inspect(&InspectOptions::default())
}

/// A database file in the temporary directory, deleted (with its journal) when dropped.
struct TemporaryDatabase {
    path: PathBuf,
}

impl TemporaryDatabase {
    fn new() -> TemporaryDatabase {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "strata-convert-{}-{}-{}.db",
            std::process::id(),
            &crate::repo::id::Id::random().to_hex()[..12],
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        TemporaryDatabase {
            path: std::env::temp_dir().join(name),
        }
    }
}

impl Drop for TemporaryDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let mut journal = self.path.clone().into_os_string();
        journal.push("-journal");
        let _ = std::fs::remove_file(journal);
    }
}
