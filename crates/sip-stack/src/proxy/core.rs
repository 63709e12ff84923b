//! Request and response processing of a proxy (RFC 3261 §16.3–§16.7), without I/O.
//! [`check_request`] is the validation step (§16.3) and the stack's own limits;
//! [`prepare_forward`] does §16.4 route pre-processing and §16.6 steps 1–7 on one
//! [`sip::Editor`]; [`Prepared::finish`] adds our Via (§16.6 step 8) and serializes.

use crate::flow::{Flow, Transport};
use bytes::Bytes;
use sip::{Editor, HeaderName, Host, Message, Method, NameAddr, Param, SipUri, Uri, Via};
use std::net::IpAddr;
use std::sync::Arc;

/// Proxy identity and policy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Host we put in Via, Record-Route and Path (IP or domain name).
    pub host: String,
    /// Port we put there (the listening port).
    pub port: u16,
    /// Further `host[:port]` names that designate us (for Route / Request-URI recognition).
    pub aliases: Vec<(String, Option<u16>)>,
    /// Insert Record-Route in dialog-creating requests (§16.6 step 4).
    pub record_route: bool,
    /// Option tags we support in Proxy-Require (§16.3 step 5; `sec-agree` for a P-CSCF).
    pub supported: Vec<String>,
    /// Requests larger than this are answered 513 (RFC 3261 §21.4.11).
    pub max_message_size: usize,
    /// Run the full RFC 3261 §8.2 validation ([`sip::Message::validate`]) on every request,
    /// rather than only the parts a proxy uses ([`validate_for_proxy`]).
    pub full_validation: bool,
}

impl ProxyConfig {
    /// A config for `host:port` with Record-Route on, no extensions, 64 KiB messages.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ProxyConfig {
            host: host.into(),
            port,
            aliases: Vec::new(),
            record_route: true,
            supported: Vec::new(),
            max_message_size: 65_535,
            full_validation: false,
        }
    }

    /// True if `uri` designates this proxy (host and port match us or an alias; §16.4).
    pub fn is_local(&self, uri: &Uri) -> bool {
        with_derived(self, |d| self.is_local_with(uri, d))
    }

    fn is_local_with(&self, uri: &Uri, d: &Derived) -> bool {
        let Some(u) = uri.as_sip() else { return false };
        let port = u.port.unwrap_or(if u.secure { 5061 } else { 5060 });
        let me = port == self.port && d.is_me(&u.host);
        me || self
            .aliases
            .iter()
            .any(|(h, p)| host_is(&u.host, h) && p.is_none_or(|p| p == port))
    }

    fn via_is_ours(&self, via: &Via) -> bool {
        via.port.unwrap_or(5060) == self.port && with_derived(self, |d| d.is_me(&via.host))
    }

    /// Our URI with `lr` (for Record-Route and Path, RFC 3327 §4), with a transport parameter
    /// for stream transports.
    pub fn uri(&self, transport: Transport) -> SipUri {
        let mut u = SipUri::new(host_of(&self.host)).with_port(self.port);
        if transport != Transport::Udp {
            u = u.with_param(Param::token(
                "transport",
                transport.as_str().to_ascii_lowercase(),
            ));
        }
        u.with_param(Param::flag("lr"))
    }
}

/// A configured host (IP with or without brackets, or a domain name) as a [`Host`].
fn host_of(name: &str) -> Host {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => Host::from(ip),
        Err(_) => Host::Domain(name.into()),
    }
}

fn host_is(h: &Host, name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    host_is_parsed(h, bare, || bare.parse::<IpAddr>().ok())
}

/// [`host_is`] with the configured name already stripped of brackets and its address (if it is
/// one) supplied by `ip`, called only when `h` is an address: a domain name is compared as text.
fn host_is_parsed(h: &Host, bare: &str, ip: impl FnOnce() -> Option<IpAddr>) -> bool {
    match (h, h.ip()) {
        (Host::Domain(d), _) => d.eq_ignore_ascii_case(bare),
        (_, Some(a)) => match ip() {
            Some(b) => a == b,
            None => host_str(h).eq_ignore_ascii_case(bare),
        },
        (_, None) => false,
    }
}

fn host_str(h: &Host) -> String {
    match h {
        Host::Domain(d) => d.to_string(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => a.to_string(),
    }
}

/// What every forwarded request needs from [`ProxyConfig::host`] and [`ProxyConfig::port`],
/// worked out once: the address, our host as written in Via, and our Path / Record-Route value
/// per transport (RFC 3327 §4). Parsing and formatting an IPv6 address costs more than the rest
/// of the forwarding path, so these are kept per thread for the last configuration seen and
/// recomputed whenever the host or port differ (the fields of [`ProxyConfig`] are public and may
/// change at any time).
#[derive(Debug)]
struct Derived {
    host: String,
    port: u16,
    /// The host without brackets.
    bare: String,
    /// `bare` parsed as an address, if it is one.
    ip: Option<IpAddr>,
    /// [`host_of`] written out (`[2001:db8::1]`, `192.0.2.1`, a domain name).
    written: String,
    /// `<sip:host:port;lr>` (UDP), `<…;transport=tcp;lr>`, `<…;transport=tls;lr>`.
    route: [String; 3],
}

impl Derived {
    fn new(cfg: &ProxyConfig) -> Self {
        let bare = cfg
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Derived {
            host: cfg.host.clone(),
            port: cfg.port,
            ip: bare.parse().ok(),
            bare,
            written: host_of(&cfg.host).to_string(),
            route: [Transport::Udp, Transport::Tcp, Transport::Tls]
                .map(|t| format!("<{}>", cfg.uri(t))),
        }
    }

    fn route(&self, transport: Transport) -> &str {
        let i = match transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Tls => 2,
        };
        self.route.get(i).map_or("", String::as_str)
    }

    /// True if `h` is our host (as [`host_is`] with [`ProxyConfig::host`]).
    fn is_me(&self, h: &Host) -> bool {
        host_is_parsed(h, &self.bare, || self.ip)
    }
}

thread_local! {
    static DERIVED: std::cell::RefCell<Option<Arc<Derived>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` on the [`Derived`] values of `cfg` (computed on first use per thread and
/// configuration), without taking a reference count.
fn with_derived<R>(cfg: &ProxyConfig, f: impl FnOnce(&Arc<Derived>) -> R) -> R {
    DERIVED.with(|d| {
        let mut d = d.borrow_mut();
        let x = match &mut *d {
            Some(x) if x.port == cfg.port && x.host == cfg.host => x,
            slot => slot.insert(Arc::new(Derived::new(cfg))),
        };
        f(x)
    })
}

/// The [`Derived`] values of `cfg`, shared.
fn derived(cfg: &ProxyConfig) -> Arc<Derived> {
    with_derived(cfg, Arc::clone)
}

/// Why a request is refused, and the response that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Status code.
    pub status: u16,
    /// Reason phrase (names the bad header for 400s).
    pub reason: String,
    /// Option tags for an `Unsupported` header (420).
    pub unsupported: Vec<String>,
}

impl Rejection {
    /// A rejection with no extra headers.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Rejection {
            status,
            reason: reason.into(),
            unsupported: Vec::new(),
        }
    }

    /// The response to `req` (with a To tag, RFC 3261 §8.2.6.2, and `Unsupported` for 420).
    pub fn response_to(&self, req: &Message) -> sip::Result<Message> {
        let tag = crate::ua::new_tag();
        let mut b = sip::MessageBuilder::response_to(req, self.status, &self.reason, Some(&tag));
        if !self.unsupported.is_empty() {
            b = b.header(HeaderName::Unsupported, self.unsupported.join(", "));
        }
        b.build()
    }
}

impl From<sip::Error> for Rejection {
    fn from(e: sip::Error) -> Self {
        Rejection::new(e.status(), e.reason_phrase())
    }
}

/// A small word-at-a-time hash (multiply-rotate over 8-byte chunks): stable across runs and
/// builds, as loop detection needs the same branch for the same request (§16.3 step 4), and
/// several times faster than byte-wise FNV on header-sized inputs.
struct Fnv(u64);

impl Fnv {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn mix(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(Self::K).rotate_left(29);
    }

    fn add(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        // length and a field separator
        self.mix(u64::from_le_bytes(w) ^ ((b.len() as u64) << 56) ^ 0xff);
    }
}

/// The loop-detection part of our branch (§16.6 step 8): a hash of the fields whose change makes
/// a returning request a spiral rather than a loop — Request-URI, To, From, Call-ID, CSeq,
/// Route, Proxy-Require, Proxy-Authorization. The whole To/From values are hashed (not only
/// their tags): stricter in the safe direction, and one pass over the raw header lines.
pub fn loop_hash(msg: &Message) -> u64 {
    let mut h = Fnv::new();
    h.add(msg.request_uri_raw().as_deref().unwrap_or("").as_bytes());
    for hr in msg.headers() {
        if matches!(
            hr.id,
            Some(
                HeaderName::To
                    | HeaderName::From
                    | HeaderName::CallId
                    | HeaderName::CSeq
                    | HeaderName::Route
                    | HeaderName::ProxyRequire
                    | HeaderName::ProxyAuthorization
            )
        ) {
            h.add(hr.name);
            h.add(hr.value);
        }
    }
    h.0
}

/// Our branch for forwarding `msg`: magic cookie, the loop hash, and a hash of the incoming top
/// Via and method (unique per incoming transaction, the same for its retransmissions).
pub fn branch_for(msg: &Message) -> String {
    let mut h = Fnv::new();
    if let Some(v) = msg.headers_id(HeaderName::Via).next() {
        h.add(v.value);
    }
    h.add(msg.method().as_ref().map_or("", Method::as_str).as_bytes());
    let mut s = String::with_capacity(7 + 33);
    s.push_str(crate::MAGIC_COOKIE);
    push_hex16(&mut s, loop_hash(msg));
    s.push('.');
    push_hex16(&mut s, h.0);
    s
}

/// Appends `v` as 16 lower-case hexadecimal digits (as `{:016x}`).
fn push_hex16(s: &mut String, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..16).rev() {
        let d = ((v >> (i * 4)) & 0xf) as usize;
        s.push(char::from(HEX.get(d).copied().unwrap_or(b'0')));
    }
}

/// §16.3 step 1 for a proxy: the parts a stateful proxy uses must be well formed — CSeq (and its
/// method) here, and From, To, Call-ID present (they take part in transaction matching and loop
/// detection as raw bytes); Max-Forwards and Proxy-Require in [`check_request`];
/// Request-URI, top Via and Route in [`prepare_forward`] (its errors are 400 rejections too),
/// so that each is parsed once. Other headers are forwarded untouched (a proxy must not reject a
/// request for headers it does not process).
/// With [`ProxyConfig::full_validation`] the whole RFC 3261 §8.2 check
/// ([`sip::Message::validate`]) runs instead.
pub fn validate_for_proxy(msg: &Message, cfg: &ProxyConfig) -> sip::Result<()> {
    if cfg.full_validation {
        return msg.validate();
    }
    let cseq = msg.cseq()?;
    if Some(&cseq.method) != msg.method().as_ref() {
        return Err(sip::Error::CSeqMismatch {
            line: msg.headers_named("CSeq").next().map_or(0, |h| h.line),
        });
    }
    let (mut from, mut to, mut call_id) = (false, false, false);
    for h in msg.headers() {
        match h.id {
            Some(HeaderName::From) => from = true,
            Some(HeaderName::To) => to = true,
            Some(HeaderName::CallId) => call_id = true,
            _ => {}
        }
    }
    for (present, name) in [(from, "From"), (to, "To"), (call_id, "Call-ID")] {
        if !present {
            return Err(sip::Error::MissingHeader { name });
        }
    }
    Ok(())
}

/// The §16.3 checks plus the stack's limits, in the order a proxy answers them:
/// 513 too large, 400 malformed (reason names the header), 483 Max-Forwards 0, 420 unsupported
/// Proxy-Require (with Unsupported), 482 loop (our Via with our loop hash).
pub fn check_request(msg: &Message, cfg: &ProxyConfig) -> Result<(), Rejection> {
    if msg.as_bytes().len() > cfg.max_message_size {
        return Err(Rejection::new(513, "Message Too Large"));
    }
    validate_for_proxy(msg, cfg)?;
    if msg.max_forwards()? == Some(0) {
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    let unsupported: Vec<String> = msg
        .proxy_require()?
        .iter()
        .filter(|t| !cfg.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .map(|t| t.to_string())
        .collect();
    if !unsupported.is_empty() {
        return Err(Rejection {
            status: 420,
            reason: "Bad Extension".into(),
            unsupported,
        });
    }
    if is_loop(msg, cfg)? {
        return Err(Rejection::new(482, "Loop Detected"));
    }
    Ok(())
}

/// RFC 3261 §16.3 step 4: a Via of ours whose branch carries this request's loop hash means the
/// request came back unchanged (a loop); other Vias of ours are spirals.
pub fn is_loop(msg: &Message, cfg: &ProxyConfig) -> sip::Result<bool> {
    // cheap pre-filter: a Via of ours contains our host as we write it
    let mentions_us = with_derived(cfg, |d| {
        let me = d.written.as_bytes();
        msg.headers_id(HeaderName::Via)
            .any(|v| contains_ignore_ascii_case(v.value, me))
    });
    if !mentions_us {
        return Ok(false);
    }
    let mut ours = msg
        .via()?
        .into_iter()
        .filter(|v| cfg.via_is_ours(v))
        .peekable();
    if ours.peek().is_none() {
        return Ok(false);
    }
    let mut prefix = String::with_capacity(7 + 17);
    prefix.push_str(crate::MAGIC_COOKIE);
    push_hex16(&mut prefix, loop_hash(msg));
    prefix.push('.');
    Ok(ours.any(|v| v.branch().is_some_and(|b| b.starts_with(&prefix))))
}

/// True if `needle` occurs in `hay`, ASCII case-insensitively (as a scan of every window with
/// `eq_ignore_ascii_case`, but only windows starting with the needle's first byte are compared).
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, _)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let last_start = hay.len() - needle.len();
    let mut from = 0;
    while let Some(k) = hay
        .get(from..=last_start)
        .and_then(|h| h.iter().position(|&b| b == lo || b == up))
    {
        let at = from + k;
        if hay
            .get(at..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return true;
        }
        from = at + 1;
    }
    false
}

/// A request ready to forward: edits done except our Via.
pub struct Prepared {
    /// The editor holding the edits; CSCF logic may add more (Path, P-headers…).
    pub editor: Editor,
    /// Where to send it (top Route, or Request-URI; §16.6 step 7).
    pub next_hop: Uri,
    /// Our branch.
    pub branch: String,
    /// Our host and port as configured, with what is derived from them.
    me: Arc<Derived>,
}

impl Prepared {
    /// Pushes our Via (with `rport` so that responses come back to our port, RFC 3581) and
    /// serializes.
    pub fn finish(mut self, transport: Transport) -> sip::Result<Bytes> {
        self.push_via(transport)?;
        self.editor.to_bytes()
    }

    /// Like [`Prepared::finish`] but parsed into a [`Message`] (for a client transaction).
    pub fn finish_message(mut self, transport: Transport) -> sip::Result<Message> {
        self.push_via(transport)?;
        self.editor.finish()
    }

    /// Our Via (RFC 3261 §16.6 step 8), written straight out: exactly what
    /// `Via::new(transport, host, Some(port), branch)` with a `rport` flag displays, i.e.
    /// `SIP/2.0/<transport> <host>:<port>;branch=<branch>;rport`.
    fn push_via(&mut self, transport: Transport) -> sip::Result<()> {
        let t = transport.as_str();
        let mut v = String::with_capacity(
            8 + t.len() + 1 + self.me.written.len() + 6 + 8 + self.branch.len() + 6,
        );
        v.push_str("SIP/2.0/");
        v.push_str(t);
        v.push(' ');
        v.push_str(&self.me.written);
        v.push(':');
        push_u16(&mut v, self.me.port);
        v.push_str(";branch=");
        v.push_str(&self.branch);
        v.push_str(";rport");
        self.editor.push_via_value(v)?;
        Ok(())
    }

    /// Replaces the Request-URI (retargeting, §16.5) and makes it the next hop when no Route
    /// remains.
    pub fn retarget(&mut self, uri: Uri, routes_left: bool) -> sip::Result<()> {
        self.editor.set_request_uri(&uri)?;
        if !routes_left {
            self.next_hop = uri;
        }
        Ok(())
    }
}

/// Records the source on the top Via (§18.2.1 `received`; RFC 3581 §4 `rport` value) — returns
/// true if the Via changed.
pub fn stamp_via(ed: &mut Editor, msg: &Message, flow: &Flow) -> sip::Result<bool> {
    let via = msg.top_via()?;
    let src = flow.remote.ip();
    let needs_received = via.host.ip() != Some(src);
    let wants_rport = via.rport().is_some();
    if !needs_received && !wants_rport {
        return Ok(false);
    }
    let mut v = ed.pop_via()?;
    if needs_received || wants_rport {
        v.params.set(Param::token("received", src.to_string()));
    }
    if wants_rport {
        v.params
            .set(Param::token("rport", flow.remote.port().to_string()));
    }
    ed.push_via(&v)?;
    Ok(true)
}

/// §16.4 route pre-processing and §16.6 steps 1–7 for a request received on `flow`:
/// stamp the top Via, decrement (or add) Max-Forwards, undo a strict router's rewrite when the
/// Request-URI is ours, drop a top Route that is ours, insert Record-Route (INVITE, SUBSCRIBE,
/// REFER, and any request when configured), and choose the next hop — the top Route if any
/// (a strict next hop is handled by moving the Request-URI to the end of Route, §16.6 step 6),
/// else the Request-URI.
pub fn prepare_forward(
    msg: &Message,
    flow: &Flow,
    cfg: &ProxyConfig,
) -> Result<Prepared, Rejection> {
    let mut ed = Editor::new(msg);
    stamp_via(&mut ed, msg, flow)?;
    let mf = msg.max_forwards()?.unwrap_or(71);
    ed.replace(HeaderName::MaxForwards, mf.saturating_sub(1))?;

    let d = derived(cfg);
    let mut ruri = msg.request_uri()?;
    let mut routes = if msg.has_id(HeaderName::Route) {
        msg.route()?
    } else {
        Vec::new()
    };
    let mut routes_changed = false;
    let mut ruri_changed = false;
    // only our own Route was popped: the other Route lines stay byte-exact
    let mut popped_first_only = false;
    if cfg.is_local_with(&ruri, &d) {
        if let Some(last) = routes.pop() {
            // a strict router upstream put our Record-Route URI in the Request-URI (§16.4)
            ruri = last.uri;
            routes_changed = true;
            ruri_changed = true;
        }
    }
    if routes
        .first()
        .is_some_and(|r| cfg.is_local_with(&r.uri, &d))
    {
        routes.remove(0);
        popped_first_only = !routes_changed;
        routes_changed = true;
    }
    let next_hop = match routes.first() {
        Some(r) if !r.uri.as_sip().is_some_and(SipUri::is_loose_route) => {
            // strict next hop (§16.6 step 6)
            let strict = routes.remove(0).uri;
            routes.push(NameAddr::new(std::mem::replace(&mut ruri, strict.clone())));
            routes_changed = true;
            popped_first_only = false;
            ruri_changed = true;
            strict
        }
        Some(r) => r.uri.clone(),
        None => ruri.clone(),
    };
    if ruri_changed {
        ed.set_request_uri(&ruri)?;
    }
    if popped_first_only {
        ed.pop_first(HeaderName::Route)?;
    } else if routes_changed {
        ed.remove(HeaderName::Route);
        for r in &routes {
            ed.append(HeaderName::Route, r)?;
        }
    }
    let method = msg.method();
    let dialog_creating = matches!(
        method,
        Some(Method::Invite | Method::Subscribe | Method::Refer)
    ) && msg.to().map(|t| t.tag().is_none()).unwrap_or(false);
    if cfg.record_route && dialog_creating {
        ed.prepend(HeaderName::RecordRoute, d.route(flow.transport))?;
    }
    Ok(Prepared {
        editor: ed,
        next_hop,
        branch: branch_for(msg),
        me: d,
    })
}

/// §16.7 step 3: removes our Via from a response; returns the response and the Via it now has on
/// top (where it goes when forwarded statelessly, [`crate::via_destination`]). `None` if the top
/// Via is not ours or no Via remains (the response was for us).
pub fn strip_own_via(resp: &Message, cfg: &ProxyConfig) -> sip::Result<Option<(Message, Via)>> {
    let top = resp.top_via()?;
    if !cfg.via_is_ours(&top) {
        return Ok(None);
    }
    let mut ed = Editor::new(resp);
    ed.pop_via()?;
    let out = ed.finish()?;
    match out.top_via() {
        Ok(next) => Ok(Some((out, next))),
        Err(_) => Ok(None),
    }
}

/// RFC 3327 §5.1: the Path value a registrar-bound proxy adds (`<sip:host:port;lr>`).
pub fn path_value(cfg: &ProxyConfig, transport: Transport) -> String {
    with_derived(cfg, |d| d.route(transport).to_string())
}

/// Appends `v` in decimal.
fn push_u16(s: &mut String, v: u16) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut n = v;
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
    for &b in buf.get(i..).unwrap_or(&[]) {
        s.push(char::from(b));
    }
}

/// RFC 3608 §6 / TS 24.229 §5.1.2A.1: the route set a UE preloads for requests after
/// registration: its outbound proxy (the P-CSCF, if given) followed by the Service-Route values
/// of the 200 OK to REGISTER, in order.
pub fn preloaded_route(outbound_proxy: Option<&Uri>, service_route: &[NameAddr]) -> Vec<String> {
    let mut v = Vec::with_capacity(service_route.len() + 1);
    if let Some(p) = outbound_proxy {
        v.push(format!("<{p}>"));
    }
    v.extend(service_route.iter().map(|r| r.to_string()));
    v
}

#[cfg(test)]
mod tests {
    use super::contains_ignore_ascii_case;

    #[test]
    fn substring_search_agrees_with_a_scan_of_every_window() {
        let hays: [&[u8]; 6] = [
            b"SIP/2.0/UDP [2001:0:0:1::2]:5060;branch=z9hG4bK1",
            b"SIP/2.0/UDP [2001:0:0:1::22]:5060",
            b"[[[2001:0:0:1::",
            b"",
            b"PCSCF.Example.NET",
            b"x[2001:0:0:1::2]",
        ];
        let needles: [&[u8]; 5] = [
            b"[2001:0:0:1::2]",
            b"pcscf.example.net",
            b"[",
            b"example",
            b"x[2001:0:0:1::2]y",
        ];
        for h in hays {
            for n in needles {
                let naive = h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
                assert_eq!(contains_ignore_ascii_case(h, n), naive, "{h:?} {n:?}");
            }
        }
    }
}
