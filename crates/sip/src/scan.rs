//! Byte-level grammar helpers (RFC 3261 §25.1): token characters, linear white space, quoted
//! strings, comma-list splitting that respects quotes and `<…>`, and a small cursor.
//!
//! Header values handed to these helpers may contain folded line breaks (CRLF followed by SP or
//! HTAB): the message parser has already checked that, so CR and LF are treated as white space.

use crate::text::Text;

const fn token_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
}

static TOKEN: [bool; 256] = token_table();

/// RFC 3261 `token` characters: alphanum / `-.!%*_+` `` ` `` `'~`.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// SP, HTAB, or a CR/LF of a fold.
#[inline]
pub(crate) const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// True if every byte is a token character and there is at least one (RFC 3261 §25.1 `token`).
pub fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

/// Characters accepted in a generic parameter value besides quoted strings: token characters plus
/// those of a host or IPv6 reference (`gen-value = token / host / quoted-string`).
#[inline]
pub(crate) fn is_value_char(b: u8) -> bool {
    VALUE[b as usize]
}

const fn value_table() -> [bool; 256] {
    let mut t = token_table();
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t[b':' as usize] = true;
    t
}

static VALUE: [bool; 256] = value_table();

/// A cursor over a header value.
pub(crate) struct Cursor<'a> {
    pub s: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a [u8]) -> Self {
        Cursor { s, pos: 0 }
    }

    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Skips linear white space (a local index, written back once).
    #[inline]
    pub fn skip_ws(&mut self) {
        // usually there is none
        if !self.s.get(self.pos).is_some_and(|&b| is_lws(b)) {
            return;
        }
        let rest = self.s.get(self.pos..).unwrap_or(&[]);
        self.pos += rest.iter().take_while(|&&b| is_lws(b)).count();
    }

    /// Consumes `b` if it is next (after no white space).
    #[inline]
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips white space, then consumes `b` if next; on failure the position is unchanged.
    #[inline]
    pub fn eat_ws(&mut self, b: u8) -> bool {
        // usually `b` is next, without white space
        if !is_lws(b) && self.peek() == Some(b) {
            self.pos += 1;
            return true;
        }
        let rest = self.s.get(self.pos..).unwrap_or(&[]);
        let n = rest.iter().take_while(|&&c| is_lws(c)).count();
        if rest.get(n) == Some(&b) {
            self.pos += n + 1;
            true
        } else {
            false
        }
    }

    /// Consumes a run of bytes matching `f`; returns its range (possibly empty).
    #[inline]
    pub fn take_while(&mut self, f: impl Fn(u8) -> bool) -> (usize, usize) {
        let start = self.pos;
        let rest = self.s.get(start..).unwrap_or(&[]);
        self.pos = start + rest.iter().take_while(|&&b| f(b)).count();
        (start, self.pos)
    }

    /// Consumes a non-empty token.
    #[inline]
    pub fn token(&mut self) -> Option<(usize, usize)> {
        let r = self.take_while(is_token);
        if r.0 == r.1 {
            None
        } else {
            Some(r)
        }
    }

    /// Consumes a quoted string starting at the current `"`. Returns the range of the content
    /// (without quotes) and whether it holds a quoted-pair or fold that needs unescaping.
    pub fn quoted(&mut self) -> Result<((usize, usize), bool), &'static str> {
        if !self.eat(b'"') {
            return Err("expected a quoted string");
        }
        let start = self.pos;
        let mut escaped = false;
        loop {
            let rest = self.s.get(self.pos..).unwrap_or(&[]);
            let Some(k) = find_quote_stop(rest) else {
                self.pos = self.s.len();
                return Err("unterminated quoted string");
            };
            self.pos += k;
            match self.peek() {
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok(((start, end), escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                        Some(b) if b <= 0x7f && b != b'\r' && b != b'\n' => self.pos += 1,
                        _ => return Err("bad escape in quoted string"),
                    }
                }
                _ => {
                    // a fold inside the quoted string
                    escaped = true;
                    self.pos += 1;
                }
            }
        }
    }
}

/// The first `"`, `\\` or CR in `s` (where a quoted-string scan stops), eight bytes per step:
/// the strings SIP quotes (nonces, responses, URIs) are a few dozen bytes, too short for a
/// vector search to repay its setup.
#[inline]
fn find_quote_stop(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // The high bit of each zero byte of `x`, exact up to and including the lowest zero byte
    // (bytes above it may be marked spuriously by the borrow; only the lowest mark is used).
    #[inline(always)]
    fn zeros(x: u64) -> u64 {
        x.wrapping_sub(LO) & !x & HI
    }
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        let m = zeros(w ^ (LO * u64::from(b'"')))
            | zeros(w ^ (LO * u64::from(b'\\')))
            | zeros(w ^ (LO * u64::from(b'\r')));
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | b'\r'))
        .map(|k| at + k)
}

/// Makes a `Text` of a quoted string's content, removing quoted-pair backslashes and turning folds
/// into a single space when `escaped` is set.
pub(crate) fn unquote(src: &Text, r: (usize, usize), escaped: bool) -> Text {
    if !escaped {
        return src.slice(r.0, r.1);
    }
    let raw = src.as_bytes().get(r.0..r.1).unwrap_or(&[]);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'\\' => {
                if let Some(&n) = raw.get(i + 1) {
                    out.push(n);
                }
                i += 2;
            }
            b'\r' | b'\n' => {
                // a fold: CRLF plus following white space becomes one SP
                while raw.get(i).is_some_and(|&c| is_lws(c)) {
                    i += 1;
                }
                out.push(b' ');
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Text::from(String::from_utf8_lossy(&out).into_owned())
}

/// Writes `s` as a quoted string (RFC 3261 §25.1 quoted-string), escaping `"` and `\` as
/// quoted-pairs.
pub fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Iterates over the elements of a comma-separated list value, splitting only at top-level commas
/// (not inside quotes or `<…>`). Element ranges are trimmed of white space. An empty element or an
/// unterminated quote is an error (RFC 3261 `#` lists have no empty elements).
pub(crate) struct ListIter<'a> {
    s: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> ListIter<'a> {
    pub fn new(s: &'a [u8]) -> Self {
        ListIter {
            s,
            pos: 0,
            done: false,
        }
    }
}

impl Iterator for ListIter<'_> {
    type Item = Result<(usize, usize), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let s = self.s;
        let start = self.pos;
        let mut i = start;
        let end = loop {
            let rest = s.get(i..).unwrap_or(&[]);
            let Some(k) = memchr::memchr3(b',', b'"', b'<', rest) else {
                self.done = true;
                break s.len();
            };
            i += k;
            match s.get(i) {
                Some(b',') => {
                    self.pos = i + 1;
                    break i;
                }
                Some(b'"') => {
                    // skip the quoted string, honouring quoted-pairs
                    i += 1;
                    loop {
                        let rest = s.get(i..).unwrap_or(&[]);
                        match memchr::memchr2(b'"', b'\\', rest) {
                            None => {
                                self.done = true;
                                return Some(Err("unterminated quoted string"));
                            }
                            Some(k) => {
                                i += k;
                                if s.get(i) == Some(&b'\\') {
                                    i += 2;
                                } else {
                                    i += 1;
                                    break;
                                }
                            }
                        }
                    }
                }
                _ => {
                    // '<': skip to the matching '>' (URIs hold no quotes or '>')
                    let rest = s.get(i..).unwrap_or(&[]);
                    match memchr::memchr(b'>', rest) {
                        Some(k) => i += k + 1,
                        None => {
                            self.done = true;
                            break s.len();
                        }
                    }
                }
            }
        };
        let (a, b) = trim(s, start, end);
        if a == b {
            self.done = true;
            return Some(Err("empty list element"));
        }
        Some(Ok((a, b)))
    }
}

/// Trims LWS from both ends of `s[a..b]`.
pub(crate) fn trim(s: &[u8], mut a: usize, mut b: usize) -> (usize, usize) {
    while a < b && s.get(a).is_some_and(|&c| is_lws(c)) {
        a += 1;
    }
    while b > a && s.get(b - 1).is_some_and(|&c| is_lws(c)) {
        b -= 1;
    }
    (a, b)
}

/// Parses a decimal number of at most `max` (leading zeros allowed, RFC 4475 §3.1.1.1).
pub(crate) fn parse_u64(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    let mut v: u64 = 0;
    if s.len() <= 19 {
        // 19 digits stay below 2^64: no overflow checks (a multiply-with-overflow per digit)
        for &b in s {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
        }
        return (v <= max).then_some(v);
    }
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (v <= max).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_quote_stop_finds_the_first_stop_byte_at_every_position() {
        // each stop byte (and none) at each position of strings around the 8-byte word size,
        // over a background holding bytes next to the stop values and non-ASCII bytes
        let background = [
            b'a', b'!', b'#', b'[', b']', b'\x0c', b'\x0e', 0x80, 0xff, 0x01,
        ];
        for len in 0..30 {
            for bg in background {
                let s = vec![bg; len];
                assert_eq!(find_quote_stop(&s), None, "len {len} bg {bg:#x}");
                for pos in 0..len {
                    for stop in [b'"', b'\\', b'\r'] {
                        let mut s = s.clone();
                        s[pos] = stop;
                        // a later stop byte must not win
                        if pos + 1 < len {
                            s[len - 1] = b'"';
                        }
                        assert_eq!(find_quote_stop(&s), Some(pos), "len {len} pos {pos}");
                    }
                }
            }
        }
    }

    #[test]
    fn quoted_strings_end_at_the_closing_quote() {
        let mut c = Cursor::new(br#""abc\"def\\" x"#);
        assert_eq!(c.quoted(), Ok(((1, 11), true)));
        assert_eq!(c.pos, 12);
        let mut c = Cursor::new(b"\"0123456789abcdef0123456789\",");
        assert_eq!(c.quoted(), Ok(((1, 27), false)));
        let mut c = Cursor::new(b"\"unterminated");
        assert!(c.quoted().is_err());
    }
}
