//! Choosing, cheaply and deterministically, how each segment of a block is encoded.
//!
//! Layers often carry large files that deflate's match search cannot shrink: compressed
//! archives, images, random test data (nothing to gain at all) or base64 text and model
//! weights (Huffman coding gains, matches do not). The full match search costs as much on
//! such bytes as on source code, so each segment gets one of three encodings:
//!
//! - [`Class::Deflate`]: ordinary deflate at the requested level, when a fast scan finds
//!   enough 4-byte repeats within deflate's window (text, code, binaries, tar headers);
//! - [`Class::Greedy`]: deflate with greedy matching, when the repeats sit among bytes that
//!   are otherwise close to random (compressed files between tar headers): a lazy search
//!   finds next to nothing more there;
//! - [`Class::Huffman`]: Huffman coding only, when there are almost no repeats but the byte
//!   distribution is skewed;
//! - [`Class::Stored`]: a verbatim copy, when there are almost no repeats and the byte
//!   distribution is so flat that Huffman coding could save at most about 1%.
//!
//! The decision is a pure function of the block's bytes (including the history before it),
//! so the output stays identical across machines and thread counts.

/// How one segment is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Deflate,
    /// Deflate with greedy matching (zlib level 2 at most): for mostly incompressible
    /// bytes with a few repeated stretches.
    Greedy,
    Huffman,
    Stored,
}

impl Class {
    /// Whether the encoding looks for matches (and so wants the preceding history).
    pub(super) fn searches_matches(self) -> bool {
        matches!(self, Class::Deflate | Class::Greedy)
    }
}

/// At or above this many bits per byte, Huffman coding saves at most about 1%.
const MIN_ENTROPY_BITS: f64 = 7.92;
/// At or above this many bits per byte, a segment with repeats is mostly incompressible
/// bytes with a few repeated stretches (compressed files between tar headers, say), where a
/// lazy match search gains next to nothing over a greedy one.
const MIN_GREEDY_ENTROPY_BITS: f64 = 7.0;
/// Below this many bits per byte (text, code, sparse data) a segment is always deflated:
/// such data nearly always has plenty of repeats, and skipping the scan keeps it cheap.
const MIN_SCAN_ENTROPY_BITS: f64 = 5.0;
/// Segments where more than 1/`MAX_REPEAT_SHARE` of the positions start a repeat are
/// worth a full match search.
const MAX_REPEAT_SHARE: usize = 100;
/// Segments shorter than this are always deflated: too few bytes for statistics, and
/// cheap anyway.
const MIN_SEGMENT: usize = 4096;
/// Deflate cannot reach back the full 32 KiB: zlib keeps a lookahead margin.
const MAX_DISTANCE: usize = 32 * 1024 - 262;
const TABLE_BITS: u32 = 15;
/// Added to stored positions so an empty slot (0) is never within reach.
const BIAS: usize = MAX_DISTANCE + 1;

/// Classifies the segments of one block in order, reusing its hash table across them.
pub(super) struct Classifier {
    /// Hash of 4 bytes -> those 4 bytes (high half) and `BIAS` + the position of their
    /// last occurrence (low half; 0 = empty). Keeping the bytes in the table saves a random
    /// read of the data per position; a fixed-size array needs no bounds checks.
    table: Box<[u64; 1 << TABLE_BITS]>,
    /// Every position before this one has been entered in `table`.
    scanned_to: usize,
}

impl Classifier {
    pub(super) fn new() -> Self {
        Classifier {
            table: vec![0; 1 << TABLE_BITS]
                .into_boxed_slice()
                .try_into()
                .expect("table size"),
            scanned_to: 0,
        }
    }

    /// Forget everything scanned: the next segment starts a new block.
    pub(super) fn reset(&mut self) {
        self.table.fill(0);
        self.scanned_to = 0;
    }

    /// The encoding for `data[start..end]`; `data[..start]` is history deflate may refer to.
    /// Segments must be classified in order of position.
    pub(super) fn classify(&mut self, data: &[u8], start: usize, end: usize) -> Class {
        if end - start < MIN_SEGMENT {
            return Class::Deflate;
        }
        let entropy = entropy_bits_per_byte(&data[start..end]);
        if entropy < MIN_SCAN_ENTROPY_BITS {
            Class::Deflate
        } else if self.has_repeats(data, start, end) {
            if entropy >= MIN_GREEDY_ENTROPY_BITS {
                Class::Greedy
            } else {
                Class::Deflate
            }
        } else if entropy >= MIN_ENTROPY_BITS {
            Class::Stored
        } else {
            Class::Huffman
        }
    }

    /// Whether more than 1/`MAX_REPEAT_SHARE` of the positions in `data[start..end]` begin
    /// 4 bytes that also occur at most `MAX_DISTANCE` earlier.
    fn has_repeats(&mut self, data: &[u8], start: usize, end: usize) -> bool {
        // Enter the history the table lacks (the block's dictionary, or the rest of a
        // segment whose scan stopped early), so matches into it are seen.
        let from = self.scanned_to.max(start.saturating_sub(MAX_DISTANCE));
        if from < start {
            self.scan(data, from, start, usize::MAX);
        }
        let limit = (end - start) / MAX_REPEAT_SHARE;
        self.scan(data, start, end, limit) > limit
    }

    /// Enter the positions in `data[from..end]` and count those that repeat earlier
    /// bytes, stopping once the count passes `limit`.
    fn scan(&mut self, data: &[u8], from: usize, end: usize, limit: usize) -> usize {
        let mut repeats = 0;
        // 4-byte strings starting before `end` may extend past it into later data; that is
        // fine (the decision stays a function of the block) and keeps the tail scanned.
        let last = end.min(data.len().saturating_sub(3));
        self.scanned_to = last.max(self.scanned_to);
        for (offset, quad) in data[from..last + 3].windows(4).enumerate() {
            let pos = from + offset;
            let quad = u32::from_le_bytes(quad.try_into().expect("4 bytes"));
            let slot = (quad.wrapping_mul(0x9e37_79b1) >> (32 - TABLE_BITS)) as usize;
            let entry = self.table[slot];
            self.table[slot] = u64::from(quad) << 32 | (pos + BIAS) as u64;
            // An empty entry reads as position -BIAS: always out of reach.
            let distance = pos + BIAS - (entry & 0xffff_ffff) as usize;
            if (entry >> 32) as u32 == quad && distance <= MAX_DISTANCE {
                repeats += 1;
                if repeats > limit {
                    self.scanned_to = pos + 1;
                    break;
                }
            }
        }
        repeats
    }
}

/// Order-0 (byte frequency) entropy of `data`.
fn entropy_bits_per_byte(data: &[u8]) -> f64 {
    // Four interleaved tables so runs of one byte value do not serialise on one counter.
    let mut counts = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        counts[0][q[0] as usize] += 1;
        counts[1][q[1] as usize] += 1;
        counts[2][q[2] as usize] += 1;
        counts[3][q[3] as usize] += 1;
    }
    for &b in quads.remainder() {
        counts[0][b as usize] += 1;
    }
    let n = data.len() as f64;
    let mut bits = 0.0;
    for byte in 0..256 {
        let c = counts.iter().map(|t| t[byte]).sum::<u32>();
        if c > 0 {
            let c = f64::from(c);
            bits += c * (n / c).log2();
        }
    }
    bits / n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, mut x: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn class(data: &[u8], start: usize) -> Class {
        Classifier::new().classify(data, start, data.len())
    }

    #[test]
    fn random_bytes_are_stored() {
        let data = random(96 * 1024, 1);
        assert_eq!(class(&data, 32 * 1024), Class::Stored);
    }

    #[test]
    fn text_is_deflated() {
        let data: Vec<u8> = (0..65536u32)
            .map(|i| b"the quick brown fox jumps over the lazy dog\n"[(i % 44) as usize])
            .collect();
        assert_eq!(class(&data, 0), Class::Deflate);
    }

    #[test]
    fn skewed_bytes_without_repeats_get_huffman_only() {
        // Random base64-like text: 6 bits of information per byte, no useful matches.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let data: Vec<u8> = random(65536, 2)
            .iter()
            .map(|b| alphabet[(b & 63) as usize])
            .collect();
        assert_eq!(class(&data, 0), Class::Huffman);
    }

    #[test]
    fn random_bytes_repeated_within_the_window_get_greedy_matching() {
        // High entropy, but a period of 5000 bytes gives deflate long matches.
        let unit = random(5000, 7);
        let data: Vec<u8> = unit.iter().copied().cycle().take(64 * 1024).collect();
        assert!(entropy_bits_per_byte(&data) > MIN_ENTROPY_BITS);
        assert_eq!(class(&data, 0), Class::Greedy);
    }

    #[test]
    fn compressed_files_between_headers_get_greedy_matching() {
        // Like a tar of small compressed files: random bodies, each after a mostly-zero
        // header.
        let mut data = Vec::new();
        for i in 0..20 {
            data.extend_from_slice(b"usr/share/man/man1/x.1.gz");
            data.resize(data.len() + 487, 0);
            data.extend(random(2800, i + 1));
        }
        data.truncate(65536);
        assert_eq!(class(&data, 0), Class::Greedy);
    }

    #[test]
    fn only_repeats_within_the_window_count() {
        // The segment copies random bytes from just before it...
        let mut near = random(64 * 1024, 3);
        let copy = near[40 * 1024..56 * 1024].to_vec();
        near.extend_from_slice(&copy);
        near.extend_from_slice(&random(48 * 1024, 4));
        assert!(class(&near, 64 * 1024).searches_matches());
        // ...or from beyond deflate's reach, where the copy is worthless.
        let mut far = random(128 * 1024, 3);
        let copy = far[..16 * 1024].to_vec();
        far.extend_from_slice(&copy);
        far.extend_from_slice(&random(48 * 1024, 4));
        assert_eq!(class(&far, 128 * 1024), Class::Stored);
    }

    #[test]
    fn history_after_an_early_stop_is_still_seen() {
        // Segment 1 is text (its scan stops early); segment 2 repeats random bytes from the
        // unscanned tail of segment 1.
        let mut data: Vec<u8> = (0..40_000u32)
            .map(|i| b"abcabd"[(i % 6) as usize])
            .collect();
        data.extend(random(25_536, 5));
        let tail = data[50_000..65_536].to_vec();
        data.extend_from_slice(&tail);
        data.extend(random(65_536 - tail.len(), 6));
        let mut c = Classifier::new();
        assert!(c.classify(&data, 0, 65_536).searches_matches());
        assert!(c.classify(&data, 65_536, data.len()).searches_matches());
    }
}
