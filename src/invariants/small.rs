//! Ordered maps and sets kept as vectors sorted by key, for the checker's open state.
//!
//! The checker holds a handful of entries per map (the live orders, pairs and stops of a run) and
//! touches several maps on every event; a `BTreeMap` pays a node allocation per insert and a
//! non-inlined search per lookup or removal, most of them on empty or one-entry maps. A sorted
//! vector iterates in the same key order (so everything that reaches a report comes out in the
//! same order), finds a key by binary search, appends the usual ever-growing id without moving
//! anything, and answers an empty map without a search. Removal moves the entries after the key,
//! which stays cheap while the open state is small (and the oldest entries, which leak when an
//! engine forgets something, sit at the front where the newest ones' removals do not move them).

/// A map sorted by key.
#[derive(Debug, Clone)]
pub(crate) struct VecMap<K, V> {
    v: Vec<(K, V)>,
}

impl<K: Ord + Copy, V> VecMap<K, V> {
    pub(crate) const fn new() -> Self {
        VecMap { v: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.v.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Where `k` is, or where it would go.
    #[inline]
    fn find(&self, k: &K) -> Result<usize, usize> {
        // the common cases first: no entries, or a key at (or past) the end
        match self.v.last() {
            None => Err(0),
            Some((last, _)) => match last.cmp(k) {
                std::cmp::Ordering::Less => Err(self.v.len()),
                std::cmp::Ordering::Equal => Ok(self.v.len() - 1),
                std::cmp::Ordering::Greater => self.v.binary_search_by(|e| e.0.cmp(k)),
            },
        }
    }

    #[inline]
    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.find(k).ok().map(|i| &self.v[i].1)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        match self.find(k) {
            Ok(i) => Some(&mut self.v[i].1),
            Err(_) => None,
        }
    }

    #[inline]
    pub(crate) fn contains_key(&self, k: &K) -> bool {
        self.find(k).is_ok()
    }

    /// Sets `k` to `val`; the old value if there was one.
    pub(crate) fn insert(&mut self, k: K, val: V) -> Option<V> {
        match self.find(&k) {
            Ok(i) => Some(std::mem::replace(&mut self.v[i].1, val)),
            Err(i) => {
                self.v.insert(i, (k, val));
                None
            }
        }
    }

    /// The value of `k`, inserted by `f` when absent.
    pub(crate) fn get_or_insert_with(&mut self, k: K, f: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&k) {
            Ok(i) => i,
            Err(i) => {
                self.v.insert(i, (k, f()));
                i
            }
        };
        &mut self.v[i].1
    }

    #[inline]
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        match self.find(k) {
            // the newest entry (often the only one) leaves without moving anything
            Ok(i) if i + 1 == self.v.len() => self.v.pop().map(|e| e.1),
            Ok(i) => Some(self.v.remove(i).1),
            Err(_) => None,
        }
    }

    /// Removes `k` if its value passes `keep_out`; the value if removed. (One search where a
    /// `get` then a `remove` make two.)
    #[inline]
    pub(crate) fn remove_if(&mut self, k: &K, keep_out: impl FnOnce(&V) -> bool) -> Option<V> {
        match self.find(k) {
            Ok(i) if keep_out(&self.v[i].1) => {
                if i + 1 == self.v.len() {
                    self.v.pop().map(|e| e.1)
                } else {
                    Some(self.v.remove(i).1)
                }
            }
            _ => None,
        }
    }

    /// Entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.v.iter().map(|(k, v)| (k, v))
    }

    /// Entries in key order, values mutable.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> + '_ {
        self.v.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.v.iter().map(|(_, v)| v)
    }
}

impl<K: Ord + Copy, V> std::ops::Index<&K> for VecMap<K, V> {
    type Output = V;
    fn index(&self, k: &K) -> &V {
        self.get(k).expect("key in map")
    }
}

/// A set sorted by value.
#[derive(Debug, Clone)]
pub(crate) struct VecSet<K> {
    m: VecMap<K, ()>,
}

impl<K: Ord + Copy> VecSet<K> {
    pub(crate) const fn new() -> Self {
        VecSet { m: VecMap::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.m.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.m.is_empty()
    }

    /// Whether `k` was not there yet.
    pub(crate) fn insert(&mut self, k: K) -> bool {
        self.m.insert(k, ()).is_none()
    }

    /// Whether `k` was there.
    #[inline]
    pub(crate) fn remove(&mut self, k: &K) -> bool {
        self.m.remove(k).is_some()
    }

    #[inline]
    pub(crate) fn contains(&self, k: &K) -> bool {
        self.m.contains_key(k)
    }

    /// The least element.
    pub(crate) fn first(&self) -> Option<&K> {
        self.m.v.first().map(|e| &e.0)
    }

    /// Removes the least element.
    pub(crate) fn pop_first(&mut self) -> Option<K> {
        if self.m.v.is_empty() {
            None
        } else {
            Some(self.m.v.remove(0).0)
        }
    }

    /// Keeps the elements `f` accepts, in order.
    pub(crate) fn retain(&mut self, mut f: impl FnMut(&K) -> bool) {
        self.m.v.retain(|e| f(&e.0));
    }

    pub(crate) fn clear(&mut self) {
        self.m.v.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Any sequence of operations leaves the same entries, in the same order, as a `BTreeMap`.
    #[test]
    fn a_vec_map_agrees_with_a_btree_map() {
        let mut rnd = crate::types::xorshift_below(0x2545_f491_4f6c_dd1d);
        let mut a = VecMap::new();
        let mut b = BTreeMap::new();
        for step in 0..20_000u64 {
            // mostly rising keys (ids), some anywhere
            let k = if rnd(3) == 0 { rnd(64) } else { step / 4 % 96 };
            match rnd(6) {
                0 | 1 => assert_eq!(a.insert(k, step), b.insert(k, step)),
                2 => assert_eq!(a.remove(&k), b.remove(&k)),
                5 => {
                    // removed only when the value is even
                    let want = match b.get(&k) {
                        Some(v) if v % 2 == 0 => b.remove(&k),
                        _ => None,
                    };
                    assert_eq!(a.remove_if(&k, |v| v % 2 == 0), want);
                }
                3 => assert_eq!(a.get(&k), b.get(&k)),
                _ => {
                    *a.get_or_insert_with(k, || 0) += 1;
                    *b.entry(k).or_insert(0) += 1;
                }
            }
            assert_eq!(a.len(), b.len());
            assert_eq!(a.contains_key(&k), b.contains_key(&k));
        }
        assert!(a.iter().eq(b.iter()));
        let mut s = VecSet::new();
        for k in [5, 3, 9, 3, 1] {
            s.insert(k);
        }
        assert_eq!(s.first(), Some(&1));
        assert_eq!(s.pop_first(), Some(1));
        s.retain(|&k| k != 5);
        assert!(s.contains(&3) && s.contains(&9) && !s.contains(&5) && s.len() == 2);
    }
}
