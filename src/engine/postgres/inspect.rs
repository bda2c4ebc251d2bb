//! PostgreSQL catalog → schema model.

use crate::engine::InspectOptions;
use crate::error::Result;
use crate::schema::Schema;

use super::Postgres;

pub(super) fn inspect(_db: &mut Postgres, _options: &InspectOptions) -> Result<Schema> {
    unimplemented!()
}
