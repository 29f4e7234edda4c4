//! Lending while the library system does not answer: may this patron borrow, may this item be
//! lent, for how long, and when it is due. Pure: the caller gives the facts and the day.
//!
//! The patron is judged by the door's own [`policy`](crate::policy) — the same [`Patron`] facts,
//! the same checks of card, permission, fines, bans and blocks, the same [`Reason`]s — with the
//! rules that concern entry switched off: opening hours (the kiosk is inside), age and category
//! (who may come in is the door's question; whoever is in may borrow).
//!
//! The item is judged from its RFID tag, read on the pad: ISO 28560's *type of usage* says
//! whether the library tagged it for circulation (a reference copy is "not for circulation"),
//! and the ONIX *media format* (Finnish tags carry it: `BA` book, `VI` DVD video) says what it
//! is. The loan period per media format is the library's rule, configured with the kiosk, as the
//! offline loan limits are. Why these: the tag travels with the item and is there with or
//! without a network, on the first loan as on the hundredth; SIP2 carries no loan rules, and a
//! cache learned from online answers would know only the items this kiosk had already seen. An
//! item known only by a scanned barcode (no tag read) cannot be checked, so offline it is lent
//! only where the library allows it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::policy::{self, Patron, Reason, Rules};

/// The door's rules as they bear on a loan at `branch`: everything about the patron's account,
/// nothing about hours, age or category.
pub fn rules(branch: &str) -> Rules {
    Rules {
        branch: branch.to_owned(),
        min_age: None,
        categories: vec![],
        enforce_hours: false,
        ..Rules::default()
    }
}

/// Why `patron` may not borrow at `branch` on `today`, if they may not.
pub fn refusal(patron: &Patron, branch: &str, today: NaiveDate) -> Option<Reason> {
    policy::check_patron(patron, &rules(branch), today).err()
}

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

/// What one tag of an item says about lending it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFacts {
    /// The tag's type of usage allows circulation; `None` when the tag has none (older tags
    /// leave it out, and are taken as circulating).
    pub lendable: Option<bool>,
    /// The ONIX media format, if the tag carries one.
    pub media: Option<String>,
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

/// Decides an item from its tags (every part of a set; none when only scanned). Any part not
/// for circulation makes the whole set not for loan; the first media format found sets the
/// period.
pub fn decide(tags: &[TagFacts], days: &LoanDays, lend_untagged: bool) -> Offline {
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
    if tags.iter().any(|t| t.lendable == Some(false)) {
        return Offline::NotForLoan;
    }
    let media = tags.iter().find_map(|t| t.media.clone());
    Offline::Lend {
        days: days.of(media.as_deref()),
        media,
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
    use super::*;
    use crate::policy::{Age, BranchBlock};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const TODAY: &str = "2026-11-24";

    /// A patron as the offline list describes one in good standing.
    fn listed() -> Patron {
        Patron {
            card_expires: Some(d("2027-06-30")),
            self_service: Some(true),
            age: Age::FifteenOn(None),
            guardian_consent: Some(false),
            category: Some("ADULT".into()),
            ..Patron::default()
        }
    }

    fn refused(p: &Patron) -> Option<Reason> {
        refusal(p, "LPR", d(TODAY))
    }

    fn heili() -> LoanDays {
        LoanDays {
            default: 14,
            by_media: [("B", 28), ("V", 7), ("VO", 3)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    fn tag(lendable: Option<bool>, media: Option<&str>) -> TagFacts {
        TagFacts {
            lendable,
            media: media.map(Into::into),
        }
    }

    #[test]
    fn a_patron_in_good_standing_may_borrow() {
        assert_eq!(refused(&listed()), None);
    }

    #[test]
    fn each_account_fact_refuses_with_the_doors_reason() {
        let cases = [
            (
                Patron {
                    card_lost: true,
                    ..listed()
                },
                Reason::CardLost,
            ),
            (
                Patron {
                    card_expires: Some(d("2026-11-23")),
                    ..listed()
                },
                Reason::CardInvalid,
            ),
            (
                Patron {
                    self_service: Some(false),
                    ..listed()
                },
                Reason::Revoked,
            ),
            (
                Patron {
                    fines_over_limit: true,
                    ..listed()
                },
                Reason::Fines,
            ),
            (
                Patron {
                    lending_ban: true,
                    ..listed()
                },
                Reason::LendingBan,
            ),
            (
                Patron {
                    blocks: vec![BranchBlock {
                        branch: None,
                        until: None,
                    }],
                    ..listed()
                },
                Reason::BranchBlock,
            ),
        ];
        for (patron, reason) in cases {
            assert_eq!(refused(&patron), Some(reason), "{reason:?}");
        }
    }

    #[test]
    fn the_card_is_good_through_its_last_day() {
        let last_day = Patron {
            card_expires: Some(d(TODAY)),
            ..listed()
        };
        assert_eq!(refused(&last_day), None);
    }

    #[test]
    fn a_lost_card_is_named_before_the_fines_it_also_has() {
        let both = Patron {
            card_lost: true,
            fines_over_limit: true,
            ..listed()
        };
        assert_eq!(refused(&both), Some(Reason::CardLost));
    }

    #[test]
    fn blocks_count_here_and_until_their_last_day_only() {
        let block = |branch: Option<&str>, until: Option<&str>| Patron {
            blocks: vec![BranchBlock {
                branch: branch.map(Into::into),
                until: until.map(d),
            }],
            ..listed()
        };
        assert_eq!(
            refused(&block(Some("LPR"), None)),
            Some(Reason::BranchBlock)
        );
        assert_eq!(refused(&block(Some("IMATRA"), None)), None);
        assert_eq!(
            refused(&block(None, Some(TODAY))),
            Some(Reason::BranchBlock)
        );
        assert_eq!(refused(&block(None, Some("2026-11-23"))), None);
    }

    #[test]
    fn hours_age_and_category_are_the_doors_business_not_the_loans() {
        let child = Patron {
            age: Age::FifteenOn(Some(d("2030-01-01"))),
            guardian_consent: Some(false),
            category: Some("CHILD".into()),
            ..listed()
        };
        assert_eq!(refused(&child), None);
        let r = rules("LPR");
        assert!(!r.enforce_hours && r.min_age.is_none() && r.categories.is_empty());
    }

    #[test]
    fn a_dvd_gets_the_video_period_and_a_book_the_book_period() {
        assert_eq!(
            decide(&[tag(Some(true), Some("VI"))], &heili(), false),
            Offline::Lend {
                days: 7,
                media: Some("VI".into())
            }
        );
        let days = |media| match decide(&[tag(Some(true), media)], &heili(), false) {
            Offline::Lend { days, .. } => days,
            other => panic!("{other:?}"),
        };
        assert_eq!(days(Some("VO")), 3);
        assert_eq!(days(Some("vo")), 3);
        assert_eq!(days(Some("BA")), 28);
        assert_eq!(days(Some("AC")), 14);
        assert_eq!(days(None), 14);
    }

    #[test]
    fn a_tag_without_a_type_of_usage_circulates() {
        assert_eq!(
            decide(&[tag(None, None)], &heili(), false),
            Offline::Lend {
                days: 14,
                media: None
            }
        );
    }

    #[test]
    fn one_part_not_for_loan_keeps_the_whole_set() {
        let reference = tag(Some(false), Some("BA"));
        assert_eq!(
            decide(std::slice::from_ref(&reference), &heili(), true),
            Offline::NotForLoan
        );
        assert_eq!(
            decide(&[tag(Some(true), Some("AC")), reference], &heili(), true),
            Offline::NotForLoan
        );
    }

    #[test]
    fn the_first_part_with_a_format_sets_the_period() {
        let set = [
            tag(Some(true), None),
            tag(None, Some("VI")),
            tag(None, Some("BA")),
        ];
        assert!(matches!(
            decide(&set, &heili(), false),
            Offline::Lend { days: 7, .. }
        ));
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
        assert_eq!(
            due(d("2026-12-28"), 7),
            d("2027-01-04").and_hms_opt(23, 59, 59).unwrap()
        );
        assert_eq!(due(d("2028-02-28"), 1).date(), d("2028-02-29"));
        assert_eq!(due(NaiveDate::MAX, 7).date(), NaiveDate::MAX);
    }
}
