//! Card + PIN against the list in force: the call a door makes when the library system does not
//! answer.

use std::sync::Arc;

use allowlist::trust::still_in_force;
use allowlist::{Entry, Facts, Refusal};
use config::allowlist::{AllowlistSettings, WhenExpired};
use redact::{CardNumber, Pin};

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
    settings: Arc<AllowlistSettings>,
}

impl OfflineList {
    /// Opens the store named in `settings`.
    pub fn open(settings: AllowlistSettings) -> Result<Self, StoreError> {
        let store = Store::open(&settings.store, settings.cache_bytes)?;
        Ok(Self {
            store,
            settings: Arc::new(settings),
        })
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
        let failures = self.store.failures(&hash)?;
        if let Some(until) = guard.locked(failures, now) {
            return Ok(OfflineAnswer::LockedOut { until });
        }
        if header.argon2.verify(pin, &entry.salt, &entry.verifier) {
            if failures.is_some() {
                self.store.set_failures(&hash, None)?;
            }
            return Ok(OfflineAnswer::Verified {
                facts: Box::new(entry.facts),
                version: header.version,
                past_expiry,
            });
        }
        let f = guard.fail(failures, now);
        self.store.set_failures(&hash, Some(f))?;
        if let Some(until) = guard.locked(Some(f), now) {
            tracing::warn!(target: "security", event = "pin_lockout", card = ?hash, until, "wrong PINs: card locked out");
            return Ok(OfflineAnswer::LockedOut { until });
        }
        Ok(OfflineAnswer::WrongPin {
            tries_left: guard.max_failures.saturating_sub(f.count),
        })
    }
}
