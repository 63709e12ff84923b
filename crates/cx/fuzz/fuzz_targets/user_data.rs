//! Bytes → User-Data `IMSSubscription`; whatever parses must serialise and parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = cx::ImsSubscription::from_xml(data) {
        let xml = p.to_xml().expect("parsed text is representable");
        assert_eq!(cx::ImsSubscription::from_xml(xml.as_bytes()).expect("own output parses"), p);
    }
});
