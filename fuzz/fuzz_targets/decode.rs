//! Any bytes, in every dialect: decoding never panics, and what decodes re-encodes and decodes to
//! the same message. Run with `cargo +nightly fuzz run decode` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip2::{Dialect, Message};

fuzz_target!(|data: &[u8]| {
    for name in Dialect::PRESETS {
        let Some(mut dialect) = Dialect::preset(name) else {
            continue;
        };
        dialect.send_empty.clear();
        if let Ok(decoded) = Message::decode(data, &dialect) {
            if let Ok(bytes) = decoded.message.encode(&dialect, decoded.sequence) {
                let again = Message::decode(&bytes, &dialect).expect("our own encoding decodes");
                assert_eq!(again.message, decoded.message);
            }
        }
    }
});
