//! The engine-neutral schema model and its canonical file format.

pub mod file;
pub mod key;
mod model;
pub mod validate;

pub use model::*;
