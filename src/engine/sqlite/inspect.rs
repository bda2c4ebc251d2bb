//! SQLite catalog (`sqlite_schema`, `PRAGMA table_xinfo`, …) → schema model.

use crate::engine::InspectOptions;
use crate::error::Result;
use crate::schema::Schema;

pub(super) fn inspect(
    _conn: &rusqlite::Connection,
    _display: &str,
    _options: &InspectOptions,
) -> Result<Schema> {
    unimplemented!()
}
