//! Sample Cx messages with every field set, shared by the integration tests.
#![allow(dead_code)]

use bytes::Bytes;
use cx::enums::*;
use cx::user_data::*;
use cx::*;

pub const IMPI: &str = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org";
pub const IMPU: &str = "sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org";
pub const SCSCF: &str = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060";

pub fn req_common(origin: &str, dest_host: Option<&str>) -> RequestCommon {
    let mut c = RequestCommon::new(
        format!("{origin};1700000000;42"),
        origin,
        "ims.mnc001.mcc001.3gppnetwork.org",
        "ims.mnc001.mcc001.3gppnetwork.org",
    );
    c.destination_host = dest_host.map(str::to_owned);
    c.supported_features = vec![SupportedFeatures {
        vendor_id: 10415,
        feature_list_id: 1,
        feature_list: 0b11,
    }];
    c.proxy_info = vec![ProxyInfo {
        proxy_host: "dra.ims.example".into(),
        proxy_state: Bytes::from_static(b"\x00st"),
    }];
    c.route_record = vec!["dra.ims.example".into()];
    c
}

pub fn ans_common(result: CxResult) -> AnswerCommon {
    let mut a = AnswerCommon::new(
        "icscf.ims.example;1700000000;42",
        "hss.ims.mnc001.mcc001.3gppnetwork.org",
        "ims.mnc001.mcc001.3gppnetwork.org",
        result,
    );
    a.supported_features = vec![SupportedFeatures {
        vendor_id: 10415,
        feature_list_id: 1,
        feature_list: 1,
    }];
    a.proxy_info = vec![ProxyInfo {
        proxy_host: "dra.ims.example".into(),
        proxy_state: Bytes::from_static(b"xyz"),
    }];
    a
}

pub fn uar() -> UserAuthorizationRequest {
    UserAuthorizationRequest {
        common: req_common("icscf.ims.example", None),
        user_name: IMPI.into(),
        public_identity: IMPU.into(),
        visited_network_identifier: Bytes::from_static(b"ims.mnc001.mcc001.3gppnetwork.org"),
        user_authorization_type: Some(UserAuthorizationType::RegistrationAndCapabilities),
        uar_flags: Some(0),
    }
}

pub fn uaa() -> UserAuthorizationAnswer {
    UserAuthorizationAnswer {
        common: ans_common(ExperimentalResultCode::FirstRegistration.into()),
        server_name: Some(SCSCF.into()),
        server_capabilities: Some(ServerCapabilities {
            mandatory_capabilities: vec![1, 2],
            optional_capabilities: vec![3],
            server_names: vec![SCSCF.into(), "sip:scscf2.ims.example".into()],
        }),
    }
}

pub fn mar() -> MultimediaAuthRequest {
    MultimediaAuthRequest {
        common: req_common(
            "scscf.ims.example",
            Some("hss.ims.mnc001.mcc001.3gppnetwork.org"),
        ),
        user_name: IMPI.into(),
        public_identity: IMPU.into(),
        sip_auth_data_item: SipAuthDataItem {
            authentication_scheme: Some(scheme::DIGEST_AKAV1_MD5.into()),
            // Resynchronisation: RAND (16) ‖ AUTS (14).
            authorization: Some(SecretBytes::new((0u8..30).collect())),
            ..SipAuthDataItem::default()
        },
        sip_number_auth_items: 1,
        server_name: SCSCF.into(),
    }
}

pub fn aka_vector(n: u32) -> SipAuthDataItem {
    SipAuthDataItem {
        item_number: Some(n),
        authentication_scheme: Some(scheme::DIGEST_AKAV1_MD5.into()),
        authenticate: Some(Bytes::from(
            (0u8..32).map(|b| b.wrapping_mul(7)).collect::<Vec<_>>(),
        )),
        authorization: Some(SecretBytes::new(vec![
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x00,
        ])),
        confidentiality_key: Some(SecretBytes::new((100u8..116).collect())),
        integrity_key: Some(SecretBytes::new((200u8..216).collect())),
        ..SipAuthDataItem::default()
    }
}

pub fn maa() -> MultimediaAuthAnswer {
    MultimediaAuthAnswer {
        common: ans_common(CxResult::SUCCESS),
        user_name: Some(IMPI.into()),
        public_identity: Some(IMPU.into()),
        sip_number_auth_items: Some(2),
        sip_auth_data_items: vec![
            aka_vector(1),
            SipAuthDataItem {
                item_number: Some(2),
                authentication_scheme: Some(scheme::SIP_DIGEST.into()),
                digest_authenticate: Some(SipDigestAuthenticate {
                    realm: "ims.example".into(),
                    algorithm: Some("MD5".into()),
                    qop: Some("auth".into()),
                    ha1: SecretBytes::from_slice(b"0123456789abcdef0123456789abcdef"),
                }),
                ..SipAuthDataItem::default()
            },
        ],
    }
}

pub fn sar() -> ServerAssignmentRequest {
    ServerAssignmentRequest {
        common: req_common(
            "scscf.ims.example",
            Some("hss.ims.mnc001.mcc001.3gppnetwork.org"),
        ),
        user_name: Some(IMPI.into()),
        public_identities: vec![IMPU.into(), "tel:+15551230001".into()],
        wildcarded_public_identity: Some("sip:psi!.*!@ims.example".into()),
        wildcarded_impu: Some("sip:user!.*!@ims.example".into()),
        server_name: SCSCF.into(),
        server_assignment_type: ServerAssignmentType::Registration,
        user_data_already_available: UserDataAlreadyAvailable::UserDataNotAvailable,
        multiple_registration_indication: Some(
            MultipleRegistrationIndication::NotMultipleRegistration,
        ),
        session_priority: Some(SessionPriority::Priority2),
        sar_flags: Some(1),
    }
}

pub fn profile() -> ImsSubscription {
    ImsSubscription {
        private_id: IMPI.into(),
        service_profiles: vec![ServiceProfile {
            public_identities: vec![
                PublicIdentity {
                    identity: IMPU.into(),
                    identity_type: Some(IdentityType::PublicUserIdentity),
                    display_name: Some("Alice <A&B> \"quoted\" 'x'".into()),
                    ..Default::default()
                },
                PublicIdentity {
                    barring_indication: true,
                    identity: "tel:+15551230001".into(),
                    ..Default::default()
                },
                PublicIdentity {
                    identity: "sip:chat-!.*!@ims.example".into(),
                    identity_type: Some(IdentityType::WildcardedPsi),
                    wildcarded_psi: Some("sip:chat-!.*!@ims.example".into()),
                    ..Default::default()
                },
            ],
            core_network_services_authorization: Some(CoreNetworkServicesAuthorization {
                subscribed_media_profile_id: Some(7),
            }),
            initial_filter_criteria: vec![
                InitialFilterCriteria {
                    priority: 0,
                    trigger_point: Some(TriggerPoint {
                        condition_type_cnf: true,
                        spts: vec![
                            Spt {
                                condition_negated: false,
                                groups: vec![0],
                                kind: SptKind::Method("INVITE".into()),
                                registration_types: vec![],
                            },
                            Spt {
                                condition_negated: true,
                                groups: vec![0],
                                kind: SptKind::SessionCase(SessionCase::OriginatingSession),
                                registration_types: vec![],
                            },
                            Spt {
                                condition_negated: false,
                                groups: vec![1, 2],
                                kind: SptKind::SipHeader {
                                    header: "Accept-Contact".into(),
                                    content: Some("\"+g.3gpp.icsi-ref\" & <x>".into()),
                                },
                                registration_types: vec![],
                            },
                            Spt {
                                condition_negated: false,
                                groups: vec![3],
                                kind: SptKind::SessionDescription {
                                    line: "m".into(),
                                    content: Some("audio".into()),
                                },
                                registration_types: vec![],
                            },
                            Spt {
                                condition_negated: false,
                                groups: vec![4],
                                kind: SptKind::RequestUri("sip:voicemail@ims.example".into()),
                                registration_types: vec![],
                            },
                        ],
                    }),
                    application_server: ApplicationServer {
                        server_name: "sip:mmtel.ims.example;lr".into(),
                        default_handling: Some(DefaultHandling::SessionContinued),
                        service_info: Some("tenant=a&b".into()),
                    },
                    profile_part_indicator: Some(ProfilePartIndicator::Registered),
                },
                InitialFilterCriteria {
                    priority: 10,
                    trigger_point: Some(TriggerPoint {
                        condition_type_cnf: false,
                        spts: vec![Spt {
                            condition_negated: false,
                            groups: vec![0],
                            kind: SptKind::Method("REGISTER".into()),
                            registration_types: vec![
                                RegistrationType::InitialRegistration,
                                RegistrationType::DeRegistration,
                            ],
                        }],
                    }),
                    application_server: ApplicationServer {
                        server_name: "sip:reg-as.ims.example".into(),
                        default_handling: Some(DefaultHandling::SessionTerminated),
                        service_info: None,
                    },
                    profile_part_indicator: None,
                },
            ],
            shared_ifc_set_ids: vec![3, 4],
        }],
    }
}

pub fn saa() -> ServerAssignmentAnswer {
    let mut s = ServerAssignmentAnswer::new(ans_common(CxResult::SUCCESS));
    s.user_name = Some(IMPI.into());
    s.set_user_data(&profile()).expect("profile serialises");
    s.charging_information = Some(ChargingInformation {
        primary_event_charging_function_name: Some(
            "aaa://ecf.ims.example:3868;transport=tcp".into(),
        ),
        secondary_event_charging_function_name: None,
        primary_charging_collection_function_name: Some("aaa://ccf.ims.example".into()),
        secondary_charging_collection_function_name: Some("aaa://ccf2.ims.example".into()),
    });
    s.associated_identities = Some(vec![IMPI.into(), "second@ims.example".into()]);
    s.loose_route_indication = Some(LooseRouteIndication::LooseRouteRequired);
    s.associated_registered_identities = Some(vec!["second@ims.example".into()]);
    s.priviledged_sender_indication = Some(PriviledgedSenderIndication::NotPriviledgedSender);
    s
}

pub fn lir() -> LocationInfoRequest {
    LocationInfoRequest {
        common: req_common("icscf.ims.example", None),
        originating_request: Some(OriginatingRequest::Originating),
        public_identity: "tel:+15551230001".into(),
        user_authorization_type: Some(UserAuthorizationType::RegistrationAndCapabilities),
        session_priority: Some(SessionPriority::Priority0),
    }
}

pub fn lia() -> LocationInfoAnswer {
    LocationInfoAnswer {
        common: ans_common(ExperimentalResultCode::UnregisteredService.into()),
        server_name: Some(SCSCF.into()),
        server_capabilities: Some(ServerCapabilities {
            mandatory_capabilities: vec![7],
            ..Default::default()
        }),
        wildcarded_public_identity: Some("sip:psi!.*!@ims.example".into()),
        wildcarded_impu: None,
        lia_flags: Some(0),
    }
}

pub fn rtr() -> RegistrationTerminationRequest {
    RegistrationTerminationRequest {
        common: req_common(
            "hss.ims.mnc001.mcc001.3gppnetwork.org",
            Some("scscf.ims.example"),
        ),
        user_name: IMPI.into(),
        associated_identities: Some(vec!["second@ims.example".into()]),
        public_identities: vec![IMPU.into()],
        deregistration_reason: DeregistrationReason {
            reason_code: ReasonCode::PermanentTermination,
            reason_info: Some("subscription cancelled".into()),
        },
    }
}

pub fn rta() -> RegistrationTerminationAnswer {
    RegistrationTerminationAnswer {
        common: ans_common(CxResult::SUCCESS),
        associated_identities: Some(vec![IMPI.into()]),
    }
}

pub fn ppr() -> PushProfileRequest {
    PushProfileRequest {
        common: req_common(
            "hss.ims.mnc001.mcc001.3gppnetwork.org",
            Some("scscf.ims.example"),
        ),
        user_name: IMPI.into(),
        user_data: Some(Bytes::from(profile().to_xml().expect("profile serialises"))),
        charging_information: Some(ChargingInformation {
            primary_event_charging_function_name: Some("aaa://ecf.ims.example".into()),
            ..Default::default()
        }),
        sip_auth_data_item: None,
    }
}

pub fn ppa() -> PushProfileAnswer {
    let mut c = ans_common(CxResult::experimental(
        ExperimentalResultCode::ErrorNotSupportedUserData,
    ));
    c.error_message = Some("profile rejected".into());
    c.failed_avp = vec![diameter::Avp::utf8(1, "x")];
    PushProfileAnswer { common: c }
}

/// Every sample, as the enum.
pub fn all() -> Vec<AnyCx> {
    vec![
        AnyCx::Uar(uar()),
        AnyCx::Uaa(uaa()),
        AnyCx::Sar(sar()),
        AnyCx::Saa(saa()),
        AnyCx::Lir(lir()),
        AnyCx::Lia(lia()),
        AnyCx::Mar(mar()),
        AnyCx::Maa(maa()),
        AnyCx::Rtr(rtr()),
        AnyCx::Rta(rta()),
        AnyCx::Ppr(ppr()),
        AnyCx::Ppa(ppa()),
    ]
}
