//! Where each kind of object lives in the store (docs/FORMAT.md, top): the one place that
//! turns ids into object names and back.

use super::id::Id;

pub const PACKS: &str = "packs/";
pub const INDEX: &str = "index/";
pub const BACKUPS: &str = "backups/";
pub const LOCKS: &str = "locks/";
pub const KEYS: &str = "keys/";
pub const APPLIES: &str = "applies/";

/// `packs/<first two hex digits>/<id>`: the fan-out keeps directories small on local disks.
pub fn pack_name(id: &Id) -> String {
    let hex = id.to_hex();
    format!("{PACKS}{}/{hex}", &hex[..2])
}

pub fn index_name(id: &Id) -> String {
    format!("{INDEX}{id}")
}

pub fn backup_name(id: &Id) -> String {
    format!("{BACKUPS}{id}")
}

pub fn lock_name(id: &Id) -> String {
    format!("{LOCKS}{id}")
}

pub fn key_name(id: &Id) -> String {
    format!("{KEYS}{id}")
}

pub fn apply_name(id: &Id) -> String {
    format!("{APPLIES}{id}")
}

/// The id in an object name: its last path part, if that is a full id.
pub fn id_of(name: &str) -> Option<Id> {
    name.rsplit('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = Id::of_object(b"x");
        let name = pack_name(&id);
        assert!(name.starts_with(&format!("packs/{}/", &id.to_hex()[..2])));
        assert_eq!(id_of(&name), Some(id));
        assert_eq!(id_of(&backup_name(&id)), Some(id));
        assert_eq!(id_of("packs/ab/not-an-id"), None);
    }
}
