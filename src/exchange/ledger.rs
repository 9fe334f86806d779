//! Append-only storage of every order and algo order a run placed, indexed by position (the id
//! minus its base). Orders stay queryable by id and client id after they end, as on Binance, so
//! none is dropped; what the store avoids is moving them: a `Vec` doubling copied every order
//! kept so far (27 reallocations and ≈ 7 M instructions of copying in a quarter with 6,578
//! brackets). Entries live in fixed-size chunks, allocated once each and never moved.

use std::ops::{Index, IndexMut};

/// Entries per chunk (a power of two: the index splits with a shift and a mask).
const CHUNK: usize = 512;

pub(crate) struct Ledger<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Ledger<T> {
    fn default() -> Self {
        Ledger {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Ledger<T> {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `v` at index `len()`.
    #[inline]
    pub fn push(&mut self, v: T) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(v);
        }
        self.len += 1;
    }

    #[inline]
    pub fn get(&self, k: usize) -> Option<&T> {
        self.chunks.get(k / CHUNK)?.get(k % CHUNK)
    }

    /// The index of the last entry that satisfies `f`.
    pub fn rposition(&self, mut f: impl FnMut(&T) -> bool) -> Option<usize> {
        for (i, c) in self.chunks.iter().enumerate().rev() {
            if let Some(j) = c.iter().rposition(&mut f) {
                return Some(i * CHUNK + j);
            }
        }
        None
    }
}

impl<T> Index<usize> for Ledger<T> {
    type Output = T;
    #[inline]
    fn index(&self, k: usize) -> &T {
        &self.chunks[k / CHUNK][k % CHUNK]
    }
}

impl<T> IndexMut<usize> for Ledger<T> {
    #[inline]
    fn index_mut(&mut self, k: usize) -> &mut T {
        &mut self.chunks[k / CHUNK][k % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_pushes_and_searches_like_a_vec() {
        let mut l = Ledger::default();
        let mut v = Vec::new();
        assert_eq!(l.get(0), None);
        assert_eq!(l.rposition(|_: &u64| true), None);
        for i in 0..(3 * CHUNK as u64 + 7) {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1000;
            l.push(x);
            v.push(x);
            assert_eq!(l.len(), v.len());
        }
        for k in 0..v.len() + 2 {
            assert_eq!(l.get(k), v.get(k));
        }
        for k in (0..v.len()).step_by(37) {
            l[k] += 1;
            v[k] += 1;
            assert_eq!(l[k], v[k]);
        }
        for target in [0u64, 1, 500, 999, 1000, 7] {
            assert_eq!(
                l.rposition(|&x| x == target),
                v.iter().rposition(|&x| x == target)
            );
        }
    }
}
