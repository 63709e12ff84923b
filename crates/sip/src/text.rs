//! [`Text`]: an immutable, cheaply clonable UTF-8 string for typed header fields.
//!
//! Short strings (most parameter names and values) are stored inline, so parsing them costs
//! neither an allocation nor a reference-count update; longer ones share the received message
//! buffer (`bytes::Bytes`). Either way a typed value owns its data (`'static`, `Send`, clonable).

use bytes::Bytes;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Inline capacity: a power of two, so the window is copied with one 16-byte move (odd sizes
/// are copied in overlapping pieces whose reloads stall on store forwarding).
const INLINE: usize = 16;

#[derive(Clone)]
enum Repr {
    /// The string is `buf[off..off + len]`: a slice copies a fixed-size window that contains
    /// it (no variable-length copy), recording where in the window it starts.
    Inline {
        len: u8,
        off: u8,
        buf: [u8; INLINE],
    },
    Shared(Bytes),
}

/// An immutable UTF-8 string: inline when short, else a slice of a shared buffer.
#[derive(Clone)]
pub struct Text(Repr);

impl Default for Text {
    fn default() -> Self {
        Text::EMPTY
    }
}

impl Text {
    /// The empty string (usable in constants).
    pub(crate) const EMPTY: Text = Text(Repr::Inline {
        len: 0,
        off: 0,
        buf: [0; INLINE],
    });

    /// A `Text` from a static string (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        Text(Repr::Shared(Bytes::from_static(s.as_bytes())))
    }

    /// Wraps bytes if they are valid UTF-8.
    pub fn from_bytes(b: Bytes) -> Option<Self> {
        // Header values are nearly always ASCII: checking eight bytes at a time for a high bit is
        // cheaper than full UTF-8 validation, which then runs only when one is set.
        if !is_ascii_words(&b) {
            std::str::from_utf8(&b).ok()?;
        }
        Some(Text(Repr::Shared(b)))
    }

    /// Copies short valid UTF-8 inline; `None` if too long.
    fn inline(b: &[u8]) -> Option<Self> {
        let mut buf = [0u8; INLINE];
        buf.get_mut(..b.len())?.copy_from_slice(b);
        Some(Text(Repr::Inline {
            len: b.len() as u8,
            off: 0,
            buf,
        }))
    }

    /// The string.
    #[inline]
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor (`from_static`, `from_bytes`, `From<&str>`, `From<String>`,
        // `inline` from a checked `Text`) starts from valid UTF-8, and `slice` only cuts at
        // character boundaries, so the bytes are always valid UTF-8. Re-validating on every
        // access would make typed header parsing quadratic in the value length.
        unsafe { std::str::from_utf8_unchecked(self.as_bytes()) }
    }

    /// The bytes of the string.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, off, buf } => {
                let off = *off as usize;
                buf.get(off..off + *len as usize).unwrap_or(&[])
            }
            Repr::Shared(b) => b,
        }
    }

    /// Sub-slice by byte offsets. Both offsets must lie on character boundaries (callers cut at
    /// ASCII delimiters); otherwise, or when out of range, an empty `Text` is returned.
    #[inline(always)]
    pub(crate) fn slice(&self, start: usize, end: usize) -> Text {
        let s = self.as_bytes();
        let Some(sub) = s.get(start..end) else {
            return Text::default();
        };
        // A UTF-8 continuation byte (0b10xx_xxxx) is never the first byte of a character.
        let boundary = |i: usize| s.get(i).is_none_or(|&b| (b as i8) >= -0x40);
        if !(boundary(start) && boundary(end)) {
            return Text::default();
        }
        let len = sub.len();
        if len <= INLINE {
            // Copy a fixed-size window holding the string: starting at it when the source is
            // long enough, else ending at the source's end. One fixed-size copy either way, so
            // no `memcpy` call whose stores would stall the loads that follow.
            let from = start.min(s.len().saturating_sub(INLINE));
            if let Some(w) = s.get(from..).and_then(|w| w.first_chunk::<INLINE>()) {
                return Text(Repr::Inline {
                    len: len as u8,
                    off: (start - from) as u8,
                    buf: *w,
                });
            }
            // a source shorter than the window
            let mut buf = [0u8; INLINE];
            for (d, &b) in buf.iter_mut().zip(sub) {
                *d = b;
            }
            return Text(Repr::Inline {
                len: len as u8,
                off: 0,
                buf,
            });
        }
        match &self.0 {
            Repr::Shared(b) => Text(Repr::Shared(b.slice(start..end))),
            Repr::Inline { .. } => Text::default(),
        }
    }

    /// True if the string is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

/// True if no byte of `s` has its high bit set (ASCII), eight bytes per step.
#[inline]
fn is_ascii_words(s: &[u8]) -> bool {
    let mut chunks = s.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        acc |= u64::from_le_bytes(c.try_into().unwrap_or([0xff; 8]));
    }
    for &b in chunks.remainder() {
        acc |= u64::from(b);
    }
    acc & 0x8080_8080_8080_8080 == 0
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::inline(s.as_bytes())
            .unwrap_or_else(|| Text(Repr::Shared(Bytes::copy_from_slice(s.as_bytes()))))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::inline(s.as_bytes()).unwrap_or_else(|| Text(Repr::Shared(Bytes::from(s))))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.as_str())
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bytes_checks_utf8_at_every_position() {
        // a high byte at each position of values around the 8-byte word size: the ASCII fast
        // check must see it, and full validation then accepts or rejects the value
        for len in 1..40 {
            assert!(is_ascii_words(&vec![b'a'; len]));
            for pos in 0..len {
                let mut bad = vec![b'a'; len];
                bad[pos] = 0x80;
                assert!(!is_ascii_words(&bad), "len {len} pos {pos}");
                assert!(
                    Text::from_bytes(Bytes::from(bad)).is_none(),
                    "len {len} pos {pos}"
                );
                let mut good = "a".repeat(len - 1);
                good.insert(pos.min(good.len()), 'é');
                let t = Text::from_bytes(Bytes::from(good.clone())).expect("valid UTF-8");
                assert_eq!(t.as_str(), good);
            }
        }
        assert!(is_ascii_words(b""));
        assert_eq!(Text::from_bytes(Bytes::new()).expect("empty").as_str(), "");
    }

    #[test]
    fn inline_and_shared_behave_the_same() {
        let long = "x".repeat(100);
        let src = Text::from_bytes(Bytes::from(format!("ab;{long};é"))).expect("utf8");
        assert_eq!(src.slice(0, 2), "ab");
        assert_eq!(src.slice(3, 103).as_str(), long);
        assert_eq!(src.slice(104, 106), "é");
        // not on a character boundary, or out of range: empty
        assert!(src.slice(104, 105).is_empty());
        assert!(src.slice(5, 500).is_empty());
        assert!(src.slice(6, 5).is_empty());
        let short = Text::from("hello");
        assert_eq!(short.slice(1, 3), "el");
        assert_eq!(Text::from(long.clone()), Text::from(long.as_str()));
        assert_eq!(Text::from_static("hi"), Text::from("hi"));
        assert!(Text::from_bytes(Bytes::from_static(b"\xff")).is_none());
    }
}
