//! The patron as the policy reads them, from either source: the library system's answer or the
//! offline list's entry.

use access::policy::{Age, BranchBlock, Patron, Reason};
use allowlist::BlockScope;
use chrono::NaiveDate;
use registry::{BlockKind, Effect, PatronFacts};

/// From the library system's answer. Blocks the library's dialect marks `ignore` or `note` do not
/// count; the rest become the facts the policy's switchable rules read.
pub fn from_registry(f: &PatronFacts) -> Patron {
    let mut p = Patron {
        card_valid: f.card_valid,
        card_expires: f.card_expires,
        self_service: f.self_service,
        guardian_consent: f.guardian_consent,
        category: f.category.clone(),
        age: f
            .birth_date
            .as_ref()
            .map_or(Age::Unknown, |b| Age::Born(*b.expose())),
        ..Patron::default()
    };
    if let (Some(owed), Some(limit)) = (f.fines, f.fine_limit) {
        p.fines_over_limit = owed >= limit && limit.0 > 0;
    }
    for b in &f.blocks {
        if matches!(b.effect, Effect::Ignore | Effect::Note) {
            continue;
        }
        let entry = b.effect == Effect::DenyAll;
        match b.kind {
            BlockKind::CardLost => p.card_lost = true,
            BlockKind::CardExpired => p.card_valid = false,
            BlockKind::LendingBan => p.lending_ban = true,
            BlockKind::FinesOverLimit | BlockKind::FeesOverLimit => p.fines_over_limit = true,
            BlockKind::SelfServiceDenied => p.self_service = Some(false),
            BlockKind::TermsNotAccepted => p.terms_accepted = Some(false),
            BlockKind::SelfServiceBlock => p.blocks.push(BranchBlock {
                branch: b.branch.clone(),
                until: b.until,
            }),
            BlockKind::Underage if entry => p.system_denial = Some(Reason::Underage),
            BlockKind::CategoryNotAllowed if entry => p.system_denial = Some(Reason::Category),
            // The door keeps its own hours.
            BlockKind::OutsideOpeningHours => {}
            BlockKind::Other if entry => p.system_denial = Some(Reason::Revoked),
            _ if entry => p.system_denial = p.system_denial.or(Some(Reason::LendingBan)),
            _ => {}
        }
    }
    p
}

/// The library system's answer as list facts, for a verifier learned for a card the list does
/// not know (`learn_pins = "any"`); `None` when the answer refuses the patron in any way (such a
/// card is not learned: it would only be refused offline too). The card's last day is the
/// library system's, or `until` when it does not say; the day a child turns 15 is coarsened to
/// the first of the next month as in the list ([`allowlist::entry::coarse_turns_15`]).
pub fn to_list(f: &PatronFacts, today: NaiveDate, until: NaiveDate) -> Option<allowlist::Facts> {
    let p = from_registry(f);
    if !p.card_valid
        || p.card_lost
        || p.lending_ban
        || p.fines_over_limit
        || p.system_denial.is_some()
        || p.self_service == Some(false)
        || p.terms_accepted == Some(false)
    {
        return None;
    }
    let card_expires = f.card_expires.map_or(until, |d| d.min(until));
    if card_expires < today {
        return None;
    }
    Some(allowlist::Facts {
        card_expires,
        turns_15: f
            .birth_date
            .as_ref()
            .and_then(|b| allowlist::entry::coarse_turns_15(*b.expose()))
            .filter(|d| *d > today),
        self_service: true,
        guardian_consent: f.guardian_consent.unwrap_or(false),
        fines_over_limit: false,
        card_lost: false,
        category: f.category.clone().unwrap_or_default(),
        home_branch: f.home_branch.clone().unwrap_or_default(),
        blocks: p
            .blocks
            .iter()
            .map(|b| allowlist::EntryBlock {
                scope: BlockScope::SelfService,
                branch: b.branch.clone(),
                until: b.until,
            })
            .collect(),
    })
}

/// From the offline list's entry, for a door at `branch` on `today`.
pub fn from_list(f: &allowlist::Facts, branch: &str, today: NaiveDate) -> Patron {
    let mut p = Patron {
        card_valid: true,
        card_expires: Some(f.card_expires),
        card_lost: f.card_lost,
        // The publisher lists only patrons who accepted the terms and keep their permission.
        self_service: Some(f.self_service),
        terms_accepted: None,
        age: Age::FifteenOn(f.turns_15),
        guardian_consent: Some(f.guardian_consent),
        lending_ban: false,
        fines_over_limit: f.fines_over_limit,
        category: Some(f.category.clone()),
        blocks: vec![],
        system_denial: None,
    };
    for b in &f.blocks {
        match b.scope {
            BlockScope::Lending => {
                if b.applies(today, branch) {
                    p.lending_ban = true;
                }
            }
            BlockScope::SelfService => p.blocks.push(BranchBlock {
                branch: b.branch.clone(),
                until: b.until,
            }),
        }
    }
    p
}
