//! ISO 28560-2: data elements named by relative OIDs (ISO/IEC 15962, no directory), each
//! compacted by one of eight schemes.
//!
//! An element is `precursor [OID extension] [offset] length data [padding]`: the precursor's
//! bit 7 says an offset byte follows (that many pad bytes after the data, to fill whole
//! blocks), bits 6–4 name the compaction, bits 3–0 the relative OID (15 means 15 plus the next
//! byte). A precursor of 0 ends the data; 0x80 between elements is padding.

/// Relative OIDs of ISO 28560-1's data elements that the kiosk reads.
pub mod oid {
    /// Primary item identifier (mandatory, first).
    pub const PRIMARY_ITEM: u16 = 1;
    /// Content parameter: which optional elements are present.
    pub const CONTENT_PARAMETER: u16 = 2;
    /// Owner institution (ISIL).
    pub const OWNER: u16 = 3;
    /// Set information: number of parts, part number.
    pub const SET_INFORMATION: u16 = 4;
    /// Type of usage.
    pub const TYPE_OF_USAGE: u16 = 5;
    /// ONIX media format: an ONIX product form code (`BA` book, `VI` DVD video, `AC` audio CD).
    pub const ONIX_MEDIA_FORMAT: u16 = 7;
    /// ILL borrowing institution (ISIL).
    pub const ILL_BORROWING: u16 = 11;
    /// Alternative owner institution (ISIL).
    pub const ALTERNATIVE_OWNER: u16 = 23;
    /// Alternative ILL borrowing institution (ISIL).
    pub const ALTERNATIVE_ILL: u16 = 25;
}

/// Compaction schemes (precursor bits 6–4).
pub mod compaction {
    /// Application-defined (per OID: the ISIL code, a bitmap, a byte).
    pub const APPLICATION: u8 = 0;
    /// Unsigned integer, big-endian.
    pub const INTEGER: u8 = 1;
    /// Decimal digits, 4 bits each.
    pub const NUMERIC: u8 = 2;
    /// Upper-case letters, 5 bits each.
    pub const FIVE_BIT: u8 = 3;
    /// ASCII 0x20–0x5F, 6 bits each.
    pub const SIX_BIT: u8 = 4;
    /// ASCII, 7 bits each.
    pub const SEVEN_BIT: u8 = 5;
    /// Bytes (ISO 8859-1 text).
    pub const OCTETS: u8 = 6;
    /// UTF-8 text.
    pub const UTF8: u8 = 7;
}

/// One data element, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Relative OID.
    pub oid: u16,
    /// Compaction scheme (0–7).
    pub compaction: u8,
    /// The compacted bytes.
    pub data: Vec<u8>,
}

/// Why bytes are not ISO 28560-2 data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Part2Error {
    /// An element runs past the end of memory.
    #[error("a data element at byte {0} runs past the end of the tag memory")]
    Truncated(usize),
    /// The first element is not the primary item identifier.
    #[error("the first data element is OID {0}, not the primary item identifier")]
    NoItemFirst(u16),
    /// No data at all.
    #[error("the tag memory holds no data elements")]
    Empty,
    /// The primary item identifier is empty.
    #[error("the primary item identifier is empty")]
    NoItem,
    /// The primary item identifier holds control characters or surrounding white space.
    #[error("the primary item identifier is not printable text")]
    ItemNotText,
    /// A value that cannot be encoded in its element.
    #[error("{0} cannot be encoded")]
    Unencodable(&'static str),
}

/// Reads the elements of `memory`, in order.
pub fn elements(memory: &[u8]) -> Result<Vec<Element>, Part2Error> {
    let mut out = Vec::new();
    let mut at = 0;
    let byte = |i: usize| memory.get(i).copied().ok_or(Part2Error::Truncated(i));
    while at < memory.len() {
        let start = at;
        let p = memory[at];
        at += 1;
        match p {
            0x00 => break,
            0x80 => continue,
            _ => {}
        }
        let mut oid = u16::from(p & 0x0F);
        if oid == 0x0F {
            oid = 15 + u16::from(byte(at)?);
            at += 1;
        }
        let offset = if p & 0x80 != 0 {
            at += 1;
            usize::from(byte(at - 1)?)
        } else {
            0
        };
        let mut len = 0usize;
        loop {
            let b = byte(at)?;
            at += 1;
            len = (len << 7) | usize::from(b & 0x7F);
            if b & 0x80 == 0 || len > 0xFFFF {
                break;
            }
        }
        let data = memory
            .get(at..at + len)
            .ok_or(Part2Error::Truncated(start))?
            .to_vec();
        at += len + offset;
        out.push(Element {
            oid,
            compaction: (p >> 4) & 0x07,
            data,
        });
    }
    match out.first() {
        None => Err(Part2Error::Empty),
        Some(e) if e.oid != oid::PRIMARY_ITEM => Err(Part2Error::NoItemFirst(e.oid)),
        Some(_) => Ok(out),
    }
}

struct Bits<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: usize) -> Option<u8> {
        if self.at + n > self.bytes.len() * 8 {
            return None;
        }
        let mut v = 0u8;
        for _ in 0..n {
            let bit = self.bytes[self.at / 8] >> (7 - self.at % 8) & 1;
            v = v << 1 | bit;
            self.at += 1;
        }
        Some(v)
    }
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: usize,
}

impl BitWriter {
    fn put(&mut self, v: u8, n: usize) {
        for i in (0..n).rev() {
            if self.used % 8 == 0 {
                self.bytes.push(0);
            }
            if v >> i & 1 == 1 {
                if let Some(last) = self.bytes.last_mut() {
                    *last |= 1 << (7 - self.used % 8);
                }
            }
            self.used += 1;
        }
    }

    /// Fills the last byte with `bit`s.
    fn pad(mut self, bit: u8) -> Vec<u8> {
        while self.used % 8 != 0 {
            self.put(bit, 1);
        }
        self.bytes
    }
}

/// Decodes an element's data as text, by its compaction (application-defined ISIL elements
/// by the ISIL code; other application-defined data as hex).
pub fn text(e: &Element) -> String {
    let d = &e.data;
    match e.compaction {
        compaction::INTEGER => {
            let v = d.iter().fold(0u128, |v, &b| v << 8 | u128::from(b));
            v.to_string()
        }
        compaction::NUMERIC => d
            .iter()
            .flat_map(|b| [b >> 4, b & 0x0F])
            .take_while(|&n| n != 0x0F)
            .map(|n| char::from(b'0' + n.min(9)))
            .collect(),
        compaction::FIVE_BIT | compaction::SIX_BIT | compaction::SEVEN_BIT => {
            let width = usize::from(e.compaction) + 2;
            let mut bits = Bits { bytes: d, at: 0 };
            let mut s = String::new();
            while let Some(v) = bits.take(width) {
                let c = match width {
                    5 => 0x40 | v,
                    6 if v & 0x20 != 0 => v,
                    6 => 0x40 | v,
                    _ => v,
                };
                s.push(char::from(c));
            }
            match width {
                5 => s.trim_end_matches('@').to_owned(),
                // Six pad bits ("100000") read as a space: identifiers do not end in one.
                6 => s.trim_end_matches(' ').to_owned(),
                7 => s.trim_end_matches(['\u{7f}', '\0']).to_owned(),
                _ => s,
            }
        }
        compaction::OCTETS => d.iter().map(|&b| char::from(b)).collect(),
        compaction::UTF8 => String::from_utf8_lossy(d).into_owned(),
        _ if matches!(
            e.oid,
            oid::OWNER | oid::ILL_BORROWING | oid::ALTERNATIVE_OWNER | oid::ALTERNATIVE_ILL
        ) =>
        {
            isil_decode(d)
        }
        _ => d.iter().map(|b| format!("{b:02X}")).collect(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IsilMode {
    Upper,
    Lower,
    Numeric,
}

/// Decodes the ISIL code of ISO 28560-2 (5-bit letters with latches and shifts to lower case
/// and 4-bit digits, padded with 1 bits).
pub fn isil_decode(bytes: &[u8]) -> String {
    let mut bits = Bits { bytes, at: 0 };
    let mut mode = IsilMode::Upper;
    let mut shift: Option<IsilMode> = None;
    let mut s = String::new();
    loop {
        let m = shift.unwrap_or(mode);
        let width = if m == IsilMode::Numeric { 4 } else { 5 };
        let Some(v) = bits.take(width) else { break };
        shift = None;
        let mut set = |to: IsilMode, latch: bool| {
            if latch {
                mode = to;
            } else {
                shift = Some(to);
            }
        };
        match (m, v) {
            (IsilMode::Numeric, 0..=9) => s.push(char::from(b'0' + v)),
            (IsilMode::Numeric, 10) => s.push('-'),
            (IsilMode::Numeric, 11) => s.push(':'),
            (IsilMode::Numeric, 12) => set(IsilMode::Upper, true),
            (IsilMode::Numeric, 13) => set(IsilMode::Upper, false),
            (IsilMode::Numeric, 14) => set(IsilMode::Lower, true),
            (IsilMode::Numeric, _) => set(IsilMode::Lower, false),
            (_, 0) => s.push('-'),
            (IsilMode::Upper, 1..=26) => s.push(char::from(b'@' + v)),
            (IsilMode::Lower, 1..=26) => s.push(char::from(b'`' + v)),
            (IsilMode::Upper, 27) => s.push(':'),
            (IsilMode::Lower, 27) => s.push('/'),
            (IsilMode::Upper, 28) => set(IsilMode::Lower, true),
            (IsilMode::Upper, 29) => set(IsilMode::Lower, false),
            (IsilMode::Lower, 28) => set(IsilMode::Upper, true),
            (IsilMode::Lower, 29) => set(IsilMode::Upper, false),
            (_, 30) => set(IsilMode::Numeric, true),
            (_, _) => set(IsilMode::Numeric, false),
        }
    }
    s
}

fn isil_mode_of(c: char) -> Option<IsilMode> {
    match c {
        'A'..='Z' | ':' => Some(IsilMode::Upper),
        'a'..='z' | '/' => Some(IsilMode::Lower),
        '0'..='9' => Some(IsilMode::Numeric),
        _ => None,
    }
}

fn isil_value(mode: IsilMode, c: char) -> Option<u8> {
    let b = u8::try_from(c).ok()?;
    match (mode, c) {
        (IsilMode::Numeric, '0'..='9') => Some(b - b'0'),
        (IsilMode::Numeric, '-') => Some(10),
        (IsilMode::Numeric, ':') => Some(11),
        (_, '-') => Some(0),
        (IsilMode::Upper, 'A'..='Z') => Some(b - b'@'),
        (IsilMode::Upper, ':') | (IsilMode::Lower, '/') => Some(27),
        (IsilMode::Lower, 'a'..='z') => Some(b - b'`'),
        _ => None,
    }
}

/// The code that latches (or shifts) from `from` to `to`.
fn isil_switch(from: IsilMode, to: IsilMode, latch: bool) -> u8 {
    let l = u8::from(!latch);
    match (from, to) {
        (IsilMode::Numeric, IsilMode::Upper) => 12 + l,
        (IsilMode::Numeric, _) => 14 + l,
        (_, IsilMode::Numeric) => 30 + l,
        _ => 28 + l,
    }
}

/// Encodes an ISIL in the ISO 28560-2 ISIL code: a shift for a lone character of another kind,
/// a latch for a run.
pub fn isil_encode(isil: &str) -> Result<Vec<u8>, Part2Error> {
    let chars: Vec<char> = isil.chars().collect();
    let mut w = BitWriter::default();
    let mut mode = IsilMode::Upper;
    let width = |m: IsilMode| if m == IsilMode::Numeric { 4 } else { 5 };
    for (i, &c) in chars.iter().enumerate() {
        if let Some(v) = isil_value(mode, c) {
            w.put(v, width(mode));
            continue;
        }
        let to = isil_mode_of(c).ok_or(Part2Error::Unencodable("a character of the ISIL"))?;
        let run = chars
            .get(i + 1)
            .is_some_and(|&n| isil_value(to, n).is_some() && isil_value(mode, n).is_none());
        w.put(isil_switch(mode, to, run), width(mode));
        if run {
            mode = to;
        }
        let v = isil_value(to, c).ok_or(Part2Error::Unencodable("a character of the ISIL"))?;
        w.put(v, width(to));
    }
    Ok(w.pad(1))
}

/// Compacts a primary item identifier (or any text) the shortest way that keeps it exact:
/// [`text`] reads it back as `s`.
pub fn compact_text(s: &str) -> (u8, Vec<u8>) {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits && !s.starts_with('0') && s.len() <= 19 {
        if let Ok(v) = s.parse::<u64>() {
            let bytes = v.to_be_bytes();
            let first = bytes.iter().position(|&b| b != 0).unwrap_or(7);
            return (compaction::INTEGER, bytes[first..].to_vec());
        }
    }
    if digits {
        let mut w = BitWriter::default();
        for b in s.bytes() {
            w.put(b - b'0', 4);
        }
        return (compaction::NUMERIC, w.pad(1));
    }
    // Six-bit padding reads as a trailing space, so text that ends in one is not six-bit.
    if s.bytes().all(|b| (0x20..=0x5F).contains(&b)) && !s.ends_with(' ') {
        let mut w = BitWriter::default();
        for b in s.bytes() {
            w.put(b & 0x3F, 6);
        }
        // Pad with "100000" cut short: a decoder cannot mistake it for a character.
        let mut bytes = w.bytes;
        let used = w.used;
        if used % 8 != 0 {
            if let Some(last) = bytes.last_mut() {
                *last |= 1 << (7 - used % 8);
            }
        }
        return (compaction::SIX_BIT, bytes);
    }
    if s.chars().all(|c| u32::from(c) < 0x100) {
        return (compaction::OCTETS, s.chars().map(|c| c as u8).collect());
    }
    (compaction::UTF8, s.as_bytes().to_vec())
}

/// Writes elements into `memory_len` bytes: the first (the primary item identifier) padded
/// with 0x80 to whole 4-byte blocks and `extra_blocks` more, then the rest, then 0x00 to the
/// end. An element that would read back otherwise (one whose precursor is 0x00, the end
/// mark) is refused.
pub fn write(
    elements: &[Element],
    memory_len: usize,
    extra_blocks: usize,
) -> Result<Vec<u8>, Part2Error> {
    let mut m = Vec::with_capacity(memory_len);
    for (i, e) in elements.iter().enumerate() {
        let len = u8::try_from(e.data.len())
            .ok()
            .filter(|l| *l < 0x80)
            .ok_or(Part2Error::Unencodable("a data element over 127 bytes"))?;
        let oid_nibble = if e.oid >= 15 { 0x0F } else { e.oid as u8 };
        let first = i == 0;
        if e.compaction > 7 {
            return Err(Part2Error::Unencodable("a compaction scheme over 7"));
        }
        let mut header = vec![e.compaction << 4 | oid_nibble];
        if header[0] == 0 {
            return Err(Part2Error::Unencodable(
                "an element of OID 0 in compaction 0 (it reads as the end of the data)",
            ));
        }
        if e.oid >= 15 {
            header.push(
                u8::try_from(e.oid - 15).map_err(|_| Part2Error::Unencodable("an OID over 270"))?,
            );
        }
        let pad = if first {
            header[0] |= 0x80;
            (4 - (header.len() + 2 + e.data.len()) % 4) % 4 + 4 * extra_blocks
        } else {
            0
        };
        if first {
            header.push(
                u8::try_from(pad).map_err(|_| Part2Error::Unencodable("padding over 255 bytes"))?,
            );
        }
        header.push(len);
        m.extend(header);
        m.extend(&e.data);
        m.extend(std::iter::repeat_n(0x80, pad));
    }
    if m.len() > memory_len {
        return Err(Part2Error::Unencodable("the data (too long for the tag)"));
    }
    m.resize(memory_len, 0);
    Ok(m)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn isil_vectors_from_the_standard_and_real_tags() {
        for (isil, bytes) in [
            ("DE-Heu1", "21 40 8E 16 BF 1F"),
            ("FI-Mamk-M", "32 40 DE 05 AB 07 5B"),
            ("US-InU-Mu", "AC C0 9E BA A0 6F 6B"),
        ] {
            assert_eq!(isil_decode(&hex(bytes)), isil, "decoding {bytes}");
            assert_eq!(isil_encode(isil).unwrap(), hex(bytes), "encoding {isil}");
        }
    }

    #[test]
    fn a_finnish_libraries_tag_reads_element_by_element() {
        let m = hex(
            "91 01 04 60 91 CE 43 80 02 01 A8 05 01 10 67 02 42 41 03 07 32 40 DE 05 AB 07 5B 00 00 00 00 00",
        );
        let e = elements(&m).unwrap();
        assert_eq!(e.iter().map(|e| e.oid).collect::<Vec<_>>(), [1, 2, 5, 7, 3]);
        assert_eq!(text(&e[0]), "1620168259");
        assert_eq!(e[2].data, [0x10]);
        assert_eq!(text(&e[3]), "BA");
        assert_eq!(text(&e[4]), "FI-Mamk-M");
    }

    #[test]
    fn the_standards_annex_d_example_reads_element_by_element() {
        let m = hex(
            "91 00 05 1C BE 99 1A 14 02 01 D0 14 02 04 B3 46 07 44 1C B6 E2 E3 35 D6 83 02 07 AC C0 9E BA A0 6F 6B 00 00",
        );
        let e = elements(&m).unwrap();
        assert_eq!(text(&e[0]), "123456789012");
        assert_eq!(text(&e[2]), "1203");
        assert_eq!(text(&e[3]), "QA268.L55");
        assert_eq!(text(&e[4]), "US-InU-Mu");
    }

    #[test]
    fn compaction_vectors() {
        assert_eq!(compact_text("123456789012"), (1, hex("1C BE 99 1A 14")));
        assert_eq!(compact_text("0410"), (2, hex("04 10")));
        assert_eq!(compact_text("410"), (1, hex("01 9A")));
        assert_eq!(compact_text("ABC123456"), (4, hex("04 20 F1 CB 3D 35 DA")));
        assert_eq!(compact_text("AB12XY"), (4, hex("04 2C 72 61 98")));
        assert_eq!(compact_text("HE0000001a").0, compaction::OCTETS);
        assert_eq!(compact_text("Ω1").0, compaction::UTF8);
        // Six-bit padding reads as a space: a trailing one needs whole bytes.
        assert_eq!(compact_text("A "), (compaction::OCTETS, b"A ".to_vec()));
    }

    #[test]
    fn broken_element_lists_give_their_reason() {
        assert_eq!(elements(&[0; 8]), Err(Part2Error::Empty));
        assert_eq!(
            elements(&hex("03 02 32 40")),
            Err(Part2Error::NoItemFirst(3))
        );
        assert!(matches!(
            elements(&hex("11 09 01 02")),
            Err(Part2Error::Truncated(_))
        ));
    }

    proptest! {
        #[test]
        fn any_text_compacts_and_reads_back(s in "[ -~]{0,20}|[0-9]{1,19}|[A-Z0-9\\-]{1,16}|[a-zåäöÅÄÖ]{1,10}") {
            let (c, data) = compact_text(&s);
            let e = Element { oid: 1, compaction: c, data };
            prop_assert_eq!(text(&e), s);
        }

        #[test]
        fn any_isil_round_trips(s in "[A-Z]{2}-[A-Za-z0-9:/\\-]{1,12}") {
            prop_assert_eq!(isil_decode(&isil_encode(&s).unwrap()), s);
        }

        #[test]
        fn any_bytes_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(es) = elements(&bytes) {
                for e in &es {
                    let _ = text(e);
                }
            }
        }
    }
}
