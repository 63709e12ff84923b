//! The User-Data XML (TS 29.228 Annex E `IMSSubscription`): round trips, well-formedness and schema
//! structure checked by `xmllint` (required: the tests fail when it is missing), parsing of
//! documents written by others, and rejection of malformed or hostile input.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use cx::user_data::*;
use cx::CxError;
use proptest::prelude::*;

const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/ims-subscription-subset.xsd"
);

/// Runs xmllint on `xml` (from stdin) with extra `args`; returns (success, stderr).
fn xmllint(args: &[&str], xml: &str) -> (bool, String) {
    let mut child = Command::new("xmllint")
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("xmllint is required for this test (apt-get install libxml2-utils): {e}")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(xml.as_bytes())
        .expect("write to xmllint");
    let out = child.wait_with_output().expect("xmllint runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_well_formed(xml: &str) {
    let (ok, err) = xmllint(&["--noout"], xml);
    assert!(ok, "not well-formed: {err}\n{xml}");
}

fn assert_well_formed_and_valid(xml: &str) {
    assert_well_formed(xml);
    let (ok, err) = xmllint(&["--noout", "--schema", XSD], xml);
    assert!(ok, "breaks the schema structure: {err}\n{xml}");
}

#[test]
fn full_profile_round_trips_and_is_valid() {
    let p = common::profile();
    let xml = p.to_xml().unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><IMSSubscription>"));
    assert_well_formed_and_valid(&xml);
    assert_eq!(ImsSubscription::from_xml(xml.as_bytes()).unwrap(), p);
}

#[test]
fn special_characters_are_escaped() {
    let nasty = [
        "sip:a<b>&c\"d'e@ims.example",
        "sip:]]>@ims.example",
        "sip:&amp;@ims.example",
        "sip:ünïcødé-ユーザー@ims.example",
        "tel:+1;phone-context=<x>",
    ];
    for id in nasty {
        let mut p = common::profile();
        p.private_id = id.to_owned();
        p.service_profiles[0].public_identities[0].identity = id.to_owned();
        p.service_profiles[0].public_identities[0].display_name = Some(format!(" {id}\r\n\t{id} "));
        p.service_profiles[0].initial_filter_criteria[0]
            .application_server
            .service_info = Some(id.to_owned());
        let xml = p.to_xml().unwrap();
        assert!(
            !xml.contains(id) || !id.contains(['<', '&']),
            "{id} not escaped in {xml}"
        );
        // These are not all valid URIs (the schema's anyURI), but the document must stay well-formed.
        assert_well_formed(&xml);
        assert_eq!(
            ImsSubscription::from_xml(xml.as_bytes()).unwrap(),
            p,
            "{id}"
        );
    }
}

#[test]
fn characters_xml_cannot_carry_are_refused() {
    let mut p = common::profile();
    p.service_profiles[0].public_identities[0].display_name = Some("bell\u{7}".into());
    match p.to_xml() {
        Err(CxError::UserDataUnrepresentable(m)) => {
            assert!(m.contains("U+0007") && m.contains("DisplayName"), "{m}")
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn minimal_profile_omits_optional_elements() {
    let p = ImsSubscription {
        private_id: "alice@ims.example".into(),
        service_profiles: vec![ServiceProfile {
            public_identities: vec![PublicIdentity {
                identity: "sip:alice@ims.example".into(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let xml = p.to_xml().unwrap();
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><IMSSubscription><PrivateID>alice@ims.example</PrivateID>\
         <ServiceProfile><PublicIdentity><Identity>sip:alice@ims.example</Identity></PublicIdentity>\
         </ServiceProfile></IMSSubscription>"
    );
    assert_well_formed_and_valid(&xml);
}

/// A document as an HSS of another vendor might write it: namespace attributes, indentation,
/// comments, CDATA, references, `true`/`false` booleans and extension elements we do not know.
const FOREIGN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- provisioned by hand -->
<IMSSubscription xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CxDataType.xsd">
  <PrivateID>bob@ims.example</PrivateID>
  <ServiceProfile>
    <PublicIdentity>
      <BarringIndication>false</BarringIndication>
      <Identity> sip:bob@ims.example </Identity>
      <Extension>
        <IdentityType>0</IdentityType>
        <Extension><DisplayName>Bob &amp; &#x41;lice</DisplayName><Extension><AliasIdentityGroupID>g1</AliasIdentityGroupID></Extension></Extension>
      </Extension>
    </PublicIdentity>
    <PublicIdentity>
      <BarringIndication>true</BarringIndication>
      <Identity>tel:+15550001</Identity>
    </PublicIdentity>
    <InitialFilterCriteria>
      <Priority>5</Priority>
      <TriggerPoint>
        <ConditionTypeCNF>0</ConditionTypeCNF>
        <SPT><ConditionNegated>true</ConditionNegated><Group>0</Group><Method>MESSAGE</Method><Extension></Extension></SPT>
        <SPT><Group>0</Group><SIPHeader><Header>To</Header><Content><![CDATA[<sip:.*@ims>]]></Content></SIPHeader></SPT>
      </TriggerPoint>
      <ApplicationServer>
        <ServerName>sip:as.ims.example</ServerName>
        <DefaultHandling>1</DefaultHandling>
        <Extension><IncludeRegisterRequest/></Extension>
      </ApplicationServer>
      <ProfilePartIndicator>1</ProfilePartIndicator>
    </InitialFilterCriteria>
    <SomethingNew xmlns="urn:example:future">ignored</SomethingNew>
  </ServiceProfile>
</IMSSubscription>
"#;

#[test]
fn parses_a_document_written_by_others() {
    let (ok, err) = xmllint(&["--noout"], FOREIGN);
    assert!(ok, "fixture not well-formed: {err}");
    let p = ImsSubscription::from_xml(FOREIGN.as_bytes()).unwrap();
    assert_eq!(p.private_id, "bob@ims.example");
    let sp = &p.service_profiles[0];
    assert_eq!(sp.public_identities.len(), 2);
    assert_eq!(sp.public_identities[0].identity, "sip:bob@ims.example");
    assert!(!sp.public_identities[0].barring_indication);
    assert_eq!(
        sp.public_identities[0].identity_type,
        Some(IdentityType::PublicUserIdentity)
    );
    assert_eq!(
        sp.public_identities[0].display_name.as_deref(),
        Some("Bob & Alice")
    );
    assert!(sp.public_identities[1].barring_indication);
    let ifc = &sp.initial_filter_criteria[0];
    assert_eq!(ifc.priority, 5);
    let tp = ifc.trigger_point.as_ref().unwrap();
    assert!(!tp.condition_type_cnf);
    assert_eq!(
        tp.spts[0],
        Spt {
            condition_negated: true,
            groups: vec![0],
            kind: SptKind::Method("MESSAGE".into()),
            registration_types: vec![]
        }
    );
    assert_eq!(
        tp.spts[1].kind,
        SptKind::SipHeader {
            header: "To".into(),
            content: Some("<sip:.*@ims>".into())
        }
    );
    assert_eq!(
        ifc.application_server.default_handling,
        Some(DefaultHandling::SessionTerminated)
    );
    assert_eq!(
        ifc.profile_part_indicator,
        Some(ProfilePartIndicator::Unregistered)
    );
}

fn parse_err(xml: &str) -> String {
    match ImsSubscription::from_xml(xml.as_bytes()) {
        Err(CxError::UserData(m)) => m,
        other => panic!("expected a User-Data error for {xml:?}, got {other:?}"),
    }
}

#[test]
fn malformed_and_incomplete_documents_are_rejected_with_a_reason() {
    let sp = "<ServiceProfile><PublicIdentity><Identity>sip:a@b</Identity></PublicIdentity></ServiceProfile>";
    let cases: Vec<(String, &str)> = vec![
        (format!("<IMSSubscription>{sp}</IMSSubscription>"), "PrivateID"),
        ("<IMSSubscription><PrivateID>a</PrivateID></IMSSubscription>".into(), "ServiceProfile"),
        (
            "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile></ServiceProfile></IMSSubscription>".into(),
            "PublicIdentity",
        ),
        (format!("<IMSSubscription><PrivateID> </PrivateID>{sp}</IMSSubscription>"), "empty"),
        (format!("<Other><PrivateID>a</PrivateID>{sp}</Other>"), "root element"),
        (format!("<IMSSubscription><PrivateID>a</PrivateID>{sp}"), "unclosed"),
        (format!("<IMSSubscription><PrivateID>a</Private>{sp}</IMSSubscription>"), "malformed"),
        (format!("<IMSSubscription><PrivateID>a</PrivateID>{sp}</IMSSubscription><X/>"), "after the root"),
        (format!("<IMSSubscription><PrivateID>a&bogus;</PrivateID>{sp}</IMSSubscription>"), "entity"),
        (format!("<IMSSubscription><PrivateID>a\u{1}</PrivateID>{sp}</IMSSubscription>"), "U+0001"),
        (
            format!("<!DOCTYPE x [<!ENTITY e \"boom\">]><IMSSubscription><PrivateID>&e;</PrivateID>{sp}</IMSSubscription>"),
            "DOCTYPE",
        ),
        (
            "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile><PublicIdentity><BarringIndication>maybe\
             </BarringIndication><Identity>sip:a@b</Identity></PublicIdentity></ServiceProfile></IMSSubscription>"
                .into(),
            "boolean",
        ),
        (
            "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile><PublicIdentity><Identity>sip:a@b</Identity>\
                 </PublicIdentity><InitialFilterCriteria><Priority>-1</Priority><ApplicationServer><ServerName>sip:x\
                 </ServerName></ApplicationServer></InitialFilterCriteria></ServiceProfile></IMSSubscription>"
                .to_string(),
            "Priority",
        ),
        (
            "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile><PublicIdentity><Identity>sip:a@b</Identity>\
                 </PublicIdentity><InitialFilterCriteria><Priority>1</Priority><TriggerPoint><ConditionTypeCNF>1\
                 </ConditionTypeCNF><SPT><Group>1</Group></SPT></TriggerPoint><ApplicationServer><ServerName>sip:x\
                 </ServerName></ApplicationServer></InitialFilterCriteria></ServiceProfile></IMSSubscription>"
                .to_string(),
            "SPT",
        ),
        ("\u{feff}not xml at all".into(), "root"),
        (String::from_utf8_lossy(b"<IMSSubscription>\xff</IMSSubscription>").into_owned(), ""),
    ];
    for (xml, needle) in cases {
        let m = parse_err(&xml);
        assert!(
            m.contains(needle),
            "{xml:?}: message {m:?} lacks {needle:?}"
        );
    }
    // Invalid UTF-8 bytes.
    assert!(parse_err_bytes(b"<IMSSubscription>\xff</IMSSubscription>").contains("UTF-8"));
}

fn parse_err_bytes(b: &[u8]) -> String {
    match ImsSubscription::from_xml(b) {
        Err(CxError::UserData(m)) => m,
        other => panic!("expected a User-Data error, got {other:?}"),
    }
}

#[test]
fn limits_bound_size_depth_and_element_count() {
    let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
    assert!(parse_err(&deep).contains("deeper"));
    let limits = Limits {
        max_len: 100,
        ..DEFAULT_LIMITS
    };
    let xml = common::profile().to_xml().unwrap();
    match ImsSubscription::from_xml_with(xml.as_bytes(), &limits) {
        Err(CxError::UserData(m)) => assert!(m.contains("limit 100"), "{m}"),
        other => panic!("{other:?}"),
    }
    let limits = Limits {
        max_elements: 10,
        ..DEFAULT_LIMITS
    };
    match ImsSubscription::from_xml_with(xml.as_bytes(), &limits) {
        Err(CxError::UserData(m)) => assert!(m.contains("more than 10 elements"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The default limits accept the full profile.
    assert!(ImsSubscription::from_xml_with(xml.as_bytes(), &DEFAULT_LIMITS).is_ok());
}

/// Text that XML 1.0 can carry.
fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('<'),
            Just('>'),
            Just('&'),
            Just('"'),
            Just('\''),
            Just('\r'),
            Just('\n'),
            Just('\t'),
            Just(' '),
            proptest::char::range('\u{20}', '\u{7e}'),
            proptest::char::range('\u{a0}', '\u{d7ff}'),
            proptest::char::range('\u{10000}', '\u{10ffff}'),
        ],
        0..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// A token (URI-like): non-empty, no leading or trailing XML whitespace.
fn token() -> impl Strategy<Value = String> {
    (
        proptest::char::range('!', '~'),
        xml_text(),
        proptest::char::range('!', '~'),
    )
        .prop_map(|(a, mid, b)| format!("{a}{mid}{b}"))
}

proptest! {
    #[test]
    fn arbitrary_text_round_trips(private_id in token(), identity in token(), display in xml_text(),
                                  info in xml_text(), method in token(), barred: bool, prio in 0u32..1000) {
        let p = ImsSubscription {
            private_id,
            service_profiles: vec![ServiceProfile {
                public_identities: vec![PublicIdentity {
                    barring_indication: barred,
                    identity,
                    display_name: Some(display),
                    ..Default::default()
                }],
                initial_filter_criteria: vec![InitialFilterCriteria {
                    priority: prio,
                    trigger_point: Some(TriggerPoint {
                        condition_type_cnf: barred,
                        spts: vec![Spt { condition_negated: !barred, groups: vec![prio], kind: SptKind::Method(method), registration_types: vec![] }],
                    }),
                    application_server: ApplicationServer { server_name: "sip:as@x".into(), default_handling: None, service_info: Some(info) },
                    profile_part_indicator: None,
                }],
                ..Default::default()
            }],
        };
        let xml = p.to_xml().unwrap();
        prop_assert_eq!(ImsSubscription::from_xml(xml.as_bytes()).unwrap(), p);
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ImsSubscription::from_xml(&bytes);
    }
}
