//! Card + PIN -> who the patron is, for the door and the kiosk alike: the library system first,
//! bounded by a short timeout; when it gives no answer, the signed offline list. One wrong-PIN
//! lockout covers both sources: a card locked after wrong PINs is refused before either is
//! asked, and a wrong PIN the library system reports counts as one the list found.
//!
//! The lockout's records are the device's PIN-failure records ([`crate::failures`]): on disk
//! beside the list, so a restart does not reset a guess count, and erased with the rest of a
//! card's data. A device with no list (a kiosk that lends only online) keeps them in memory,
//! keyed under a key made at start: the library system keeps its own count there.
//!
//! The verifier says who answered and what they said ([`Identity`] or [`Refusal`]); the policy
//! is the caller's: the door's ([`access::door`]) or the kiosk's lending rules.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use access::door::BeforePin;
use access::door::Source;
use access::policy::{Detail, Patron, Reason};
use allowlist::guard::{Failures, GuardPolicy};
use allowlist::{CardHash, CardKey};
use chrono::{DateTime, NaiveDate, Utc};
use redact::{CardNumber, Pin};
use registry::{PatronFacts, PatronLogin, Registry, Verification};

use crate::facts;
use crate::lookup::{OfflineAnswer, OfflineError, OfflineList};
use crate::store::StoreError;

/// A verified patron, as the source that answered knows them.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The library system's facts.
    Online(Box<PatronFacts>),
    /// The offline list's entry.
    Offline(Box<allowlist::Facts>),
}

impl Identity {
    /// The patron as the access policy reads them, for a door at `branch` on `today` (the
    /// branch's local date).
    pub fn patron(&self, branch: &str, today: NaiveDate) -> Patron {
        match self {
            Self::Online(f) => facts::from_registry(f),
            Self::Offline(f) => facts::from_list(f, branch, today),
        }
    }
}

/// Why no patron was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No patron has this card (the library system's word, or not on the list).
    UnknownCard,
    /// The PIN is wrong; this many more wrong PINs lock the card.
    WrongPin {
        /// Tries left.
        tries_left: u32,
    },
    /// Too many wrong PINs: locked until then (Unix seconds).
    LockedOut {
        /// End of the lockout.
        until: i64,
    },
    /// The library system did not answer and the list could not (none, not in force, a
    /// damaged store), or the device has no list.
    Unreachable,
    /// The library system did not answer and the list has expired (the policy is to deny).
    ListExpired,
    /// The library system did not answer, and the list knows the card but cannot check its PIN:
    /// none was exported (or in a scheme or at a cost this device does not run) and none was
    /// learned here online.
    NoOfflineVerifier,
}

impl Refusal {
    /// The door's reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::UnknownCard => Reason::UnknownCard,
            Self::WrongPin { .. } => Reason::WrongPin,
            Self::LockedOut { .. } => Reason::PinLockedOut,
            Self::Unreachable => Reason::Unreachable,
            Self::ListExpired => Reason::ListExpired,
            // For this patron there is no usable offline list.
            Self::NoOfflineVerifier => Reason::Unreachable,
        }
    }
}

/// The outcome of a check.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The patron, or why not.
    pub outcome: Result<Identity, Refusal>,
    /// Who answered.
    pub source: Source,
    /// Why the library system was not used, when it was asked and gave no answer.
    pub online_failure: Option<String>,
}

impl Verdict {
    /// The verdict as the door takes it: the patron for the policy at `branch` on `today`, or
    /// the refusal's reason.
    pub fn for_door(&self, branch: &str, today: NaiveDate) -> access::door::Verdict {
        let mut detail = Detail::default();
        match &self.outcome {
            Ok(Identity::Online(f)) => detail.language.clone_from(&f.language),
            Ok(Identity::Offline(_)) => {}
            Err(Refusal::WrongPin { tries_left }) => detail.tries_left = Some(*tries_left),
            Err(Refusal::LockedOut { until }) => {
                detail.locked_until = DateTime::from_timestamp(*until, 0);
            }
            Err(_) => {}
        }
        access::door::Verdict {
            patron: match &self.outcome {
                Ok(identity) => Ok(identity.patron(branch, today)),
                Err(r) => Err(r.reason()),
            },
            source: self.source.clone(),
            detail,
        }
    }
}

/// Where the lockout's records are kept.
#[derive(Debug)]
enum Records {
    /// The device's PIN-failure records beside its list (durable).
    List(OfflineList),
    /// In memory, for a device without a list.
    Memory(Mutex<BTreeMap<[u8; 32], Failures>>),
}

/// Checks cards and PINs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Verifier<R> {
    registry: Option<R>,
    list: Option<OfflineList>,
    records: Arc<Records>,
    key: CardKey,
    guard: GuardPolicy,
    online_timeout: Duration,
    ask_list: bool,
    learning: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl<R: Registry + Clone> Verifier<R> {
    /// A verifier asking `registry` (if any) within `online_timeout`, then `list` (if any),
    /// with the lockout of `guard` over both. With a list, the lockout is the list's own
    /// (`guard` should be the list's `[allowlist]` policy: the settings make them one) and its
    /// records are the list's; without one, they are kept in memory under a random key.
    pub fn new(
        registry: Option<R>,
        list: Option<OfflineList>,
        guard: GuardPolicy,
        online_timeout: Duration,
    ) -> Self {
        let (records, key) = match &list {
            Some(l) => (Records::List(l.clone()), l.settings().card_key.clone()),
            None => {
                let mut key = [0u8; 32];
                if let Err(e) = getrandom::getrandom(&mut key) {
                    tracing::error!("no random key for the PIN lockout's records: {e}");
                }
                (
                    Records::Memory(Mutex::new(BTreeMap::new())),
                    CardKey::new(key),
                )
            }
        };
        Self {
            registry,
            list,
            records: Arc::new(records),
            key,
            guard,
            online_timeout,
            ask_list: true,
            learning: Arc::default(),
        }
    }

    /// The list keeps the lockout's records but is not asked who a patron is (a kiosk that
    /// does not lend offline).
    pub fn without_offline_answers(mut self) -> Self {
        self.ask_list = false;
        self
    }

    /// The list asked when the library system does not answer.
    pub fn list(&self) -> Option<&OfflineList> {
        self.list.as_ref()
    }

    /// The lockout in force.
    pub fn guard(&self) -> &GuardPolicy {
        &self.guard
    }

    /// Until when `card` is locked after wrong PINs at `now` (Unix seconds), if it is. Cheap:
    /// the records are in memory.
    pub fn locked(&self, card: &CardNumber, now: i64) -> Option<i64> {
        let hash = self.key.hash(card);
        self.guard.locked(self.get(&hash), now)
    }

    /// What can be said of `card` at `now` before its PIN is typed: locked after wrong PINs
    /// (until when), reported lost on the list in force, or, while the library system is known
    /// to be unreachable (`library_unreachable`, from the last answer or probe), a card the list
    /// in force does not know (nothing could let it in); otherwise ask for the PIN. Each says
    /// only what the card's holder learns anyway after a PIN, and nothing of any patron.
    pub fn before_pin(
        &self,
        card: &CardNumber,
        now: DateTime<Utc>,
        library_unreachable: bool,
    ) -> BeforePin {
        if let Some(until) = self.locked(card, now.timestamp()) {
            return BeforePin::LockedUntil(DateTime::from_timestamp(until, 0).unwrap_or(now));
        }
        let lost = self
            .list
            .as_ref()
            .filter(|_| self.ask_list)
            .is_some_and(|l| l.says_lost(card, now.timestamp()));
        if lost {
            return BeforePin::Refuse(Reason::CardLost);
        }
        let unknown = library_unreachable
            && self
                .list
                .as_ref()
                .filter(|_| self.ask_list)
                .is_some_and(|l| l.says_unknown(card, now.timestamp()));
        if unknown {
            BeforePin::Refuse(Reason::UnknownCard)
        } else {
            BeforePin::Ask
        }
    }

    /// Who holds `card` with `pin` at `now`: the library system within the timeout, else the
    /// list; a locked card is refused before either is asked.
    pub async fn verify(&self, card: &CardNumber, pin: Pin, now: DateTime<Utc>) -> Verdict {
        let ts = now.timestamp();
        if let Some(until) = self.locked(card, ts) {
            return Verdict {
                outcome: Err(Refusal::LockedOut { until }),
                source: Source::Nobody,
                online_failure: None,
            };
        }
        let mut online_failure = None;
        if let Some(registry) = &self.registry {
            let login = PatronLogin {
                card: card.clone(),
                pin: pin.clone(),
            };
            match tokio::time::timeout(self.online_timeout, registry.verify(&login)).await {
                Ok(Ok(v)) => {
                    let outcome = match v {
                        Verification::UnknownCard { .. } => Err(Refusal::UnknownCard),
                        Verification::WrongPin { .. } => Err(self.wrong_pin(card, ts)),
                        Verification::Verified(f) => {
                            self.right_pin(card, ts);
                            self.learn(card, &pin, &f, now);
                            Ok(Identity::Online(f))
                        }
                    };
                    return Verdict {
                        outcome,
                        source: Source::Online,
                        online_failure: None,
                    };
                }
                Ok(Err(e)) => online_failure = Some(e.to_string()),
                Err(_) => {
                    online_failure = Some(format!(
                        "no answer within {} ms",
                        self.online_timeout.as_millis()
                    ))
                }
            }
        }
        let Some(list) = self.list.clone().filter(|_| self.ask_list) else {
            return Verdict {
                outcome: Err(Refusal::Unreachable),
                source: Source::Nobody,
                online_failure,
            };
        };
        let c = card.clone();
        let answer = tokio::task::spawn_blocking(move || list.check(&c, &pin, ts)).await;
        let held = || {
            self.list
                .as_ref()
                .and_then(|l| l.store().held())
                .map_or(0, |h| h.version)
        };
        let (outcome, source) = match answer {
            Err(join) => {
                tracing::error!("offline check failed: {join}");
                (Err(Refusal::Unreachable), Source::Nobody)
            }
            Ok(Err(e)) => {
                tracing::warn!("offline list cannot answer: {e}");
                let r = match e {
                    OfflineError::Expired { .. } => Refusal::ListExpired,
                    OfflineError::NoList | OfflineError::NotInForce(_) | OfflineError::Store(_) => {
                        Refusal::Unreachable
                    }
                };
                (Err(r), Source::Nobody)
            }
            Ok(Ok(OfflineAnswer::Verified {
                facts,
                version,
                past_expiry,
                ..
            })) => (
                Ok(Identity::Offline(facts)),
                Source::Offline {
                    version,
                    past_expiry,
                },
            ),
            // The list answered "no": it is the source, in the version it holds.
            Ok(Ok(no)) => {
                let r = match no {
                    OfflineAnswer::WrongPin { tries_left } => Refusal::WrongPin { tries_left },
                    OfflineAnswer::LockedOut { until } => Refusal::LockedOut { until },
                    OfflineAnswer::NoVerifier { .. } => Refusal::NoOfflineVerifier,
                    _ => Refusal::UnknownCard,
                };
                let source = Source::Offline {
                    version: held(),
                    past_expiry: false,
                };
                (Err(r), source)
            }
        };
        Verdict {
            outcome,
            source,
            online_failure,
        }
    }

    /// Forgets the lockout records of `card` (a patron's right to erasure).
    pub fn erase_card(&self, card: &CardNumber) -> Result<bool, StoreError> {
        match &*self.records {
            Records::List(l) => l.erase_card(card),
            Records::Memory(m) => Ok(lock(m).remove(&self.key.hash(card).0).is_some()),
        }
    }

    /// [`Self::erase_card`] by the card's keyed hash (an erasure from the library's console).
    pub fn erase_hash(&self, hash: &CardHash) -> Result<bool, StoreError> {
        match &*self.records {
            Records::List(l) => l.erase_hash(hash),
            Records::Memory(m) => Ok(lock(m).remove(&hash.0).is_some()),
        }
    }

    /// What the device holds about the card of keyed hash `hash`: its wrong-PIN record, and
    /// when a learned PIN verifier was last confirmed (see [`OfflineList::held_about`]).
    pub fn held_about(&self, hash: &CardHash) -> (Option<Failures>, Option<i64>) {
        match &*self.records {
            Records::List(l) => l.held_about(hash),
            Records::Memory(m) => (lock(m).get(&hash.0).copied(), None),
        }
    }

    /// The card key this device hashes cards with.
    pub fn card_key(&self) -> &CardKey {
        &self.key
    }

    /// Drops the records whose window and lockout are over at `now` (Unix seconds), logging
    /// how many went.
    pub fn purge_logged(&self, now: i64) {
        match &*self.records {
            Records::List(l) => l.purge_failures_logged(now),
            Records::Memory(m) => lock(m).retain(|_, f| !self.guard.stale(f, now)),
        }
    }

    fn get(&self, hash: &CardHash) -> Option<Failures> {
        match &*self.records {
            Records::List(l) => l.failures().get(hash),
            Records::Memory(m) => lock(m).get(&hash.0).copied(),
        }
    }

    fn set(&self, hash: &CardHash, f: Option<Failures>, now: i64) {
        let stored = match &*self.records {
            Records::List(l) => l.failures().set(hash, f, &self.guard, now),
            Records::Memory(m) => {
                let mut m = lock(m);
                match f {
                    Some(f) => m.insert(hash.0, f),
                    None => m.remove(&hash.0),
                };
                m.retain(|_, f| !self.guard.stale(f, now));
                Ok(())
            }
        };
        if let Err(e) = stored {
            tracing::error!("PIN-failure record not kept: {e}");
        }
    }

    /// A wrong PIN the library system found: counted as the list counts its own.
    fn wrong_pin(&self, card: &CardNumber, now: i64) -> Refusal {
        let hash = self.key.hash(card);
        let f = self.guard.fail(self.get(&hash), now);
        self.set(&hash, Some(f), now);
        match self.guard.locked(Some(f), now) {
            Some(until) => {
                tracing::warn!(target: "security", event = "pin_lockout", card = ?hash, until, "wrong PINs: card locked out");
                Refusal::LockedOut { until }
            }
            None => Refusal::WrongPin {
                tries_left: self.guard.max_failures.saturating_sub(f.count),
            },
        }
    }

    /// Learns the PIN the library system just accepted, in the background (one argon2id run,
    /// off the door's path), when this device answers from a list.
    fn learn(&self, card: &CardNumber, pin: &Pin, f: &PatronFacts, now: DateTime<Utc>) {
        let Some(list) = self.list.clone().filter(|_| self.ask_list) else {
            return;
        };
        let pins = list.settings().pins;
        if pins.learn == config::allowlist::LearnPins::Off {
            return;
        }
        let today = now.date_naive();
        let until = (now + chrono::Duration::seconds(pins.learned_for)).date_naive();
        let facts = facts::to_list(f, today, until);
        let (card, pin, ts) = (card.clone(), pin.clone(), now.timestamp());
        let task = tokio::task::spawn_blocking(move || {
            match list.learn(&card, &pin, facts.as_ref(), ts) {
                Ok(true) => tracing::info!(
                    "offline list: learned the PIN of card {:?} for offline checks",
                    list.settings().card_key.hash(&card)
                ),
                Ok(false) => {}
                Err(e) => tracing::error!("offline list: learning a PIN failed: {e}"),
            }
        });
        let mut slot = lock(&self.learning);
        if let Some(previous) = slot.take()
            && !previous.is_finished()
        {
            // Let it run; only the newest is awaited by `learning_settled`.
            drop(previous);
        }
        *slot = Some(task);
    }

    /// Waits until the newest PIN being learned is stored (tests, the demo).
    pub async fn learning_settled(&self) {
        let task = lock(&self.learning).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }

    fn right_pin(&self, card: &CardNumber, now: i64) {
        let hash = self.key.hash(card);
        if self.get(&hash).is_some() {
            self.set(&hash, None, now);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::sync::atomic::{AtomicU32, Ordering};

    use chrono::{NaiveDateTime, TimeZone};
    use registry::{
        Account, ItemFacts, LoanOutcome, RegistryError, RenewAllOutcome, ReturnOutcome,
    };

    use super::*;

    /// A library system that knows one card, `1`, with PIN `1234`, and answers only `verify`
    /// (with an error when `down`, never when `hang`). Counts the questions.
    #[derive(Debug, Clone, Default)]
    struct OneCard {
        down: bool,
        hang: bool,
        asked: Arc<AtomicU32>,
    }

    fn not_here<T>() -> Result<T, RegistryError> {
        Err(RegistryError::Setup("not in this test".into()))
    }

    impl Registry for OneCard {
        async fn verify(&self, login: &PatronLogin) -> Result<Verification, RegistryError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            if self.hang {
                std::future::pending::<()>().await;
            }
            if self.down {
                return Err(RegistryError::Unreachable("down".into()));
            }
            Ok(match (login.card.expose(), login.pin.expose()) {
                ("1", "1234") => Verification::Verified(Box::default()),
                ("1", _) => Verification::WrongPin { message: None },
                _ => Verification::UnknownCard { message: None },
            })
        }
        async fn account(&self, _: &PatronLogin) -> Result<Account, RegistryError> {
            not_here()
        }
        async fn checkout(&self, _: &PatronLogin, _: &str) -> Result<LoanOutcome, RegistryError> {
            not_here()
        }
        async fn checkin(&self, _: &str) -> Result<ReturnOutcome, RegistryError> {
            not_here()
        }
        async fn renew(&self, _: &PatronLogin, _: &str) -> Result<LoanOutcome, RegistryError> {
            not_here()
        }
        async fn renew_all(&self, _: &PatronLogin) -> Result<RenewAllOutcome, RegistryError> {
            not_here()
        }
        async fn item(&self, _: &str) -> Result<ItemFacts, RegistryError> {
            not_here()
        }
        async fn checkout_deferred(
            &self,
            _: &CardNumber,
            _: &str,
            _: NaiveDateTime,
            _: Option<NaiveDateTime>,
        ) -> Result<LoanOutcome, RegistryError> {
            not_here()
        }
        async fn checkin_deferred(
            &self,
            _: &str,
            _: NaiveDateTime,
        ) -> Result<ReturnOutcome, RegistryError> {
            not_here()
        }
        async fn end_session(&self, _: &PatronLogin) -> Result<(), RegistryError> {
            not_here()
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn guard() -> GuardPolicy {
        GuardPolicy {
            max_failures: 3,
            window: 900,
            lockout: 900,
        }
    }

    /// A device's list settings with no list applied yet, in `dir`.
    fn list_settings(dir: &std::path::Path) -> config::allowlist::AllowlistSettings {
        config::allowlist::AllowlistSettings {
            url: None,
            tls: config::registry::TlsSettings {
                ca: None,
                client_identity: None,
            },
            store: dir.join("allowlist"),
            card_key: CardKey::new([7; 32]),
            anchors: allowlist::Anchors {
                keys: vec![],
                revoked: vec![],
                scopes: vec!["heili".into()],
                card_key: CardKey::new([7; 32]).id(),
                clock_skew: 300,
            },
            when_expired: config::allowlist::WhenExpired::Deny,
            guard: guard(),
            timeout: Duration::from_secs(5),
            max_list_bytes: 1 << 20,
            cache_bytes: 1 << 20,
            pins: config::allowlist::OfflinePins::default(),
        }
    }

    fn pin(p: &str) -> Pin {
        Pin::new(p)
    }

    #[tokio::test]
    async fn wrong_pins_online_lock_the_card_before_anyone_is_asked_again() {
        let registry = OneCard::default();
        let v = Verifier::new(
            Some(registry.clone()),
            None,
            guard(),
            Duration::from_secs(1),
        );
        let card = CardNumber::new("1");
        for left in [2, 1] {
            let r = v.verify(&card, pin("0000"), at(0)).await;
            assert_eq!(
                r.outcome.unwrap_err(),
                Refusal::WrongPin { tries_left: left }
            );
            assert_eq!(r.source, Source::Online);
        }
        let r = v.verify(&card, pin("0000"), at(1)).await;
        assert_eq!(
            r.outcome.unwrap_err(),
            Refusal::LockedOut {
                until: at(1).timestamp() + 900
            }
        );
        assert_eq!(
            v.locked(&card, at(2).timestamp()),
            Some(at(1).timestamp() + 900)
        );
        // Locked: the right PIN is refused without asking the library system.
        let asked = registry.asked.load(Ordering::SeqCst);
        let r = v.verify(&card, pin("1234"), at(3)).await;
        assert_eq!(r.outcome.unwrap_err().reason(), Reason::PinLockedOut);
        assert_eq!(registry.asked.load(Ordering::SeqCst), asked);
        // After the lockout, the right PIN verifies and the count starts over.
        let r = v.verify(&card, pin("1234"), at(901)).await;
        assert!(matches!(r.outcome, Ok(Identity::Online(_))));
        assert_eq!(v.locked(&card, at(901).timestamp()), None);
        let r = v.verify(&card, pin("0000"), at(902)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::WrongPin { tries_left: 2 });
        // Another card is not touched by it.
        let r = v.verify(&CardNumber::new("2"), pin("1234"), at(903)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::UnknownCard);
    }

    #[tokio::test]
    async fn a_right_pin_clears_the_count_and_erasure_forgets_it() {
        let v = Verifier::new(
            Some(OneCard::default()),
            None,
            guard(),
            Duration::from_secs(1),
        );
        let card = CardNumber::new("1");
        v.verify(&card, pin("0000"), at(0)).await;
        v.verify(&card, pin("0000"), at(0)).await;
        assert!(v.verify(&card, pin("1234"), at(1)).await.outcome.is_ok());
        let r = v.verify(&card, pin("0000"), at(2)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::WrongPin { tries_left: 2 });
        assert!(v.erase_card(&card).unwrap());
        assert!(!v.erase_card(&card).unwrap());
        v.purge_logged(at(5000).timestamp());
    }

    #[tokio::test]
    async fn no_answer_and_no_list_is_unreachable_with_the_reason_kept() {
        let down = OneCard {
            down: true,
            ..OneCard::default()
        };
        let v = Verifier::new(Some(down), None, guard(), Duration::from_secs(1));
        let r = v.verify(&CardNumber::new("1"), pin("1234"), at(0)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::Unreachable);
        assert_eq!(r.source, Source::Nobody);
        assert!(r.online_failure.unwrap().contains("down"));
        // No library system configured at all: the same, with no failure to report.
        let v: Verifier<OneCard> = Verifier::new(None, None, guard(), Duration::from_secs(1));
        let r = v.verify(&CardNumber::new("1"), pin("1234"), at(0)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::Unreachable);
        assert_eq!(r.online_failure, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_library_system_that_hangs_is_given_up_after_the_timeout() {
        let hangs = OneCard {
            hang: true,
            ..OneCard::default()
        };
        let v = Verifier::new(Some(hangs), None, guard(), Duration::from_millis(1500));
        let r = v.verify(&CardNumber::new("1"), pin("1234"), at(0)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::Unreachable);
        assert_eq!(
            r.online_failure.as_deref(),
            Some("no answer within 1500 ms")
        );
    }

    #[tokio::test]
    async fn with_a_list_the_lockout_is_the_lists_records_on_disk_and_survives_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let card = CardNumber::new("1");
        {
            let list = OfflineList::open(list_settings(tmp.path())).unwrap();
            let v = Verifier::new(
                Some(OneCard::default()),
                Some(list),
                guard(),
                Duration::from_secs(1),
            );
            for _ in 0..3 {
                v.verify(&card, pin("0000"), at(0)).await;
            }
            assert!(v.locked(&card, at(1).timestamp()).is_some());
        }
        // The daemon restarts: the lock holds, in the list's own records (which the list's
        // offline check reads too).
        let list = OfflineList::open(list_settings(tmp.path())).unwrap();
        assert_eq!(list.failures().len(), 1);
        let v = Verifier::new(
            Some(OneCard::default()),
            Some(list),
            guard(),
            Duration::from_secs(1),
        );
        let r = v.verify(&card, pin("1234"), at(10)).await;
        assert_eq!(
            r.outcome.unwrap_err(),
            Refusal::LockedOut {
                until: at(0).timestamp() + 900
            }
        );
        // The library system is down and no list is applied yet: nobody can say.
        let down = OneCard {
            down: true,
            ..OneCard::default()
        };
        let list = v.list().cloned();
        drop(v);
        let v = Verifier::new(Some(down), list, guard(), Duration::from_secs(1));
        let r = v.verify(&CardNumber::new("2"), pin("1234"), at(10)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::Unreachable);
        // Not asked for answers (a kiosk that does not lend offline): the same refusal.
        let v = v.without_offline_answers();
        let r = v.verify(&CardNumber::new("2"), pin("1234"), at(10)).await;
        assert_eq!(r.outcome.unwrap_err(), Refusal::Unreachable);
    }

    #[test]
    fn every_refusal_has_the_doors_reason() {
        assert_eq!(Refusal::UnknownCard.reason(), Reason::UnknownCard);
        assert_eq!(
            Refusal::WrongPin { tries_left: 1 }.reason(),
            Reason::WrongPin
        );
        assert_eq!(
            Refusal::LockedOut { until: 0 }.reason(),
            Reason::PinLockedOut
        );
        assert_eq!(Refusal::Unreachable.reason(), Reason::Unreachable);
        assert_eq!(Refusal::ListExpired.reason(), Reason::ListExpired);
    }
}
