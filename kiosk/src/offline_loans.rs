//! "My loans" while the library system does not answer: the loans this kiosk made offline, from
//! its own queue (pure). Only these are known here; the screen says the list is partial.

use chrono::NaiveDateTime;
use redact::CardNumber;
use ui::Loan;

use crate::queue::{Deferred, Kind};

/// The loans made offline here to `card` and not returned here since, oldest first. `records`
/// are the queue's, oldest first; loans the library system already took are no longer among
/// them.
pub fn made_here<'a>(records: &'a [Deferred], card: &CardNumber) -> Vec<&'a Deferred> {
    let mut loans: Vec<&Deferred> = Vec::new();
    for d in records {
        match &d.kind {
            Kind::Checkout { card: c } if c == card.expose() => loans.push(d),
            Kind::Checkout { .. } => {}
            Kind::Checkin => loans.retain(|l| l.item != d.item),
        }
    }
    loans
}

/// [`made_here`] as the loans screen shows them at `now` (no titles: the queue keeps none; the
/// kiosk adds those its title cache knows).
pub fn shown(records: &[Deferred], card: &CardNumber, now: NaiveDateTime) -> Vec<Loan> {
    made_here(records, card)
        .iter()
        .map(|d| Loan {
            title: String::new(),
            item: d.item.clone(),
            due: d
                .due
                .map(|t| t.format("%-d.%-m.%Y").to_string())
                .unwrap_or_default(),
            overdue: d.due.is_some_and(|due| due < now),
            ..Loan::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::queue::State;
    use chrono::NaiveDate;

    fn record(id: u64, kind: Kind, item: &str) -> Deferred {
        let at = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(20, 0, 0)
            .unwrap();
        Deferred {
            id,
            kind,
            item: item.into(),
            at,
            due: Some(at),
            state: State::Pending,
            attempts: 0,
            tags: vec![],
            recovered: None,
        }
    }

    #[test]
    fn a_patrons_offline_loans_without_the_ones_returned_since_or_anyone_elses() {
        let aino = CardNumber::new("24680000000011");
        let loan = |card: &str| Kind::Checkout { card: card.into() };
        let records = [
            record(1, loan("24680000000011"), "HE0000001"),
            record(2, loan("24680000000029"), "HE0000003"),
            record(3, loan("24680000000011"), "HE0000002"),
            record(4, Kind::Checkin, "HE0000001"),
            record(5, loan("24680000000011"), "HE0000006"),
        ];
        let items: Vec<&str> = made_here(&records, &aino)
            .iter()
            .map(|d| d.item.as_str())
            .collect();
        assert_eq!(items, ["HE0000002", "HE0000006"]);
        let later = records[0].at + chrono::Days::new(1);
        let shown = shown(&records, &aino, later);
        assert_eq!(
            (shown[0].due.as_str(), shown[0].overdue),
            ("24.11.2026", true)
        );
    }
}
