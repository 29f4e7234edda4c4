//! ISO 28560-3: the Danish data model's fixed basic block, and structured extension blocks.
//!
//! | bytes | content |
//! |---|---|
//! | 0 | version (high nibble, 1) and type of usage (low nibble) |
//! | 1, 2 | number of parts in the item, this part's number |
//! | 3..19 | primary item identifier, NUL-padded |
//! | 19, 20 | CRC-16 of bytes 0..19 and 21..34 (low byte first) |
//! | 21..34 | owner ISIL without the hyphen after the country (11 bytes on a 32-byte tag) |
//! | 34.. | extension blocks: length, ID (2 bytes, low first), XOR check, fields; 0 ends |

use crate::crc::crc16;

/// A decoded ISO 28560-3 tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part3 {
    /// Data model version (1).
    pub version: u8,
    /// Type of usage class (0 acquisition, 1 circulating, 2 not for circulation, 7 discarded,
    /// 8 patron card, 9 equipment, …).
    pub usage: u8,
    /// Number of parts in the item (0 is read as 1).
    pub parts: u8,
    /// This tag's part number.
    pub part: u8,
    /// The primary item identifier (the barcode).
    pub item: String,
    /// The owner library's ISIL (`FI-Mamk-M`), empty when the tag has none.
    pub isil: String,
    /// Extension blocks, as found (unknown ones kept).
    pub extensions: Vec<Extension>,
}

/// One structured extension block; its XOR check is recomputed on encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Block ID (1 library, 2 acquisition, 3 supplement, 4 title, 5 ILL, others local).
    pub id: u16,
    /// The block's fields, as stored (each ended by 0x00).
    pub data: Vec<u8>,
}

/// How the tag's bytes had to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// Each 4-byte block arrived reversed (some readers and encoders).
    pub reversed_blocks: bool,
    /// Byte 0's nibbles were swapped (some encoders).
    pub swapped_nibbles: bool,
    /// An extension block was damaged; it and the ones after it were dropped.
    pub damaged_extensions: bool,
}

/// Why bytes are not an ISO 28560-3 tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Part3Error {
    /// Fewer than the 32 bytes of the basic block.
    #[error("{0} bytes is too short for an ISO 28560-3 block (32 needed)")]
    TooShort(usize),
    /// The CRC matches in neither byte order.
    #[error("ISO 28560-3 CRC does not match (stored {stored:#06X}, computed {computed:#06X})")]
    Crc {
        /// The CRC on the tag.
        stored: u16,
        /// The CRC of the data.
        computed: u16,
    },
    /// The item identifier holds bytes that are not printable text.
    #[error("the item identifier is not printable text")]
    ItemNotText,
    /// The item identifier is empty.
    #[error("the tag has no item identifier")]
    NoItem,
    /// A field too long for its place.
    #[error("{field} is {len} bytes, at most {max} fit")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The room.
        max: usize,
    },
    /// An owner ISIL the block cannot hold as it is: it would read back otherwise (a two-letter
    /// country prefix is stored without its hyphen and read with one; text is trimmed).
    #[error("the ISIL {0:?} would not read back as it was written")]
    Isil(String),
    /// A tag memory size the block cannot be written to.
    #[error("a {0}-byte memory cannot hold the block (32, or 34 and more)")]
    MemorySize(usize),
}

fn stored_crc(m: &[u8]) -> u16 {
    u16::from(m[19]) | u16::from(m[20]) << 8
}

fn computed_crc(m: &[u8]) -> u16 {
    let tail: Vec<u8> = if m.len() >= 34 {
        m[21..34].to_vec()
    } else {
        let mut t = m[21..32].to_vec();
        t.extend([0, 0]);
        t
    };
    crc16(m[..19].iter().copied().chain(tail))
}

/// Reverses the bytes of every 4-byte block (the fix for readers that hand them over MSB
/// first); a trailing partial block is left as it is.
pub fn reverse_blocks(m: &[u8]) -> Vec<u8> {
    let mut out = m.to_vec();
    for block in out.chunks_exact_mut(4) {
        block.reverse();
    }
    out
}

fn text(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let s = std::str::from_utf8(&bytes[..end]).ok()?;
    crate::printable(s).map(str::to_owned)
}

/// The owner ISIL as read from its field (without the hyphen after a two-letter country
/// prefix, which is put back); empty when there is none or it is not text.
fn isil_read(field: &[u8]) -> String {
    let stored = text(field).unwrap_or_default();
    match stored.char_indices().nth(2) {
        Some((i, c)) if c != '-' && stored[..i].chars().all(|c| c.is_ascii_alphabetic()) => {
            format!("{}-{}", &stored[..i], &stored[i..])
        }
        _ => stored,
    }
}

/// The owner ISIL as stored: the hyphen after a two-letter country prefix left out, when
/// [`isil_read`] puts it back.
fn isil_stored(isil: &str) -> String {
    match isil.split_once('-') {
        Some((country, rest))
            if country.len() == 2
                && country.chars().all(|c| c.is_ascii_alphabetic())
                && !rest.is_empty()
                && !rest.starts_with('-') =>
        {
            format!("{country}{rest}")
        }
        _ => isil.to_owned(),
    }
}

/// Tells whether `memory` carries a valid ISO 28560-3 block (in either block order).
pub fn looks_like(memory: &[u8]) -> bool {
    memory.len() >= 32
        && (stored_crc(memory) == computed_crc(memory) || {
            let r = reverse_blocks(memory);
            stored_crc(&r) == computed_crc(&r)
        })
}

/// Decodes a tag's user memory (32 bytes or more).
pub fn decode(memory: &[u8]) -> Result<(Part3, Quirks), Part3Error> {
    if memory.len() < 32 {
        return Err(Part3Error::TooShort(memory.len()));
    }
    let direct = stored_crc(memory) == computed_crc(memory);
    let r = reverse_blocks(memory);
    let reversed = stored_crc(&r) == computed_crc(&r);
    let turned = Quirks {
        reversed_blocks: true,
        ..Quirks::default()
    };
    match (direct, reversed) {
        (false, false) => Err(Part3Error::Crc {
            stored: stored_crc(memory),
            computed: computed_crc(memory),
        }),
        (true, false) => fields(memory.to_vec(), Quirks::default()),
        (false, true) => fields(r, turned),
        // The CRC holds in both orders (a 16-bit check does, now and then): the order whose
        // fields read is the tag's.
        (true, true) => {
            fields(memory.to_vec(), Quirks::default()).or_else(|e| fields(r, turned).map_err(|_| e))
        }
    }
}

/// The fields of a block whose CRC holds, in the order given.
fn fields(m: Vec<u8>, mut quirks: Quirks) -> Result<(Part3, Quirks), Part3Error> {
    let (mut version, mut usage) = (m[0] >> 4, m[0] & 0x0F);
    if !(1..=2).contains(&version) && usage == 1 {
        quirks.swapped_nibbles = true;
        (version, usage) = (usage, version);
    }
    let item = text(&m[3..19]).ok_or(Part3Error::ItemNotText)?;
    if item.is_empty() {
        return Err(Part3Error::NoItem);
    }
    let isil = isil_read(&m[21..m.len().min(34)]);
    let mut extensions = Vec::new();
    let mut at = 34;
    while at < m.len() {
        let len = usize::from(m[at]);
        match len {
            0 => break,
            1 => {
                at += 1;
                continue;
            }
            _ => {}
        }
        let Some(block) = m.get(at..at + len).filter(|_| len >= 4) else {
            quirks.damaged_extensions = true;
            break;
        };
        if block.iter().fold(0u8, |x, b| x ^ b) != 0 {
            quirks.damaged_extensions = true;
            break;
        }
        extensions.push(Extension {
            id: u16::from(block[1]) | u16::from(block[2]) << 8,
            data: block[4..].to_vec(),
        });
        at += len;
    }
    Ok((
        Part3 {
            version,
            usage,
            parts: m[1].max(1),
            part: m[2].max(1),
            item,
            isil,
            extensions,
        },
        quirks,
    ))
}

/// Encodes `tag` into `memory_len` bytes (32 for an 8-block tag, or 34 and more for
/// extension blocks), in the standard block order. A tag that would not [`decode`] to
/// itself is refused: an item identifier or ISIL with surrounding white space or control
/// characters, or an ISIL that reads back otherwise.
pub fn encode(tag: &Part3, memory_len: usize) -> Result<Vec<u8>, Part3Error> {
    if memory_len < 32 || memory_len == 33 {
        return Err(Part3Error::MemorySize(memory_len));
    }
    let mut m = vec![0u8; memory_len];
    m[0] = (tag.version & 0x0F) << 4 | (tag.usage & 0x0F);
    m[1] = tag.parts;
    m[2] = tag.part;
    let item = tag.item.as_bytes();
    if item.is_empty() {
        return Err(Part3Error::NoItem);
    }
    if crate::printable(&tag.item) != Some(tag.item.as_str()) {
        return Err(Part3Error::ItemNotText);
    }
    if item.len() > 16 {
        return Err(Part3Error::TooLong {
            field: "the item identifier",
            len: item.len(),
            max: 16,
        });
    }
    m[3..3 + item.len()].copy_from_slice(item);
    let isil = isil_stored(&tag.isil);
    if isil_read(isil.as_bytes()) != tag.isil {
        return Err(Part3Error::Isil(tag.isil.clone()));
    }
    let room = memory_len.min(34) - 21;
    if isil.len() > room {
        return Err(Part3Error::TooLong {
            field: "the ISIL",
            len: isil.len(),
            max: room,
        });
    }
    m[21..21 + isil.len()].copy_from_slice(isil.as_bytes());
    let mut at = 34;
    for ext in &tag.extensions {
        let len = 4 + ext.data.len();
        if len > 255 || at + len > memory_len {
            return Err(Part3Error::TooLong {
                field: "the extension blocks",
                len: at + len,
                max: memory_len,
            });
        }
        let [lo, hi] = ext.id.to_le_bytes();
        let mut block = vec![len as u8, lo, hi, 0];
        block.extend(&ext.data);
        block[3] = block.iter().fold(0, |x, b| x ^ b);
        m[at..at + len].copy_from_slice(&block);
        at += len;
    }
    let crc = computed_crc(&m);
    m[19..21].copy_from_slice(&crc.to_le_bytes());
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

    /// libdanrfid's test tag (DDMDataTest).
    const DANISH: &str = "11 01 01 31 31 32 32 33 33 34 34 00 00 00 00 00 00 00 00 51 3E 44 45 37 30 35 00 00 00 00 00 00";
    /// ISO 28560-3 Annex B, example 2: two extension blocks.
    const ANNEX_B2: &str = "11 01 01 31 30 30 30 30 30 30 31 33 36 00 00 00 00 00 00 36 15 44 4B 37 31 38 35 30 30 00 00 00 00 00 \
        05 01 00 05 01 \
        22 02 00 71 42 6F 67 76 6F 67 6E 65 6E 00 31 32 33 34 35 36 37 38 39 30 00 00 61 37 38 39 36 35 36 63 \
        00";
    /// A Finnish library's tag (ISIL FI-Mamk-M) with a local block.
    const FINNISH: &str = "11 01 01 31 36 32 30 31 35 34 34 32 39 00 00 00 00 00 00 C4 CF 46 49 4D 61 6D 6B 2D 4D 00 00 00 00 00 \
        06 65 00 76 74 61 00 00 00 00";

    #[test]
    fn published_tags_decode_to_their_published_values() {
        let (t, q) = decode(&hex(DANISH)).unwrap();
        assert_eq!((t.version, t.usage, t.parts, t.part), (1, 1, 1, 1));
        assert_eq!((t.item.as_str(), t.isil.as_str()), ("11223344", "DE-705"));
        assert_eq!(q, Quirks::default());

        let (t, _) = decode(&hex(ANNEX_B2)).unwrap();
        assert_eq!(
            (t.item.as_str(), t.isil.as_str()),
            ("1000000136", "DK-718500")
        );
        assert_eq!(t.extensions.len(), 2);
        assert_eq!(
            t.extensions[0],
            Extension {
                id: 1,
                data: vec![1]
            }
        );
        assert!(t.extensions[1].data.starts_with(b"Bogvognen\0"));

        let (t, q) = decode(&hex(FINNISH)).unwrap();
        assert_eq!(
            (t.item.as_str(), t.isil.as_str()),
            ("1620154429", "FI-Mamk-M")
        );
        assert_eq!(
            t.extensions,
            vec![Extension {
                id: 0x65,
                data: b"ta".to_vec()
            }]
        );
        assert!(!q.damaged_extensions);
    }

    #[test]
    fn published_tags_encode_back_to_their_bytes() {
        for (fixture, len) in [(DANISH, 32), (ANNEX_B2, 74)] {
            let bytes = hex(fixture);
            let (t, _) = decode(&bytes).unwrap();
            assert_eq!(encode(&t, len).unwrap(), bytes);
        }
    }

    #[test]
    fn reversed_blocks_and_swapped_nibbles_are_tolerated() {
        let (t, q) = decode(&reverse_blocks(&hex(DANISH))).unwrap();
        assert!(q.reversed_blocks);
        assert_eq!(t.item, "11223344");
        let mut swapped = hex(DANISH);
        swapped[0] = 0x71; // a discarded item, as some encoders write it
        let crc = computed_crc(&swapped);
        swapped[19..21].copy_from_slice(&crc.to_le_bytes());
        let (t, q) = decode(&swapped).unwrap();
        assert!(q.swapped_nibbles);
        assert_eq!((t.version, t.usage), (1, 7));
    }

    #[test]
    fn damaged_tags_give_their_reason() {
        let mut bad = hex(DANISH);
        bad[5] ^= 0x01;
        assert!(matches!(decode(&bad), Err(Part3Error::Crc { .. })));
        assert_eq!(decode(&[0u8; 12]), Err(Part3Error::TooShort(12)));
        assert!(!looks_like(&[0u8; 32]));
        // An ISIL field starting with a multi-byte character (found by review: it panicked).
        let mut odd = hex(DANISH);
        odd[21..24].copy_from_slice(
            "ä".as_bytes()
                .iter()
                .chain(b"X")
                .copied()
                .collect::<Vec<_>>()
                .as_slice(),
        );
        let crc = computed_crc(&odd);
        odd[19..21].copy_from_slice(&crc.to_le_bytes());
        assert!(decode(&odd).is_ok());
        let mut ext = hex(ANNEX_B2);
        ext[40] ^= 0xFF; // inside the acquisition block: its XOR check fails
        let (t, q) = decode(&ext).unwrap();
        assert!(q.damaged_extensions);
        assert_eq!(t.extensions.len(), 1, "the good block before it is kept");
    }

    #[test]
    fn what_would_read_back_otherwise_is_not_written() {
        let tag = |item: &str, isil: &str| Part3 {
            version: 1,
            usage: 1,
            parts: 1,
            part: 1,
            item: item.into(),
            isil: isil.into(),
            extensions: vec![],
        };
        for item in [" 1", "1 ", "1\u{7}2", "1\u{0}"] {
            assert_eq!(
                encode(&tag(item, ""), 32),
                Err(Part3Error::ItemNotText),
                "{item:?}"
            );
        }
        for isil in ["ABC", " FI-X", "FI-\u{1}"] {
            assert_eq!(
                encode(&tag("1", isil), 32),
                Err(Part3Error::Isil(isil.into())),
                "{isil:?}"
            );
        }
        // Written with its hyphen, as decoding reads it back.
        for isil in ["A1-B", "FI--X", "FI-", "DE-705"] {
            let bytes = encode(&tag("1", isil), 32).unwrap();
            assert_eq!(decode(&bytes).unwrap().0.isil, isil);
        }
    }

    #[test]
    fn a_reversed_tag_whose_crc_also_holds_as_given_is_read_in_its_own_order() {
        // Found by the round-trip property below: these blocks, reversed, still pass the CRC
        // as given, where the item's first byte is the version and usage (not text).
        let tag = Part3 {
            version: 1,
            usage: 9,
            parts: 4,
            part: 4,
            item: "1ST298Y376".into(),
            isil: "SE-zDKF605".into(),
            extensions: vec![],
        };
        let turned = reverse_blocks(&encode(&tag, 32).unwrap());
        assert_eq!(stored_crc(&turned), computed_crc(&turned));
        let (read, quirks) = decode(&turned).unwrap();
        assert_eq!(read, tag);
        assert!(quirks.reversed_blocks);
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn tags_round_trip_in_both_block_orders(
            item in "[0-9A-Z]{1,16}",
            isil in "(FI|SE|DK)-[A-Za-z0-9]{1,8}",
            parts in 1u8..9,
            usage in 0u8..10,
        ) {
            let tag = Part3 { version: 1, usage, parts, part: parts, item, isil, extensions: vec![] };
            let bytes = encode(&tag, 32).unwrap();
            prop_assert_eq!(&decode(&bytes).unwrap().0, &tag);
            prop_assert_eq!(&decode(&reverse_blocks(&bytes)).unwrap().0, &tag);
        }
    }
}
