//! The offline lending rules as the kiosk meets them: its tags as read on the pad and the
//! offline list's facts, judged by [`access::lending`] (where the rules and their reasons are,
//! beside the door's policy).

use chrono::NaiveDate;
use iso28560::ItemTag;

pub use access::lending::{LoanDays, Offline, due};

/// What a tag says about lending its item.
pub fn facts(tag: &ItemTag) -> access::lending::TagFacts {
    access::lending::TagFacts {
        lendable: tag.usage.map(|u| u.lendable()),
        media: tag.media_format(),
    }
}

/// Decides an item from the tags read for it (every part of a set; none when only scanned):
/// [`access::lending::decide`].
pub fn decide(tags: &[&ItemTag], days: &LoanDays, lend_untagged: bool) -> Offline {
    let tags: Vec<_> = tags.iter().map(|t| facts(t)).collect();
    access::lending::decide(&tags, days, lend_untagged)
}

/// Why the offline list's facts say this patron may not borrow, if they do: the reason's stable
/// name, from [`access::lending::refusal`].
pub fn refusal(facts: &allowlist::Facts, today: NaiveDate, branch: &str) -> Option<&'static str> {
    let patron = offline::facts::from_list(facts, branch, today);
    access::lending::refusal(&patron, branch, today).map(|r| r.code())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use allowlist::BlockScope;
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

    fn listed() -> allowlist::Facts {
        allowlist::Facts {
            card_expires: NaiveDate::from_ymd_opt(2027, 6, 30).unwrap(),
            turns_15: None,
            self_service: true,
            guardian_consent: false,
            fines_over_limit: false,
            card_lost: false,
            category: "ADULT".into(),
            home_branch: "LPR".into(),
            blocks: vec![],
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn block(scope: BlockScope, branch: Option<&str>) -> allowlist::EntryBlock {
        allowlist::EntryBlock {
            scope,
            branch: branch.map(Into::into),
            until: None,
        }
    }

    #[test]
    fn the_lists_facts_refuse_with_the_policys_reasons() {
        assert_eq!(refusal(&listed(), today(), "LPR"), None);
        type Change = fn(&mut allowlist::Facts);
        let cases: [(Change, &str); 6] = [
            (|f| f.card_lost = true, "card-lost"),
            (
                |f| f.card_expires = today().pred_opt().unwrap(),
                "card-invalid",
            ),
            (|f| f.self_service = false, "revoked"),
            (|f| f.fines_over_limit = true, "fines"),
            (
                |f| f.blocks = vec![block(BlockScope::Lending, None)],
                "lending-ban",
            ),
            (
                |f| f.blocks = vec![block(BlockScope::SelfService, Some("LPR"))],
                "branch-block",
            ),
        ];
        for (change, code) in cases {
            let mut f = listed();
            change(&mut f);
            assert_eq!(refusal(&f, today(), "LPR"), Some(code));
        }
    }

    #[test]
    fn a_block_at_another_branch_or_a_child_on_the_list_does_not_refuse_a_loan() {
        let mut f = listed();
        f.blocks = vec![
            block(BlockScope::Lending, Some("IMATRA")),
            block(BlockScope::SelfService, Some("IMATRA")),
        ];
        f.turns_15 = Some(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap());
        f.category = "CHILD".into();
        assert_eq!(refusal(&f, today(), "LPR"), None);
    }
}
