//! Reading and writing the parts of a frame: fixed-length fields, variable-length fields, and the
//! error-detection trailer (AY sequence number, AZ checksum).

use crate::date::push_digits;
use crate::{Charset, DecodeError, Dialect, EncodeError, Field, FieldCode, SipDate};

/// The checksum of `bytes`: the 16-bit two's complement of their sum.
pub fn checksum(bytes: &[u8]) -> u16 {
    let sum = bytes
        .iter()
        .fold(0u16, |acc, &b| acc.wrapping_add(u16::from(b)));
    sum.wrapping_neg()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a decode error shows of the bytes it found. A malformed frame may carry a card number or
/// a PIN where a fixed field should be, so only up to three characters are quoted; longer runs
/// are described by length and kind. Errors are safe to log as they are made.
fn shown(bytes: &[u8]) -> String {
    if bytes.len() <= 3 {
        return lossy(bytes);
    }
    let kind = if bytes.iter().all(u8::is_ascii_digit) {
        "digits"
    } else if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        "text"
    } else {
        "bytes, some not printable ASCII"
    };
    format!("<{} {kind}>", bytes.len())
}

/// Reads one message: its fixed-length fields in order, then its variable-length fields.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
    dialect: &'a Dialect,
    pub(crate) sequence: Option<u8>,
    pub(crate) checksum: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], message: &'static str, dialect: &'a Dialect) -> Self {
        // The two-digit identifier has been read already.
        Self {
            buf,
            pos: 2,
            message,
            dialect,
            sequence: None,
            checksum: false,
        }
    }

    /// The variable-length fields after the fixed part; records AY and AZ.
    pub(crate) fn fields(&mut self) -> Result<Fields, DecodeError> {
        let trailer = read_fields(self.buf, self.pos, self.dialect, self.message)?;
        self.sequence = trailer.sequence;
        self.checksum = trailer.checksum;
        self.pos = self.buf.len();
        Ok(trailer.fields)
    }

    /// One printable ASCII character.
    pub(crate) fn byte(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let at = self.pos;
        let bytes = self.take(1, field)?;
        match bytes {
            [b] if b.is_ascii_graphic() || *b == b' ' => Ok(*b),
            other => Err(self.bad(field, at, "a printable character", other)),
        }
    }

    /// A code of `width` digits that fits a byte (circulation status, fee type, …).
    pub(crate) fn code(&mut self, width: usize, field: &'static str) -> Result<u8, DecodeError> {
        let at = self.pos;
        let v = self.number(width, field)?;
        u8::try_from(v)
            .map_err(|_| self.bad(field, at, "a code below 256", &self.buf[at..at + width]))
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        match self.buf.get(self.pos..self.pos + n) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(DecodeError::Truncated {
                message: self.message,
                field,
                offset: self.pos,
                needed: n,
                len: self.buf.len(),
            }),
        }
    }

    fn bad(
        &self,
        field: &'static str,
        at: usize,
        expected: &'static str,
        found: &[u8],
    ) -> DecodeError {
        DecodeError::BadFixedField {
            message: self.message,
            field,
            offset: at,
            expected,
            found: shown(found),
        }
    }

    /// `Y` or `N`.
    pub(crate) fn yes_no(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.take(1, field)? {
            b"Y" | b"y" => Ok(true),
            b"N" | b"n" => Ok(false),
            other => Err(self.bad(field, at, "Y or N", other)),
        }
    }

    /// `Y`, `N` or `U` (unknown).
    pub(crate) fn yes_no_unknown(
        &mut self,
        field: &'static str,
    ) -> Result<Option<bool>, DecodeError> {
        let at = self.pos;
        match self.take(1, field)? {
            b"Y" | b"y" => Ok(Some(true)),
            b"N" | b"n" => Ok(Some(false)),
            b"U" | b"u" => Ok(None),
            other => Err(self.bad(field, at, "Y, N or U", other)),
        }
    }

    /// The three-character language code.
    pub(crate) fn language(&mut self) -> Result<crate::Language, DecodeError> {
        let at = self.pos;
        let bytes = self.take(3, "language")?;
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_alphanumeric) => {
                Ok(crate::Language([*a, *b, *c]))
            }
            other => Err(self.bad("language", at, "three digits", other)),
        }
    }

    /// `Y`, `N`, or `1` / `0` as FOLIO writes some flags.
    pub(crate) fn yes_no_or_digit(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.take(1, field)? {
            b"Y" | b"y" | b"1" => Ok(true),
            b"N" | b"n" | b"0" => Ok(false),
            other => Err(self.bad(field, at, "Y or N", other)),
        }
    }

    /// `1` or `0`.
    pub(crate) fn one_zero(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.take(1, field)? {
            b"1" => Ok(true),
            b"0" => Ok(false),
            other => Err(self.bad(field, at, "1 or 0", other)),
        }
    }

    /// A number of `width` digits. Blanks read as zero (systems use them for "unknown").
    pub(crate) fn number(&mut self, width: usize, field: &'static str) -> Result<u16, DecodeError> {
        let at = self.pos;
        let bytes = self.take(width, field)?;
        if bytes.iter().all(|&b| b == b' ') {
            return Ok(0);
        }
        // Some systems pad numbers with blanks (" 40" for a print width of 40).
        let digits = bytes.trim_ascii();
        let mut v: u32 = 0;
        for &b in digits {
            if !b.is_ascii_digit() {
                return Err(self.bad(field, at, "digits", bytes));
            }
            v = v * 10 + u32::from(b - b'0');
        }
        u16::try_from(v).map_err(|_| self.bad(field, at, "a number below 65536", bytes))
    }

    /// `width` printable ASCII characters.
    pub(crate) fn text(
        &mut self,
        width: usize,
        field: &'static str,
    ) -> Result<String, DecodeError> {
        let at = self.pos;
        let bytes = self.take(width, field)?;
        if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            Ok(lossy(bytes))
        } else {
            Err(self.bad(field, at, "printable ASCII", bytes))
        }
    }

    /// The 18-character date.
    pub(crate) fn date(&mut self, field: &'static str) -> Result<SipDate, DecodeError> {
        let at = self.pos;
        let bytes = self.take(18, field)?;
        SipDate::parse(bytes).ok_or_else(|| self.bad(field, at, "a date YYYYMMDDZZZZHHMMSS", bytes))
    }

    /// The 18-character date, or 18 blanks for none.
    pub(crate) fn optional_date(
        &mut self,
        field: &'static str,
    ) -> Result<Option<SipDate>, DecodeError> {
        let at = self.pos;
        let bytes = self.take(18, field)?;
        if bytes.iter().all(|&b| b == b' ') {
            return Ok(None);
        }
        SipDate::parse(bytes)
            .map(Some)
            .ok_or_else(|| self.bad(field, at, "a date YYYYMMDDZZZZHHMMSS or 18 blanks", bytes))
    }

    /// `width` flags, each `Y` (set) or blank / `N` (clear).
    pub(crate) fn flags<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[bool; N], DecodeError> {
        let at = self.pos;
        let bytes = self.take(N, field)?;
        let mut out = [false; N];
        for (slot, &b) in out.iter_mut().zip(bytes) {
            *slot = match b {
                b'Y' | b'y' => true,
                b' ' | b'N' | b'n' => false,
                _ => return Err(self.bad(field, at, "Y, N or blank in each position", bytes)),
            };
        }
        Ok(out)
    }
}

/// The decoded variable-length fields of one message, taken out one by one by the message reader;
/// what is left over is kept as the message's unknown fields.
pub(crate) struct Fields {
    fields: Vec<Field>,
    message: &'static str,
    strict: bool,
}

impl Fields {
    pub(crate) fn take(&mut self, code: FieldCode) -> Option<String> {
        let i = self.fields.iter().position(|f| f.code == code)?;
        Some(self.fields.remove(i).value)
    }

    /// A field the specification requires: missing reads as empty unless the dialect is strict.
    pub(crate) fn required(&mut self, code: FieldCode) -> Result<String, DecodeError> {
        match self.take(code) {
            Some(v) => Ok(v),
            None if self.strict => Err(DecodeError::MissingField {
                message: self.message,
                field: code,
            }),
            None => Ok(String::new()),
        }
    }

    pub(crate) fn all(&mut self, code: FieldCode) -> Vec<String> {
        let mut out = Vec::new();
        self.fields.retain(|f| {
            if f.code == code {
                out.push(f.value.clone());
                false
            } else {
                true
            }
        });
        out
    }

    /// A `Y`/`N` field; anything else reads as absent.
    pub(crate) fn yes_no(&mut self, code: FieldCode) -> Option<bool> {
        let i = self.fields.iter().position(|f| f.code == code)?;
        let v = match self.fields[i].value.as_str() {
            "Y" | "y" => true,
            "N" | "n" => false,
            _ => return None,
        };
        self.fields.remove(i);
        Some(v)
    }

    pub(crate) fn rest(self) -> Vec<Field> {
        self.fields
    }
}

/// The parts of a frame after the fixed-length fields.
pub(crate) struct Trailer {
    pub(crate) fields: Fields,
    pub(crate) sequence: Option<u8>,
    pub(crate) checksum: bool,
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
pub(crate) fn read_fields(
    frame: &[u8],
    start: usize,
    dialect: &Dialect,
    message: &'static str,
) -> Result<Trailer, DecodeError> {
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
            dialect
                .charset
                .decode(&body[value_at..end])
                .map_err(|i| DecodeError::Encoding {
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
    Ok(Trailer {
        fields: Fields {
            fields,
            message,
            strict: dialect.strict_required_fields,
        },
        sequence,
        checksum: checksum_seen,
    })
}

/// Writes one message.
pub(crate) struct Writer<'d> {
    pub(crate) buf: Vec<u8>,
    dialect: &'d Dialect,
}

impl<'d> Writer<'d> {
    pub(crate) fn new(id: &[u8; 2], dialect: &'d Dialect) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(id);
        Self { buf, dialect }
    }

    pub(crate) fn yes_no(&mut self, v: bool) {
        self.buf.push(if v { b'Y' } else { b'N' });
    }

    pub(crate) fn yes_no_unknown(&mut self, v: Option<bool>) {
        self.buf.push(match v {
            Some(true) => b'Y',
            Some(false) => b'N',
            None => b'U',
        });
    }

    pub(crate) fn one_zero(&mut self, v: bool) {
        self.buf.push(if v { b'1' } else { b'0' });
    }

    pub(crate) fn number(
        &mut self,
        v: u16,
        width: usize,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        if u32::from(v) >= 10u32.pow(width as u32) {
            return Err(EncodeError::FixedOverflow {
                field,
                value: v.to_string(),
                width,
            });
        }
        push_digits(&mut self.buf, u32::from(v), width);
        Ok(())
    }

    /// Fixed-width ASCII text, padded with blanks.
    pub(crate) fn text(
        &mut self,
        v: &str,
        width: usize,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        if v.len() > width || !v.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(EncodeError::FixedOverflow {
                field,
                value: v.to_owned(),
                width,
            });
        }
        self.buf.extend_from_slice(v.as_bytes());
        self.buf.extend(std::iter::repeat_n(b' ', width - v.len()));
        Ok(())
    }

    pub(crate) fn language(&mut self, l: crate::Language) {
        self.buf.extend_from_slice(&l.0);
    }

    /// An 18-character date; an impossible one is refused, not sent.
    pub(crate) fn date(&mut self, d: &SipDate, field: &'static str) -> Result<(), EncodeError> {
        if !d.is_valid() {
            return Err(EncodeError::InvalidDate {
                field,
                value: d.to_string(),
            });
        }
        d.write(&mut self.buf);
        Ok(())
    }

    /// A request's optional date (nb due date, return date). Without one, the transaction date
    /// is written, never 18 blanks: servers that validate the date format close the connection
    /// on blanks, and deployed clients send the transaction date there (Koha's
    /// `misc/sip_cli_emulator.pl`: `$nb_due_date ||= $transaction_date`, `$return_date ||=
    /// $transaction_date`; pysip2's `checkout_request` and `checkin_request` default both to
    /// the current date).
    pub(crate) fn date_or_transaction(
        &mut self,
        d: Option<&SipDate>,
        transaction: &SipDate,
        field: &'static str,
    ) -> Result<(), EncodeError> {
        self.date(d.unwrap_or(transaction), field)
    }

    pub(crate) fn flags(&mut self, flags: &[bool]) {
        self.buf
            .extend(flags.iter().map(|&f| if f { b'Y' } else { b' ' }));
    }

    /// A field that is always written, empty or not.
    pub(crate) fn field(&mut self, code: FieldCode, value: &str) -> Result<(), EncodeError> {
        let charset: Charset = self.dialect.charset;
        if value
            .bytes()
            .any(|b| b == self.dialect.delimiter || b < 0x20 || b == 0x7F)
        {
            return Err(EncodeError::ForbiddenCharacter { field: code });
        }
        self.buf.extend_from_slice(&code.0);
        if code.must_be_exact() {
            charset.encode_into(value, &mut self.buf).map_err(|ch| {
                EncodeError::Unrepresentable {
                    field: code,
                    ch,
                    charset,
                }
            })?;
        } else {
            charset.encode_transliterated(value, &mut self.buf);
        }
        self.buf.push(self.dialect.delimiter);
        Ok(())
    }

    /// An optional field: written when it has a value, or when the dialect wants it sent empty.
    pub(crate) fn optional(
        &mut self,
        code: FieldCode,
        value: Option<&str>,
    ) -> Result<(), EncodeError> {
        match value {
            Some(v) => self.field(code, v),
            None if self.dialect.send_empty.contains(&code) => self.field(code, ""),
            None => Ok(()),
        }
    }

    pub(crate) fn optional_yes_no(
        &mut self,
        code: FieldCode,
        value: Option<bool>,
    ) -> Result<(), EncodeError> {
        self.optional(code, value.map(|v| if v { "Y" } else { "N" }))
    }

    pub(crate) fn repeated(
        &mut self,
        code: FieldCode,
        values: &[String],
    ) -> Result<(), EncodeError> {
        values.iter().try_for_each(|v| self.field(code, v))
    }

    pub(crate) fn extra(&mut self, fields: &[Field]) -> Result<(), EncodeError> {
        fields.iter().try_for_each(|f| self.field(f.code, &f.value))
    }

    /// Appends AY and AZ when the dialect does error detection, then the terminator.
    pub(crate) fn finish(mut self, sequence: Option<u8>) -> Result<Vec<u8>, EncodeError> {
        if self.dialect.error_detection {
            if let Some(seq) = sequence {
                self.buf.extend_from_slice(b"AY");
                self.buf.push(b'0' + seq % 10);
            }
            self.buf.extend_from_slice(b"AZ");
            let sum = checksum(&self.buf);
            self.buf.extend_from_slice(format!("{sum:04X}").as_bytes());
        }
        if self.buf.len() > self.dialect.max_message_len {
            return Err(EncodeError::TooLong {
                len: self.buf.len(),
                max: self.dialect.max_message_len,
            });
        }
        self.buf.extend_from_slice(self.dialect.terminator.bytes());
        Ok(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_the_spec_resend_example() {
        // "97AZFEF5" is the specification's Request ACS Resend example.
        assert_eq!(checksum(b"97AZ"), 0xFEF5);
    }

    #[test]
    fn checksum_wraps_at_sixteen_bits() {
        let long = vec![0xFFu8; 300];
        let sum: u32 = 300 * 0xFF;
        assert_eq!(
            checksum(&long),
            ((0x1_0000 - (sum & 0xFFFF)) & 0xFFFF) as u16
        );
        assert_eq!(checksum(b""), 0);
    }
}
