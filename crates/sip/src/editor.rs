//! The proxy editor (RFC 3261 §16.6 request forwarding, §16.7 response processing; RFC 3327
//! Path; TS 24.229 §5.2 P-CSCF edits). It rewrites only the header lines an operation touches
//! and copies every other byte of the received message unchanged; Content-Length is rewritten
//! only when the body changes.

use crate::error::{Error, Result};
use crate::headers::{AuthHeader, Header, Via};
use crate::message::{Message, NameKey};
use crate::name::HeaderName;
use crate::params::Param;
use crate::scan::{is_token_str, ListIter};
use crate::text::Text;
use bytes::{Bytes, BytesMut};
use std::borrow::Cow;
use std::fmt::Display;

#[derive(Clone)]
enum Item {
    /// Header `idx` of the original message, unchanged.
    Keep(usize),
    /// Header `idx` with a new value (name spelling kept).
    Replace(usize, String),
    /// A new header: its known name (resolved once), the name as given, and the value.
    New(Option<HeaderName>, Cow<'static, str>, String),
}

/// A new header's name as the caller spelled it, with its known name resolved once: the
/// canonical spelling of a known name is borrowed (no allocation), any other is copied.
fn new_name(name: &str) -> (Option<HeaderName>, Cow<'static, str>) {
    let id = HeaderName::from_str(name);
    match id {
        Some(h) if h.as_str() == name => (id, Cow::Borrowed(h.as_str())),
        _ => (id, Cow::Owned(name.to_string())),
    }
}

/// Edits a received message. Operations apply in call order; [`Editor::finish`] returns the new
/// message.
///
/// ```
/// use sip::{Message, Editor, HeaderName};
/// let m = Message::parse(&b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", ck=\"00\", ik=\"11\"\r\nContent-Length: 0\r\n\r\n"[..]).unwrap();
/// let mut ed = Editor::new(&m);
/// ed.strip_auth_params(HeaderName::WwwAuthenticate, &["ck", "ik"]).unwrap();
/// let out = ed.finish().unwrap();
/// assert_eq!(out.www_authenticate().unwrap().unwrap().ck(), None);
/// ```
#[derive(Clone)]
pub struct Editor {
    msg: Message,
    items: Vec<Item>,
    start: Option<String>,
    body: Option<Bytes>,
}

/// A buffer for [`write_usize`].
fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Writes `n` in decimal into `buf` (20 digits hold any `u64`) and returns the digits.
fn write_usize(buf: &mut [u8; 20], mut n: usize) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(&[])
}

fn check(name: &str, value: &str) -> Result<()> {
    if !is_token_str(name.as_bytes()) {
        return Err(Error::Usage("header name is not a token"));
    }
    let b = value.as_bytes();
    // usually there is no CR or LF at all
    if memchr::memchr2(b'\r', b'\n', b).is_none() {
        return Ok(());
    }
    let ok = b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ') | Some(b'\t')),
        b'\n' => i > 0 && b.get(i - 1) == Some(&b'\r'),
        _ => true,
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Usage("header value contains CR or LF"))
    }
}

impl Editor {
    /// Starts editing `msg` (a cheap clone is kept).
    pub fn new(msg: &Message) -> Self {
        Editor {
            msg: msg.clone(),
            items: {
                // room for the lines a proxy adds (Via, Path, Record-Route…) without regrowing
                let n = msg.header_count();
                let mut v = Vec::with_capacity(n + 6);
                v.extend((0..n).map(Item::Keep));
                v
            },
            start: None,
            body: None,
        }
    }

    fn item_is(&self, item: &Item, key: &NameKey<'_>) -> bool {
        match (item, key) {
            // a known name is compared by id alone
            (Item::Keep(i) | Item::Replace(i, _), NameKey::Known(k)) => {
                self.msg.entry_id(*i) == Some(Some(*k))
            }
            (Item::Keep(i) | Item::Replace(i, _), NameKey::Unknown(_)) => self
                .msg
                .entry_id_name(*i)
                .is_some_and(|(id, name)| key.matches(id, name)),
            (Item::New(id, n, _), _) => key.matches(*id, n.as_bytes()),
        }
    }

    fn item_value(&self, item: &Item) -> Result<String> {
        match item {
            Item::Keep(i) => {
                let h = self
                    .msg
                    .header_at(*i)
                    .ok_or(Error::Usage("no such header"))?;
                h.value_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::BadHeader {
                        line: h.line,
                        name: h.name_str().into_owned().into(),
                        reason: "value is not UTF-8".into(),
                    })
            }
            Item::Replace(_, v) | Item::New(_, _, v) => Ok(v.clone()),
        }
    }

    /// The value of an item as a [`Text`]: an unchanged header shares the message buffer (no
    /// copy); an edited one is copied.
    fn item_text(&self, item: &Item) -> Result<Text> {
        match item {
            Item::Keep(i) => {
                let h = self
                    .msg
                    .header_at(*i)
                    .ok_or(Error::Usage("no such header"))?;
                self.msg.value_text(*i).ok_or_else(|| Error::BadHeader {
                    line: h.line,
                    name: h.name_str().into_owned().into(),
                    reason: "value is not UTF-8".into(),
                })
            }
            Item::Replace(_, v) | Item::New(_, _, v) => Ok(Text::from(v.as_str())),
        }
    }

    fn item_line(&self, item: &Item) -> usize {
        match item {
            Item::Keep(i) | Item::Replace(i, _) => self.msg.header_at(*i).map_or(0, |h| h.line),
            Item::New(..) => 0,
        }
    }

    fn set_item(&mut self, pos: usize, value: String) {
        if let Some(it) = self.items.get_mut(pos) {
            *it = match it {
                Item::Keep(i) | Item::Replace(i, _) => Item::Replace(*i, value),
                Item::New(id, n, _) => Item::New(*id, std::mem::take(n), value),
            };
        }
    }

    /// Positions of the items with this name (the name is resolved once).
    fn positions(&self, name: &str) -> Vec<usize> {
        let key = NameKey::new(name);
        (0..self.items.len())
            .filter(|&p| self.items.get(p).is_some_and(|it| self.item_is(it, &key)))
            .collect()
    }

    /// Position of the first item with this (resolved) name.
    fn first_position_key(&self, key: &NameKey<'_>) -> Option<usize> {
        self.items.iter().position(|it| self.item_is(it, key))
    }

    /// Position of the last item with this (resolved) name.
    fn last_position_key(&self, key: &NameKey<'_>) -> Option<usize> {
        self.items.iter().rposition(|it| self.item_is(it, key))
    }

    /// Inserts a new header line before the first header of the same name, or at the end of the
    /// header section if there is none (RFC 3261 §16.6 step 4 Record-Route, RFC 3327 §5.1 Path).
    pub fn prepend(&mut self, name: impl AsRef<str>, value: impl Display) -> Result<&mut Self> {
        let name = name.as_ref();
        let value = value.to_string();
        check(name, &value)?;
        let (id, spelled) = new_name(name);
        let key = match id {
            Some(id) => NameKey::Known(id),
            None => NameKey::Unknown(name.as_bytes()),
        };
        let pos = self.first_position_key(&key).unwrap_or(self.items.len());
        self.items.insert(pos, Item::New(id, spelled, value));
        Ok(self)
    }

    /// Inserts a new header line after the last header of the same name, or at the end.
    pub fn append(&mut self, name: impl AsRef<str>, value: impl Display) -> Result<&mut Self> {
        let name = name.as_ref();
        let value = value.to_string();
        check(name, &value)?;
        let (id, spelled) = new_name(name);
        let key = match id {
            Some(id) => NameKey::Known(id),
            None => NameKey::Unknown(name.as_bytes()),
        };
        let pos = self
            .last_position_key(&key)
            .map_or(self.items.len(), |p| p + 1);
        self.items.insert(pos, Item::New(id, spelled, value));
        Ok(self)
    }

    /// Pushes a Via on top (RFC 3261 §16.6 step 8). If there is no Via the line goes first.
    pub fn push_via(&mut self, via: &Via) -> Result<&mut Self> {
        self.insert_via(via.to_string());
        Ok(self)
    }

    /// Like [`Editor::push_via`] with the Via element already written out
    /// (`SIP/2.0/UDP host:port;branch=…`, RFC 3261 §20.42): a proxy that writes its own Via
    /// directly skips building a [`Via`] value. The value must not contain CR or LF other than
    /// as a fold; it is not otherwise checked.
    pub fn push_via_value(&mut self, value: impl Into<String>) -> Result<&mut Self> {
        let value = value.into();
        check("Via", &value)?;
        self.insert_via(value);
        Ok(self)
    }

    fn insert_via(&mut self, value: String) {
        let pos = self
            .first_position_key(&NameKey::Known(HeaderName::Via))
            .unwrap_or(0);
        self.items.insert(
            pos,
            Item::New(
                Some(HeaderName::Via),
                Cow::Borrowed(HeaderName::Via.as_str()),
                value,
            ),
        );
    }

    /// Removes the topmost Via element (RFC 3261 §16.7 step 3) and returns it. If the top Via
    /// line holds several elements, only that line is rewritten without its first element.
    pub fn pop_via(&mut self) -> Result<Via> {
        self.take_first(HeaderName::Via, Via::parse)?
            .ok_or(Error::MissingHeader { name: "Via" })
    }

    /// Removes the first element of the first `id` header and returns it (raw text), or `None`
    /// if there is no such header: e.g. a proxy removing its own URI from the top Route (RFC
    /// 3261 §16.4). For a list header (see [`HeaderName::is_list`]) holding several elements
    /// only that line is rewritten, without its first element; every other line stays
    /// byte-exact. A header that is not a list is removed whole (its value is returned).
    pub fn pop_first(&mut self, id: HeaderName) -> Result<Option<Text>> {
        self.take_first(id, |t| Ok(t.clone()))
    }

    /// Removes the first element of the first `id` header if `parse` accepts it; returns what
    /// `parse` made of it.
    fn take_first<T>(
        &mut self,
        id: HeaderName,
        parse: impl Fn(&Text) -> std::result::Result<T, &'static str>,
    ) -> Result<Option<T>> {
        let Some(pos) = self.first_position_key(&NameKey::Known(id)) else {
            return Ok(None);
        };
        let item = self.items.get(pos).ok_or(Error::Usage("no such header"))?;
        let value = self.item_text(item)?;
        let line = self.item_line(item);
        let bad = |reason: &'static str| Error::BadHeader {
            line,
            name: id.as_str().into(),
            reason: reason.into(),
        };
        if !id.is_list() {
            let out = parse(&value).map_err(bad)?;
            self.items.remove(pos);
            return Ok(Some(out));
        }
        let mut it = ListIter::new(value.as_bytes());
        let (a, b) = it.next().unwrap_or(Err("empty value")).map_err(bad)?;
        let out = if a == 0 && b == value.len() {
            parse(&value)
        } else {
            parse(&value.slice(a, b))
        }
        .map_err(bad)?;
        let rest = value
            .as_str()
            .get(b..)
            .unwrap_or("")
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        let rest = rest
            .strip_prefix(',')
            .unwrap_or(rest)
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        if rest.is_empty() {
            self.items.remove(pos);
        } else {
            self.set_item(pos, rest.to_string());
        }
        Ok(Some(out))
    }

    /// Removes every header with this name; returns how many lines were removed.
    pub fn remove(&mut self, name: impl AsRef<str>) -> usize {
        let key = NameKey::new(name.as_ref());
        let before = self.items.len();
        let mut items = std::mem::take(&mut self.items);
        items.retain(|it| !self.item_is(it, &key));
        self.items = items;
        before - self.items.len()
    }

    /// Replaces the first header with this name by `value` and removes the others; appends the
    /// header if absent.
    pub fn replace(&mut self, name: impl AsRef<str>, value: impl Display) -> Result<&mut Self> {
        let name = name.as_ref();
        let value = value.to_string();
        check(name, &value)?;
        let key = NameKey::new(name);
        match self.first_position_key(&key) {
            None => {
                let (id, spelled) = new_name(name);
                self.items.push(Item::New(id, spelled, value));
            }
            Some(first) => {
                // the later ones go (usually there are none), the first takes the value
                let later = self
                    .items
                    .get(first + 1..)
                    .is_some_and(|r| r.iter().any(|it| self.item_is(it, &key)));
                if !later {
                    self.set_item(first, value);
                    return Ok(self);
                }
                let mut items = std::mem::take(&mut self.items);
                let mut i = 0;
                items.retain(|it| {
                    let keep = i <= first || !self.item_is(it, &key);
                    i += 1;
                    keep
                });
                self.items = items;
                self.set_item(first, value);
            }
        }
        Ok(self)
    }

    /// Parses every element of every `id` header as `T`, applies `f`, and rewrites only the
    /// lines where an element changed. Returns the number of rewritten lines.
    pub fn edit<T>(&mut self, id: HeaderName, mut f: impl FnMut(&mut T)) -> Result<usize>
    where
        T: Header + Display + PartialEq,
    {
        let mut changed = 0;
        for pos in self.positions(id.as_str()) {
            let item = self
                .items
                .get(pos)
                .cloned()
                .ok_or(Error::Usage("no such header"))?;
            let value = self.item_value(&item)?;
            let line = self.item_line(&item);
            let bad = |reason: &'static str| Error::BadHeader {
                line,
                name: id.as_str().into(),
                reason: reason.into(),
            };
            let text = Text::from(value.as_str());
            let mut elems = Vec::new();
            if id.is_list() {
                for el in ListIter::new(text.as_bytes()) {
                    let (a, b) = el.map_err(bad)?;
                    elems.push(T::parse(&text.slice(a, b)).map_err(bad)?);
                }
            } else {
                elems.push(T::parse(&text).map_err(bad)?);
            }
            let mut any = false;
            for e in &mut elems {
                let before = e.to_string();
                f(e);
                any |= e.to_string() != before;
            }
            if any {
                let new: Vec<String> = elems.iter().map(ToString::to_string).collect();
                self.set_item(pos, new.join(", "));
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Removes parameters from every challenge/credential header `id` (e.g. `ck` and `ik` from
    /// WWW-Authenticate, TS 24.229 §5.2.2.1). Returns the number of rewritten lines.
    pub fn strip_auth_params(&mut self, id: HeaderName, names: &[&str]) -> Result<usize> {
        self.edit::<AuthHeader>(id, |a| {
            for n in names {
                a.remove(n);
            }
        })
    }

    /// Sets a parameter in every challenge/credential header `id` (e.g.
    /// `integrity-protected="yes"` in Authorization, TS 24.229 §5.2.2.1).
    pub fn set_auth_param(&mut self, id: HeaderName, param: Param) -> Result<usize> {
        self.edit::<AuthHeader>(id, |a| a.set(param.clone()))
    }

    /// Replaces the Request-URI (RFC 3261 §16.6 step 6).
    pub fn set_request_uri(&mut self, uri: impl Display) -> Result<&mut Self> {
        let m = self
            .msg
            .method()
            .ok_or(Error::Usage("a response has no Request-URI"))?;
        let uri = uri.to_string();
        if uri.is_empty() || uri.bytes().any(|b| b <= b' ') {
            return Err(Error::Usage("Request-URI is empty or contains white space"));
        }
        self.start = Some(format!("{m} {uri} SIP/2.0"));
        Ok(self)
    }

    /// Replaces the body; Content-Length is rewritten, and Content-Type when given.
    pub fn set_body(
        &mut self,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Result<&mut Self> {
        if let Some(ct) = content_type {
            self.replace(HeaderName::ContentType, ct)?;
        }
        self.body = Some(body.into());
        Ok(self)
    }

    /// The edited message bytes, written in one pass into one buffer sized up front.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let src = self.msg.as_bytes();
        let new_len = self.body.as_ref().map(Bytes::len);
        // every kept byte of the source, plus what edits add (a removed line only overestimates)
        let mut cap = src.len() + self.start.as_ref().map_or(0, |s| s.len() + 2) + 32;
        for item in &self.items {
            cap += match item {
                Item::Keep(_) => 0,
                Item::Replace(_, v) => v.len() + 2,
                Item::New(_, n, v) => n.len() + v.len() + 4,
            };
        }
        if let Some(b) = &self.body {
            cap += b.len();
        }
        let mut out = BytesMut::with_capacity(cap);
        match &self.start {
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(src.get(..self.msg.raw_start_end()).unwrap_or(&[])),
        }
        let mut wrote_len = false;
        let mut num = itoa_buf();
        for item in &self.items {
            let (idx, value) = match item {
                Item::Keep(i) => (*i, None),
                Item::Replace(i, v) => (*i, Some(v.as_bytes())),
                Item::New(_, n, v) => {
                    out.extend_from_slice(n.as_bytes());
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(v.as_bytes());
                    out.extend_from_slice(b"\r\n");
                    continue;
                }
            };
            let Some((id, name, raw_line)) = self.msg.entry_line(idx) else {
                continue;
            };
            let value = match (id, new_len) {
                (Some(HeaderName::ContentLength), Some(n)) => {
                    wrote_len = true;
                    Some(write_usize(&mut num, n))
                }
                _ => value,
            };
            match value {
                None => out.extend_from_slice(raw_line),
                Some(v) => {
                    // keep the name as spelled, and "name: " spacing
                    out.extend_from_slice(name);
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(v);
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        if let (Some(n), false) = (new_len, wrote_len) {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(write_usize(&mut num, n));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        match &self.body {
            Some(b) => out.extend_from_slice(b),
            None => out.extend_from_slice(self.msg.body_slice()),
        }
        Ok(out.freeze())
    }

    /// Finishes editing and parses the result.
    pub fn finish(self) -> Result<Message> {
        Message::parse(self.to_bytes()?)
    }
}
