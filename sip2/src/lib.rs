//! A codec for the 3M Standard Interchange Protocol 2.00 (SIP2), the protocol self-check units,
//! doors and sorters speak to a library system (Koha, Evergreen, FOLIO, Sierra, Axiell Aurora).
//!
//! It reads and writes every message a self-check unit or a door uses, in both directions, so the
//! same crate serves our clients and the library-system simulator. It does no I/O and reads no
//! clock: frames come in as bytes, dates as arguments. It does not keep a session either: the
//! caller numbers messages (AY) and retries; [`Message::decode`] verifies what arrives.
//!
//! Layout:
//! - [`message`]: the [`Message`] enum, [`Message::decode`] and [`Message::encode`]; [`MessageRef`],
//!   the same checks with the field values borrowed from the frame.
//! - [`messages`]: one struct per message layout, grouped by purpose.
//! - [`codes`]: coded fixed-field values (patron status flags, circulation status, …).
//! - [`field`]: variable-field identifiers, and which carry personal data.
//! - [`date`]: the 18-character date.
//! - [`charset`]: UTF-8, ISO-8859-1 and CP850.
//! - [`dialect`]: per-system settings and presets.
//! - [`frame`]: finding message boundaries in a stream.
//! - `wire`: fixed and variable fields, sequence number and checksum.
//! - [`error`]: what went wrong, where.
//!
//! Personal data (card numbers, PINs, names, addresses) is held in [`redact`] types, so a
//! `Debug` print of any message is safe to log.
#![deny(missing_docs)]

pub mod charset;
pub mod codes;
pub mod date;
pub mod dialect;
pub mod error;
pub mod field;
pub mod frame;
pub mod message;
pub mod messages;
mod wire;

pub use charset::Charset;
pub use codes::*;
pub use date::SipDate;
pub use dialect::{Dialect, Terminator};
pub use error::{DecodeError, EncodeError};
pub use field::{Field, FieldCode};
pub use message::{Decoded, Message, MessageRef, fixed_date_offsets};
pub use messages::circulation::*;
pub use messages::item::*;
pub use messages::patron::*;
pub use messages::session::*;
pub use wire::checksum;
