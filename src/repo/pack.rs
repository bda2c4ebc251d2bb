//! Pack files (docs/FORMAT.md, "Pack files"): many stored blobs followed by a trailer that lists
//! them, so the index can always be rebuilt from the packs alone.
//!
//! Two layouts, decided by the repository's [`Crypto`]: an unencrypted pack has a header and a
//! checksummed trailer and footer in clear; an encrypted pack is sealed blobs, a sealed trailer
//! and the trailer's length, nothing else in clear.
//!
//! [`PackBuilder`] assembles a pack in memory; the decoders ([`locate_trailer`],
//! [`decode_trailer`], [`decode_pack`], [`decode_blob`]) treat every byte as untrusted and return
//! a reason string instead of panicking. This module does no I/O.

use super::config::MAX_BLOB_SIZE;
use super::crypto::{Crypto, ObjectKind, SealError};
use super::id::{BlobId, Id, PackId};

const MAGIC: &[u8; 4] = b"SPAK";
const FOOTER_MAGIC: &[u8; 4] = b"SPKT";
/// Pack format version of unencrypted packs.
pub const PACK_VERSION: u32 = 1;
/// Pack format version of encrypted packs (inside the sealed trailer).
pub const SEALED_PACK_VERSION: u32 = 2;
/// Length of an encrypted pack's clear tail: the sealed trailer's length, u32.
pub const SEALED_TAIL_LEN: usize = 4;
/// Length of the pack header.
pub const HEADER_LEN: usize = 8;
/// Length of one trailer entry.
pub const ENTRY_LEN: usize = 46;
/// Length of the footer: entry count, trailer hash, version, magic.
pub const FOOTER_LEN: usize = 44;

/// How a blob's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobCompression {
    None = 0,
    Zstd = 1,
}

/// What a blob holds. Only table data exists in format 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    Data = 0,
}

/// One blob as a pack's trailer (and the index) describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackEntry {
    pub id: BlobId,
    /// Offset of the stored bytes from the start of the pack file.
    pub offset: u32,
    /// Stored (possibly compressed) length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
    pub compression: BlobCompression,
    pub kind: BlobKind,
}

impl PackEntry {
    /// Appends the entry's 46-byte encoding (shared by pack trailers and index files).
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.raw_length.to_le_bytes());
        out.push(self.compression as u8);
        out.push(self.kind as u8);
    }

    /// Decodes one 46-byte entry.
    pub(crate) fn decode(bytes: &[u8]) -> Result<PackEntry, String> {
        let mut r = Bytes::new(bytes);
        let id = Id(r.array()?);
        let (offset, length, raw_length) = (r.u32()?, r.u32()?, r.u32()?);
        let compression = match r.u8()? {
            0 => BlobCompression::None,
            1 => BlobCompression::Zstd,
            other => return Err(format!("blob {id}: unknown compression {other}")),
        };
        let kind = match r.u8()? {
            0 => BlobKind::Data,
            other => return Err(format!("blob {id}: unknown blob kind {other}")),
        };
        if raw_length as usize > MAX_BLOB_SIZE {
            return Err(format!(
                "blob {id}: plaintext length {raw_length} exceeds the limit"
            ));
        }
        Ok(PackEntry {
            id,
            offset,
            length,
            raw_length,
            compression,
            kind,
        })
    }
}

/// A pack under construction, in memory.
pub struct PackBuilder {
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
    crypto: Crypto,
}

/// A complete pack: its id, bytes and entries.
pub struct FinishedPack {
    pub id: PackId,
    pub bytes: Vec<u8>,
    pub entries: Vec<PackEntry>,
}

impl PackBuilder {
    /// An empty pack of the layout `crypto` calls for; blobs given to [`PackBuilder::add`] must
    /// already be sealed with it ([`seal_blob`]).
    pub fn new(capacity: usize, crypto: &Crypto) -> PackBuilder {
        let mut bytes = Vec::with_capacity(capacity);
        if !crypto.is_encrypted() {
            bytes.extend_from_slice(MAGIC);
            bytes.extend_from_slice(&PACK_VERSION.to_le_bytes());
        }
        PackBuilder {
            bytes,
            entries: Vec::new(),
            crypto: crypto.clone(),
        }
    }

    /// Bytes so far (header and blobs).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when no blob has been added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a stored blob.
    pub fn add(
        &mut self,
        id: BlobId,
        stored: &[u8],
        raw_length: usize,
        compression: BlobCompression,
    ) {
        self.entries.push(PackEntry {
            id,
            offset: self.bytes.len() as u32,
            length: stored.len() as u32,
            raw_length: raw_length as u32,
            compression,
            kind: BlobKind::Data,
        });
        self.bytes.extend_from_slice(stored);
    }

    /// Writes the trailer and footer (sealed in an encrypted pack) and names the pack.
    pub fn finish(self) -> Result<FinishedPack, SealError> {
        let PackBuilder {
            mut bytes,
            entries,
            crypto,
        } = self;
        if crypto.is_encrypted() {
            let mut trailer = Vec::with_capacity(8 + entries.len() * ENTRY_LEN);
            trailer.extend_from_slice(FOOTER_MAGIC);
            trailer.extend_from_slice(&SEALED_PACK_VERSION.to_le_bytes());
            for entry in &entries {
                entry.encode_into(&mut trailer);
            }
            let sealed = crypto.seal(ObjectKind::PackTrailer, trailer)?;
            bytes.extend_from_slice(&sealed);
            bytes.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        } else {
            let trailer_start = bytes.len();
            for entry in &entries {
                entry.encode_into(&mut bytes);
            }
            let trailer_hash = blake3::hash(&bytes[trailer_start..]);
            bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
            bytes.extend_from_slice(trailer_hash.as_bytes());
            bytes.extend_from_slice(&PACK_VERSION.to_le_bytes());
            bytes.extend_from_slice(FOOTER_MAGIC);
        }
        Ok(FinishedPack {
            id: Id::of_object(&bytes),
            bytes,
            entries,
        })
    }
}

/// The stored form of a (compressed) blob: sealed in an encrypted repository.
pub fn seal_blob(crypto: &Crypto, stored: Vec<u8>) -> Result<Vec<u8>, SealError> {
    crypto.seal(ObjectKind::Blob, stored)
}

/// Length of the pack header: none in an encrypted pack.
pub fn header_len(crypto: &Crypto) -> usize {
    if crypto.is_encrypted() {
        0
    } else {
        HEADER_LEN
    }
}

/// Length of the clear bytes at the end of a pack that say where the trailer is.
pub fn tail_len(crypto: &Crypto) -> usize {
    if crypto.is_encrypted() {
        SEALED_TAIL_LEN
    } else {
        FOOTER_LEN
    }
}

/// Where a pack's trailer lies, as its tail says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailerSpan {
    pub start: u64,
    pub len: u64,
    /// The footer of an unencrypted pack (its checksum covers the trailer).
    footer: Option<Footer>,
}

/// Reads the last [`tail_len`] bytes of a pack of `pack_size` bytes.
pub fn locate_trailer(tail: &[u8], pack_size: u64, crypto: &Crypto) -> Result<TrailerSpan, String> {
    if !crypto.is_encrypted() {
        let footer = decode_footer(tail)?;
        let start = footer.trailer_start(pack_size)?;
        return Ok(TrailerSpan {
            start,
            len: u64::from(footer.count) * ENTRY_LEN as u64,
            footer: Some(footer),
        });
    }
    let Ok(tail) = <[u8; SEALED_TAIL_LEN]>::try_from(tail) else {
        return Err(format!(
            "tail is {} bytes, expected {SEALED_TAIL_LEN}",
            tail.len()
        ));
    };
    let len = u64::from(u32::from_le_bytes(tail));
    let start = pack_size
        .checked_sub(SEALED_TAIL_LEN as u64 + len)
        .filter(|_| len >= (crypto.overhead() + 8) as u64)
        .ok_or_else(|| format!("a sealed trailer of {len} bytes does not fit the pack"))?;
    Ok(TrailerSpan {
        start,
        len,
        footer: None,
    })
}

/// What the footer says: how many entries the trailer has and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    pub count: u32,
    pub trailer_hash: [u8; 32],
}

impl Footer {
    /// Where the trailer starts in a pack of `pack_size` bytes.
    pub fn trailer_start(&self, pack_size: u64) -> Result<u64, String> {
        let trailer_len = u64::from(self.count) * ENTRY_LEN as u64;
        pack_size
            .checked_sub(FOOTER_LEN as u64 + trailer_len)
            .filter(|start| *start >= HEADER_LEN as u64)
            .ok_or_else(|| format!("trailer of {} entries does not fit the pack", self.count))
    }
}

/// Decodes the last [`FOOTER_LEN`] bytes of a pack.
pub fn decode_footer(footer: &[u8]) -> Result<Footer, String> {
    if footer.len() != FOOTER_LEN {
        return Err(format!(
            "footer is {} bytes, expected {FOOTER_LEN}",
            footer.len()
        ));
    }
    let mut r = Bytes::new(footer);
    let count = r.u32()?;
    let trailer_hash = r.array()?;
    let version = r.u32()?;
    if r.array::<4>()? != *FOOTER_MAGIC {
        return Err("not a pack file (bad footer magic)".to_string());
    }
    check_version(version)?;
    Ok(Footer {
        count,
        trailer_hash,
    })
}

/// Decodes and checks (or authenticates) the trailer `span` locates.
pub fn decode_trailer(
    trailer: &[u8],
    span: &TrailerSpan,
    crypto: &Crypto,
) -> Result<Vec<PackEntry>, String> {
    if trailer.len() as u64 != span.len {
        return Err("trailer length does not match the pack's tail".to_string());
    }
    let opened = crypto.open(ObjectKind::PackTrailer, trailer)?;
    let body = match &span.footer {
        Some(footer) => {
            if blake3::hash(trailer).as_bytes() != &footer.trailer_hash {
                return Err("trailer checksum mismatch".to_string());
            }
            &opened[..]
        }
        None => {
            let mut r = Bytes::new(&opened);
            if r.array::<4>()? != *FOOTER_MAGIC {
                return Err("not a pack trailer (bad magic)".to_string());
            }
            let version = r.u32()?;
            if version != SEALED_PACK_VERSION {
                return Err(format!(
                    "pack format {version}, this strata reads {SEALED_PACK_VERSION}; upgrade strata if it is newer"
                ));
            }
            r.rest
        }
    };
    if body.len() % ENTRY_LEN != 0 {
        return Err("trailer length is not a whole number of entries".to_string());
    }
    let entries = body
        .chunks_exact(ENTRY_LEN)
        .map(PackEntry::decode)
        .collect::<Result<Vec<_>, _>>()?;
    let header = header_len(crypto);
    for entry in &entries {
        let end = u64::from(entry.offset) + u64::from(entry.length);
        if (entry.offset as usize) < header || end > span.start {
            return Err(format!(
                "blob {} lies outside the pack's blob area",
                entry.id
            ));
        }
    }
    Ok(entries)
}

/// Length of the smallest pack of a layout (no blobs).
pub fn min_len(crypto: &Crypto) -> usize {
    if crypto.is_encrypted() {
        crypto.overhead() + 8 + SEALED_TAIL_LEN
    } else {
        HEADER_LEN + FOOTER_LEN
    }
}

/// Decodes a whole pack file's header, trailer and footer.
pub fn decode_pack(bytes: &[u8], crypto: &Crypto) -> Result<Vec<PackEntry>, String> {
    if bytes.len() < min_len(crypto) {
        return Err(format!("{} bytes is too short for a pack", bytes.len()));
    }
    if !crypto.is_encrypted() {
        let mut header = Bytes::new(&bytes[..HEADER_LEN]);
        if header.array::<4>()? != *MAGIC {
            return Err("not a pack file (bad header magic)".to_string());
        }
        check_version(header.u32()?)?;
    }
    let tail = bytes.len() - tail_len(crypto);
    let span = locate_trailer(&bytes[tail..], bytes.len() as u64, crypto)?;
    let trailer = &bytes[span.start as usize..(span.start + span.len) as usize];
    decode_trailer(trailer, &span, crypto)
}

/// The plaintext of a stored blob, authenticated (encrypted repositories), decompressed and
/// length-checked (not hash-checked: that needs the repository's id hasher).
pub fn decode_blob(entry: &PackEntry, stored: &[u8], crypto: &Crypto) -> Result<Vec<u8>, String> {
    if stored.len() != entry.length as usize {
        return Err(format!(
            "{} stored bytes, the index says {}",
            stored.len(),
            entry.length
        ));
    }
    let stored = crypto.open(ObjectKind::Blob, stored)?;
    let raw_length = (entry.raw_length as usize).min(MAX_BLOB_SIZE);
    let plain = match entry.compression {
        BlobCompression::None => stored.into_owned(),
        BlobCompression::Zstd => {
            zstd::bulk::decompress(&stored, raw_length).map_err(|e| format!("zstd: {e}"))?
        }
    };
    if plain.len() != entry.raw_length as usize {
        return Err(format!(
            "{} plaintext bytes, the index says {}",
            plain.len(),
            entry.raw_length
        ));
    }
    Ok(plain)
}

fn check_version(version: u32) -> Result<(), String> {
    if version != PACK_VERSION {
        return Err(format!(
            "pack format {version}, this strata reads {PACK_VERSION}; upgrade strata if it is newer"
        ));
    }
    Ok(())
}

/// A cursor over untrusted bytes whose reads fail instead of panicking.
pub(crate) struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Bytes<'a> {
        Bytes { rest: bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err("unexpected end of data".to_string());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::crypto::MasterKey;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn keyed() -> Crypto {
        Crypto::Keyed(Arc::new(MasterKey::generate().unwrap()))
    }

    fn sample_pack(crypto: &Crypto) -> FinishedPack {
        let mut builder = PackBuilder::new(1024, crypto);
        for row in [&b"1\ta\n"[..], b"2\tb\n", b"3\tc\n"] {
            let stored = seal_blob(crypto, zstd::bulk::compress(row, 3).unwrap()).unwrap();
            builder.add(
                Id::of_object(row),
                &stored,
                row.len(),
                BlobCompression::Zstd,
            );
        }
        let raw = seal_blob(crypto, b"raw".to_vec()).unwrap();
        builder.add(Id::of_object(b"raw"), &raw, 3, BlobCompression::None);
        builder.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        for crypto in [Crypto::None, keyed()] {
            let pack = sample_pack(&crypto);
            assert_eq!(pack.id, Id::of_object(&pack.bytes));
            let entries = decode_pack(&pack.bytes, &crypto).unwrap();
            assert_eq!(entries, pack.entries);
            for (entry, plain) in entries
                .iter()
                .zip([&b"1\ta\n"[..], b"2\tb\n", b"3\tc\n", b"raw"])
            {
                let stored = &pack.bytes[entry.offset as usize..][..entry.length as usize];
                assert_eq!(decode_blob(entry, stored, &crypto).unwrap(), plain);
            }
        }
    }

    #[test]
    fn an_encrypted_pack_shows_no_magic_ids_or_content() {
        let crypto = keyed();
        let pack = sample_pack(&crypto);
        assert!(!pack
            .bytes
            .windows(4)
            .any(|w| w == MAGIC || w == FOOTER_MAGIC));
        assert!(!pack.bytes.windows(3).any(|w| w == b"raw"));
        for entry in &pack.entries {
            assert!(!pack.bytes.windows(32).any(|w| w == entry.id.0));
        }
        assert!(decode_pack(&pack.bytes, &keyed()).is_err(), "another key");
        assert!(decode_pack(&pack.bytes, &Crypto::None).is_err());
    }

    #[test]
    fn a_flipped_trailer_byte_is_detected() {
        let mut bytes = sample_pack(&Crypto::None).bytes;
        let at = bytes.len() - FOOTER_LEN - 10;
        bytes[at] ^= 1;
        assert!(decode_pack(&bytes, &Crypto::None)
            .unwrap_err()
            .contains("checksum"));
        let crypto = keyed();
        let mut bytes = sample_pack(&crypto).bytes;
        let at = bytes.len() - SEALED_TAIL_LEN - 10;
        bytes[at] ^= 1;
        assert!(decode_pack(&bytes, &crypto)
            .unwrap_err()
            .contains("authentication"));
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            for crypto in [Crypto::None, keyed()] {
                let _ = decode_pack(&bytes, &crypto);
                let tail = tail_len(&crypto).min(bytes.len());
                let _ = locate_trailer(&bytes[..tail], bytes.len() as u64, &crypto);
            }
        }

        #[test]
        fn decoding_mutated_packs_never_panics(pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>(), encrypted in any::<bool>()) {
            let crypto = if encrypted { keyed() } else { Crypto::None };
            let pack = sample_pack(&crypto);
            let mut bytes = pack.bytes.clone();
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Ok(entries) = decode_pack(&bytes, &crypto) {
                for entry in entries {
                    let end = (entry.offset as usize + entry.length as usize).min(bytes.len());
                    let start = (entry.offset as usize).min(end);
                    let _ = decode_blob(&entry, &bytes[start..end], &crypto);
                }
            }
            bytes.truncate(cut % (bytes.len() + 1));
            let _ = decode_pack(&bytes, &crypto);
        }

        #[test]
        fn decoding_random_blobs_never_panics(stored in proptest::collection::vec(any::<u8>(), 0..300), raw_length in any::<u32>(), zstd in any::<bool>()) {
            let entry = PackEntry {
                id: Id([0; 32]),
                offset: 8,
                length: stored.len() as u32,
                raw_length,
                compression: if zstd { BlobCompression::Zstd } else { BlobCompression::None },
                kind: BlobKind::Data,
            };
            let _ = decode_blob(&entry, &stored, &Crypto::None);
            let _ = decode_blob(&entry, &stored, &keyed());
        }
    }
}
