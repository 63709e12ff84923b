//! The Cx/Dx dictionary: AVP codes, names, data types and flag rules, as `diameter::AvpDef`s.
//!
//! Codes, types and flag rules are those of 3GPP TS 29.229 §6.3 (Table 6.3.1, vendor 3GPP = 10415) and,
//! for the AVPs Cx re-uses, of RFC 6733 §4.5 and RFC 4590 (Digest-*) as listed in TS 29.229 §6.3
//! Table 6.3.2. They were cross-checked against Wireshark's `diameter/TGPP.xml` and `dictionary.xml`.

/// IANA enterprise number of 3GPP, the vendor of every Cx-specific AVP (TS 29.229 §6).
pub const VENDOR_3GPP: u32 = 10415;
/// Diameter application identifier of Cx/Dx (TS 29.229 §6, allocated by IANA).
pub const CX_APPLICATION_ID: u32 = 16_777_216;

/// Command codes of the Cx/Dx application (TS 29.229 §6.1, Table 6.1.1).
pub mod command {
    /// User-Authorization-Request / -Answer (UAR/UAA).
    pub const USER_AUTHORIZATION: u32 = 300;
    /// Server-Assignment-Request / -Answer (SAR/SAA).
    pub const SERVER_ASSIGNMENT: u32 = 301;
    /// Location-Info-Request / -Answer (LIR/LIA).
    pub const LOCATION_INFO: u32 = 302;
    /// Multimedia-Auth-Request / -Answer (MAR/MAA).
    pub const MULTIMEDIA_AUTH: u32 = 303;
    /// Registration-Termination-Request / -Answer (RTR/RTA).
    pub const REGISTRATION_TERMINATION: u32 = 304;
    /// Push-Profile-Request / -Answer (PPR/PPA).
    pub const PUSH_PROFILE: u32 = 305;
}

/// Base protocol AVP codes (vendor 0) that Cx messages carry (RFC 6733 §4.5, RFC 4590, RFC 4004).
pub mod base {
    /// User-Name (RFC 6733 §8.14), UTF8String: the IMS private identity on Cx.
    pub const USER_NAME: u32 = 1;
    /// Framed-IP-Address (RFC 7155), OctetString.
    pub const FRAMED_IP_ADDRESS: u32 = 8;
    /// Proxy-State (RFC 6733 §6.7.4), OctetString.
    pub const PROXY_STATE: u32 = 33;
    /// Framed-Interface-Id (RFC 7155), Unsigned64.
    pub const FRAMED_INTERFACE_ID: u32 = 96;
    /// Framed-IPv6-Prefix (RFC 7155), OctetString.
    pub const FRAMED_IPV6_PREFIX: u32 = 97;
    /// Digest-Realm (RFC 4590), UTF8String.
    pub const DIGEST_REALM: u32 = 104;
    /// Digest-Qop (RFC 4590), UTF8String.
    pub const DIGEST_QOP: u32 = 110;
    /// Digest-Algorithm (RFC 4590), UTF8String.
    pub const DIGEST_ALGORITHM: u32 = 111;
    /// Digest-HA1 (RFC 4590), UTF8String.
    pub const DIGEST_HA1: u32 = 121;
    /// Auth-Application-Id (RFC 6733 §6.8), Unsigned32.
    pub const AUTH_APPLICATION_ID: u32 = 258;
    /// Acct-Application-Id (RFC 6733 §6.9), Unsigned32.
    pub const ACCT_APPLICATION_ID: u32 = 259;
    /// Vendor-Specific-Application-Id (RFC 6733 §6.11), Grouped.
    pub const VENDOR_SPECIFIC_APPLICATION_ID: u32 = 260;
    /// Session-Id (RFC 6733 §8.8), UTF8String.
    pub const SESSION_ID: u32 = 263;
    /// Origin-Host (RFC 6733 §6.3), DiameterIdentity.
    pub const ORIGIN_HOST: u32 = 264;
    /// Vendor-Id (RFC 6733 §5.3.3), Unsigned32.
    pub const VENDOR_ID: u32 = 266;
    /// Result-Code (RFC 6733 §7.1), Unsigned32.
    pub const RESULT_CODE: u32 = 268;
    /// Auth-Session-State (RFC 6733 §8.11), Enumerated.
    pub const AUTH_SESSION_STATE: u32 = 277;
    /// Origin-State-Id (RFC 6733 §8.16), Unsigned32.
    pub const ORIGIN_STATE_ID: u32 = 278;
    /// Failed-AVP (RFC 6733 §7.5), Grouped.
    pub const FAILED_AVP: u32 = 279;
    /// Proxy-Host (RFC 6733 §6.7.3), DiameterIdentity.
    pub const PROXY_HOST: u32 = 280;
    /// Error-Message (RFC 6733 §7.3), UTF8String.
    pub const ERROR_MESSAGE: u32 = 281;
    /// Route-Record (RFC 6733 §6.7.1), DiameterIdentity.
    pub const ROUTE_RECORD: u32 = 282;
    /// Destination-Realm (RFC 6733 §6.6), DiameterIdentity.
    pub const DESTINATION_REALM: u32 = 283;
    /// Proxy-Info (RFC 6733 §6.7.2), Grouped.
    pub const PROXY_INFO: u32 = 284;
    /// Destination-Host (RFC 6733 §6.5), DiameterIdentity.
    pub const DESTINATION_HOST: u32 = 293;
    /// Error-Reporting-Host (RFC 6733 §7.4), DiameterIdentity.
    pub const ERROR_REPORTING_HOST: u32 = 294;
    /// Origin-Realm (RFC 6733 §6.4), DiameterIdentity.
    pub const ORIGIN_REALM: u32 = 296;
    /// Experimental-Result (RFC 6733 §7.6), Grouped.
    pub const EXPERIMENTAL_RESULT: u32 = 297;
    /// Experimental-Result-Code (RFC 6733 §7.7), Unsigned32.
    pub const EXPERIMENTAL_RESULT_CODE: u32 = 298;
}

/// 3GPP (vendor 10415) AVP codes defined by TS 29.229 §6.3 (Table 6.3.1).
pub mod code {
    /// Visited-Network-Identifier, OctetString.
    pub const VISITED_NETWORK_IDENTIFIER: u32 = 600;
    /// Public-Identity, UTF8String.
    pub const PUBLIC_IDENTITY: u32 = 601;
    /// Server-Name, UTF8String.
    pub const SERVER_NAME: u32 = 602;
    /// Server-Capabilities, Grouped.
    pub const SERVER_CAPABILITIES: u32 = 603;
    /// Mandatory-Capability, Unsigned32.
    pub const MANDATORY_CAPABILITY: u32 = 604;
    /// Optional-Capability, Unsigned32.
    pub const OPTIONAL_CAPABILITY: u32 = 605;
    /// User-Data, OctetString.
    pub const USER_DATA: u32 = 606;
    /// SIP-Number-Auth-Items, Unsigned32.
    pub const SIP_NUMBER_AUTH_ITEMS: u32 = 607;
    /// SIP-Authentication-Scheme, UTF8String.
    pub const SIP_AUTHENTICATION_SCHEME: u32 = 608;
    /// SIP-Authenticate, OctetString.
    pub const SIP_AUTHENTICATE: u32 = 609;
    /// SIP-Authorization, OctetString.
    pub const SIP_AUTHORIZATION: u32 = 610;
    /// SIP-Authentication-Context, OctetString.
    pub const SIP_AUTHENTICATION_CONTEXT: u32 = 611;
    /// SIP-Auth-Data-Item, Grouped.
    pub const SIP_AUTH_DATA_ITEM: u32 = 612;
    /// SIP-Item-Number, Unsigned32.
    pub const SIP_ITEM_NUMBER: u32 = 613;
    /// Server-Assignment-Type, Enumerated.
    pub const SERVER_ASSIGNMENT_TYPE: u32 = 614;
    /// Deregistration-Reason, Grouped.
    pub const DEREGISTRATION_REASON: u32 = 615;
    /// Reason-Code, Enumerated.
    pub const REASON_CODE: u32 = 616;
    /// Reason-Info, UTF8String.
    pub const REASON_INFO: u32 = 617;
    /// Charging-Information, Grouped.
    pub const CHARGING_INFORMATION: u32 = 618;
    /// Primary-Event-Charging-Function-Name, DiameterURI.
    pub const PRIMARY_EVENT_CHARGING_FUNCTION_NAME: u32 = 619;
    /// Secondary-Event-Charging-Function-Name, DiameterURI.
    pub const SECONDARY_EVENT_CHARGING_FUNCTION_NAME: u32 = 620;
    /// Primary-Charging-Collection-Function-Name, DiameterURI.
    pub const PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME: u32 = 621;
    /// Secondary-Charging-Collection-Function-Name, DiameterURI.
    pub const SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME: u32 = 622;
    /// User-Authorization-Type, Enumerated.
    pub const USER_AUTHORIZATION_TYPE: u32 = 623;
    /// User-Data-Already-Available, Enumerated.
    pub const USER_DATA_ALREADY_AVAILABLE: u32 = 624;
    /// Confidentiality-Key, OctetString.
    pub const CONFIDENTIALITY_KEY: u32 = 625;
    /// Integrity-Key, OctetString.
    pub const INTEGRITY_KEY: u32 = 626;
    /// Supported-Features (TS 29.229 §7), Grouped.
    pub const SUPPORTED_FEATURES: u32 = 628;
    /// Feature-List-ID (TS 29.229 §7), Unsigned32.
    pub const FEATURE_LIST_ID: u32 = 629;
    /// Feature-List (TS 29.229 §7), Unsigned32.
    pub const FEATURE_LIST: u32 = 630;
    /// Supported-Applications (TS 29.229 §7), Grouped.
    pub const SUPPORTED_APPLICATIONS: u32 = 631;
    /// Associated-Identities, Grouped.
    pub const ASSOCIATED_IDENTITIES: u32 = 632;
    /// Originating-Request, Enumerated.
    pub const ORIGINATING_REQUEST: u32 = 633;
    /// Wildcarded-Public-Identity (Wireshark: "Wildcarded-PSI"), UTF8String.
    pub const WILDCARDED_PUBLIC_IDENTITY: u32 = 634;
    /// SIP-Digest-Authenticate, Grouped.
    pub const SIP_DIGEST_AUTHENTICATE: u32 = 635;
    /// Wildcarded-IMPU, UTF8String.
    pub const WILDCARDED_IMPU: u32 = 636;
    /// UAR-Flags, Unsigned32.
    pub const UAR_FLAGS: u32 = 637;
    /// Loose-Route-Indication, Enumerated.
    pub const LOOSE_ROUTE_INDICATION: u32 = 638;
    /// SCSCF-Restoration-Info, Grouped.
    pub const SCSCF_RESTORATION_INFO: u32 = 639;
    /// Path, OctetString.
    pub const PATH: u32 = 640;
    /// Contact, OctetString.
    pub const CONTACT: u32 = 641;
    /// Subscription-Info, Grouped.
    pub const SUBSCRIPTION_INFO: u32 = 642;
    /// Call-ID-SIP-Header, OctetString.
    pub const CALL_ID_SIP_HEADER: u32 = 643;
    /// From-SIP-Header, OctetString.
    pub const FROM_SIP_HEADER: u32 = 644;
    /// To-SIP-Header, OctetString.
    pub const TO_SIP_HEADER: u32 = 645;
    /// Record-Route, OctetString.
    pub const RECORD_ROUTE: u32 = 646;
    /// Associated-Registered-Identities, Grouped.
    pub const ASSOCIATED_REGISTERED_IDENTITIES: u32 = 647;
    /// Multiple-Registration-Indication, Enumerated.
    pub const MULTIPLE_REGISTRATION_INDICATION: u32 = 648;
    /// Restoration-Info, Grouped.
    pub const RESTORATION_INFO: u32 = 649;
    /// Session-Priority, Enumerated.
    pub const SESSION_PRIORITY: u32 = 650;
    /// Identity-with-Emergency-Registration, Grouped.
    pub const IDENTITY_WITH_EMERGENCY_REGISTRATION: u32 = 651;
    /// Priviledged-Sender-Indication (sic), Enumerated.
    pub const PRIVILEDGED_SENDER_INDICATION: u32 = 652;
    /// LIA-Flags, Unsigned32.
    pub const LIA_FLAGS: u32 = 653;
    /// Initial-CSeq-Sequence-Number, Unsigned32.
    pub const INITIAL_CSEQ_SEQUENCE_NUMBER: u32 = 654;
    /// SAR-Flags, Unsigned32.
    pub const SAR_FLAGS: u32 = 655;
    /// Allowed-WAF-WWSF-Identities, Grouped.
    pub const ALLOWED_WAF_WWSF_IDENTITIES: u32 = 656;
    /// WebRTC-Authentication-Function-Name, UTF8String.
    pub const WEBRTC_AUTHENTICATION_FUNCTION_NAME: u32 = 657;
    /// WebRTC-Web-Server-Function-Name, UTF8String.
    pub const WEBRTC_WEB_SERVER_FUNCTION_NAME: u32 = 658;
}

pub use diameter::{AvpDef, AvpType};

/// Dictionary entries ([`AvpDef`]) of every Cx AVP and every IETF AVP Cx re-uses beyond RFC 6733.
/// Building an AVP from its entry sets the V bit, Vendor-Id and M bit the table prescribes.
pub mod def {
    use super::{base, code, AvpDef, AvpType::*, VENDOR_3GPP};

    /// Visited-Network-Identifier.
    pub const VISITED_NETWORK_IDENTIFIER: AvpDef = AvpDef::new(
        code::VISITED_NETWORK_IDENTIFIER,
        VENDOR_3GPP,
        "Visited-Network-Identifier",
        OctetString,
        true,
    );
    /// Public-Identity.
    pub const PUBLIC_IDENTITY: AvpDef = AvpDef::new(
        code::PUBLIC_IDENTITY,
        VENDOR_3GPP,
        "Public-Identity",
        Utf8String,
        true,
    );
    /// Server-Name.
    pub const SERVER_NAME: AvpDef = AvpDef::new(
        code::SERVER_NAME,
        VENDOR_3GPP,
        "Server-Name",
        Utf8String,
        true,
    );
    /// Server-Capabilities.
    pub const SERVER_CAPABILITIES: AvpDef = AvpDef::new(
        code::SERVER_CAPABILITIES,
        VENDOR_3GPP,
        "Server-Capabilities",
        Grouped,
        true,
    );
    /// Mandatory-Capability.
    pub const MANDATORY_CAPABILITY: AvpDef = AvpDef::new(
        code::MANDATORY_CAPABILITY,
        VENDOR_3GPP,
        "Mandatory-Capability",
        Unsigned32,
        true,
    );
    /// Optional-Capability.
    pub const OPTIONAL_CAPABILITY: AvpDef = AvpDef::new(
        code::OPTIONAL_CAPABILITY,
        VENDOR_3GPP,
        "Optional-Capability",
        Unsigned32,
        true,
    );
    /// User-Data.
    pub const USER_DATA: AvpDef =
        AvpDef::new(code::USER_DATA, VENDOR_3GPP, "User-Data", OctetString, true);
    /// SIP-Number-Auth-Items.
    pub const SIP_NUMBER_AUTH_ITEMS: AvpDef = AvpDef::new(
        code::SIP_NUMBER_AUTH_ITEMS,
        VENDOR_3GPP,
        "SIP-Number-Auth-Items",
        Unsigned32,
        true,
    );
    /// SIP-Authentication-Scheme.
    pub const SIP_AUTHENTICATION_SCHEME: AvpDef = AvpDef::new(
        code::SIP_AUTHENTICATION_SCHEME,
        VENDOR_3GPP,
        "SIP-Authentication-Scheme",
        Utf8String,
        true,
    );
    /// SIP-Authenticate.
    pub const SIP_AUTHENTICATE: AvpDef = AvpDef::new(
        code::SIP_AUTHENTICATE,
        VENDOR_3GPP,
        "SIP-Authenticate",
        OctetString,
        true,
    );
    /// SIP-Authorization.
    pub const SIP_AUTHORIZATION: AvpDef = AvpDef::new(
        code::SIP_AUTHORIZATION,
        VENDOR_3GPP,
        "SIP-Authorization",
        OctetString,
        true,
    );
    /// SIP-Authentication-Context.
    pub const SIP_AUTHENTICATION_CONTEXT: AvpDef = AvpDef::new(
        code::SIP_AUTHENTICATION_CONTEXT,
        VENDOR_3GPP,
        "SIP-Authentication-Context",
        OctetString,
        true,
    );
    /// SIP-Auth-Data-Item.
    pub const SIP_AUTH_DATA_ITEM: AvpDef = AvpDef::new(
        code::SIP_AUTH_DATA_ITEM,
        VENDOR_3GPP,
        "SIP-Auth-Data-Item",
        Grouped,
        true,
    );
    /// SIP-Item-Number.
    pub const SIP_ITEM_NUMBER: AvpDef = AvpDef::new(
        code::SIP_ITEM_NUMBER,
        VENDOR_3GPP,
        "SIP-Item-Number",
        Unsigned32,
        true,
    );
    /// Server-Assignment-Type.
    pub const SERVER_ASSIGNMENT_TYPE: AvpDef = AvpDef::new(
        code::SERVER_ASSIGNMENT_TYPE,
        VENDOR_3GPP,
        "Server-Assignment-Type",
        Enumerated,
        true,
    );
    /// Deregistration-Reason.
    pub const DEREGISTRATION_REASON: AvpDef = AvpDef::new(
        code::DEREGISTRATION_REASON,
        VENDOR_3GPP,
        "Deregistration-Reason",
        Grouped,
        true,
    );
    /// Reason-Code.
    pub const REASON_CODE: AvpDef = AvpDef::new(
        code::REASON_CODE,
        VENDOR_3GPP,
        "Reason-Code",
        Enumerated,
        true,
    );
    /// Reason-Info.
    pub const REASON_INFO: AvpDef = AvpDef::new(
        code::REASON_INFO,
        VENDOR_3GPP,
        "Reason-Info",
        Utf8String,
        true,
    );
    /// Charging-Information.
    pub const CHARGING_INFORMATION: AvpDef = AvpDef::new(
        code::CHARGING_INFORMATION,
        VENDOR_3GPP,
        "Charging-Information",
        Grouped,
        true,
    );
    /// Primary-Event-Charging-Function-Name.
    pub const PRIMARY_EVENT_CHARGING_FUNCTION_NAME: AvpDef = AvpDef::new(
        code::PRIMARY_EVENT_CHARGING_FUNCTION_NAME,
        VENDOR_3GPP,
        "Primary-Event-Charging-Function-Name",
        DiameterUri,
        true,
    );
    /// Secondary-Event-Charging-Function-Name.
    pub const SECONDARY_EVENT_CHARGING_FUNCTION_NAME: AvpDef = AvpDef::new(
        code::SECONDARY_EVENT_CHARGING_FUNCTION_NAME,
        VENDOR_3GPP,
        "Secondary-Event-Charging-Function-Name",
        DiameterUri,
        true,
    );
    /// Primary-Charging-Collection-Function-Name.
    pub const PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME: AvpDef = AvpDef::new(
        code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
        VENDOR_3GPP,
        "Primary-Charging-Collection-Function-Name",
        DiameterUri,
        true,
    );
    /// Secondary-Charging-Collection-Function-Name.
    pub const SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME: AvpDef = AvpDef::new(
        code::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME,
        VENDOR_3GPP,
        "Secondary-Charging-Collection-Function-Name",
        DiameterUri,
        true,
    );
    /// User-Authorization-Type.
    pub const USER_AUTHORIZATION_TYPE: AvpDef = AvpDef::new(
        code::USER_AUTHORIZATION_TYPE,
        VENDOR_3GPP,
        "User-Authorization-Type",
        Enumerated,
        true,
    );
    /// User-Data-Already-Available.
    pub const USER_DATA_ALREADY_AVAILABLE: AvpDef = AvpDef::new(
        code::USER_DATA_ALREADY_AVAILABLE,
        VENDOR_3GPP,
        "User-Data-Already-Available",
        Enumerated,
        true,
    );
    /// Confidentiality-Key.
    pub const CONFIDENTIALITY_KEY: AvpDef = AvpDef::new(
        code::CONFIDENTIALITY_KEY,
        VENDOR_3GPP,
        "Confidentiality-Key",
        OctetString,
        true,
    );
    /// Integrity-Key.
    pub const INTEGRITY_KEY: AvpDef = AvpDef::new(
        code::INTEGRITY_KEY,
        VENDOR_3GPP,
        "Integrity-Key",
        OctetString,
        true,
    );
    /// Supported-Features.
    pub const SUPPORTED_FEATURES: AvpDef = AvpDef::new(
        code::SUPPORTED_FEATURES,
        VENDOR_3GPP,
        "Supported-Features",
        Grouped,
        true,
    );
    /// Feature-List-ID.
    pub const FEATURE_LIST_ID: AvpDef = AvpDef::new(
        code::FEATURE_LIST_ID,
        VENDOR_3GPP,
        "Feature-List-ID",
        Unsigned32,
        true,
    );
    /// Feature-List.
    pub const FEATURE_LIST: AvpDef = AvpDef::new(
        code::FEATURE_LIST,
        VENDOR_3GPP,
        "Feature-List",
        Unsigned32,
        true,
    );
    /// Supported-Applications.
    pub const SUPPORTED_APPLICATIONS: AvpDef = AvpDef::new(
        code::SUPPORTED_APPLICATIONS,
        VENDOR_3GPP,
        "Supported-Applications",
        Grouped,
        true,
    );
    /// Associated-Identities.
    pub const ASSOCIATED_IDENTITIES: AvpDef = AvpDef::new(
        code::ASSOCIATED_IDENTITIES,
        VENDOR_3GPP,
        "Associated-Identities",
        Grouped,
        true,
    );
    /// Originating-Request.
    pub const ORIGINATING_REQUEST: AvpDef = AvpDef::new(
        code::ORIGINATING_REQUEST,
        VENDOR_3GPP,
        "Originating-Request",
        Enumerated,
        true,
    );
    /// Wildcarded-Public-Identity.
    pub const WILDCARDED_PUBLIC_IDENTITY: AvpDef = AvpDef::new(
        code::WILDCARDED_PUBLIC_IDENTITY,
        VENDOR_3GPP,
        "Wildcarded-Public-Identity",
        Utf8String,
        true,
    );
    /// SIP-Digest-Authenticate.
    pub const SIP_DIGEST_AUTHENTICATE: AvpDef = AvpDef::new(
        code::SIP_DIGEST_AUTHENTICATE,
        VENDOR_3GPP,
        "SIP-Digest-Authenticate",
        Grouped,
        false,
    );
    /// Wildcarded-IMPU.
    pub const WILDCARDED_IMPU: AvpDef = AvpDef::new(
        code::WILDCARDED_IMPU,
        VENDOR_3GPP,
        "Wildcarded-IMPU",
        Utf8String,
        false,
    );
    /// UAR-Flags.
    pub const UAR_FLAGS: AvpDef =
        AvpDef::new(code::UAR_FLAGS, VENDOR_3GPP, "UAR-Flags", Unsigned32, false);
    /// Loose-Route-Indication.
    pub const LOOSE_ROUTE_INDICATION: AvpDef = AvpDef::new(
        code::LOOSE_ROUTE_INDICATION,
        VENDOR_3GPP,
        "Loose-Route-Indication",
        Enumerated,
        false,
    );
    /// SCSCF-Restoration-Info.
    pub const SCSCF_RESTORATION_INFO: AvpDef = AvpDef::new(
        code::SCSCF_RESTORATION_INFO,
        VENDOR_3GPP,
        "SCSCF-Restoration-Info",
        Grouped,
        false,
    );
    /// Path.
    pub const PATH: AvpDef = AvpDef::new(code::PATH, VENDOR_3GPP, "Path", OctetString, false);
    /// Contact.
    pub const CONTACT: AvpDef =
        AvpDef::new(code::CONTACT, VENDOR_3GPP, "Contact", OctetString, false);
    /// Subscription-Info.
    pub const SUBSCRIPTION_INFO: AvpDef = AvpDef::new(
        code::SUBSCRIPTION_INFO,
        VENDOR_3GPP,
        "Subscription-Info",
        Grouped,
        false,
    );
    /// Call-ID-SIP-Header.
    pub const CALL_ID_SIP_HEADER: AvpDef = AvpDef::new(
        code::CALL_ID_SIP_HEADER,
        VENDOR_3GPP,
        "Call-ID-SIP-Header",
        OctetString,
        false,
    );
    /// From-SIP-Header.
    pub const FROM_SIP_HEADER: AvpDef = AvpDef::new(
        code::FROM_SIP_HEADER,
        VENDOR_3GPP,
        "From-SIP-Header",
        OctetString,
        false,
    );
    /// To-SIP-Header.
    pub const TO_SIP_HEADER: AvpDef = AvpDef::new(
        code::TO_SIP_HEADER,
        VENDOR_3GPP,
        "To-SIP-Header",
        OctetString,
        false,
    );
    /// Record-Route.
    pub const RECORD_ROUTE: AvpDef = AvpDef::new(
        code::RECORD_ROUTE,
        VENDOR_3GPP,
        "Record-Route",
        OctetString,
        false,
    );
    /// Associated-Registered-Identities.
    pub const ASSOCIATED_REGISTERED_IDENTITIES: AvpDef = AvpDef::new(
        code::ASSOCIATED_REGISTERED_IDENTITIES,
        VENDOR_3GPP,
        "Associated-Registered-Identities",
        Grouped,
        false,
    );
    /// Multiple-Registration-Indication.
    pub const MULTIPLE_REGISTRATION_INDICATION: AvpDef = AvpDef::new(
        code::MULTIPLE_REGISTRATION_INDICATION,
        VENDOR_3GPP,
        "Multiple-Registration-Indication",
        Enumerated,
        false,
    );
    /// Restoration-Info.
    pub const RESTORATION_INFO: AvpDef = AvpDef::new(
        code::RESTORATION_INFO,
        VENDOR_3GPP,
        "Restoration-Info",
        Grouped,
        false,
    );
    /// Session-Priority.
    pub const SESSION_PRIORITY: AvpDef = AvpDef::new(
        code::SESSION_PRIORITY,
        VENDOR_3GPP,
        "Session-Priority",
        Enumerated,
        false,
    );
    /// Identity-with-Emergency-Registration.
    pub const IDENTITY_WITH_EMERGENCY_REGISTRATION: AvpDef = AvpDef::new(
        code::IDENTITY_WITH_EMERGENCY_REGISTRATION,
        VENDOR_3GPP,
        "Identity-with-Emergency-Registration",
        Grouped,
        false,
    );
    /// Priviledged-Sender-Indication.
    pub const PRIVILEDGED_SENDER_INDICATION: AvpDef = AvpDef::new(
        code::PRIVILEDGED_SENDER_INDICATION,
        VENDOR_3GPP,
        "Priviledged-Sender-Indication",
        Enumerated,
        false,
    );
    /// LIA-Flags.
    pub const LIA_FLAGS: AvpDef =
        AvpDef::new(code::LIA_FLAGS, VENDOR_3GPP, "LIA-Flags", Unsigned32, true);
    /// Initial-CSeq-Sequence-Number.
    pub const INITIAL_CSEQ_SEQUENCE_NUMBER: AvpDef = AvpDef::new(
        code::INITIAL_CSEQ_SEQUENCE_NUMBER,
        VENDOR_3GPP,
        "Initial-CSeq-Sequence-Number",
        Unsigned32,
        true,
    );
    /// SAR-Flags.
    pub const SAR_FLAGS: AvpDef =
        AvpDef::new(code::SAR_FLAGS, VENDOR_3GPP, "SAR-Flags", Unsigned32, true);
    /// Allowed-WAF-WWSF-Identities.
    pub const ALLOWED_WAF_WWSF_IDENTITIES: AvpDef = AvpDef::new(
        code::ALLOWED_WAF_WWSF_IDENTITIES,
        VENDOR_3GPP,
        "Allowed-WAF-WWSF-Identities",
        Grouped,
        false,
    );
    /// WebRTC-Authentication-Function-Name.
    pub const WEBRTC_AUTHENTICATION_FUNCTION_NAME: AvpDef = AvpDef::new(
        code::WEBRTC_AUTHENTICATION_FUNCTION_NAME,
        VENDOR_3GPP,
        "WebRTC-Authentication-Function-Name",
        Utf8String,
        true,
    );
    /// WebRTC-Web-Server-Function-Name.
    pub const WEBRTC_WEB_SERVER_FUNCTION_NAME: AvpDef = AvpDef::new(
        code::WEBRTC_WEB_SERVER_FUNCTION_NAME,
        VENDOR_3GPP,
        "WebRTC-Web-Server-Function-Name",
        Utf8String,
        true,
    );
    /// Framed-IP-Address.
    pub const FRAMED_IP_ADDRESS: AvpDef = AvpDef::new(
        base::FRAMED_IP_ADDRESS,
        0,
        "Framed-IP-Address",
        OctetString,
        true,
    );
    /// Framed-Interface-Id.
    pub const FRAMED_INTERFACE_ID: AvpDef = AvpDef::new(
        base::FRAMED_INTERFACE_ID,
        0,
        "Framed-Interface-Id",
        Unsigned64,
        true,
    );
    /// Framed-IPv6-Prefix.
    pub const FRAMED_IPV6_PREFIX: AvpDef = AvpDef::new(
        base::FRAMED_IPV6_PREFIX,
        0,
        "Framed-IPv6-Prefix",
        OctetString,
        true,
    );
    /// Digest-Realm.
    pub const DIGEST_REALM: AvpDef =
        AvpDef::new(base::DIGEST_REALM, 0, "Digest-Realm", Utf8String, true);
    /// Digest-Qop.
    pub const DIGEST_QOP: AvpDef = AvpDef::new(base::DIGEST_QOP, 0, "Digest-Qop", Utf8String, true);
    /// Digest-Algorithm.
    pub const DIGEST_ALGORITHM: AvpDef = AvpDef::new(
        base::DIGEST_ALGORITHM,
        0,
        "Digest-Algorithm",
        Utf8String,
        true,
    );
    /// Digest-HA1.
    pub const DIGEST_HA1: AvpDef = AvpDef::new(base::DIGEST_HA1, 0, "Digest-HA1", Utf8String, true);
}

/// Every 3GPP AVP of TS 29.229 Table 6.3.1 that Cx uses, with its flag rule: 600–634 have the M and V
/// bits set; most AVPs added from 635 on are sent with V only (LIA-Flags, Initial-CSeq-Sequence-Number,
/// SAR-Flags and the two WebRTC names are M), as in Wireshark's 3GPP dictionary.
pub static CX_AVPS: &[AvpDef] = &[
    def::VISITED_NETWORK_IDENTIFIER,
    def::PUBLIC_IDENTITY,
    def::SERVER_NAME,
    def::SERVER_CAPABILITIES,
    def::MANDATORY_CAPABILITY,
    def::OPTIONAL_CAPABILITY,
    def::USER_DATA,
    def::SIP_NUMBER_AUTH_ITEMS,
    def::SIP_AUTHENTICATION_SCHEME,
    def::SIP_AUTHENTICATE,
    def::SIP_AUTHORIZATION,
    def::SIP_AUTHENTICATION_CONTEXT,
    def::SIP_AUTH_DATA_ITEM,
    def::SIP_ITEM_NUMBER,
    def::SERVER_ASSIGNMENT_TYPE,
    def::DEREGISTRATION_REASON,
    def::REASON_CODE,
    def::REASON_INFO,
    def::CHARGING_INFORMATION,
    def::PRIMARY_EVENT_CHARGING_FUNCTION_NAME,
    def::SECONDARY_EVENT_CHARGING_FUNCTION_NAME,
    def::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
    def::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME,
    def::USER_AUTHORIZATION_TYPE,
    def::USER_DATA_ALREADY_AVAILABLE,
    def::CONFIDENTIALITY_KEY,
    def::INTEGRITY_KEY,
    def::SUPPORTED_FEATURES,
    def::FEATURE_LIST_ID,
    def::FEATURE_LIST,
    def::SUPPORTED_APPLICATIONS,
    def::ASSOCIATED_IDENTITIES,
    def::ORIGINATING_REQUEST,
    def::WILDCARDED_PUBLIC_IDENTITY,
    def::SIP_DIGEST_AUTHENTICATE,
    def::WILDCARDED_IMPU,
    def::UAR_FLAGS,
    def::LOOSE_ROUTE_INDICATION,
    def::SCSCF_RESTORATION_INFO,
    def::PATH,
    def::CONTACT,
    def::SUBSCRIPTION_INFO,
    def::CALL_ID_SIP_HEADER,
    def::FROM_SIP_HEADER,
    def::TO_SIP_HEADER,
    def::RECORD_ROUTE,
    def::ASSOCIATED_REGISTERED_IDENTITIES,
    def::MULTIPLE_REGISTRATION_INDICATION,
    def::RESTORATION_INFO,
    def::SESSION_PRIORITY,
    def::IDENTITY_WITH_EMERGENCY_REGISTRATION,
    def::PRIVILEDGED_SENDER_INDICATION,
    def::LIA_FLAGS,
    def::INITIAL_CSEQ_SEQUENCE_NUMBER,
    def::SAR_FLAGS,
    def::ALLOWED_WAF_WWSF_IDENTITIES,
    def::WEBRTC_AUTHENTICATION_FUNCTION_NAME,
    def::WEBRTC_WEB_SERVER_FUNCTION_NAME,
];

/// The IETF AVPs Cx re-uses (TS 29.229 Table 6.3.2) beyond the RFC 6733 base set: the RFC 4590
/// Digest AVPs inside SIP-Digest-Authenticate and the RFC 7155 Framed-* AVPs of SIP-Auth-Data-Item.
pub static REUSED_AVPS: &[AvpDef] = &[
    def::FRAMED_IP_ADDRESS,
    def::FRAMED_INTERFACE_ID,
    def::FRAMED_IPV6_PREFIX,
    def::DIGEST_REALM,
    def::DIGEST_QOP,
    def::DIGEST_ALGORITHM,
    def::DIGEST_HA1,
];

/// The base dictionary extended with [`CX_AVPS`] and [`REUSED_AVPS`]: what a Cx node validates
/// incoming messages with (unknown AVP with the M bit → 5001, bad length/type → 5014/5004).
pub fn dictionary() -> diameter::Dictionary {
    diameter::Dictionary::base().with(CX_AVPS).with(REUSED_AVPS)
}

/// Looks up a Cx or re-used AVP by (vendor, code).
pub fn lookup(vendor_id: u32, code: u32) -> Option<&'static AvpDef> {
    CX_AVPS
        .iter()
        .chain(REUSED_AVPS.iter())
        .find(|a| a.vendor_id == vendor_id && a.code == code)
}

/// Looks up a Cx or re-used AVP by name (exact, case-sensitive).
pub fn lookup_name(name: &str) -> Option<&'static AvpDef> {
    CX_AVPS
        .iter()
        .chain(REUSED_AVPS.iter())
        .find(|a| a.name == name)
}
