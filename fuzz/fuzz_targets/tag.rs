//! Any tag memory, with or without a DSFID: decoding never panics, and a decoded tag re-encodes
//! into bytes that decode to the same tag. Run with `cargo +nightly fuzz run tag` from this folder.
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
                assert_eq!(again.item, tag.item);
                assert_eq!((again.part, again.parts), (tag.part, tag.parts));
            }
        }
    }
});
