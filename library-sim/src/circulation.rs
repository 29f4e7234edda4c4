//! Circulation rules: who may borrow what, for how long, and what a return costs. Pure: the
//! clock comes in as `now`, and the state is plain data the caller persists.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::fixtures::{BlockKind, Fixtures, Item, Patron};

/// What changes as the library runs: loans, holds, fines, blocks set over SIP2.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// Loans by item barcode.
    pub loans: BTreeMap<String, Loan>,
    /// Hold queues by item barcode, first in line first.
    pub holds: BTreeMap<String, Vec<String>>,
    /// Fines owed by card number, in cents.
    pub fines: BTreeMap<String, u32>,
    /// Cards blocked by a self-check unit (message 01), with the unit's message.
    pub blocked_cards: BTreeMap<String, String>,
    /// Item properties set by item status updates (message 19).
    pub item_properties: BTreeMap<String, String>,
    /// When each item was last returned (Koha's `old_issues.returndate`).
    #[serde(default)]
    pub returned: BTreeMap<String, NaiveDateTime>,
    /// Offline loans and returns queued for staff review (Koha's `pending_offline_operations`).
    #[serde(default)]
    pub pending_offline: Vec<PendingOffline>,
}

/// An offline loan or return waiting for staff review, as Koha keeps it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingOffline {
    /// `issue` or `return`.
    pub action: String,
    /// The patron's card number (empty for a return).
    pub card: String,
    /// The item's barcode.
    pub barcode: String,
    /// The original time, in the library's time.
    pub at: NaiveDateTime,
    /// The branch the device gave.
    pub branch: String,
}

impl std::fmt::Debug for PendingOffline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingOffline")
            .field("action", &self.action)
            .field("barcode", &self.barcode)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// One loan.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Loan {
    /// Card number of the borrower.
    pub card: String,
    /// When it was lent (the original time for an offline, no-block loan).
    pub lent_at: NaiveDateTime,
    /// When it is due.
    pub due: NaiveDateTime,
    /// How many times it was renewed.
    pub renewals: u32,
}

// Card numbers are keys and values of the state: Debug shows sizes and dates only.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("loans", &self.loans.len())
            .field("holds", &self.holds.len())
            .field("fines", &self.fines.len())
            .field("blocked_cards", &self.blocked_cards.len())
            .field("item_properties", &self.item_properties.len())
            .field("returned", &self.returned.len())
            .field("pending_offline", &self.pending_offline.len())
            .finish()
    }
}

impl std::fmt::Debug for Loan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loan")
            .field("lent_at", &self.lent_at)
            .field("due", &self.due)
            .field("renewals", &self.renewals)
            .finish_non_exhaustive()
    }
}

/// Why the library says no, in words a patron understands (Finnish, Swedish, English).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No patron has this card.
    UnknownPatron,
    /// The PIN does not match.
    WrongPin,
    /// The card was reported lost.
    CardLost,
    /// The card has expired.
    CardExpired,
    /// A lending ban, with the library's reason.
    LendingBan(String),
    /// Fines at or over the limit.
    FinesOverLimit {
        /// What is owed, in cents.
        owed_cents: u32,
    },
    /// The patron has as many loans as allowed.
    TooManyLoans,
    /// No item has this barcode.
    UnknownItem,
    /// A reference copy.
    NotForLoan,
    /// Someone else is first in the hold queue.
    OnHoldForAnother,
    /// On loan to someone else.
    OnLoanToAnother,
    /// Already on loan to this patron, and the unit did not ask to renew.
    AlreadyOnLoanToYou,
    /// Not on loan to this patron (renewal).
    NotOnLoanToYou,
    /// Renewed as often as allowed.
    RenewalLimit,
}

impl Refusal {
    /// The screen message (AF) in the patron's language (`fi`, `sv`, `en`).
    pub fn message(&self, language: &str) -> String {
        let (fi, sv, en) = match self {
            Self::UnknownPatron => ("Tuntematon kortti.", "Okänt kort.", "Unknown card."),
            Self::WrongPin => ("Väärä PIN-koodi.", "Fel PIN-kod.", "Wrong PIN."),
            Self::CardLost => (
                "Kortti on ilmoitettu kadonneeksi.",
                "Kortet har anmälts förlorat.",
                "This card has been reported lost.",
            ),
            Self::CardExpired => (
                "Kortti on vanhentunut. Uusi se palvelutiskillä.",
                "Kortet har gått ut. Förnya det vid disken.",
                "Your card has expired. Please renew it at the desk.",
            ),
            Self::LendingBan(reason) => {
                return match language {
                    "sv" => format!("Lånespärr: {reason}"),
                    "en" => format!("Borrowing blocked: {reason}"),
                    _ => format!("Lainauskielto: {reason}"),
                };
            }
            Self::FinesOverLimit { owed_cents } => {
                let eur = format!("{},{:02} €", owed_cents / 100, owed_cents % 100);
                return match language {
                    "sv" => format!("Avgifter {eur} över gränsen."),
                    "en" => format!("Fines of {eur} are over the limit."),
                    _ => format!("Maksuja {eur}, yli rajan."),
                };
            }
            Self::TooManyLoans => (
                "Sinulla on jo enimmäismäärä lainoja.",
                "Du har redan högsta antalet lån.",
                "You already have the maximum number of loans.",
            ),
            Self::UnknownItem => ("Tuntematon nide.", "Okänt exemplar.", "Unknown item."),
            Self::NotForLoan => (
                "Nide ei ole lainattavissa.",
                "Exemplaret lånas inte ut.",
                "This item is not for loan.",
            ),
            Self::OnHoldForAnother => (
                "Nide on varattu toiselle asiakkaalle.",
                "Exemplaret är reserverat för en annan kund.",
                "This item is on hold for another patron.",
            ),
            Self::OnLoanToAnother => (
                "Nide on lainassa toisella asiakkaalla.",
                "Exemplaret är utlånat till en annan kund.",
                "This item is on loan to another patron.",
            ),
            Self::AlreadyOnLoanToYou => (
                "Nide on jo lainassasi.",
                "Exemplaret är redan utlånat till dig.",
                "You already have this item on loan.",
            ),
            Self::NotOnLoanToYou => (
                "Nide ei ole lainassasi.",
                "Exemplaret är inte utlånat till dig.",
                "This item is not on loan to you.",
            ),
            Self::RenewalLimit => (
                "Lainaa ei voi enää uusia.",
                "Lånet kan inte förnyas fler gånger.",
                "This loan cannot be renewed again.",
            ),
        };
        match language {
            "sv" => sv.into(),
            "en" => en.into(),
            _ => fi.into(),
        }
    }
}

/// A checkout as a device asks for it.
#[derive(Clone, Copy)]
pub struct Checkout<'a> {
    /// The patron's card number.
    pub card: &'a str,
    /// The item's barcode.
    pub barcode: &'a str,
    /// When the loan happened (for an offline, no-block loan: its original time).
    pub lent_at: NaiveDateTime,
    /// Made offline: accept whatever the patron's standing.
    pub no_block: bool,
    /// The due date the device gave offline.
    pub nb_due: Option<NaiveDateTime>,
    /// The device may renew an item the patron already has.
    pub renewal_allowed: bool,
}

impl<'a> Checkout<'a> {
    /// An ordinary checkout at `now`.
    pub fn now(card: &'a str, barcode: &'a str, now: NaiveDateTime) -> Self {
        Self {
            card,
            barcode,
            lent_at: now,
            no_block: false,
            nb_due: None,
            renewal_allowed: false,
        }
    }

    /// An offline (no-block) checkout made at `lent_at`.
    pub fn offline(card: &'a str, barcode: &'a str, lent_at: NaiveDateTime) -> Self {
        Self {
            no_block: true,
            ..Self::now(card, barcode, lent_at)
        }
    }
}

impl std::fmt::Debug for Checkout<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkout")
            .field("barcode", &self.barcode)
            .field("lent_at", &self.lent_at)
            .field("no_block", &self.no_block)
            .finish_non_exhaustive()
    }
}

/// A checkout or renewal that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanMade {
    /// Due date.
    pub due: NaiveDateTime,
    /// Whether it renewed an existing loan of the same patron.
    pub renewed: bool,
}

/// A return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    /// Whether the item was on loan.
    pub was_on_loan: bool,
    /// Overdue fine charged, in cents.
    pub fine_cents: u32,
    /// The next patron in the hold queue, if any: the item goes to the hold shelf.
    pub hold_waiting: bool,
    /// The branch the item must travel to, when returned elsewhere.
    pub transfer_to: Option<String>,
}

/// The facts of a patron that SIP2 status replies carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Whether the patron may borrow now, and if not why.
    pub refusal: Option<Refusal>,
    /// Card lost.
    pub card_lost: bool,
    /// Fines owed, in cents.
    pub fines_cents: u32,
    /// Fines at or over the limit.
    pub fines_over_limit: bool,
    /// A lending ban or a block set by a device.
    pub lending_ban: bool,
    /// At the loan limit.
    pub too_many_loans: bool,
    /// Has overdue loans.
    pub overdue: usize,
    /// Self-service blocks in force today: (branch or none, reason, until).
    pub self_service_blocks: Vec<(Option<String>, String, Option<NaiveDate>)>,
}

/// The library: its fixtures and its state.
#[derive(Debug, Clone)]
pub struct Library {
    /// Fixture catalogue.
    pub fixtures: Fixtures,
    /// Running state.
    pub state: State,
}

fn end_of_day(date: NaiveDate) -> NaiveDateTime {
    date.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))
}

impl Library {
    /// A library as the fixtures describe it on its first day.
    pub fn new(fixtures: Fixtures) -> Self {
        let mut state = State::default();
        for item in &fixtures.items {
            if !item.holds.is_empty() {
                state.holds.insert(item.barcode.clone(), item.holds.clone());
            }
        }
        for p in &fixtures.patrons {
            if p.fines_cents > 0 {
                state.fines.insert(p.card.clone(), p.fines_cents);
            }
        }
        Self { fixtures, state }
    }

    /// A library with state restored from disk.
    pub fn with_state(fixtures: Fixtures, state: State) -> Self {
        Self { fixtures, state }
    }

    /// The patron with this card (blanks around it ignored).
    pub fn patron(&self, card: &str) -> Option<&Patron> {
        let card = card.trim();
        self.fixtures.patrons.iter().find(|p| p.card == card)
    }

    /// The item with this barcode.
    pub fn item(&self, barcode: &str) -> Option<&Item> {
        let barcode = barcode.trim();
        self.fixtures.items.iter().find(|i| i.barcode == barcode)
    }

    /// Checks a PIN: `None` if no patron has the card.
    pub fn pin_ok(&self, card: &str, pin: &redact::Pin) -> Option<bool> {
        self.patron(card).map(|p| pin.matches(&p.pin))
    }

    /// Loans of a card, by barcode.
    pub fn loans_of<'a>(
        &'a self,
        card: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Loan)> + 'a {
        self.state.loans.iter().filter(move |(_, l)| l.card == card)
    }

    /// Items on hold for a card.
    pub fn holds_of<'a>(&'a self, card: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.state
            .holds
            .iter()
            .filter(move |(_, q)| q.iter().any(|c| c == card))
            .map(|(b, _)| b)
    }

    /// A patron's standing at `now`.
    pub fn standing(&self, patron: &Patron, now: NaiveDateTime) -> Standing {
        let today = now.date();
        let fines_cents = self.state.fines.get(&patron.card).copied().unwrap_or(0);
        let fines_over_limit = fines_cents >= self.fixtures.library.fine_limit_cents;
        let ban = patron
            .blocks
            .iter()
            .find(|b| b.kind == BlockKind::Lending && b.until.is_none_or(|u| u >= today))
            .map(|b| b.reason.clone())
            .or_else(|| self.state.blocked_cards.get(&patron.card).cloned());
        let loans = self.loans_of(&patron.card).count();
        let overdue = self
            .loans_of(&patron.card)
            .filter(|(_, l)| l.due < now)
            .count();
        let too_many_loans = loans >= self.fixtures.library.max_loans;
        let refusal = if patron.card_lost {
            Some(Refusal::CardLost)
        } else if patron.card_expires < today {
            Some(Refusal::CardExpired)
        } else if let Some(reason) = &ban {
            Some(Refusal::LendingBan(reason.clone()))
        } else if fines_over_limit {
            Some(Refusal::FinesOverLimit {
                owed_cents: fines_cents,
            })
        } else if too_many_loans {
            Some(Refusal::TooManyLoans)
        } else {
            None
        };
        Standing {
            refusal,
            card_lost: patron.card_lost,
            fines_cents,
            fines_over_limit,
            lending_ban: ban.is_some(),
            too_many_loans,
            overdue,
            self_service_blocks: patron
                .blocks
                .iter()
                .filter(|b| b.kind == BlockKind::SelfService && b.until.is_none_or(|u| u >= today))
                .map(|b| (b.branch.clone(), b.reason.clone(), b.until))
                .collect(),
        }
    }

    fn due_date(&self, item: &Item, from: NaiveDateTime) -> NaiveDateTime {
        let days = self.fixtures.rule(&item.media).map_or(28, |r| r.loan_days);
        end_of_day(from.date() + Duration::days(i64::from(days)))
    }

    /// Lends `barcode` to `card`. A no-block checkout (made offline by the unit) is accepted
    /// whatever the patron's standing, dated `lent_at`, due `nb_due` if the unit gave one; sending
    /// the same no-block checkout twice makes one loan.
    pub fn checkout(
        &mut self,
        order: &Checkout<'_>,
        now: NaiveDateTime,
    ) -> Result<LoanMade, Refusal> {
        let Checkout {
            card,
            barcode,
            lent_at,
            no_block,
            nb_due,
            renewal_allowed,
        } = *order;
        let patron = self.patron(card).ok_or(Refusal::UnknownPatron)?.clone();
        let item = self.item(barcode).ok_or(Refusal::UnknownItem)?.clone();
        if let Some(loan) = self.state.loans.get(&item.barcode) {
            if loan.card == patron.card {
                if no_block && loan.lent_at == lent_at {
                    // The same offline loan sent again: already recorded.
                    return Ok(LoanMade {
                        due: loan.due,
                        renewed: false,
                    });
                }
                if renewal_allowed {
                    return self.renew(card, barcode, now);
                }
                return Err(Refusal::AlreadyOnLoanToYou);
            }
            if !no_block {
                return Err(Refusal::OnLoanToAnother);
            }
        }
        if !no_block {
            if let Some(refusal) = self.standing(&patron, now).refusal {
                return Err(refusal);
            }
            if item.non_circulating {
                return Err(Refusal::NotForLoan);
            }
            if let Some(first) = self.state.holds.get(&item.barcode).and_then(|q| q.first()) {
                if *first != patron.card {
                    return Err(Refusal::OnHoldForAnother);
                }
            }
        }
        let due = nb_due
            .filter(|_| no_block)
            .unwrap_or_else(|| self.due_date(&item, lent_at));
        if let Some(queue) = self.state.holds.get_mut(&item.barcode) {
            queue.retain(|c| *c != patron.card);
            if queue.is_empty() {
                self.state.holds.remove(&item.barcode);
            }
        }
        self.state.loans.insert(
            item.barcode.clone(),
            Loan {
                card: patron.card.clone(),
                lent_at,
                due,
                renewals: 0,
            },
        );
        Ok(LoanMade {
            due,
            renewed: false,
        })
    }

    /// Takes `barcode` back at `returned_at`, at the branch `at_branch`.
    pub fn checkin(
        &mut self,
        barcode: &str,
        returned_at: NaiveDateTime,
        at_branch: &str,
    ) -> Result<Return, Refusal> {
        let item = self.item(barcode).ok_or(Refusal::UnknownItem)?.clone();
        let loan = self.state.loans.remove(&item.barcode);
        let mut fine_cents = 0;
        if let Some(loan) = &loan {
            if returned_at > loan.due {
                let days = (returned_at.date() - loan.due.date()).num_days().max(1);
                let lib = &self.fixtures.library;
                fine_cents = u32::try_from(days)
                    .unwrap_or(u32::MAX)
                    .saturating_mul(lib.overdue_fine_per_day_cents)
                    .min(lib.overdue_fine_cap_cents);
                if fine_cents > 0 {
                    *self.state.fines.entry(loan.card.clone()).or_default() += fine_cents;
                }
            }
        }
        let hold_waiting = self
            .state
            .holds
            .get(&item.barcode)
            .is_some_and(|q| !q.is_empty());
        let transfer_to =
            (!at_branch.is_empty() && at_branch != item.branch).then(|| item.branch.clone());
        if loan.is_some() {
            self.state
                .returned
                .insert(item.barcode.clone(), returned_at);
        }
        Ok(Return {
            was_on_loan: loan.is_some(),
            fine_cents,
            hold_waiting,
            transfer_to,
        })
    }

    /// A loan made offline, as Koha's offline circulation processes it
    /// (`C4::Circulation::ProcessOfflineIssue`): no rule checked; an item on loan to another
    /// patron is first returned as of `at`; the loan is dated `at` and due by the item's loan
    /// period from `at`; an item already on loan to this patron is renewed (whatever the
    /// renewal limit: Koha's `AddRenewal` checks none), due again from `at`.
    pub fn offline_issue(
        &mut self,
        card: &str,
        barcode: &str,
        at: NaiveDateTime,
    ) -> Result<LoanMade, Refusal> {
        let patron = self.patron(card).ok_or(Refusal::UnknownPatron)?.clone();
        let item = self.item(barcode).ok_or(Refusal::UnknownItem)?.clone();
        let due = self.due_date(&item, at);
        match self.state.loans.get_mut(&item.barcode) {
            Some(loan) if loan.card == patron.card => {
                loan.renewals += 1;
                loan.due = due;
                return Ok(LoanMade { due, renewed: true });
            }
            Some(_) => {
                // Koha's MarkIssueReturned: no fine, no hold trapped.
                self.offline_return(&item.barcode, at)?;
            }
            None => {}
        }
        self.checkout(&Checkout::offline(&patron.card, &item.barcode, at), at)
    }

    /// A return made offline, as Koha's offline circulation processes it
    /// (`ProcessOfflineReturn`): dated `at`, no fine charged, no hold trapped. `Ok(false)` when
    /// the item was not on loan.
    pub fn offline_return(&mut self, barcode: &str, at: NaiveDateTime) -> Result<bool, Refusal> {
        let item = self.item(barcode).ok_or(Refusal::UnknownItem)?.clone();
        if self.state.loans.remove(&item.barcode).is_none() {
            return Ok(false);
        }
        self.state.returned.insert(item.barcode, at);
        Ok(true)
    }

    /// Renews the loan of `barcode` by `card`.
    pub fn renew(
        &mut self,
        card: &str,
        barcode: &str,
        now: NaiveDateTime,
    ) -> Result<LoanMade, Refusal> {
        let patron = self.patron(card).ok_or(Refusal::UnknownPatron)?.clone();
        let item = self.item(barcode).ok_or(Refusal::UnknownItem)?.clone();
        let standing = self.standing(&patron, now);
        match standing.refusal {
            // Being at the loan limit does not stop a renewal.
            Some(Refusal::TooManyLoans) | None => {}
            Some(r) => return Err(r),
        }
        let max = self
            .fixtures
            .rule(&item.media)
            .map_or(0, |r| r.max_renewals);
        let on_hold = self
            .state
            .holds
            .get(&item.barcode)
            .is_some_and(|q| !q.is_empty());
        let due = self.due_date(&item, now);
        let loan = match self.state.loans.get_mut(&item.barcode) {
            Some(l) if l.card == patron.card => l,
            _ => return Err(Refusal::NotOnLoanToYou),
        };
        if on_hold {
            return Err(Refusal::OnHoldForAnother);
        }
        if loan.renewals >= max {
            return Err(Refusal::RenewalLimit);
        }
        loan.renewals += 1;
        loan.due = due.max(loan.due);
        Ok(LoanMade {
            due: loan.due,
            renewed: true,
        })
    }

    /// Pays `cents` of a patron's fines; refused when it is more than owed.
    pub fn pay(&mut self, card: &str, cents: u32) -> bool {
        let owed = self.state.fines.get(card).copied().unwrap_or(0);
        if cents == 0 || cents > owed {
            return false;
        }
        if owed == cents {
            self.state.fines.remove(card);
        } else {
            self.state.fines.insert(card.to_owned(), owed - cents);
        }
        true
    }

    /// Age in whole years on `today`.
    pub fn age(patron: &Patron, today: NaiveDate) -> i32 {
        let b = patron.birth_date;
        let mut age = today.year() - b.year();
        if (today.month(), today.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn library() -> Library {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/heili.toml"));
        // The day the fixtures are written as of: their dates as written.
        Library::new(Fixtures::load(path, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).unwrap())
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    const AINO: &str = "24680000000011";
    const BLOCKED: &str = "24680000000037";
    const FINES: &str = "24680000000045";
    const LOST: &str = "24680000000052";
    const BOOK: &str = "HE0000001";
    const DVD: &str = "HE0000002";
    const REFERENCE: &str = "HE0000005";
    const ON_HOLD: &str = "HE0000004";

    #[test]
    fn a_patron_in_good_standing_borrows_a_book_for_four_weeks() {
        let mut lib = library();
        let now = at(2026, 11, 24, 21);
        let loan = lib.checkout(&Checkout::now(AINO, BOOK, now), now).unwrap();
        assert_eq!(
            loan.due,
            at(2026, 12, 22, 0).date().and_hms_opt(23, 59, 59).unwrap()
        );
        assert_eq!(lib.loans_of(AINO).count(), 1);
    }

    #[test]
    fn koha_offline_issues_check_no_rules_take_over_anothers_loan_and_renew_a_repeat() {
        let mut lib = library();
        let evening = at(2026, 11, 20, 18);
        // A banned patron, a reference copy: no rule is checked.
        let loan = lib.offline_issue(BLOCKED, REFERENCE, evening).unwrap();
        assert!(!loan.renewed);
        assert_eq!(lib.state.loans[REFERENCE].lent_at, evening);
        // Dated the original time, due by the loan period from it.
        lib.offline_issue(AINO, BOOK, evening).unwrap();
        let l = &lib.state.loans[BOOK];
        assert_eq!(
            (l.lent_at, l.due.date(), l.renewals),
            (evening, at(2026, 12, 18, 0).date(), 0)
        );
        // The same again is a renewal, counted.
        let later = at(2026, 11, 21, 9);
        let again = lib.offline_issue(AINO, BOOK, later).unwrap();
        assert!(again.renewed);
        let l = &lib.state.loans[BOOK];
        assert_eq!(
            (l.lent_at, l.due.date(), l.renewals),
            (evening, at(2026, 12, 19, 0).date(), 1)
        );
        // Another patron's loan is returned as of the time first, without a fine.
        let erik = "24680000000029";
        lib.offline_issue(erik, BOOK, later).unwrap();
        assert_eq!(lib.state.loans[BOOK].card, erik);
        assert_eq!(lib.state.returned[BOOK], later);
        assert!(!lib.state.fines.contains_key(AINO));
        assert_eq!(
            lib.offline_issue("0000", BOOK, later),
            Err(Refusal::UnknownPatron)
        );
        assert_eq!(
            lib.offline_issue(AINO, "XX1", later),
            Err(Refusal::UnknownItem)
        );
    }

    #[test]
    fn koha_offline_returns_are_dated_and_charge_no_fine() {
        let mut lib = library();
        lib.offline_issue(AINO, DVD, at(2026, 10, 1, 12)).unwrap();
        let back = at(2026, 11, 20, 18);
        assert_eq!(lib.offline_return(DVD, back), Ok(true));
        assert_eq!(lib.state.returned[DVD], back);
        assert!(
            !lib.state.fines.contains_key(AINO),
            "weeks overdue, no fine"
        );
        assert_eq!(lib.offline_return(DVD, back), Ok(false));
        assert_eq!(lib.offline_return("XX1", back), Err(Refusal::UnknownItem));
    }

    #[test]
    fn due_dates_follow_the_media_type() {
        let mut lib = library();
        let now = at(2026, 11, 24, 21);
        let loan = lib.checkout(&Checkout::now(AINO, DVD, now), now).unwrap();
        assert_eq!(
            loan.due.date(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
    }

    #[test]
    fn blocked_lost_and_fined_patrons_cannot_borrow() {
        let mut lib = library();
        let now = at(2026, 11, 24, 21);
        assert!(matches!(
            lib.checkout(&Checkout::now(BLOCKED, BOOK, now), now),
            Err(Refusal::LendingBan(_))
        ));
        assert!(matches!(
            lib.checkout(&Checkout::now(FINES, BOOK, now), now),
            Err(Refusal::FinesOverLimit { .. })
        ));
        assert_eq!(
            lib.checkout(&Checkout::now(LOST, BOOK, now), now),
            Err(Refusal::CardLost)
        );
        assert_eq!(
            lib.checkout(&Checkout::now("999", BOOK, now), now),
            Err(Refusal::UnknownPatron)
        );
        assert!(lib.state.loans.is_empty());
    }

    #[test]
    fn reference_copies_and_items_on_hold_for_others_stay() {
        let mut lib = library();
        let now = at(2026, 11, 24, 21);
        assert_eq!(
            lib.checkout(&Checkout::now(AINO, REFERENCE, now), now),
            Err(Refusal::NotForLoan)
        );
        assert_eq!(
            lib.checkout(&Checkout::now(AINO, ON_HOLD, now), now),
            Err(Refusal::OnHoldForAnother)
        );
    }

    #[test]
    fn no_block_checkout_is_accepted_with_its_original_date_and_only_once() {
        let mut lib = library();
        let lent = at(2026, 11, 20, 20);
        let now = at(2026, 11, 24, 9);
        let first = lib
            .checkout(&Checkout::offline(BLOCKED, BOOK, lent), now)
            .unwrap();
        assert_eq!(
            first.due.date(),
            NaiveDate::from_ymd_opt(2026, 12, 18).unwrap()
        );
        let again = lib
            .checkout(&Checkout::offline(BLOCKED, BOOK, lent), now)
            .unwrap();
        assert_eq!(again, first);
        assert_eq!(lib.state.loans.len(), 1);
    }

    #[test]
    fn late_return_is_fined_per_day_up_to_the_cap() {
        let mut lib = library();
        let lent = at(2026, 10, 1, 12);
        lib.checkout(&Checkout::now(AINO, BOOK, lent), lent)
            .unwrap();
        let back = lib.checkin(BOOK, at(2026, 11, 2, 12), "LPR").unwrap();
        assert!(back.was_on_loan);
        // Due 29.10., returned 2.11.: four days at 20 cents.
        assert_eq!(back.fine_cents, 80);
        assert_eq!(lib.state.fines.get(AINO), Some(&80));
        let lent = at(2026, 1, 1, 12);
        lib.checkout(&Checkout::now(AINO, BOOK, lent), lent)
            .unwrap();
        let back = lib.checkin(BOOK, at(2026, 11, 2, 12), "LPR").unwrap();
        assert_eq!(back.fine_cents, lib.fixtures.library.overdue_fine_cap_cents);
    }

    #[test]
    fn renewals_stop_at_the_limit() {
        let mut lib = library();
        let now = at(2026, 11, 24, 21);
        lib.checkout(&Checkout::now(AINO, DVD, now), now).unwrap();
        let max = lib.fixtures.rule("dvd").unwrap().max_renewals;
        for _ in 0..max {
            assert!(lib.renew(AINO, DVD, now).unwrap().renewed);
        }
        assert_eq!(lib.renew(AINO, DVD, now), Err(Refusal::RenewalLimit));
        assert_eq!(
            lib.renew(FINES, DVD, now),
            Err(Refusal::FinesOverLimit { owed_cents: 1250 })
        );
    }

    #[test]
    fn debug_of_the_library_shows_no_personal_data() {
        let mut lib = library();
        let now = at(2026, 11, 24, 21);
        lib.checkout(&Checkout::now(AINO, BOOK, now), now).unwrap();
        let shown = format!("{lib:?} {:?}", Checkout::now(AINO, BOOK, now));
        for secret in [
            AINO,
            "1234",
            "Virtanen",
            "1985-03-14",
            "kiosk-secret-1",
            FINES,
        ] {
            assert!(!shown.contains(secret), "{secret} in Debug output");
        }
    }

    #[test]
    fn refusals_speak_the_patrons_language() {
        assert_eq!(Refusal::WrongPin.message("fi"), "Väärä PIN-koodi.");
        assert_eq!(Refusal::WrongPin.message("sv"), "Fel PIN-kod.");
        assert_eq!(
            Refusal::FinesOverLimit { owed_cents: 1250 }.message("fi"),
            "Maksuja 12,50 €, yli rajan."
        );
    }
}
