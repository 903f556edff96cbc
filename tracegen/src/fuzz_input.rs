//! What the fuzz targets share: seeds mutated by the fuzzer's bytes, and each target's time.
//!
//! The targets (`cargo test … fuzz_`) run on stable as bounded random tests through
//! `bolero`, and coverage-guided under `cargo bolero test <name>` on nightly. Random bytes
//! alone rarely get past a decoder's first check, so each target also mutates valid seeds
//! (fixtures) with the input: flips, inserts, deletes and cuts at positions the input picks.

use std::time::Duration;

/// How long each fuzz target runs: `SEXTANT_FUZZ_SECS` (CI sets 30), else 2 s.
pub fn fuzz_time() -> Duration {
    let seconds = std::env::var("SEXTANT_FUZZ_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2);
    Duration::from_secs(seconds)
}

/// One fuzz case, `(seed, raw, bytes)` as the targets generate it: the bytes themselves when
/// `raw`, else `seeds[seed]` (modulo their count) mutated by them.
pub fn case_input(seeds: &[Vec<u8>], (seed, raw, bytes): &(u8, bool, Vec<u8>)) -> Vec<u8> {
    if *raw || seeds.is_empty() {
        return bytes.clone();
    }
    mutate(&seeds[usize::from(*seed) % seeds.len()], bytes)
}

/// `seed` changed by `script`: each 3 bytes are an operation, a position and a value.
pub fn mutate(seed: &[u8], script: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for operation in script.chunks_exact(3) {
        let (kind, value) = (operation[0], operation[2]);
        let position = if bytes.is_empty() {
            0
        } else {
            // Spread the position over the whole seed, not only its first 256 bytes.
            (usize::from(operation[1]) * bytes.len() / 256 + usize::from(value)) % bytes.len()
        };
        match kind % 5 {
            0 if !bytes.is_empty() => bytes[position] ^= value | 1,
            1 => bytes.insert(position.min(bytes.len()), value),
            2 if !bytes.is_empty() => {
                bytes.remove(position);
            }
            3 => bytes.truncate(position.max(1)),
            4 if !bytes.is_empty() => {
                // Duplicate a run: repeated fields, deeper nesting.
                let end = (position + usize::from(value)).min(bytes.len());
                let run = bytes[position..end].to_vec();
                bytes.splice(position..position, run);
            }
            _ => {}
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_in_bounds_and_change_the_seed() {
        let seed = b"{\"resourceSpans\":[]}";
        assert_eq!(mutate(seed, &[]), seed.to_vec());
        for kind in 0..5u8 {
            for position in [0u8, 128, 255] {
                let mutated = mutate(seed, &[kind, position, 200]);
                assert!(mutated.len() <= 2 * seed.len() + 1, "{kind} {position}");
            }
        }
        assert_ne!(mutate(seed, &[0, 0, 1]), seed.to_vec());
        assert!(mutate(b"", &[0, 1, 2, 2, 3, 4, 3, 0, 0, 4, 9, 9]).len() <= 1);
    }
}
