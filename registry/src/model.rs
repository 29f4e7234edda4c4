//! What the library system tells a door or kiosk, in types a policy can read and a screen can
//! show: a patron's facts, the outcome of each transaction, and why it failed.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
pub use config::registry::FlagEffect as Effect;
use redact::{CardNumber, Personal, Pin};

/// A patron's card number and PIN, as read at the door or kiosk.
#[derive(Debug, Clone)]
pub struct PatronLogin {
    /// The card number.
    pub card: CardNumber,
    /// The PIN.
    pub pin: Pin,
}

impl PatronLogin {
    /// A login.
    pub fn new(card: impl Into<String>, pin: impl Into<String>) -> Self {
        Self {
            card: CardNumber::new(card),
            pin: Pin::new(pin),
        }
    }
}

/// The answer to "is this card and PIN a patron's?" — a wrong PIN is a "no", not an error.
#[derive(Debug, Clone)]
pub enum Verification {
    /// No patron has this card.
    UnknownCard {
        /// The library system's words, if it gave any.
        message: Option<String>,
    },
    /// The card is a patron's, the PIN is not theirs.
    WrongPin {
        /// The library system's words, if it gave any.
        message: Option<String>,
    },
    /// Card and PIN match: the facts the access policy needs.
    Verified(Box<PatronFacts>),
}

impl Verification {
    /// The facts, when verified.
    pub fn facts(&self) -> Option<&PatronFacts> {
        match self {
            Self::Verified(f) => Some(f),
            _ => None,
        }
    }
}

/// Why a patron may not do something, as the library system reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// Charge privileges denied: a lending ban.
    LendingBan,
    /// Renewal privileges denied.
    RenewalsDenied,
    /// Recall privileges denied.
    RecallsDenied,
    /// Hold privileges denied.
    HoldsDenied,
    /// The card was reported lost.
    CardLost,
    /// As many loans as allowed.
    TooManyLoans,
    /// Too many overdue items.
    TooManyOverdue,
    /// Too many renewals.
    TooManyRenewals,
    /// Too many claims of items returned.
    TooManyClaimsReturned,
    /// Too many items lost.
    TooManyLost,
    /// Fines over the limit.
    FinesOverLimit,
    /// Fees over the limit.
    FeesOverLimit,
    /// A recalled item is overdue.
    RecallOverdue,
    /// Too many items billed.
    TooManyBilled,
    /// The card has expired.
    CardExpired,
    /// Self-service use is not permitted (revoked, or terms not accepted).
    SelfServiceDenied,
    /// A self-service block, at one branch or all, maybe until a date.
    SelfServiceBlock,
    /// Self-service terms not accepted.
    TermsNotAccepted,
    /// Under the minimum age for self-service (without a guardian's consent).
    Underage,
    /// The patron's category may not use self-service.
    CategoryNotAllowed,
    /// Outside the branch's self-service hours (the library system's own verdict).
    OutsideOpeningHours,
    /// The library system refused for a reason it did not classify.
    Other,
}

impl BlockKind {
    /// The kinds of the 14 SIP2 patron-status flags, in wire order.
    pub const FLAGS: [BlockKind; 14] = [
        Self::LendingBan,
        Self::RenewalsDenied,
        Self::RecallsDenied,
        Self::HoldsDenied,
        Self::CardLost,
        Self::TooManyLoans,
        Self::TooManyOverdue,
        Self::TooManyRenewals,
        Self::TooManyClaimsReturned,
        Self::TooManyLost,
        Self::FinesOverLimit,
        Self::FeesOverLimit,
        Self::RecallOverdue,
        Self::TooManyBilled,
    ];
}

/// One block on a patron.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// What kind.
    pub kind: BlockKind,
    /// What it stops.
    pub effect: Effect,
    /// The library's own words for it, when given (e.g. a ban's reason).
    pub reason: Option<String>,
    /// The branch it applies to; every branch when `None`.
    pub branch: Option<String>,
    /// The last day it applies; open-ended when `None`.
    pub until: Option<NaiveDate>,
}

/// Money as the library system reported it, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cents(pub i64);

impl Cents {
    /// Parses an amount as systems write it: `12.50`, `12,50`, `12`, `-3.5`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().replace(',', ".");
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.to_owned()),
            None => (false, t),
        };
        let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let frac = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()? * 10,
            _ => frac.get(..2)?.parse::<i64>().ok()?,
        };
        let v = whole.checked_mul(100)?.checked_add(frac)?;
        Some(Self(if neg { -v } else { v }))
    }
}

impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let v = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", v / 100, v % 100)
    }
}

/// What the access policy and the kiosk need to know of a verified patron, and no more.
#[derive(Debug, Clone, Default)]
pub struct PatronFacts {
    /// The library system says the card is valid (not expired, not withdrawn).
    pub card_valid: bool,
    /// The card's last valid day, when the system sends it.
    pub card_expires: Option<NaiveDate>,
    /// Birth date, when the system sends it (for the age rule).
    pub birth_date: Option<Personal<NaiveDate>>,
    /// Patron category code.
    pub category: Option<String>,
    /// Home branch code.
    pub home_branch: Option<String>,
    /// Self-service permission; `None` when the system does not say.
    pub self_service: Option<bool>,
    /// A guardian's consent for a minor's self-service use; `None` when the system does not say.
    pub guardian_consent: Option<bool>,
    /// Blocks, each with what it stops.
    pub blocks: Vec<Block>,
    /// Fines and fees owed.
    pub fines: Option<Cents>,
    /// The library's limit on fines, when sent.
    pub fine_limit: Option<Cents>,
    /// The patron's language: `fi`, `sv`, `en`, or `None`.
    pub language: Option<String>,
    /// The patron's name, for a greeting on the kiosk screen.
    pub name: Option<Personal<String>>,
    /// The library system's own message for the patron (AF).
    pub screen_message: Option<String>,
}

impl PatronFacts {
    /// Some block stops entry.
    pub fn denies_entry(&self) -> bool {
        self.blocks.iter().any(|b| b.effect == Effect::DenyAll)
    }

    /// Some block stops borrowing.
    pub fn denies_loans(&self) -> bool {
        self.blocks
            .iter()
            .any(|b| matches!(b.effect, Effect::DenyAll | Effect::DenyLoans))
    }

    /// Age in whole years on `today`, when the birth date is known.
    pub fn age_on(&self, today: NaiveDate) -> Option<u32> {
        use chrono::Datelike;
        let b = *self.birth_date.as_ref()?.expose();
        let mut age = today.year() - b.year();
        if (today.month(), today.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        u32::try_from(age).ok()
    }
}

/// A loan on the patron's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanEntry {
    /// Item barcode.
    pub item: String,
    /// Title, when known.
    pub title: Option<String>,
    /// Due date, when known.
    pub due: Option<NaiveDateTime>,
    /// Overdue.
    pub overdue: bool,
}

/// A hold on the patron's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldEntry {
    /// Item barcode or title id as the system gives it.
    pub item: String,
    /// Title, when known.
    pub title: Option<String>,
    /// Waiting for the patron on the holds shelf (SIP2's available hold items, Koha's status
    /// `W`); otherwise still in the queue.
    pub ready: bool,
    /// Where it is picked up (the library's name, else its code), when the system says.
    pub pickup: Option<String>,
}

/// A patron's loans and holds.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// Loans, in the system's order.
    pub loans: Vec<LoanEntry>,
    /// Holds.
    pub holds: Vec<HoldEntry>,
}

/// The outcome of lending or renewing one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanOutcome {
    /// Item barcode.
    pub item: String,
    /// Title, when known.
    pub title: Option<String>,
    /// Lent (or renewed).
    pub ok: bool,
    /// It was already on loan to this patron and was renewed.
    pub renewed: bool,
    /// Due date.
    pub due: Option<NaiveDateTime>,
    /// Why not, or a note, in the library system's words.
    pub message: Option<String>,
    /// The security bit should be cleared (the system said so; `None` when it did not say).
    pub desensitize: Option<bool>,
}

/// Where a returned item goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnRoute {
    /// Back on the shelf.
    Shelf,
    /// Waiting for a patron's hold: the holds shelf.
    Hold,
    /// To another branch.
    Transfer {
        /// Branch code, when given.
        to: Option<String>,
    },
    /// Something else the staff must look at.
    Staff,
}

/// The outcome of returning one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnOutcome {
    /// Item barcode.
    pub item: String,
    /// Title, when known.
    pub title: Option<String>,
    /// Accepted.
    pub ok: bool,
    /// Where it goes.
    pub route: ReturnRoute,
    /// The security bit should be set again.
    pub resensitize: Option<bool>,
    /// The library system's words.
    pub message: Option<String>,
}

/// The outcome of renewing every loan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenewAllOutcome {
    /// Renewed items.
    pub renewed: Vec<String>,
    /// Items not renewed.
    pub not_renewed: Vec<String>,
    /// The library system's words.
    pub message: Option<String>,
}

/// An item's circulation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    /// On the shelf, can be lent.
    Available,
    /// On loan.
    OnLoan,
    /// On the holds shelf or in transit.
    OnHoldOrInTransit,
    /// Lost, missing, claimed returned.
    Missing,
    /// Anything else the system reported.
    Other,
}

/// What the library system knows of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFacts {
    /// Item barcode.
    pub item: String,
    /// Known to the library system.
    pub known: bool,
    /// Title.
    pub title: Option<String>,
    /// Status.
    pub status: ItemStatus,
    /// Due date, when on loan.
    pub due: Option<NaiveDateTime>,
    /// Home branch or location.
    pub location: Option<String>,
    /// The library system's words.
    pub message: Option<String>,
}

/// Why a request got no answer. A patron's "no" is never an error: it is in the outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    /// The library system cannot be reached (refused, reset, unreachable, dropped mid-reply).
    #[error("library system unreachable: {0}")]
    Unreachable(String),
    /// No answer within the bound.
    #[error("library system did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The server's certificate was refused, or ours was.
    #[error("TLS: {0}")]
    Tls(String),
    /// The device's credentials were refused.
    #[error("the library system refused the device's credentials: {0}")]
    DeviceRefused(String),
    /// An answer that breaks the protocol (garbage, wrong sequence, a reply we did not ask for).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The request was refused by the system for a reason that is not the patron's (HTTP 5xx, …).
    #[error("library system error: {0}")]
    Server(String),
    /// Our own setup is wrong (unreadable certificate, bad URL).
    #[error("setup: {0}")]
    Setup(String),
}

impl RegistryError {
    /// The system could not give an answer now: a door falls back to its offline allow-list, a
    /// kiosk queues the loan.
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_) | Self::Timeout(_) | Self::Protocol(_) | Self::Server(_)
        )
    }
}
