//! Security agreement between UE and P-CSCF with `tls` (RFC 3329, TS 24.229 §5.2.2.1, the
//! reference TLS call flows) over real sockets: HSS, S-, I- and P-CSCF in-process, the P-CSCF with
//! a TLS listener, and a test UE speaking TLS (`ue::tls::TlsClient::insecure`, accepting the
//! P-CSCF's self-signed certificate).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cscf::pcscf::sec_config::SecAgreeSetting;
use cscf::store::RegistrationStore;
use hss::provision::demo;
use sip::Message;
use testkit::ims_ue::TestUe;
use testkit::scratch::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use ue::tls::TlsClient;

#[path = "harness/ims_core.rs"]
mod ims_core;

use ims_core::{Core, CoreBuilder, REALM};

/// The reference call flow's Security-Client: two ipsec-3gpp entries and tls.
const SECURITY_CLIENT: &str = "Security-Client: ipsec-3gpp;alg=hmac-md5-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=8765423;port-c=7524;spi-s=1234563;port-s=1358, ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=8765423;port-c=7524;spi-s=1234563;port-s=1358, tls\r\n";
const SEC_AGREE_TAGS: &str = "Require: sec-agree\r\nProxy-Require: sec-agree\r\n";

struct Ims {
    core: Core,
    /// The P-CSCF's UDP listener.
    udp: SocketAddr,
    /// The P-CSCF's TLS listener.
    tls: SocketAddr,
    store: Arc<dyn RegistrationStore>,
}

impl Ims {
    /// HSS + S/I/P-CSCF; the P-CSCF with `sec_agree` and a TLS listener whose certificate comes
    /// from `cert_files` (PEM files) or is generated.
    async fn start(dir: &Path, sec_agree: SecAgreeSetting, cert_files: bool) -> Ims {
        let mut b = CoreBuilder::loopback("sa.test");
        b.pcscf_tls_listener();
        b.pcscf.sec_agree = sec_agree;
        if cert_files {
            b.pcscf_cert_files(dir);
        }
        let core = b.start(dir, 4).await;
        let tls = core.pcscf_tls();
        Ims {
            udp: core.pcscf,
            tls,
            store: core.store.clone(),
            core,
        }
    }

    async fn stop(self) {
        self.core.stop().await
    }
}

/// One TLS connection from the UE to the P-CSCF.
struct TlsConn {
    stream: TlsStream<TcpStream>,
    local: SocketAddr,
    buf: Vec<u8>,
}

impl TlsConn {
    /// TLS to `to`, accepting the P-CSCF's self-signed certificate ([`TlsClient::insecure`]:
    /// handshake signatures are still checked).
    async fn connect(to: SocketAddr) -> TlsConn {
        let stream = TlsClient::insecure("pcscf.sa.test")
            .unwrap()
            .connect(to)
            .await
            .expect("TLS handshake");
        let local = stream.get_ref().0.local_addr().unwrap();
        TlsConn {
            stream,
            local,
            buf: Vec::new(),
        }
    }

    /// One framed message from the buffer, if complete (RFC 3261 §18.3: Content-Length).
    fn take_message(&mut self) -> Option<Message> {
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
        let len = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                let n = n.trim();
                (n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l"))
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        if self.buf.len() < end + len {
            return None;
        }
        let raw: Vec<u8> = self.buf.drain(..end + len).collect();
        Some(Message::parse(bytes::Bytes::from(raw)).expect("response parses"))
    }

    /// Sends `text` and returns the final response (provisional ones skipped; 10 s bound).
    async fn request(&mut self, text: &str) -> Message {
        self.stream.write_all(text.as_bytes()).await.expect("write");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(m) = self.take_message() {
                if m.status().is_some_and(|s| s >= 200) {
                    return m;
                }
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("a response within 10 s")
                .expect("read");
            assert!(n > 0, "P-CSCF closed the TLS connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

async fn test_ue(n: u64, pcscf: SocketAddr) -> TestUe {
    TestUe::new(
        pcscf,
        REALM,
        &demo::demo_imsi(n),
        demo::DEMO_K,
        demo::DEMO_OP,
    )
    .await
}

fn header(m: &Message, name: &str) -> String {
    m.header_value(name)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// A REGISTER over `conn` with `extra` header lines.
fn over_tls(ue: &mut TestUe, conn: &TlsConn, extra: &str) -> String {
    ue.register_text_over("TLS", conn.local, 3600, extra)
}

/// "TLS session setup during registration" up to the 200: initial REGISTER over UDP with
/// Security-Client, 401 with Security-Server, protected REGISTER over TLS with Security-Verify.
/// Returns (the TLS connection, the Authorization line of the protected REGISTER, the
/// Security-Server value).
async fn register_tls_during(ue: &mut TestUe, ims: &Ims) -> (TlsConn, String, String) {
    let init = ue.register_text(
        3600,
        &format!(
            "{SECURITY_CLIENT}{SEC_AGREE_TAGS}{}",
            ue.initial_authorization()
        ),
    );
    let chal = ue.request(&init).await;
    assert_eq!(chal.status(), Some(401), "{chal}");
    let server = header(&chal, "Security-Server");
    // only what we can do now: tls (no ipsec-3gpp before its datapath exists)
    assert!(server.starts_with("tls"), "{chal}");
    assert!(!server.contains("ipsec-3gpp"), "{chal}");
    let mut conn = TlsConn::connect(ims.tls).await;
    let auth = ue.answer(&chal);
    let protected = over_tls(
        ue,
        &conn,
        &format!("{SECURITY_CLIENT}{SEC_AGREE_TAGS}Security-Verify: {server}\r\n{auth}"),
    );
    let ok = conn.request(&protected).await;
    assert_eq!(ok.status(), Some(200), "{ok}");
    assert!(header(&ok, "Security-Server").is_empty(), "{ok}");
    (conn, auth, server)
}

async fn stored_binding(ims: &Ims, ue: &TestUe, conn: &TlsConn) -> Option<String> {
    let contact = format!("sip:{}@{};transport=tls", ue.user, conn.local);
    ims.store
        .get_ue_registration(&ue.impu, &contact)
        .await
        .unwrap()
        .and_then(|r| r.security_association)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_during_registration_then_tls_yes_refresh() {
    let dir = TempDir::new("during");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Required, true).await;
    let mut ue = test_ue(1, ims.udp).await;
    let (mut conn, auth, server) = register_tls_during(&mut ue, &ims).await;
    // the registration is bound to the TLS connection
    let b = stored_binding(&ims, &ue, &conn)
        .await
        .expect("binding stored");
    assert!(b.starts_with("tls;conn="), "{b}");

    // refresh on the same connection with the old credentials: forwarded with tls-yes, so the
    // S-CSCF accepts it without a new challenge (TS 24.229 §5.4.1.2.1)
    let refresh = over_tls(
        &mut ue,
        &conn,
        &format!("{SECURITY_CLIENT}{SEC_AGREE_TAGS}Security-Verify: {server}\r\n{auth}"),
    );
    let ok = conn.request(&refresh).await;
    assert_eq!(ok.status(), Some(200), "{ok}");

    // refresh rules: Security-Verify missing / different, Security-Client missing → 494
    for extra in [
        format!("{SECURITY_CLIENT}{SEC_AGREE_TAGS}{auth}"),
        format!("{SECURITY_CLIENT}{SEC_AGREE_TAGS}Security-Verify: tls;q=0.9\r\n{auth}"),
        format!("{SEC_AGREE_TAGS}Security-Verify: {server}\r\n{auth}"),
    ] {
        let r = over_tls(&mut ue, &conn, &extra);
        let resp = conn.request(&r).await;
        assert_eq!(resp.status(), Some(494), "{extra}\n{resp}");
        assert_eq!(header(&resp, "Security-Server"), server, "{resp}");
    }
    // Authorization username differing from the association → 403
    let other = auth.replace(&ue.impi, &format!("{}@{REALM}", demo::demo_imsi(2)));
    assert_ne!(other, auth);
    let r = over_tls(
        &mut ue,
        &conn,
        &format!("{SECURITY_CLIENT}{SEC_AGREE_TAGS}Security-Verify: {server}\r\n{other}"),
    );
    let resp = conn.request(&r).await;
    assert_eq!(resp.status(), Some(403), "{resp}");

    // the protected connection is still good afterwards
    let again = over_tls(
        &mut ue,
        &conn,
        &format!("{SECURITY_CLIENT}{SEC_AGREE_TAGS}Security-Verify: {server}\r\n{auth}"),
    );
    let ok = conn.request(&again).await;
    assert_eq!(ok.status(), Some(200), "{ok}");
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_prior_to_registration_then_tls_yes_refresh() {
    let dir = TempDir::new("prior");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Optional, false).await;
    let mut ue = test_ue(1, ims.udp).await;
    let mut conn = TlsConn::connect(ims.tls).await;
    let first = ue.initial_authorization();
    let init = over_tls(&mut ue, &conn, &first);
    let chal = conn.request(&init).await;
    assert_eq!(chal.status(), Some(401), "{chal}");
    // no sec-agree: no Security-Server (reference flow step 3)
    assert!(header(&chal, "Security-Server").is_empty(), "{chal}");
    let auth = ue.answer(&chal);
    let ok = conn.request(&over_tls(&mut ue, &conn, &auth)).await;
    assert_eq!(ok.status(), Some(200), "{ok}");
    let b = stored_binding(&ims, &ue, &conn)
        .await
        .expect("binding stored");
    assert!(b.starts_with("tls;conn="), "{b}");
    // the refresh on the same connection is tls-yes: no challenge
    let ok = conn.request(&over_tls(&mut ue, &conn, &auth)).await;
    assert_eq!(ok.status(), Some(200), "{ok}");

    // control: over UDP without security agreement, the same kind of refresh (old credentials,
    // integrity-protected="no") is challenged again by the S-CSCF
    let mut plain = test_ue(2, ims.udp).await;
    let (chal, ok) = plain.register(3600).await;
    assert_eq!(ok.status(), Some(200), "{ok}");
    let old = plain.answer(&chal);
    let t = plain.register_text(3600, &old);
    let chal2 = plain.request(&t).await;
    assert_eq!(chal2.status(), Some(401), "{chal2}");
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_verify_mismatch_or_missing_is_rejected() {
    let dir = TempDir::new("verify");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Optional, false).await;
    let mut ue = test_ue(1, ims.udp).await;
    let init = ue.register_text(
        3600,
        &format!(
            "Security-Client: tls\r\n{SEC_AGREE_TAGS}{}",
            ue.initial_authorization()
        ),
    );
    let chal = ue.request(&init).await;
    assert_eq!(chal.status(), Some(401), "{chal}");
    let server = header(&chal, "Security-Server");
    assert!(server.starts_with("tls"), "{chal}");
    let auth = ue.answer(&chal);
    let mut conn = TlsConn::connect(ims.tls).await;
    // a modified list (different q) and a missing Security-Verify are refused with 494 and our
    // Security-Server (RFC 3329 §2.3.1)
    for verify in ["Security-Verify: tls;q=0.9\r\n", ""] {
        let r = over_tls(
            &mut ue,
            &conn,
            &format!("Security-Client: tls\r\n{SEC_AGREE_TAGS}{verify}{auth}"),
        );
        let resp = conn.request(&r).await;
        assert_eq!(resp.status(), Some(494), "{verify}\n{resp}");
        assert_eq!(header(&resp, "Security-Server"), server, "{resp}");
    }
    // the untouched list (mechanism order/case-insensitive compare) is accepted
    let r = over_tls(
        &mut ue,
        &conn,
        &format!(
            "Security-Client: tls\r\n{SEC_AGREE_TAGS}Security-Verify: {}\r\n{auth}",
            server.to_ascii_uppercase().replace("Q=", "q=")
        ),
    );
    let ok = conn.request(&r).await;
    assert_eq!(ok.status(), Some(200), "{ok}");
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_mode_rejects_unprotected_requests() {
    let dir = TempDir::new("required");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Required, false).await;
    let mut ue = test_ue(1, ims.udp).await;
    // REGISTER without Security-Client → 494 listing what we offer (tls only)
    let plain = ue.register_text(3600, &ue.initial_authorization());
    let resp = ue.request(&plain).await;
    assert_eq!(resp.status(), Some(494), "{resp}");
    let server = header(&resp, "Security-Server");
    assert!(server.starts_with("tls"), "{resp}");
    assert!(!server.contains("ipsec-3gpp"), "{resp}");
    // a non-REGISTER on the unprotected port → 403
    let options = format!(
        "OPTIONS sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKopt{r:x};rport\r\n\
         Max-Forwards: 70\r\nFrom: <{u}>;tag=o1\r\nTo: <sip:{REALM}>\r\nCall-ID: opt-{r:x}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        l = ue.local(),
        u = ue.impu,
        r = rand::random::<u32>(),
    );
    let resp = ue.request(&options).await;
    assert_eq!(resp.status(), Some(403), "{resp}");
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_another_connection_are_rejected() {
    let dir = TempDir::new("otherconn");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Required, false).await;
    let mut ue = test_ue(1, ims.udp).await;
    let (conn, auth, server) = register_tls_during(&mut ue, &ims).await;
    // a second TLS connection claiming the same registration
    let mut other = TlsConn::connect(ims.tls).await;
    let r = over_tls(
        &mut ue,
        &other,
        &format!("{SECURITY_CLIENT}{SEC_AGREE_TAGS}Security-Verify: {server}\r\n{auth}"),
    );
    let resp = other.request(&r).await;
    assert_eq!(resp.status(), Some(403), "{resp}");
    // a non-REGISTER from the UE on the other connection
    let msg = format!(
        "MESSAGE sip:{u} SIP/2.0\r\nVia: SIP/2.0/TLS {l};branch=z9hG4bKmsg{r:x};rport\r\n\
         Max-Forwards: 70\r\nFrom: <{u}>;tag=m1\r\nTo: <{u}>\r\nCall-ID: msg-{r:x}\r\n\
         CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        l = other.local,
        u = ue.impu,
        r = rand::random::<u32>(),
    );
    let resp = other.request(&msg).await;
    assert_eq!(resp.status(), Some(403), "{resp}");
    // the bound connection is untouched
    assert!(stored_binding(&ims, &ue, &conn).await.is_some());
    ims.stop().await;
}
