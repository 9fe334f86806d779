//! Ordered maps and sets kept as vectors sorted by key ([`VecMap`], [`VecSet`]): the open state
//! of the invariant checker (live orders, pairs, stops) and the engine's per-trade maps (its pair
//! records, the leg ends the stream told of, the signal ids of its duplicate cache, its local
//! position book).
//!
//! Both hold a handful of entries per map and touch several maps on every event; a `BTreeMap`
//! pays a node allocation per insert, a non-inlined search per lookup or removal (most of them
//! on empty or one-entry maps), and its `retain` and `remove` rebalance nodes. A sorted vector
//! iterates in the same key order (so everything that reaches a report or an engine's event
//! comes out in the same order), finds a key by binary search, appends the usual ever-growing id
//! without moving anything, lets the newest entry leave by a pop, and answers an empty map
//! without a search. Removal moves the entries after the key, which stays cheap while the open
//! state is small (and the oldest entries, which leak when an engine forgets something, sit at
//! the front where the newest ones' removals do not move them).

use std::borrow::Borrow;
use std::fmt;

/// A map sorted by key: what the checker and the engine used of `BTreeMap`, in the same order.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct VecMap<K, V> {
    v: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    /// As a `BTreeMap` prints: `{k: v, …}` in key order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.v.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V> VecMap<K, V> {
    pub(crate) const fn new() -> Self {
        VecMap { v: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.v.len()
    }

    /// True when the map holds nothing.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.v.iter().map(|(k, v)| (k, v))
    }

    /// Entries in key order, values mutable.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> + '_ {
        self.v.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The values in key order.
    #[inline]
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.v.iter().map(|(_, v)| v)
    }

    /// Keeps the entries `keep` accepts, visiting them in key order (as `BTreeMap::retain`).
    #[inline]
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.v.retain_mut(|(k, v)| keep(k, v));
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// Where `k` is, or where it would go (`k` any form the key borrows as: a `String` key
    /// found by `&str`). The common cases first: no entries, or a key at (or past) the end.
    #[inline]
    fn find<Q: Ord + ?Sized>(&self, k: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        match self.v.last() {
            None => Err(0),
            Some((last, _)) => match last.borrow().cmp(k) {
                std::cmp::Ordering::Less => Err(self.v.len()),
                std::cmp::Ordering::Equal => Ok(self.v.len() - 1),
                std::cmp::Ordering::Greater => self.v.binary_search_by(|e| e.0.borrow().cmp(k)),
            },
        }
    }

    /// The value of `k`.
    #[inline]
    pub(crate) fn get<Q: Ord + ?Sized>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(k).ok().map(|i| &self.v[i].1)
    }

    /// The value of `k`, mutable.
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

    /// Sets `k` to `val`; the old value if there was one (the key in the map stays, as a
    /// `BTreeMap` keeps it).
    pub(crate) fn insert(&mut self, k: K, val: V) -> Option<V> {
        match self.find(&k) {
            Ok(i) => Some(std::mem::replace(&mut self.v[i].1, val)),
            Err(i) => {
                self.v.insert(i, (k, val));
                None
            }
        }
    }

    /// The value of `k`, inserted by `f` when absent (`entry(k).or_insert_with(f)`).
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

    /// The value of `k`, `val` inserted first when absent (`entry(k).or_insert(val)`).
    pub(crate) fn or_insert(&mut self, k: K, val: V) -> &mut V {
        let i = match self.find(&k) {
            Ok(i) => i,
            Err(i) => {
                self.v.insert(i, (k, val));
                i
            }
        };
        &mut self.v[i].1
    }

    /// The value of `k`, a default one inserted first when absent (inlined: the checker makes
    /// or finds a leg's entry this way on most records of a leg).
    #[inline]
    pub(crate) fn get_or_default(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&k) {
            Ok(i) => i,
            Err(i) => {
                self.v.insert(i, (k, V::default()));
                i
            }
        };
        &mut self.v[i].1
    }

    /// Applies `f` to the value of `k` if there is one, and removes the entry when `f` answers
    /// false (done with it); whether there was one. (One search where a lookup then a removal
    /// make two.)
    #[inline]
    pub(crate) fn update_or_remove(&mut self, k: &K, f: impl FnOnce(&mut V) -> bool) -> bool {
        match self.find(k) {
            Ok(i) => {
                if !f(&mut self.v[i].1) {
                    // the newest entry (often the only one) leaves without moving anything
                    if i + 1 == self.v.len() {
                        self.v.pop();
                    } else {
                        self.v.remove(i);
                    }
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Removes `k`; its value if it was there. (Its own body: inlined where the engine drops a
    /// leg, as the engine's own map was.)
    #[inline]
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        match self.find(k) {
            // the newest entry (often the only one) leaves without moving anything
            Ok(i) if i + 1 == self.v.len() => self.v.pop().map(|e| e.1),
            Ok(i) => Some(self.v.remove(i).1),
            Err(_) => None,
        }
    }
}

impl<K: Ord, V> std::ops::Index<&K> for VecMap<K, V> {
    type Output = V;
    fn index(&self, k: &K) -> &V {
        self.get(k).expect("key in map")
    }
}

/// A set sorted by value.
#[derive(Debug, Clone, Default)]
pub(crate) struct VecSet<K> {
    m: VecMap<K, ()>,
}

impl<K: Ord> VecSet<K> {
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
            match rnd(7) {
                0 | 1 => assert_eq!(a.insert(k, step), b.insert(k, step)),
                2 => assert_eq!(a.remove(&k), b.remove(&k)),
                5 => {
                    // removed only when the value is even
                    let want = match b.get(&k) {
                        Some(v) if v % 2 == 0 => b.remove(&k),
                        _ => None,
                    };
                    let mut got = None;
                    a.update_or_remove(&k, |v| {
                        let keep = *v % 2 != 0;
                        if !keep {
                            got = Some(*v);
                        }
                        keep
                    });
                    assert_eq!(got, want);
                }
                3 => assert_eq!(a.get(&k), b.get(&k)),
                4 if step % 2 == 0 => {
                    *a.get_or_default(k) += 3;
                    *b.entry(k).or_default() += 3;
                }
                4 => {
                    // bumped, and removed when the result is a multiple of 3
                    let there = a.update_or_remove(&k, |v| {
                        *v += 1;
                        *v % 3 != 0
                    });
                    assert_eq!(there, b.contains_key(&k));
                    if let Some(v) = b.get_mut(&k) {
                        *v += 1;
                        if *v % 3 == 0 {
                            b.remove(&k);
                        }
                    }
                }
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

    /// Random operations on a `VecMap` and a `BTreeMap` side by side: every answer, the
    /// contents in order and the printed form agree (keys mostly growing, as the engine's do,
    /// but also old and repeated ones).
    #[test]
    fn behaves_as_a_btreemap() {
        let mut rnd = crate::types::xorshift_below(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let mut a: VecMap<u32, u64> = VecMap::default();
            let mut b: BTreeMap<u32, u64> = BTreeMap::new();
            let mut next = 0u32;
            for step in 0..300u64 {
                let k = if rnd(3) == 0 {
                    rnd(u64::from(next) + 2) as u32
                } else {
                    next += 1 + rnd(3) as u32;
                    next
                };
                match rnd(7) {
                    0 | 1 => assert_eq!(a.insert(k, step), b.insert(k, step)),
                    2 => assert_eq!(a.remove(&k), b.remove(&k)),
                    3 => assert_eq!(a.get(&k), b.get(&k)),
                    4 => {
                        if let (Some(p), Some(q)) = (a.get_mut(&k), b.get_mut(&k)) {
                            *p += 1;
                            *q += 1;
                        } else {
                            assert_eq!(a.get(&k), b.get(&k));
                        }
                    }
                    5 => assert_eq!(*a.or_insert(k, step), *b.entry(k).or_insert(step)),
                    _ => {
                        let m = rnd(4) + 2;
                        let (mut sa, mut sb) = (Vec::new(), Vec::new());
                        a.retain(|k, v| {
                            sa.push((*k, *v));
                            *v += 1;
                            (*k as u64 + *v) % m != 0
                        });
                        b.retain(|k, v| {
                            sb.push((*k, *v));
                            *v += 1;
                            (*k as u64 + *v) % m != 0
                        });
                        assert_eq!(sa, sb, "retain visits in key order");
                    }
                }
                assert_eq!(a.is_empty(), b.is_empty());
                assert!(a.values().eq(b.values()));
                assert_eq!(format!("{a:?}"), format!("{b:?}"));
            }
        }
    }

    /// String keys (the duplicate cache's signal ids) found by `&str`, inserted in and out of
    /// order, retained by value: as a `BTreeMap<String, _>`.
    #[test]
    fn string_keys_behave_as_a_btreemap() {
        let mut rnd = crate::types::xorshift_below(0x2545_f491_4f6c_dd1d);
        let mut a: VecMap<String, u64> = VecMap::default();
        let mut b: BTreeMap<String, u64> = BTreeMap::new();
        for step in 0..20_000u64 {
            let k = format!(
                "s_{}_{:05}",
                ["buy", "sell", "close"][rnd(3) as usize],
                rnd(400)
            );
            match rnd(4) {
                0 | 1 => assert_eq!(a.insert(k.clone(), step), b.insert(k, step)),
                2 => assert_eq!(a.get(k.as_str()), b.get(k.as_str())),
                _ => {
                    let cut = step.saturating_sub(rnd(3_000));
                    a.retain(|_, t| *t >= cut);
                    b.retain(|_, t| *t >= cut);
                }
            }
            assert!(a.values().eq(b.values()));
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }
}
