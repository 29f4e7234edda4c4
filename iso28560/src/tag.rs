//! An item's tag, whichever data model wrote it.

use crate::part2::{self, Element, Part2Error, compaction, oid};
use crate::part3::{self, Part3, Part3Error, Quirks};

/// ISO 28560's DSFID for part 2 data (ISO/IEC 15962 access method, data format 6).
pub const DSFID_PART2: u8 = 0x06;
/// ISO 28560's DSFID for part 3 data.
pub const DSFID_PART3: u8 = 0x3E;

/// Which encoding a tag uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataModel {
    /// ISO 28560-2: relative OIDs with compaction.
    Part2,
    /// ISO 28560-3: the fixed block.
    Part3,
}

/// Type of usage: class in the high nibble (0 acquisition, 1 circulating, 2 not for
/// circulation, 7 discarded, 8 patron card, 9 equipment), qualifier in the low.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage(pub u8);

impl Usage {
    /// An item for circulation.
    pub const CIRCULATING: Usage = Usage(0x10);
    /// An item not for circulation (reference).
    pub const NOT_FOR_CIRCULATION: Usage = Usage(0x20);
    /// A discarded item.
    pub const DISCARDED: Usage = Usage(0x70);
    /// A patron's card.
    pub const PATRON_CARD: Usage = Usage(0x80);

    /// The class nibble.
    pub fn class(self) -> u8 {
        self.0 >> 4
    }

    /// The tag is on an item that can be lent.
    pub fn lendable(self) -> bool {
        self.class() == 1
    }
}

/// What a library tag says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemTag {
    /// The encoding.
    pub model: DataModel,
    /// The primary item identifier: the barcode the library system knows.
    pub item: String,
    /// The owner library's ISIL, when on the tag.
    pub owner: Option<String>,
    /// Number of parts in the item (1 for a single-part item).
    pub parts: u8,
    /// This tag's part number (1-based).
    pub part: u8,
    /// Type of usage, when on the tag.
    pub usage: Option<Usage>,
    /// Part 3: the version and extension blocks; part 2: every element not named above.
    pub kept: Kept,
}

/// Data on the tag the kiosk does not use, kept so that re-encoding loses nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// ISO 28560-3.
    Part3 {
        /// Data model version.
        version: u8,
        /// Extension blocks.
        extensions: Vec<part3::Extension>,
    },
    /// ISO 28560-2: other elements, in tag order.
    Part2(Vec<Element>),
}

/// Why a tag's memory is not an item's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// The memory is all zeros (a new tag) or all ones.
    #[error("the tag is blank")]
    Blank,
    /// Neither data model fits.
    #[error("the tag's data is in no known library format")]
    Unrecognised,
    /// It looks like part 3 but is damaged.
    #[error("ISO 28560-3: {0}")]
    Part3(#[from] Part3Error),
    /// It looks like part 2 but is damaged.
    #[error("ISO 28560-2: {0}")]
    Part2(#[from] Part2Error),
    /// A set of parts that does not add up (part 0, or part 3 of 2).
    #[error("part {part} of {parts} is not a valid set")]
    BadSet {
        /// The part number.
        part: u8,
        /// The number of parts.
        parts: u8,
    },
}

fn plausible_part2(m: &[u8]) -> bool {
    m.first()
        .is_some_and(|&p| p & 0x0F == 1 && (1..=7).contains(&(p >> 4 & 7)))
}

/// Decodes a tag's user memory. `dsfid` is the tag's DSFID when the reader gave it; the data is
/// sniffed either way (a valid part 3 CRC, or a part 2 element list that starts with the item
/// identifier), in both block byte orders. A DSFID of part 2 wins over a part 3 CRC (any bytes
/// can carry a valid one by chance: one part 2 tag in 32768) as long as the part 2 data reads.
pub fn decode(memory: &[u8], dsfid: Option<u8>) -> Result<(ItemTag, Quirks), TagError> {
    if memory.iter().all(|&b| b == 0) || memory.iter().all(|&b| b == 0xFF) {
        return Err(TagError::Blank);
    }
    let crc = part3::looks_like(memory);
    let tag = if dsfid == Some(DSFID_PART3) || (crc && dsfid != Some(DSFID_PART2)) {
        part3_tag(memory)?
    } else {
        match part2_memory(memory, dsfid) {
            Ok(tag) => tag,
            Err(_) if crc => part3_tag(memory)?,
            Err(e) => return Err(e),
        }
    };
    let t = &tag.0;
    if t.part == 0 || t.part > t.parts {
        return Err(TagError::BadSet {
            part: t.part,
            parts: t.parts,
        });
    }
    Ok(tag)
}

fn part3_tag(memory: &[u8]) -> Result<(ItemTag, Quirks), TagError> {
    let (p, q) = part3::decode(memory)?;
    Ok((
        ItemTag {
            model: DataModel::Part3,
            item: p.item,
            owner: (!p.isil.is_empty()).then_some(p.isil),
            parts: p.parts,
            part: p.part,
            usage: Some(Usage(p.usage << 4)),
            kept: Kept::Part3 {
                version: p.version,
                extensions: p.extensions,
            },
        },
        q,
    ))
}

fn part2_memory(memory: &[u8], dsfid: Option<u8>) -> Result<(ItemTag, Quirks), TagError> {
    let reversed = part3::reverse_blocks(memory);
    let (m, quirks) = if plausible_part2(memory) || dsfid == Some(DSFID_PART2) {
        (memory.to_vec(), Quirks::default())
    } else if plausible_part2(&reversed) {
        (
            reversed,
            Quirks {
                reversed_blocks: true,
                ..Quirks::default()
            },
        )
    } else {
        return Err(TagError::Unrecognised);
    };
    Ok((part2_tag(&part2::elements(&m)?)?, quirks))
}

fn part2_tag(elements: &[Element]) -> Result<ItemTag, TagError> {
    let mut tag = ItemTag {
        model: DataModel::Part2,
        item: String::new(),
        owner: None,
        parts: 1,
        part: 1,
        usage: None,
        kept: Kept::Part2(Vec::new()),
    };
    let mut kept = Vec::new();
    for e in elements {
        match e.oid {
            oid::PRIMARY_ITEM => {
                tag.item = crate::printable(&part2::text(e))
                    .ok_or(Part2Error::ItemNotText)?
                    .to_owned();
            }
            oid::OWNER if e.compaction == compaction::APPLICATION => {
                tag.owner = Some(part2::text(e))
            }
            oid::SET_INFORMATION => {
                let digits = part2::text(e);
                let half = digits.len() / 2;
                if digits.len() % 2 == 0 && half > 0 && digits.bytes().all(|b| b.is_ascii_digit()) {
                    tag.parts = digits[..half].parse().unwrap_or(0);
                    tag.part = digits[half..].parse().unwrap_or(0);
                } else {
                    kept.push(e.clone());
                }
            }
            oid::TYPE_OF_USAGE if e.data.len() == 1 => tag.usage = Some(Usage(e.data[0])),
            // Derived from the others on encoding.
            oid::CONTENT_PARAMETER => {}
            _ => kept.push(e.clone()),
        }
    }
    if tag.item.is_empty() {
        return Err(TagError::Part2(Part2Error::NoItem));
    }
    tag.kept = Kept::Part2(kept);
    Ok(tag)
}

impl ItemTag {
    /// The ONIX media format on the tag (ISO 28560-2 data element 7), trimmed, when there is
    /// one; ISO 28560-3's basic block has none.
    pub fn media_format(&self) -> Option<String> {
        let Kept::Part2(kept) = &self.kept else {
            return None;
        };
        kept.iter()
            .find(|e| e.oid == oid::ONIX_MEDIA_FORMAT)
            .map(|e| part2::text(e).trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// A new single-part circulating item in `model`.
    pub fn new(model: DataModel, item: &str, owner: Option<&str>) -> Self {
        Self {
            model,
            item: item.into(),
            owner: owner.map(Into::into),
            parts: 1,
            part: 1,
            usage: Some(Usage::CIRCULATING),
            kept: match model {
                DataModel::Part2 => Kept::Part2(vec![]),
                DataModel::Part3 => Kept::Part3 {
                    version: 1,
                    extensions: vec![],
                },
            },
        }
    }

    /// This tag as part `part` of `parts`.
    pub fn part_of(mut self, part: u8, parts: u8) -> Self {
        self.part = part;
        self.parts = parts;
        self
    }

    /// The tag's memory image in `memory_len` bytes, in its data model, which [`decode`] reads
    /// back as this tag with or without the DSFID. What would read back otherwise is refused:
    /// an item identifier that is empty or not printable text (control characters,
    /// surrounding white space), an owner the model cannot hold as it is, or a part 2 image
    /// that passes for a part 3 block (its CRC matching by chance) with no room to move it.
    pub fn encode(&self, memory_len: usize) -> Result<Vec<u8>, TagError> {
        match &self.kept {
            Kept::Part3 { .. } if self.owner.as_deref() == Some("") => {
                // An empty ISIL field reads as no owner.
                Err(Part3Error::Isil(String::new()).into())
            }
            Kept::Part3 {
                version,
                extensions,
            } => Ok(part3::encode(
                &Part3 {
                    version: *version,
                    usage: self.usage.map_or(6, Usage::class),
                    parts: self.parts,
                    part: self.part,
                    item: self.item.clone(),
                    isil: self.owner.clone().unwrap_or_default(),
                    extensions: extensions.clone(),
                },
                memory_len,
            )?),
            Kept::Part2(kept) => {
                if self.item.is_empty() {
                    return Err(Part2Error::NoItem.into());
                }
                if crate::printable(&self.item) != Some(self.item.as_str()) {
                    return Err(Part2Error::ItemNotText.into());
                }
                let (c, data) = part2::compact_text(&self.item);
                let mut rest = Vec::new();
                if let Some(owner) = &self.owner {
                    rest.push(Element {
                        oid: oid::OWNER,
                        compaction: compaction::APPLICATION,
                        data: part2::isil_encode(owner)?,
                    });
                }
                if self.parts > 1 {
                    let w = self.parts.to_string().len();
                    let digits = format!("{}{:0w$}", self.parts, self.part);
                    let (c, data) = part2::compact_text(&digits);
                    rest.push(Element {
                        oid: oid::SET_INFORMATION,
                        compaction: c,
                        data,
                    });
                }
                if let Some(u) = self.usage {
                    rest.push(Element {
                        oid: oid::TYPE_OF_USAGE,
                        compaction: compaction::APPLICATION,
                        data: vec![u.0],
                    });
                }
                rest.extend(kept.iter().cloned());
                let mut all = vec![Element {
                    oid: oid::PRIMARY_ITEM,
                    compaction: c,
                    data,
                }];
                // The content parameter lists OIDs 3 and up (an odd OID 0–2 kept from a tag is
                // written but not listed).
                if let Some(max) = rest.iter().map(|e| e.oid).filter(|o| *o >= 3).max() {
                    let mut bitmap = vec![0u8; usize::from(max - 2).div_ceil(8)];
                    for e in &rest {
                        if let Some(bit) = usize::from(e.oid).checked_sub(3) {
                            bitmap[bit / 8] |= 0x80 >> (bit % 8);
                        }
                    }
                    all.push(Element {
                        oid: oid::CONTENT_PARAMETER,
                        compaction: compaction::APPLICATION,
                        data: bitmap,
                    });
                }
                all.extend(rest);
                // Any bytes can carry a valid part 3 CRC, and decoding without a DSFID takes
                // those as part 3: moving the elements by a block of padding changes them.
                for extra_blocks in 0..4 {
                    match part2::write(&all, memory_len, extra_blocks) {
                        Ok(m) if !part3::looks_like(&m) => return Ok(m),
                        Ok(_) => {}
                        Err(e) if extra_blocks == 0 => return Err(e.into()),
                        Err(_) => break,
                    }
                }
                Err(Part2Error::Unencodable("the data (it reads as an ISO 28560-3 block)").into())
            }
        }
    }
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
    fn both_models_are_told_apart_by_their_content() {
        let finnish2 = hex(
            "91 01 04 60 91 CE 43 80 02 01 A8 05 01 10 67 02 42 41 03 07 32 40 DE 05 AB 07 5B 00 00 00 00 00",
        );
        let (t, _) = decode(&finnish2, None).unwrap();
        assert_eq!(t.model, DataModel::Part2);
        assert_eq!(
            (t.item.as_str(), t.owner.as_deref()),
            ("1620168259", Some("FI-Mamk-M"))
        );
        assert_eq!(t.usage, Some(Usage::CIRCULATING));
        assert!(
            matches!(&t.kept, Kept::Part2(k) if k.len() == 1 && k[0].oid == 7),
            "media format kept"
        );
        assert_eq!(t.media_format().as_deref(), Some("BA"), "ONIX: a book");

        let danish = hex(
            "11 01 01 31 31 32 32 33 33 34 34 00 00 00 00 00 00 00 00 51 3E 44 45 37 30 35 00 00 00 00 00 00",
        );
        let (t, _) = decode(&danish, Some(DSFID_PART3)).unwrap();
        assert_eq!((t.model, t.item.as_str()), (DataModel::Part3, "11223344"));

        let (t, q) = decode(&part3::reverse_blocks(&finnish2), None).unwrap();
        assert!(q.reversed_blocks);
        assert_eq!(t.item, "1620168259");
    }

    #[test]
    fn the_annex_d_set_information_is_part_3_of_12() {
        let m = hex(
            "91 00 05 1C BE 99 1A 14 02 01 D0 14 02 04 B3 46 07 44 1C B6 E2 E3 35 D6 83 02 07 AC C0 9E BA A0 6F 6B 00 00",
        );
        let (t, _) = decode(&m, None).unwrap();
        assert_eq!((t.parts, t.part), (12, 3));
        assert_eq!(t.owner.as_deref(), Some("US-InU-Mu"));
    }

    #[test]
    fn blank_garbage_and_impossible_sets_are_refused() {
        assert_eq!(decode(&[0; 32], None), Err(TagError::Blank));
        assert_eq!(decode(&[0xFF; 32], None), Err(TagError::Blank));
        assert_eq!(decode(&[0x5A; 32], None), Err(TagError::Unrecognised));
        let bad = ItemTag::new(DataModel::Part3, "HE1", None).part_of(3, 2);
        assert_eq!(
            decode(&bad.encode(32).unwrap(), None),
            Err(TagError::BadSet { part: 3, parts: 2 })
        );
    }

    #[test]
    fn unknown_elements_survive_a_round_trip() {
        let m = hex(
            "91 01 04 60 91 CE 43 80 02 01 A8 05 01 10 67 02 42 41 03 07 32 40 DE 05 AB 07 5B 00 00 00 00 00",
        );
        let (t, _) = decode(&m, None).unwrap();
        let again = t.encode(64).unwrap();
        assert_eq!(decode(&again, None).unwrap().0, t);
    }

    proptest! {
        #[test]
        fn any_item_round_trips_in_both_models(
            item in "[0-9]{1,12}|HE[0-9]{7}|[A-Z0-9]{1,16}",
            owner in proptest::option::of("(FI|SE)-[A-Z][a-z]{1,4}"),
            parts in 1u8..13,
            pick in 0u8..13,
            part2 in any::<bool>(),
        ) {
            let part = pick % parts + 1;
            let model = if part2 { DataModel::Part2 } else { DataModel::Part3 };
            let tag = ItemTag::new(model, &item, owner.as_deref()).part_of(part, parts);
            let bytes = tag.encode(if part2 { 64 } else { 32 }).unwrap();
            let (back, _) = decode(&bytes, None).unwrap();
            prop_assert_eq!(back, tag);
        }

        #[test]
        fn any_element_data_decodes_without_panicking(oid in 1u16..30, comp in 0u8..8, data in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut es = vec![Element { oid: 1, compaction: 6, data: b"X1".to_vec() }];
            es.push(Element { oid, compaction: comp, data });
            if let Ok(m) = part2::write(&es, 64, 0) {
                if let Ok((t, _)) = decode(&m, None) {
                    let _ = t.encode(64);
                }
            }
        }

        #[test]
        fn any_memory_decodes_or_fails_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..80), dsfid in any::<Option<u8>>()) {
            let _ = decode(&bytes, dsfid);
        }
    }
}
