//! The XFRM backend against the running kernel, inside a network namespace the test creates (so
//! nothing of the host is touched; the namespace is deleted at the end, also on failure).
//!
//! Where the kernel has ESP, the four states of a set are installed, seen by `ip xfrm state` and
//! deleted. Where it has not (this project's build machines), installing the states must fail
//! with an error naming the missing kernel ESP support and leave no state behind. In both cases
//! the four policies are installed, seen by `ip xfrm policy` with our mark, and deleted. The test
//! prints which case ran. Needs root; fails, never skips, without it.

use aka::{Ck, Ik};
use ipsec::xfrm::XfrmBackend;
use ipsec::{EncryptionAlg, Endpoint, ImsSaSet, IntegrityAlg, SaKeys};
use testkit::netns::{enter, ip, Namespaces};

/// `ip -n NS ARGS`'s output (panics if it fails).
fn ip_out(ns: &str, args: &[&str]) -> String {
    ip(&[&["-n", ns], args].concat())
}

fn set() -> ImsSaSet {
    let keys = SaKeys::from_aka(
        IntegrityAlg::HmacSha1_96,
        &Ik::from_hex("00112233445566778899aabbccddeeff").unwrap(),
        EncryptionAlg::AesCbc,
        &Ck::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").unwrap(),
    );
    ImsSaSet {
        local: Endpoint {
            addr: "10.78.0.2".parse().unwrap(),
            port_c: 5100,
            port_s: 5200,
            spi_c: 0x3000,
            spi_s: 0x3001,
        },
        remote: Endpoint {
            addr: "10.78.0.1".parse().unwrap(),
            port_c: 38003,
            port_s: 39003,
            spi_c: 565817,
            spi_s: 565818,
        },
        keys,
    }
}

#[test]
fn xfrm_states_where_the_kernel_has_esp_policies_everywhere_all_removed() {
    let ns = format!("ipsec-xfrm-{}", std::process::id());
    let _guard = Namespaces::add(&ns);
    const MARK: u32 = 0x1d5c_7e57;
    let ns2 = ns.clone();
    let outcome = std::thread::spawn(move || {
        enter(&ns2);
        let x = XfrmBackend::open(MARK, None).expect("NETLINK_XFRM socket");
        let s = set();
        let mark = format!("mark {MARK:#x}/0xffffffff");
        let states = x.install_states(&s);
        let kernel_esp = match &states {
            Ok(()) => {
                println!("kernel ESP present: installing XFRM states");
                let out = ip_out(&ns2, &["xfrm", "state"]);
                for spi in [0x3000u32, 0x3001, 565817, 565818] {
                    assert!(out.contains(&format!("spi {spi:#010x}")), "{out}");
                }
                assert_eq!(x.remove_states(&s), 4);
                let out = ip_out(&ns2, &["xfrm", "state"]);
                assert!(!out.contains("proto esp"), "{out}");
                true
            }
            Err(e) => {
                println!("kernel without ESP: XFRM state refused as expected: {e}");
                let msg = e.to_string();
                assert!(msg.contains("no kernel ESP support"), "{msg}");
                let out = ip_out(&ns2, &["xfrm", "state"]);
                assert!(out.trim().is_empty(), "no state left behind: {out}");
                false
            }
        };
        x.install_policies(&s).expect("policies are accepted");
        let out = ip_out(&ns2, &["xfrm", "policy"]);
        assert_eq!(out.matches(&mark).count(), 4, "{out}");
        assert_eq!(out.matches("dir out").count(), 2, "{out}");
        assert_eq!(out.matches("dir in").count(), 2, "{out}");
        assert!(
            out.contains("src 10.78.0.2/32 dst 10.78.0.1/32 sport 5100 dport 39003"),
            "{out}"
        );
        assert_eq!(x.remove_policies(&s), 4);
        let out = ip_out(&ns2, &["xfrm", "policy"]);
        assert!(!out.contains(&mark), "{out}");
        // whatever is still installed goes when the backend is dropped
        x.install_policies(&s).unwrap();
        drop(x);
        let out = ip_out(&ns2, &["xfrm", "policy"]);
        assert!(
            !out.contains(&mark),
            "dropped backend leaves nothing: {out}"
        );
        kernel_esp
    })
    .join()
    .expect("xfrm thread");
    println!(
        "case run: {}",
        if outcome {
            "kernel ESP (states + policies)"
        } else {
            "no kernel ESP (states refused, policies only)"
        }
    );
}
