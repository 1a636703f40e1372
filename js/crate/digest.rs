//! [`FileDigest`]: a fast 128-bit digest of a whole file, for the model cache.
//!
//! A cached copy of a model was checked once, chunk CRC by chunk CRC, when it was downloaded.
//! Loading it again only needs to know that the bytes are still the ones that passed: the SDK
//! stores this digest next to the cached copy and, on the next load, checks the digest instead
//! of the per-chunk CRC-32s. CRC-32 runs at about 1 GB/s in wasm (table lookups; wasm has no
//! carry-less multiply), which was most of a warm load.
//!
//! The digest is XXH3-128 (the `xxhash-rust` crate, streaming): a published, widely tested
//! non-cryptographic hash whose 64-bit multiply rounds run fast in every wasm build. The cache
//! guards against damage, not against someone who can write the cache (they could as well
//! write a file with matching CRCs), so a cryptographic hash would only cost time. Because it
//! is the standard XXH3-128, a stored digest can be checked with any other implementation
//! (the tests pin values computed by the reference C library through Python's `xxhash`).
//!
//! The value depends only on the bytes, never on how the stream was cut into pieces, and is
//! the same on every build (scalar, SIMD, threads), so one build can check what another stored.

use xxhash_rust::xxh3::Xxh3;

/// Running digest over a byte stream fed in pieces of any size.
#[derive(Clone)]
pub struct FileDigest {
    state: Xxh3,
}

impl std::fmt::Debug for FileDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDigest").finish_non_exhaustive()
    }
}

impl Default for FileDigest {
    fn default() -> Self {
        FileDigest::new()
    }
}

impl FileDigest {
    /// A digest of no bytes yet.
    pub fn new() -> FileDigest {
        FileDigest { state: Xxh3::new() }
    }

    /// Feeds the next bytes of the stream.
    pub fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
    }

    /// The digest of everything fed so far, as 32 lowercase hex digits (XXH3-128, big-endian
    /// as the reference library prints it).
    pub fn hex(&self) -> String {
        format!("{:032x}", self.state.digest128())
    }
}

#[cfg(test)]
mod tests {
    use super::FileDigest;

    fn digest(bytes: &[u8]) -> String {
        let mut d = FileDigest::new();
        d.update(bytes);
        d.hex()
    }

    fn sample(n: usize) -> Vec<u8> {
        let mut x = 0x1234_5678_9abc_def0u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn any_cut_into_pieces_gives_the_same_digest() {
        let data = sample(10_000);
        let whole = digest(&data);
        for step in [1, 3, 63, 64, 65, 1000, 4096] {
            let mut d = FileDigest::new();
            for piece in data.chunks(step) {
                d.update(piece);
            }
            assert_eq!(d.hex(), whole, "pieces of {step}");
        }
    }

    #[test]
    fn every_single_bit_flip_changes_the_digest() {
        let data = sample(300);
        let good = digest(&data);
        for i in 0..data.len() {
            for bit in 0..8 {
                let mut bad = data.clone();
                bad[i] ^= 1 << bit;
                assert_ne!(digest(&bad), good, "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn length_swaps_and_zeroed_ranges_change_the_digest() {
        let data = sample(4096);
        let good = digest(&data);
        let mut longer = data.clone();
        longer.push(0);
        assert_ne!(digest(&longer), good, "a trailing zero byte");
        assert_ne!(digest(&data[..4095]), good, "one byte short");
        let mut swapped = data.clone();
        swapped[..64].copy_from_slice(&data[64..128]);
        swapped[64..128].copy_from_slice(&data[..64]);
        assert_ne!(digest(&swapped), good, "two blocks swapped");
        let mut lanes = data.clone();
        lanes[..8].copy_from_slice(&data[8..16]);
        lanes[8..16].copy_from_slice(&data[..8]);
        assert_ne!(digest(&lanes), good, "two words swapped within a block");
        let mut zeroed = data.clone();
        zeroed[1000..3000].fill(0);
        assert_ne!(digest(&zeroed), good, "a zeroed range");
        assert_ne!(digest(&[]), digest(&[0]), "empty vs one zero byte");
        assert_eq!(digest(&data), good, "deterministic");
    }

    #[test]
    fn known_values_are_the_reference_xxh3_128() {
        // Computed by the reference C library (Python's `xxhash` 4.1.0, libxxhash 0.8.4):
        // a change here would turn every cached model's check into a mismatch and a
        // re-download, and would break checking a digest with another implementation.
        assert_eq!(digest(b"wasm-torch"), "bb6c43f96c321dcf1e932ea7a5cadade");
        assert_eq!(digest(b""), "99aa06d3014798d86001c324468d497f");
        // Long enough for XXH3's striped path (over 240 bytes), fed in uneven pieces.
        let long: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(digest(&long), "5ecbf80121973a82ce29a19460ee1bfc");
        let mut d = FileDigest::new();
        for piece in long.chunks(333) {
            d.update(piece);
        }
        assert_eq!(d.hex(), "5ecbf80121973a82ce29a19460ee1bfc");
    }
}
