//! Authenticated encryption of repository objects (docs/FORMAT.md, "Encryption").
//!
//! A [`MasterKey`] is drawn at `init`: an encryption key for XChaCha20-Poly1305 and an id key for
//! the keyed BLAKE3 that names blobs. Every object of an encrypted repository is *sealed*:
//! `nonce (24 random bytes) | ciphertext | Poly1305 tag (16)`, with the object's kind as
//! associated data so that an object of one kind cannot be passed off as another.
//!
//! [`Crypto`] is what the rest of the repository layer holds: `None` (objects stored as they
//! are) or a key. Codecs call [`Crypto::seal`] / [`Crypto::open`] and never look at keys. Key
//! material is zeroized on drop. This module does no I/O and knows nothing about passphrases
//! (see [`super::key`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::recipient::DataKeys;

/// Length of the random nonce that starts every sealed object.
pub const NONCE_LEN: usize = 24;
/// Length of the authentication tag that ends every sealed object.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed object has beyond its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Length of a master key: encryption key, then id key.
pub const MASTER_KEY_LEN: usize = 64;

/// What a sealed object is; its label is the AEAD's associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// One blob in a pack.
    Blob,
    /// The trailer of a pack (its blob list).
    PackTrailer,
    /// An index file.
    Index,
    /// A manifest.
    Manifest,
    /// A lock.
    Lock,
    /// The sealed repository parameters inside `config`.
    Parameters,
    /// The master key, wrapped in a key file by a passphrase-derived key.
    MasterKey,
    /// An apply record (what `strata apply` changed, for `strata rollback`).
    ApplyRecord,
    /// The full manifest inside a public-key repository's writer-readable backup record.
    ManifestContent,
}

impl ObjectKind {
    fn label(self) -> &'static [u8] {
        match self {
            ObjectKind::Blob => b"strata blob",
            ObjectKind::PackTrailer => b"strata pack trailer",
            ObjectKind::Index => b"strata index",
            ObjectKind::Manifest => b"strata manifest",
            ObjectKind::Lock => b"strata lock",
            ObjectKind::Parameters => b"strata config",
            ObjectKind::MasterKey => b"strata master key",
            ObjectKind::ApplyRecord => b"strata apply record",
            ObjectKind::ManifestContent => b"strata manifest content",
        }
    }

    /// Whether objects of this kind carry database content (sealed with a data key in a
    /// public-key repository, so that the writer cannot read them back).
    fn is_content(self) -> bool {
        matches!(
            self,
            ObjectKind::Blob | ObjectKind::ManifestContent | ObjectKind::ApplyRecord
        )
    }
}

/// Why sealing failed: only the operating system's random source can make it fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("encryption failed: {0}")]
pub struct SealError(pub String);

/// Why a sealed object could not be opened.
pub const AUTHENTICATION_FAILED: &str =
    "authentication failed (the object was modified or damaged)";

/// A 256-bit XChaCha20-Poly1305 key with its cipher ready; zeroized on drop.
pub struct SealingKey {
    cipher: XChaCha20Poly1305,
}

impl SealingKey {
    /// A cipher for `key` (32 bytes).
    pub fn new(key: &[u8; 32]) -> SealingKey {
        SealingKey {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)),
        }
    }

    /// `nonce | ciphertext | tag` of `plaintext`, bound to `kind` and `context`.
    pub fn seal(
        &self,
        kind: ObjectKind,
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| SealError(format!("no random nonce from the operating system: {e}")))?;
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                &associated_data(kind, context),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| SealError("the object is too large to encrypt".to_string()))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// The plaintext of a sealed object, or a reason it is not authentic.
    pub fn open(&self, kind: ObjectKind, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < OVERHEAD {
            return Err(format!(
                "{} bytes is too short for an encrypted object",
                sealed.len()
            ));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut plain = ciphertext.to_vec();
        self.cipher
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &associated_data(kind, context),
                &mut plain,
                Tag::from_slice(tag),
            )
            .map_err(|_| AUTHENTICATION_FAILED.to_string())?;
        Ok(plain)
    }
}

fn associated_data(kind: ObjectKind, context: &[u8]) -> Vec<u8> {
    [kind.label(), context].concat()
}

/// A repository's master key: the object encryption key and the blob id key.
pub struct MasterKey {
    sealing: SealingKey,
    bytes: Zeroizing<[u8; MASTER_KEY_LEN]>,
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<MasterKey, SealError> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        getrandom::fill(bytes.as_mut())
            .map_err(|e| SealError(format!("no random key from the operating system: {e}")))?;
        Ok(MasterKey::from_array(bytes))
    }

    /// The master key in `bytes` (as unwrapped from a key file).
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, String> {
        let array: [u8; MASTER_KEY_LEN] = bytes.try_into().map_err(|_| {
            format!(
                "a master key is {MASTER_KEY_LEN} bytes, not {}",
                bytes.len()
            )
        })?;
        Ok(MasterKey::from_array(Zeroizing::new(array)))
    }

    fn from_array(bytes: Zeroizing<[u8; MASTER_KEY_LEN]>) -> MasterKey {
        let mut encryption = Zeroizing::new([0u8; 32]);
        encryption.copy_from_slice(&bytes[..32]);
        MasterKey {
            sealing: SealingKey::new(&encryption),
            bytes,
        }
    }

    /// The raw key, for wrapping into a key file.
    pub(crate) fn bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.bytes
    }

    /// Seals with `context` added to the associated data (the sealed config parameters are
    /// bound to the repository id).
    pub(crate) fn seal(
        &self,
        kind: ObjectKind,
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        self.sealing.seal(kind, context, plaintext)
    }

    /// Opens what [`MasterKey::seal`] sealed with the same `context`.
    pub(crate) fn open(
        &self,
        kind: ObjectKind,
        context: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, String> {
        self.sealing.open(kind, context, sealed)
    }

    /// The key of the keyed BLAKE3 that names blobs.
    pub fn id_key(&self) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&self.bytes[32..]);
        key
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

/// How the objects of a repository are stored: as they are, sealed with its master key, or
/// (public-key mode) content sealed with data keys and the rest with the writer's master key.
#[derive(Clone)]
pub enum Crypto {
    /// An unencrypted repository (format 1): objects are stored as they are.
    None,
    /// An encrypted repository: every object is sealed with this key.
    Keyed(Arc<MasterKey>),
    /// A public-key repository (format 3): content ([`ObjectKind::is_content`]) is sealed with
    /// data keys wrapped to age recipients; index files, trailers and locks with `writer`.
    PublicKey(Arc<PublicKeys>),
}

/// The keys of a public-key repository: the writer's master key and the data keys.
pub struct PublicKeys {
    pub writer: MasterKey,
    pub data: DataKeys,
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Crypto::None => "Crypto::None",
            Crypto::Keyed(_) => "Crypto::Keyed",
            Crypto::PublicKey(_) => "Crypto::PublicKey",
        })
    }
}

impl Crypto {
    pub fn is_encrypted(&self) -> bool {
        !matches!(self, Crypto::None)
    }

    /// Whether content can be read: false only for a public-key repository opened without an
    /// identity.
    pub fn can_read_content(&self) -> bool {
        match self {
            Crypto::PublicKey(keys) => keys.data.can_read(),
            _ => true,
        }
    }

    /// Bytes a stored object that is not content has beyond its plaintext.
    pub fn overhead(&self) -> usize {
        match self {
            Crypto::None => 0,
            Crypto::Keyed(_) | Crypto::PublicKey(_) => OVERHEAD,
        }
    }

    /// The stored form of an object.
    pub fn seal(&self, kind: ObjectKind, plaintext: Vec<u8>) -> Result<Vec<u8>, SealError> {
        match self {
            Crypto::None => Ok(plaintext),
            Crypto::Keyed(key) => key.seal(kind, b"", &plaintext),
            Crypto::PublicKey(keys) if kind.is_content() => keys.data.seal(kind, &plaintext),
            Crypto::PublicKey(keys) => keys.writer.seal(kind, b"", &plaintext),
        }
    }

    /// The plaintext of a stored object, authenticated when the repository is encrypted.
    pub fn open<'a>(&self, kind: ObjectKind, stored: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
        match self {
            Crypto::None => Ok(Cow::Borrowed(stored)),
            Crypto::Keyed(key) => key.open(kind, b"", stored).map(Cow::Owned),
            Crypto::PublicKey(keys) if kind.is_content() => {
                keys.data.open(kind, stored).map(Cow::Owned)
            }
            Crypto::PublicKey(keys) => keys.writer.open(kind, b"", stored).map(Cow::Owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keyed() -> Crypto {
        Crypto::Keyed(Arc::new(MasterKey::generate().unwrap()))
    }

    #[test]
    fn sealed_objects_open_and_hide_their_content() {
        let crypto = keyed();
        let plain = b"public.customers\tsecret row value\n".repeat(4);
        let sealed = crypto.seal(ObjectKind::Manifest, plain.clone()).unwrap();
        assert_eq!(sealed.len(), plain.len() + OVERHEAD);
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let again = crypto.seal(ObjectKind::Manifest, plain.clone()).unwrap();
        assert_ne!(sealed, again, "every seal draws a new nonce");
        assert_eq!(
            crypto.open(ObjectKind::Manifest, &sealed).unwrap().as_ref(),
            &plain[..]
        );
    }

    #[test]
    fn any_flipped_bit_fails_authentication() {
        let crypto = keyed();
        let sealed = crypto
            .seal(ObjectKind::Index, b"index bytes".to_vec())
            .unwrap();
        for i in 0..sealed.len() {
            for bit in [0, 7] {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                assert_eq!(
                    crypto.open(ObjectKind::Index, &bad).unwrap_err(),
                    AUTHENTICATION_FAILED
                );
            }
        }
    }

    #[test]
    fn an_object_of_another_kind_or_key_does_not_open() {
        let crypto = keyed();
        let sealed = crypto.seal(ObjectKind::Lock, b"{}".to_vec()).unwrap();
        assert!(crypto.open(ObjectKind::Manifest, &sealed).is_err());
        assert!(keyed().open(ObjectKind::Lock, &sealed).is_err());
        assert!(crypto.open(ObjectKind::Lock, &sealed[..10]).is_err());
    }

    #[test]
    fn unencrypted_objects_are_stored_as_they_are() {
        let sealed = Crypto::None.seal(ObjectKind::Blob, b"x".to_vec()).unwrap();
        assert_eq!(sealed, b"x");
        assert_eq!(Crypto::None.overhead(), 0);
    }

    proptest! {
        #[test]
        fn opening_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = keyed().open(ObjectKind::Blob, &bytes);
        }
    }
}
