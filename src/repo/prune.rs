//! Pruning (docs/FORMAT.md, "Pruning"): removing the manifests of forgotten backups, then
//! collecting the garbage they leave — blobs that no remaining backup references.
//!
//! Everything happens under the exclusive lock, which no backup holds a shared lock against,
//! and a backup loads the index only after taking its lock; so no running backup can reference
//! a blob prune deletes. Packs are sorted into three fates: a pack with no live blob is
//! deleted; a pack whose unused bytes exceed [`REPACK_UNUSED_SHARE`] of its size is
//! *repacked* (its live blobs are read back, verified, and written through a repacking
//! [`Writer`] into new packs with their own index file, then the old pack is deleted); any
//! other pack is kept as it is. The index is rewritten to list exactly the kept packs.
//!
//! Order of effects: manifests deleted, new packs and their index file stored, the rewritten
//! index stored, the old index files deleted, the old packs deleted. An interruption at any
//! point leaves every remaining backup restorable: until the old index files are gone they
//! still describe the old packs, and packs left behind afterwards are recovered from their
//! trailers and collected by the next prune.
//!
//! Which backups to forget is [`crate::retention`]'s decision, not this module's.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::RwLock;

use serde::Serialize;

use super::error::{RepoError, RepoResult};
use super::id::{BackupId, BlobId, PackId};
use super::index::{self, Index, PackListing};
use super::layout;
use super::pack::{self, PackEntry, ENTRY_LEN};
use super::reader::load_blob;
use super::writer::Writer;
use super::Repository;

/// A pack is repacked when more than this share of its bytes is unused: rewriting it then
/// costs at most as much as it frees. Packs with less garbage are kept as they are (their
/// unused bytes are reported as `unused_bytes_left`), which bounds the space a repository
/// wastes to about half of the packs that hold garbage, and the I/O of a prune to the garbage.
pub const REPACK_UNUSED_SHARE: f64 = 0.5;

/// What a prune did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    /// Manifests removed.
    pub backups_removed: usize,
    /// Backups left in the repository.
    pub backups_kept: usize,
    /// Blobs no remaining backup references that were removed (with their packs, or by
    /// repacking), and their stored bytes.
    pub blobs_removed: u64,
    pub blob_bytes_removed: u64,
    /// Packs deleted because nothing in them was used.
    pub packs_deleted: usize,
    /// Packs rewritten without their unused blobs, the live blobs copied, their stored bytes,
    /// and the new packs written.
    pub packs_repacked: usize,
    pub blobs_repacked: u64,
    pub bytes_repacked: u64,
    pub packs_written: usize,
    /// Unused bytes left in packs below the repack threshold.
    pub unused_bytes_left: u64,
    /// Packs above the repack threshold kept as they are because repacking reads content,
    /// which a public-key repository's writer cannot without the identity.
    pub packs_left_for_identity: usize,
    pub index_files_written: usize,
    pub index_files_deleted: usize,
    /// Bytes of all packs, index files and manifests before and after (after: an estimate in a
    /// dry run).
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl PruneReport {
    pub fn bytes_freed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

/// What happens to a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Keep,
    Repack,
    Delete,
}

/// One stored pack as the index describes it, and what to do with it.
#[derive(Debug)]
struct PackPlan {
    size: u64,
    /// The blobs the index locates in this pack (a blob stored twice is located in one pack
    /// only; its other copies are garbage).
    entries: Vec<PackEntry>,
    live: Vec<PackEntry>,
    fate: Fate,
    /// Kept though mostly unused: repacking it needs the identity.
    needs_identity: bool,
}

impl PackPlan {
    fn unused(&self) -> impl Iterator<Item = &PackEntry> {
        let live: HashSet<BlobId> = self.live.iter().map(|e| e.id).collect();
        self.entries.iter().filter(move |e| !live.contains(&e.id))
    }
}

/// Removes the manifests of `forget` and collects the garbage; see the module documentation.
pub(crate) fn run(
    repo: &Repository,
    forget: &[BackupId],
    dry_run: bool,
) -> RepoResult<PruneReport> {
    let store = repo.store();
    // A dry run takes the lock too: it reports what a prune would do now, and a backup's
    // packs stored before its manifest would otherwise look like garbage.
    let lock = repo.lock_exclusive("prune")?;
    let sizes = ObjectSizes::measure(repo)?;
    let forget: HashSet<BackupId> = forget
        .iter()
        .copied()
        .filter(|id| sizes.backups.contains_key(id))
        .collect();
    let (used, backups_kept) = used_blobs(repo, &forget)?;
    let index_files = index::index_file_names(store)?;
    let index = Index::load(store, repo.crypto())?;
    refuse_damage(repo, &index)?;
    let plans = plan(repo, &index, &sizes.packs, &used)?;
    let mut report = PruneReport {
        dry_run,
        backups_removed: forget.len(),
        backups_kept,
        bytes_before: sizes.total(),
        ..PruneReport::default()
    };
    account(&plans, &mut report);
    let rewrite_index = plans.values().any(|p| p.fate != Fate::Keep)
        || !index.recovered().is_empty()
        || index.packs().iter().any(|p| !plans.contains_key(p));
    if dry_run {
        report.bytes_after = estimate_after(repo, &sizes, &forget, &plans);
        return Ok(report);
    }

    lock.ensure_held()?;
    for id in &forget {
        store.delete(&layout::backup_name(id))?;
    }
    let index = RwLock::new(index);
    let written = repack(repo, &index, &plans)?;
    report.packs_written = written.len();
    if rewrite_index {
        lock.ensure_held()?;
        let kept: Vec<PackListing> = plans
            .iter()
            .filter(|(_, p)| p.fate == Fate::Keep)
            .map(|(id, p)| (*id, p.entries.clone()))
            .collect();
        let (files_written, files_deleted) =
            index::replace_index(store, repo.crypto(), &kept, &index_files)?;
        report.index_files_written = files_written;
        report.index_files_deleted = files_deleted;
    }
    lock.ensure_held()?;
    for (id, _) in plans.iter().filter(|(id, p)| {
        // A new pack can only equal an old one if the old one holds the same blobs; never
        // delete what was just written.
        p.fate != Fate::Keep && !written.contains(id)
    }) {
        store.delete(&layout::pack_name(id))?;
    }
    repo.forget_index();
    report.bytes_after = ObjectSizes::measure(repo)?.total();
    lock.release()?;
    Ok(report)
}

/// Every blob the backups not being forgotten reference (with one such backup, for messages),
/// and how many such backups there are. A damaged manifest stops the prune: its references
/// are unknown, so nothing could be collected safely.
fn used_blobs(
    repo: &Repository,
    forget: &HashSet<BackupId>,
) -> RepoResult<(HashMap<BlobId, BackupId>, usize)> {
    let mut used = HashMap::new();
    let mut kept = 0;
    for id in repo.backup_ids()? {
        if forget.contains(&id) {
            continue;
        }
        let backup = repo.load_backup_listing(&id).map_err(|e| {
            RepoError::Invalid(format!(
                "{e}; prune cannot tell which data that backup needs, so it stops: \
                 remove the damaged manifest or restore it from a copy, then prune again"
            ))
        })?;
        kept += 1;
        let chunks = backup.manifest.tables.iter().flat_map(|t| &t.segments);
        for blob in chunks.flat_map(|s| &s.chunks) {
            used.entry(*blob).or_insert(id);
        }
    }
    Ok((used, kept))
}

/// Damaged index files or unreadable unindexed packs hide which blobs exist: stop.
fn refuse_damage(repo: &Repository, index: &Index) -> RepoResult<()> {
    match index.problems().first() {
        None => Ok(()),
        Some(problem) => Err(RepoError::Damaged {
            location: repo.location(),
            name: problem.object.clone(),
            reason: format!(
                "{}; prune needs an intact index: run `strata check`, then `strata repair index`",
                problem.reason
            ),
        }),
    }
}

/// Decides each stored pack's fate. Fails if a remaining backup needs a blob that is not
/// stored: that backup is already damaged, and prune must not hide it.
fn plan(
    repo: &Repository,
    index: &Index,
    pack_sizes: &HashMap<PackId, u64>,
    used: &HashMap<BlobId, BackupId>,
) -> RepoResult<BTreeMap<PackId, PackPlan>> {
    for (blob, backup) in used {
        let pack = index.lookup(blob).map(|l| l.pack);
        if pack.is_none_or(|p| !pack_sizes.contains_key(&p)) {
            return Err(RepoError::Damaged {
                location: repo.location(),
                name: format!("backup {}", backup.short()),
                reason: format!(
                    "it needs blob {blob}, which is {}; run `strata check` (prune stops so as not to hide damage)",
                    if pack.is_none() { "in no index" } else { "in a missing pack" }
                ),
            });
        }
    }
    let mut plans: BTreeMap<PackId, PackPlan> = index
        .packs()
        .iter()
        .filter_map(|id| {
            let size = *pack_sizes.get(id)?;
            Some((
                *id,
                PackPlan {
                    size,
                    entries: Vec::new(),
                    live: Vec::new(),
                    fate: Fate::Keep,
                    needs_identity: false,
                },
            ))
        })
        .collect();
    for (blob, location) in index.locations() {
        if let Some(plan) = plans.get_mut(&location.pack) {
            plan.entries.push(location.entry);
            if used.contains_key(&blob) {
                plan.live.push(location.entry);
            }
        }
    }
    for plan in plans.values_mut() {
        plan.entries.sort_by_key(|e| e.offset);
        plan.live.sort_by_key(|e| e.offset);
        // A live blob also needs its trailer entry, and every pack what an empty one has
        // (header and footer, or sealed trailer and tail).
        let live_bytes: u64 = plan
            .live
            .iter()
            .map(|e| u64::from(e.length) + ENTRY_LEN as u64)
            .sum::<u64>()
            + pack::min_len(repo.crypto()) as u64;
        let unused = plan.size.saturating_sub(live_bytes) as f64;
        let mostly_unused = unused > REPACK_UNUSED_SHARE * plan.size as f64;
        // Repacking reads blobs back: a public-key writer without the identity cannot, so it
        // only deletes packs that hold nothing live.
        plan.needs_identity = mostly_unused && !repo.crypto().can_read_content();
        plan.fate = if plan.live.is_empty() {
            Fate::Delete
        } else if mostly_unused && !plan.needs_identity {
            Fate::Repack
        } else {
            Fate::Keep
        };
    }
    Ok(plans)
}

fn account(plans: &BTreeMap<PackId, PackPlan>, report: &mut PruneReport) {
    for plan in plans.values() {
        let unused_bytes: u64 = plan.unused().map(|e| u64::from(e.length)).sum();
        match plan.fate {
            Fate::Keep => report.unused_bytes_left += unused_bytes,
            Fate::Repack | Fate::Delete => {
                report.blobs_removed += plan.unused().count() as u64;
                report.blob_bytes_removed += unused_bytes;
            }
        }
        match plan.fate {
            Fate::Keep if plan.needs_identity => report.packs_left_for_identity += 1,
            Fate::Keep => {}
            Fate::Delete => report.packs_deleted += 1,
            Fate::Repack => {
                report.packs_repacked += 1;
                report.blobs_repacked += plan.live.len() as u64;
                report.bytes_repacked += plan.live.iter().map(|e| u64::from(e.length)).sum::<u64>();
            }
        }
    }
}

/// Copies the live blobs of the packs to repack into new packs; returns the new packs' ids.
fn repack(
    repo: &Repository,
    index: &RwLock<Index>,
    plans: &BTreeMap<PackId, PackPlan>,
) -> RepoResult<HashSet<PackId>> {
    let to_repack: Vec<(&PackId, &PackPlan)> = plans
        .iter()
        .filter(|(_, p)| p.fate == Fate::Repack)
        .collect();
    if to_repack.is_empty() {
        return Ok(HashSet::new());
    }
    let writer = Writer::for_repack(repo)?;
    for (pack, plan) in to_repack {
        for entry in &plan.live {
            let plain = load_blob(
                repo.store(),
                index,
                repo.id_hasher(),
                repo.crypto(),
                &entry.id,
            )
            .map_err(|fault| RepoError::Damaged {
                location: repo.location(),
                name: layout::pack_name(pack),
                reason: format!(
                    "blob {} cannot be repacked: {}; the forgotten backups are removed, \
                         their data stays until `strata check --read-data` and a repair",
                    entry.id, fault.reason
                ),
            })?;
            writer.write_blob(&plain)?;
        }
    }
    let (packs, _) = writer.finish()?;
    Ok(packs.into_iter().collect())
}

/// The repository's size after a prune that follows `plans`: repacked packs shrink to their
/// live blobs and trailer entries.
fn estimate_after(
    repo: &Repository,
    sizes: &ObjectSizes,
    forget: &HashSet<BackupId>,
    plans: &BTreeMap<PackId, PackPlan>,
) -> u64 {
    let manifests: u64 = forget.iter().filter_map(|id| sizes.backups.get(id)).sum();
    let mut freed = manifests;
    let mut repacked_live = 0u64;
    for plan in plans.values() {
        match plan.fate {
            Fate::Keep => {}
            Fate::Delete => freed += plan.size,
            Fate::Repack => {
                freed += plan.size;
                repacked_live += plan
                    .live
                    .iter()
                    .map(|e| u64::from(e.length) + ENTRY_LEN as u64)
                    .sum::<u64>();
            }
        }
    }
    if repacked_live > 0 {
        repacked_live += pack::min_len(repo.crypto()) as u64;
    }
    sizes.total().saturating_sub(freed) + repacked_live
}

/// Sizes of the stored packs, index files and manifests.
struct ObjectSizes {
    packs: HashMap<PackId, u64>,
    backups: HashMap<BackupId, u64>,
    other: u64,
}

impl ObjectSizes {
    fn measure(repo: &Repository) -> RepoResult<ObjectSizes> {
        let store = repo.store();
        let ids = |prefix: &str| -> RepoResult<HashMap<PackId, u64>> {
            Ok(store
                .list(prefix)?
                .into_iter()
                .filter_map(|o| layout::id_of(&o.name).map(|id| (id, o.size)))
                .collect())
        };
        let other = store.list(layout::INDEX)?.iter().map(|o| o.size).sum();
        Ok(ObjectSizes {
            packs: ids(layout::PACKS)?,
            backups: ids(layout::BACKUPS)?,
            other,
        })
    }

    fn total(&self) -> u64 {
        self.packs.values().sum::<u64>() + self.backups.values().sum::<u64>() + self.other
    }
}
