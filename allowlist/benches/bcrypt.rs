//! One PIN verification against the library system's bcrypt hash (cost 8, as Koha writes it, and
//! cost 10) beside one argon2id verification with the list's parameters (OWASP's minimum, the
//! publisher's default: 19 MiB, 2 passes, 1 lane), in the same run on the same machine.
//!
//! `cargo bench -p allowlist --bench bcrypt`
//!
//! The bcrypt hashes are the crate's test vectors, made outside this crate: cost 8 by Perl's
//! Crypt::Eksblowfish::Bcrypt as Koha::AuthUtils::hash_password does, cost 10 by `htpasswd -bnBC
//! 10 "" 4321` (see src/bcrypt.rs).
#![allow(clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use allowlist::{Argon2Params, BcryptHash};
use criterion::{Criterion, criterion_group, criterion_main};
use redact::Pin;

const KOHA_1234_COST8: &str = "$2a$08$VIQCE.U8iDsD/b5tPvisy.TXlNMiXQILKuCrEGsvLmtrYVv8uiP72";
const HTPASSWD_4321_COST10: &str = "$2y$10$f6FpF4CE49OgV3ZO4GZboOC1JE7t0GYpKqE9LRzvxBmkwN1DXqGD.";

fn parsed(s: &str) -> BcryptHash {
    BcryptHash::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pin_verify");
    g.sample_size(20).measurement_time(Duration::from_secs(8));

    let cost8 = parsed(KOHA_1234_COST8);
    let pin = Pin::new("1234");
    assert!(cost8.verify(&pin));
    g.bench_function("bcrypt_cost8", |b| {
        b.iter(|| black_box(&cost8).verify(black_box(&pin)))
    });

    let cost10 = parsed(HTPASSWD_4321_COST10);
    let pin10 = Pin::new("4321");
    assert!(cost10.verify(&pin10));
    g.bench_function("bcrypt_cost10", |b| {
        b.iter(|| black_box(&cost10).verify(black_box(&pin10)))
    });

    let params = Argon2Params::OWASP_MINIMUM;
    let salt = [7u8; 16];
    let verifier = params
        .verifier(&pin, &salt)
        .unwrap_or_else(|e| panic!("argon2id: {e}"));
    assert!(params.verify(&pin, &salt, &verifier));
    g.bench_function("argon2id_owasp_minimum", |b| {
        b.iter(|| params.verify(black_box(&pin), &salt, &verifier))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
