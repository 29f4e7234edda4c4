//! A transaction between its record and its tag. The kiosk stages the record (durable) before it
//! switches the tag's security, then commits it, or — for a loan whose tag would not switch —
//! takes it back. Taking back a loan the library system may already have (in doubt: the online
//! request got no answer) cannot simply delete it: a return in doubt takes its place
//! ([`Queue::take_back`]), sent only if the item shows on loan, so the library system ends with
//! the item returned whichever way the lost request went, and a loan it never got never
//! reaches it.
//!
//! An online loan or return is staged too, in doubt, before its request leaves, and removed
//! ([`StagedLoan::done`], [`StagedReturn::done`]) once the library system has answered and the
//! tag is switched: so a kiosk that dies anywhere between the request and the tag leaves a
//! record behind, which it settles when it starts again (see [`crate::settle`]).
//!
//! A staged record that is neither committed nor taken back (the kiosk died meanwhile) is
//! committed as in doubt when the queue next opens, marked recovered with the UIDs of its tags:
//! the kiosk then settles it against those tags if they are still on the pad, and otherwise
//! keeps it (the patron may have left with the item).

use chrono::NaiveDateTime;
use redact::CardNumber;

use super::{Kind, Queue, QueueError};

/// A loan recorded and not yet delivered from: [`StagedLoan::commit`] once its tag is switched,
/// else [`StagedLoan::undo`].
#[derive(Debug)]
#[must_use = "a staged loan is delivered only once committed (or taken back with undo)"]
pub struct StagedLoan {
    queue: Queue,
    id: u64,
    item: String,
    in_doubt: bool,
}

/// A return recorded and not yet delivered from: [`StagedReturn::commit`] once its tag is
/// switched back (or not: a return stands either way).
#[derive(Debug)]
#[must_use = "a staged return is delivered only once committed"]
pub struct StagedReturn {
    queue: Queue,
    id: u64,
}

/// How a loan was taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undone {
    /// The library system cannot have it: the record is gone, from the files too.
    Removed,
    /// The library system may have it: this return, in doubt, took its place.
    ReturnQueued(u64),
}

impl Queue {
    /// Stages a loan made offline; durable when this returns. `in_doubt` when the online request
    /// may have reached the library system (it timed out or was cut off mid-answer, rather than
    /// refused at the door): such a record is checked before it is ever sent.
    pub fn stage_loan(
        &self,
        card: &CardNumber,
        item: &str,
        at: NaiveDateTime,
        due: NaiveDateTime,
        in_doubt: bool,
        tags: &[[u8; 8]],
    ) -> Result<StagedLoan, QueueError> {
        self.staged_loan(card, item, at, Some(due), in_doubt, tags)
    }

    /// Stages a return made offline; durable when this returns. `in_doubt` as for
    /// [`Queue::stage_loan`].
    pub fn stage_return(
        &self,
        item: &str,
        at: NaiveDateTime,
        in_doubt: bool,
        tags: &[[u8; 8]],
    ) -> Result<StagedReturn, QueueError> {
        let id = self.add(Kind::Checkin, item, at, None, in_doubt, tags)?;
        Ok(StagedReturn {
            queue: self.clone(),
            id,
        })
    }

    /// Stages an online loan before its request leaves: in doubt, with no due date yet (the
    /// library system gives one; [`StagedLoan::lend_offline`] sets the offline one).
    pub fn stage_online_loan(
        &self,
        card: &CardNumber,
        item: &str,
        at: NaiveDateTime,
        tags: &[[u8; 8]],
    ) -> Result<StagedLoan, QueueError> {
        self.staged_loan(card, item, at, None, true, tags)
    }

    fn staged_loan(
        &self,
        card: &CardNumber,
        item: &str,
        at: NaiveDateTime,
        due: Option<NaiveDateTime>,
        in_doubt: bool,
        tags: &[[u8; 8]],
    ) -> Result<StagedLoan, QueueError> {
        let id = self.add(
            Kind::Checkout {
                card: card.expose().to_owned(),
            },
            item,
            at,
            due,
            in_doubt,
            tags,
        )?;
        Ok(StagedLoan {
            queue: self.clone(),
            id,
            item: item.to_owned(),
            in_doubt,
        })
    }
}

impl StagedLoan {
    /// The record's number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The tag is switched: the loan stands and is delivered from now on.
    pub fn commit(self) -> Result<(), QueueError> {
        self.queue.commit(self.id)
    }

    /// The online request went unanswered and the item is lent offline instead, due `due`.
    pub fn lend_offline(&self, due: NaiveDateTime) -> Result<(), QueueError> {
        self.queue.set_due(self.id, due)
    }

    /// The library system answered (and its tag is switched, or it refused): nothing is left to
    /// deliver, and nothing of the record (its card number) is left in the files.
    pub fn done(self) -> Result<(), QueueError> {
        self.queue.cancel(self.id)
    }

    /// The tag could not be switched, so the item may not leave: the loan is taken back, by a
    /// return in doubt dated `at` when it is in doubt (see the module documentation).
    pub fn undo(self, at: NaiveDateTime) -> Result<Undone, QueueError> {
        self.queue.take_back(self.id, &self.item, self.in_doubt, at)
    }
}

impl Queue {
    /// Takes back the loan `id` of `item`: a loan the library system cannot have goes (from the
    /// files too); one it may have (`in_doubt`) is replaced by a return in doubt dated `at`,
    /// which delivery sends only if the item shows on loan. The return is queued before the
    /// loan goes, and once: a kiosk killed between the two finds it and only removes the loan.
    pub fn take_back(
        &self,
        id: u64,
        item: &str,
        in_doubt: bool,
        at: NaiveDateTime,
    ) -> Result<Undone, QueueError> {
        if !in_doubt {
            self.cancel(id)?;
            return Ok(Undone::Removed);
        }
        let queued = self
            .list()
            .into_iter()
            .find(|r| r.id > id && r.item == item && matches!(r.kind, Kind::Checkin))
            .map(|r| r.id);
        let back = match queued {
            Some(back) => back,
            None => {
                let back = self.checkin(item, at, true)?;
                self.commit(back)?;
                back
            }
        };
        self.cancel(id)?;
        Ok(Undone::ReturnQueued(back))
    }
}

impl StagedReturn {
    /// The record's number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The return is delivered from now on.
    pub fn commit(self) -> Result<(), QueueError> {
        self.queue.commit(self.id)
    }

    /// The library system answered: nothing is left to deliver (a return holds no card
    /// number, so the record goes without a rewrite of the files).
    pub fn done(self) -> Result<(), QueueError> {
        self.queue.remove(self.id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::queue::tests::in_files;
    use crate::queue::{Kind, State};
    use chrono::NaiveDate;

    const AINO: &str = "24680000000011";

    fn at(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn aino() -> CardNumber {
        CardNumber::new(AINO)
    }

    fn states(q: &Queue) -> Vec<(Kind, State)> {
        q.list().into_iter().map(|d| (d.kind, d.state)).collect()
    }

    fn loan() -> Kind {
        Kind::Checkout { card: AINO.into() }
    }

    #[test]
    fn a_staged_loan_waits_for_its_tag_then_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let staged = q
            .stage_loan(&aino(), "HE0000001", at(20), at(23), false, &[])
            .unwrap();
        assert_eq!(states(&q), [(loan(), State::Staged { in_doubt: false })]);
        // It counts already: the item has a transaction queued, the patron a loan.
        assert!(q.has_waiting("HE0000001"));
        assert_eq!(q.loans_of(&aino()), 1);
        staged.commit().unwrap();
        assert_eq!(states(&q), [(loan(), State::Pending)]);
    }

    #[test]
    fn a_loan_in_doubt_is_committed_in_doubt() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        q.stage_loan(&aino(), "HE0000001", at(20), at(23), true, &[])
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(states(&q), [(loan(), State::InFlight)]);
    }

    #[test]
    fn a_loan_the_library_never_saw_is_undone_without_a_trace() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let staged = q
            .stage_loan(&aino(), "HE0000001", at(20), at(23), false, &[])
            .unwrap();
        assert!(in_files(dir.path(), AINO.as_bytes()));
        assert_eq!(staged.undo(at(20)).unwrap(), Undone::Removed);
        assert!(q.list().is_empty());
        assert!(!q.has_waiting("HE0000001"));
        assert!(!in_files(dir.path(), AINO.as_bytes()));
    }

    #[test]
    fn a_loan_in_doubt_is_undone_by_a_return_in_doubt_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let staged = q
            .stage_loan(&aino(), "HE0000001", at(20), at(23), true, &[])
            .unwrap();
        let loan_id = staged.id();
        let Undone::ReturnQueued(back) = staged.undo(at(21)).unwrap() else {
            panic!("a loan in doubt must be taken back by a return");
        };
        assert!(back > loan_id);
        // The loan goes (its card number with it); the return waits in doubt, sent only if the
        // library system shows the item on loan.
        let all = q.list();
        assert_eq!(
            all.iter()
                .map(|d| (d.id, d.kind.clone(), d.state.clone()))
                .collect::<Vec<_>>(),
            [(back, Kind::Checkin, State::InFlight)]
        );
        assert_eq!((all[0].item.as_str(), all[0].at), ("HE0000001", at(21)));
        assert!(!in_files(dir.path(), AINO.as_bytes()));
        // "My loans" offline no longer shows it.
        assert!(crate::offline_loans::made_here(&all, &aino()).is_empty());
    }

    #[test]
    fn a_return_is_committed_pending_or_in_doubt() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let sure = q.stage_return("HE0000001", at(20), false, &[]).unwrap();
        let unsure = q.stage_return("HE0000002", at(20), true, &[]).unwrap();
        assert!(unsure.id() > sure.id());
        assert_eq!(q.list()[1].state, State::Staged { in_doubt: true });
        sure.commit().unwrap();
        unsure.commit().unwrap();
        assert_eq!(
            states(&q),
            [
                (Kind::Checkin, State::Pending),
                (Kind::Checkin, State::InFlight)
            ]
        );
    }

    #[test]
    fn a_loan_staged_when_the_kiosk_died_is_kept_in_doubt() {
        let dir = tempfile::tempdir().unwrap();
        {
            let q = Queue::open(dir.path()).unwrap();
            let staged = q
                .stage_loan(&aino(), "HE0000001", at(20), at(23), false, &[])
                .unwrap();
            // Neither committed nor undone: the process ends here.
            drop(staged);
        }
        let q = Queue::open(dir.path()).unwrap();
        assert_eq!(states(&q), [(loan(), State::InFlight)]);
    }

    #[test]
    fn undoing_one_loan_leaves_the_next_staged_one_to_commit() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let first = q
            .stage_loan(&aino(), "HE0000001", at(20), at(23), false, &[])
            .unwrap();
        let second = q
            .stage_loan(&aino(), "HE0000002", at(20), at(23), false, &[])
            .unwrap();
        // Undoing one rewrites the store; the other still commits.
        first.undo(at(20)).unwrap();
        second.commit().unwrap();
        let all = q.list();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].item.as_str(), &all[0].state),
            ("HE0000002", &State::Pending)
        );
    }
}
