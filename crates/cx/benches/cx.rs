//! Encode + decode of an MAR and of an MAA with one AKA vector (issue target: both together ≤ 1 µs).
//!
//! Each case is measured twice: wall time (criterion's default) and the thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), which stays meaningful on a shared, overloaded build machine where
//! wall time mostly measures the other processes.

use bytes::{Bytes, BytesMut};
use criterion::measurement::Measurement;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use cx::{
    scheme, AnswerCommon, CxMessage, CxResult, MultimediaAuthAnswer, MultimediaAuthRequest,
    RequestCommon, SecretBytes, SipAuthDataItem,
};

const IMPI: &str = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org";
const IMPU: &str = "sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org";

fn mar() -> MultimediaAuthRequest {
    let mut common = RequestCommon::new(
        "scscf.ims.mnc001.mcc001.3gppnetwork.org;1700000000;42",
        "scscf.ims.mnc001.mcc001.3gppnetwork.org",
        "ims.mnc001.mcc001.3gppnetwork.org",
        "ims.mnc001.mcc001.3gppnetwork.org",
    );
    common.destination_host = Some("hss.ims.mnc001.mcc001.3gppnetwork.org".into());
    MultimediaAuthRequest {
        common,
        user_name: IMPI.into(),
        public_identity: IMPU.into(),
        sip_auth_data_item: SipAuthDataItem {
            authentication_scheme: Some(scheme::DIGEST_AKAV1_MD5.into()),
            ..SipAuthDataItem::default()
        },
        sip_number_auth_items: 1,
        server_name: "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060".into(),
    }
}

fn maa() -> MultimediaAuthAnswer {
    MultimediaAuthAnswer {
        common: AnswerCommon::new(
            "scscf.ims.mnc001.mcc001.3gppnetwork.org;1700000000;42",
            "hss.ims.mnc001.mcc001.3gppnetwork.org",
            "ims.mnc001.mcc001.3gppnetwork.org",
            CxResult::SUCCESS,
        ),
        user_name: Some(IMPI.into()),
        public_identity: Some(IMPU.into()),
        sip_number_auth_items: Some(1),
        sip_auth_data_items: vec![SipAuthDataItem {
            item_number: Some(1),
            authentication_scheme: Some(scheme::DIGEST_AKAV1_MD5.into()),
            authenticate: Some(Bytes::from(vec![0x5a; 32])),
            authorization: Some(SecretBytes::new(vec![0xa5; 8])),
            confidentiality_key: Some(SecretBytes::new(vec![0x11; 16])),
            integrity_key: Some(SecretBytes::new(vec![0x22; 16])),
            ..SipAuthDataItem::default()
        }],
    }
}

use benchkit::ThreadCpuTime as ThreadCpu;

fn bench<M: Measurement + 'static>(c: &mut Criterion<M>, suffix: &str) {
    let (mar, maa) = (mar(), maa());
    let mut buf = BytesMut::with_capacity(1024);
    let mar_bytes = mar.to_message().to_bytes();
    let maa_bytes = maa.to_message().to_bytes();

    c.bench_function(&format!("mar_encode{suffix}"), |b| {
        b.iter(|| {
            buf.clear();
            black_box(&mar).encode(&mut buf);
            black_box(buf.len())
        })
    });
    c.bench_function(&format!("mar_decode{suffix}"), |b| {
        b.iter(|| MultimediaAuthRequest::decode(black_box(&mar_bytes)).expect("valid MAR"))
    });
    c.bench_function(&format!("maa_encode{suffix}"), |b| {
        b.iter(|| {
            buf.clear();
            black_box(&maa).encode(&mut buf);
            black_box(buf.len())
        })
    });
    c.bench_function(&format!("maa_decode{suffix}"), |b| {
        b.iter(|| MultimediaAuthAnswer::decode(black_box(&maa_bytes)).expect("valid MAA"))
    });
    c.bench_function(&format!("mar_and_maa_encode_decode{suffix}"), |b| {
        b.iter(|| {
            buf.clear();
            black_box(&mar).encode(&mut buf);
            let r = MultimediaAuthRequest::decode(&buf).expect("valid MAR");
            buf.clear();
            black_box(&maa).encode(&mut buf);
            let a = MultimediaAuthAnswer::decode(&buf).expect("valid MAA");
            black_box((r, a))
        })
    });
}

fn wall(c: &mut Criterion) {
    bench(c, "");
}

fn cpu(c: &mut Criterion<ThreadCpu>) {
    bench(c, "_cpu");
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
