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
/// The largest record the WAL writes; a larger length read back is treated as corruption.
/// The HTTP and gRPC body limits are capped below it.
pub const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

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

/// What a segment held: its intact records, and how many were skipped as corrupt.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SegmentRecords {
    pub records: Vec<Vec<u8>>,
    /// Records whose payload failed its checksum (framing intact): skipped, not replayed.
    pub corrupt_records: usize,
}

/// Reads every intact record of a segment. A record whose checksum fails but whose
/// length fits is skipped and counted, and reading goes on (the records after it were
/// acknowledged too); a torn tail (a length past the end) ends the segment.
pub fn read_segment(path: &Path) -> io::Result<SegmentRecords> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut read = SegmentRecords::default();
    let mut rest = bytes.as_slice();
    while rest.len() >= HEADER_BYTES {
        let (header, after_header) = rest.split_at(HEADER_BYTES);
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let checksum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if length == 0 {
            // Never written by `append` (a request has at least a header): a zero-filled tail.
            break;
        }
        if length > MAX_RECORD_BYTES || length > after_header.len() {
            tracing::warn!(path = %path.display(), "wal segment ends with a torn record; ignoring the tail");
            break;
        }
        let (payload, after_payload) = after_header.split_at(length);
        if crc32fast::hash(payload) == checksum {
            read.records.push(payload.to_vec());
        } else {
            read.corrupt_records += 1;
        }
        rest = after_payload;
    }
    if read.corrupt_records > 0 {
        tracing::error!(
            path = %path.display(),
            skipped = read.corrupt_records,
            replayed = read.records.len(),
            "wal records failed their checksum and are skipped; the data they held is lost"
        );
    }
    Ok(read)
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
    /// Length of the segment up to the last successful fsync.
    synced_len: u64,
    /// Length including records appended since.
    written_len: u64,
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
            synced_len: 0,
            written_len: 0,
        })
    }

    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// Buffers one record; it is durable only after [`WalWriter::sync`].
    pub fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        if payload.is_empty() || payload.len() > MAX_RECORD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "wal record empty or too large",
            ));
        }
        let length = payload.len() as u32;
        self.file.write_all(&length.to_le_bytes())?;
        self.file
            .write_all(&crc32fast::hash(payload).to_le_bytes())?;
        self.file.write_all(payload)?;
        self.written_len += (HEADER_BYTES + payload.len()) as u64;
        Ok(())
    }

    /// Writes buffered records and fsyncs them.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        self.synced_len = self.written_len;
        Ok(())
    }

    /// After a failed append or sync: drops unsynced records, buffered or partly written,
    /// by cutting the segment back to its last synced length, so no torn record can sit
    /// in front of records acknowledged later. If this fails the writer must not be used.
    pub fn discard_unsynced(&mut self) -> io::Result<()> {
        let path = segment_path(&self.wal_dir, self.segment);
        let file = OpenOptions::new().append(true).open(&path)?;
        // `into_parts` gives the old writer up without flushing: its buffered bytes must
        // not reach the file after the cut.
        let old = std::mem::replace(&mut self.file, BufWriter::with_capacity(1 << 20, file));
        let (_old_file, _unsynced_bytes) = old.into_parts();
        let file = self.file.get_ref();
        file.set_len(self.synced_len)?;
        file.sync_all()?;
        self.written_len = self.synced_len;
        Ok(())
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

        let read = read_segment(&path).expect("read");
        assert_eq!(read.records, vec![b"first".to_vec(), b"second".to_vec()]);
        assert_eq!(read.corrupt_records, 0);
    }

    #[test]
    fn a_corrupt_record_mid_segment_is_skipped_counted_and_the_rest_replayed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = WalWriter::create(dir.path(), 1).expect("create");
        for payload in [b"first".as_slice(), b"second", b"third"] {
            writer.append(payload).expect("append");
        }
        writer.sync().expect("sync");
        drop(writer);
        let path = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&path).expect("read");
        // Flip a byte of the second record's payload (after the first record and its header).
        let second_payload = (HEADER_BYTES + 5) + HEADER_BYTES;
        bytes[second_payload] ^= 0xff;
        std::fs::write(&path, bytes).expect("write");
        let read = read_segment(&path).expect("read");
        assert_eq!(read.records, vec![b"first".to_vec(), b"third".to_vec()]);
        assert_eq!(read.corrupt_records, 1);
    }

    #[test]
    fn discarding_unsynced_records_keeps_synced_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = WalWriter::create(dir.path(), 1).expect("create");
        writer.append(b"durable").expect("append");
        writer.sync().expect("sync");
        writer
            .append(&vec![7; 2 << 20])
            .expect("append past the buffer");
        writer.discard_unsynced().expect("discard");
        writer.append(b"after").expect("append");
        writer.sync().expect("sync");
        let read = read_segment(&segment_path(dir.path(), 1)).expect("read");
        assert_eq!(read.records, vec![b"durable".to_vec(), b"after".to_vec()]);
    }

    #[test]
    fn zero_filled_tail_ends_the_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = WalWriter::create(dir.path(), 1).expect("create");
        writer.append(b"one").expect("append");
        writer.sync().expect("sync");
        drop(writer);
        let path = segment_path(dir.path(), 1);
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(&[0; 64]).expect("zeros");
        drop(file);
        assert_eq!(
            read_segment(&path).expect("read").records,
            vec![b"one".to_vec()]
        );
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
