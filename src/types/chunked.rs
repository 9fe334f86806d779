//! An append-only list in fixed-size chunks, shared by the exchange's order store and the price
//! chart's book: a push never moves what is stored. A `Vec` that doubles copies everything kept
//! so far at each growth (the exchange's orders: 27 reallocations and ≈ 7 M instructions of
//! copying in a quarter of 6,578 brackets; the book's 26 k legs: megabytes through `realloc`).
//! Both are indexed by position and walked in order, so neither needs one contiguous slice.
//!
//! Whole chunks at the front can be freed ([`Chunked::free_front_while`]) when nothing can ask
//! for their entries again: indices stay those of the pushes, `len` counts every push, and an
//! entry of a freed chunk is simply gone (`get` answers `None`).

use std::ops::{Index, IndexMut};

/// Entries per chunk (a power of two: the index splits with a shift and a mask).
const CHUNK: usize = 1024;

#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
    /// Chunks before this one were freed (each left an empty, unallocated `Vec`).
    first: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
            first: 0,
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

    /// True when a push now would open a new chunk (every [`CHUNK`] pushes): the moment to
    /// consider freeing old ones.
    #[inline]
    pub fn at_chunk_start(&self) -> bool {
        self.len % CHUNK == 0
    }

    /// Frees the oldest chunks, one after the other, while `free` says so of their entries; never
    /// the chunk being filled. Returns how many entries were freed.
    pub fn free_front_while(&mut self, mut free: impl FnMut(&[T]) -> bool) -> usize {
        let mut n = 0;
        while self.first + 1 < self.chunks.len() && free(&self.chunks[self.first]) {
            n += std::mem::take(&mut self.chunks[self.first]).len();
            self.first += 1;
        }
        n
    }

    /// Entries held (pushed and not freed).
    pub fn held(&self) -> usize {
        self.len - self.first * CHUNK
    }

    /// The entries in the order pushed (those not freed).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// The entries in the order pushed (those not freed).
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

    #[test]
    fn freed_chunks_are_gone_and_the_rest_keep_their_indices() {
        let mut l = Chunked::default();
        let n = 4 * CHUNK + 10;
        for i in 0..n as u64 {
            assert_eq!(l.at_chunk_start(), i as usize % CHUNK == 0);
            l.push(i);
        }
        // the predicate sees each chunk's entries; it stops at the first chunk it keeps
        let mut seen = Vec::new();
        let freed = l.free_front_while(|c| {
            seen.push(c[0]);
            c[CHUNK - 1] < 2 * CHUNK as u64
        });
        assert_eq!(freed, 2 * CHUNK);
        assert_eq!(seen, [0, CHUNK as u64, 2 * CHUNK as u64]);
        assert_eq!(l.len(), n, "len counts every push");
        assert_eq!(l.held(), n - 2 * CHUNK);
        assert_eq!(l.get(0), None);
        assert_eq!(l.get(2 * CHUNK - 1), None);
        assert_eq!(l.get(2 * CHUNK), Some(&(2 * CHUNK as u64)));
        assert_eq!(l[n - 1], n as u64 - 1);
        assert_eq!(l.rposition(|&x| x < 5), None, "freed entries are not found");
        assert_eq!(l.rposition(|&x| x == 3 * CHUNK as u64), Some(3 * CHUNK));
        assert!(l.iter().copied().eq(2 * CHUNK as u64..n as u64));
        // the chunk being filled is never freed, however the predicate answers
        assert_eq!(l.free_front_while(|_| true), 2 * CHUNK);
        assert_eq!(l.held(), 10);
        assert_eq!(l.get(4 * CHUNK), Some(&(4 * CHUNK as u64)));
        l.push(7);
        assert_eq!(l.len(), n + 1);
        assert_eq!(l[n], 7);
    }
}
