//! Card + PIN against the list in force: the call a door makes when the library system does not
//! answer.

use std::sync::Arc;

use allowlist::trust::still_in_force;
use allowlist::{Entry, Facts, Refusal};
use config::allowlist::{AllowlistSettings, WhenExpired};
use redact::{CardNumber, Pin};

use crate::failures::FailureStore;
use crate::store::{Store, StoreError};

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
    /// Card and PIN match: the facts for the policy.
    Verified {
        /// The patron's facts.
        facts: Box<Facts>,
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
        Ok(Self {
            store,
            failures: Arc::new(failures),
            settings: Arc::new(settings),
        })
    }

    /// Removes the PIN-failure record this device holds about `card` (a patron's right to
    /// erasure), leaving no bytes of it in the records' files; whether there was one. The list
    /// itself comes from the library system and is not touched.
    pub fn erase_card(&self, card: &CardNumber) -> Result<bool, StoreError> {
        self.failures.remove(&self.settings.card_key.hash(card))
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
        let Some(bytes) = self.store.lookup(&hash)? else {
            return Ok(OfflineAnswer::UnknownCard);
        };
        let entry = Entry::decode(&bytes).map_err(|_| StoreError::Damaged {
            path: self.store.path().to_owned(),
            what: "entry",
        })?;
        let guard = &self.settings.guard;
        let failures = self.failures.get(&hash);
        if let Some(until) = guard.locked(failures, now) {
            return Ok(OfflineAnswer::LockedOut { until });
        }
        if header.argon2.verify(pin, &entry.salt, &entry.verifier) {
            if failures.is_some() {
                self.failures.set(&hash, None, guard, now)?;
            }
            return Ok(OfflineAnswer::Verified {
                facts: Box::new(entry.facts),
                version: header.version,
                past_expiry,
            });
        }
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
