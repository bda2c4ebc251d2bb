//! Verifying a repository: can these backups be restored, and is anything damaged?
//!
//! The structure check loads the index and every selected manifest and checks that each chunk a
//! backup needs is in the index and its pack exists and is large enough; a check of selected
//! backups also reads the trailers of the packs they use. With `read_data`, every
//! pack is read whole and its id checked (so damage anywhere in a pack is found), then every
//! table segment is read back blob by blob, each blob's hash checked, and the segment's content
//! hash compared with the manifest; identical segments shared by several backups are read once.
//! A whole-repository check (`Scope::Repository`, for `strata check`) adds the checks of
//! `check/packs.rs`: every pack's trailer against its size, every index file against the
//! trailers, packs no index lists, and with `read_data` every blob of every pack hashed.
//! Problems are collected, never raised: the report names backup, table, blob, pack and object.
//! Nothing here modifies the repository ([`super::repair`] does).

mod packs;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::error::RepoResult;
use super::id::{BackupId, BlobId, Id, PackId};
use super::index::Index;
use super::layout;
use super::manifest::{Backup, Segment, TableEntry};
use super::pack::{decode_blob, decode_pack, tail_len};
use super::reader::load_blob;
use super::Repository;

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Read and hash every pack and every blob the backups need.
    pub read_data: bool,
    /// Only these backups (all when `None`).
    pub backups: Option<Vec<BackupId>>,
}

/// How much of the repository a check covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// What the selected backups need (`verify`).
    Backups,
    /// Also everything else: pack trailers and sizes, index files against the packs, packs no
    /// index file lists, and (with `read_data`) every blob of every pack (`check`).
    Repository,
}

/// The kind of a problem found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// An index file, a pack trailer met while loading the index, or a key file is damaged.
    DamagedObject,
    /// A manifest cannot be read.
    DamagedBackup,
    /// A backup needs a blob the index does not know.
    MissingBlob,
    /// A backup needs a blob whose pack does not exist.
    MissingPack,
    /// A blob reads back wrong (decompression or hash).
    DamagedBlob,
    /// A pack's bytes do not match its id.
    DamagedPack,
    /// A segment's bytes do not hash to the manifest's content hash.
    ContentMismatch,
    /// A manifest contradicts itself (e.g. table byte count vs segments).
    Inconsistent,
    /// An index file's entry for a blob disagrees with the pack's trailer.
    IndexMismatch,
}

/// One problem, with every name that locates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<BlobId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<PackId>,
    /// The stored object concerned, when it is not a pack (index file, manifest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub message: String,
}

impl Problem {
    fn new(kind: ProblemKind, message: impl Into<String>) -> Problem {
        Problem {
            kind,
            backup: None,
            table: None,
            blob: None,
            pack: None,
            object: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(backup) = &self.backup {
            write!(f, "backup {}: ", backup.short())?;
        }
        if let Some(table) = &self.table {
            write!(f, "table {table}: ")?;
        }
        if let Some(blob) = &self.blob {
            write!(f, "blob {blob}: ")?;
        }
        if let Some(pack) = &self.pack {
            write!(f, "pack {pack}: ")?;
        }
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What a check looked at and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub backups_checked: usize,
    pub packs_checked: usize,
    pub blobs_checked: usize,
    pub bytes_read: u64,
    pub problems: Vec<Problem>,
    /// Packs that no index file lists (whole-repository check only). Not damage: an
    /// interrupted backup leaves them, and the next backup or `repair index` indexes them.
    pub unindexed_packs: Vec<PackId>,
}

impl CheckReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A problem inside a segment, before it is attributed to a backup and table.
#[derive(Debug, Clone)]
struct SegmentFault {
    kind: ProblemKind,
    blob: Option<BlobId>,
    pack: Option<PackId>,
    message: String,
}

struct Checker<'r> {
    repo: &'r Repository,
    index: Arc<RwLock<Index>>,
    report: CheckReport,
    /// Pack id → size, from the listing.
    packs: HashMap<PackId, u64>,
    /// Packs whose bytes do not match their id, with the reason.
    damaged_packs: HashMap<PackId, String>,
    /// Faults of segments already read, keyed by content hash and chunk list.
    segments_read: HashMap<Id, Vec<SegmentFault>>,
    /// Packs whose trailer or bytes were examined.
    packs_examined: HashSet<PackId>,
    /// Hash every blob of every pack read (whole-repository check).
    every_blob: bool,
}

pub(crate) fn run(
    repo: &Repository,
    options: &CheckOptions,
    scope: Scope,
) -> RepoResult<CheckReport> {
    if options.read_data {
        repo.check_content_readable()?;
    }
    let mut checker = Checker {
        repo,
        index: repo.index()?,
        report: CheckReport::default(),
        packs: HashMap::new(),
        damaged_packs: HashMap::new(),
        segments_read: HashMap::new(),
        packs_examined: HashSet::new(),
        every_blob: false,
    };
    checker.load_index_problems();
    checker.check_key_files()?;
    checker.list_packs()?;
    if scope == Scope::Repository && options.backups.is_none() {
        checker.check_packs_and_index()?;
        checker.every_blob = options.read_data;
    }
    let backups = checker.load_backups(options.backups.as_deref())?;
    checker.report.backups_checked = backups.len();
    for backup in &backups {
        checker.check_structure(backup);
    }
    if options.backups.is_some() && !options.read_data {
        // The trailers of the packs these backups use (one small read each), as a check of
        // the whole repository reads every pack's: a restore refuses a damaged pack up front.
        let packs = checker.packs_to_read(&backups, true);
        checker.read_trailers_of(packs)?;
    }
    if options.read_data {
        let packs = checker.packs_to_read(&backups, options.backups.is_some());
        for pack in packs {
            checker.read_pack(pack)?;
        }
        for backup in &backups {
            checker.read_tables(backup);
        }
    }
    checker.report.packs_checked = checker.packs_examined.len();
    Ok(checker.report)
}

impl Checker<'_> {
    fn problem(&mut self, problem: Problem) {
        self.report.problems.push(problem);
    }

    fn load_index_problems(&mut self) {
        let problems = self
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .problems()
            .to_vec();
        for p in problems {
            let mut problem = Problem::new(ProblemKind::DamagedObject, p.reason);
            match layout::id_of(&p.object).filter(|_| p.object.starts_with(layout::PACKS)) {
                Some(pack) => problem.pack = Some(pack),
                None => problem.object = Some(p.object),
            }
            self.problem(problem);
        }
    }

    /// Every key file of an encrypted repository must still be readable.
    fn check_key_files(&mut self) -> RepoResult<()> {
        for (name, reason) in super::key::damaged_key_files(self.repo.store())? {
            self.problem(Problem {
                object: Some(name),
                ..Problem::new(ProblemKind::DamagedObject, reason)
            });
        }
        Ok(())
    }

    fn list_packs(&mut self) -> RepoResult<()> {
        for object in self.repo.store().list(layout::PACKS)? {
            if let Some(id) = layout::id_of(&object.name) {
                self.packs.insert(id, object.size);
            }
        }
        Ok(())
    }

    fn load_backups(&mut self, only: Option<&[BackupId]>) -> RepoResult<Vec<Backup>> {
        let ids = match only {
            Some(ids) => ids.to_vec(),
            None => self.repo.backup_ids()?,
        };
        let mut backups = Vec::new();
        for id in ids {
            match self.repo.load_backup_listing(&id) {
                Ok(backup) => backups.push(backup),
                Err(e) => {
                    let mut problem = Problem::new(ProblemKind::DamagedBackup, e.to_string());
                    problem.backup = Some(id);
                    self.problem(problem);
                }
            }
        }
        Ok(backups)
    }

    /// Every chunk is indexed, its pack exists and is long enough; table totals add up.
    fn check_structure(&mut self, backup: &Backup) {
        let index = Arc::clone(&self.index);
        let index = index.read().unwrap_or_else(|p| p.into_inner());
        let mut reported: HashSet<(String, Option<PackId>, BlobId)> = HashSet::new();
        let tail = tail_len(self.repo.crypto());
        for table in &backup.manifest.tables {
            self.check_totals(backup, table);
            for blob in table.segments.iter().flat_map(|s| &s.chunks) {
                self.report.blobs_checked += 1;
                let fault = match index.lookup(blob) {
                    None => Some((ProblemKind::MissingBlob, None, "not in the index")),
                    Some(loc) => match self.packs.get(&loc.pack) {
                        None => Some((ProblemKind::MissingPack, Some(loc.pack), "pack is missing")),
                        Some(size) if entry_end(&loc.entry) + tail as u64 > *size => Some((
                            ProblemKind::DamagedPack,
                            Some(loc.pack),
                            "pack is shorter than the index says (truncated)",
                        )),
                        Some(_) => None,
                    },
                };
                let Some((kind, pack, message)) = fault else {
                    continue;
                };
                // One report per table and pack (or per missing blob) is enough.
                let key_blob = if pack.is_some() { Id([0; 32]) } else { *blob };
                if reported.insert((table.name.clone(), pack, key_blob)) {
                    self.problem(Problem {
                        backup: Some(backup.id),
                        table: Some(table.name.clone()),
                        blob: Some(*blob),
                        pack,
                        ..Problem::new(kind, message)
                    });
                }
            }
        }
    }

    fn check_totals(&mut self, backup: &Backup, table: &TableEntry) {
        let sum: u64 = table.segments.iter().map(|s| s.bytes).sum();
        if sum != table.bytes {
            self.problem(Problem {
                backup: Some(backup.id),
                table: Some(table.name.clone()),
                ..Problem::new(
                    ProblemKind::Inconsistent,
                    format!(
                        "table is {} bytes but its segments add up to {sum}",
                        table.bytes
                    ),
                )
            });
        }
    }

    /// All listed packs, or only those the selected backups use.
    fn packs_to_read(&self, backups: &[Backup], selected: bool) -> Vec<PackId> {
        let mut packs: Vec<PackId> = if selected {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            let used: HashSet<PackId> = backups
                .iter()
                .flat_map(|b| &b.manifest.tables)
                .flat_map(|t| &t.segments)
                .flat_map(|s| &s.chunks)
                .filter_map(|blob| index.lookup(blob).map(|l| l.pack))
                .filter(|pack| self.packs.contains_key(pack))
                .collect();
            used.into_iter().collect()
        } else {
            self.packs.keys().copied().collect()
        };
        packs.sort();
        packs
    }

    /// Reads a whole pack; if its bytes do not match its id, finds out where the damage is.
    fn read_pack(&mut self, pack: PackId) -> RepoResult<()> {
        let bytes = match self.repo.store().get(&layout::pack_name(&pack)) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        self.packs_examined.insert(pack);
        self.report.bytes_read += bytes.len() as u64;
        if Id::of_object(&bytes) == pack {
            if self.every_blob {
                self.hash_every_blob(pack, &bytes);
            }
            return Ok(());
        }
        let reason = match self.damaged_blobs(&bytes) {
            Err(reason) => format!("content does not match its id; {reason}"),
            Ok((bad, _)) if bad.is_empty() => {
                "content does not match its id (header or padding damaged; blobs intact)"
                    .to_string()
            }
            Ok((bad, _)) => format!(
                "content does not match its id; damaged blobs: {}",
                bad.iter().map(Id::short).collect::<Vec<_>>().join(", ")
            ),
        };
        self.damaged_packs.insert(pack, reason.clone());
        self.problem(Problem {
            pack: Some(pack),
            ..Problem::new(ProblemKind::DamagedPack, reason)
        });
        Ok(())
    }

    /// The blobs of a whole pack that do not decode to their id and how many blobs it has, or
    /// why the pack's trailer cannot be read.
    fn damaged_blobs(&self, bytes: &[u8]) -> Result<(Vec<BlobId>, usize), String> {
        let crypto = self.repo.crypto();
        let entries = decode_pack(bytes, crypto)?;
        let hasher = self.repo.id_hasher();
        let bad = entries
            .iter()
            .filter(|entry| {
                let start = entry.offset as usize;
                let stored = &bytes[start..start + entry.length as usize];
                !decode_blob(entry, stored, crypto)
                    .is_ok_and(|plain| hasher.blob_id(&plain) == entry.id)
            })
            .map(|entry| entry.id)
            .collect();
        Ok((bad, entries.len()))
    }

    fn read_tables(&mut self, backup: &Backup) {
        for table in &backup.manifest.tables {
            for segment in &table.segments {
                let key = segment_key(segment);
                let faults = match self.segments_read.get(&key) {
                    Some(faults) => faults.clone(),
                    None => {
                        let faults = self.read_segment(segment);
                        self.segments_read.insert(key, faults.clone());
                        faults
                    }
                };
                for fault in faults {
                    self.problem(Problem {
                        backup: Some(backup.id),
                        table: Some(table.name.clone()),
                        blob: fault.blob,
                        pack: fault.pack,
                        ..Problem::new(fault.kind, fault.message)
                    });
                }
            }
        }
    }

    /// Reads a segment blob by blob; faults already reported by the structure check (missing
    /// blobs and packs) are not repeated.
    fn read_segment(&mut self, segment: &Segment) -> Vec<SegmentFault> {
        let index = Arc::clone(&self.index);
        let store = self.repo.store();
        let hasher = self.repo.id_hasher();
        let crypto = self.repo.crypto();
        let mut faults = Vec::new();
        let mut content = blake3::Hasher::new();
        let mut bytes = 0u64;
        let mut intact = true;
        let mut noted_packs = HashSet::new();
        for blob in &segment.chunks {
            match load_blob(store, &index, hasher, crypto, blob) {
                Ok(plain) => {
                    self.report.bytes_read += plain.len() as u64;
                    bytes += plain.len() as u64;
                    content.update(&plain);
                    self.note_damaged_pack(blob, &mut noted_packs, &mut faults);
                }
                Err(fault) => {
                    intact = false;
                    let already_reported = fault.pack.is_none_or(|p| !self.packs.contains_key(&p));
                    if !already_reported {
                        faults.push(SegmentFault {
                            kind: ProblemKind::DamagedBlob,
                            blob: Some(*blob),
                            pack: fault.pack,
                            message: fault.reason,
                        });
                    }
                }
            }
        }
        let hash = Id(*content.finalize().as_bytes());
        if intact && (hash != segment.content_hash || bytes != segment.bytes) {
            faults.push(SegmentFault {
                kind: ProblemKind::ContentMismatch,
                blob: None,
                pack: None,
                message: format!(
                    "reads back as {bytes} bytes with hash {}, the manifest says {} bytes with hash {}",
                    hash.short(),
                    segment.bytes,
                    segment.content_hash.short()
                ),
            });
        }
        faults
    }

    /// A blob that reads back intact from a pack whose bytes are damaged elsewhere: the backup
    /// still restores, but the pack needs repair, so name the backup and table once per pack.
    fn note_damaged_pack(
        &self,
        blob: &BlobId,
        noted: &mut HashSet<PackId>,
        faults: &mut Vec<SegmentFault>,
    ) {
        let pack = self
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .lookup(blob)
            .map(|l| l.pack);
        let Some(pack) = pack else { return };
        let Some(reason) = self.damaged_packs.get(&pack) else {
            return;
        };
        if noted.insert(pack) {
            faults.push(SegmentFault {
                kind: ProblemKind::DamagedPack,
                blob: Some(*blob),
                pack: Some(pack),
                message: format!("stored in a damaged pack ({reason})"),
            });
        }
    }
}

fn entry_end(entry: &super::pack::PackEntry) -> u64 {
    u64::from(entry.offset) + u64::from(entry.length)
}

/// Identifies a segment by its content hash and chunk list.
fn segment_key(segment: &Segment) -> Id {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&segment.content_hash.0);
    hasher.update(&segment.bytes.to_le_bytes());
    for chunk in &segment.chunks {
        hasher.update(&chunk.0);
    }
    Id(*hasher.finalize().as_bytes())
}
