//! Messages per second per core: decode and encode of the messages a door and a kiosk send most,
//! beside the crates.io `sip2` crate (0.3.4, Evergreen's) parsing the same frames. `decode` builds
//! the typed, owned [`Message`]; `decode_borrowed` makes the same checks and leaves the values in
//! the frame ([`MessageRef`]).
//! Run with `cargo bench -p sip2@0.1.0 --bench codec`; throughput is reported in elements (messages)
//! per second.
//!
//! The peer checks no checksum, validates no fixed field and types no field; its `from_sip` takes
//! `&str`, so its loop includes the `str::from_utf8` its own connection does on the bytes read.
#![allow(clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sip2::{Dialect, Message, MessageRef};
use std::hint::black_box;

const PATRON_STATUS_RESPONSE: &str = "24              00720261124    210000AOheili|AA24680000123456|AEVirtanen, Aino|BLY|CQY|BHEUR|BV0.00|AFTervetuloa!|AY3AZ";
const CHECKOUT_RESPONSE: &str = "121NNY20261124    210000AOheili|AA24680000123456|AB0012345678|AJTuntematon sotilas / Väinö Linna|AH20261222    235959|CK001|AY4AZ";

fn with_checksum(frame: &str) -> Vec<u8> {
    let mut out = frame.as_bytes().to_vec();
    let sum = sip2::checksum(&out);
    out.extend_from_slice(format!("{sum:04X}\r").as_bytes());
    out
}

fn bench(c: &mut Criterion) {
    let dialect = Dialect {
        charset: sip2::Charset::Utf8,
        ..Dialect::standard()
    };
    let mut group = c.benchmark_group("sip2");
    group.throughput(Throughput::Elements(1));
    for (name, frame) in [
        (
            "patron_status_response",
            with_checksum(PATRON_STATUS_RESPONSE),
        ),
        ("checkout_response", with_checksum(CHECKOUT_RESPONSE)),
    ] {
        let message = match Message::decode(&frame, &dialect) {
            Ok(d) => d.message,
            Err(e) => panic!("bench fixture {name} does not decode: {e}"),
        };
        // The peer is given the frame without its terminator, as its connection does.
        let peer_frame = frame.strip_suffix(b"\r").unwrap_or(&frame).to_vec();
        match std::str::from_utf8(&peer_frame).map(sip2_peer::Message::from_sip) {
            Ok(Ok(_)) => {}
            _ => panic!("bench fixture {name} does not parse with the peer"),
        }
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| Message::decode(black_box(&frame), &dialect))
        });
        group.bench_function(format!("decode_borrowed/{name}"), |b| {
            b.iter(|| MessageRef::decode(black_box(&frame), &dialect))
        });
        group.bench_function(format!("peer_decode/{name}"), |b| {
            b.iter(|| std::str::from_utf8(black_box(&peer_frame)).map(sip2_peer::Message::from_sip))
        });
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| black_box(&message).encode(&dialect, Some(3)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
