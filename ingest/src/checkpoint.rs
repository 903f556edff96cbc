//! The flush checkpoint: the highest WAL segment whose records are all in Parquet and the index.
//!
//! It is the commit point of a flush. Parquet files and index documents with a flush id
//! above the checkpoint belong to an interrupted flush and are undone at start-up.

use std::fs;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::layout::{DataDir, fsync_dir};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every WAL segment numbered `<=` this is flushed; 0 means nothing is.
    pub flushed_through_segment: u64,
}

pub fn read_checkpoint(data_dir: &DataDir) -> io::Result<Checkpoint> {
    match fs::read(data_dir.checkpoint_path()) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("corrupt checkpoint.json: {error}"),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Checkpoint::default()),
        Err(error) => Err(error),
    }
}

/// Replaces the checkpoint atomically (write temp, fsync, rename, fsync dir).
pub fn write_checkpoint(data_dir: &DataDir, checkpoint: Checkpoint) -> io::Result<()> {
    let path = data_dir.checkpoint_path();
    let temp_path = path.with_extension("json.tmp");
    let mut file = fs::File::create(&temp_path)?;
    file.write_all(&serde_json::to_vec(&checkpoint).map_err(io::Error::other)?)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp_path, &path)?;
    fsync_dir(data_dir.root())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_defaults_to_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = DataDir::open(dir.path()).expect("open");
        assert_eq!(
            read_checkpoint(&data_dir)
                .expect("read")
                .flushed_through_segment,
            0
        );
        write_checkpoint(
            &data_dir,
            Checkpoint {
                flushed_through_segment: 9,
            },
        )
        .expect("write");
        assert_eq!(
            read_checkpoint(&data_dir)
                .expect("read")
                .flushed_through_segment,
            9
        );
    }
}
