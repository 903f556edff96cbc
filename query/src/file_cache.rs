//! Values derived from a file, kept across queries while the file is unchanged.
//!
//! Published Parquet files never change, but a retried flush may write the same path again,
//! so an entry is keyed by path and used only while the file's length and mtime match.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::error::Result;

/// What identifies one version of a file: its length and mtime.
pub(crate) type FileVersion = (u64, SystemTime);

/// The version of the file at `path`.
pub(crate) fn file_version(path: &Path) -> Result<FileVersion> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.len(), metadata.modified()?))
}

/// A bounded map from file to a value derived from one version of it.
pub(crate) struct FileCache<V> {
    entries: Mutex<HashMap<PathBuf, (FileVersion, V)>>,
    /// Past this many files the cache starts over.
    max_files: usize,
}

impl<V: Clone> FileCache<V> {
    pub(crate) fn new(max_files: usize) -> FileCache<V> {
        FileCache {
            entries: Mutex::new(HashMap::new()),
            max_files,
        }
    }

    /// The value for this version of `path`, derived by `derive` (outside the lock) if absent.
    pub(crate) fn get_or_derive(
        &self,
        path: &Path,
        version: FileVersion,
        derive: impl FnOnce() -> Result<V>,
    ) -> Result<V> {
        let cached = lock(&self.entries)
            .get(path)
            .filter(|(cached_version, _)| *cached_version == version)
            .map(|(_, value)| value.clone());
        if let Some(value) = cached {
            return Ok(value);
        }
        let value = derive()?;
        let mut entries = lock(&self.entries);
        if entries.len() >= self.max_files {
            entries.clear();
        }
        entries.insert(path.to_path_buf(), (version, value.clone()));
        Ok(value)
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_file_is_derived_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("part-1.parquet");
        let cache = FileCache::new(8);
        std::fs::write(&path, "one").expect("write");
        let derive = || Ok(std::fs::read_to_string(&path)?);
        let first = cache.get_or_derive(&path, file_version(&path).expect("v"), derive);
        assert_eq!(first.expect("derived"), "one");
        let again = cache.get_or_derive(&path, file_version(&path).expect("v"), || {
            Ok("not read again".to_owned())
        });
        assert_eq!(again.expect("cached"), "one");
        std::fs::write(&path, "three").expect("rewrite");
        let rewritten = cache.get_or_derive(&path, file_version(&path).expect("v"), derive);
        assert_eq!(rewritten.expect("derived"), "three");
    }
}
