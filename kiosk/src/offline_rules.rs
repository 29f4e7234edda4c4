//! What an item is, offline: whether it may be lent and for how long, decided from data the
//! kiosk holds when the library system does not answer (pure).
//!
//! The source is the item's own RFID tag, read on the pad: ISO 28560's *type of usage* says
//! whether the library tagged it for circulation (a reference copy is "not for circulation"),
//! and the ONIX *media format* (Finnish tags carry it: `BA` book, `VI` DVD video) says what it
//! is. The loan period per media format is the library's rule, configured in `kiosk.toml`
//! (`[offline.loan_days_by_media]`), as the offline loan limits already are. Why these: the
//! tag travels with the item and is there with or without a network, on the first loan as on
//! the hundredth; SIP2 carries no loan rules, and a cache learned from online answers would
//! know only the items this kiosk had already seen. An item known only by a scanned barcode
//! (no tag read) cannot be checked, so offline it is lent only where the library allows it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use iso28560::ItemTag;

/// The library's offline loan periods, by the ONIX media format on its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoanDays {
    /// Days for formats not named (and for tags without a format).
    pub default: u32,
    /// Days by a full ONIX code (`VI`) or by its first letter, the family (`V`: all video).
    pub by_media: BTreeMap<String, u32>,
}

impl LoanDays {
    /// The loan period of `media`: its own code's, else its family's, else the default.
    pub fn of(&self, media: Option<&str>) -> u32 {
        let Some(m) = media.map(str::to_ascii_uppercase) else {
            return self.default;
        };
        self.by_media
            .get(&m)
            .or_else(|| m.get(..1).and_then(|family| self.by_media.get(family)))
            .copied()
            .unwrap_or(self.default)
    }
}

/// What the kiosk may do with an item while offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offline {
    /// Lend it for `days`; `media` as the tag said.
    Lend {
        /// The loan period.
        days: u32,
        /// The ONIX media format from the tag, if any.
        media: Option<String>,
    },
    /// The tag says the item is not for loan (reference, discarded, not yet in circulation).
    NotForLoan,
    /// No tag was read: the kiosk cannot tell what the item is, and the library does not lend
    /// such items offline.
    Unknown,
}

/// Decides an item from the tags read for it (every part of a set; none when only scanned).
/// Any part tagged as not for circulation makes the whole set not for loan; a tag without a
/// type of usage is taken as circulating (older tags leave it out).
pub fn decide(tags: &[&ItemTag], days: &LoanDays, lend_untagged: bool) -> Offline {
    if tags.is_empty() {
        return if lend_untagged {
            Offline::Lend {
                days: days.default,
                media: None,
            }
        } else {
            Offline::Unknown
        };
    }
    if tags.iter().any(|t| t.usage.is_some_and(|u| !u.lendable())) {
        return Offline::NotForLoan;
    }
    let media = tags.iter().find_map(|t| t.media_format());
    Offline::Lend {
        days: days.of(media.as_deref()),
        media,
    }
}

/// Why the offline list's facts say this patron may not borrow, if they do.
pub fn refusal(facts: &allowlist::Facts, today: NaiveDate, branch: &str) -> Option<&'static str> {
    if facts.card_lost {
        Some("card lost")
    } else if facts.card_expires < today {
        Some("card expired")
    } else if !facts.self_service {
        Some("no self-service permission")
    } else if facts.fines_over_limit {
        Some("fines over the limit")
    } else if facts.blocks.iter().any(|b| b.applies(today, branch)) {
        Some("a block")
    } else {
        None
    }
}

/// The due time of a loan made on `today` for `days`: the end of that day.
pub fn due(today: NaiveDate, days: u32) -> NaiveDateTime {
    let day = today
        .checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX);
    day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use iso28560::part2::{Element, compact_text, oid};
    use iso28560::tag::Kept;
    use iso28560::{DataModel, Usage};

    fn heili() -> LoanDays {
        LoanDays {
            default: 14,
            by_media: [("B", 28), ("V", 7), ("VO", 3)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    fn tag(usage: Option<Usage>, media: Option<&str>) -> ItemTag {
        let mut t = ItemTag::new(DataModel::Part2, "HE0000002", Some("FI-Lr"));
        t.usage = usage;
        if let Some(m) = media {
            let (compaction, data) = compact_text(m);
            t.kept = Kept::Part2(vec![Element {
                oid: oid::ONIX_MEDIA_FORMAT,
                compaction,
                data,
            }]);
        }
        // Through the bytes, as the pad reads it.
        iso28560::decode(&t.encode(64).unwrap(), None).unwrap().0
    }

    #[test]
    fn a_dvd_gets_the_video_period_and_a_book_the_book_period() {
        let dvd = tag(Some(Usage::CIRCULATING), Some("VI"));
        assert_eq!(
            decide(&[&dvd], &heili(), false),
            Offline::Lend {
                days: 7,
                media: Some("VI".into())
            }
        );
        let blu_ray = tag(Some(Usage::CIRCULATING), Some("VO"));
        assert!(matches!(
            decide(&[&blu_ray], &heili(), false),
            Offline::Lend { days: 3, .. }
        ));
        let book = tag(Some(Usage::CIRCULATING), Some("BA"));
        assert!(matches!(
            decide(&[&book], &heili(), false),
            Offline::Lend { days: 28, .. }
        ));
        let unnamed = tag(Some(Usage::CIRCULATING), Some("AC"));
        assert!(matches!(
            decide(&[&unnamed], &heili(), false),
            Offline::Lend { days: 14, .. }
        ));
        let no_format = tag(None, None);
        assert!(matches!(
            decide(&[&no_format], &heili(), false),
            Offline::Lend {
                days: 14,
                media: None
            }
        ));
    }

    #[test]
    fn a_reference_copy_is_not_lent_even_when_one_part_says_so() {
        let reference = tag(Some(Usage::NOT_FOR_CIRCULATION), Some("BA"));
        assert_eq!(decide(&[&reference], &heili(), true), Offline::NotForLoan);
        let discarded = tag(Some(Usage::DISCARDED), None);
        assert_eq!(decide(&[&discarded], &heili(), true), Offline::NotForLoan);
        let part = tag(Some(Usage::CIRCULATING), Some("AC"));
        assert_eq!(
            decide(&[&part, &reference], &heili(), true),
            Offline::NotForLoan
        );
    }

    #[test]
    fn an_item_without_a_tag_is_lent_offline_only_when_the_library_says_so() {
        assert_eq!(decide(&[], &heili(), false), Offline::Unknown);
        assert_eq!(
            decide(&[], &heili(), true),
            Offline::Lend {
                days: 14,
                media: None
            }
        );
    }

    #[test]
    fn due_is_the_end_of_the_last_day() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 28).unwrap();
        assert_eq!(
            due(d, 7),
            NaiveDate::from_ymd_opt(2027, 1, 4)
                .unwrap()
                .and_hms_opt(23, 59, 59)
                .unwrap()
        );
        assert_eq!(due(NaiveDate::MAX, 7).date(), NaiveDate::MAX);
    }
}
