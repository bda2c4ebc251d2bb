//! Public-key mode (format 3, docs/FORMAT.md "Public-key repositories"): content that only the
//! holder of an age X25519 identity can read, written by a host that holds only the passphrase.
//!
//! Content objects (blobs, manifest contents, apply records) are sealed with a *data key*: 32
//! random bytes drawn once per opened repository, when it first seals content. The data key is
//! encrypted with age to the repository's recipients and stored as `datakeys/<id>`, and every
//! content object starts with that id. The writer forgets the data key when it exits, so it can
//! never open what it wrote. Reading content takes an [`Identities`]: a data key is fetched,
//! checked against its name and decrypted once, then cached.
//!
//! This module owns the data keys and the parsing of recipients and identities; which objects
//! count as content is [`super::crypto::Crypto`]'s business.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use age::x25519;
use zeroize::Zeroizing;

use super::crypto::{ObjectKind, SealError, SealingKey};
use super::id::Id;
use crate::store::Store;

/// Prefix of the stored data keys.
pub const DATA_KEYS: &str = "datakeys/";

/// Why content could not be opened: no identity was given.
pub const IDENTITY_NEEDED: &str = "this repository's content is encrypted to age recipients: \
     reading it needs the identity (--identity FILE or STRATA_IDENTITY)";

/// Age X25519 public keys (`age1…`), checked.
#[derive(Clone)]
pub struct Recipients(Vec<x25519::Recipient>);

impl Recipients {
    /// Parses each `age1…` key; an empty list is refused.
    pub fn parse(keys: &[String]) -> Result<Recipients, String> {
        if keys.is_empty() {
            return Err("no recipient given".to_string());
        }
        keys.iter()
            .map(|key| {
                x25519::Recipient::from_str(key.trim())
                    .map_err(|e| format!("{key:?} is not an age X25519 recipient (age1…): {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Recipients)
    }

    /// Reads recipients from a file: one `age1…` key per line; blank lines and `#` comments
    /// are skipped (the format of `age -R`).
    pub fn lines(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    /// The keys as `age1…` strings (what the config stores).
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    fn contains(&self, public: &x25519::Recipient) -> bool {
        self.0.iter().any(|r| r.to_string() == public.to_string())
    }
}

/// Age X25519 identities (`AGE-SECRET-KEY-1…`): what reads a public-key repository's content.
pub struct Identities(Vec<x25519::Identity>);

impl Identities {
    /// Parses an identity file as `age-keygen` writes it: `AGE-SECRET-KEY-1…` lines, blank
    /// lines and `#` comments.
    pub fn parse(text: &str) -> Result<Identities, String> {
        let identities = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                x25519::Identity::from_str(line)
                    .map_err(|_| "a line is not an age X25519 identity (AGE-SECRET-KEY-1…)")
            })
            .collect::<Result<Vec<_>, _>>()?;
        if identities.is_empty() {
            return Err("no identity (AGE-SECRET-KEY-1…) in it".to_string());
        }
        Ok(Identities(identities))
    }

    /// A new identity and its recipient, as the lines of an identity file.
    pub fn generate() -> (Zeroizing<String>, String) {
        let identity = x25519::Identity::generate();
        let public = identity.to_public().to_string();
        let secret = identity.to_string();
        use age::secrecy::ExposeSecret;
        (Zeroizing::new(secret.expose_secret().to_string()), public)
    }

    /// Fails unless one of these identities belongs to one of `recipients`, so that a wrong
    /// identity is named at once rather than as undecryptable objects later.
    pub fn check_against(&self, recipients: &Recipients) -> Result<(), String> {
        if self.0.iter().any(|i| recipients.contains(&i.to_public())) {
            return Ok(());
        }
        Err(format!(
            "the identity is not one of the repository's recipients ({}); its public key is {}",
            recipients.to_strings().join(", "),
            self.0
                .iter()
                .map(|i| i.to_public().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// The data keys of one opened public-key repository: the session's own, drawn when it first
/// seals content, and those it opened with its identities.
pub struct DataKeys {
    store: Arc<dyn Store>,
    recipients: Recipients,
    identities: Option<Identities>,
    session: OnceLock<Result<(Id, Arc<SealingKey>), String>>,
    opened: Mutex<HashMap<Id, Arc<SealingKey>>>,
}

impl DataKeys {
    pub fn new(
        store: Arc<dyn Store>,
        recipients: Recipients,
        identities: Option<Identities>,
    ) -> DataKeys {
        DataKeys {
            store,
            recipients,
            identities,
            session: OnceLock::new(),
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// Whether content can be opened (an identity was given).
    pub fn can_read(&self) -> bool {
        self.identities.is_some()
    }

    /// `data key id [32] | nonce | ciphertext | tag` of `plaintext`.
    pub fn seal(&self, kind: ObjectKind, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let (id, key) = self
            .session
            .get_or_init(|| self.new_session_key())
            .as_ref()
            .map_err(|e| SealError(e.clone()))?;
        let sealed = key.seal(kind, b"", plaintext)?;
        Ok([&id.0[..], &sealed].concat())
    }

    /// The plaintext of what [`DataKeys::seal`] sealed, or why it does not open.
    pub fn open(&self, kind: ObjectKind, stored: &[u8]) -> Result<Vec<u8>, String> {
        let Some((id, sealed)) = stored.split_first_chunk::<32>() else {
            return Err(format!("{} bytes is too short for content", stored.len()));
        };
        self.key(&Id(*id))?.open(kind, b"", sealed)
    }

    fn new_session_key(&self) -> Result<(Id, Arc<SealingKey>), String> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut())
            .map_err(|e| format!("no random key from the operating system: {e}"))?;
        let recipients = self.recipients.0.iter().map(|r| r as &dyn age::Recipient);
        let encryptor = age::Encryptor::with_recipients(recipients)
            .map_err(|e| format!("cannot encrypt to the recipients: {e}"))?;
        let mut wrapped = Vec::new();
        let mut writer = encryptor
            .wrap_output(&mut wrapped)
            .map_err(|e| e.to_string())?;
        writer
            .write_all(key.as_ref())
            .and_then(|()| writer.finish().map(drop))
            .map_err(|e| format!("cannot encrypt a data key: {e}"))?;
        let id = Id::of_object(&wrapped);
        self.store
            .put(&data_key_name(&id), &wrapped)
            .map_err(|e| format!("cannot store a data key: {e}"))?;
        Ok((id, Arc::new(SealingKey::new(&key))))
    }

    fn key(&self, id: &Id) -> Result<Arc<SealingKey>, String> {
        if let Some(session) = self.session.get().and_then(|s| s.as_ref().ok()) {
            if session.0 == *id {
                return Ok(Arc::clone(&session.1));
            }
        }
        let Some(identities) = &self.identities else {
            return Err(IDENTITY_NEEDED.to_string());
        };
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = opened.get(id) {
            return Ok(Arc::clone(key));
        }
        let name = data_key_name(id);
        let wrapped = self
            .store
            .get(&name)
            .map_err(|e| format!("data key {name}: {e}"))?;
        if Id::of_object(&wrapped) != *id {
            return Err(format!("data key {name}: content does not match its name"));
        }
        let key =
            unwrap_data_key(&wrapped, identities).map_err(|e| format!("data key {name}: {e}"))?;
        let key = Arc::new(SealingKey::new(&key));
        opened.insert(*id, Arc::clone(&key));
        Ok(key)
    }
}

fn unwrap_data_key(wrapped: &[u8], identities: &Identities) -> Result<Zeroizing<[u8; 32]>, String> {
    let decryptor = age::Decryptor::new_buffered(wrapped).map_err(|e| e.to_string())?;
    let identities = identities.0.iter().map(|i| i as &dyn age::Identity);
    let mut reader = decryptor.decrypt(identities).map_err(|e| e.to_string())?;
    let mut plain = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plain)
        .map_err(|e| format!("does not decrypt: {e}"))?;
    let key: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| format!("a data key is 32 bytes, not {}", plain.len()))?;
    Ok(Zeroizing::new(key))
}

/// `datakeys/<id>`.
pub fn data_key_name(id: &Id) -> String {
    format!("{DATA_KEYS}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Identities, Recipients) {
        let (secret, public) = Identities::generate();
        (
            Identities::parse(&secret).unwrap(),
            Recipients::parse(&[public]).unwrap(),
        )
    }

    #[test]
    fn only_the_identity_opens_what_a_writer_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::from_location(dir.path().to_str().unwrap()).unwrap();
        let (identities, recipients) = pair();
        let writer = DataKeys::new(Arc::clone(&store), recipients.clone(), None);
        let sealed = writer.seal(ObjectKind::Blob, b"secret row\n").unwrap();
        let again = writer.seal(ObjectKind::Blob, b"secret row\n").unwrap();
        assert_eq!(sealed[..32], again[..32], "one data key per session");
        assert_eq!(store.list(DATA_KEYS).unwrap().len(), 1);

        // A later session of the writer (its data key forgotten) cannot open it.
        let later = DataKeys::new(Arc::clone(&store), recipients.clone(), None);
        assert_eq!(
            later.open(ObjectKind::Blob, &sealed).unwrap_err(),
            IDENTITY_NEEDED
        );

        let reader = DataKeys::new(Arc::clone(&store), recipients.clone(), Some(identities));
        assert_eq!(
            reader.open(ObjectKind::Blob, &sealed).unwrap(),
            b"secret row\n"
        );
        assert!(reader.open(ObjectKind::ApplyRecord, &sealed).is_err());
        let (stranger, _) = pair();
        assert!(stranger.check_against(&recipients).is_err());
        let wrong = DataKeys::new(store, recipients, Some(stranger));
        assert!(wrong.open(ObjectKind::Blob, &sealed).is_err());
    }

    #[test]
    fn recipients_and_identities_are_checked() {
        assert!(Recipients::parse(&[]).is_err());
        assert!(Recipients::parse(&["age1nope".to_string()]).is_err());
        assert!(Identities::parse("# only a comment\n").is_err());
        assert!(Identities::parse("AGE-SECRET-KEY-1NOPE\n").is_err());
        let lines = Recipients::lines("# team\n\nage1abc\n  age1def  \n");
        assert_eq!(lines, ["age1abc", "age1def"]);
    }
}
