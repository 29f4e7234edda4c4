//! PIN verifiers a device learned online: after the library system accepts a card and PIN, the
//! device keeps an argon2id verifier of that PIN, so the patron comes in offline later even when
//! the library system exports no PINs at all (Koha-Suomi's SSAuthenticator caches a bcrypt of the
//! PIN after each online check in the same way).
//!
//! A learned record is the card's keyed hash, when the PIN was last confirmed online, and an
//! [`Entry`] holding the verifier and, for a card the list does not know (`learn_pins = "any"`),
//! the facts the library system gave. The verifier is keyed with a secret derived from the card
//! key (argon2's "pepper", [`allowlist::Argon2Params::verifier_with_secret`]), so the file alone
//! is no help to a PIN guesser: they need the card key too, which a TPM may seal.
//!
//! The records live in their own directory beside the list's store (`learned-pins`), in one file
//! rewritten whole at every change, like the PIN-failure records ([`crate::failures`]): an
//! erased or expired record is gone from every file at once. A record is replaced when the PIN
//! changes (a new verifier, a new salt), renewed when it is confirmed online again, and dropped
//! when it has not been confirmed for the library's `learned_pin_days`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use allowlist::{Argon2Params, CardHash, Entry, PinVerifier};

use crate::store::StoreError;

/// The directory's name, beside the list's store.
pub const DIR: &str = "learned-pins";
const FILE: &str = "learned";
const MAGIC: &[u8] = b"omatoimi learned-pins 1\n";
/// What the secret for learned verifiers is derived for (see [`allowlist::CardKey::derive`]).
pub const PEPPER_PURPOSE: &str = "learned PIN verifiers";
/// The most records kept; the ones confirmed longest ago go first.
pub const MAX_RECORDS: usize = 200_000;

/// The argon2id parameters of learned verifiers: OWASP's minimum, as the lists'.
pub const PARAMS: Argon2Params = Argon2Params::OWASP_MINIMUM;

/// Where the learned verifiers of the list store at `list_store` are kept: `learned-pins` in
/// the same directory.
pub fn dir_for(list_store: &Path) -> PathBuf {
    list_store.with_file_name(DIR)
}

/// One learned verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    /// When the PIN was last confirmed by the library system (Unix seconds).
    pub confirmed_at: i64,
    /// The card was not on the list when learned: the entry's facts are the library system's.
    pub unlisted: bool,
    /// The card hash, the verifier (argon2id with the device's pepper) and, for an unlisted
    /// card, its facts.
    pub entry: Entry,
}

impl Learned {
    /// Whether `pin` matches, with the device's `pepper`.
    pub fn matches(&self, pin: &redact::Pin, pepper: &[u8; 32]) -> bool {
        match &self.entry.pin {
            PinVerifier::Argon2id { salt, output } => {
                PARAMS.verify_with_secret(pin, salt, pepper, output)
            }
            _ => false,
        }
    }
}

/// The learned verifiers, held in memory and written through to their file.
#[derive(Debug)]
pub struct LearnedStore {
    file: daemon::fs::RecordFile,
    records: Mutex<BTreeMap<[u8; 32], Learned>>,
}

impl LearnedStore {
    /// Opens (or creates, private to this user) the records in `dir`, holding them against
    /// other processes while open, and deleting a write a crash left half done. A damaged file
    /// is logged and read as none: patrons then come in offline by the list alone until they
    /// are seen online again.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let io = |e: std::io::Error| StoreError::Failures {
            path: dir.to_owned(),
            message: e.to_string(),
        };
        let (file, bytes) = daemon::fs::open_record_file(dir, FILE).map_err(io)?;
        let records = match bytes {
            Some(bytes) => decode(&bytes).unwrap_or_else(|| {
                tracing::error!(
                    "{}: damaged; learned PIN verifiers read as none",
                    file.path().display()
                );
                BTreeMap::new()
            }),
            None => BTreeMap::new(),
        };
        Ok(Self {
            file,
            records: Mutex::new(records),
        })
    }

    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<[u8; 32], Learned>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.file.dir()
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.records().len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record of a card, if it was confirmed within `kept_for` seconds of `now`.
    pub fn get(&self, card: &CardHash, now: i64, kept_for: i64) -> Option<Learned> {
        self.records()
            .get(&card.0)
            .filter(|l| now.saturating_sub(l.confirmed_at) < kept_for)
            .cloned()
    }

    /// Stores a card's record, dropping the ones older than `kept_for` at `now` (and the oldest
    /// over [`MAX_RECORDS`]); durable when it returns.
    pub fn put(&self, learned: Learned, now: i64, kept_for: i64) -> Result<(), StoreError> {
        let mut records = self.records();
        let mut next = records.clone();
        next.insert(learned.entry.card.0, learned);
        keep_fresh(&mut next, now, kept_for);
        self.write(&next)?;
        *records = next;
        Ok(())
    }

    /// Removes a card's record (a patron's right to erasure), leaving no bytes of it in the
    /// files; whether there was one. The file is rewritten even when there was none.
    pub fn remove(&self, card: &CardHash) -> Result<bool, StoreError> {
        let mut records = self.records();
        let mut next = records.clone();
        let had = next.remove(&card.0).is_some();
        self.write(&next)?;
        *records = next;
        Ok(had)
    }

    /// Removes the records not confirmed within `kept_for` seconds of `now`, leaving no bytes of
    /// them; returns how many.
    pub fn purge(&self, now: i64, kept_for: i64) -> Result<usize, StoreError> {
        let mut records = self.records();
        let mut next = records.clone();
        keep_fresh(&mut next, now, kept_for);
        let n = records.len() - next.len();
        if n > 0 {
            self.write(&next)?;
            *records = next;
        }
        Ok(n)
    }

    fn write(&self, records: &BTreeMap<[u8; 32], Learned>) -> Result<(), StoreError> {
        self.file
            .replace(&encode(records))
            .map_err(|e| StoreError::Failures {
                path: self.file.dir().to_owned(),
                message: e.to_string(),
            })
    }
}

fn keep_fresh(records: &mut BTreeMap<[u8; 32], Learned>, now: i64, kept_for: i64) {
    records.retain(|_, l| now.saturating_sub(l.confirmed_at) < kept_for);
    if records.len() > MAX_RECORDS {
        let mut ages: Vec<i64> = records.values().map(|l| l.confirmed_at).collect();
        ages.sort_unstable();
        let cut = ages[records.len() - MAX_RECORDS];
        records.retain(|_, l| l.confirmed_at >= cut);
    }
}

/// The file: the magic, then per record its length (u32), the time confirmed (i64), the
/// unlisted flag (u8) and the entry's canonical bytes.
fn encode(records: &BTreeMap<[u8; 32], Learned>) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for l in records.values() {
        let bytes = l.entry.to_bytes();
        let len = u32::try_from(bytes.len() + 9).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&l.confirmed_at.to_le_bytes());
        out.push(u8::from(l.unlisted));
        out.extend_from_slice(&bytes);
    }
    out
}

fn decode(bytes: &[u8]) -> Option<BTreeMap<[u8; 32], Learned>> {
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let mut out = BTreeMap::new();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let record = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        let confirmed_at = i64::from_le_bytes(record.get(..8)?.try_into().ok()?);
        let unlisted = match record.get(8)? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let entry = Entry::decode(record.get(9..)?).ok()?;
        out.insert(
            entry.card.0,
            Learned {
                confirmed_at,
                unlisted,
                entry,
            },
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use allowlist::Facts;
    use chrono::NaiveDate;
    use redact::Pin;

    use super::*;

    fn learned(card: u8, pin: &str, at: i64) -> Learned {
        let salt = [card; 16];
        let output = PARAMS
            .verifier_with_secret(&Pin::new(pin), &salt, &[9; 32])
            .unwrap();
        Learned {
            confirmed_at: at,
            unlisted: card % 2 == 1,
            entry: Entry {
                card: CardHash([card; 32]),
                pin: PinVerifier::Argon2id { salt, output },
                facts: Facts {
                    card_expires: NaiveDate::from_ymd_opt(2028, 1, 31).unwrap(),
                    turns_15: None,
                    self_service: true,
                    guardian_consent: false,
                    fines_over_limit: false,
                    card_lost: false,
                    category: "ADULT".into(),
                    home_branch: "LEMI".into(),
                    blocks: vec![],
                },
            },
        }
    }

    #[test]
    fn records_survive_reopening_expire_and_are_erased_from_the_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(DIR);
        let day = 86_400;
        {
            let s = LearnedStore::open(&dir).unwrap();
            s.put(learned(1, "1234", 1_000), 1_000, 90 * day).unwrap();
            s.put(learned(2, "4321", 2_000), 2_000, 90 * day).unwrap();
        }
        let s = LearnedStore::open(&dir).unwrap();
        let one = s.get(&CardHash([1; 32]), 5_000, 90 * day).unwrap();
        assert!(one.unlisted);
        assert!(one.matches(&Pin::new("1234"), &[9; 32]));
        assert!(!one.matches(&Pin::new("1235"), &[9; 32]));
        assert!(
            !one.matches(&Pin::new("1234"), &[8; 32]),
            "the pepper counts"
        );
        // 90 days after it was confirmed it is no longer used, and the purge drops it.
        assert!(
            s.get(&CardHash([1; 32]), 1_000 + 90 * day, 90 * day)
                .is_none()
        );
        assert_eq!(s.purge(1_000 + 90 * day, 90 * day).unwrap(), 1);
        assert_eq!(s.len(), 1);
        // Erasure leaves no byte of the record in the directory.
        assert!(daemon::fs::holds_bytes(&dir, &[2; 32]).unwrap());
        assert!(s.remove(&CardHash([2; 32])).unwrap());
        assert!(!daemon::fs::holds_bytes(&dir, &[2; 32]).unwrap());
        assert!(!s.remove(&CardHash([2; 32])).unwrap());
    }

    #[test]
    fn a_damaged_file_reads_as_no_records() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(DIR);
        {
            let s = LearnedStore::open(&dir).unwrap();
            s.put(learned(1, "1234", 1_000), 1_000, 1_000_000).unwrap();
        }
        let path = dir.join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes.truncate(n - 3);
        std::fs::write(&path, &bytes).unwrap();
        assert!(LearnedStore::open(&dir).unwrap().is_empty());
    }
}
