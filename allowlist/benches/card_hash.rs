//! One keyed card hash (HMAC-SHA-256 of the normalised card number): the publisher's cost per
//! patron per branch list, and a thief's cost per card number tried with a stolen card key.
//!
//! `cargo bench -p allowlist --bench card_hash`
#![allow(clippy::unwrap_used)]

use allowlist::CardKey;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use redact::CardNumber;

fn card_hash(c: &mut Criterion) {
    let key = CardKey::new([7; 32]);
    let card = CardNumber::new("24680000000011");
    c.bench_function("card hash (HMAC-SHA-256, 14-digit card)", |b| {
        b.iter(|| key.hash(black_box(&card)))
    });
    let consortium = CardKey::new([7; 32]);
    c.bench_function("derive a branch's card key", |b| {
        b.iter(|| consortium.for_scope(black_box("LEMI")))
    });
}

criterion_group!(benches, card_hash);
criterion_main!(benches);
