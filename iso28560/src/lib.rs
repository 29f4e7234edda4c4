//! What a library's RFID tag says about the item it is stuck to, with no I/O.
//!
//! Library items carry ISO 15693 tags whose user memory holds ISO 28560 data: the item's
//! barcode (the *primary item identifier*), the owner library's ISIL, how many parts the item
//! has and which this is, and its type of usage. Two encodings are in use in the Nordic
//! countries: ISO 28560-3, a fixed 32-byte block with a CRC (the "Danish model"), and ISO
//! 28560-2, a list of data elements named by relative OIDs and compacted (Finland's and
//! Sweden's libraries). This crate decodes both, tolerating readers that hand over each 4-byte
//! block reversed and encoders that swap the first byte's nibbles, and keeps what it does not
//! know so that nothing on a tag is lost. The security state of a tag is not in its memory
//! but in its AFI byte (see [`afi`]); reading and writing tags is the driver's job.
//!
//! Layout:
//! - [`crc`]: the CRC-16 of ISO 28560-3.
//! - [`part3`]: the fixed block and its extension blocks.
//! - [`part2`]: data elements, compaction schemes and the ISIL code.
//! - [`tag`]: [`ItemTag`], either encoding, and [`decode`] that tells them apart.
//! - [`afi`]: the AFI values for an item in the library and on loan.

#![deny(missing_docs)]

pub mod afi;
pub mod crc;
pub mod part2;
pub mod part3;
pub mod tag;

pub use tag::{DataModel, ItemTag, TagError, Usage, decode};

/// The one form text fields have in both data models: `s` without surrounding white space,
/// or `None` when it holds a control character. Decoders read fields through this and
/// encoders refuse a field it would change, so that what is written reads back the same.
pub(crate) fn printable(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.chars().any(char::is_control)).then_some(s)
}
