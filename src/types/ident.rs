//! [`Ident`]: the short identifiers of the trading path (symbols, client order and algo ids).
//!
//! Every trade copies its symbol and client ids between the engine, the venue, the exchange's
//! books and the stream events dozens of times; as `String` each copy was a heap allocation and a
//! free. Binance caps client ids at 36 bytes and symbols are shorter, and the ids this engine
//! makes (`ocoE-lfxawzhck-4e4-4fe`) fit the 24 bytes a `CompactString` keeps inline, so a copy is
//! a plain 24-byte move; a longer id still works, on the heap.
//!
//! It behaves as the `String` it replaced wherever that is observable: serde reads and writes a
//! plain string, `Debug` quotes as `String`'s does, and ordering, equality and hashing are those
//! of `str` (maps keyed by it keep their order and can be looked up by `&str`).

use compact_str::CompactString;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes an [`Ident`] keeps inline (a `String`'s size).
const INLINE: usize = std::mem::size_of::<String>();

/// A symbol or client id: a string, inline up to 24 bytes.
#[derive(Default, PartialEq, Eq)]
pub struct Ident(CompactString);

impl Clone for Ident {
    #[inline]
    fn clone(&self) -> Ident {
        Ident(self.0.clone())
    }
    // an inline source is copied over whatever the destination held (no drop-then-clone)
    #[inline]
    fn clone_from(&mut self, source: &Ident) {
        self.0.clone_from(&source.0);
    }
}

impl Ident {
    /// An empty id (as `String::new()`).
    pub const fn new() -> Ident {
        Ident(CompactString::const_new(""))
    }

    /// True when the text is on the heap (longer than it keeps inline): only then does dropping
    /// it free anything (the event log skips the drop of records that own nothing).
    #[inline]
    pub fn is_heap(&self) -> bool {
        self.0.is_heap_allocated()
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `parts` end to end. An id that fits inline is assembled on the stack and made once: a
    /// few pushes onto a `CompactString` cost several times as much (each checks its room).
    pub fn concat(parts: &[&str]) -> Ident {
        let mut buf = [0u8; INLINE];
        let mut n = 0;
        for p in parts {
            let Some(dst) = buf.get_mut(n..n + p.len()) else {
                return Ident::from(parts.concat());
            };
            copy_short(dst, p.as_bytes());
            n += p.len();
        }
        let s = &buf[..n];
        debug_assert!(std::str::from_utf8(s).is_ok());
        // SAFETY: `s` is whole `str` pieces copied end to end, and UTF-8 concatenated is UTF-8
        // (checking it again was a measurable part of every order id)
        Ident::from(unsafe { std::str::from_utf8_unchecked(s) })
    }
}

/// `dst.copy_from_slice(src)` for the few bytes of an id's part (at most [`INLINE`]), as two
/// fixed-size copies that overlap (8..=16 bytes: the first 8 and the last 8; and so on down)
/// instead of a call to memcpy: an id is a few such parts, and the calls were most of the cost.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    assert_eq!(dst.len(), n);
    if n >= 16 {
        // 16..=24 (an id's part fits the inline buffer)
        dst[..16].copy_from_slice(&src[..16]);
        dst[n - 16..].copy_from_slice(&src[n - 16..]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else if n >= 2 {
        dst[..2].copy_from_slice(&src[..2]);
        dst[n - 2..].copy_from_slice(&src[n - 2..]);
    } else if n == 1 {
        dst[0] = src[0];
    }
}

impl Deref for Ident {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Ident {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // quoted and escaped exactly as `String`'s Debug (reports and tests print `{:?}`)
        fmt::Debug::fmt(self.as_str(), f)
    }
}

// Ordering and hashing of `str`, as `Borrow<str>` requires (BTreeMap order unchanged).
impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Ident) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ident {
    fn cmp(&self, other: &Ident) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Ident {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<&str> for Ident {
    #[inline]
    fn from(s: &str) -> Ident {
        Ident(CompactString::new(s))
    }
}

impl From<&String> for Ident {
    fn from(s: &String) -> Ident {
        Ident(CompactString::new(s))
    }
}

impl From<String> for Ident {
    fn from(s: String) -> Ident {
        Ident(CompactString::from(s))
    }
}

impl From<&Ident> for Ident {
    fn from(s: &Ident) -> Ident {
        s.clone()
    }
}

impl From<Ident> for String {
    fn from(s: Ident) -> String {
        s.0.into_string()
    }
}

impl PartialEq<str> for Ident {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Ident {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Ident {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Ident> for str {
    fn eq(&self, other: &Ident) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Ident> for &str {
    fn eq(&self, other: &Ident) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Ident> for String {
    fn eq(&self, other: &Ident) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for Ident {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ident, D::Error> {
        // what `String` accepts, asked for the same way (`deserialize_string`), with its messages
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Ident;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ident, E> {
                Ok(Ident::from(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Ident, E> {
                Ok(Ident::from(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Ident, E> {
                match std::str::from_utf8(v) {
                    Ok(s) => Ok(Ident::from(s)),
                    Err(_) => Err(de::Error::invalid_value(de::Unexpected::Bytes(v), &self)),
                }
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Ident, E> {
                match String::from_utf8(v) {
                    Ok(s) => Ok(Ident::from(s)),
                    Err(e) => Err(de::Error::invalid_value(
                        de::Unexpected::Bytes(&e.into_bytes()),
                        &self,
                    )),
                }
            }
        }
        deserializer.deserialize_string(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// `concat` (its short copies) gives `parts.concat()` for random parts of every length up
    /// to past the inline buffer, multi-byte characters included.
    #[test]
    fn concat_is_parts_concatenated() {
        let mut rnd = crate::types::xorshift_below(0x2545_f491_4f6c_dd1d);
        let alphabet = ['a', 'Z', '0', '-', 'é', '€', '𝄞'];
        for _ in 0..20_000 {
            let parts: Vec<String> = (0..rnd(5))
                .map(|_| {
                    let cap = if rnd(4) == 0 { 30 } else { 14 };
                    (0..rnd(cap))
                        .map(|_| alphabet[rnd(alphabet.len() as u64) as usize])
                        .collect()
                })
                .collect();
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            assert_eq!(Ident::concat(&refs).as_str(), refs.concat(), "{refs:?}");
        }
        // every length of one part, byte for byte
        let long = "abcdefghijklmnopqrstuvwxyz";
        for n in 0..=long.len() {
            assert_eq!(Ident::concat(&[&long[..n]]).as_str(), &long[..n]);
            assert_eq!(
                Ident::concat(&["x", &long[..n], "y"]).as_str(),
                format!("x{}y", &long[..n])
            );
        }
    }

    #[test]
    fn behaves_as_string() {
        let long = "ocoE-lfxawzhck-4e4-4fe-0123456789abcd"; // 37 bytes: on the heap
        for s in [
            "",
            "FILUSDT",
            "ocoE-lfxawzhck-4e4-4fe",
            long,
            "a\"b\\c\u{e9}\n",
        ] {
            let id = Ident::from(s);
            assert_eq!(id.as_str(), s);
            assert_eq!(format!("{id}"), s);
            assert_eq!(format!("{id:?}"), format!("{:?}", s.to_string()));
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                serde_json::to_string(s).unwrap()
            );
            let back: Ident = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
            assert_eq!(back, s);
            assert_eq!(id.clone(), id);
            assert_eq!(String::from(id.clone()), s);
        }
        assert_eq!(
            Ident::concat(&["ocoE-", "lfxawzhck", "-", "4e4", "-", "4fe"]),
            "ocoE-lfxawzhck-4e4-4fe"
        );
        assert_eq!(
            Ident::concat(&[long, "-", "\u{e9}"]),
            format!("{long}-\u{e9}")
        );
        assert_eq!(Ident::concat(&[]), "");
        // ordering of str, lookups by &str
        let mut m = BTreeMap::new();
        for s in ["b", "a", "ab", "B"] {
            m.insert(Ident::from(s), s.len());
        }
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["B", "a", "ab", "b"]);
        assert_eq!(m.get("ab"), Some(&2));
        // what String refuses, Ident refuses with the same message
        let e1 = serde_json::from_str::<String>("12")
            .unwrap_err()
            .to_string();
        let e2 = serde_json::from_str::<Ident>("12").unwrap_err().to_string();
        assert_eq!(e1, e2);
        #[derive(serde::Deserialize)]
        struct T {
            s: Ident,
        }
        let t: T = toml::from_str("s = \"FILUSDT\"").unwrap();
        assert_eq!(t.s, "FILUSDT");
    }
}
