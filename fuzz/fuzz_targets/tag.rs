//! Any tag memory, the first byte taken as its DSFID: read with and without the DSFID, decoding
//! never panics, and a tag that decodes re-encodes into bytes that decode, with no DSFID, to the
//! same tag (every field). Failures are kept in `iso28560/tests/fuzz-corpus/tag/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (dsfid, memory) = match data.split_first() {
        Some((d, m)) => (Some(*d), m),
        None => (None, data),
    };
    for dsfid in [None, dsfid] {
        if let Ok((tag, _)) = iso28560::decode(memory, dsfid) {
            if let Ok(bytes) = tag.encode(memory.len().max(64)) {
                let (again, _) = iso28560::decode(&bytes, None).expect("our own encoding decodes");
                assert_eq!(again, tag);
            }
        }
    }
});
