//! PostgreSQL: catalog inspection (`inspect.rs`), DDL rendering (`render.rs`) and connections
//! (`connect.rs`).

mod acl;
mod catalog;
pub mod connect;
mod data;
mod execute;
mod inspect;
mod inspect_assemble;
mod inspect_objects;
mod inspect_parallel;
mod inspect_parts;
pub mod migrate;
mod migrate_table;
pub mod render;
mod types_change;

use crate::diff::Step;
use crate::engine::{Engine, ExecuteOptions, InspectOptions};
use crate::error::Result;
use crate::schema::{EngineKind, Schema};

pub use connect::ConnectionSpec;

/// A live PostgreSQL connection.
pub struct Postgres {
    client: postgres::Client,
    /// Kept so that a snapshot can open more sessions on the same server.
    spec: ConnectionSpec,
    display: String,
    notes: Vec<String>,
}

impl Postgres {
    /// Connects to a `postgres://` URL (environment variables fill the gaps, as with libpq).
    pub fn connect(url: &str) -> Result<Postgres> {
        let spec = ConnectionSpec::from_url(url)?;
        let client = spec.connect()?;
        Ok(Postgres {
            client,
            display: spec.display.clone(),
            spec,
            notes: Vec::new(),
        })
    }

    /// The URL without its password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The underlying client, for callers that run their own statements.
    pub fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}

impl Engine for Postgres {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    fn inspect(&mut self, options: &InspectOptions) -> Result<Schema> {
        let (schema, notes) = inspect::inspect(self, options)?;
        self.notes = notes;
        Ok(schema)
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn execute(
        &mut self,
        steps: &[Step],
        options: &ExecuteOptions,
        verify: &mut dyn FnMut(&Schema) -> Result<()>,
    ) -> Result<()> {
        self.execute_steps(steps, options, verify)
    }

    fn count(&mut self, sql: &str) -> Result<i64> {
        self.count_rows(sql)
    }

    fn export(&mut self, options: &InspectOptions) -> Result<Box<dyn crate::engine::Export>> {
        Ok(Box::new(self.begin_export(options)?))
    }

    fn loader(&self) -> Result<Box<dyn crate::engine::Loader>> {
        Ok(Box::new(self.open_loader()?))
    }
}
