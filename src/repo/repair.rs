//! Repairing the index (docs/FORMAT.md, "Repairing the index"): every pack carries a trailer
//! listing its blobs, so when index files are damaged or lost but the packs survive, the index
//! is rebuilt from the trailers alone.
//!
//! Under the exclusive lock: read every pack's trailer, store new index files listing every
//! readable pack, then delete the old index files. A pack whose trailer is damaged is left in
//! place and reported (repair never deletes data); the backups that need its blobs stay
//! damaged, and `check` keeps saying so.

use serde::Serialize;

use super::error::RepoResult;
use super::id::PackId;
use super::index::{self, read_trailer, PackListing, TrailerError};
use super::layout;
use super::Repository;

/// What a repair did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    pub packs_indexed: usize,
    pub blobs_indexed: u64,
    pub index_files_written: usize,
    pub index_files_deleted: usize,
    /// Packs whose trailer cannot be read, with the reason; their blobs are not indexed.
    pub damaged_packs: Vec<DamagedPack>,
}

/// A pack left out of the rebuilt index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedPack {
    pub pack: PackId,
    pub reason: String,
}

/// Rebuilds the index from the packs' trailers.
pub(crate) fn index(repo: &Repository) -> RepoResult<RepairReport> {
    let lock = repo.lock_exclusive("repair index")?;
    let store = repo.store();
    let old = index::index_file_names(store)?;
    let mut report = RepairReport::default();
    let mut listings: Vec<PackListing> = Vec::new();
    for object in store.list(layout::PACKS)? {
        let Some(pack) = layout::id_of(&object.name) else {
            continue;
        };
        match read_trailer(store, repo.crypto(), &object.name) {
            Ok(entries) => {
                report.blobs_indexed += entries.len() as u64;
                listings.push((pack, entries));
            }
            Err(TrailerError::Store(e)) if e.is_not_found() => {}
            Err(TrailerError::Store(e)) => return Err(e.into()),
            Err(TrailerError::Damaged(reason)) => {
                report.damaged_packs.push(DamagedPack { pack, reason })
            }
        }
    }
    report.packs_indexed = listings.len();
    lock.ensure_held()?;
    let (written, deleted) = index::replace_index(store, repo.crypto(), &listings, &old)?;
    report.index_files_written = written;
    report.index_files_deleted = deleted;
    repo.forget_index();
    lock.release()?;
    Ok(report)
}
