//! Structural comparison of Security-* lists, for "Security-Verify equals the Security-Server we
//! sent" (RFC 3329 §2.3.1) and "Security-Client unchanged" on refresh.
//!
//! Choice (RFC 3329 §2.3.1 requires that the list "was not modified"; preference is carried only
//! by `q`, RFC 3329 §2.2, which is compared): mechanism names and parameter names compare
//! case-insensitively; parameter order is ignored (the reference trace's UE moves `q` to the front
//! of its Security-Verify); the order of mechanisms in the list is ignored (multiset equality),
//! since it carries no meaning; numeric parameters (`spi-c`, `spi-s`, `port-c`, `port-s`) compare
//! by value (`0000565817` = `565817`) and `q` as a qvalue; the tokens `alg`, `ealg`, `prot`,
//! `mod` compare case-insensitively; every other value must be byte-identical. A parameter name
//! appearing twice in one mechanism never matches (ambiguous).

use sip::{Param, SecurityMechanism};

use crate::config::Qvalue;

fn values_eq(name: &str, a: Option<&str>, b: Option<&str>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return a.is_none() && b.is_none();
    };
    let lname = name.to_ascii_lowercase();
    match lname.as_str() {
        "spi-c" | "spi-s" | "port-c" | "port-s" => {
            let num = |s: &str| {
                (!s.is_empty() && s.len() <= 20 && s.bytes().all(|c| c.is_ascii_digit()))
                    .then(|| s.parse::<u64>().ok())
                    .flatten()
            };
            match (num(a), num(b)) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            }
        }
        "q" => match (Qvalue::parse(a), Qvalue::parse(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        "alg" | "ealg" | "prot" | "mod" => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

fn has_duplicate_names(params: &[Param]) -> bool {
    params
        .iter()
        .enumerate()
        .any(|(i, p)| params[..i].iter().any(|o| o.is(&p.name)))
}

/// Structural equality of two mechanisms (see the module doc for the rules).
pub fn mechanism_eq(a: &SecurityMechanism, b: &SecurityMechanism) -> bool {
    if !a.mechanism.eq_ignore_ascii_case(&b.mechanism) || a.params.len() != b.params.len() {
        return false;
    }
    if has_duplicate_names(&a.params.0) || has_duplicate_names(&b.params.0) {
        return false;
    }
    a.params.iter().all(|pa| {
        b.params
            .get(&pa.name)
            .is_some_and(|pb| values_eq(&pa.name, pa.value.as_deref(), pb.value.as_deref()))
    })
}

/// Multiset equality of two lists under [`mechanism_eq`].
pub fn lists_eq(expected: &[SecurityMechanism], got: &[SecurityMechanism]) -> bool {
    if expected.len() != got.len() {
        return false;
    }
    let mut used = vec![false; expected.len()];
    got.iter().all(|g| {
        let hit = expected
            .iter()
            .zip(used.iter_mut())
            .find(|(e, u)| !**u && mechanism_eq(e, g));
        match hit {
            Some((_, u)) => {
                *u = true;
                true
            }
            None => false,
        }
    })
}
