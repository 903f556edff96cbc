//! The write-ahead log: append-only segment files of checksummed records.
//!
//! Record framing: `[len: u32 LE][crc32 of payload: u32 LE][payload]`. A torn or
//! corrupt record can only be the tail of the last segment written before a crash; it
//! was never acknowledged (acknowledgement waits for fsync), so reading stops there.
//!
//! Invariant: segment numbers only grow; a checkpoint `K` means every record in
//! segments `<= K` is in Parquet and the index, so those segments may be deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::layout::fsync_dir;

const HEADER_BYTES: usize = 8;
/// A record larger than this is treated as corruption when reading.
const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

pub fn segment_path(wal_dir: &Path, segment: u64) -> PathBuf {
    wal_dir.join(format!("{segment:020}.wal"))
}

/// Segment numbers present in `wal_dir`, ascending.
pub fn list_segments(wal_dir: &Path) -> io::Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(wal_dir)? {
        let path = entry?.path();
        let segment = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".wal"))
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(segment) = segment {
            segments.push(segment);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Reads every intact record of a segment, stopping at the first torn or corrupt one.
pub fn read_segment(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut records = Vec::new();
    let mut rest = bytes.as_slice();
    while rest.len() >= HEADER_BYTES {
        let (header, after_header) = rest.split_at(HEADER_BYTES);
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let checksum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if length > MAX_RECORD_BYTES || length > after_header.len() {
            tracing::warn!(path = %path.display(), "wal segment ends with a torn record; ignoring the tail");
            break;
        }
        let (payload, after_payload) = after_header.split_at(length);
        if crc32fast::hash(payload) != checksum {
            tracing::warn!(path = %path.display(), "wal record checksum mismatch; ignoring the tail");
            break;
        }
        records.push(payload.to_vec());
        rest = after_payload;
    }
    Ok(records)
}

/// Deletes every segment numbered `<= through`.
pub fn remove_segments_through(wal_dir: &Path, through: u64) -> io::Result<()> {
    for segment in list_segments(wal_dir)? {
        if segment <= through {
            fs::remove_file(segment_path(wal_dir, segment))?;
        }
    }
    fsync_dir(wal_dir)
}

/// Appends records to the current segment. Not thread-safe by design: one thread owns it.
pub struct WalWriter {
    wal_dir: PathBuf,
    segment: u64,
    file: BufWriter<File>,
}

impl WalWriter {
    /// Starts a new segment numbered `segment` (it must not exist yet).
    pub fn create(wal_dir: &Path, segment: u64) -> io::Result<WalWriter> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(segment_path(wal_dir, segment))?;
        fsync_dir(wal_dir)?;
        Ok(WalWriter {
            wal_dir: wal_dir.to_path_buf(),
            segment,
            file: BufWriter::with_capacity(1 << 20, file),
        })
    }

    pub fn segment(&self) -> u64 {
        self.segment
    }

    pub fn wal_dir_path(&self) -> PathBuf {
        self.wal_dir.clone()
    }

    /// Buffers one record; it is durable only after [`WalWriter::sync`].
    pub fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        let length = u32::try_from(payload.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "wal record too large"))?;
        self.file.write_all(&length.to_le_bytes())?;
        self.file
            .write_all(&crc32fast::hash(payload).to_le_bytes())?;
        self.file.write_all(payload)
    }

    /// Writes buffered records and fsyncs them.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    /// Seals the current segment and starts the next; returns the sealed segment number.
    pub fn rotate(&mut self) -> io::Result<u64> {
        self.sync()?;
        let sealed = self.segment;
        *self = WalWriter::create(&self.wal_dir, sealed + 1)?;
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = WalWriter::create(dir.path(), 1).expect("create");
        writer.append(b"first").expect("append");
        writer.append(b"second").expect("append");
        writer.sync().expect("sync");
        drop(writer);

        let path = segment_path(dir.path(), 1);
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(&[200, 0, 0, 0, 1, 2]).expect("torn write");
        drop(file);

        let records = read_segment(&path).expect("read");
        assert_eq!(records, vec![b"first".to_vec(), b"second".to_vec()]);
    }

    #[test]
    fn rotation_seals_segments_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = WalWriter::create(dir.path(), 7).expect("create");
        assert_eq!(writer.rotate().expect("rotate"), 7);
        assert_eq!(writer.segment(), 8);
        assert_eq!(list_segments(dir.path()).expect("list"), vec![7, 8]);
        remove_segments_through(dir.path(), 7).expect("remove");
        assert_eq!(list_segments(dir.path()).expect("list"), vec![8]);
    }
}
