//! Reading a table back: [`StreamReader`] yields a table's bytes in order (`io::Read`), checking
//! every blob's hash as it goes and each segment's content hash at its end. A failure is an
//! `io::Error` wrapping a [`RepoError`] that names the backup, the table, the blob and the pack
//! ([`RepoError::from_io`] gets it back).
//!
//! [`load_blob`] — index lookup, ranged read, decompression, hash check — is shared with `check`.

use std::io::{self, Read};
use std::sync::{Arc, RwLock};

use crate::store::Store;

use super::crypto::Crypto;
use super::error::{BlobError, RepoError, RepoResult};
use super::id::{BackupId, BlobId, Id, IdHasher, PackId};
use super::index::Index;
use super::layout;
use super::manifest::Segment;
use super::pack::decode_blob;

/// Why a blob could not be read back intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobFault {
    /// The pack the index places the blob in, if the index knows it.
    pub pack: Option<PackId>,
    pub reason: String,
}

/// The verified (and, in an encrypted repository, authenticated) plaintext of a blob.
pub fn load_blob(
    store: &dyn Store,
    index: &RwLock<Index>,
    hasher: &IdHasher,
    crypto: &Crypto,
    id: &BlobId,
) -> Result<Vec<u8>, BlobFault> {
    let location = index
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .lookup(id);
    let Some(location) = location else {
        return Err(BlobFault {
            pack: None,
            reason: "not in the index (missing)".to_string(),
        });
    };
    let fault = |reason: String| BlobFault {
        pack: Some(location.pack),
        reason,
    };
    let entry = location.entry;
    let stored = store
        .get_range(
            &layout::pack_name(&location.pack),
            u64::from(entry.offset),
            u64::from(entry.length),
        )
        .map_err(|e| match e.is_not_found() {
            true => fault("its pack is missing".to_string()),
            false => fault(e.to_string()),
        })?;
    let plain = decode_blob(&entry, &stored, crypto).map_err(|r| fault(format!("damaged: {r}")))?;
    if hasher.blob_id(&plain) != *id {
        return Err(fault("damaged: content does not match its id".to_string()));
    }
    Ok(plain)
}

/// A table's (or one segment's) bytes, verified as they are read.
pub struct StreamReader<'r> {
    store: &'r dyn Store,
    index: Arc<RwLock<Index>>,
    hasher: &'r IdHasher,
    crypto: &'r Crypto,
    backup: BackupId,
    table: String,
    segments: Vec<Segment>,
    segment: usize,
    chunk: usize,
    content: blake3::Hasher,
    segment_bytes: u64,
    buf: Vec<u8>,
    pos: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Failed,
}

impl<'r> StreamReader<'r> {
    pub(crate) fn new(
        store: &'r dyn Store,
        index: Arc<RwLock<Index>>,
        hasher: &'r IdHasher,
        crypto: &'r Crypto,
        backup: BackupId,
        table: &str,
        segments: Vec<Segment>,
    ) -> StreamReader<'r> {
        StreamReader {
            store,
            index,
            hasher,
            crypto,
            backup,
            table: table.to_string(),
            segments,
            segment: 0,
            chunk: 0,
            content: blake3::Hasher::new(),
            segment_bytes: 0,
            buf: Vec::new(),
            pos: 0,
            state: State::Reading,
        }
    }

    /// Loads the next blob, or closes the current segment after checking its hash.
    fn advance(&mut self) -> RepoResult<()> {
        let Some(segment) = self.segments.get(self.segment) else {
            self.state = State::Done;
            return Ok(());
        };
        let Some(id) = segment.chunks.get(self.chunk).copied() else {
            self.verify_segment()?;
            self.segment += 1;
            self.chunk = 0;
            return Ok(());
        };
        self.buf = load_blob(self.store, &self.index, self.hasher, self.crypto, &id)
            .map_err(|fault| self.blob_error(id, fault))?;
        self.pos = 0;
        self.chunk += 1;
        self.content.update(&self.buf);
        self.segment_bytes += self.buf.len() as u64;
        Ok(())
    }

    fn verify_segment(&mut self) -> RepoResult<()> {
        let segment = &self.segments[self.segment];
        let hash = Id(*self.content.finalize().as_bytes());
        let bytes = self.segment_bytes;
        self.content = blake3::Hasher::new();
        self.segment_bytes = 0;
        if bytes != segment.bytes || hash != segment.content_hash {
            return Err(RepoError::Content {
                location: self.store.location(),
                backup: self.backup,
                table: self.table.clone(),
                reason: format!(
                    "segment {} reads back as {bytes} bytes with hash {}, the manifest says {} bytes with hash {}",
                    self.segment + 1,
                    hash.short(),
                    segment.bytes,
                    segment.content_hash.short()
                ),
            });
        }
        Ok(())
    }

    fn blob_error(&self, blob: BlobId, fault: BlobFault) -> RepoError {
        RepoError::Blob(Box::new(BlobError {
            location: self.store.location(),
            backup: self.backup,
            table: self.table.clone(),
            blob,
            pack: fault.pack,
            reason: fault.reason,
        }))
    }
}

impl Read for StreamReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.state {
                State::Done => return Ok(0),
                State::Failed => return Err(io::Error::other("the stream already failed")),
                State::Reading => {}
            }
            if let Err(e) = self.advance() {
                self.state = State::Failed;
                return Err(io::Error::other(e));
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
