//! Any bytes sent to the printer twin, in pieces: the renderer never panics.
//! Run with `cargo +nightly fuzz run printer` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = receipt::render::Renderer::new();
    for piece in data.chunks(5) {
        let _ = r.feed(piece);
    }
});
