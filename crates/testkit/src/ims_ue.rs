//! A minimal IMS UE for integration tests: REGISTER over UDP with IMS-AKA (TS 33.203 §6.1,
//! Digest AKAv1-MD5 per RFC 3310) computed with the `aka` crate, so tests can register through a
//! P-CSCF without the full simulator.

use std::net::SocketAddr;
use std::time::Duration;

use aka::{AkaNonce, Milenage, Op, K};
use sip::Message;
use tokio::net::UdpSocket;

/// A test UE for one subscriber.
pub struct TestUe {
    /// The UE's socket.
    pub sock: UdpSocket,
    /// Where the P-CSCF listens.
    pub pcscf: SocketAddr,
    /// Home domain (Request-URI and Digest realm).
    pub realm: String,
    /// Private identity.
    pub impi: String,
    /// Public identity.
    pub impu: String,
    /// User part of the contact.
    pub user: String,
    /// K.
    pub k: [u8; 16],
    /// OP.
    pub op: [u8; 16],
    call_id: String,
    cseq: u32,
}

impl TestUe {
    /// A UE for `user@realm` (IMPI `user@realm`, IMPU `sip:user@realm`) with keys `k`, `op`.
    pub async fn new(
        pcscf: SocketAddr,
        realm: &str,
        user: &str,
        k: [u8; 16],
        op: [u8; 16],
    ) -> TestUe {
        TestUe {
            sock: UdpSocket::bind("127.0.0.1:0").await.expect("bind"),
            pcscf,
            realm: realm.into(),
            impi: format!("{user}@{realm}"),
            impu: format!("sip:{user}@{realm}"),
            user: user.into(),
            k,
            op,
            call_id: format!("testue-{user}-{}", rand::random::<u32>()),
            cseq: 0,
        }
    }

    /// The UE's address.
    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("local addr")
    }

    /// The Contact URI.
    pub fn contact(&self) -> String {
        format!("sip:{}@{}", self.user, self.local())
    }

    /// A REGISTER (next CSeq) with extra header lines `auth` (each ending in CRLF).
    pub fn register_text(&mut self, expires: u32, auth: &str) -> String {
        self.cseq += 1;
        format!(
            "REGISTER sip:{r} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {l};branch=z9hG4bK{b:x};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{u}>;tag=ue{t:x}\r\n\
             To: <{u}>\r\n\
             Call-ID: {c}\r\n\
             CSeq: {s} REGISTER\r\n\
             Contact: <{ct}>;expires={expires}\r\n\
             Supported: path\r\n\
             {auth}\
             Content-Length: 0\r\n\r\n",
            r = self.realm,
            l = self.local(),
            b = rand::random::<u64>(),
            u = self.impu,
            t = rand::random::<u32>(),
            c = self.call_id,
            s = self.cseq,
            ct = self.contact(),
        )
    }

    /// A REGISTER (next CSeq) as sent over `transport` (`UDP`, `TCP`, `TLS`) from `local`, with
    /// the Contact naming that transport, and extra header lines `extra` (each ending in CRLF):
    /// for UEs that reach the P-CSCF over a connection (e.g. sec-agree `tls`, RFC 3329).
    pub fn register_text_over(
        &mut self,
        transport: &str,
        local: SocketAddr,
        expires: u32,
        extra: &str,
    ) -> String {
        self.cseq += 1;
        format!(
            "REGISTER sip:{r} SIP/2.0\r\n\
             Via: SIP/2.0/{tr} {l};branch=z9hG4bK{b:x};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{u}>;tag=ue{t:x}\r\n\
             To: <{u}>\r\n\
             Call-ID: {c}\r\n\
             CSeq: {s} REGISTER\r\n\
             Contact: <sip:{user}@{l};transport={tl}>;expires={expires}\r\n\
             Supported: path\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n",
            r = self.realm,
            tr = transport.to_ascii_uppercase(),
            tl = transport.to_ascii_lowercase(),
            l = local,
            b = rand::random::<u64>(),
            u = self.impu,
            t = rand::random::<u32>(),
            c = self.call_id,
            s = self.cseq,
            user = self.user,
        )
    }

    /// The Authorization line of an initial REGISTER (empty credentials, TS 24.229 §5.1.1.2.1).
    pub fn initial_authorization(&self) -> String {
        format!(
            "Authorization: Digest username=\"{}\", realm=\"{}\", nonce=\"\", uri=\"sip:{}\", response=\"\"\r\n",
            self.impi, self.realm, self.realm
        )
    }

    /// Sends raw text to the P-CSCF.
    pub async fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.pcscf)
            .await
            .expect("send");
    }

    /// The next final response (provisional ones skipped); panics after 10 s.
    pub async fn recv_final(&self) -> Message {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, _) =
                tokio::time::timeout(Duration::from_secs(10), self.sock.recv_from(&mut buf))
                    .await
                    .expect("a response within 10 s")
                    .expect("recv");
            let m = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).expect("parses");
            if m.status().is_some_and(|s| s >= 200) {
                return m;
            }
        }
    }

    /// Sends and waits for the final response.
    pub async fn request(&self, text: &str) -> Message {
        self.send(text).await;
        self.recv_final().await
    }

    /// Initial REGISTER (empty credentials) → the challenge.
    pub async fn challenge(&mut self, expires: u32) -> Message {
        let auth = format!(
            "Authorization: Digest username=\"{}\", realm=\"{}\", nonce=\"\", uri=\"sip:{}\", response=\"\"\r\n",
            self.impi, self.realm, self.realm
        );
        let t = self.register_text(expires, &auth);
        self.request(&t).await
    }

    /// The Authorization line answering a 401 with RES (AKAv1-MD5, RFC 3310 §3.3).
    pub fn answer(&self, chal: &Message) -> String {
        let www = chal
            .www_authenticate()
            .expect("WWW-Authenticate parses")
            .expect("WWW-Authenticate");
        let nonce = www.nonce().expect("nonce").to_string();
        let decoded = AkaNonce::decode(&nonce).expect("AKA nonce");
        let m = Milenage::with_op(&K::from_bytes(self.k), &Op::from_bytes(self.op));
        let (res, _, _, _) = m.f2345(&decoded.rand);
        let ha1 = aka::digest::ha1_akav1(&self.impi, &self.realm, &res);
        let uri = format!("sip:{}", self.realm);
        let input = aka::digest::DigestInput {
            nonce: &nonce,
            method: "REGISTER",
            uri: &uri,
            qop: Some(aka::digest::QopParams {
                qop: aka::digest::Qop::Auth,
                nc: "00000001",
                cnonce: "testcnonce",
            }),
            body: b"",
        };
        let response = aka::digest::response(&ha1, &input).expect("digest");
        format!(
            "Authorization: Digest username=\"{}\", realm=\"{}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=AKAv1-MD5, qop=auth, nc=00000001, cnonce=\"testcnonce\"\r\n",
            self.impi, self.realm
        )
    }

    /// A full IMS-AKA registration; returns (the 401, the final response). Panics unless the
    /// first answer is a 401.
    pub async fn register(&mut self, expires: u32) -> (Message, Message) {
        let chal = self.challenge(expires).await;
        assert_eq!(chal.status(), Some(401), "{chal}");
        let auth = self.answer(&chal);
        let t = self.register_text(expires, &auth);
        let fin = self.request(&t).await;
        (chal, fin)
    }
}
