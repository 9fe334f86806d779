//! An append-only list in fixed-size chunks, shared by the exchange's order store and the price
//! chart's book: a push never moves what is stored. A `Vec` that doubles copies everything kept
//! so far at each growth (the exchange's orders: 27 reallocations and ≈ 7 M instructions of
//! copying in a quarter of 6,578 brackets; the book's 26 k legs: megabytes through `realloc`).
//! Both are indexed by position and walked in order, so neither needs one contiguous slice.

use std::ops::{Index, IndexMut};

/// Entries per chunk (a power of two: the index splits with a shift and a mask).
const CHUNK: usize = 1024;

#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
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
        // the last chunk has room: a new one was opened when the previous filled up
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

    /// The entries in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// The entries in the order pushed.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;
    #[inline]
    fn index(&self, k: usize) -> &T {
        &self.chunks[k / CHUNK][k % CHUNK]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, k: usize) -> &mut T {
        &mut self.chunks[k / CHUNK][k % CHUNK]
    }
}

impl<T> IntoIterator for Chunked<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_pushes_searches_and_walks_like_a_vec() {
        let mut l = Chunked::default();
        let mut v = Vec::new();
        assert_eq!(l.get(0), None);
        assert_eq!(l.len(), 0);
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
        assert!(l.iter().eq(v.iter()));
        for (a, b) in l.iter_mut().zip(v.iter_mut()) {
            *a *= 3;
            *b *= 3;
        }
        assert_eq!(l.into_iter().collect::<Vec<_>>(), v);
    }
}
