//! The tags on the pad, grouped into items: a multi-part item (a CD box with three discs, a
//! language course) is one loan, lent only when every part is on the pad.

use std::collections::BTreeMap;

use iso28560::ItemTag;

/// One tag as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRead {
    /// The tag's UID.
    pub uid: [u8; 8],
    /// Its data, or why it could not be read.
    pub data: Result<ItemTag, String>,
}

/// An item on the pad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PadItem {
    /// Every part is there.
    Complete {
        /// The item's barcode.
        item: String,
        /// Its tags (one per part).
        uids: Vec<[u8; 8]>,
    },
    /// Parts are missing.
    Incomplete {
        /// The item's barcode.
        item: String,
        /// Parts on the pad.
        seen: u8,
        /// Parts in the item.
        parts: u8,
    },
    /// A tag whose data could not be read or understood.
    Unreadable {
        /// The tag.
        uid: [u8; 8],
        /// Why.
        why: String,
    },
}

/// Groups the pad's tags into items, in the order their first tag was read.
pub fn group(reads: &[TagRead]) -> Vec<PadItem> {
    let mut order: Vec<String> = Vec::new();
    let mut parts: BTreeMap<String, (u8, BTreeMap<u8, [u8; 8]>)> = BTreeMap::new();
    let mut out = Vec::new();
    for r in reads {
        match &r.data {
            Ok(tag) => {
                let e = parts.entry(tag.item.clone()).or_insert_with(|| {
                    order.push(tag.item.clone());
                    (tag.parts, BTreeMap::new())
                });
                e.0 = e.0.max(tag.parts);
                e.1.insert(tag.part, r.uid);
            }
            Err(why) => out.push(PadItem::Unreadable {
                uid: r.uid,
                why: why.clone(),
            }),
        }
    }
    let mut items: Vec<PadItem> = order
        .into_iter()
        .filter_map(|item| {
            let (n, seen) = parts.remove(&item)?;
            let complete = (1..=n).all(|p| seen.contains_key(&p));
            Some(if complete {
                PadItem::Complete {
                    item,
                    uids: seen.into_values().collect(),
                }
            } else {
                PadItem::Incomplete {
                    item,
                    seen: u8::try_from(seen.len()).unwrap_or(u8::MAX),
                    parts: n,
                }
            })
        })
        .collect();
    items.extend(out);
    items
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use iso28560::DataModel;

    fn read(uid: u8, item: &str, part: u8, parts: u8) -> TagRead {
        TagRead {
            uid: [uid; 8],
            data: Ok(ItemTag::new(DataModel::Part3, item, None).part_of(part, parts)),
        }
    }

    #[test]
    fn single_items_and_complete_sets_are_ready_and_partial_sets_wait() {
        let g = group(&[
            read(1, "A", 1, 1),
            read(2, "KIT", 1, 3),
            read(3, "KIT", 3, 3),
            read(4, "B", 1, 1),
            TagRead {
                uid: [9; 8],
                data: Err("blank".into()),
            },
        ]);
        assert_eq!(
            g[0],
            PadItem::Complete {
                item: "A".into(),
                uids: vec![[1; 8]]
            }
        );
        assert_eq!(
            g[1],
            PadItem::Incomplete {
                item: "KIT".into(),
                seen: 2,
                parts: 3
            }
        );
        assert!(matches!(g[2], PadItem::Complete { .. }));
        assert!(matches!(g[3], PadItem::Unreadable { .. }));
        let g = group(&[
            read(2, "KIT", 1, 3),
            read(5, "KIT", 2, 3),
            read(3, "KIT", 3, 3),
        ]);
        assert_eq!(
            g,
            vec![PadItem::Complete {
                item: "KIT".into(),
                uids: vec![[2; 8], [5; 8], [3; 8]]
            }]
        );
    }

    #[test]
    fn the_same_part_twice_does_not_complete_a_set() {
        let g = group(&[read(1, "KIT", 1, 2), read(2, "KIT", 1, 2)]);
        assert_eq!(
            g,
            vec![PadItem::Incomplete {
                item: "KIT".into(),
                seen: 1,
                parts: 2
            }]
        );
    }
}
