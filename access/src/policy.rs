//! May this patron come in now? A pure function of the patron's facts (from the library system or
//! the offline list), the branch's rules, its schedule and the instant. Every "no" has its own
//! reason code, with words for the patron in Finnish, Swedish and English, a buzzer code and a
//! stable name staff see in the event log.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::hours::{Entry, Schedule};

/// Why the door stayed shut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The card is not a patron's (or not on the offline list).
    UnknownCard,
    /// The PIN is wrong.
    WrongPin,
    /// No PIN was entered in time.
    PinTimeout,
    /// Too many wrong PINs for this card: locked for a while.
    PinLockedOut,
    /// Too many attempts at this door in a short time.
    TooManyAttempts,
    /// The reader could not read the card, or the scan was not a card number.
    UnreadableCard,
    /// Under the minimum age without a guardian's consent.
    Underage,
    /// Self-service terms not accepted.
    TermsMissing,
    /// The patron's category may not use self-service.
    Category,
    /// Self-service permission revoked.
    Revoked,
    /// The card has expired or is not valid.
    CardInvalid,
    /// The card was reported lost.
    CardLost,
    /// A lending ban.
    LendingBan,
    /// Fines over the limit.
    Fines,
    /// A block at this branch (or all), until a date.
    BranchBlock,
    /// Outside self-service hours, or past the last entry.
    Closed,
    /// The library system did not answer and there is no usable offline list.
    Unreachable,
    /// The library system did not answer and the offline list has expired.
    ListExpired,
    /// Staff have locked the branch down: no self-service entry (exit always works).
    LockedDown,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: [Reason; 19] = [
        Self::UnknownCard,
        Self::WrongPin,
        Self::PinTimeout,
        Self::PinLockedOut,
        Self::TooManyAttempts,
        Self::UnreadableCard,
        Self::Underage,
        Self::TermsMissing,
        Self::Category,
        Self::Revoked,
        Self::CardInvalid,
        Self::CardLost,
        Self::LendingBan,
        Self::Fines,
        Self::BranchBlock,
        Self::Closed,
        Self::Unreachable,
        Self::ListExpired,
        Self::LockedDown,
    ];

    /// The stable name in event logs and staff tools.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownCard => "unknown-card",
            Self::WrongPin => "wrong-pin",
            Self::PinTimeout => "pin-timeout",
            Self::PinLockedOut => "pin-locked-out",
            Self::TooManyAttempts => "too-many-attempts",
            Self::UnreadableCard => "unreadable-card",
            Self::Underage => "underage",
            Self::TermsMissing => "terms-missing",
            Self::Category => "category",
            Self::Revoked => "revoked",
            Self::CardInvalid => "card-invalid",
            Self::CardLost => "card-lost",
            Self::LendingBan => "lending-ban",
            Self::Fines => "fines",
            Self::BranchBlock => "branch-block",
            Self::Closed => "closed",
            Self::Unreachable => "unreachable",
            Self::ListExpired => "list-expired",
            Self::LockedDown => "locked-down",
        }
    }

    /// The reason with this name.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A two-digit number for a small display, and the count of short beeps after the long one.
    pub fn number(&self) -> u8 {
        // ALL is in code order and short: the index fits.
        Self::ALL
            .iter()
            .position(|r| r == self)
            .map_or(99, |i| u8::try_from(i + 1).unwrap_or(99))
    }

    /// Words for the patron, in `fi`, `sv` or `en` (anything else gets Finnish).
    pub fn message(&self, language: &str) -> &'static str {
        let [fi, sv, en] = match self {
            Self::UnknownCard => [
                "Korttia ei tunnisteta.",
                "Kortet känns inte igen.",
                "Card not recognised.",
            ],
            Self::WrongPin => ["Väärä PIN-koodi.", "Fel PIN-kod.", "Wrong PIN."],
            Self::PinTimeout => [
                "PIN-koodi jäi kesken. Näytä kortti uudelleen.",
                "PIN-koden blev ofullständig. Visa kortet igen.",
                "PIN not entered in time. Show your card again.",
            ],
            Self::PinLockedOut => [
                "Liian monta väärää PIN-koodia. Kortti on lukittu.",
                "För många fel PIN-koder. Kortet är låst.",
                "Too many wrong PINs. The card is locked.",
            ],
            Self::TooManyAttempts => [
                "Liikaa yrityksiä. Odota hetki.",
                "För många försök. Vänta en stund.",
                "Too many attempts. Please wait.",
            ],
            Self::UnreadableCard => [
                "Korttia ei voitu lukea. Yritä uudelleen.",
                "Kortet kunde inte läsas. Försök igen.",
                "Card could not be read. Try again.",
            ],
            Self::Underage => [
                "Alle 15-vuotias tarvitsee huoltajan luvan.",
                "Under 15 år behöver vårdnadshavarens tillstånd.",
                "Under 15s need a guardian's consent.",
            ],
            Self::TermsMissing => [
                "Hyväksy omatoimikirjaston käyttöehdot kirjastossa.",
                "Godkänn villkoren för meröppet i biblioteket.",
                "Accept the self-service terms at the library.",
            ],
            Self::Category => [
                "Asiakasryhmäsi ei voi käyttää omatoimikirjastoa.",
                "Din kundgrupp kan inte använda meröppet.",
                "Your patron type cannot use self-service.",
            ],
            Self::Revoked => [
                "Omatoimioikeutesi on peruttu. Ota yhteys kirjastoon.",
                "Din rätt till meröppet är återkallad. Kontakta biblioteket.",
                "Your self-service access is revoked. Contact the library.",
            ],
            Self::CardInvalid => [
                "Kortti ei ole voimassa. Uusi se kirjastossa.",
                "Kortet är inte giltigt. Förnya det i biblioteket.",
                "Card not valid. Renew it at the library.",
            ],
            Self::CardLost => [
                "Kortti on ilmoitettu kadonneeksi. Ota yhteys kirjastoon.",
                "Kortet är anmält förlorat. Kontakta biblioteket.",
                "Card reported lost. Contact the library.",
            ],
            Self::LendingBan => [
                "Lainauskielto estää omatoimikäytön. Ota yhteys kirjastoon.",
                "Lånespärren hindrar meröppet. Kontakta biblioteket.",
                "A borrowing ban stops self-service. Contact the library.",
            ],
            Self::Fines => [
                "Maksut estävät omatoimikäytön. Maksa verkossa tai kirjastossa.",
                "Avgifter hindrar meröppet. Betala på nätet eller i biblioteket.",
                "Unpaid fines stop self-service. Pay online or at the library.",
            ],
            Self::BranchBlock => [
                "Sinulla on käyttökielto tähän kirjastoon.",
                "Du har förbud att använda detta bibliotek.",
                "You are barred from this library.",
            ],
            Self::Closed => [
                "Kirjasto on suljettu.",
                "Biblioteket är stängt.",
                "The library is closed.",
            ],
            Self::Unreachable => [
                "Korttia ei voi nyt tarkistaa. Yritä hetken päästä.",
                "Kortet kan inte kontrolleras nu. Försök om en stund.",
                "Cards cannot be checked now. Try again shortly.",
            ],
            Self::ListExpired => [
                "Korttia ei voi nyt tarkistaa. Yritä hetken päästä.",
                "Kortet kan inte kontrolleras nu. Försök om en stund.",
                "Cards cannot be checked now. Try again shortly.",
            ],
            Self::LockedDown => [
                "Omatoimiaika on keskeytetty.",
                "Meröppet är avbrutet.",
                "Self-service is suspended.",
            ],
        };
        pick(language, [fi, sv, en])
    }

    /// The words for the patron with what makes them exact: how long a lockout lasts (at
    /// `now`), how many tries are left after a wrong PIN.
    pub fn words(&self, language: &str, detail: &Detail, now: DateTime<Utc>) -> String {
        let base = self.message(language);
        match self {
            Self::PinLockedOut => match detail.locked_until {
                Some(until) => {
                    let minutes = minutes_left(until, now);
                    let [fi, sv, en] = if minutes >= 120 {
                        let hours = (minutes + 59) / 60;
                        [
                            format!("Kortti on lukittu {hours} tunniksi."),
                            format!("Kortet är låst i {hours} timmar."),
                            format!("The card is locked for {hours} hours."),
                        ]
                    } else {
                        [
                            format!("Kortti on lukittu {minutes} min."),
                            format!("Kortet är låst i {minutes} min."),
                            format!("The card is locked for {minutes} min."),
                        ]
                    };
                    let first = pick(
                        language,
                        [
                            "Liian monta väärää PIN-koodia.",
                            "För många fel PIN-koder.",
                            "Too many wrong PINs.",
                        ],
                    );
                    format!("{first} {}", pick(language, [fi, sv, en]))
                }
                None => base.to_owned(),
            },
            Self::WrongPin => match detail.tries_left {
                Some(n) => {
                    let [fi, sv, en] = [
                        format!("Yrityksiä jäljellä: {n}."),
                        format!("Försök kvar: {n}."),
                        format!("Tries left: {n}."),
                    ];
                    format!("{base} {}", pick(language, [fi, sv, en]))
                }
                None => base.to_owned(),
            },
            _ => base.to_owned(),
        }
    }
}

/// What makes a refusal's words exact, when the source that refused knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    /// The card is locked after wrong PINs until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// Wrong PINs left before the card is locked.
    pub tries_left: Option<u32>,
    /// The patron's own language (`fi`, `sv`, `en`), when the library system says it.
    pub language: Option<String>,
}

/// Whole minutes from `now` to `until`, rounded up, at least 1: "locked for 15 min" while any
/// of the lockout remains.
fn minutes_left(until: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let secs = (until - now).num_seconds().max(1);
    (secs + 59) / 60
}

/// One of three texts by language (`fi` for anything else).
pub fn pick<T>(language: &str, [fi, sv, en]: [T; 3]) -> T {
    match language {
        "sv" => sv,
        "en" => en,
        _ => fi,
    }
}

/// What is known of a patron's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    /// The birth date (the library system's answer).
    Born(NaiveDate),
    /// The day they turn 15, or `None` when 15 or over (the offline list's answer).
    FifteenOn(Option<NaiveDate>),
    /// Not known.
    Unknown,
}

/// A block at some branch or everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchBlock {
    /// Only at this branch; everywhere when `None`.
    pub branch: Option<String>,
    /// The last day it applies; open-ended when `None`.
    pub until: Option<NaiveDate>,
}

/// What the policy reads of a patron: the union of what the library system and the offline list
/// can say. `None` means "the source does not say".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patron {
    /// The card is valid (not expired, not withdrawn).
    pub card_valid: bool,
    /// The card's last valid day.
    pub card_expires: Option<NaiveDate>,
    /// Reported lost.
    pub card_lost: bool,
    /// Self-service permission (not revoked).
    pub self_service: Option<bool>,
    /// Self-service terms accepted.
    pub terms_accepted: Option<bool>,
    /// Age.
    pub age: Age,
    /// A guardian's consent for a minor.
    pub guardian_consent: Option<bool>,
    /// A lending ban.
    pub lending_ban: bool,
    /// Fines at or over the library's limit.
    pub fines_over_limit: bool,
    /// Patron category code.
    pub category: Option<String>,
    /// Self-service blocks, at a branch or everywhere.
    pub blocks: Vec<BranchBlock>,
    /// The library system itself said no to self-service, for a reason it named.
    pub system_denial: Option<Reason>,
}

impl Default for Patron {
    fn default() -> Self {
        Self {
            card_valid: true,
            card_expires: None,
            card_lost: false,
            self_service: None,
            terms_accepted: None,
            age: Age::Unknown,
            guardian_consent: None,
            lending_ban: false,
            fines_over_limit: false,
            category: None,
            blocks: vec![],
            system_denial: None,
        }
    }
}

/// The rules of one branch, each switchable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// This branch's code (blocks name it).
    pub branch: String,
    /// Self-service terms must be accepted (when the source says).
    pub require_terms: bool,
    /// Self-service permission must not be revoked (when the source says).
    pub require_permission: bool,
    /// A permission the source does not mention counts as missing.
    pub permission_must_be_stated: bool,
    /// The card must be valid and not expired.
    pub require_valid_card: bool,
    /// A lost card is refused.
    pub refuse_lost_card: bool,
    /// A lending ban keeps the patron out.
    pub refuse_lending_ban: bool,
    /// Fines over the limit keep the patron out.
    pub refuse_fines: bool,
    /// Minimum age; `None` for no age rule.
    pub min_age: Option<u8>,
    /// A guardian's consent admits a younger patron.
    pub consent_admits_minors: bool,
    /// A patron whose age is unknown is let in (the library system's permission covers age).
    pub admit_unknown_age: bool,
    /// Only these categories; every category when empty.
    pub categories: Vec<String>,
    /// Blocks at this branch (or all) keep the patron out.
    pub honour_blocks: bool,
    /// Opening hours apply (off for a staff-only door).
    pub enforce_hours: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            branch: String::new(),
            require_terms: true,
            require_permission: true,
            permission_must_be_stated: false,
            require_valid_card: true,
            refuse_lost_card: true,
            refuse_lending_ban: true,
            refuse_fines: true,
            min_age: Some(15),
            consent_admits_minors: true,
            admit_unknown_age: true,
            categories: vec![],
            honour_blocks: true,
            enforce_hours: true,
        }
    }
}

/// The door's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Open the door.
    Open,
    /// Keep it shut, for this reason.
    Deny(Reason),
}

/// May the library be entered at all now (checked when a card is shown, before the PIN)?
pub fn hours_allow(
    rules: &Rules,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<Entry, Reason> {
    let entry = schedule.entry_at(now);
    if !rules.enforce_hours {
        return Ok(entry);
    }
    match entry {
        Entry::Open { .. } | Entry::Staffed => Ok(entry),
        Entry::LastEntryPassed { .. } | Entry::Closed { .. } => Err(Reason::Closed),
    }
}

/// The decision for a verified patron. Reasons are checked in a fixed order, the one a patron
/// can act on least first, so the message shown is the one that matters.
pub fn decide(patron: &Patron, rules: &Rules, schedule: &Schedule, now: DateTime<Utc>) -> Decision {
    match check(patron, rules, schedule, now) {
        Ok(()) => Decision::Open,
        Err(r) => Decision::Deny(r),
    }
}

fn check(
    patron: &Patron,
    rules: &Rules,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<(), Reason> {
    hours_allow(rules, schedule, now)?;
    check_patron(patron, rules, schedule.zone.local(now).date())
}

/// The patron's side of the decision on `today` (the branch's local date), hours aside: the
/// card, permission, terms, category, age, fines, bans, blocks and the library system's own
/// denial, in the order [`decide`] checks them. The kiosk's offline lending rules
/// ([`crate::lending`]) use it with entry's rules switched off.
pub fn check_patron(patron: &Patron, rules: &Rules, today: NaiveDate) -> Result<(), Reason> {
    if rules.refuse_lost_card && patron.card_lost {
        return Err(Reason::CardLost);
    }
    if rules.require_valid_card
        && (!patron.card_valid || patron.card_expires.is_some_and(|d| d < today))
    {
        return Err(Reason::CardInvalid);
    }
    if rules.require_permission {
        let missing = match patron.self_service {
            Some(p) => !p,
            None => rules.permission_must_be_stated,
        };
        if missing {
            return Err(Reason::Revoked);
        }
    }
    if rules.require_terms && patron.terms_accepted == Some(false) {
        return Err(Reason::TermsMissing);
    }
    if !rules.categories.is_empty() {
        let allowed = patron
            .category
            .as_ref()
            .is_some_and(|c| rules.categories.iter().any(|a| a.eq_ignore_ascii_case(c)));
        if !allowed {
            return Err(Reason::Category);
        }
    }
    if let Some(min) = rules.min_age {
        let old_enough = match old_enough(patron.age, min, today) {
            Some(b) => b,
            None => rules.admit_unknown_age,
        };
        let consent = rules.consent_admits_minors && patron.guardian_consent == Some(true);
        if !old_enough && !consent {
            return Err(Reason::Underage);
        }
    }
    // Fines usually come with a lending ban; the fines are what the patron can act on.
    if rules.refuse_fines && patron.fines_over_limit {
        return Err(Reason::Fines);
    }
    if rules.refuse_lending_ban && patron.lending_ban {
        return Err(Reason::LendingBan);
    }
    if rules.honour_blocks {
        let blocked = patron.blocks.iter().any(|b| {
            b.branch
                .as_ref()
                .is_none_or(|br| br.eq_ignore_ascii_case(&rules.branch))
                && b.until.is_none_or(|u| today <= u)
        });
        if blocked {
            return Err(Reason::BranchBlock);
        }
    }
    if let Some(r) = patron.system_denial {
        return Err(r);
    }
    Ok(())
}

/// Is someone of this age at least `min` years old today? `None` when it cannot be told.
pub fn old_enough(age: Age, min: u8, today: NaiveDate) -> Option<bool> {
    match age {
        Age::Born(born) => {
            let mut years = today.year() - born.year();
            if (today.month(), today.day()) < (born.month(), born.day()) {
                years -= 1;
            }
            Some(years >= i32::from(min))
        }
        Age::FifteenOn(None) if min <= 15 => Some(true),
        Age::FifteenOn(None) => None,
        Age::FifteenOn(Some(fifteen)) => {
            // The day they turn `min` is `15 - min` years before the day they turn 15.
            if min > 15 {
                return Some(false);
            }
            let birthday = fifteen.checked_sub_months(Months::new(12 * u32::from(15 - min)))?;
            Some(today >= birthday)
        }
        Age::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::tests::lemi;
    use chrono::NaiveDateTime;

    fn at(s: &str) -> DateTime<Utc> {
        crate::zone::Zone::HELSINKI
            .instant(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }
    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn rules() -> Rules {
        Rules {
            branch: "LEMI".into(),
            ..Rules::default()
        }
    }
    fn adult() -> Patron {
        Patron {
            self_service: Some(true),
            terms_accepted: Some(true),
            age: Age::Born(d("1980-05-05")),
            category: Some("ADULT".into()),
            card_expires: Some(d("2030-01-01")),
            ..Patron::default()
        }
    }
    const JAN_21: &str = "2026-01-13 21:00";

    fn deny(p: &Patron, r: &Rules) -> Decision {
        decide(p, r, &lemi(), at(JAN_21))
    }

    #[test]
    fn an_adult_with_permission_gets_in_at_21_in_january() {
        assert_eq!(deny(&adult(), &rules()), Decision::Open);
    }

    #[test]
    fn every_rule_has_its_own_reason_and_can_be_switched_off() {
        type Case = (Patron, Reason, fn(&mut Rules));
        let cases: Vec<Case> = vec![
            (
                Patron {
                    card_lost: true,
                    ..adult()
                },
                Reason::CardLost,
                |r| r.refuse_lost_card = false,
            ),
            (
                Patron {
                    card_valid: false,
                    ..adult()
                },
                Reason::CardInvalid,
                |r| r.require_valid_card = false,
            ),
            (
                Patron {
                    card_expires: Some(d("2026-01-12")),
                    ..adult()
                },
                Reason::CardInvalid,
                |r| r.require_valid_card = false,
            ),
            (
                Patron {
                    self_service: Some(false),
                    ..adult()
                },
                Reason::Revoked,
                |r| r.require_permission = false,
            ),
            (
                Patron {
                    terms_accepted: Some(false),
                    ..adult()
                },
                Reason::TermsMissing,
                |r| r.require_terms = false,
            ),
            (
                Patron {
                    age: Age::Born(d("2014-01-14")),
                    ..adult()
                },
                Reason::Underage,
                |r| r.min_age = None,
            ),
            (
                Patron {
                    lending_ban: true,
                    ..adult()
                },
                Reason::LendingBan,
                |r| r.refuse_lending_ban = false,
            ),
            (
                Patron {
                    fines_over_limit: true,
                    ..adult()
                },
                Reason::Fines,
                |r| r.refuse_fines = false,
            ),
            (
                Patron {
                    blocks: vec![BranchBlock {
                        branch: Some("lemi".into()),
                        until: None,
                    }],
                    ..adult()
                },
                Reason::BranchBlock,
                |r| r.honour_blocks = false,
            ),
            (
                Patron {
                    category: Some("STAFF".into()),
                    ..adult()
                },
                Reason::Category,
                |r| r.categories.clear(),
            ),
        ];
        for (patron, reason, switch_off) in cases {
            let mut r = rules();
            r.categories = vec!["ADULT".into(), "CHILD".into()];
            assert_eq!(deny(&patron, &r), Decision::Deny(reason), "{reason:?}");
            switch_off(&mut r);
            assert_eq!(deny(&patron, &r), Decision::Open, "{reason:?} switched off");
        }
    }

    #[test]
    fn closed_hours_and_last_entry_deny_even_the_best_patron() {
        let s = lemi();
        assert_eq!(
            decide(&adult(), &rules(), &s, at("2026-01-13 22:30")),
            Decision::Deny(Reason::Closed)
        );
        assert_eq!(
            decide(&adult(), &rules(), &s, at("2026-01-13 21:50")),
            Decision::Deny(Reason::Closed)
        );
        assert_eq!(
            decide(&adult(), &rules(), &s, at("2026-12-24 12:00")),
            Decision::Deny(Reason::Closed)
        );
        let staff_door = Rules {
            enforce_hours: false,
            ..rules()
        };
        assert_eq!(
            decide(&adult(), &staff_door, &s, at("2026-01-13 23:30")),
            Decision::Open
        );
    }

    #[test]
    fn age_rules_with_birthdays_consent_and_a_lower_limit() {
        let today = d("2026-01-13");
        assert_eq!(
            old_enough(Age::Born(d("2011-01-13")), 15, today),
            Some(true)
        );
        assert_eq!(
            old_enough(Age::Born(d("2011-01-14")), 15, today),
            Some(false)
        );
        assert_eq!(old_enough(Age::FifteenOn(None), 15, today), Some(true));
        assert_eq!(
            old_enough(Age::FifteenOn(Some(d("2026-01-13"))), 15, today),
            Some(true)
        );
        assert_eq!(
            old_enough(Age::FifteenOn(Some(d("2026-01-14"))), 15, today),
            Some(false)
        );
        // Turns 15 in 2028, so turned 13 on 2026-01-14: not yet, then yes.
        assert_eq!(
            old_enough(Age::FifteenOn(Some(d("2028-01-14"))), 13, today),
            Some(false)
        );
        assert_eq!(
            old_enough(Age::FifteenOn(Some(d("2028-01-13"))), 13, today),
            Some(true)
        );
        assert_eq!(old_enough(Age::Unknown, 15, today), None);
        // A leap-day birthday: 15 on 1 March in a common year.
        assert_eq!(
            old_enough(Age::Born(d("2012-02-29")), 15, d("2027-02-28")),
            Some(false)
        );
        assert_eq!(
            old_enough(Age::Born(d("2012-02-29")), 15, d("2027-03-01")),
            Some(true)
        );

        let child = Patron {
            age: Age::Born(d("2014-03-01")),
            ..adult()
        };
        assert_eq!(deny(&child, &rules()), Decision::Deny(Reason::Underage));
        let consented = Patron {
            guardian_consent: Some(true),
            ..child.clone()
        };
        assert_eq!(deny(&consented, &rules()), Decision::Open);
        assert_eq!(
            deny(
                &consented,
                &Rules {
                    consent_admits_minors: false,
                    ..rules()
                }
            ),
            Decision::Deny(Reason::Underage)
        );
        let thirteen = Rules {
            min_age: Some(13),
            ..rules()
        };
        assert_eq!(
            deny(
                &Patron {
                    age: Age::Born(d("2012-06-01")),
                    ..adult()
                },
                &thirteen
            ),
            Decision::Open
        );
        let unknown = Patron {
            age: Age::Unknown,
            ..adult()
        };
        assert_eq!(deny(&unknown, &rules()), Decision::Open);
        assert_eq!(
            deny(
                &unknown,
                &Rules {
                    admit_unknown_age: false,
                    ..rules()
                }
            ),
            Decision::Deny(Reason::Underage)
        );
    }

    #[test]
    fn blocks_elsewhere_or_expired_do_not_count() {
        let other = Patron {
            blocks: vec![BranchBlock {
                branch: Some("IMATRA".into()),
                until: None,
            }],
            ..adult()
        };
        assert_eq!(deny(&other, &rules()), Decision::Open);
        let over = Patron {
            blocks: vec![BranchBlock {
                branch: None,
                until: Some(d("2026-01-12")),
            }],
            ..adult()
        };
        assert_eq!(deny(&over, &rules()), Decision::Open);
        let last_day = Patron {
            blocks: vec![BranchBlock {
                branch: None,
                until: Some(d("2026-01-13")),
            }],
            ..adult()
        };
        assert_eq!(
            deny(&last_day, &rules()),
            Decision::Deny(Reason::BranchBlock)
        );
    }

    #[test]
    fn permission_the_source_does_not_state() {
        let silent = Patron {
            self_service: None,
            ..adult()
        };
        assert_eq!(deny(&silent, &rules()), Decision::Open);
        assert_eq!(
            deny(
                &silent,
                &Rules {
                    permission_must_be_stated: true,
                    ..rules()
                }
            ),
            Decision::Deny(Reason::Revoked)
        );
    }

    #[test]
    fn reasons_have_codes_numbers_and_words_in_three_languages() {
        let mut codes = std::collections::HashSet::new();
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert!(codes.insert(r.code()));
            assert_eq!(Reason::from_code(r.code()), Some(*r));
            assert_eq!(usize::from(r.number()), i + 1);
            for lang in ["fi", "sv", "en"] {
                assert!(!r.message(lang).is_empty());
            }
        }
        assert_eq!(Reason::Closed.message("sv"), "Biblioteket är stängt.");
    }
}
