//! [`VecMap`]: the engine's per-trade maps (its pair records, the leg ends the stream told of,
//! the signal ids of its duplicate cache, its local position book) as a vector sorted by key.
//!
//! These maps hold one or two entries at a time and are touched by every stream event (a walk
//! over the pairs for a leg), every placement (an insert) and every leg's end (a removal). A
//! `BTreeMap` paid a node allocation per insert, a non-inlined search per lookup, and its
//! `retain` (an `ExtractIf`) and `remove` rebalanced nodes. A sorted vector iterates in the
//! same key order (the order the engine's events come out in), and the keys these maps get
//! (pair ids, leg ids) mostly grow, so an insert appends and the newest entry leaves by a pop.

use std::borrow::Borrow;
use std::fmt;

/// A map kept sorted by key: what the engine used of `BTreeMap`, in the same order.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct VecMap<K, V> {
    v: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { v: Vec::new() }
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

impl<K: Ord, V> VecMap<K, V> {
    /// Where `k` is, or where it would go. The common cases first: no entries, or a key at
    /// (or past) the end.
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

    /// True when the map holds nothing.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// The value of `k` (or of a key that borrows as `k`: a `String` key found by `&str`).
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

    /// Removes `k`; its value if it was there.
    #[inline]
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        match self.find(k) {
            // the newest entry (often the only one) leaves without moving anything
            Ok(i) if i + 1 == self.v.len() => self.v.pop().map(|e| e.1),
            Ok(i) => Some(self.v.remove(i).1),
            Err(_) => None,
        }
    }

    /// Keeps the entries `keep` accepts, visiting them in key order (as `BTreeMap::retain`).
    #[inline]
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.v.retain_mut(|(k, v)| keep(k, v));
    }

    /// The values in key order.
    #[inline]
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.v.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random operations on a `VecMap` and a `BTreeMap` side by side: every answer, the
    /// contents in order and the printed form agree (keys mostly growing, as the engine's do,
    /// but also old and repeated ones).
    #[test]
    fn behaves_as_a_btreemap() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
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
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
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
