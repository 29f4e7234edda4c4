//! What can go wrong reading or writing a SIP2 message.

use crate::{Charset, FieldCode};

/// Why a frame could not be decoded. Offsets count bytes from the start of the frame (the first
/// digit of the message identifier).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame was empty (a bare terminator).
    #[error("empty message")]
    Empty,
    /// The frame is longer than the configured bound.
    #[error("message of {len} bytes is longer than the limit of {max} bytes")]
    TooLong {
        /// Length of the frame seen so far.
        len: usize,
        /// The configured bound.
        max: usize,
    },
    /// The first two bytes are not the identifier of a message this codec knows.
    #[error(
        "unknown message identifier {found:?} at byte 0 (expected two digits naming a SIP2 message)"
    )]
    UnknownMessage {
        /// The bytes found, shown lossily.
        found: String,
    },
    /// The frame ended inside the fixed-length part.
    #[error(
        "{message}: frame ends at byte {len} inside fixed field '{field}' (needs {needed} bytes from byte {offset})"
    )]
    Truncated {
        /// The message being read.
        message: &'static str,
        /// The fixed field being read.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// How many bytes the field takes.
        needed: usize,
        /// Length of the frame.
        len: usize,
    },
    /// A fixed-length field holds something its definition does not allow.
    #[error("{message}: fixed field '{field}' at byte {offset} is {found:?}, expected {expected}")]
    BadFixedField {
        /// The message being read.
        message: &'static str,
        /// The fixed field.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// What the specification allows there.
        expected: &'static str,
        /// What was found, shown lossily.
        found: String,
    },
    /// A variable-length field does not start with a two-letter field identifier.
    #[error(
        "bad field identifier {found:?} at byte {offset} (expected two upper-case letters or digits)"
    )]
    BadFieldCode {
        /// Where the identifier should start.
        offset: usize,
        /// What was found, shown lossily.
        found: String,
    },
    /// A control character (other than the terminator) inside the message.
    #[error("control character 0x{byte:02X} at byte {offset}")]
    ControlCharacter {
        /// Where it is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A field's value is not text in the configured character set.
    #[error("field {field} at byte {offset} is not valid {charset} text")]
    Encoding {
        /// The field.
        field: FieldCode,
        /// Where the bad byte is.
        offset: usize,
        /// The configured character set.
        charset: Charset,
    },
    /// A field the specification requires is missing (reported only by strict dialects).
    #[error("{message}: required field {field} is missing")]
    MissingField {
        /// The message being read.
        message: &'static str,
        /// The missing field.
        field: FieldCode,
    },
    /// The AY field is not a single digit.
    #[error("sequence number at byte {offset} is {found:?}, expected one digit 0-9")]
    BadSequence {
        /// Where the value starts.
        offset: usize,
        /// What was found, shown lossily.
        found: String,
    },
    /// The AZ field is not one to four hexadecimal digits at the very end of the message.
    #[error(
        "checksum field at byte {offset} is {found:?}, expected four hex digits ending the message"
    )]
    MalformedChecksum {
        /// Where the value starts.
        offset: usize,
        /// What was found, shown lossily.
        found: String,
    },
    /// The checksum does not match the message: it was damaged on the way.
    #[error("checksum mismatch: message says {found}, content sums to {expected:04X}")]
    ChecksumMismatch {
        /// The checksum computed over the message.
        expected: u16,
        /// The checksum the message carries.
        found: String,
    },
    /// The dialect requires error detection and the message carries no checksum.
    #[error("message has no checksum (AZ) but error detection is on")]
    MissingChecksum,
}

impl DecodeError {
    /// The same error with the bytes it quotes replaced by their length, for logs: a malformed
    /// frame may carry a card number or a PIN where a fixed field should be.
    pub fn redacted(&self) -> Self {
        let hide = |found: &String| format!("<{} bytes>", found.len());
        let mut e = self.clone();
        match &mut e {
            Self::UnknownMessage { found }
            | Self::BadFixedField { found, .. }
            | Self::BadFieldCode { found, .. }
            | Self::BadSequence { found, .. }
            | Self::MalformedChecksum { found, .. } => *found = hide(found),
            _ => {}
        }
        e
    }

    /// Whether asking the peer to resend (SIP2 message 96/97) might help: true for damage in transit.
    pub fn is_transmission_error(&self) -> bool {
        matches!(
            self,
            Self::ChecksumMismatch { .. } | Self::MalformedChecksum { .. } | Self::MissingChecksum
        )
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A character cannot be written in the configured character set.
    // The character is not shown: it may be one of a PIN or a card number.
    #[error("field {field}: a character cannot be written in {charset}")]
    Unrepresentable {
        /// The field.
        field: FieldCode,
        /// The character.
        ch: char,
        /// The configured character set.
        charset: Charset,
    },
    /// A value contains the field delimiter or a control character, which would corrupt the frame.
    #[error("field {field}: value contains the delimiter or a control character")]
    ForbiddenCharacter {
        /// The field.
        field: FieldCode,
    },
    /// A fixed-length value does not fit its width.
    #[error("fixed field '{field}': value {value} does not fit in {width} characters")]
    FixedOverflow {
        /// The fixed field.
        field: &'static str,
        /// The value.
        value: String,
        /// The width.
        width: usize,
    },
    /// A date field holds an impossible date (month 13, 30 February, hour 24, …). Strict peers
    /// close the connection on one, so it is refused before it is sent.
    #[error("fixed field '{field}': {value:?} is not a valid date YYYYMMDDZZZZHHMMSS")]
    InvalidDate {
        /// The date field.
        field: &'static str,
        /// The date as it would have been written.
        value: String,
    },
    /// The encoded message is longer than the configured bound.
    #[error("encoded message of {len} bytes is longer than the limit of {max} bytes")]
    TooLong {
        /// Encoded length.
        len: usize,
        /// The configured bound.
        max: usize,
    },
}
