//! At start, the records the kiosk died in the middle of, settled against their tags.
//!
//! A loan or return is staged (durable) before its request leaves and before its tag is
//! switched ([`crate::queue`]). A kiosk killed between staging and its end finds the record at
//! the next start, recovered with the UIDs of its tags, and does not know how far it got: the
//! library system may or may not have the request, the tag may or may not be switched. The
//! patron is gone. What the kiosk can still see is the tags, if the item was left on the pad:
//!
//! - A loan whose tags all read lent (every security bit switched for loan): it got through;
//!   it stands, in doubt (delivery asks the library system before it sends it).
//! - A loan whose tags are on the pad and not (all) switched: the patron left without it. The
//!   loan is taken back and the tags secured again: a record the library system cannot have
//!   goes; one it may have (online, or offline after an unanswered request) becomes a return
//!   in doubt, sent only if the item shows on loan: the library system ends with the item on
//!   the shelf whichever way the request went, and a loan it never got never reaches it.
//! - A return: it stands (the item is back), and its tags are secured if they are not.
//! - Tags not on the pad (or a pad that does not answer): the patron may have left with the
//!   item; the record stays as it is, in doubt, as it did before this settlement existed.

use chrono::NaiveDateTime;
use drivers::rfid::RfidPad;

use crate::queue::{Kind, Queue, QueueError};
use crate::settings::Security;

/// What a settlement did, by record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// Loans whose tags read lent: kept.
    pub loans_kept: usize,
    /// Loans whose tags were on the pad unswitched: taken back.
    pub loans_taken_back: usize,
    /// Returns kept (their tags secured where they were not).
    pub returns: usize,
    /// Records whose tags were not on the pad: kept in doubt.
    pub not_on_pad: usize,
}

/// Settles every recovered record of `queue` against the tags on `pad`; `now` dates a return
/// queued to take a loan back.
pub async fn recovered<P: RfidPad>(
    queue: &Queue,
    pad: &mut P,
    security: Security,
    now: NaiveDateTime,
) -> Result<Settled, QueueError> {
    let mut done = Settled::default();
    let found: Vec<_> = queue
        .list()
        .into_iter()
        .filter(|d| d.recovered.is_some())
        .collect();
    if found.is_empty() {
        return Ok(done);
    }
    let on_pad: Vec<[u8; 8]> = match pad.inventory().await {
        Ok(tags) => tags.iter().map(|t| t.uid).collect(),
        Err(e) => {
            tracing::warn!("records left by a crash not settled: the RFID pad: {e}");
            vec![]
        }
    };
    for d in found {
        let in_doubt = d.recovered.unwrap_or(true);
        let present = !d.tags.is_empty() && d.tags.iter().all(|u| on_pad.contains(u));
        let loan = matches!(d.kind, Kind::Checkout { .. });
        let switched = if present {
            crate::tags::reads_switched(pad, security, &d.tags, loan).await
        } else {
            None
        };
        match (loan, switched) {
            (_, None) => {
                tracing::warn!(id = d.id, item = %d.item, "a record left by a crash: its tags are not on the pad; kept, in doubt");
                done.not_on_pad += 1;
                queue.settled(d.id)?;
            }
            (true, Some(true)) => {
                tracing::info!(id = d.id, item = %d.item, "a loan left by a crash: its tags read lent; kept, in doubt");
                done.loans_kept += 1;
                queue.settled(d.id)?;
            }
            (true, Some(false)) => {
                // Secured again first: a tag half switched must not let the item through.
                if let Err(e) = crate::tags::secure(pad, security, &d.tags, false).await {
                    tracing::error!(id = d.id, item = %d.item, "a loan left by a crash: its tags could not be secured again: {e}");
                }
                queue.take_back(d.id, &d.item, in_doubt, now)?;
                tracing::warn!(id = d.id, item = %d.item, in_doubt, "a loan left by a crash: its tags were left on the pad unswitched; taken back (by a return sent if the library system has the loan, when it may)");
                done.loans_taken_back += 1;
            }
            (false, Some(secured)) => {
                if !secured && let Err(e) = crate::tags::secure(pad, security, &d.tags, false).await
                {
                    tracing::error!(id = d.id, item = %d.item, "a return left by a crash: its tags could not be secured: {e}");
                }
                tracing::info!(id = d.id, item = %d.item, "a return left by a crash: kept, its tags secured");
                done.returns += 1;
                queue.settled(d.id)?;
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::queue::State;
    use crate::queue::tests::at;
    use drivers::feig_twin::{SimPad, SimTag};
    use redact::CardNumber;

    const UID: [u8; 8] = [0xE0, 0x04, 0x01, 0x00, 0, 0, 0, 1];

    /// A queue holding one record staged with the tag `UID` when the kiosk died, reopened; the
    /// pad with the tag as `tag` leaves it (or without it).
    async fn crashed(
        loan: bool,
        in_doubt: bool,
        tag: Option<(u8, bool)>,
    ) -> (tempfile::TempDir, Queue, SimPad) {
        let dir = tempfile::tempdir().unwrap();
        {
            let q = Queue::open(dir.path()).unwrap();
            let card = CardNumber::new("24680000000011");
            if loan {
                let staged = q
                    .stage_loan(&card, "HE0000001", at(20), at(23), in_doubt, &[UID])
                    .unwrap();
                drop(staged);
            } else {
                let staged = q
                    .stage_return("HE0000001", at(20), in_doubt, &[UID])
                    .unwrap();
                drop(staged);
            }
        }
        let q = Queue::open(dir.path()).unwrap();
        assert_eq!(q.list()[0].recovered, Some(in_doubt));
        let pad = SimPad::new();
        if let Some((afi, eas)) = tag {
            let mut t = SimTag::new(UID, 0, vec![0; 32]);
            t.afi = afi;
            t.eas = eas;
            pad.place(t);
        }
        (dir, q, pad)
    }

    fn bits(pad: &SimPad) -> (u8, bool) {
        let t = pad.tag(UID).unwrap();
        (t.afi, t.eas)
    }

    #[tokio::test]
    async fn a_loan_whose_tag_was_left_secured_is_taken_back_without_a_trace() {
        let (_d, q, pad) = crashed(true, false, Some((0x07, true))).await;
        let s = recovered(&q, &mut pad.connect(), Security::Both, at(21))
            .await
            .unwrap();
        assert_eq!(s.loans_taken_back, 1);
        assert!(q.list().is_empty());
        assert_eq!(bits(&pad), (0x07, true));
    }

    #[tokio::test]
    async fn a_loan_in_doubt_half_switched_is_secured_again_and_a_return_queued() {
        // The AFI switched for loan, the EAS not: the kiosk died between the two writes.
        let (_d, q, pad) = crashed(true, true, Some((0xC2, true))).await;
        let s = recovered(&q, &mut pad.connect(), Security::Both, at(21))
            .await
            .unwrap();
        assert_eq!(s.loans_taken_back, 1);
        let all = q.list();
        assert_eq!(
            all.iter()
                .map(|d| (d.kind.clone(), d.state.clone(), d.recovered))
                .collect::<Vec<_>>(),
            [(Kind::Checkin, State::InFlight, None)]
        );
        assert_eq!(all[0].at, at(21));
        assert_eq!(bits(&pad), (0x07, true));
    }

    #[tokio::test]
    async fn a_settlement_cut_short_after_its_return_is_queued_queues_no_second() {
        let (_d, q, pad) = crashed(true, true, Some((0x07, true))).await;
        // The return queued, the kiosk killed before the loan's record was removed.
        let back = q.checkin("HE0000001", at(21), true).unwrap();
        q.commit(back).unwrap();
        recovered(&q, &mut pad.connect(), Security::Both, at(22))
            .await
            .unwrap();
        let all = q.list();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!((all[0].id, &all[0].kind), (back, &Kind::Checkin));
    }

    #[tokio::test]
    async fn a_loan_whose_tag_reads_lent_stands_in_doubt() {
        let (_d, q, pad) = crashed(true, false, Some((0xC2, false))).await;
        let s = recovered(&q, &mut pad.connect(), Security::Both, at(21))
            .await
            .unwrap();
        assert_eq!(s.loans_kept, 1);
        let all = q.list();
        assert_eq!(
            (all.len(), &all[0].state, all[0].recovered),
            (1, &State::InFlight, None)
        );
        assert_eq!(bits(&pad), (0xC2, false));
    }

    #[tokio::test]
    async fn a_return_stands_and_its_tag_is_secured() {
        let (_d, q, pad) = crashed(false, true, Some((0xC2, false))).await;
        let s = recovered(&q, &mut pad.connect(), Security::Both, at(21))
            .await
            .unwrap();
        assert_eq!(s.returns, 1);
        assert_eq!(q.list()[0].state, State::InFlight);
        assert_eq!(bits(&pad), (0x07, true));
    }

    #[tokio::test]
    async fn a_loan_whose_tag_is_gone_is_kept_in_doubt() {
        let (_d, q, pad) = crashed(true, false, None).await;
        let s = recovered(&q, &mut pad.connect(), Security::Both, at(21))
            .await
            .unwrap();
        assert_eq!(s.not_on_pad, 1);
        let all = q.list();
        assert_eq!(
            (all.len(), &all[0].state, all[0].recovered),
            (1, &State::InFlight, None)
        );
    }
}
