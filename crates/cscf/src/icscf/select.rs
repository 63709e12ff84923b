//! S-CSCF selection from the HSS's Server-Capabilities (TS 29.228 §6.1.1 and Annex B, TS 23.228
//! §5.3.1.2): the S-CSCFs the HSS names come first, in its order; then every configured S-CSCF
//! that has all mandatory capabilities, those with more of the optional ones first.

use serde::Deserialize;

/// One S-CSCF the I-CSCF may choose, with its capabilities (TS 29.228 Annex B: operator-defined
/// integers).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScscfEntry {
    /// Its SIP URI, as the HSS would name it in Server-Name (e.g.
    /// `sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060`).
    pub name: String,
    /// Capabilities it has.
    #[serde(default)]
    pub capabilities: Vec<u32>,
}

/// Candidates in order of preference for the capabilities the HSS sent, leaving out `exclude`
/// (S-CSCFs that already failed, TS 24.229 §5.3.1.3). Names are compared case-insensitively.
pub fn candidates(
    mandatory: &[u32],
    optional: &[u32],
    server_names: &[String],
    table: &[ScscfEntry],
    exclude: &[String],
) -> Vec<String> {
    let excluded = |n: &str| exclude.iter().any(|e| e.eq_ignore_ascii_case(n));
    let mut out: Vec<String> = Vec::new();
    let push = |n: &str, out: &mut Vec<String>| {
        if !excluded(n) && !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
            out.push(n.to_string());
        }
    };
    for n in server_names {
        push(n, &mut out);
    }
    let mut ranked: Vec<(usize, usize, &ScscfEntry)> = table
        .iter()
        .enumerate()
        .filter(|(_, e)| mandatory.iter().all(|m| e.capabilities.contains(m)))
        .map(|(i, e)| {
            let score = optional
                .iter()
                .filter(|o| e.capabilities.contains(o))
                .count();
            (score, i, e)
        })
        .collect();
    // more optional capabilities first; configuration order breaks ties
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, e) in ranked {
        push(&e.name, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<ScscfEntry> {
        vec![
            ScscfEntry {
                name: "sip:s1.example.org".into(),
                capabilities: vec![1],
            },
            ScscfEntry {
                name: "sip:s2.example.org".into(),
                capabilities: vec![1, 2, 3],
            },
            ScscfEntry {
                name: "sip:s3.example.org".into(),
                capabilities: vec![2, 3],
            },
            ScscfEntry {
                name: "sip:s4.example.org".into(),
                capabilities: vec![1, 3],
            },
        ]
    }

    #[test]
    fn mandatory_filters_and_optional_ranks() {
        let c = candidates(&[1], &[2, 3], &[], &table(), &[]);
        assert_eq!(
            c,
            vec![
                "sip:s2.example.org",
                "sip:s4.example.org",
                "sip:s1.example.org"
            ]
        );
    }

    #[test]
    fn server_names_first_and_exclusions() {
        let c = candidates(
            &[2],
            &[],
            &["sip:preferred.example.org".into()],
            &table(),
            &["SIP:S2.example.org".into()],
        );
        assert_eq!(c, vec!["sip:preferred.example.org", "sip:s3.example.org"]);
    }

    #[test]
    fn nothing_matches() {
        assert!(candidates(&[9], &[], &[], &table(), &[]).is_empty());
    }
}
