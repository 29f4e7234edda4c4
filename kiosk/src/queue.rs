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

use std::path::Path;

use chrono::NaiveDateTime;
use redact::CardNumber;
use registry::{ItemStatus, Registry, RegistryError};
use serde::{Deserialize, Serialize};

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

/// The queue.
#[derive(Debug, Clone)]
pub struct Queue {
    db: sled::Db,
    tree: sled::Tree,
    path: String,
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
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(io)?;
        let fail = |e: sled::Error| QueueError::Store {
            path: path.clone(),
            cause: e.to_string(),
        };
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(1 << 20)
            .open()
            .map_err(fail)?;
        let tree = db.open_tree("deferred").map_err(fail)?;
        let q = Self { db, tree, path };
        for mut d in q.list() {
            if matches!(d.state, State::Staged { .. }) {
                tracing::warn!(id = d.id, item = %d.item, "offline queue: a record staged before a crash is kept, in doubt");
                d.state = State::InFlight;
                q.put(&d)?;
            }
        }
        Ok(q)
    }

    fn fail(&self, cause: impl ToString) -> QueueError {
        QueueError::Store {
            path: self.path.clone(),
            cause: cause.to_string(),
        }
    }

    fn put(&self, d: &Deferred) -> Result<(), QueueError> {
        let bytes = serde_json::to_vec(d).map_err(|e| self.fail(e))?;
        self.tree
            .insert(d.id.to_be_bytes(), bytes)
            .map_err(|e| self.fail(e))?;
        self.tree.flush().map_err(|e| self.fail(e))?;
        Ok(())
    }

    fn add(
        &self,
        kind: Kind,
        item: &str,
        at: NaiveDateTime,
        due: Option<NaiveDateTime>,
        in_doubt: bool,
    ) -> Result<u64, QueueError> {
        let id = self.db.generate_id().map_err(|e| self.fail(e))?;
        self.put(&Deferred {
            id,
            kind,
            item: item.into(),
            at,
            due,
            state: State::Staged { in_doubt },
            attempts: 0,
        })?;
        Ok(id)
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
        self.add(Kind::Checkin, item, at, None, in_doubt)
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
        let Some(bytes) = self.tree.get(id.to_be_bytes()).map_err(|e| self.fail(e))? else {
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

    /// Takes back a record not yet sent (the tag could not be unsecured after all).
    pub fn cancel(&self, id: u64) -> Result<(), QueueError> {
        self.tree
            .remove(id.to_be_bytes())
            .map_err(|e| self.fail(e))?;
        self.tree.flush().map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Every record, oldest first (unreadable records are skipped and logged).
    pub fn list(&self) -> Vec<Deferred> {
        self.tree
            .iter()
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
        Ok(match d.kind {
            Kind::Checkout { .. } => facts.status == ItemStatus::OnLoan,
            Kind::Checkin => matches!(
                facts.status,
                ItemStatus::Available | ItemStatus::OnHoldOrInTransit
            ),
        })
    }

    /// Sends what waits, oldest first, until the library system stops answering.
    pub async fn deliver<R: Registry>(&self, registry: &R) -> Result<Delivery, QueueError> {
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
                        self.cancel(d.id)?;
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
                    self.cancel(d.id)?;
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
                    // This backend cannot take it at all (Koha's REST API): staff must.
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
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
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
