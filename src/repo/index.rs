//! The index: which pack holds each blob, and where in it (docs/FORMAT.md, "Index files").
//!
//! Owns the in-memory map, the index file codec, and loading: every index file, plus recovery of
//! packs that no index file mentions (a writer died between storing a pack and its index) from
//! their trailers. Loading never fails on damaged objects: it records them as problems for
//! `check` to report, and the blobs they would have listed are simply unknown. In an encrypted
//! repository index files and trailers are sealed; [`Crypto`] opens them.

use std::collections::{HashMap, HashSet};

use crate::store::{Store, StoreError};

use super::crypto::{Crypto, ObjectKind, SealError};
use super::error::RepoResult;
use super::id::{BlobId, Id, PackId};
use super::layout;
use super::pack::{self, Bytes, PackEntry, ENTRY_LEN};

const MAGIC: &[u8; 4] = b"SIDX";
/// Index file format version written by this build.
pub const INDEX_VERSION: u32 = 1;

/// Where a blob is: its pack and its trailer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    pub pack: PackId,
    pub entry: PackEntry,
}

/// A pack and the blobs it holds, as an index file lists them.
pub type PackListing = (PackId, Vec<PackEntry>);

/// A damaged object met while loading the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem {
    pub object: String,
    pub reason: String,
}

/// Blob id → location, for every blob the repository knows.
#[derive(Debug, Default)]
pub struct Index {
    packs: Vec<PackId>,
    pack_numbers: HashMap<PackId, u32>,
    blobs: HashMap<BlobId, (u32, PackEntry)>,
    recovered: Vec<PackListing>,
    problems: Vec<LoadProblem>,
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// Records every blob of a pack. A blob already known keeps its first location.
    pub fn add_pack(&mut self, pack: PackId, entries: &[PackEntry]) {
        let number = *self.pack_numbers.entry(pack).or_insert_with(|| {
            self.packs.push(pack);
            (self.packs.len() - 1) as u32
        });
        for entry in entries {
            self.blobs.entry(entry.id).or_insert((number, *entry));
        }
    }

    pub fn contains(&self, blob: &BlobId) -> bool {
        self.blobs.contains_key(blob)
    }

    pub fn lookup(&self, blob: &BlobId) -> Option<BlobLocation> {
        let (number, entry) = self.blobs.get(blob)?;
        Some(BlobLocation {
            pack: self.packs[*number as usize],
            entry: *entry,
        })
    }

    pub fn has_pack(&self, pack: &PackId) -> bool {
        self.pack_numbers.contains_key(pack)
    }

    /// Every pack the index refers to.
    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// Number of blobs known.
    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Every known blob with its location, in no particular order.
    pub fn locations(&self) -> impl Iterator<Item = (BlobId, BlobLocation)> + '_ {
        self.blobs.iter().map(|(id, (number, entry))| {
            (
                *id,
                BlobLocation {
                    pack: self.packs[*number as usize],
                    entry: *entry,
                },
            )
        })
    }

    /// Packs found without an index file, recovered from their trailers.
    pub fn recovered(&self) -> &[PackListing] {
        &self.recovered
    }

    /// Hands the recovered packs over to a writer that will list them in an index file.
    pub fn take_recovered(&mut self) -> Vec<PackListing> {
        std::mem::take(&mut self.recovered)
    }

    /// Damaged index files and packs met while loading.
    pub fn problems(&self) -> &[LoadProblem] {
        &self.problems
    }

    /// Loads every index file, then recovers unindexed packs.
    pub fn load(store: &dyn Store, crypto: &Crypto) -> RepoResult<Index> {
        let mut index = Index::new();
        for object in store.list(layout::INDEX)? {
            index.load_file(store, crypto, &object.name)?;
        }
        for object in store.list(layout::PACKS)? {
            match layout::id_of(&object.name) {
                Some(pack) if !index.has_pack(&pack) => index.recover_pack(store, crypto, pack)?,
                Some(_) => {}
                None => index.problem(&object.name, "not a pack name".to_string()),
            }
        }
        Ok(index)
    }

    fn load_file(&mut self, store: &dyn Store, crypto: &Crypto, name: &str) -> RepoResult<()> {
        match read_index_file(store, crypto, name)? {
            Ok(listings) => {
                for (pack, entries) in &listings {
                    self.add_pack(*pack, entries);
                }
            }
            Err(reason) => self.problem(name, reason),
        }
        Ok(())
    }

    fn recover_pack(&mut self, store: &dyn Store, crypto: &Crypto, pack: PackId) -> RepoResult<()> {
        let name = layout::pack_name(&pack);
        match read_trailer(store, crypto, &name) {
            Ok(entries) => {
                self.add_pack(pack, &entries);
                self.recovered.push((pack, entries));
            }
            Err(TrailerError::Store(e)) if e.is_not_found() => {}
            Err(TrailerError::Store(e)) => return Err(e.into()),
            Err(TrailerError::Damaged(reason)) => self.problem(&name, reason),
        }
        Ok(())
    }

    fn problem(&mut self, object: &str, reason: String) {
        self.problems.push(LoadProblem {
            object: object.to_string(),
            reason,
        });
    }
}

/// Reads and decodes one index file: the packs it lists, or why it is damaged. A file removed
/// since it was listed (by a concurrent prune) lists nothing.
pub(crate) fn read_index_file(
    store: &dyn Store,
    crypto: &Crypto,
    name: &str,
) -> RepoResult<Result<Vec<PackListing>, String>> {
    let bytes = match store.get(name) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => return Ok(Ok(Vec::new())),
        Err(e) => return Err(e.into()),
    };
    if layout::id_of(name) != Some(Id::of_object(&bytes)) {
        return Ok(Err("content does not match its name (damaged)".to_string()));
    }
    Ok(crypto
        .open(ObjectKind::Index, &bytes)
        .and_then(|plain| decode_index_file(&plain)))
}

/// Why a pack's trailer could not be read.
#[derive(Debug)]
pub enum TrailerError {
    Store(StoreError),
    Damaged(String),
}

impl From<StoreError> for TrailerError {
    fn from(e: StoreError) -> Self {
        TrailerError::Store(e)
    }
}

/// Reads a pack's blob list from its tail and trailer (two ranged reads).
pub fn read_trailer(
    store: &dyn Store,
    crypto: &Crypto,
    name: &str,
) -> Result<Vec<PackEntry>, TrailerError> {
    read_trailer_and_start(store, crypto, name).map(|(entries, _)| entries)
}

/// A pack's blob list, and where its trailer starts (where its blob area ends).
pub(crate) fn read_trailer_and_start(
    store: &dyn Store,
    crypto: &Crypto,
    name: &str,
) -> Result<(Vec<PackEntry>, u64), TrailerError> {
    let size = store.size(name)?;
    if size < pack::min_len(crypto) as u64 {
        return Err(TrailerError::Damaged(format!(
            "{size} bytes is too short for a pack"
        )));
    }
    let tail_len = pack::tail_len(crypto) as u64;
    let tail = store.get_range(name, size - tail_len, tail_len)?;
    let span = pack::locate_trailer(&tail, size, crypto).map_err(TrailerError::Damaged)?;
    let trailer = store.get_range(name, span.start, span.len)?;
    let entries = pack::decode_trailer(&trailer, &span, crypto).map_err(TrailerError::Damaged)?;
    Ok((entries, span.start))
}

/// At most this many packs per index file when the whole index is rewritten (≈ 3 MB files).
const PACKS_PER_INDEX_FILE: usize = 1024;

/// Replaces the whole index by files listing exactly `packs`: the new files are stored first,
/// then the files in `old` are deleted (except any new file that happens to have the same
/// content, hence the same name), so that an interruption leaves a superset, never less.
/// Returns how many files were written and deleted.
pub(crate) fn replace_index(
    store: &dyn Store,
    crypto: &Crypto,
    packs: &[PackListing],
    old: &[String],
) -> RepoResult<(usize, usize)> {
    let mut written = HashSet::new();
    for group in packs.chunks(PACKS_PER_INDEX_FILE) {
        written.insert(store_index_file(store, crypto, group)?);
    }
    let mut deleted = 0;
    for name in old.iter().filter(|name| !written.contains(*name)) {
        store.delete(name)?;
        deleted += 1;
    }
    Ok((written.len(), deleted))
}

/// Names of the index files now stored.
pub(crate) fn index_file_names(store: &dyn Store) -> RepoResult<Vec<String>> {
    Ok(store
        .list(layout::INDEX)?
        .into_iter()
        .map(|o| o.name)
        .collect())
}

/// Stores one index file listing `packs` (sealed in an encrypted repository); returns its
/// name.
pub(crate) fn store_index_file(
    store: &dyn Store,
    crypto: &Crypto,
    packs: &[PackListing],
) -> RepoResult<String> {
    let bytes = seal_index_file(crypto, packs)?;
    let name = layout::index_name(&Id::of_object(&bytes));
    store.put(&name, &bytes)?;
    Ok(name)
}

/// The stored form of an index file listing the given packs (sealed when `crypto` is keyed).
pub fn seal_index_file(crypto: &Crypto, packs: &[PackListing]) -> Result<Vec<u8>, SealError> {
    crypto.seal(ObjectKind::Index, encode_index_file(packs))
}

/// Encodes an index file listing the given packs.
pub fn encode_index_file(packs: &[PackListing]) -> Vec<u8> {
    let entries: usize = packs.iter().map(|(_, e)| e.len()).sum();
    let mut out = Vec::with_capacity(12 + packs.len() * 36 + entries * ENTRY_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    out.extend_from_slice(&(packs.len() as u32).to_le_bytes());
    for (pack, entries) in packs {
        out.extend_from_slice(&pack.0);
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for entry in entries {
            entry.encode_into(&mut out);
        }
    }
    out
}

/// Decodes an index file; every count is checked against the bytes actually present.
pub fn decode_index_file(bytes: &[u8]) -> Result<Vec<PackListing>, String> {
    let mut r = Bytes::new(bytes);
    if r.array::<4>()? != *MAGIC {
        return Err("not an index file (bad magic)".to_string());
    }
    let version = r.u32()?;
    if version != INDEX_VERSION {
        return Err(format!(
            "index format {version}, this strata reads {INDEX_VERSION}; upgrade strata if it is newer"
        ));
    }
    let pack_count = r.u32()? as usize;
    let mut packs = Vec::with_capacity(pack_count.min(bytes.len() / 36));
    let mut seen = HashSet::new();
    for _ in 0..pack_count {
        let pack = Id(r.array()?);
        if !seen.insert(pack) {
            return Err(format!("pack {pack} is listed twice"));
        }
        let count = r.u32()? as usize;
        let body = r.take(
            count
                .checked_mul(ENTRY_LEN)
                .ok_or("entry count overflows")?,
        )?;
        let entries = body
            .chunks_exact(ENTRY_LEN)
            .map(PackEntry::decode)
            .collect::<Result<Vec<_>, _>>()?;
        packs.push((pack, entries));
    }
    if !r.is_empty() {
        return Err("trailing bytes after the last pack".to_string());
    }
    Ok(packs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::pack::{BlobCompression, PackBuilder};
    use proptest::prelude::*;

    fn sample() -> Vec<PackListing> {
        let mut builder = PackBuilder::new(64, &Crypto::None);
        builder.add(Id::of_object(b"a"), b"a", 1, BlobCompression::None);
        builder.add(Id::of_object(b"b"), b"b", 1, BlobCompression::None);
        let pack = builder.finish().unwrap();
        vec![
            (pack.id, pack.entries),
            (Id::of_object(b"empty"), Vec::new()),
        ]
    }

    #[test]
    fn round_trip_and_lookup() {
        let listings = sample();
        let decoded = decode_index_file(&encode_index_file(&listings)).unwrap();
        assert_eq!(decoded, listings);
        let mut index = Index::new();
        for (pack, entries) in &decoded {
            index.add_pack(*pack, entries);
        }
        let found = index.lookup(&Id::of_object(b"b")).unwrap();
        assert_eq!(found.pack, listings[0].0);
        assert_eq!(found.entry.offset, 9);
        assert!(!index.contains(&Id::of_object(b"c")));
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode_index_file(&bytes);
        }

        #[test]
        fn decoding_mutated_index_files_never_panics(pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
            let mut bytes = encode_index_file(&sample());
            let i = pos % bytes.len();
            bytes[i] = byte;
            let _ = decode_index_file(&bytes);
            bytes.truncate(cut % (bytes.len() + 1));
            let _ = decode_index_file(&bytes);
        }
    }
}
