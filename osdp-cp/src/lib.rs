//! The control panel's side of OSDP v2 (SIA Open Supervised Device Protocol 2.2, IEC 60839-11-5)
//! with one reader on an RS-485 line, as a pure state machine: bytes and instants in, bytes to
//! send and events out, as quinn-proto is to quinn. No I/O, no clock, no randomness of its own
//! (the secure channel's challenges come from a source the caller hands in). The door's driver
//! (`drivers::osdp`) owns the serial port and the timer.
//!
//! What it does: polls the reader one command at a time (a reply within 200 ms, the command sent
//! again with the same sequence number when none comes), supervises it (a reader that stops
//! answering is reported down, and found again when it answers), opens the Annex D secure channel
//! with the reader's own key (SCBK) and checks the MAC of every reply inside it (a reply that
//! does not verify is never used: the session is reported and restarted), pairs a new reader (a
//! secure channel under the install key SCBK-D, KEYSET with the door's new key, then the channel
//! again under the new key), and turns card data, keys and local status (tamper, power) into
//! events; LED, buzzer and text commands go out between polls.
//!
//! What it is not: a multi-drop bus master (one reader per line, as doors are wired), or a
//! file-transfer or biometrics client. It also holds the reader's side ([`peripheral`]), as the
//! protocol of the reader twin the door's tests and demo run (`drivers::osdp_twin`): pure, like
//! the session, so that both sides meet in unit tests without a line or a clock, and next to the
//! session because it is made of the same pieces (the deframer, the key and identity types).
//!
//! # Why the `osdp` crate, and not LibOSDP or a codec of our own
//! The framing (SOM, address, length, control byte with the sequence number, CRC-16), the typed
//! commands and replies, and the Annex D primitives (session keys from the SCBK, client and server
//! cryptograms, the CBC-MAC chain, AES-CBC data blocks) come from the `osdp` crate (0.3, pure
//! Rust, no C, a total parser: malformed input is an error, never a panic). Its own control-panel
//! driver (`osdp::driver::acu`) is not used: it is blocking, sends every command in clear, and
//! leaves the secure channel to the caller; the session here is that missing part, written
//! sans-I/O so that supervision and the secure channel are decided by testable code given `now`.
//! The `libosdp` crate wraps the C LibOSDP, which the interoperability tests already run as the
//! reader: a control panel on the same C core would test LibOSDP against itself. With the `osdp`
//! crate the tests pit two independent implementations against each other.
//!
//! Layout:
//! - [`config`]: the reader's address, key (plain, its own, or pairing) and timings.
//! - [`event`]: what the session tells: up, down and why, identity, cards, keys, status.
//! - [`wire`]: cutting received bytes into this reader's reply frames; noise and bad frames said.
//! - [`session`]: the reader as a state machine: connect, secure channel, identity, polling,
//!   outputs, pairing, supervision.
//! - [`peripheral`]: the reader's own side, for twins: answers, the secure channel from the
//!   reader's end, install mode and KEYSET, card data and keys queued for polls.
#![deny(missing_docs)]

mod codes;
pub mod config;
pub mod event;
pub mod peripheral;
pub mod session;
pub mod wire;

pub use config::{Config, Random, Scbk, Security};
pub use event::{CardData, Event, Fault, Identity, KeyBytes, LocalStatus};
pub use osdp;
pub use peripheral::{Peripheral, PeripheralConfig, Told};
pub use session::{Output, Session};
