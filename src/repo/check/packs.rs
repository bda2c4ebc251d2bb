//! The whole-repository part of a check: packs and index files against each other, without
//! regard to which backups need what. Every stored pack's trailer must read, and its blobs must
//! fill the space between header (none in an encrypted pack) and trailer exactly (a pack of
//! the wrong size is damaged); every entry of every index file must agree with its pack's
//! trailer, and every pack an index file lists must exist. Packs that no index file lists are noted, not reported as damage.

use std::collections::{HashMap, HashSet};

use super::super::error::RepoResult;
use super::super::id::{BlobId, PackId};
use super::super::index::{self, read_index_file, read_trailer_and_start, TrailerError};
use super::super::layout;
use super::super::pack::{self, PackEntry};
use super::{Checker, Problem, ProblemKind};

impl Checker<'_> {
    /// See the module documentation.
    pub(super) fn check_packs_and_index(&mut self) -> RepoResult<()> {
        let trailers = self.read_trailers()?;
        for name in index::index_file_names(self.repo.store())? {
            // A damaged index file was reported when the index was loaded.
            let Ok(listings) = read_index_file(self.repo.store(), self.repo.crypto(), &name)?
            else {
                continue;
            };
            for (pack, entries) in listings {
                match trailers.get(&pack) {
                    Some(trailer) => self.compare_with_trailer(&name, pack, &entries, trailer),
                    None if !self.packs.contains_key(&pack) => self.problem(Problem {
                        pack: Some(pack),
                        object: Some(name.clone()),
                        ..Problem::new(
                            ProblemKind::MissingPack,
                            "the index file lists this pack, which is missing",
                        )
                    }),
                    // Its trailer is damaged: already reported.
                    None => {}
                }
            }
        }
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let mut unindexed: Vec<PackId> = index.recovered().iter().map(|(id, _)| *id).collect();
        unindexed.sort();
        drop(index);
        self.report.unindexed_packs = unindexed;
        Ok(())
    }

    /// Reads every stored pack's trailer; reports packs whose trailer is damaged or whose
    /// size it does not account for. Returns the intact trailers.
    fn read_trailers(&mut self) -> RepoResult<HashMap<PackId, HashMap<BlobId, PackEntry>>> {
        let packs: Vec<PackId> = self.packs.keys().copied().collect();
        self.read_trailers_of(packs)
    }

    /// [`Self::read_trailers`] for the given stored packs only (what selected backups use).
    pub(super) fn read_trailers_of(
        &mut self,
        packs: Vec<PackId>,
    ) -> RepoResult<HashMap<PackId, HashMap<BlobId, PackEntry>>> {
        let already_reported: HashSet<PackId> =
            self.report.problems.iter().filter_map(|p| p.pack).collect();
        let mut packs: Vec<(PackId, u64)> = packs
            .into_iter()
            .filter_map(|p| self.packs.get(&p).map(|s| (p, *s)))
            .collect();
        packs.sort();
        let mut trailers = HashMap::new();
        for (pack, size) in packs {
            if already_reported.contains(&pack) {
                continue;
            }
            self.packs_examined.insert(pack);
            let name = layout::pack_name(&pack);
            let (entries, trailer_start) =
                match read_trailer_and_start(self.repo.store(), self.repo.crypto(), &name) {
                    Ok(found) => found,
                    Err(TrailerError::Store(e)) if e.is_not_found() => continue,
                    Err(TrailerError::Store(e)) => return Err(e.into()),
                    Err(TrailerError::Damaged(reason)) => {
                        self.damaged_pack(pack, format!("trailer: {reason}"));
                        continue;
                    }
                };
            let blob_area_start = pack::header_len(self.repo.crypto()) as u64;
            if let Err(reason) = blobs_fill_the_pack(&entries, blob_area_start, trailer_start, size)
            {
                self.damaged_pack(pack, reason);
                continue;
            }
            trailers.insert(pack, entries.into_iter().map(|e| (e.id, e)).collect());
        }
        Ok(trailers)
    }

    /// One problem per index file and pack, naming the first disagreeing blob.
    fn compare_with_trailer(
        &mut self,
        index_file: &str,
        pack: PackId,
        entries: &[PackEntry],
        trailer: &HashMap<BlobId, PackEntry>,
    ) {
        let wrong: Vec<&PackEntry> = entries
            .iter()
            .filter(|e| trailer.get(&e.id) != Some(*e))
            .collect();
        let Some(first) = wrong.first() else {
            return;
        };
        let what = match trailer.get(&first.id) {
            None => "is not in the pack's trailer".to_string(),
            Some(t) => format!(
                "is at offset {} length {} per the index, at offset {} length {} per the pack's trailer",
                first.offset, first.length, t.offset, t.length
            ),
        };
        self.problem(Problem {
            pack: Some(pack),
            blob: Some(first.id),
            object: Some(index_file.to_string()),
            ..Problem::new(
                ProblemKind::IndexMismatch,
                format!(
                    "{} of the index file's {} entries for this pack disagree with it; this blob {what}; run `strata repair index`",
                    wrong.len(),
                    entries.len()
                ),
            )
        });
    }

    fn damaged_pack(&mut self, pack: PackId, reason: String) {
        self.damaged_packs.insert(pack, reason.clone());
        self.problem(Problem {
            pack: Some(pack),
            ..Problem::new(ProblemKind::DamagedPack, reason)
        });
    }

    /// Decodes and hashes every blob of an intact pack (`check --read-data`).
    pub(super) fn hash_every_blob(&mut self, pack: PackId, bytes: &[u8]) {
        match self.damaged_blobs(bytes) {
            Ok((bad, _)) => {
                for blob in bad {
                    self.problem(Problem {
                        pack: Some(pack),
                        blob: Some(blob),
                        ..Problem::new(
                            ProblemKind::DamagedBlob,
                            "does not decode to its id (stored wrong when written)",
                        )
                    });
                }
            }
            Err(reason) => self.damaged_pack(pack, reason),
        }
    }
}

/// The blobs lie back to back from the header (the pack's start in an encrypted pack) to the
/// trailer: a pack of any other size was truncated, extended or written wrong.
fn blobs_fill_the_pack(
    entries: &[PackEntry],
    blob_area_start: u64,
    trailer_start: u64,
    size: u64,
) -> Result<(), String> {
    let mut spans: Vec<(u64, u64)> = entries
        .iter()
        .map(|e| {
            (
                u64::from(e.offset),
                u64::from(e.offset) + u64::from(e.length),
            )
        })
        .collect();
    spans.sort();
    let mut expected = blob_area_start;
    for (start, end) in spans {
        if start != expected {
            return Err(format!(
                "{size} bytes, but its blobs do not lie back to back (a gap or overlap at byte {expected})"
            ));
        }
        expected = end;
    }
    if expected != trailer_start {
        return Err(format!(
            "{size} bytes, but its blobs end at byte {expected} and its trailer starts at byte {trailer_start}"
        ));
    }
    Ok(())
}
