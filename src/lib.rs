//! Strata keeps a relational database's schema as code and its data safe.
//!
//! The library is organised along the data flow: [`target`] names a database, [`engine`]
//! inspects it into the engine-neutral [`schema`] model, and [`schema::file`] reads and writes
//! the canonical schema file. The `strata` binary is a thin layer over [`cli`].

pub mod apply;
pub mod backup;
pub mod cli;
pub mod convert;
pub mod copy;
pub mod copy_text;
pub mod diff;
pub mod engine;
pub mod error;
pub mod pre_apply;
pub mod project;
pub mod repo;
pub mod restore;
pub mod retention;
pub mod rollback;
pub mod sanitize;
pub mod schema;
pub mod status;
pub mod store;
pub mod target;

pub use error::{Error, Result};
pub use schema::Schema;
