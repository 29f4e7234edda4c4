//! Any bytes sent to the printer twin, read whole and in pieces of 1 to 16 bytes (the first
//! byte picks the size): the renderer never panics, and the pieces give the same paper, the
//! same status requests and the same errors as the whole. Failures are kept in
//! `receipt/tests/fuzz-corpus/printer/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use receipt::render::{Paper, RenderError, Renderer, StatusRequest};

fn read(bytes: &[u8], piece: usize) -> (Paper, Vec<StatusRequest>, Vec<RenderError>) {
    let mut r = Renderer::new();
    let (mut requests, mut errors) = (Vec::new(), Vec::new());
    for p in bytes.chunks(piece) {
        let fed = r.feed(p);
        requests.extend(fed.requests);
        errors.extend(fed.errors);
    }
    (r.into_paper(), requests, errors)
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, bytes)) = data.split_first() else {
        return;
    };
    let whole = read(bytes, bytes.len().max(1));
    assert_eq!(read(bytes, usize::from(size % 16) + 1), whole);
});
