//! One seed, named streams: counter-based ChaCha draws so a draw in one stream never shifts
//! another, and a draw can be looked up by its index without consuming anything.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Named RNG streams of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// Request/response latency jitter.
    Latency = 1,
    /// Fault draws per call.
    Faults = 2,
    /// Stream event drops and delays.
    UserStream = 3,
    /// Built-in signal generators.
    Signals = 4,
    /// `sim explore` case drawing.
    Explore = 5,
    /// User-stream events delivered twice.
    StreamDuplicate = 6,
}

/// The `index`-th 64-bit draw of `stream` under `seed` (pure function).
pub fn draw(seed: u64, stream: Stream, index: u64) -> u64 {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream as u64);
    r.set_word_pos((index as u128) * 2);
    r.next_u64()
}

/// A fast counter-based draw (SplitMix64 finaliser over seed, stream and index) for the per-call
/// lanes (faults, jitter), cheap enough to look ahead over thousands of skipped polls.
#[inline]
pub fn fast_draw(seed: u64, stream: Stream, index: u64) -> u64 {
    let mut z = seed
        ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// True with probability `ppm` parts per million for draw `index` of `stream`.
pub fn chance(seed: u64, stream: Stream, index: u64, ppm: u32) -> bool {
    ppm > 0 && draw(seed, stream, index) % 1_000_000 < ppm as u64
}

/// A sequential generator over one stream (for generators that draw many values).
pub struct StreamRng {
    rng: ChaCha8Rng,
}

impl StreamRng {
    /// Stream `stream` of `seed`.
    pub fn new(seed: u64, stream: Stream) -> StreamRng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream as u64);
        StreamRng { rng }
    }
    /// Next 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    /// True with probability `ppm` per million.
    pub fn chance(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < ppm as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn streams_are_independent_and_pure() {
        assert_eq!(draw(7, Stream::Faults, 3), draw(7, Stream::Faults, 3));
        assert_ne!(draw(7, Stream::Faults, 3), draw(7, Stream::Latency, 3));
        let mut s = StreamRng::new(7, Stream::Faults);
        let seq: Vec<u64> = (0..4).map(|_| s.next_u64()).collect();
        assert_eq!(seq[3], draw(7, Stream::Faults, 3));
    }
}
