//! One patron's entry: no name, no clear card number, only what the door's policy needs.
//!
//! Canonical encoding (little-endian): card hash (32), the PIN verifier (a scheme byte: 0 none;
//! 1 argon2id, then salt (16) and output (32); 2 bcrypt, then the prefix letter, the cost, salt
//! (16) and hash (23)), card expiry (u32, days from 0001-01-01), the date the patron turns 15 (u32, 0 when already 15 at
//! publication), flags (u8), category and home branch (one-byte length + UTF-8), then the blocks
//! (u8 count; each: scope u8, branch as a short string, empty for everywhere, last day u32, 0 for
//! open-ended). A body is entries in strictly ascending card-hash order, so the same patrons always
//! give the same bytes and the same hash.

use chrono::{Datelike, NaiveDate};

use crate::card::CardHash;
use crate::verifier::PinVerifier;
use crate::{FormatError, Reader, put_short_str};

const SELF_SERVICE: u8 = 1;
const GUARDIAN_CONSENT: u8 = 2;
const FINES_OVER_LIMIT: u8 = 4;
const CARD_LOST: u8 = 8;
const KNOWN_FLAGS: u8 = SELF_SERVICE | GUARDIAN_CONSENT | FINES_OVER_LIMIT | CARD_LOST;

/// The fixed part of an entry with an argon2id verifier, before the category: hash, scheme,
/// salt, output, two dates, flags.
pub const FIXED_LEN: usize = 32 + 1 + 16 + 32 + 4 + 4 + 1;

/// The facts the access policy needs about one patron.
#[derive(Clone, PartialEq, Eq)]
pub struct Facts {
    /// Last day the card is valid.
    pub card_expires: NaiveDate,
    /// The day the patron counts as 15, for patrons under 15 when the list was made; `None`
    /// otherwise. The publisher rounds the 15th birthday up to the first of the next month, so the
    /// list holds no birth date. (A library with a lower age limit subtracts years from it.)
    pub turns_15: Option<NaiveDate>,
    /// Self-service permission: terms accepted and not revoked.
    pub self_service: bool,
    /// A guardian's consent to self-service, for patrons under 15.
    pub guardian_consent: bool,
    /// Fines at or over the publisher's limit.
    pub fines_over_limit: bool,
    /// The card has been reported lost.
    pub card_lost: bool,
    /// Patron category (`ADULT`, `CHILD`, …).
    pub category: String,
    /// Home branch code.
    pub home_branch: String,
    /// Lending bans and self-service blocks, each everywhere or at one branch, with a last day.
    pub blocks: Vec<EntryBlock>,
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The day a child turns 15 is their birth date: never in clear in a log line.
        f.debug_struct("Facts")
            .field("card_expires", &self.card_expires)
            .field("turns_15", &self.turns_15.map(redact::Personal::new))
            .field("self_service", &self.self_service)
            .field("guardian_consent", &self.guardian_consent)
            .field("fines_over_limit", &self.fines_over_limit)
            .field("card_lost", &self.card_lost)
            .field("category", &self.category)
            .field("home_branch", &self.home_branch)
            .field("blocks", &self.blocks)
            .finish()
    }
}

/// What a block stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockScope {
    /// A lending ban: no loans (the door's policy may treat it as no entry).
    Lending,
    /// No self-service (door and kiosk).
    SelfService,
}

/// A block on a patron.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryBlock {
    /// What it stops.
    pub scope: BlockScope,
    /// Only at this branch; everywhere if `None`.
    pub branch: Option<String>,
    /// Last day it applies; open-ended if `None`.
    pub until: Option<NaiveDate>,
}

impl EntryBlock {
    /// Whether the block stands on `day` at `branch`.
    pub fn applies(&self, day: NaiveDate, branch: &str) -> bool {
        self.until.is_none_or(|u| day <= u) && self.branch.as_deref().is_none_or(|b| b == branch)
    }
}

/// One patron's entry.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// Keyed hash of the normalised card number.
    pub card: CardHash,
    /// How the PIN is checked offline.
    pub pin: PinVerifier,
    /// The facts.
    pub facts: Facts,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("card", &self.card)
            .field("pin", &self.pin)
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

/// The day a child counts as 15 in the list: their 15th birthday moved on to the first day of
/// the next month (kept when it already is a first), so the list holds a child's birth month and
/// year, not their birth date. The cost is the child's: offline, at a door whose age limit
/// needs a guardian's consent below it, they wait up to a month longer after their birthday
/// (at most 30 days; online the library system's exact date counts). Rounding up never admits
/// a child before the rule does.
pub fn coarse_turns_15(birth: NaiveDate) -> Option<NaiveDate> {
    let day = birth.checked_add_months(chrono::Months::new(15 * 12))?;
    if day.day() == 1 {
        return Some(day);
    }
    day.with_day(1)?.checked_add_months(chrono::Months::new(1))
}

fn day_number(d: NaiveDate) -> u32 {
    u32::try_from(d.num_days_from_ce()).unwrap_or(0)
}

fn day(n: u32, what: &'static str) -> Result<NaiveDate, FormatError> {
    i32::try_from(n)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or(FormatError::Malformed {
            what,
            problem: format!("day number {n} is not a date"),
        })
}

fn optional_day(n: u32, what: &'static str) -> Result<Option<NaiveDate>, FormatError> {
    if n == 0 {
        Ok(None)
    } else {
        day(n, what).map(Some)
    }
}

impl Entry {
    /// Appends the canonical encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let f = &self.facts;
        out.extend_from_slice(&self.card.0);
        self.pin.encode(out);
        out.extend_from_slice(&day_number(f.card_expires).to_le_bytes());
        out.extend_from_slice(&f.turns_15.map_or(0, day_number).to_le_bytes());
        let flags = [
            (f.self_service, SELF_SERVICE),
            (f.guardian_consent, GUARDIAN_CONSENT),
            (f.fines_over_limit, FINES_OVER_LIMIT),
            (f.card_lost, CARD_LOST),
        ]
        .iter()
        .fold(0, |acc, (on, bit)| if *on { acc | bit } else { acc });
        out.push(flags);
        put_short_str(out, &f.category);
        put_short_str(out, &f.home_branch);
        let blocks = &f.blocks[..f.blocks.len().min(255)];
        out.push(blocks.len() as u8);
        for b in blocks {
            out.push(match b.scope {
                BlockScope::Lending => 1,
                BlockScope::SelfService => 2,
            });
            put_short_str(out, b.branch.as_deref().unwrap_or(""));
            out.extend_from_slice(&b.until.map_or(0, day_number).to_le_bytes());
        }
    }

    /// The canonical encoding in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(FIXED_LEN + 32);
        self.encode(&mut v);
        v
    }

    /// Reads one entry.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let card = CardHash(r.array("entry card hash")?);
        let pin = PinVerifier::read(r)?;
        let card_expires = day(r.u32("entry card expiry")?, "entry card expiry")?;
        let turns_15 = optional_day(r.u32("entry age date")?, "entry age date")?;
        let flags = r.u8("entry flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(FormatError::Malformed {
                what: "entry flags",
                problem: format!("unknown flag bits {flags:#04x}"),
            });
        }
        let category = r.short_str("entry category")?;
        let home_branch = r.short_str("entry home branch")?;
        let n = r.u8("entry block count")?;
        let mut blocks = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let scope = match r.u8("block scope")? {
                1 => BlockScope::Lending,
                2 => BlockScope::SelfService,
                other => {
                    return Err(FormatError::Malformed {
                        what: "block scope",
                        problem: format!("unknown scope {other}"),
                    });
                }
            };
            let branch = Some(r.short_str("block branch")?).filter(|b| !b.is_empty());
            let until = optional_day(r.u32("block last day")?, "block last day")?;
            blocks.push(EntryBlock {
                scope,
                branch,
                until,
            });
        }
        Ok(Self {
            card,
            pin,
            facts: Facts {
                card_expires,
                turns_15,
                self_service: flags & SELF_SERVICE != 0,
                guardian_consent: flags & GUARDIAN_CONSENT != 0,
                fines_over_limit: flags & FINES_OVER_LIMIT != 0,
                card_lost: flags & CARD_LOST != 0,
                category,
                home_branch,
                blocks,
            },
        })
    }

    /// Decodes the entry at the front of `bytes`, returning it and its length; a
    /// [`FormatError::Truncated`] means more bytes are needed.
    pub fn decode_front(bytes: &[u8]) -> Result<(Self, usize), FormatError> {
        let mut r = Reader::new(bytes);
        let e = Self::read(&mut r)?;
        Ok((e, r.position()))
    }

    /// Decodes exactly one entry from `bytes` (as a store holds it).
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let e = Self::read(&mut r)?;
        match r.remaining() {
            0 => Ok(e),
            n => Err(FormatError::TrailingBytes(n)),
        }
    }
}

/// An entry as it lies in a body: its bytes, checked, with the decoded entry.
#[derive(Debug)]
pub struct RawEntry<'a> {
    /// The canonical bytes.
    pub bytes: &'a [u8],
    /// The decoded entry.
    pub entry: Entry,
}

/// Reads a body of `count` entries, checking each entry and the strict card-hash order.
#[derive(Debug)]
pub struct Entries<'a> {
    r: Reader<'a>,
    left: u64,
    index: u64,
    last: Option<CardHash>,
    failed: bool,
}

impl<'a> Entries<'a> {
    /// Reads `count` entries from `bytes`; the bytes must hold exactly those.
    pub fn new(bytes: &'a [u8], count: u64) -> Self {
        Self {
            r: Reader::new(bytes),
            left: count,
            index: 0,
            last: None,
            failed: false,
        }
    }

    /// How many bytes the entries read so far took.
    pub(crate) fn consumed(&self) -> usize {
        self.r.position()
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<RawEntry<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.left == 0 {
            return None;
        }
        let start = self.r.position();
        let result = Entry::read(&mut self.r).and_then(|entry| {
            if self.last.is_some_and(|l| l >= entry.card) {
                return Err(FormatError::NotSorted { index: self.index });
            }
            self.last = Some(entry.card);
            Ok(entry)
        });
        self.left -= 1;
        self.index += 1;
        match result {
            Ok(entry) => {
                let end = self.r.position();
                Some(Ok(RawEntry {
                    bytes: &self.r.bytes()[start..end],
                    entry,
                }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(card: u8) -> Entry {
        Entry {
            card: CardHash([card; 32]),
            pin: match card % 3 {
                0 => PinVerifier::Argon2id {
                    salt: [card ^ 1; 16],
                    output: [card ^ 2; 32],
                },
                1 => PinVerifier::Bcrypt(
                    crate::BcryptHash::parse(
                        "$2a$08$VIQCE.U8iDsD/b5tPvisy.TXlNMiXQILKuCrEGsvLmtrYVv8uiP72",
                    )
                    .unwrap(),
                ),
                _ => PinVerifier::None,
            },
            facts: Facts {
                card_expires: NaiveDate::from_ymd_opt(2028, 1, 31).unwrap(),
                turns_15: (card % 2 == 0).then(|| NaiveDate::from_ymd_opt(2029, 6, 1).unwrap()),
                self_service: true,
                guardian_consent: card % 3 == 0,
                fines_over_limit: false,
                card_lost: false,
                category: "ADULT".into(),
                home_branch: "LEMI".into(),
                blocks: if card % 4 == 0 {
                    vec![EntryBlock {
                        scope: BlockScope::SelfService,
                        branch: Some("TAIPALSAARI".into()),
                        until: Some(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()),
                    }]
                } else {
                    vec![]
                },
            },
        }
    }

    #[test]
    fn debug_output_hides_the_day_a_child_turns_15() {
        let e = sample(2);
        let shown = format!("{:?} {:?}", e.facts, e);
        assert!(!shown.contains("2029"), "{shown}");
        assert!(shown.contains("2028-01-31"), "{shown}");
    }

    #[test]
    fn entries_round_trip() {
        for c in 0..8 {
            let e = sample(c);
            assert_eq!(Entry::decode(&e.to_bytes()).unwrap(), e);
        }
    }

    #[test]
    fn an_unknown_pin_scheme_or_a_bad_bcrypt_is_refused() {
        let mut bytes = sample(1).to_bytes();
        assert_eq!(bytes[32], 2, "bcrypt's tag follows the card hash");
        bytes[34] = 40;
        assert!(matches!(
            Entry::decode(&bytes),
            Err(FormatError::Malformed {
                what: "entry bcrypt hash",
                ..
            })
        ));
        bytes[32] = 9;
        assert!(matches!(
            Entry::decode(&bytes),
            Err(FormatError::Malformed {
                what: "entry PIN scheme",
                ..
            })
        ));
    }

    #[test]
    fn every_truncation_of_an_entry_is_an_error() {
        let bytes = sample(4).to_bytes();
        for n in 0..bytes.len() {
            assert!(Entry::decode(&bytes[..n]).is_err(), "{n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Entry::decode(&long), Err(FormatError::TrailingBytes(1)));
    }

    #[test]
    fn a_body_out_of_order_is_refused() {
        let mut body = Vec::new();
        sample(2).encode(&mut body);
        sample(1).encode(&mut body);
        let r: Vec<_> = Entries::new(&body, 2).collect();
        assert!(matches!(r[1], Err(FormatError::NotSorted { index: 1 })));
        let mut dup = Vec::new();
        sample(2).encode(&mut dup);
        sample(2).encode(&mut dup);
        assert!(Entries::new(&dup, 2).any(|e| e.is_err()));
    }

    #[test]
    fn blocks_apply_by_day_and_branch() {
        let b = sample(4).facts.blocks[0].clone();
        let d = |m, dd| NaiveDate::from_ymd_opt(2026, m, dd).unwrap();
        assert!(b.applies(d(12, 1), "TAIPALSAARI"));
        assert!(!b.applies(d(12, 1), "LEMI"));
        assert!(!b.applies(NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(), "TAIPALSAARI"));
    }
}
