//! A backup as the row source of a load: each table's segments, streamed from the repository
//! and verified chunk by chunk on the way (`repo::StreamReader`: AEAD and hash of each chunk
//! before its bytes are handed on, the segment's content hash at its end), adapted to the
//! converted columns across engines.

use std::io::Read;

use crate::convert::rows::RowConversion;
use crate::engine::DataTable;
use crate::error::Result;
use crate::repo::{Backup, Repository};

use super::load::{PartReader, RowSource, SourceTable};

/// A backup's table segments, read (and verified chunk by chunk) from the repository.
pub(super) struct BackupRows<'a> {
    pub(super) repo: &'a Repository,
    pub(super) backup: &'a Backup,
    /// Across engines: how the rows load into the converted tables.
    pub(super) converted: Option<&'a RowConversion>,
}

impl RowSource for BackupRows<'_> {
    fn tables(&self) -> Result<Vec<SourceTable>> {
        self.backup
            .manifest
            .tables
            .iter()
            .map(|entry| {
                let table = DataTable {
                    name: entry.name.clone(),
                    columns: entry.columns.clone(),
                    size_bytes: entry.bytes as i64,
                };
                // Across engines the rows load into the converted table.
                let table = match self.converted {
                    Some(c) => {
                        c.table(&entry.name, &entry.columns, table.size_bytes)?
                            .table
                    }
                    None => table,
                };
                Ok(SourceTable {
                    name: entry.name.clone(),
                    table,
                    parts: entry.segments.len().max(1),
                    rows: Some(entry.rows),
                })
            })
            .collect()
    }

    fn reader(&self) -> Result<Box<dyn PartReader + '_>> {
        Ok(Box::new(BackupRows {
            repo: self.repo,
            backup: self.backup,
            converted: self.converted,
        }))
    }
}

impl PartReader for BackupRows<'_> {
    fn read(
        &mut self,
        table: usize,
        part: usize,
        load: &mut dyn FnMut(&mut dyn Read) -> Result<u64>,
    ) -> Result<u64> {
        let entry = &self.backup.manifest.tables[table];
        if entry.segments.is_empty() {
            return load(&mut std::io::empty());
        }
        let stream = self.repo.read_segment(self.backup, entry, part)?;
        match self.converted {
            // Across engines each value is adapted to its converted column.
            Some(c) => {
                let rows = c.table(&entry.name, &entry.columns, entry.bytes as i64)?;
                load(&mut rows.adapt(stream, part))
            }
            None => load(&mut { stream }),
        }
    }
}
