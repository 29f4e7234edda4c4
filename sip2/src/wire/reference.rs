//! The field splitter before values were borrowed from the frame (as of commit abcb794),
//! kept as the reference the new one is tested against: same fields, same trailer, same errors.

use super::{checksum, lossy, shown};
use crate::{Charset, DecodeError, Dialect, Field, FieldCode};

/// The old `Charset::decode`: one `String` per value.
fn decode(charset: Charset, bytes: &[u8]) -> Result<String, usize> {
    if bytes.is_ascii() {
        return Ok(String::from_utf8_lossy(bytes).into_owned());
    }
    match charset {
        Charset::Utf8 => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(e.valid_up_to()),
        },
        Charset::Latin1 => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for (i, &b) in bytes.iter().enumerate() {
                if (0x80..0xA0).contains(&b) {
                    return Err(i);
                }
                out.push(char::from(b));
            }
            Ok(out)
        }
        Charset::Cp850 => Ok(bytes
            .iter()
            .map(|&b| {
                if b < 0x80 {
                    char::from(b)
                } else {
                    codepages::CP850[usize::from(b - 0x80)]
                }
            })
            .collect()),
    }
}

/// The error-detection trailer found at the end of a frame.
struct TrailerAt {
    /// Where the trailer (AY, or AZ when there is no AY) starts: the fields end there.
    start: usize,
    /// The AY digit.
    sequence: Option<u8>,
}

/// Finds `[AYn]AZxxxx` at the end of the frame by position, as Koha does (`C4/SIP/Sip/MsgType.pm`,
/// `handle`: error detection is on when `substr($msg, -9, 2) eq "AY"`, and the message is cut
/// there), so a trailer is found whether or not a delimiter precedes it. Read tolerantly:
/// - the checksum may have one to three hex digits (a server that prints it with `%X`, not
///   `%04X`) or lower-case ones, and is compared by value. Koha's `verify_cksum`
///   (`C4/SIP/Sip/Checksum.pm`) needs exactly four (`/AZ(....)$/`) and otherwise treats the
///   message as one without error detection; we keep the detection and check the sum;
/// - delimiters after the checksum are ignored (Koha's `read_SIP_packet` strips them).
///
/// A trailer not set off by the delimiter is taken only when its checksum verifies, so a field
/// value that merely ends in `AZ` and hex digits stays a value. `Ok(None)`: no trailer here.
fn find_trailer(frame: &[u8], start: usize, delim: u8) -> Result<Option<TrailerAt>, DecodeError> {
    let mut end = frame.len();
    while end > start && frame[end - 1] == delim {
        end -= 1;
    }
    let Some((az, digits)) = (1..=4).rev().find_map(|n| {
        let az = end.checked_sub(n + 2).filter(|&az| az >= start)?;
        let hex = &frame[az + 2..end];
        (&frame[az..az + 2] == b"AZ" && hex.iter().all(u8::is_ascii_hexdigit)).then_some((az, hex))
    }) else {
        return Ok(None);
    };
    let (trailer, sequence) = match az.checked_sub(3).filter(|&ay| ay >= start) {
        Some(ay) if &frame[ay..ay + 2] == b"AY" && frame[ay + 2].is_ascii_digit() => {
            (ay, Some(frame[ay + 2] - b'0'))
        }
        _ => (az, None),
    };
    let delimited = trailer == start || frame[trailer - 1] == delim;
    let expected = checksum(&frame[..az + 2]);
    let found = lossy(digits);
    let verifies = u16::from_str_radix(&found, 16).ok() == Some(expected);
    match (verifies, delimited) {
        (true, _) => Ok(Some(TrailerAt {
            start: trailer,
            sequence,
        })),
        (false, true) => Err(DecodeError::ChecksumMismatch { expected, found }),
        (false, false) => Ok(None),
    }
}

/// Splits the variable-length part of `frame` from `start` into fields, verifying AY and AZ.
pub(super) fn read_fields(
    frame: &[u8],
    start: usize,
    dialect: &Dialect,
) -> Result<(Vec<Field>, Option<u8>, bool), DecodeError> {
    let delim = dialect.delimiter;
    let mut fields = Vec::new();
    let trailer = find_trailer(frame, start, delim)?;
    let checksum_seen = trailer.is_some();
    let mut sequence = trailer.as_ref().and_then(|t| t.sequence);
    let body = &frame[..trailer.as_ref().map_or(frame.len(), |t| t.start)];
    let mut pos = start;
    while pos < body.len() {
        if body[pos] == delim {
            // Tolerate an empty field slot ("||").
            pos += 1;
            continue;
        }
        let code = match body.get(pos..pos + 2) {
            Some(&[a, b]) if FieldCode::is_valid([a, b]) => FieldCode([a, b]),
            other => {
                return Err(DecodeError::BadFieldCode {
                    offset: pos,
                    found: shown(other.unwrap_or(&body[pos..])),
                });
            }
        };
        let value_at = pos + 2;
        if code == FieldCode::SEQUENCE_NUMBER {
            match body.get(value_at) {
                Some(d) if d.is_ascii_digit() => sequence = Some(d - b'0'),
                _ => {
                    return Err(DecodeError::BadSequence {
                        offset: value_at,
                        found: lossy(
                            &body[value_at.min(body.len())..(value_at + 1).min(body.len())],
                        ),
                    });
                }
            }
            pos = value_at + 1;
            continue;
        }
        if code == FieldCode::CHECKSUM {
            // A checksum that does not end the message, or is not hex digits.
            return Err(DecodeError::MalformedChecksum {
                offset: value_at,
                found: shown(&frame[value_at.min(frame.len())..]),
            });
        }
        let end = body[value_at..]
            .iter()
            .position(|&b| b == delim)
            .map_or(body.len(), |i| value_at + i);
        let value =
            decode(dialect.charset, &body[value_at..end]).map_err(|i| DecodeError::Encoding {
                field: code,
                offset: value_at + i,
                charset: dialect.charset,
            })?;
        fields.push(Field { code, value });
        pos = end + 1;
    }
    if dialect.error_detection && !checksum_seen {
        return Err(DecodeError::MissingChecksum);
    }
    Ok((fields, sequence, checksum_seen))
}
