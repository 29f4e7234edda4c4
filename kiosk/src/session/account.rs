//! The patron's account: loans and holds from the library system (or the loans made here
//! offline), and renewing them.

use super::*;
use ui::Renewal;

impl<R: Registry + Clone, P: RfidPad, Pr: ReceiptPrinter> Kiosk<R, P, Pr> {
    /// Fetches the patron's loans and reservations into the view; false when the library
    /// system does not answer.
    pub(super) async fn fetch_loans(&mut self) -> bool {
        let (Some(login), Some(registry)) = (
            self.session.as_ref().and_then(|s| s.login.clone()),
            self.registry.as_ref(),
        ) else {
            return false;
        };
        let Ok(Ok(acc)) =
            tokio::time::timeout(self.settings.online_timeout * 3, registry.account(&login)).await
        else {
            return false;
        };
        let now = self.today_time();
        for l in &acc.loans {
            self.remember_title(&l.item, l.title.as_deref());
        }
        self.view.loans = acc
            .loans
            .iter()
            .map(|l| Loan {
                title: l.title.clone().unwrap_or_default(),
                item: l.item.clone(),
                due: l.due.map(date).unwrap_or_default(),
                overdue: l.overdue || l.due.is_some_and(|d| d < now),
                ..Loan::default()
            })
            .collect();
        self.view.holds = acc
            .holds
            .iter()
            .map(|h| Hold {
                title: h.title.clone().unwrap_or_else(|| h.item.clone()),
                ready: h.ready,
                pickup: h.pickup.clone().unwrap_or_default(),
            })
            .collect();
        true
    }

    pub(super) async fn loans(&mut self) {
        let Some(card) = self.session.as_ref().and_then(|s| s.login.as_ref()) else {
            return;
        };
        let card = card.card.clone();
        self.view.busy = true;
        self.show();
        let online = self.fetch_loans().await;
        self.view.busy = false;
        self.view.loans_partial = !online;
        if !online {
            // The library system's list is out of reach: the loans made here offline are known.
            self.view.offline = true;
            let now = self.today_time();
            let mut loans = crate::offline_loans::shown(&self.queue.list(), &card, now);
            for l in &mut loans {
                l.title = self.known_title(&l.item).unwrap_or_default();
            }
            self.view.loans = loans;
            self.view.holds.clear();
        }
        self.view.screen = Screen::Loans;
        self.show();
    }

    /// Renews one loan, from its row on the loans screen; the row then says what happened.
    pub(super) async fn renew_one(&mut self, item: String) {
        let Some(login) = self.session.as_ref().and_then(|s| s.login.clone()) else {
            return;
        };
        if self.view.loans_partial || !self.view.loans.iter().any(|l| l.item == item) {
            return;
        }
        let Some(registry) = self.registry.clone() else {
            return;
        };
        self.view.busy = true;
        self.show();
        let result = tokio::time::timeout(
            self.settings.online_timeout * 2,
            registry.renew(&login, &item),
        )
        .await;
        self.view.busy = false;
        let now = self.today_time();
        match result {
            Ok(Ok(o)) => {
                tracing::info!(renewed = o.ok, "renew one loan");
                if let Some(loan) = self.view.loans.iter_mut().find(|l| l.item == item) {
                    if o.ok {
                        loan.renewal = Renewal::Renewed;
                        if let Some(due) = o.due {
                            loan.due = date(due);
                            loan.overdue = due < now;
                        }
                        loan.note.clear();
                    } else {
                        loan.renewal = Renewal::Refused;
                        loan.note = o.message.unwrap_or_default();
                    }
                }
                self.show();
            }
            Ok(Err(e)) => {
                tracing::warn!("renewing one loan: {e}");
                self.message(Message::Failed, Screen::Loans);
            }
            Err(_) => {
                tracing::warn!("renewing one loan: no answer in time");
                self.message(Message::Failed, Screen::Loans);
            }
        }
    }

    pub(super) async fn renew_all(&mut self) {
        let Some(login) = self.session.as_ref().and_then(|s| s.login.clone()) else {
            return;
        };
        if self.registry.is_none() {
            return;
        }
        self.view.busy = true;
        self.show();
        let Some(registry) = &self.registry else {
            return;
        };
        let result =
            tokio::time::timeout(self.settings.online_timeout * 3, registry.renew_all(&login))
                .await;
        let Ok(Ok(o)) = result else {
            self.view.busy = false;
            self.message(Message::Failed, Screen::Loans);
            return;
        };
        tracing::info!(
            renewed = o.renewed.len(),
            refused = o.not_renewed.len(),
            "renew all"
        );
        // Fresh due dates (the renewal answer has none per item); without them the rows say
        // "renewed" and the loans list keeps its old dates.
        self.fetch_loans().await;
        let loans = self.view.loans.clone();
        let title = |item: &str| {
            loans
                .iter()
                .find(|l| l.item == item)
                .map(|l| l.title.clone())
                .unwrap_or_default()
        };
        let due = |item: &str| {
            loans
                .iter()
                .find(|l| l.item == item)
                .map(|l| l.due.clone())
                .unwrap_or_default()
        };
        let mut rows: Vec<Row> = o
            .renewed
            .iter()
            .map(|item| Row {
                title: title(item),
                item: item.clone(),
                state: RowState::Ok,
                outcome: Outcome::Renewed,
                due: due(item),
                ..Row::default()
            })
            .collect();
        rows.extend(o.not_renewed.iter().map(|item| Row {
            title: title(item),
            item: item.clone(),
            state: RowState::Failed,
            outcome: Outcome::NotRenewed,
            note: o.message.clone().unwrap_or_default(),
            ..Row::default()
        }));
        for r in rows {
            match self.view.items.iter_mut().find(|x| x.item == r.item) {
                Some(x) => *x = r,
                None => self.view.items.push(r),
            }
        }
        self.view.busy = false;
        self.view.screen = Screen::Items;
        self.show();
    }
}
