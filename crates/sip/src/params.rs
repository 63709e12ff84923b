//! Header parameters (`;name` or `;name=value`, RFC 3261 §7.3.1 `generic-param`), kept in order
//! with their original spelling, unknown ones included.

use crate::scan::{is_value_char, unquote, write_quoted, Cursor};
use crate::text::Text;
use std::fmt;

/// Maximum parameters in one header element or URI: a peer cannot make the parser allocate
/// without bound (RFC 3261 sets no limit; real messages carry about a dozen).
pub const DEFAULT_MAX_PARAMS: usize = 64;

/// One parameter. Quoted values are stored without quotes and escapes; `quoted` records that the
/// value is written as a quoted string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name as received (compare with [`Param::is`]).
    pub name: Text,
    /// Value, if any (unquoted).
    pub value: Option<Text>,
    /// Whether the value is written as a quoted string.
    pub quoted: bool,
}

impl Param {
    /// A placeholder filled in place by the parsers.
    pub(crate) const EMPTY: Param = Param {
        name: Text::EMPTY,
        value: None,
        quoted: false,
    };

    /// A parameter without value (`;lr`).
    pub fn flag(name: impl Into<Text>) -> Self {
        Param {
            name: name.into(),
            value: None,
            quoted: false,
        }
    }

    /// A parameter with a token value (`;tag=abc`).
    pub fn token(name: impl Into<Text>, value: impl Into<Text>) -> Self {
        Param {
            name: name.into(),
            value: Some(value.into()),
            quoted: false,
        }
    }

    /// A parameter with a quoted value (`;+sip.instance="<urn:…>"`).
    pub fn quoted(name: impl Into<Text>, value: impl Into<Text>) -> Self {
        Param {
            name: name.into(),
            value: Some(value.into()),
            quoted: true,
        }
    }

    /// Case-insensitive name comparison.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    pub(crate) fn write_value(&self, out: &mut String) {
        if let Some(v) = &self.value {
            out.push('=');
            if self.quoted {
                write_quoted(out, v);
            } else {
                out.push_str(v);
            }
        }
    }
}

/// An ordered parameter list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// An empty list.
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// The first parameter with this name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.is(name))
    }

    /// The value of the first parameter with this name; `None` if absent or valueless.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|p| p.value.as_deref())
    }

    /// True if a parameter with this name is present (with or without value).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every parameter with this name; returns true if one was removed.
    pub fn remove(&mut self, name: &str) -> bool {
        let n = self.0.len();
        self.0.retain(|p| !p.is(name));
        self.0.len() != n
    }

    /// Replaces the first parameter of the same name (keeping its position) or appends it.
    pub fn set(&mut self, p: Param) {
        if let Some(slot) = self.0.iter_mut().find(|q| q.is(&p.name)) {
            *slot = p;
        } else {
            self.0.push(p);
        }
    }

    /// Iterates in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Param> {
        self.0.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses `*( SEMI generic-param )` at the cursor. Stops (without error) at anything that is
    /// not `;` after optional white space. Empty parameters (`;;`) are errors (RFC 4475 §3.1.2.1).
    pub(crate) fn parse(
        src: &Text,
        c: &mut Cursor<'_>,
        max: usize,
    ) -> Result<Params, &'static str> {
        let long = c.s.get(c.pos..).is_some_and(|r| r.len() > 40);
        let mut out = Vec::with_capacity(if long { 12 } else { 4 });
        while c.eat_ws(b';') {
            if out.len() >= max {
                return Err("too many parameters");
            }
            c.skip_ws();
            let name = c.token().ok_or("empty or malformed parameter")?;
            // Ranges first, `Text`s last, built straight into the vector: a `Text` written
            // piecewise and then moved as a whole stalls on store forwarding.
            let mut value = None;
            if c.eat_ws(b'=') {
                c.skip_ws();
                if c.peek() == Some(b'"') {
                    let (r, esc) = c.quoted()?;
                    value = Some((r, esc, true));
                } else {
                    let r = c.take_while(is_value_char);
                    if r.0 == r.1 {
                        return Err("parameter value missing after '='");
                    }
                    value = Some((r, false, false));
                }
            }
            // Push an empty parameter, then fill it in place: each `Text` is then built in the
            // vector's memory instead of being assembled on the stack and moved.
            out.push(Param::EMPTY);
            if let Some(p) = out.last_mut() {
                p.name = src.slice(name.0, name.1);
                if let Some((r, esc, quoted)) = value {
                    // `Some(EMPTY)` first, then the text written into it, for the same reason
                    let v = p.value.insert(Text::EMPTY);
                    if esc {
                        *v = unquote(src, r, true);
                    } else {
                        *v = src.slice(r.0, r.1);
                    }
                    p.quoted = quoted;
                }
            }
        }
        Ok(Params(out))
    }
}

impl fmt::Display for Params {
    /// Writes `;name=value` for each parameter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        for p in &self.0 {
            s.push(';');
            s.push_str(&p.name);
            p.write_value(&mut s);
        }
        f.write_str(&s)
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = &'a Param;
    type IntoIter = std::slice::Iter<'a, Param>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
