//! Entry point shared by the fuzz target (`fuzz/fuzz_targets/security_headers.rs`) and the corpus
//! test (`tests/fuzz_corpus.rs`): runs the whole Security-* evaluation on arbitrary input and
//! checks invariants. Must never panic except on a violated invariant.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use sip::Message;

use crate::compare::lists_eq;
use crate::config::{Config, SecAgreeMode};
use crate::negotiate::{negotiate, IpsecIds};
use crate::policy::{check_request, Arrival, Association, Transport};
use crate::strip::prepare_forward;
use crate::ue::choose_server;

const UE: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0, 0, 0, 1, 0xd1ae, 0xbb37, 0xd9c9));
const PCSCF: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0, 0, 1, 0, 0, 0, 2));

/// The input's first line is the Security-Client value, the rest the Security-Verify value, of a
/// REGISTER. Checks: every rejection is 400/403/494 and a 494 carries Security-Server; a
/// successful negotiation's Security-Server is accepted by the UE side and equals itself; the
/// forwarded message has no Security-* header left. Returns true if a negotiation succeeded
/// (under either mode), so the corpus test can tell the seeds apart.
pub fn exercise(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let (client, verify) = text.split_once('\n').unwrap_or((&text, ""));
    let client = client.replace('\r', "");
    let verify = verify.replace(['\r', '\n'], " ");
    let raw = format!(
        "REGISTER sip:ims.example.net SIP/2.0\r\n\
         Via: SIP/2.0/UDP [2001::1]:38003;branch=z9hG4bK1\r\n\
         From: <sip:u@ims.example.net>;tag=1\r\n\
         To: <sip:u@ims.example.net>\r\n\
         Call-ID: c1\r\n\
         CSeq: 1 REGISTER\r\n\
         Require: sec-agree\r\n\
         Proxy-Require: sec-agree\r\n\
         Security-Client: {client}\r\n\
         Security-Verify: {verify}\r\n\
         Authorization: Digest username=\"u\", realm=\"r\", uri=\"sip:r\", nonce=\"\", response=\"\"\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let Ok(msg) = Message::parse(raw.into_bytes()) else {
        return false;
    };
    let mut negotiated = false;
    let arrival = Arrival {
        transport: Transport::Udp,
        src: SocketAddr::new(UE, 38003),
        dst: SocketAddr::new(PCSCF, 5060),
        tls_connection: None,
    };
    let local = IpsecIds {
        spi_c: 3458785863,
        spi_s: 2821032177,
        port_c: 50717,
        port_s: 50718,
    };
    for mode in [SecAgreeMode::Required, SecAgreeMode::Optional] {
        let config = Config {
            mode,
            ..Config::default()
        };
        match check_request(&config, &msg, &arrival, None) {
            Err(r) => {
                assert!(matches!(r.status(), 400 | 403 | 494), "{:?}", r.error);
                assert_eq!(r.status() == 494, !r.security_server.is_empty());
            }
            Ok(v) => {
                if let Ok(fwd) = prepare_forward(&msg, v.integrity_protected) {
                    for h in crate::strip::STRIPPED_HEADERS {
                        assert!(!fwd.has(h.as_str()), "{h:?} left in forwarded request");
                    }
                }
            }
        }
        let Ok(offer) = msg.security_client() else {
            continue;
        };
        if let Ok(n) = negotiate(&config, &offer, UE, PCSCF, Some(local)) {
            negotiated = true;
            assert!(lists_eq(&n.security_server, &n.security_server));
            let c = choose_server(&offer, &n.security_server).expect("UE accepts our pick");
            assert_eq!(c.mechanism(), n.choice.mechanism());
            let mut assoc = Association::from_negotiated(&n, UE).expect("association");
            if let Some(sa) = n.sa {
                let prot = Arrival {
                    transport: Transport::Tcp,
                    src: SocketAddr::new(UE, sa.ue.port_c),
                    dst: SocketAddr::new(PCSCF, sa.pcscf.port_s),
                    tls_connection: None,
                };
                if let Err(r) = check_request(&config, &msg, &prot, Some(&mut assoc)) {
                    assert!(matches!(r.status(), 400 | 403 | 494), "{:?}", r.error);
                }
            }
        }
    }
    negotiated
}
