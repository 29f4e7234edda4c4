//! Any bytes on an OSDP line, cut anywhere and with time passing between the pieces: the control
//! panel's session never panics, and, holding a key the bytes cannot know, never takes a reader
//! as up nor reads a card or a key from them. Run with `cargo +nightly fuzz run osdp` from this
//! folder.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use osdp_cp::{Config, Event, Scbk, Security, Session};

fuzz_target!(|data: &[u8]| {
    let config = Config::new(1, Security::Key(Scbk([0x5a; 16])));
    let mut s = Session::new(config, Box::new(|| [1, 2, 3, 4, 5, 6, 7, 8]));
    let mut now = Duration::ZERO;
    // The first byte of each piece says how long it is and how much time passes before it.
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let n = usize::from(head & 0x3f).min(tail.len());
        now += Duration::from_millis(u64::from(head >> 6) * 120);
        s.handle_timeout(now);
        while s.poll_transmit().is_some() {}
        s.handle_input(&tail[..n], now);
        while let Some(e) = s.poll_event() {
            assert!(!matches!(e, Event::Up { .. } | Event::Card(_) | Event::Keys(_)));
        }
        rest = &tail[n..];
    }
});
