//! The object store the query session reads Parquet through: the local file system, listing
//! only live files.
//!
//! Compaction publishes a merged file before it deletes its inputs, and retention marks a
//! partition dropped before it deletes it ([`sextant_ingest::layout`]). DataFusion lists a
//! table's files through its object store, so this store hides what readers must not see —
//! files superseded by a compacted file, and every file of a dropped partition — while
//! still serving reads of them: a query that listed a file just before a compaction reads
//! it to the end. Writes are refused: a query session never writes.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sextant_ingest::layout::{DROPPED_MARKER, FlushRange, live_ranges, parse_parquet_file_range};

/// Local files, listed as readers should see them.
#[derive(Debug, Default)]
pub struct LiveFilesStore {
    local: LocalFileSystem,
}

impl LiveFilesStore {
    pub fn new() -> LiveFilesStore {
        LiveFilesStore::default()
    }
}

impl fmt::Display for LiveFilesStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "LiveFilesStore({})", self.local)
    }
}

fn read_only() -> datafusion::object_store::Error {
    datafusion::object_store::Error::NotSupported {
        source: "the query session is read-only".into(),
    }
}

/// Keeps the objects readers should see: drops every object of a folder holding the
/// dropped marker, and Parquet files superseded by a compacted file in their folder.
/// A folder's files are all in `objects` whenever it is listed at all.
pub fn keep_live(objects: Vec<ObjectMeta>) -> Vec<ObjectMeta> {
    let mut by_folder: HashMap<Path, Vec<usize>> = HashMap::new();
    for (index, object) in objects.iter().enumerate() {
        let parts: Vec<_> = object.location.parts().collect();
        let folder = Path::from_iter(parts[..parts.len().saturating_sub(1)].iter().cloned());
        by_folder.entry(folder).or_default().push(index);
    }
    let mut keep = vec![true; objects.len()];
    for indexes in by_folder.values() {
        let dropped = indexes
            .iter()
            .any(|&index| objects[index].location.filename() == Some(DROPPED_MARKER));
        if dropped {
            indexes.iter().for_each(|&index| keep[index] = false);
            continue;
        }
        let parquet: Vec<(usize, FlushRange)> = indexes
            .iter()
            .filter_map(|&index| {
                let name = objects[index].location.filename()?;
                Some((index, parse_parquet_file_range(std::path::Path::new(name))?))
            })
            .collect();
        let ranges: Vec<FlushRange> = parquet.iter().map(|(_, range)| *range).collect();
        for ((index, _), live) in parquet.iter().zip(live_ranges(&ranges)) {
            keep[*index] = live;
        }
    }
    objects
        .into_iter()
        .zip(keep)
        .filter_map(|(object, keep)| keep.then_some(object))
        .collect()
}

#[async_trait]
impl ObjectStore for LiveFilesStore {
    async fn put_opts(
        &self,
        _location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> datafusion::object_store::Result<PutResult> {
        Err(read_only())
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> datafusion::object_store::Result<Box<dyn MultipartUpload>> {
        Err(read_only())
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> datafusion::object_store::Result<GetResult> {
        self.local.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> datafusion::object_store::Result<Vec<Bytes>> {
        self.local.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, datafusion::object_store::Result<Path>>,
    ) -> BoxStream<'static, datafusion::object_store::Result<Path>> {
        locations.map(|_| Err(read_only())).boxed()
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> BoxStream<'static, datafusion::object_store::Result<ObjectMeta>> {
        let listing = self.local.list(prefix);
        stream::once(async move { listing.try_collect::<Vec<ObjectMeta>>().await })
            .map_ok(|objects| stream::iter(keep_live(objects).into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&Path>,
    ) -> datafusion::object_store::Result<ListResult> {
        let listing = self.local.list_with_delimiter(prefix).await?;
        Ok(ListResult {
            common_prefixes: listing.common_prefixes,
            objects: keep_live(listing.objects),
        })
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> datafusion::object_store::Result<()> {
        Err(read_only())
    }
}

/// The store, shared by every session of the process.
pub fn live_files_store() -> Arc<LiveFilesStore> {
    static STORE: std::sync::OnceLock<Arc<LiveFilesStore>> = std::sync::OnceLock::new();
    STORE
        .get_or_init(|| Arc::new(LiveFilesStore::new()))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(path),
            last_modified: chrono::DateTime::default(),
            size: 1,
            e_tag: None,
            version: None,
        }
    }

    fn names(objects: &[ObjectMeta]) -> Vec<String> {
        objects.iter().map(|o| o.location.to_string()).collect()
    }

    #[test]
    fn superseded_and_dropped_files_are_not_listed() {
        let day_one = "spans/project=p/day=2026-01-01";
        let day_two = "spans/project=p/day=2026-01-02";
        let listed = vec![
            object(&format!("{day_one}/part-00000000000000000001.parquet")),
            object(&format!("{day_one}/part-00000000000000000002.parquet")),
            object(&format!(
                "{day_one}/part-00000000000000000001-00000000000000000002.parquet"
            )),
            object(&format!("{day_one}/part-00000000000000000003.parquet")),
            object(&format!("{day_two}/part-00000000000000000001.parquet")),
            object(&format!("{day_two}/{DROPPED_MARKER}")),
        ];
        assert_eq!(
            names(&keep_live(listed)),
            [
                format!("{day_one}/part-00000000000000000001-00000000000000000002.parquet"),
                format!("{day_one}/part-00000000000000000003.parquet"),
            ]
        );
    }
}
