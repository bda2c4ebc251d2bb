//! The copy workflow: a live database into another, without a repository in between.
//!
//! open the source's export (one consistent snapshot, as a backup reads it) → create the
//! schema in the target and stream every table's rows straight from the source's COPY into
//! the target's, in the restore's three phases ([`crate::restore::load_into`]). Each loading
//! thread has its own session in the source snapshot; a table's rows travel through a bounded
//! in-memory pipe (and, for a sanitized copy, through the rewriter), never through a file.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use serde::Serialize;

use crate::engine::{self, DataTable, Export, ExportWorker, InspectOptions, TablePart};
use crate::error::{Error, Result};
use crate::restore::{
    self, Load, PartReader, RestoreOptions, RowSource, SequencePositions, SourceTable,
    TableRestored,
};
use crate::schema::Schema;
use crate::target::Target;

/// What a copy did.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    pub from: String,
    pub to: String,
    pub tables: Vec<TableRestored>,
    pub sequences: usize,
}

/// A live database opened for copying: one consistent snapshot of its schema and rows.
pub struct Source {
    display: String,
    export: Box<dyn Export>,
    // The connection the export was started from, kept open while the export is read.
    _database: Box<dyn engine::Engine>,
}

impl Source {
    /// Opens the export of `target`.
    pub fn open(target: &Target) -> Result<Source> {
        let mut database = engine::open(target)?;
        let export = database.export(&InspectOptions::default())?;
        Ok(Source {
            display: target.display(),
            export,
            _database: database,
        })
    }

    /// The schema, as of the snapshot.
    pub fn schema(&self) -> &Schema {
        self.export.schema()
    }

    /// The snapshot's tables and rows.
    pub fn export(&self) -> &dyn Export {
        self.export.as_ref()
    }
}

/// Copies `source` into `to`: schema, rows, sequence positions. `options` are the restore's
/// (jobs, tables, clean, row transform).
pub fn copy(
    source: &Source,
    to: &Target,
    options: &RestoreOptions,
    progress: &(dyn Fn(&TableRestored) + Sync),
) -> Result<CopyReport> {
    if source.display == to.display() {
        return Err(Error::Refused(format!(
            "{} is both the source and the target of the copy — name another database to copy into",
            to.display()
        )));
    }
    let part_bytes = if options.jobs > 1 {
        crate::backup::part_bytes()
    } else {
        0
    };
    let rows = ExportRows {
        export: source.export.as_ref(),
        tables: source
            .export
            .tables()
            .iter()
            .map(|t| (t.clone(), source.export.parts(t, part_bytes)))
            .collect(),
    };
    let load = Load {
        source: source.display.clone(),
        schema: source.schema(),
        rows: Some(&rows),
        sequences: SequencePositions::Values(source.export.sequences()),
    };
    let tables = restore::load_into(to, &load, options, progress)?;
    Ok(CopyReport {
        from: source.display.clone(),
        to: to.display(),
        tables,
        sequences: source.export.sequences().len(),
    })
}

/// The export's tables, each cut into the parts the export can read at once.
struct ExportRows<'a> {
    export: &'a dyn Export,
    tables: Vec<(DataTable, Vec<TablePart>)>,
}

impl RowSource for ExportRows<'_> {
    fn tables(&self) -> Result<Vec<SourceTable>> {
        Ok(self
            .tables
            .iter()
            .map(|(table, parts)| SourceTable {
                name: table.name.clone(),
                table: table.clone(),
                parts: parts.len().max(1),
                rows: None,
            })
            .collect())
    }

    fn reader(&self) -> Result<Box<dyn PartReader + '_>> {
        Ok(Box::new(ExportReader {
            worker: self.export.worker()?,
            tables: &self.tables,
        }))
    }
}

/// One session in the source snapshot.
struct ExportReader<'a> {
    worker: Box<dyn ExportWorker>,
    tables: &'a [(DataTable, Vec<TablePart>)],
}

impl PartReader for ExportReader<'_> {
    fn read(
        &mut self,
        table: usize,
        part: usize,
        load: &mut dyn FnMut(&mut dyn Read) -> Result<u64>,
    ) -> Result<u64> {
        let (data, parts) = &self.tables[table];
        let range = parts.get(part).copied().unwrap_or(TablePart::WHOLE);
        let (mut writer, mut reader) = pipe();
        let worker = &mut self.worker;
        std::thread::scope(|scope| {
            let producer = scope.spawn(move || {
                let written = worker.copy_out(data, &range, &mut writer)?;
                writer.finish();
                Ok::<u64, Error>(written)
            });
            let loaded = load(&mut reader);
            // A loader that stopped early must not leave the producer blocked on a full pipe.
            drop(reader);
            let produced = producer
                .join()
                .map_err(|_| Error::Unsupported("a copy worker panicked".into()))?;
            // The source's failure explains the loader's (its stream broke off).
            produced?;
            loaded
        })
    }
}

/// Pieces of a table's stream handed from the reading session to the loading one.
const PIPE_CHUNK: usize = 256 * 1024;
const PIPE_DEPTH: usize = 4;

/// A bounded pipe between two threads: at most about `PIPE_DEPTH` chunks in flight. The
/// reader sees the end of the stream only when the writer finished it; a writer dropped
/// half-way (its source failed) makes the reader fail too, so a broken stream is never
/// loaded as if it were complete.
fn pipe() -> (PipeWriter, PipeReader) {
    let (sender, receiver) = sync_channel(PIPE_DEPTH);
    (
        PipeWriter {
            sender,
            buffer: Vec::with_capacity(PIPE_CHUNK),
        },
        PipeReader {
            receiver,
            chunk: Vec::new(),
            pos: 0,
            finished: false,
        },
    )
}

struct PipeWriter {
    sender: SyncSender<Vec<u8>>,
    buffer: Vec<u8>,
}

impl PipeWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(PIPE_CHUNK));
        self.sender
            .send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the loader stopped reading"))
    }

    /// Ends the stream: the rest of the buffer, then an empty chunk as the end mark.
    fn finish(mut self) {
        if self.send().is_ok() {
            let _ = self.sender.send(Vec::new());
        }
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= PIPE_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct PipeReader {
    receiver: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    finished: bool,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            if self.finished {
                return Ok(0);
            }
            match self.receiver.recv() {
                Ok(chunk) if chunk.is_empty() => self.finished = true,
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the source stopped sending rows before the end of the table",
                    ))
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipe_delivers_everything_and_only_a_finished_stream_ends() {
        let (mut writer, mut reader) = pipe();
        let data: Vec<u8> = (0..1_000_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let sent = data.clone();
        let producer = std::thread::spawn(move || {
            for piece in sent.chunks(10_000) {
                writer.write_all(piece).unwrap();
            }
            writer.finish();
        });
        let mut received = Vec::new();
        reader.read_to_end(&mut received).unwrap();
        producer.join().unwrap();
        assert_eq!(received, data);

        let (mut writer, mut reader) = pipe();
        writer.write_all(b"a partial row").unwrap();
        drop(writer);
        let mut received = Vec::new();
        assert!(reader.read_to_end(&mut received).is_err());
    }
}
