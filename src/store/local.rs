//! A [`Store`] on a local directory: each object is a file, `/` in a name is a subdirectory.
//!
//! `put` writes a temporary file next to the target, `fsync`s it, renames it into place and
//! `fsync`s the directory, so a crash leaves either the old state or the complete object (plus,
//! at worst, a temporary file that `list` never shows).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{validate_name, ObjectInfo, Store, StoreError};

/// Temporary files start with this; they are never listed or read as objects.
pub(crate) const TEMP_PREFIX: &str = ".strata-tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A store on a local directory (created on the first `put` if missing).
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    /// The directory this store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        validate_name(name)?;
        Ok(self.root.join(name))
    }

    fn io_error(&self, action: &'static str, name: &str, source: io::Error) -> StoreError {
        if source.kind() == io::ErrorKind::NotFound {
            return StoreError::NotFound {
                location: self.location(),
                name: name.to_string(),
            };
        }
        StoreError::Io {
            location: self.location(),
            action,
            name: name.to_string(),
            source,
        }
    }

    /// True when an object of that name already holds exactly `bytes`.
    fn holds(&self, path: &Path, bytes: &[u8]) -> bool {
        match fs::metadata(path) {
            Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => {
                fs::read(path).is_ok_and(|existing| existing == bytes)
            }
            _ => false,
        }
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let dir = path.parent().unwrap_or(&self.root);
        ensure_dir(dir)?;
        let temp = dir.join(temp_name());
        let result = write_synced(&temp, bytes)
            .and_then(|()| fs::rename(&temp, path))
            .and_then(|()| sync_dir(dir));
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn walk(&self, dir: &Path, prefix: &str, found: &mut Vec<ObjectInfo>) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if file_name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            let meta = entry.metadata()?;
            if meta.is_dir() {
                self.walk(&path, prefix, found)?;
            } else if meta.is_file() {
                if let Some(name) = self.name_of(&path) {
                    if name.starts_with(prefix) {
                        found.push(ObjectInfo {
                            name,
                            size: meta.len(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The object name of a file under the root (`/`-separated), if it is valid UTF-8.
    fn name_of(&self, path: &Path) -> Option<String> {
        let relative = path.strip_prefix(&self.root).ok()?;
        let parts: Option<Vec<&str>> = relative.iter().map(|p| p.to_str()).collect();
        Some(parts?.join("/"))
    }
}

impl Store for LocalStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(name)?;
        if self.holds(&path, bytes) {
            return Ok(());
        }
        self.write_atomically(&path, bytes)
            .map_err(|e| self.io_error("write", name, e))
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(name)?;
        fs::read(&path).map_err(|e| self.io_error("read", name, e))
    }

    fn get_range(&self, name: &str, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        let path = self.path(name)?;
        let mut file = File::open(&path).map_err(|e| self.io_error("open", name, e))?;
        let size = file
            .metadata()
            .map_err(|e| self.io_error("stat", name, e))?
            .len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(StoreError::OutOfRange {
                location: self.location(),
                name: name.to_string(),
                size,
                offset,
                len,
            });
        }
        let mut buf = vec![0; len as usize];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| self.io_error("read", name, e))?;
        Ok(buf)
    }

    fn size(&self, name: &str) -> Result<u64, StoreError> {
        let path = self.path(name)?;
        let meta = fs::metadata(&path).map_err(|e| self.io_error("stat", name, e))?;
        Ok(meta.len())
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        // Walk only the deepest directory the prefix fully names.
        let dir = match prefix.rfind('/') {
            Some(slash) => self.root.join(&prefix[..slash]),
            None => self.root.clone(),
        };
        let mut found = Vec::new();
        self.walk(&dir, prefix, &mut found)
            .map_err(|e| self.io_error("list", prefix, e))?;
        found.sort();
        Ok(found)
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error("delete", name, e)),
        }
    }

    fn exists(&self, name: &str) -> Result<bool, StoreError> {
        let path = self.path(name)?;
        match fs::metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_error("stat", name, e)),
        }
    }
}

fn temp_name() -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{}-{n}", std::process::id())
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Creates `dir` (and parents) if missing, making the new directory entries durable.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.is_dir())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    for created in missing {
        match created.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent)?,
            _ => {}
        }
    }
    Ok(())
}

/// `fsync` on a directory, so that a rename or create inside it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("repo"));
        (dir, store)
    }

    #[test]
    fn put_get_list_delete() {
        let (_dir, store) = store();
        store.put("packs/ab/abc", b"hello").unwrap();
        store.put("config", b"{}").unwrap();
        assert_eq!(store.get("packs/ab/abc").unwrap(), b"hello");
        assert_eq!(store.get_range("packs/ab/abc", 1, 3).unwrap(), b"ell");
        assert_eq!(store.size("packs/ab/abc").unwrap(), 5);
        let names: Vec<_> = store
            .list("packs/")
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["packs/ab/abc"]);
        assert_eq!(store.list("").unwrap().len(), 2);
        assert!(store.exists("config").unwrap());
        store.delete("config").unwrap();
        store.delete("config").unwrap();
        assert!(!store.exists("config").unwrap());
        assert!(store.get("config").unwrap_err().is_not_found());
    }

    #[test]
    fn ranged_read_past_the_end_is_an_error() {
        let (_dir, store) = store();
        store.put("x", b"0123").unwrap();
        assert!(matches!(
            store.get_range("x", 2, 3),
            Err(StoreError::OutOfRange { .. })
        ));
        assert!(store.get_range("x", u64::MAX, 2).is_err());
    }

    #[test]
    fn put_replaces_and_identical_put_is_a_no_op() {
        let (_dir, store) = store();
        store.put("a", b"one").unwrap();
        let before = fs::metadata(store.root().join("a"))
            .unwrap()
            .modified()
            .unwrap();
        store.put("a", b"one").unwrap();
        let after = fs::metadata(store.root().join("a"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
        store.put("a", b"two").unwrap();
        assert_eq!(store.get("a").unwrap(), b"two");
    }

    #[test]
    fn temporary_files_are_not_listed() {
        let (_dir, store) = store();
        store.put("locks/l1", b"x").unwrap();
        fs::write(
            store.root().join("locks").join(".strata-tmp-9-9"),
            b"partial",
        )
        .unwrap();
        assert_eq!(store.list("locks/").unwrap().len(), 1);
    }

    #[test]
    fn listing_a_missing_directory_is_empty() {
        let (_dir, store) = store();
        assert!(store.list("backups/").unwrap().is_empty());
    }
}
