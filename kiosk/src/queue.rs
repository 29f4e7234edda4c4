//! The offline queue: loans and returns made while the library system did not answer, kept in
//! sled with their original time until the library system has them, each exactly once.
//!
//! A transaction is written and flushed (staged) before the tag's security bit is switched, and
//! committed before the patron is told it went through. Delivery
//! marks a record *in flight* (flushed) before sending it; an answer removes it (or keeps it as a
//! conflict for staff when the library system refuses). A record found in flight — after a
//! crash, a restart or a dropped connection mid-send — is in doubt: the library system may have
//! it. It is not simply sent again: the item's status is asked first, and a loan the system
//! already shows (or a return it already shows) counts as delivered.
//!
//! The kiosk stages and commits through [`StagedLoan`] and [`StagedReturn`] (in `staged.rs`),
//! which also take back a loan whose tag would not switch, in doubt or not.

mod staged;

use std::path::Path;

use chrono::NaiveDateTime;
use redact::CardNumber;
use registry::{ItemStatus, Registry, RegistryError};
use serde::{Deserialize, Serialize};

pub use staged::{StagedLoan, StagedReturn, Undone};

/// What was done offline.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Kind {
    /// A loan to the patron with this card (kept only until delivered).
    Checkout {
        /// The card number, as the library system needs it.
        card: String,
    },
    /// A return.
    Checkin,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Checkout { card } => write!(f, "Checkout({:?})", CardNumber::new(card.clone())),
            Self::Checkin => f.write_str("Checkin"),
        }
    }
}

/// Where a record is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum State {
    /// Written, while the kiosk switches the tag's security bit: delivery leaves it alone until
    /// [`Queue::commit`] (or [`Queue::cancel`]). `in_doubt` as for [`Queue::checkout`].
    Staged {
        /// The online request may have reached the library system.
        in_doubt: bool,
    },
    /// Waiting to be sent.
    Pending,
    /// Being sent, or sent without an answer: in doubt.
    InFlight,
    /// The library system refused it; kept for staff with its words.
    Conflict(String),
}

/// One offline transaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deferred {
    /// Order of arrival.
    pub id: u64,
    /// Loan or return.
    pub kind: Kind,
    /// The item's barcode.
    pub item: String,
    /// When it happened, in the kiosk's local time.
    pub at: NaiveDateTime,
    /// The due date the patron was given (loans).
    pub due: Option<NaiveDateTime>,
    /// Where it is.
    pub state: State,
    /// Send attempts so far.
    pub attempts: u32,
    /// The UIDs of the item's tags on the pad (empty for a scanned item): what the kiosk
    /// reads to settle a record it found staged after a crash.
    #[serde(default)]
    pub tags: Vec<[u8; 8]>,
    /// Found staged when the queue opened (the kiosk died between staging it and committing
    /// it), with whether it was staged in doubt; cleared once the kiosk has settled it against
    /// the item's tags ([`crate::settle`]).
    #[serde(default)]
    pub recovered: Option<bool>,
}

/// The queue failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// sled could not open, read or write (a full disk, a damaged file).
    #[error("offline queue {path}: {cause}")]
    Store {
        /// The queue's directory.
        path: String,
        /// What sled said.
        cause: String,
    },
}

/// What a delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Delivered (including in-doubt records the library system already had).
    pub delivered: usize,
    /// In-doubt records found already delivered (not sent again).
    pub confirmed_in_doubt: usize,
    /// Refused by the library system and kept for staff.
    pub conflicts: usize,
    /// Still waiting (the library system stopped answering).
    pub waiting: usize,
}

/// The open database; `None` only for the moment of a swap.
#[derive(Debug)]
struct Store {
    db: sled::Db,
    tree: sled::Tree,
    meta: sled::Tree,
    /// sled's log file, for the fsync its flush does not do (see [`Queue::put`]).
    log: std::fs::File,
}

/// The next record number: kept by the queue, since sled's own counter starts again in a
/// rewritten database and records are delivered in the order of their numbers.
const NEXT_ID: &[u8] = b"next-id";

fn open_store(dir: &Path) -> Result<Store, sled::Error> {
    let db = daemon::fs::open_sled(&sled::Config::new().path(dir).cache_capacity(1 << 20))?;
    let tree = db.open_tree("deferred")?;
    let meta = db.open_tree("meta")?;
    let log = std::fs::File::open(dir.join("db"))?;
    Ok(Store {
        db,
        tree,
        meta,
        log,
    })
}

/// Makes what was written to `s` durable, also against a power cut: sled's flush writes its
/// buffers and asks Linux with `sync_file_range(2)` to write those pages out, which commits
/// none of the file's metadata (a log grown by the write may come back shorter) and flushes
/// no disk cache; it leaves the fsync to a background thread up to half a second later. A
/// record the kiosk acts on (a request sent, a tag switched) must already be on the disk, so
/// the file is synced here too (`fdatasync(2)`).
fn durable(s: &Store) -> Result<(), std::io::Error> {
    s.tree.flush().map_err(std::io::Error::other)?;
    s.log.sync_data()
}

/// The queue.
///
/// A record removed (delivered, cancelled, dismissed) is gone from the files too: sled keeps
/// removed values in its file until a segment is reused, and a delivered loan's card number
/// must not stay behind, so the queue is then rewritten with what is left and swapped in (see
/// [`daemon::fs`]). The queue is held against other processes while open.
#[derive(Debug, Clone)]
pub struct Queue {
    store: std::sync::Arc<std::sync::RwLock<Option<Store>>>,
    dir: std::path::PathBuf,
    path: String,
    _lock: std::sync::Arc<daemon::fs::DirLock>,
    /// One delivery at a time (the kiosk's own, and one an erasure from the console asks for),
    /// so that no record is sent twice.
    delivering: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Queue {
    /// Opens (or creates, readable by this user only: it holds card numbers until delivery) the
    /// queue in `dir`. Records left staged by a crash are committed as in doubt: the patron may
    /// have left with the item, so the loan is kept and checked before it is sent.
    pub fn open(dir: &Path) -> Result<Self, QueueError> {
        let path = dir.display().to_string();
        let io = |e: std::io::Error| QueueError::Store {
            path: path.clone(),
            cause: e.to_string(),
        };
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let lock = daemon::fs::lock(dir).map_err(io)?;
        daemon::fs::recover(dir).map_err(io)?;
        daemon::fs::create_private_dir(dir).map_err(io)?;
        let store = open_store(dir).map_err(|e| QueueError::Store {
            path: path.clone(),
            cause: e.to_string(),
        })?;
        let q = Self {
            store: std::sync::Arc::new(std::sync::RwLock::new(Some(store))),
            dir: dir.to_owned(),
            path,
            _lock: std::sync::Arc::new(lock),
            delivering: std::sync::Arc::default(),
        };
        for mut d in q.list() {
            if let State::Staged { in_doubt } = d.state {
                tracing::warn!(id = d.id, item = %d.item, "offline queue: a record staged before a crash is kept, in doubt");
                d.state = State::InFlight;
                d.recovered = Some(in_doubt);
                q.put(&d)?;
            }
        }
        // A record removed by a process that died (or whose rewrite failed) before the rewrite
        // is still in the files, and no later rewrite may come: the queue is small, so it is
        // rewritten at every open. A failed rewrite is not the end of offline lending.
        if let Err(e) = q.compact() {
            tracing::error!("{e}");
        }
        Ok(q)
    }

    fn fail(&self, cause: impl ToString) -> QueueError {
        QueueError::Store {
            path: self.path.clone(),
            cause: cause.to_string(),
        }
    }

    /// Runs `f` on the open database (a rewrite waits for it, and it for a rewrite).
    fn with<T>(&self, f: impl FnOnce(&Store) -> Result<T, QueueError>) -> Result<T, QueueError> {
        let guard = self.store.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(s) => f(s),
            None => Err(self.fail("closed: it could not be opened again after a rewrite")),
        }
    }

    fn put(&self, d: &Deferred) -> Result<(), QueueError> {
        let bytes = serde_json::to_vec(d).map_err(|e| self.fail(e))?;
        self.with(|s| {
            s.tree
                .insert(d.id.to_be_bytes(), bytes)
                .map_err(|e| self.fail(e))?;
            durable(s).map_err(|e| self.fail(e))
        })
    }

    /// A new record number, above every one held.
    fn next_id(&self, s: &Store) -> Result<u64, QueueError> {
        let floor = s
            .tree
            .last()
            .map_err(|e| self.fail(e))?
            .and_then(|(k, _)| <[u8; 8]>::try_from(k.as_ref()).ok())
            .map_or(0, |k| u64::from_be_bytes(k).saturating_add(1));
        let stored = |v: Option<&[u8]>| {
            v.and_then(|v| <[u8; 8]>::try_from(v).ok())
                .map_or(0, u64::from_be_bytes)
        };
        let before = s
            .meta
            .fetch_and_update(NEXT_ID, |v| {
                Some(
                    stored(v)
                        .max(floor)
                        .saturating_add(1)
                        .to_be_bytes()
                        .to_vec(),
                )
            })
            .map_err(|e| self.fail(e))?;
        Ok(stored(before.as_deref()).max(floor))
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        kind: Kind,
        item: &str,
        at: NaiveDateTime,
        due: Option<NaiveDateTime>,
        in_doubt: bool,
        tags: &[[u8; 8]],
    ) -> Result<u64, QueueError> {
        let id = self.with(|s| self.next_id(s))?;
        self.put(&Deferred {
            id,
            kind,
            item: item.into(),
            at,
            due,
            state: State::Staged { in_doubt },
            attempts: 0,
            tags: tags.to_vec(),
            recovered: None,
        })?;
        Ok(id)
    }

    /// Marks a record recovered after a crash as settled against its tags.
    pub fn settled(&self, id: u64) -> Result<(), QueueError> {
        if let Some(mut d) = self.get(id)?
            && d.recovered.is_some()
        {
            d.recovered = None;
            self.put(&d)?;
        }
        Ok(())
    }

    /// Sets the due date of a record (a loan staged before its online request, lent offline
    /// when the request went unanswered).
    fn set_due(&self, id: u64, due: NaiveDateTime) -> Result<(), QueueError> {
        if let Some(mut d) = self.get(id)? {
            d.due = Some(due);
            self.put(&d)?;
        }
        Ok(())
    }

    /// Rewrites the queue with the records it holds and swaps it in, so nothing of a removed
    /// one is left in its files. The rest of the queue waits meanwhile; it is small.
    pub fn compact(&self) -> Result<(), QueueError> {
        let mut guard = self.store.write().unwrap_or_else(|p| p.into_inner());
        let Some(old) = guard.as_ref() else {
            return Err(self.fail("closed: it could not be opened again after a rewrite"));
        };
        let staging = daemon::fs::staging(&self.dir).map_err(|e| self.fail(e))?;
        let copied = (|| {
            let fresh = open_store(&staging)?;
            for (from, to) in [(&old.tree, &fresh.tree), (&old.meta, &fresh.meta)] {
                let mut batch = sled::Batch::default();
                for kv in from.iter() {
                    let (k, v) = kv?;
                    batch.insert(k, v);
                }
                to.apply_batch(batch)?;
            }
            fresh.db.flush()?;
            Ok::<_, sled::Error>(())
        })();
        if let Err(e) = copied {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(self.fail(e));
        }
        // Closed before the directories move: sled finds its files by path.
        *guard = None;
        let (store, swapped) = daemon::fs::swap_in_and_reopen(
            &self.dir,
            |dir| open_store(dir).map_err(|e| self.fail(e)),
            |e| self.fail(e),
        )
        .inspect_err(|e| tracing::error!("{e}"))?;
        *guard = Some(store);
        swapped
    }

    /// Records a loan made offline; durable when this returns. `in_doubt` when the online
    /// request may have reached the library system (it timed out or was cut off mid-answer,
    /// rather than refused at the door): such a record is checked before it is ever sent.
    pub fn checkout(
        &self,
        card: &CardNumber,
        item: &str,
        at: NaiveDateTime,
        due: NaiveDateTime,
        in_doubt: bool,
    ) -> Result<u64, QueueError> {
        self.add(
            Kind::Checkout {
                card: card.expose().to_owned(),
            },
            item,
            at,
            Some(due),
            in_doubt,
            &[],
        )
    }

    /// Records a return made offline; durable when this returns. `in_doubt` as for
    /// [`Queue::checkout`].
    pub fn checkin(
        &self,
        item: &str,
        at: NaiveDateTime,
        in_doubt: bool,
    ) -> Result<u64, QueueError> {
        self.add(Kind::Checkin, item, at, None, in_doubt, &[])
    }

    /// Commits a staged record: it is delivered from now on.
    pub fn commit(&self, id: u64) -> Result<(), QueueError> {
        if let Some(mut d) = self.get(id)?
            && let State::Staged { in_doubt } = d.state
        {
            d.state = if in_doubt {
                State::InFlight
            } else {
                State::Pending
            };
            self.put(&d)?;
        }
        Ok(())
    }

    /// One record, by its number.
    fn get(&self, id: u64) -> Result<Option<Deferred>, QueueError> {
        let Some(bytes) = self.with(|s| s.tree.get(id.to_be_bytes()).map_err(|e| self.fail(e)))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.fail(e))
    }

    /// Records for `item` still to deliver: a new transaction on it must queue behind them.
    pub fn has_waiting(&self, item: &str) -> bool {
        self.list()
            .iter()
            .any(|d| d.item == item && !matches!(d.state, State::Conflict(_)))
    }

    /// Takes back a record not yet sent (the tag could not be unsecured after all), leaving
    /// nothing of it in the queue's files.
    pub fn cancel(&self, id: u64) -> Result<(), QueueError> {
        self.remove(id)?;
        self.compact()
    }

    /// Removes a record durably (its bytes go at the next [`Queue::compact`]).
    fn remove(&self, id: u64) -> Result<(), QueueError> {
        self.with(|s| {
            s.tree.remove(id.to_be_bytes()).map_err(|e| self.fail(e))?;
            durable(s).map_err(|e| self.fail(e))
        })
    }

    /// Every record, oldest first (unreadable records are skipped and logged).
    pub fn list(&self) -> Vec<Deferred> {
        let all = self.with(|s| Ok(s.tree.iter().collect::<Vec<_>>()));
        let all = match all {
            Ok(all) => all,
            Err(e) => {
                tracing::error!("{e}");
                return vec![];
            }
        };
        all.into_iter()
            .filter_map(|kv| match kv {
                Ok((_, v)) => match serde_json::from_slice(&v) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        tracing::error!("offline queue: an unreadable record skipped: {e}");
                        None
                    }
                },
                Err(e) => {
                    tracing::error!("offline queue: {e}");
                    None
                }
            })
            .collect()
    }

    /// Records still to deliver (pending or in doubt).
    pub fn waiting(&self) -> usize {
        self.list()
            .iter()
            .filter(|d| !matches!(d.state, State::Conflict(_)))
            .count()
    }

    /// Loans to `card` not yet delivered (for the offline loan limit).
    pub fn loans_of(&self, card: &CardNumber) -> usize {
        self.list()
            .iter()
            .filter(|d| {
                matches!(&d.kind, Kind::Checkout { card: c } if c == card.expose())
                    && !matches!(d.state, State::Conflict(_))
            })
            .count()
    }

    /// Every record of loans to the card whose keyed hash under `key` is one of `hashes` (a
    /// patron's request from the library's console, which sends no number).
    pub fn of_card_hash(
        &self,
        key: &allowlist::CardKey,
        hashes: &[allowlist::CardHash],
    ) -> Vec<Deferred> {
        self.list()
            .into_iter()
            .filter(|d| {
                matches!(&d.kind, Kind::Checkout { card } if hashes.contains(&key.hash(&CardNumber::new(card.clone()))))
            })
            .collect()
    }

    /// Every record of loans to `card` (for a patron's right of access).
    pub fn of_card(&self, card: &CardNumber) -> Vec<Deferred> {
        self.list()
            .into_iter()
            .filter(|d| matches!(&d.kind, Kind::Checkout { card: c } if c == card.expose()))
            .collect()
    }

    /// Removes a conflict once staff have dealt with it.
    pub fn dismiss(&self, id: u64) -> Result<bool, QueueError> {
        let found = self
            .list()
            .into_iter()
            .any(|d| d.id == id && matches!(d.state, State::Conflict(_)));
        if found {
            self.cancel(id)?;
        }
        Ok(found)
    }

    /// Was an in-doubt record already taken in by the library system?
    async fn already_there<R: Registry>(registry: &R, d: &Deferred) -> Result<bool, RegistryError> {
        let facts = registry.item(&d.item).await?;
        Ok(match &d.kind {
            // On loan, but to whom: the library may still have it lent to its previous borrower
            // (returned through a book drop not yet checked in), and this loan never arrived.
            // Then it is sent, and the library system takes it or refuses it for staff.
            Kind::Checkout { card } if facts.status == ItemStatus::OnLoan => {
                match registry
                    .lent_to(&CardNumber::new(card.clone()), &d.item)
                    .await?
                {
                    Some(ours) => ours,
                    None => {
                        tracing::warn!(id = d.id, item = %d.item, "offline queue: an item in doubt is on loan, and the library system does not say to whom: taken as this loan");
                        true
                    }
                }
            }
            Kind::Checkout { .. } => false,
            Kind::Checkin => matches!(
                facts.status,
                ItemStatus::Available | ItemStatus::OnHoldOrInTransit
            ),
        })
    }

    /// Sends what waits, oldest first, until the library system stops answering.
    /// What was delivered is then gone from the queue's files too.
    pub async fn deliver<R: Registry>(&self, registry: &R) -> Result<Delivery, QueueError> {
        let _one = self.delivering.lock().await;
        let report = self.send(registry).await;
        if report.as_ref().map_or(true, |r| r.delivered > 0) {
            // Also after a failure midway, which may have delivered some.
            self.compact()?;
        }
        report
    }

    async fn send<R: Registry>(&self, registry: &R) -> Result<Delivery, QueueError> {
        let mut report = Delivery::default();
        let all = self.list();
        let mut stopped = false;
        for mut d in all {
            if matches!(d.state, State::Conflict(_) | State::Staged { .. }) {
                continue;
            }
            if stopped {
                report.waiting += 1;
                continue;
            }
            if d.state == State::InFlight {
                match Self::already_there(registry, &d).await {
                    Ok(true) => {
                        tracing::info!(id = d.id, item = %d.item, "offline queue: an in-doubt record was already delivered; not sent again");
                        self.remove(d.id)?;
                        report.delivered += 1;
                        report.confirmed_in_doubt += 1;
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!("offline queue: cannot resolve a record in doubt: {e}");
                        stopped = true;
                        report.waiting += 1;
                        continue;
                    }
                }
            }
            d.state = State::InFlight;
            d.attempts += 1;
            self.put(&d)?;
            let sent = match &d.kind {
                Kind::Checkout { card } => registry
                    .checkout_deferred(&CardNumber::new(card.clone()), &d.item, d.at, d.due)
                    .await
                    .map(|o| (o.ok, o.message)),
                Kind::Checkin => registry
                    .checkin_deferred(&d.item, d.at)
                    .await
                    .map(|o| (o.ok, o.message)),
            };
            match sent {
                Ok((true, _)) => {
                    self.remove(d.id)?;
                    report.delivered += 1;
                }
                Ok((false, message)) => {
                    let words = message.unwrap_or_else(|| "refused without a reason".into());
                    tracing::warn!(id = d.id, item = %d.item, "offline queue: the library system refused a deferred transaction: {words}");
                    d.state = State::Conflict(words);
                    self.put(&d)?;
                    report.conflicts += 1;
                }
                Err(RegistryError::Setup(words)) => {
                    // This backend cannot take it at all (Koha's REST API without its offline
                    // circulation service): staff must.
                    tracing::error!(id = d.id, item = %d.item, "offline queue: cannot be delivered by this backend: {words}");
                    d.state = State::Conflict(words);
                    self.put(&d)?;
                    report.conflicts += 1;
                }
                Err(e) => {
                    // Left in flight: the next round asks before sending again.
                    tracing::warn!(id = d.id, "offline queue: delivery stopped: {e}");
                    stopped = true;
                    report.waiting += 1;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use chrono::NaiveDate;

    /// 24 November 2026 at `h` o'clock (the queue's and the settlement's tests).
    pub(crate) fn at(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    /// Whether `needle` is in any file under `dir`, as bytes.
    pub(super) fn in_files(dir: &Path, needle: &[u8]) -> bool {
        daemon::fs::holds_bytes(dir, needle).unwrap()
    }

    #[test]
    fn a_removed_loan_leaves_no_card_number_and_numbers_go_on_rising() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(&dir.path().join("queue")).unwrap();
        let (gone, stays) = ("24680000000011", "24680000000029");
        let a = q
            .checkout(&CardNumber::new(gone), "HE0000001", at(20), at(23), false)
            .unwrap();
        let b = q
            .checkout(&CardNumber::new(stays), "HE0000002", at(20), at(23), false)
            .unwrap();
        q.commit(a).unwrap();
        assert!(in_files(dir.path(), gone.as_bytes()));
        q.cancel(a).unwrap();
        assert!(!in_files(dir.path(), gone.as_bytes()));
        assert!(in_files(dir.path(), stays.as_bytes()));
        let c = q.checkin("HE0000003", at(21), false).unwrap();
        assert!(c > b && b > a, "{a} {b} {c}");
        drop(q);
        let q = Queue::open(&dir.path().join("queue")).unwrap();
        let ids: Vec<u64> = q.list().iter().map(|d| d.id).collect();
        assert_eq!(ids, [b, c]);
        assert!(q.checkin("HE0000004", at(22), false).unwrap() > c);
    }

    #[test]
    fn a_removal_whose_rewrite_a_crash_prevented_is_rewritten_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue");
        let q = Queue::open(&path).unwrap();
        let (gone, stays) = ("24680000000011", "24680000000029");
        let a = q
            .checkout(&CardNumber::new(gone), "HE0000001", at(20), at(23), false)
            .unwrap();
        q.commit(a).unwrap();
        let b = q
            .checkout(&CardNumber::new(stays), "HE0000002", at(20), at(23), false)
            .unwrap();
        q.commit(b).unwrap();
        // Delivered and removed; the kiosk dies before the rewrite that follows.
        q.remove(a).unwrap();
        drop(q);
        assert!(
            in_files(dir.path(), gone.as_bytes()),
            "sled keeps a removed record's bytes"
        );
        let q = Queue::open(&path).unwrap();
        assert!(!in_files(dir.path(), gone.as_bytes()));
        assert!(in_files(dir.path(), stays.as_bytes()));
        let ids: Vec<u64> = q.list().iter().map(|d| d.id).collect();
        assert_eq!(ids, [b]);
    }

    #[test]
    fn records_survive_a_reopen_in_order_and_debug_hides_the_card() {
        let dir = tempfile::tempdir().unwrap();
        {
            let q = Queue::open(dir.path()).unwrap();
            let a = q
                .checkout(
                    &CardNumber::new("24680000000011"),
                    "HE0000001",
                    at(20),
                    at(23),
                    false,
                )
                .unwrap();
            assert_eq!(q.list()[0].state, State::Staged { in_doubt: false });
            q.commit(a).unwrap();
            // Staged when the kiosk died: kept, in doubt.
            q.checkin("HE0000002", at(21), false).unwrap();
        }
        let q = Queue::open(dir.path()).unwrap();
        let all = q.list();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].item, "HE0000001");
        assert_eq!(all[1].kind, Kind::Checkin);
        assert_eq!(
            (&all[0].state, &all[1].state),
            (&State::Pending, &State::InFlight)
        );
        assert_eq!(q.loans_of(&CardNumber::new("24680000000011")), 1);
        assert!(!format!("{all:?}").contains("24680000000011"));
        q.cancel(all[1].id).unwrap();
        assert_eq!(q.waiting(), 1);
    }
}
