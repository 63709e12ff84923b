//! Codec speed: encode + decode of a MAR-sized base-protocol message (~350 bytes, 12 top-level AVPs
//! incl. grouped and vendor-specific ones). Target: encode + decode ≤ 1 µs together.
//!
//! Two measurements of the same functions: `wall/…` (criterion's wall clock) and `cpu/…` (the
//! thread's CPU time, clock_gettime(CLOCK_THREAD_CPUTIME_ID); Linux x86-64). On a shared, oversubscribed machine the wall
//! clock also counts the time other processes hold the CPU; the CPU-time figures do not.

use bytes::{Bytes, BytesMut};
use criterion::measurement::Measurement;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use diameter::avp_code as c;
use diameter::{Avp, AvpSlice, Message, APP_CX, VENDOR_3GPP};

fn mar_like() -> Message {
    let mut m = Message::request(303, APP_CX)
        .with(Avp::utf8(c::SESSION_ID, "scscf.ims.example;1700000000;42"))
        .with(Avp::grouped(
            c::VENDOR_SPECIFIC_APPLICATION_ID,
            vec![
                Avp::u32(c::VENDOR_ID, VENDOR_3GPP),
                Avp::u32(c::AUTH_APPLICATION_ID, APP_CX),
            ],
        ))
        .with(Avp::enumerated(c::AUTH_SESSION_STATE, 1))
        .with(Avp::identity(c::ORIGIN_HOST, "scscf.ims.example"))
        .with(Avp::identity(c::ORIGIN_REALM, "ims.example"))
        .with(Avp::identity(c::DESTINATION_REALM, "ims.example"))
        .with(Avp::identity(c::DESTINATION_HOST, "hss.ims.example"))
        .with(Avp::utf8(c::USER_NAME, "alice@ims.example"))
        .with(Avp::utf8(601, "sip:alice@ims.example").vendor(VENDOR_3GPP))
        .with(Avp::u32(607, 1).vendor(VENDOR_3GPP))
        .with(
            Avp::grouped(
                612,
                vec![Avp::utf8(608, "Digest-AKAv1-MD5").vendor(VENDOR_3GPP)],
            )
            .vendor(VENDOR_3GPP),
        )
        .with(Avp::utf8(602, "sip:scscf.ims.example:6060").vendor(VENDOR_3GPP));
    m.header.hop_by_hop = 0x1234_5678;
    m.header.end_to_end = 0x9abc_def0;
    m
}

fn read_fields(m: &Message) -> usize {
    // What a Cx decoder would do: look up the fields and read them typed.
    let mut n = m.session_id().map_or(0, str::len);
    n += m
        .find(601, VENDOR_3GPP)
        .and_then(|a| a.as_utf8().ok())
        .map_or(0, str::len);
    n += m
        .find(607, VENDOR_3GPP)
        .and_then(|a| a.as_u32().ok())
        .unwrap_or(0) as usize;
    if let Some(item) = m.find(612, VENDOR_3GPP).and_then(|a| a.as_grouped().ok()) {
        n += item
            .find(608, VENDOR_3GPP)
            .and_then(|a| a.as_utf8().ok())
            .map_or(0, str::len);
    }
    n
}

use benchkit::ThreadCpuTime as CpuTime;

fn bench<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str) {
    let m = mar_like();
    let wire: Bytes = m.to_bytes();
    eprintln!(
        "message: {} bytes, {} top-level AVPs",
        wire.len(),
        m.avps.len()
    );
    let mut buf = BytesMut::with_capacity(1024);
    c.bench_function(&format!("{prefix}/encode_mar_like"), |b| {
        b.iter(|| {
            buf.clear();
            black_box(&m).encode(&mut buf);
            black_box(buf.len())
        })
    });
    c.bench_function(&format!("{prefix}/decode_mar_like"), |b| {
        b.iter(|| {
            let d = Message::decode(black_box(wire.clone())).unwrap();
            black_box(read_fields(&d))
        })
    });
    c.bench_function(&format!("{prefix}/decode_borrowed_mar_like"), |b| {
        b.iter(|| {
            let (_, it) =
                Message::parse_borrowed(black_box(&wire), &diameter::Limits::default()).unwrap();
            let mut n = 0usize;
            for a in it {
                let a = a.unwrap();
                if a.is(601, VENDOR_3GPP) || a.is(c::SESSION_ID, 0) {
                    n += a.as_utf8().unwrap().len();
                } else if a.is(607, VENDOR_3GPP) {
                    n += a.as_u32().unwrap() as usize;
                } else if a.is(612, VENDOR_3GPP) {
                    for k in a.grouped() {
                        n += k.unwrap().as_utf8().map_or(0, str::len);
                    }
                }
            }
            black_box(n)
        })
    });
    c.bench_function(&format!("{prefix}/encode_decode_mar_like"), |b| {
        b.iter(|| {
            buf.clear();
            black_box(&m).encode(&mut buf);
            let bytes = buf.split().freeze();
            let d = Message::decode(bytes).unwrap();
            black_box(read_fields(&d))
        })
    });
}

fn wall(c: &mut Criterion) {
    bench(c, "wall");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    bench(c, "cpu");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
