//! Partition indexes kept open across searches, reloaded when a commit changes them.
//!
//! Opening a tantivy index (reading `meta.json`, opening every segment's files and fast
//! fields) costs a few milliseconds, and a selective search opens every day of the range.
//! The server keeps each partition's [`Index`] and reader here; a search checks the
//! partition's `meta.json` (one `stat`) and reloads the reader only when a commit (a flush,
//! a merge, recovery's undo) has rewritten it since.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use sextant_ingest::index::register_tokenizers;
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher};

use crate::error::Result;
use crate::file_cache::lock;

/// Past this many open partitions the cache starts over (a data dir has one per project-day).
const MAX_OPEN_INDEXES: usize = 4096;

/// What identifies one commit of an index: its `meta.json`'s mtime and length.
type CommitVersion = (SystemTime, u64);

struct OpenIndex {
    version: CommitVersion,
    index: Index,
    reader: IndexReader,
}

fn open_indexes() -> &'static Mutex<HashMap<PathBuf, OpenIndex>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, OpenIndex>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

/// The index in `index_dir` (tokenizers registered) and a searcher on its latest commit.
pub(crate) fn open_index(index_dir: &Path) -> Result<(Index, Searcher)> {
    let metadata = std::fs::metadata(index_dir.join("meta.json"));
    let version = match metadata.and_then(|metadata| Ok((metadata.modified()?, metadata.len()))) {
        Ok(version) => version,
        Err(error) => {
            // Gone (retention) or never committed: forget it, and fail as opening would.
            lock(open_indexes()).remove(index_dir);
            return Err(error.into());
        }
    };
    let mut open = lock(open_indexes());
    if let Some(cached) = open.get_mut(index_dir) {
        if cached.version != version {
            cached.reader.reload()?;
            cached.version = version;
        }
        return Ok((cached.index.clone(), cached.reader.searcher()));
    }
    // Opened under the lock: two searches of a cold partition open it once.
    let index = Index::open_in_dir(index_dir)?;
    register_tokenizers(&index);
    let reader: IndexReader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let searcher = reader.searcher();
    if open.len() >= MAX_OPEN_INDEXES {
        open.clear();
    }
    open.insert(
        index_dir.to_path_buf(),
        OpenIndex {
            version,
            index: index.clone(),
            reader,
        },
    );
    Ok((index, searcher))
}
