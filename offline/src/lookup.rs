//! Card + PIN against the list in force: the call a door makes when the library system does not
//! answer.

use std::sync::Arc;

use allowlist::trust::still_in_force;
use allowlist::{Entry, Facts, PinCheck, PinVerifier, Refusal};
use config::allowlist::{AllowlistSettings, LearnPins, WhenExpired};
use redact::{CardNumber, Pin};

use crate::failures::FailureStore;
use crate::learned::{Learned, LearnedStore};
use crate::store::{Store, StoreError};

/// Which verifier answered an offline check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedBy {
    /// The list's argon2id verifier, made by the publisher from a clear PIN.
    ListArgon2id,
    /// The library system's own hash (bcrypt), carried in the list.
    LibraryHash,
    /// A verifier this device learned after an online check.
    Learned,
}

impl CheckedBy {
    /// A short name for logs and the demo.
    pub fn name(self) -> &'static str {
        match self {
            Self::ListArgon2id => "list argon2id",
            Self::LibraryHash => "library system's bcrypt hash",
            Self::Learned => "verifier learned online",
        }
    }
}

/// The list's answer about a card and PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineAnswer {
    /// The card is not on the list.
    UnknownCard,
    /// The PIN is wrong; this many more wrong PINs lock the card.
    WrongPin {
        /// Tries left before a lockout.
        tries_left: u32,
    },
    /// Too many wrong PINs: the card is locked until then (Unix seconds).
    LockedOut {
        /// End of the lockout.
        until: i64,
    },
    /// The card is on the list (or was learned) but nothing here can check its PIN: the library
    /// system exported no PIN (or a hash in a scheme or at a cost this device does not run) and
    /// the device has not learned one online.
    NoVerifier {
        /// A bcrypt cost over the device's ceiling, when that is why.
        bcrypt_cost: Option<u8>,
    },
    /// Card and PIN match: the facts for the policy.
    Verified {
        /// The patron's facts.
        facts: Box<Facts>,
        /// Which verifier matched.
        by: CheckedBy,
        /// The list version that answered.
        version: u64,
        /// The list had expired and the grace policy let it answer.
        past_expiry: bool,
    },
}

/// Why the list could not answer.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// This device has no list yet.
    #[error("no offline list has been applied on this device")]
    NoList,
    /// The list has expired and the policy says deny.
    #[error("the offline list expired at {expired_at} (Unix time); the policy is to deny")]
    Expired {
        /// Its expiry (plus any grace).
        expired_at: i64,
    },
    /// The list is no longer trusted (its key was revoked) or the clock is wrong.
    #[error("the offline list is not in force: {0}")]
    NotInForce(Refusal),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The offline list of a device.
#[derive(Debug, Clone)]
pub struct OfflineList {
    store: Store,
    failures: Arc<FailureStore>,
    learned: Arc<LearnedStore>,
    pepper: Arc<[u8; 32]>,
    settings: Arc<AllowlistSettings>,
}

impl OfflineList {
    /// Opens the store named in `settings`, and the device's PIN-failure records beside it
    /// ([`crate::failures::dir_for`]), moving there any an earlier version kept in the list's
    /// store.
    pub fn open(settings: AllowlistSettings) -> Result<Self, StoreError> {
        let store = Store::open(&settings.store, settings.cache_bytes)?;
        let failures = FailureStore::open(&crate::failures::dir_for(&settings.store))?;
        move_old_failures(&store, &failures)?;
        let learned = LearnedStore::open(&crate::learned::dir_for(&settings.store))?;
        let pepper = settings.card_key.derive(crate::learned::PEPPER_PURPOSE);
        Ok(Self {
            store,
            failures: Arc::new(failures),
            learned: Arc::new(learned),
            pepper: Arc::new(pepper),
            settings: Arc::new(settings),
        })
    }

    /// The PIN verifiers this device learned online.
    pub fn learned(&self) -> &LearnedStore {
        &self.learned
    }

    /// Learns `pin` for `card` after the library system accepted them at `now` (Unix seconds),
    /// under the `learn_pins` policy: for a card on the list, or (`any`) for one it does not
    /// know, with `facts` the library system gave (`None`: such a card is not learned). A PIN
    /// already learned is confirmed (its time renewed, without an argon2id run unless the
    /// record is older than a day); a changed PIN replaces the verifier. Costs one argon2id
    /// computation when it makes a verifier: run it off the door's path. Returns whether a
    /// record was written.
    pub fn learn(
        &self,
        card: &CardNumber,
        pin: &Pin,
        facts: Option<&Facts>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let pins = &self.settings.pins;
        if pins.learn == LearnPins::Off {
            return Ok(false);
        }
        let hash = self.settings.card_key.hash(card);
        let listed = self.store.lookup(&hash)?.is_some();
        let facts = match (listed, pins.learn, facts) {
            (true, _, _) => None,
            (false, LearnPins::Any, Some(f)) => Some(f.clone()),
            _ => return Ok(false),
        };
        let kept_for = pins.learned_for;
        if let Some(old) = self.learned.get(&hash, now, kept_for)
            && old.unlisted == facts.is_some()
            && now.saturating_sub(old.confirmed_at) < 86_400
            && old.matches(pin, &self.pepper)
        {
            // Confirmed within the day: nothing to write.
            return Ok(false);
        }
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).map_err(|e| StoreError::Failures {
            path: self.learned.dir().to_owned(),
            message: format!("no randomness for a salt: {e}"),
        })?;
        let output = crate::learned::PARAMS
            .verifier_with_secret(pin, &salt, &self.pepper)
            .map_err(|message| StoreError::Failures {
                path: self.learned.dir().to_owned(),
                message,
            })?;
        let unlisted = facts.is_some();
        let facts = facts.unwrap_or_else(|| Facts {
            // A listed card's facts come from the list at every check; these are not read.
            card_expires: chrono::NaiveDate::MIN,
            turns_15: None,
            self_service: false,
            guardian_consent: false,
            fines_over_limit: false,
            card_lost: false,
            category: String::new(),
            home_branch: String::new(),
            blocks: vec![],
        });
        self.learned.put(
            Learned {
                confirmed_at: now,
                unlisted,
                entry: Entry {
                    card: hash,
                    pin: PinVerifier::Argon2id { salt, output },
                    facts,
                },
            },
            now,
            kept_for,
        )?;
        Ok(true)
    }

    /// Removes the PIN-failure record this device holds about `card` (a patron's right to
    /// erasure), leaving no bytes of it in the records' files; whether there was one. The list
    /// itself comes from the library system and is not touched.
    pub fn erase_card(&self, card: &CardNumber) -> Result<bool, StoreError> {
        self.erase_hash(&self.settings.card_key.hash(card))
    }

    /// [`Self::erase_card`] for the card of keyed hash `hash` (an erasure asked from the
    /// library's console, which sends no number).
    pub fn erase_hash(&self, hash: &allowlist::CardHash) -> Result<bool, StoreError> {
        let failures = self.failures.remove(hash)?;
        let learned = self.learned.remove(hash)?;
        Ok(failures || learned)
    }

    /// What this device holds about the card of keyed hash `hash` (a patron's right of
    /// access): its wrong-PIN record, and when a PIN verifier learned for it was last confirmed
    /// by the library system (the verifier itself is never told).
    pub fn held_about(
        &self,
        hash: &allowlist::CardHash,
    ) -> (Option<allowlist::guard::Failures>, Option<i64>) {
        (
            self.failures.get(hash),
            self.learned
                .get(hash, i64::MIN, i64::MAX)
                .map(|l| l.confirmed_at),
        )
    }

    /// Removes the PIN-failure records that have expired at `now` (Unix seconds: window
    /// passed, no lockout running), leaving no bytes of them; returns how many.
    pub fn purge_failures(&self, now: i64) -> Result<usize, StoreError> {
        self.failures.purge(&self.settings.guard, now)
    }

    /// [`Self::purge_failures`] as both daemons run it periodically: the outcome logged.
    pub fn purge_failures_logged(&self, now: i64) {
        match self.purge_failures(now) {
            Ok(0) => {}
            Ok(n) => tracing::info!("offline list: {n} expired PIN-failure record(s) purged"),
            Err(e) => tracing::error!("PIN-failure purge: {e}"),
        }
        match self.learned.purge(now, self.settings.pins.learned_for) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "offline list: {n} learned PIN verifier(s) not confirmed online for {} days purged",
                self.settings.pins.learned_for / 86_400
            ),
            Err(e) => tracing::error!("learned PIN purge: {e}"),
        }
    }

    /// The device's PIN-failure records (the one wrong-PIN lockout, see [`crate::verify`]).
    pub fn failures(&self) -> &FailureStore {
        &self.failures
    }

    /// The directory of the device's PIN-failure records.
    pub fn failures_dir(&self) -> &std::path::Path {
        self.failures.dir()
    }

    /// The store (for applying lists).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The settings.
    pub fn settings(&self) -> &AllowlistSettings {
        &self.settings
    }

    /// Whether the list in force (within its validity, not in a grace period) says `card` is
    /// reported lost at `now` (Unix seconds): a card no PIN lets in, so the door refuses it before
    /// one is typed. Saying so tells the card's holder nothing about the patron. Any doubt (no
    /// list, an expired one, a damaged entry) is "no": the PIN is asked for as usual.
    pub fn says_lost(&self, card: &CardNumber, now: i64) -> bool {
        let Some(current) = self.store.current() else {
            return false;
        };
        if still_in_force(&current.header, &self.settings.anchors, now).is_err() {
            return false;
        }
        let hash = self.settings.card_key.hash(card);
        matches!(self.store.lookup(&hash), Ok(Some(bytes))
            if Entry::decode(&bytes).is_ok_and(|e| e.facts.card_lost))
    }

    /// Does the list in force at `now` know nothing of `card`, neither listed nor learned? Then,
    /// with the library system unreachable, nothing can let the card in, and no PIN need be asked.
    /// An expired list (even in its grace period), or none, says nothing: false.
    pub fn says_unknown(&self, card: &CardNumber, now: i64) -> bool {
        let Some(current) = self.store.current() else {
            return false;
        };
        if still_in_force(&current.header, &self.settings.anchors, now).is_err() {
            return false;
        }
        let hash = self.settings.card_key.hash(card);
        if !matches!(self.store.lookup(&hash), Ok(None)) {
            return false;
        }
        let pins = &self.settings.pins;
        let learned = match pins.learn {
            LearnPins::Off => None,
            _ => self.learned.get(&hash, now, pins.learned_for),
        };
        // As `check` counts them: a learned unlisted card only while the policy learns any card.
        !learned.is_some_and(|l| !l.unlisted || pins.learn == LearnPins::Any)
    }

    /// Checks `card` and `pin` at `now` (Unix seconds). Costs one argon2id verification when the
    /// card is on the list and not locked out.
    pub fn check(
        &self,
        card: &CardNumber,
        pin: &Pin,
        now: i64,
    ) -> Result<OfflineAnswer, OfflineError> {
        let current = self.store.current().ok_or(OfflineError::NoList)?;
        let header = &current.header.header;
        let past_expiry = match still_in_force(&current.header, &self.settings.anchors, now) {
            Ok(()) => false,
            Err(Refusal::Expired { expired_at, .. }) => match self.settings.when_expired {
                WhenExpired::Grace(secs) if now < expired_at.saturating_add(secs) => {
                    tracing::warn!(
                        target: "security",
                        event = "allowlist_grace",
                        version = header.version,
                        expired_at,
                        "offline list expired; answering under the configured grace period"
                    );
                    true
                }
                WhenExpired::Grace(secs) => {
                    return Err(OfflineError::Expired {
                        expired_at: expired_at.saturating_add(secs),
                    });
                }
                WhenExpired::Deny => {
                    tracing::warn!(
                        target: "security",
                        event = "allowlist_expired",
                        version = header.version,
                        expired_at,
                        "offline list expired; policy is to deny"
                    );
                    return Err(OfflineError::Expired { expired_at });
                }
            },
            Err(refusal) => {
                tracing::warn!(target: "security", event = "allowlist_not_in_force", reason = %refusal, "offline list not in force: {refusal}");
                return Err(OfflineError::NotInForce(refusal));
            }
        };
        let hash = self.settings.card_key.hash(card);
        let listed = match self.store.lookup(&hash)? {
            Some(bytes) => Some(Entry::decode(&bytes).map_err(|_| StoreError::Damaged {
                path: self.store.path().to_owned(),
                what: "entry",
            })?),
            None => None,
        };
        let pins = &self.settings.pins;
        let learned = match pins.learn {
            LearnPins::Off => None,
            _ => self.learned.get(&hash, now, pins.learned_for),
        };
        // A learned record of an unlisted card counts only while the list still does not know
        // the card and the policy still learns such cards.
        let learned =
            learned.filter(|l| !l.unlisted || (listed.is_none() && pins.learn == LearnPins::Any));
        let facts = match (&listed, &learned) {
            (Some(e), _) => e.facts.clone(),
            (None, Some(l)) => l.entry.facts.clone(),
            (None, None) => return Ok(OfflineAnswer::UnknownCard),
        };
        let guard = &self.settings.guard;
        let failures = self.failures.get(&hash);
        if let Some(until) = guard.locked(failures, now) {
            return Ok(OfflineAnswer::LockedOut { until });
        }
        // The fresher word wins: a verifier learned online after the list was made knows a PIN
        // changed since; otherwise the list's own verifier, and a learned one only without it.
        let list_pin = listed.as_ref().map_or(&PinVerifier::None, |e| &e.pin);
        let use_learned = learned.as_ref().filter(|l| {
            l.confirmed_at >= header.issued_at || matches!(list_pin, PinVerifier::None)
        });
        let (check, by) = match use_learned {
            Some(l) => (
                if l.matches(pin, &self.pepper) {
                    PinCheck::Match
                } else {
                    PinCheck::Mismatch
                },
                CheckedBy::Learned,
            ),
            None => (
                list_pin.check(pin, &header.argon2, pins.max_bcrypt_cost),
                match list_pin {
                    PinVerifier::Bcrypt(_) => CheckedBy::LibraryHash,
                    _ => CheckedBy::ListArgon2id,
                },
            ),
        };
        match check {
            PinCheck::Match => {
                if failures.is_some() {
                    self.failures.set(&hash, None, guard, now)?;
                }
                Ok(OfflineAnswer::Verified {
                    facts: Box::new(facts),
                    by,
                    version: header.version,
                    past_expiry,
                })
            }
            PinCheck::Unavailable { bcrypt_cost } => {
                match bcrypt_cost {
                    Some(cost) => tracing::warn!(
                        "offline list: card {hash:?} carries a bcrypt hash of cost {cost}, over this device's max_bcrypt_cost {}; its PIN cannot be checked offline",
                        pins.max_bcrypt_cost
                    ),
                    None => tracing::info!(
                        "offline list: card {hash:?} has no PIN verifier (none exported, none learned online yet)"
                    ),
                }
                Ok(OfflineAnswer::NoVerifier { bcrypt_cost })
            }
            PinCheck::Mismatch => {
                let f = guard.fail(failures, now);
                self.failures.set(&hash, Some(f), guard, now)?;
                if let Some(until) = guard.locked(Some(f), now) {
                    tracing::warn!(target: "security", event = "pin_lockout", card = ?hash, until, "wrong PINs: card locked out");
                    return Ok(OfflineAnswer::LockedOut { until });
                }
                Ok(OfflineAnswer::WrongPin {
                    tries_left: guard.max_failures.saturating_sub(f.count),
                })
            }
        }
    }
}

/// Moves the PIN-failure records an earlier version kept in the list's store (its
/// `pin-failures` tree) to `failures`, durably, and only then drops the tree; the list stays.
/// Lockouts are short, but one running through an upgrade is kept rather than reset. Returns
/// how many were moved. (sled keeps a dropped tree's bytes in its files until it reuses them;
/// those files hold every listed patron's hash by design.)
fn move_old_failures(store: &Store, failures: &FailureStore) -> Result<usize, StoreError> {
    let old = store.take_old_failures()?;
    let n = old.len();
    if n > 0 {
        failures.adopt(old)?;
        tracing::info!(
            "offline list: {n} PIN-failure record(s) moved out of the list's store into {}",
            failures.dir().display()
        );
    }
    store.drop_old_failures()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use allowlist::guard::GuardPolicy;
    use allowlist::{Argon2Params, CardHash, Header, KeyId, Kind, Ratchet, SigningKey};

    use super::*;

    #[test]
    fn failures_kept_in_the_lists_store_by_an_earlier_version_move_out_and_the_list_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("allowlist");
        let g = GuardPolicy::default();
        let locked = (0..5).fold(None, |f, i| Some(g.fail(f, 1_000 + i)));
        {
            // As an earlier version left it: a list, and a `pin-failures` tree in its db.
            let store = Store::open(&path, 1 << 20).unwrap();
            let k = SigningKey::from_seed([1; 32]).unwrap();
            let header = Header {
                kind: Kind::Full,
                version: 7,
                base: None,
                issued_at: 1_000,
                expires_at: 100_000,
                scope: vec!["heili".into()],
                signers: vec![k.public().id()],
                card_key: KeyId([1; 8]),
                argon2: Argon2Params::OWASP_MINIMUM,
                entry_count: 1,
                list_hash: [2; 32],
                body_len: 40,
                body_hash: [3; 32],
            };
            let mut w = store.begin().unwrap();
            store.put(&mut w, &[0xee; 40]).unwrap();
            store
                .commit(w, &header.sign(&[&k]), &Ratchet::default())
                .unwrap();
            store.put_old_failure([0xa1; 32], locked.unwrap());
        }
        let store = Store::open(&path, 1 << 20).unwrap();
        let failures = FailureStore::open(&crate::failures::dir_for(&path)).unwrap();
        assert_eq!(failures.dir(), tmp.path().join("pin-failures"));
        assert_eq!(move_old_failures(&store, &failures).unwrap(), 1);
        assert_eq!(failures.get(&CardHash([0xa1; 32])), locked);
        assert!(store.take_old_failures().unwrap().is_empty());
        assert_eq!(move_old_failures(&store, &failures).unwrap(), 0);
        // The list is whole.
        assert_eq!(store.held().map(|h| h.version), Some(7));
        assert_eq!(
            store.lookup(&CardHash([0xee; 32])).unwrap(),
            Some(vec![0xee; 40])
        );
        drop((store, failures));
        let failures = FailureStore::open(&tmp.path().join("pin-failures")).unwrap();
        assert_eq!(failures.get(&CardHash([0xa1; 32])), locked);
    }
}
